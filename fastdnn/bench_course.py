"""``fastdnn bench --course``: the course's student loops on fastdnn's helpers and on the reference's.

Each row runs one loop of :mod:`fastdnn.student_loops` -- written as the
course writes it -- with fastdnn's helpers and with
:mod:`fastdnn.reference`'s, on the course's arrays: the cat images
flattened the course's way (``reshape(m, -1).T / 255``, so ``X`` is
F-ordered) and week 3's planar flower.  The two are timed in turns by
:func:`fastdnn.bench.measure` and the row gives the median time per
iteration, the speedup, and the largest relative difference between the
costs the two loops recorded.

The cat data are read from ``--data`` (default: ``$FASTDNN_DATA``, else
``../shared/data``); without them the rows run on random images of the same
shape, and the table says so.

The last rows are the course's second part (:mod:`fastdnn.improving`): its
models as the notebooks call them, per epoch or iteration -- Adam's
mini-batches on the course's moons (drawn with scikit-learn; the row is left
out without it), and the regularization model with L2 and with dropout on a
stand-in of the course's 2-D football data (211 random points, the
data set's size, as the data is not distributed).
"""

import os
import statistics
import time
from pathlib import Path

import numpy as np

from . import bench, machine_choices, student_loops
from .improving import optimization
from .reference import load_planar_dataset

#: name -> (helpers, iterations per timed call, loop call, what it runs)
LOOPS: dict = {
    "L-layer": ("deep", 10, lambda h, d, n, between=None: student_loops.L_layer_loop(
        h, d["X"], d["Y"], [12288, 20, 7, 5, 1], num_iterations=n, between=between)[1],
                "L_layer_model [12288,20,7,5,1]: L_model_forward, compute_cost, L_model_backward, update"),
    "two-layer": ("deep", 10, lambda h, d, n, between=None: student_loops.two_layer_loop(
        h, d["X"], d["Y"], (12288, 7, 1), num_iterations=n, between=between)[1],
                  "two_layer_model (12288,7,1): linear_activation_forward/_backward, compute_cost, update"),
    "week 2": ("logistic", 50, lambda h, d, n, between=None: student_loops.optimize_loop(
        h, np.zeros((d["X"].shape[0], 1)), 0.0, d["X"], d["Y"], num_iterations=n, between=between)[2],
        "optimize: propagate, then w and b stepped by the student"),
    "week 3": ("planar", 200, lambda h, d, n, between=None: student_loops.planar_loop(
        h, d["Xp"], d["Yp"], 4, num_iterations=n, between=between)[1],
               "nn_model, n_h=4, planar flower (2 x 400): forward/backward_propagation, compute_cost, update"),
    "Adam (student)": ("optimization", 5, lambda h, d, n, between=None: student_loops.adam_loop(
        h, d["Xm"], d["Ym"], [2, 5, 2, 1], num_epochs=n, between=between)[1],
                       "the optimization notebook's model as a student writes it with the helpers: per epoch"),
    "Adam (model)": ("optimization", 20, lambda h, d, n: h.model(d["Xm"], d["Ym"], [2, 5, 2, 1], "adam", num_epochs=n,
                                                                 print_cost=False, return_costs=True)[1],
                     "the second part's optimization model, Adam, batches of 64 of the moons (2 x 300): per epoch"),
    "L2 (model)": ("regularization", 200, lambda h, d, n: h.model(d["Xr"], d["Yr"], lambd=0.7, num_iterations=n,
                                                                  print_cost=False, return_costs=True)[1],
                   "the regularization model [2,20,3,1], lambd=0.7, 2 x 211 stand-in data: per iteration"),
    "dropout (model)": ("regularization", 200, lambda h, d, n: h.model(d["Xr"], d["Yr"], keep_prob=0.86,
                                                                       num_iterations=n, print_cost=False,
                                                                       return_costs=True)[1],
                        "the regularization model [2,20,3,1], keep_prob=0.86, 2 x 211 stand-in data: per iteration"),
}


#: The student's own product between two iterations of a short run: the first
#: layer's weights (rows) against the loop's inputs (``data`` key).
STUDENT_PRODUCTS = {"L-layer": (20, "X"), "two-layer": (7, "X"), "week 2": (1, "X"), "week 3": (4, "Xp"),
                    "Adam (student)": (5, "Xm")}
#: Iterations (epochs for Adam) in a short run.
SHORT_ITERATIONS = 20


def course_data(directory=None):
    """The loops' arrays: ``X``, ``Y`` (the cat training set or a stand-in), ``Xp``, ``Yp`` (the flower).

    Returns
    -------
    data : dict
    source : str
        Where ``X`` came from.
    """
    directory = Path(directory or os.environ.get("FASTDNN_DATA") or Path("..") / "shared" / "data")
    Xp, Yp = load_planar_dataset()
    try:
        from .data import load_catvnoncat

        train_x_orig, train_y, _, _, _ = load_catvnoncat(str(directory))
        source = f"the course's cat images ({directory})"
    except (ImportError, OSError, ValueError):
        rng = np.random.default_rng(1)
        train_x_orig = rng.integers(0, 256, size=(209, 64, 64, 3), dtype=np.uint8)
        train_y = (rng.random((1, 209)) < 0.34).astype(np.int64)
        source = f"random images of the cat set's shape (no cat data in {directory})"
    X = train_x_orig.reshape(train_x_orig.shape[0], -1).T / 255.0
    data = {"X": X, "Y": train_y, "Xp": Xp, "Yp": Yp}
    rng = np.random.default_rng(0)
    data["Xr"] = rng.uniform(-0.75, 0.4, size=(2, 211))
    data["Yr"] = (data["Xr"][0] + 0.3 * np.sin(8 * data["Xr"][1]) > -0.2).astype(np.int64).reshape(1, -1)
    try:
        data["Xm"], data["Ym"] = optimization.load_dataset()
    except ImportError:
        pass  # no scikit-learn: the moons' row is left out
    return data, source


#: Seconds per timed sample: a student's loop runs thousands of iterations back
#: to back, and a sample of a few tens of milliseconds after the settling pause
#: measures the cores waking up more than the loop (week 2: 0.63 ms an
#: iteration in 20 ms samples, 0.55 ms in 0.3 s samples; the reference 0.83
#: and 0.84).
SAMPLE_SECONDS = 0.25


def run_loop(name, data, repeats):
    """Time one loop with both sets of helpers; returns the table row (a dict)."""
    kind, iterations, call, _ = LOOPS[name]
    helpers = student_loops.HELPERS[kind]
    steps = {impl: (lambda h=helpers[impl]: call(h, data, iterations)) for impl in ("reference", "fastdnn")}
    info = bench.measure(steps, repeats, sample_seconds=SAMPLE_SECONDS)
    ref_costs = np.asarray(info["reference"]["first_result"], dtype=np.float64)
    fast_costs = np.asarray(info["fastdnn"]["first_result"], dtype=np.float64)
    difference = float(np.max(np.abs(fast_costs - ref_costs) / np.abs(ref_costs)))
    reference_s = info["reference"]["median"] / iterations
    fastdnn_s = info["fastdnn"]["median"] / iterations
    return {"loop": name, "reference_s": reference_s, "fastdnn_s": fastdnn_s, "speedup": reference_s / fastdnn_s,
            "cost_difference": difference, "first_call_s": info["fastdnn"]["first_call"]}


def run_short(name, data, repeats):
    """Time ``name`` in short runs amid NumPy work, as a notebook runs it; returns the table row (a dict).

    Each run is :data:`SHORT_ITERATIONS` iterations, right after a NumPy
    product of the student's size (:data:`STUDENT_PRODUCTS`), with another
    such product between every two iterations and no pause anywhere: BLAS's
    threads are awake and spinning when a helper starts, as in a notebook
    full of NumPy.  A run's time leaves the products out.  The two sets of
    helpers take turns, run after run.
    """
    kind, _, call, _ = LOOPS[name]
    helpers = student_loops.HELPERS[kind]
    rows, key = STUDENT_PRODUCTS[name]
    X = data[key]
    W = np.random.default_rng(0).standard_normal((rows, X.shape[0])) * 0.01
    spent = [0.0]

    def student_product():
        start = time.perf_counter()
        np.dot(W, X)
        spent[0] += time.perf_counter() - start

    samples = {"reference": [], "fastdnn": []}
    call(helpers["fastdnn"], data, 2)  # compiled or loaded: a first call is not a short run's business
    for r in range(repeats):
        for impl in (("reference", "fastdnn") if r % 2 == 0 else ("fastdnn", "reference")):
            student_product()
            spent[0] = 0.0
            start = time.perf_counter()
            call(helpers[impl], data, SHORT_ITERATIONS, student_product)
            samples[impl].append((time.perf_counter() - start - spent[0]) / SHORT_ITERATIONS)
    reference_s = statistics.median(samples["reference"])
    fastdnn_s = statistics.median(samples["fastdnn"])
    ratios = [a / b for a, b in zip(samples["reference"], samples["fastdnn"])]
    return {"loop": name, "reference_s": reference_s, "fastdnn_s": fastdnn_s, "speedup": reference_s / fastdnn_s,
            "lowest": min(ratios), "highest": max(ratios)}


def run_short_table(args, data, source):
    """``fastdnn bench --course --short``."""
    repeats = args.repeats or SHORT_REPEATS
    names = [name for name in STUDENT_PRODUCTS if STUDENT_PRODUCTS[name][1] in data]
    rows = []
    for k, name in enumerate(names, start=1):
        bench._err(f"[{k}/{len(names)}] short runs of the {name} loop ...")
        rows.append(run_short(name, data, repeats))
    print(bench.machine_line(bench.machine_info()))
    print(f"the students' loops in short runs of {SHORT_ITERATIONS} iterations amid NumPy work (a product of the "
          f"student's size before each run and between every two iterations, no pause), X from {source}; "
          f"median ms per iteration over {repeats} runs each, taking turns; speedup = reference / fastdnn")
    cells = [[r["loop"], bench._ms(r["reference_s"]), bench._ms(r["fastdnn_s"]), f"{r['speedup']:.2f}x",
              f"{r['lowest']:.2f}x..{r['highest']:.2f}x"] for r in rows]
    print(bench.format_table(["loop", "reference ms", "fastdnn ms", "speedup", "run by run"], cells))
    print(machine_choices.describe())
    return 0


#: Short runs per set of helpers in ``--short``.
SHORT_REPEATS = 15

COLUMNS = ["loop", "reference ms", "fastdnn ms", "speedup", "costs differ by", "first call s"]


def table_cells(row):
    return [row["loop"], bench._ms(row["reference_s"]), bench._ms(row["fastdnn_s"]), f"{row['speedup']:.2f}x",
            f"{row['cost_difference']:.1e}", f"{row['first_call_s']:.2f}"]


def run(args):
    """``fastdnn bench --course``; returns the exit status."""
    data, source = course_data(args.data)
    if getattr(args, "short", False):
        return run_short_table(args, data, source)
    repeats = args.repeats or bench.QUICK_REPEATS
    rows = []
    names = [name for name in LOOPS if not name.startswith("Adam") or "Xm" in data]
    for k, name in enumerate(names, start=1):
        bench._err(f"[{k}/{len(names)}] timing the {name} loop ...")
        rows.append(run_loop(name, data, repeats))
    print(bench.machine_line(bench.machine_info()))
    print(f"the course's loops as students write them, X from {source}; median ms per iteration over {repeats} "
          f"interleaved samples; speedup = reference / fastdnn")
    print(bench.format_table(COLUMNS, [table_cells(r) for r in rows]))
    for name in names:
        print(f"  {name}: {LOOPS[name][3]}")
    if "Xm" not in data:
        print("  (the Adam rows need scikit-learn for the course's moons: pip install \"fastdnn[sklearn]\")")
    print("costs differ by: the largest relative difference between the costs the two loops recorded; "
          "first call: fastdnn's first timed call, which includes Numba's compile or cache load")
    print(machine_choices.describe())
    return 0
