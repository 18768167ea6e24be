#!/bin/sh
# Per-point overhead of `sweep run`, measured in one run, interleaved:
#   1. the Python black box sweep/examples/blackbox.py, one-shot (a process
#      per point) against persistent (a process per worker), 200 points on
#      2 workers; and persistent on 2,200 points, whose extra time over 200
#      is the cost of 2,000 points without the interpreters' start;
#   2. the trivial command `sh -c 'echo k'`, 1,000 points on 2 workers,
#      sweep against `xargs -P2`.
#
#   cargo build --release -p sweep && sh sweep/examples/overhead.sh [ROUNDS]
#
# Prints one line per round and the best of ROUNDS (default 3). PYTHON
# names the interpreter (default python3; a pyenv shim adds its own start-up).
set -eu
rounds=${1:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
sweep=${SWEEP:-$root/target/release/sweep}
box=$root/sweep/examples/blackbox.py
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
cat > oneshot.ron <<RON
(space: Range(name: "x", start: 0, end: 200), command: ["$python", "$box", "--x", "{x}"], workers: 2)
RON
cat > persistent.ron <<RON
(space: Range(name: "x", start: 0, end: 200), command: ["$python", "$box"], workers: 2, persistent: true)
RON
cat > persistent_long.ron <<RON
(space: Range(name: "x", start: 0, end: 2200), command: ["$python", "$box"], workers: 2, persistent: true)
RON
cat > trivial.ron <<RON
(space: Range(name: "k", start: 0, end: 1000), command: ["sh", "-c", "echo {k}"], workers: 2)
RON
now() { date +%s.%N; }
# seconds COMMAND...: runs it from scratch (no results file), prints its wall time.
seconds() {
    rm -f ./*.jsonl
    start=$(now)
    "$@" > /dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
    end=$(now)
    echo "$end - $start" | bc -l
}
best() { sort -n | head -1; }
: > oneshot.t; : > persistent.t; : > long.t; : > trivial.t; : > xargs.t
for round in $(seq "$rounds"); do
    seconds "$sweep" run --no-progress oneshot.ron >> oneshot.t
    seconds "$sweep" run --no-progress persistent.ron >> persistent.t
    seconds "$sweep" run --no-progress persistent_long.ron >> long.t
    seconds "$sweep" run --no-progress trivial.ron >> trivial.t
    seconds sh -c "seq 0 999 | xargs -P2 -I{} sh -c 'echo {}'" >> xargs.t
    echo "round $round: one-shot $(tail -1 oneshot.t) s, persistent $(tail -1 persistent.t) s" \
        "(2,200 points: $(tail -1 long.t) s)," \
        "sweep echo $(tail -1 trivial.t) s, xargs echo $(tail -1 xargs.t) s"
done
o=$(best < oneshot.t); p=$(best < persistent.t); l=$(best < long.t); t=$(best < trivial.t); x=$(best < xargs.t)
# Wall time × workers / points: what one point costs a worker, all included.
per() { echo "scale=3; $1 * 2 * 1000 / $2" | bc -l; }
echo "best of $rounds: Python black box, 200 points on 2 workers: one-shot $o s ($(per "$o" 200) ms/point)," \
    "persistent $p s ($(per "$p" 200) ms/point); 2,000 more persistent points $(per "$(echo "$l - $p" | bc -l)" 2000) ms/point"
echo "best of $rounds: sh -c 'echo k', 1000 points on 2 workers: sweep $t s ($(per "$t" 1000) ms/point)," \
    "xargs -P2 $x s ($(per "$x" 1000) ms/point)"
