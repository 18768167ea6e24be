// A pool-level map (and starmap) whose inputs borrow a local: the pool's
// workers may run its chunks after the local is gone.
fn main() {
    let pool = pool::ThreadPool::new(1).unwrap();
    let v = vec![1u64, 2, 3];
    let m = pool.map(|x: &u64| *x, v.iter());
    std::mem::forget(m);
    let s = pool.starmap(|a: u64, b: &u64| a + *b, pool::args::zip((0..1u64, v.iter())));
    std::mem::forget(s);
}
