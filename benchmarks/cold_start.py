"""Where a first run's time goes: fastdnn's compiles from an empty Numba cache, kernel by kernel.

Usage::

    python benchmarks/cold_start.py [--scenarios digits,spec] [--json FILE]

Each scenario runs in a fresh process with its own empty ``NUMBA_CACHE_DIR``
(cold), then again in a second fresh process on the cache the first one
filled (warm).  Printed: the wall time of each, the compile time and the
number of kernels compiled (``fastdnn.compiling``, which follows Numba's
``numba:compile`` event), the kernels that took longest, and the peers of
the issue's criteria measured in the same run (scikit-learn's whole fit of
the same digits model).

Scenarios:

* ``digits`` -- ``fastdnn.MLPClassifier(max_iter=20)`` on scikit-learn's
  digits (float64), then the same on float32 data (a second dtype);
  scikit-learn's ``MLPClassifier`` on the same data, for the ratio.
* ``default`` -- the issue's criterion: ``fastdnn.MLPClassifier()`` (200
  iterations) on the digits, float64 then float32, then ``score``, and
  scikit-learn's ``MLPClassifier()`` on the same data; the routes taken.
* ``spec`` -- the first two ``train_step`` calls of each SPEC shape (as
  ``fastdnn bench`` builds them), float64 then float32, each timed.
* ``grid1``, ``grid2`` -- ``GridSearchCV(fastdnn.MLPClassifier(max_iter=20),
  4 candidates, cv=3)`` on the digits with ``n_jobs=1`` and ``n_jobs=2``:
  wall time and the CPU time of every process (the workers included), for
  the criterion "two workers from a cold cache cost at most 1.3x the CPU of
  one" (they share one cache folder and compile each kernel once between
  them, :func:`fastdnn.caching.share_compiles`).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

#: The digits classifier's first fits (float64, then float32 data), then score, and scikit-learn's fit of
#: the same model: ``ARGS`` are both estimators' arguments, ``CALL`` how the rows name the fit.
DIGITS = textwrap.dedent("""
    import json, time, warnings
    t0 = time.perf_counter()
    import numpy as np
    import fastdnn
    from fastdnn import compiling
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    rows = {"import fastdnn, scikit-learn": time.perf_counter() - t0}
    for name, data in (("first MLPClassifierCALL, float64", X), ("then float32 data", X.astype(np.float32))):
        t = time.perf_counter()
        clf = fastdnn.MLPClassifier(ARGS).fit(data, y)
        rows[name] = time.perf_counter() - t
        rows[name + ": route"] = sorted(clf.network_.steps_by_route)
    t = time.perf_counter()
    clf.score(X, y)
    rows["then score"] = time.perf_counter() - t
    from sklearn.neural_network import MLPClassifier
    t = time.perf_counter()
    MLPClassifier(ARGS).fit(X, y)
    rows["scikit-learn's MLPClassifierCALL (peer)"] = time.perf_counter() - t
    print(json.dumps({"rows": rows, "compile_s": compiling.seconds(), "kernels": compiling.compiled()}))
""")

SCRIPTS = {
    "digits": DIGITS.replace("ARGS", "max_iter=20, random_state=0").replace("CALL", " fit"),
    "default": DIGITS.replace("ARGS", "random_state=0").replace("CALL", "().fit"),
    "spec": textwrap.dedent("""
        import json, time
        import numpy as np
        from fastdnn import bench, compiling
        rows = {}
        for dtype in ("float64", "float32"):
            for dims in bench.SPEC_SHAPES:
                m = bench.COURSE_M if tuple(dims) == tuple(bench.COURSE_SHAPE) else 2048
                X, Y = bench.make_batch(dims, m, np.dtype(dtype))
                step = bench.fastdnn_step(dims, X, Y)
                t = time.perf_counter()
                step()
                rows[f"first step {','.join(map(str, dims))} {dtype} ({step.network.last_plan.route})"] = \\
                    time.perf_counter() - t
        print(json.dumps({"rows": rows, "compile_s": compiling.seconds(), "kernels": compiling.compiled()}))
    """),
}

GRID = textwrap.dedent("""
    import json, resource, time, warnings
    import numpy as np
    import fastdnn
    from fastdnn import compiling
    from joblib.externals.loky import get_reusable_executor
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    t = time.perf_counter()
    search = GridSearchCV(fastdnn.MLPClassifier(max_iter=20, random_state=0),
                          {"alpha": [1e-4, 1e-3], "hidden_layer_sizes": [(32,), (64,)]}, cv=3, n_jobs=N_JOBS)
    search.fit(X, y)
    wall = time.perf_counter() - t
    get_reusable_executor().shutdown(wait=True)  # its workers' CPU then counts as our children's
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum(u.ru_utime + u.ru_stime for u in usage)
    rows = {f"GridSearchCV n_jobs=N_JOBS wall": wall, f"GridSearchCV n_jobs=N_JOBS CPU, all processes": cpu}
    print(json.dumps({"rows": rows, "compile_s": compiling.seconds(), "kernels": compiling.compiled()}))
""")
SCRIPTS["grid1"] = GRID.replace("N_JOBS", "1")
SCRIPTS["grid2"] = GRID.replace("N_JOBS", "2")
DEFAULT_SCENARIOS = "default,digits,spec"


def run(script, cache):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        env.pop(key, None)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default=DEFAULT_SCENARIOS, help=f"of {', '.join(SCRIPTS)}")
    parser.add_argument("--top", type=int, default=8, help="kernels listed per scenario (longest compiles)")
    parser.add_argument("--json", help="save the results")
    args = parser.parse_args(argv)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from fastdnn.bench import machine_info, machine_line

    print(machine_line(machine_info()))
    results = {}
    for name in args.scenarios.split(","):
        with tempfile.TemporaryDirectory(prefix="fastdnn-cold-") as cache:
            cold = run(SCRIPTS[name], cache)
            warm = run(SCRIPTS[name], cache)
        results[name] = {"cold": cold, "warm": warm}
        print(f"\n{name}: {len(cold['kernels'])} kernels compiled in {cold['compile_s']:.1f} s (cold); "
              f"{len(warm['kernels'])} when warm")
        width = max(len(row) for row in cold["rows"])
        print(f"  {'':{width}}  cold s   warm s")
        for row, seconds in cold["rows"].items():
            if isinstance(seconds, list):  # the routes that ran
                print(f"  {row:{width}}  {', '.join(seconds)} / {', '.join(warm['rows'][row])}")
                continue
            print(f"  {row:{width}}  {seconds:6.2f}   {warm['rows'][row]:6.2f}")
        print("  longest compiles:")
        for kernel, seconds in sorted(cold["kernels"], key=lambda k: -k[1])[:args.top]:
            print(f"    {seconds:6.2f} s  {kernel.split('(')[0]}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
