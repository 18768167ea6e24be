// A scoped map's function cannot borrow a local of the scope's body: the
// map's chunks may still run after the body returns, until the scope ends.
fn main() {
    let pool = pool::ThreadPool::new(1).unwrap();
    pool.scope(|s| {
        let local = vec![1u64, 2, 3];
        let m = s.map(|i: usize| local[i], 0..3);
        std::mem::forget(m);
    });
}
