// A scoped map's inputs borrow a local of the scope's closure, which dies
// before the scope has joined the map's chunks.
fn main() {
    let pool = pool::ThreadPool::new(1).unwrap();
    pool.scope(|s| {
        let v = vec![1u64, 2, 3];
        let m = s.map(|x: &u64| *x, v.iter());
        std::mem::forget(m);
    });
}
