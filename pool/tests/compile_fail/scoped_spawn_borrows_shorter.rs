// A scoped task may borrow what outlives the scope, not what the body
// owns: the body returns before the scope joins its tasks.
fn main() {
    let pool = pool::ThreadPool::new(1).unwrap();
    pool.scope(|s| {
        let local = vec![1u8];
        s.spawn(|| drop(local.len()));
    });
}
