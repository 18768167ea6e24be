// Same for `submit`, even when the handle is waited on.
fn main() {
    let pool = pool::ThreadPool::new(1).unwrap();
    pool.scope(|s| {
        let local = vec![1u8];
        let _handle = s.submit(|| local.len());
    });
}
