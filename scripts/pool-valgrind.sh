#!/usr/bin/env bash
# pool-valgrind.sh - run the pool's tests that exercise its unsafe code
# (type-erased jobs, raw scope-latch pointers, in-place map_collect, the
# worker thread-local) under valgrind memcheck, on the compiled code at
# full size (scripts/pool-miri.sh runs Miri-sized cases of them under
# Miri). Any invalid read/write, use of uninitialised memory or invalid
# free fails the run (leaks are not checked: worker threads of pools that
# tests leak on purpose are still alive at exit).
#
# Usage: scripts/pool-valgrind.sh   (needs valgrind on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."

tests=(adversarial submit scope shutdown map_collect nested map unordered progress builder settings attack_consumer attack_inputs attack_buffers threads)
args=()
for t in "${tests[@]}"; do args+=(--test "$t"); done

# Build once (debug, as `cargo test` does) and list the executables.
mapfile -t exes < <(cargo test -p parsweep-pool "${args[@]}" --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["executable"])')
[ "${#exes[@]}" -eq "${#tests[@]}" ] || { echo "pool-valgrind: expected ${#tests[@]} test binaries, found ${#exes[@]}" >&2; exit 1; }

status=0
for exe in "${exes[@]}"; do
  echo "pool-valgrind: $(basename "$exe")" >&2
  # Timing-sensitive tests (latency bounds, timeouts, items that spin for a
  # clock interval) are skipped: valgrind serialises threads and slows them
  # 20-50x, past the tests' deadlock limits, which says nothing about memory.
  # So are two tests whose time under that one-thread-at-a-time scheduler
  # swings from seconds to many minutes from run to run (natively each takes
  # well under a second): 64 threads polling with zero timeouts, and a map
  # whose unbounded window queues thousands of one-item chunks at once.
  if ! valgrind --tool=memcheck --error-exitcode=99 --leak-check=no --quiet \
      "$exe" --test-threads=2 \
      --skip the_ordered_map_hands_out_item_zero --skip wait_timeout --skip latency \
      --skip window_set_after_next --skip a_late_smaller_window_bounds_the_read_ahead \
      --skip many_outside_waiters_with_tiny_timeouts --skip huge_settings_mid_iteration; then
    status=1
  fi
done
exit $status
