#!/usr/bin/env python3
"""An example black box for `sweep run`, standard library only.

One-shot mode (the default): the point comes as arguments and the value
is printed once, e.g.

    python3 blackbox.py --x 0.5 --y -1     # prints 1.25

Persistent mode (`sweep run --persistent`, spec `persistent: true`, see
configs/persistent.ron): started once per worker, it reads one point per
line on stdin, a JSON object such as {"x": 0.5, "y": -1.0}, and answers
each with one line on stdout, its value, flushed at once. Anything else it
wants to say goes to stderr: a second line on stdout would be taken as the
answer to the next point, and sweep refuses it. Expensive set-up (imports,
tables, a model) happens once, before the loop.

The function is the seed's paraboloid, f(x, y) = x^2 + y^2 (with an
optional coefficient `a`); a point with "fail" set makes it exit with
status 3, to show how sweep records a crash and restarts the process.
"""

import json
import sys


def f(point):
    if point.get("fail"):
        print(f"failing on purpose at {point}", file=sys.stderr)
        sys.exit(3)
    a = float(point.get("a", 1.0))
    x = float(point.get("x", 0.0))
    y = float(point.get("y", 0.0))
    return a * (x * x + y * y)


def persistent():
    for line in sys.stdin:
        value = f(json.loads(line))
        # repr() of a float is the shortest text that reads back to it.
        sys.stdout.write(repr(value) + "\n")
        sys.stdout.flush()


def one_shot(arguments):
    point = {}
    for name, value in zip(arguments[::2], arguments[1::2]):
        point[name.lstrip("-")] = value
    print(repr(f(point)))


if __name__ == "__main__":
    if len(sys.argv) > 1:
        one_shot(sys.argv[1:])
    else:
        persistent()
