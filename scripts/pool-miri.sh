#!/usr/bin/env bash
# pool-miri.sh - run the pool's tests that exercise its unsafe code
# (type-erased jobs, raw scope-latch pointers, in-place map_collect, the
# map engine's chunk claims and reused value buffers, the worker
# thread-local) under Miri, which reports
# undefined behaviour: use after free, out-of-bounds or misaligned access,
# reads of uninitialised memory, aliasing violations and data races. Those
# test files shrink their sizes under cfg(miri) so the run fits in CI.
#
# Miri needs a nightly toolchain. The script installs the `miri` component
# itself when nightly is there but Miri is not, and fails (non-zero) if it
# cannot. On a machine with no nightly toolchain at all it prints a SKIPPED
# line and exits 0, so CI still passes where Miri cannot exist; the
# valgrind and loom checks in .ci/run cover the same code there.
#
# Usage: scripts/pool-miri.sh
#   POOL_MIRI_TESTS="scope submit"   run only these test files
set -euo pipefail
cd "$(dirname "$0")/.."

# `cargo +nightly` means the undated nightly toolchain (nightly-<host>).
if ! command -v rustup >/dev/null 2>&1 || ! rustup toolchain list 2>/dev/null | grep '^nightly-' | grep -qv '^nightly-[0-9]'; then
  echo "pool-miri: SKIPPED: no nightly Rust toolchain here (Miri runs only on nightly)" >&2
  exit 0
fi
if ! cargo +nightly miri --version >/dev/null 2>&1; then
  echo "pool-miri: installing the miri component of the nightly toolchain" >&2
  if ! rustup component add --toolchain nightly miri; then
    echo "pool-miri: error: 'rustup component add --toolchain nightly miri' failed; Miri cannot run" >&2
    exit 1
  fi
fi

export CARGO_TARGET_DIR=target/miri
# Builds Miri's own sysroot (the standard library with full MIR) once; later
# runs find it in ~/.cache/miri.
cargo +nightly miri setup >&2

flags=(
  # Tree Borrows, not the default Stacked Borrows: crossbeam-epoch (under
  # crossbeam-deque's Worker/Stealer/Injector) violates Stacked Borrows
  # inside crossbeam itself, which would stop every run before our code.
  -Zmiri-tree-borrows
  # crossbeam-epoch keeps its pointers as integers with tag bits (Miri's
  # default "permissive provenance"); this only silences the warning about
  # each such cast.
  -Zmiri-permissive-provenance
  # Miri's leak check cannot follow pointers stored as integers
  # (rust-lang/miri#1618), and crossbeam-epoch stores every pointer that
  # way. At exit it reports the garbage of crossbeam-epoch's process-wide
  # collector (a `static` never dropped) as leaked: each thread that used a
  # deque registered a `Local` (384 bytes, align 128) and, exiting, pushed
  # its last bag of deferred frees onto the global queue (a 152-byte node);
  # both are freed only by a later epoch advance that no thread makes after
  # the tests end. Every leak reported on the pool's tests is one of these
  # (see the README's pool Soundness section); the pool's own allocations
  # are all freed.
  -Zmiri-ignore-leaks
)
export MIRIFLAGS="${flags[*]} ${MIRIFLAGS:-}"

# The default list: the task, scope and in-place collect tests, and the
# map engine's (map, unordered, and settings and chunking, which exercise
# its chunk hand-off and reused buffers; attack_cursor, every way of
# consuming, panicking in and dropping a map against the read cursor's raw
# reads). Under Miri every chunk is a task
# costing a good fraction of a second and automatic chunks stay at one item
# (its virtual clock charges 5 us per basic block), so these files cut their
# inputs to a dozen or a few dozen items under cfg(miri); the whole list
# takes about 14 minutes (Miri runs on one core; attack_cursor about 6 of
# them), plus a one-time build.
read -r -a tests <<<"${POOL_MIRI_TESTS:-scope submit map_collect map unordered settings chunking attack_cursor}"
args=()
for t in "${tests[@]}"; do args+=(--test "$t"); done

echo "pool-miri: MIRIFLAGS=$MIRIFLAGS; tests: ${tests[*]}" >&2
cargo +nightly miri test -p parsweep-pool "${args[@]}"
