"""``fastdnn bench --cold``: each shape's first training step from an empty Numba cache.

Every (shape, dtype) case runs in a fresh process whose ``NUMBA_CACHE_DIR``
is a new empty folder, as a new user's first step (cold: the route of a
first use, :func:`fastdnn.plan.first_use`, which compiles nothing while it
pays); then with the first use off in another fresh process on another
empty folder (the compiled route's first step, which compiles what it
needs), and in a third on the cache that one filled (warm: the kernels
load).  Printed per case: the cold route and first step, the compiled
route, its first step and the compile time and kernel count inside it, and
the warm first step.
"""

import json
import os
import subprocess
import sys
import tempfile
import textwrap

_CHILD = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    from fastdnn import bench, compiling
    dims, m, dtype = json.loads(sys.argv[1])
    X, Y = bench.make_batch(dims, m, np.dtype(dtype))
    step = bench.fastdnn_step(dims, X, Y)
    started = time.perf_counter()
    step()
    seconds = time.perf_counter() - started
    compiling.settle()
    print(json.dumps({"seconds": seconds, "route": step.network.last_plan.route,
                      "compile_s": compiling.seconds(), "kernels": compiling.kernels()}))
""")


def _first_step(dims, m, dtype, cache, first_use=True):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    if not first_use:
        env["FASTDNN_FIRST_USE_SECONDS"] = "0"  # the route's compile itself
    done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps([list(dims), m, dtype])], env=env,
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"the cold run of {dims} {dtype} failed:\n{done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(cases):
    """``[(dims, m, dtype, cold, compiled, warm)]``: each case's first step in fresh processes.

    ``cold``: from an empty cache, as a new user gets it (a first use's
    route, :func:`fastdnn.plan.first_use`); ``compiled``: from an empty
    cache with the first use off (the route's compile); ``warm``: on the
    cache that filled.
    """
    results = []
    for dims, m, dtype in cases:
        with tempfile.TemporaryDirectory(prefix="fastdnn-cold-") as cache:
            cold = _first_step(dims, m, dtype, cache)
        with tempfile.TemporaryDirectory(prefix="fastdnn-cold-") as cache:
            compiled = _first_step(dims, m, dtype, cache, first_use=False)
            warm = _first_step(dims, m, dtype, cache)
        results.append((dims, m, dtype, cold, compiled, warm))
    return results


def table(results):
    """The printed table of :func:`measure`'s results."""
    header = ("shape", "dtype", "m", "route", "cold first step s", "compiled route", "its first step s",
              "compiling s", "kernels", "warm first step s")
    rows = [(",".join(map(str, dims)), dtype, str(m), cold["route"], f"{cold['seconds']:.2f}", compiled["route"],
             f"{compiled['seconds']:.2f}", f"{compiled['compile_s']:.2f}", str(compiled["kernels"]),
             f"{warm['seconds']:.3f}")
            for dims, m, dtype, cold, compiled, warm in results]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) if i > 3 else h.ljust(w) for i, (h, w) in enumerate(zip(header, widths)))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(c.rjust(w) if i > 3 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
    return "\n".join(lines)


def run(cases, json_path=None):
    """Measure, print the table (and save it with ``json_path``); returns 0."""
    print("first training step of each case in a fresh process: from an empty Numba cache as a new user gets it "
          "(cold), with the first use off (the compiled route), then on the cache that filled (warm)", flush=True)
    results = measure(cases)
    print(table(results))
    if json_path:
        with open(json_path, "w") as f:
            json.dump([{"shape": list(dims), "m": m, "dtype": dtype, "cold": cold, "compiled": compiled, "warm": warm}
                       for dims, m, dtype, cold, compiled, warm in results], f, indent=1)
    return 0
