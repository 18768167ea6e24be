// A scoped try_map moved to a thread of `std::thread::scope`, which may
// run after the pool's scope has ended.
fn main() {
    let pool = pool::ThreadPool::new(1).unwrap();
    let data = vec![1u64, 2, 3];
    std::thread::scope(|ts| {
        pool.scope(|s| {
            let m = s.try_map(|i: usize| data[i], 0..3);
            ts.spawn(move || m.count());
        })
    });
}
