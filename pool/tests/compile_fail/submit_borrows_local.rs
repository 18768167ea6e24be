// Outside a scope, a submitted task must be `'static`.
fn main() {
    let pool = pool::ThreadPool::new(1).unwrap();
    let data = vec![1u8];
    let handle = pool.submit(|| data.len());
    drop(data);
    let _ = handle.wait();
}
