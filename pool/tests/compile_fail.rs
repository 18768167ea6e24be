//! Every way a borrow could escape the pool's tasks, maps and scopes is a
//! compile error (one file per escape under `tests/compile_fail/`).
//!
//! The expected messages (`*.stderr`) depend on the compiler version;
//! regenerate them with `TRYBUILD=overwrite cargo test -p parsweep-pool
//! --test compile_fail` after a toolchain upgrade and review the diff.

#[test]
fn escapes_do_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/compile_fail/*.rs");
}
