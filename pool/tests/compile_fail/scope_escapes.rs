// The scope itself cannot be smuggled out of `ThreadPool::scope`.
fn main() {
    let pool = pool::ThreadPool::new(1).unwrap();
    let mut leaked = None;
    pool.scope(|s| leaked = Some(s));
    if let Some(s) = leaked {
        s.spawn(|| ());
    }
}
