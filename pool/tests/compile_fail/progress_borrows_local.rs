// A pool-level map's progress callback may run after the map is dropped
// (a chunk still running) or forgotten (every queued chunk), so it must not
// borrow locals: this was a use-after-free from safe code.
fn main() {
    let pool = pool::ThreadPool::new(1).unwrap();
    let data = vec![1u8; 16];
    let mut m = pool.map(|x: u64| x, 0..100u64).chunk_size(1).on_progress(|p| {
        let _ = data.len() + p.done;
    });
    m.next();
    std::mem::forget(m);
    drop(data);
}
