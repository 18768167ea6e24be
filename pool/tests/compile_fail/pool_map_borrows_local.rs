// Outside a scope, the mapped function must be `'static`.
fn main() {
    let pool = pool::ThreadPool::new(1).unwrap();
    let offset = vec![1u64];
    let m = pool.map(|x: u64| x + offset[0], 0..100u64);
    std::mem::forget(m);
    drop(offset);
}
