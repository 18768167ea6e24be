// A scoped handle cannot be smuggled out of its scope inside a pool-level
// task, which may outlive the scope.
fn main() {
    let pool = pool::ThreadPool::new(1).unwrap();
    let data = vec![1u64, 2, 3];
    pool.scope(|s| {
        let h = s.submit(|| data.len());
        let _ = pool.submit(move || h.wait());
    });
}
