// A scoped task's handle cannot leave its scope (its panic would be lost,
// and the task may borrow from the scope's caller).
fn main() {
    let pool = pool::ThreadPool::new(1).unwrap();
    let handle = pool.scope(|s| s.submit(|| 1u32));
    let _ = handle.wait();
}
