// A scoped map, which borrows the caller's data, moved into a pool-level
// task that may outlive the scope.
fn main() {
    let pool = pool::ThreadPool::new(1).unwrap();
    let data = vec![1u64, 2, 3];
    pool.scope(|s| {
        let m = s.map(|i: usize| data[i], 0..3);
        let _ = pool.submit(move || m.count());
    });
}
