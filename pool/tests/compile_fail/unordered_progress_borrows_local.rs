// The same escape through `map_unordered` and `try_map`.
fn main() {
    let pool = pool::ThreadPool::new(1).unwrap();
    let data = vec![1u8; 16];
    let u = pool.map_unordered(|x: u64| x, 0..100u64).on_progress(|_| drop(data.len()));
    let t = pool.try_map(|x: u64| x, 0..100u64).on_progress(|_| drop(data.len()));
    std::mem::forget((u, t));
    drop(data);
}
