#!/usr/bin/env python3
"""Per-task cost of Python's ProcessPoolExecutor.map, the baseline this
project replaces: `python3 pool/benches/python_executor.py [workers] [tasks]`.

Maps a trivial function over `tasks` inputs with chunksize 1 and 1000 and
prints nanoseconds per task, to compare with `cargo bench -p parsweep-pool`
(run both on the same machine, at the same time of day)."""
import sys
import time
from concurrent.futures import ProcessPoolExecutor


def square(x):
    return x * x


def per_task_ns(executor, tasks, chunksize):
    start = time.perf_counter()
    total = sum(executor.map(square, range(tasks), chunksize=chunksize))
    elapsed = time.perf_counter() - start
    assert total == sum(x * x for x in range(tasks))
    return elapsed * 1e9 / tasks


def main():
    workers = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    tasks = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    with ProcessPoolExecutor(workers) as executor:
        per_task_ns(executor, 1000, 100)  # start the worker processes
        for chunksize in (1, 1000):
            ns = per_task_ns(executor, tasks, chunksize)
            print(f"ProcessPoolExecutor.map, {workers} workers, chunksize={chunksize}: {ns:,.0f} ns/task")


if __name__ == "__main__":
    main()
