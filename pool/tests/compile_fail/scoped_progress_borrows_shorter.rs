// A scoped map's progress callback may borrow from outside the scope, but
// not from the body: a forgotten map's chunks report after the body ends.
fn main() {
    let pool = pool::ThreadPool::new(1).unwrap();
    pool.scope(|s| {
        let local = vec![1u8];
        let m = s.map(|x: u64| x, 0..100u64).on_progress(|_| drop(local.len()));
        std::mem::forget(m);
    });
}
