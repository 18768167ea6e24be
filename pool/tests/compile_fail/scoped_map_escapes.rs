// A scoped map cannot leave its scope.
fn main() {
    let pool = pool::ThreadPool::new(1).unwrap();
    let data = vec![1u64, 2, 3];
    let m = pool.scope(|s| s.map(|i: usize| data[i], 0..3));
    let _: Vec<u64> = m.collect();
}
