// A scoped unordered map pushed out of its scope, read after the data it
// borrows is gone.
fn main() {
    let pool = pool::ThreadPool::new(1).unwrap();
    let data = vec![1u64, 2, 3];
    let mut out = Vec::new();
    pool.scope(|s| out.push(s.map_unordered(|i: usize| data[i], 0..3)));
    drop(data);
    let _ = out.pop().unwrap().count();
}
