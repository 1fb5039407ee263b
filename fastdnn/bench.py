"""``fastdnn bench``: time a training step against the NumPy reference and the peers.

For every shape, dtype and batch size the command builds, on the same
generated batch and the same starting weights,

* ``reference`` -- :mod:`fastdnn.reference`'s ``L_model_forward``,
  ``compute_cost``, ``L_model_backward`` and ``update_parameters``, the
  course's plain NumPy;
* ``fastdnn`` -- :meth:`fastdnn.Network.train_step`;
* ``torch`` -- the same network in PyTorch (:func:`fastdnn.peers.torch_step`),
  when it is installed and not turned off;
* ``bound`` -- the step's matrix products alone (:func:`fastdnn.peers.matmul_bound_step`),

warms each up (the first fastdnn call, Numba's compile or cache load, is
timed and reported on its own), then times them in turns, rotating the
order every round so that a noisy neighbour hurts them all alike, and
reports the median time per step.  One table comes out; ``--json`` saves it
with the machine's description, ``--compare`` checks a run against a saved
one, ``--plot`` draws it (``--plot FILE --from JSON`` draws a saved run).

The step builders (:func:`make_batch`, :func:`reference_step`,
:func:`fastdnn_step`) are shared with the pytest-benchmark suite in
``benchmarks/``, so both time exactly the same work.
"""

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
import time

import numpy as np

#: The course's cat/non-cat network and its training-set size.
COURSE_SHAPE = (12288, 20, 7, 5, 1)
COURSE_M = 209
#: The shapes of SPEC section 3.
SPEC_SHAPES = (COURSE_SHAPE, (784, 1024, 1024, 1), (784, 256, 256, 1), (64, 64, 64, 1))
QUICK_M = (2048,)
FULL_M = (8192, 65536)
QUICK_REPEATS = 5
FULL_REPEATS = 3
#: A timed sample runs the step this long at least (several calls when one is short).
SAMPLE_SECONDS = 0.02
LEARNING_RATE = 0.0075
#: ``--compare`` flags a row whose fastdnn time grew by more than this fraction.
REGRESSION_TOLERANCE = 0.05
#: Environment variables that change how the BLAS or the thread pools behave.
THREAD_ENV = (
    "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OPENBLAS_THREAD_TIMEOUT", "OMP_NUM_THREADS",
    "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER",
    "FASTDNN_PARALLEL_MIN_ELEMENTS", "FASTDNN_STEP_PARALLEL_MIN_ELEMENTS",
)
#: Set in the environment, these make OpenBLAS pick slower kernels.
SLOW_BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
#: How closely the first costs of the reference and fastdnn must agree.
COST_RTOL = {"float64": 1e-9, "float32": 1e-4}
#: ... and with bfloat16 products (``--precision bf16``), whose operands keep 8 significant bits.
BF16_COST_RTOL = 3e-2
JSON_FORMAT = "fastdnn-bench/1"

PLOT_HINT = "--plot needs matplotlib, an optional dependency: pip install 'fastdnn[plot]'"


# ---------------------------------------------------------------- the steps


def make_batch(layer_dims, m, dtype, seed=0):
    """A generated batch in the course's layout.

    Parameters
    ----------
    layer_dims : sequence of int
    m : int
    dtype : {np.float32, np.float64}
    seed : int, default 0

    Returns
    -------
    X : ndarray of shape (n_x, m)
        Standard normal, C-contiguous, of ``dtype``.
    Y : ndarray of shape (n_L, m)
        Labels in {0, 1}, of ``dtype``.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((layer_dims[0], m)).astype(dtype)
    Y = rng.integers(0, 2, size=(layer_dims[-1], m)).astype(dtype)
    return X, Y


def fastdnn_step(layer_dims, X, Y, learning_rate=LEARNING_RATE, precision="float"):
    """One :meth:`fastdnn.Network.train_step` on ``(X, Y)`` per call.

    Parameters
    ----------
    layer_dims : sequence of int
    X : ndarray of shape (n_x, m)
        C-contiguous; its dtype is the network's.
    Y : ndarray of shape (n_L, m)
    learning_rate : float
    precision : {"float", "bf16", "auto"}
        The network's :attr:`fastdnn.Network.precision`.

    Returns
    -------
    callable
        ``step()`` returns the cost before the update; ``step.network`` is
        the :class:`fastdnn.Network` (relu hidden layers, sigmoid output,
        the course's initialisation with seed 1).
    """
    from .network import Network

    net = Network(list(layer_dims), dtype=X.dtype, seed=1, precision=precision)

    def step():
        return net.train_step(X, Y, learning_rate)

    step.network = net
    return step


def reference_step(layer_dims, X, Y, learning_rate=LEARNING_RATE):
    """One step of the course's loop in plain NumPy per call.

    Parameters
    ----------
    layer_dims : sequence of int
    X : ndarray of shape (n_x, m)
    Y : ndarray of shape (n_L, m)
    learning_rate : float

    Returns
    -------
    callable
        ``step()`` runs :func:`fastdnn.reference.L_model_forward`,
        ``compute_cost``, ``L_model_backward`` and ``update_parameters``
        (keeping the new parameters for the next call) and returns the cost.
        The starting weights are those of :func:`fastdnn_step` (the course's
        initialisation, seed 1), in ``X``'s dtype.
    """
    from . import reference
    from .network import Network

    # The Network draws the course's weights from a private generator, so the
    # global NumPy generator is left alone.
    start = Network(list(layer_dims), dtype=X.dtype, seed=1).parameters
    state = {"parameters": {name: np.array(value) for name, value in start.items()}}

    def step():
        parameters = state["parameters"]
        AL, caches = reference.L_model_forward(X, parameters)
        cost = reference.compute_cost(AL, Y)
        grads = reference.L_model_backward(AL, Y, caches)
        state["parameters"] = reference.update_parameters(parameters, grads, learning_rate)
        return cost

    step.state = state
    return step


# ---------------------------------------------------------------- timing


#: Pause before each timed sample (OpenBLAS's idle threads spin for about 0.1 s).
SETTLE_SECONDS = 0.3


def _timed(fn, number=1):
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def measure(steps, repeats, sample_seconds=SAMPLE_SECONDS):
    """Time several step functions side by side.

    Parameters
    ----------
    steps : dict of str to callable
        Name to a step that takes no argument.
    repeats : int
        Timed samples per step.
    sample_seconds : float
        A sample repeats a short step until it lasts about this long.

    Returns
    -------
    dict of str to dict
        Per name: ``first_call`` (s, the very first call, which for fastdnn
        includes Numba's compile or cache load), ``first_result`` (what that
        call returned), ``calls_per_sample``,
        ``samples`` (s per call, one per round) and ``median`` (s).

    Notes
    -----
    Each step is warmed up first.  Then every round times one sample of each
    step, the order rotated from round to round, so a burst of load from
    elsewhere on the machine lands on all of them alike; a pause of
    ``SETTLE_SECONDS`` and one untimed call precede each sample, so that no
    step pays for the threads the previous one left spinning, nor for
    waking its own.
    """
    names = list(steps)
    info = {}
    for name in names:
        start = time.perf_counter()
        result = steps[name]()
        first = time.perf_counter() - start
        # A second call calibrates a short step (and finishes any lazy set-up);
        # a long one needs no calibration.
        estimate = first if (name != "fastdnn" and first > 1.0) else _timed(steps[name])
        calls = int(min(10000, max(1, math.ceil(sample_seconds / max(estimate, 1e-9)))))
        info[name] = {"first_call": first, "first_result": result, "calls_per_sample": calls, "samples": []}
    for r in range(repeats):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            # Let the machine settle first: OpenBLAS's threads keep spinning
            # for about 0.1 s after a multi-threaded product and tax whatever
            # runs next on a 2-core machine (a fastdnn step right after a
            # reference step measured 41 ms instead of 22 ms).  Then one
            # untimed step wakes the step's own threads: a training loop
            # runs step after step, never from idle.
            time.sleep(SETTLE_SECONDS)
            steps[name]()
            info[name]["samples"].append(_timed(steps[name], info[name]["calls_per_sample"]))
    for name in names:
        info[name]["median"] = statistics.median(info[name]["samples"])
    return info


def run_case(layer_dims, m, dtype, repeats, with_torch, sample_seconds=SAMPLE_SECONDS, seed=0, precision="float"):
    """Build every implementation for one shape, batch and dtype, time them, and return the table row.

    With ``precision="bf16"`` (or ``"auto"`` where it takes bf16) fastdnn's
    network multiplies bfloat16 operands, PyTorch runs under
    ``torch.autocast(bfloat16)`` and the bound is the bf16 products alone.

    Returns
    -------
    dict
        ``shape``, ``dtype``, ``m``, the median seconds per step of each
        implementation (``reference_s``, ``fastdnn_s``, ``torch_s``,
        ``bound_s``; ``torch_s`` is None without PyTorch), the ratios
        ``speedup`` (reference / fastdnn), ``fastdnn_over_torch``,
        ``fastdnn_over_bound``, ``first_call_s`` (fastdnn's first call) and
        the raw timings, the first-step costs of the reference and fastdnn
        and whether they agree (``costs_agree``).
    """
    from . import peers

    dtype = np.dtype(dtype)
    X, Y = make_batch(layer_dims, m, dtype, seed)
    fast = fastdnn_step(layer_dims, X, Y, precision=precision)
    bf16 = fast.network.plan(m).precision == "bf16"
    steps = {
        "reference": reference_step(layer_dims, X, Y),
        "fastdnn": fast,
        "bound": peers.bf16_bound_step(layer_dims, m, seed=seed) if bf16 else
        peers.matmul_bound_step(layer_dims, m, dtype, seed=seed),
    }
    if with_torch:
        steps["torch"] = peers.torch_step(layer_dims, m, dtype, "sigmoid", X=X, Y=Y, learning_rate=LEARNING_RATE,
                                          seed=seed, autocast=bf16)
    timings = measure(steps, repeats, sample_seconds)
    # Both start from the same weights on the same batch, so their first
    # costs must agree: a cheap check that they do the same work.
    ref_cost = float(timings["reference"].pop("first_result"))
    fast_cost = float(timings["fastdnn"].pop("first_result"))
    for name in timings:
        timings[name].pop("first_result", None)
    ref = timings["reference"]["median"]
    fast = timings["fastdnn"]["median"]
    bound = timings["bound"]["median"]
    torch_s = timings["torch"]["median"] if "torch" in timings else None
    plan = steps["fastdnn"].network.last_plan
    return {
        "shape": list(layer_dims),
        "dtype": dtype.name,
        "m": int(m),
        "reference_s": ref,
        "fastdnn_s": fast,
        "speedup": ref / fast,
        "route": plan.route if plan is not None else None,
        "precision": "bf16" if bf16 else "float",
        "torch_s": torch_s,
        "bound_s": bound,
        "fastdnn_over_torch": fast / torch_s if torch_s else None,
        "fastdnn_over_bound": fast / bound,
        "first_call_s": timings["fastdnn"]["first_call"],
        "first_cost": {"reference": ref_cost, "fastdnn": fast_cost},
        "costs_agree": bool(np.isclose(fast_cost, ref_cost, rtol=BF16_COST_RTOL if bf16 else COST_RTOL[dtype.name],
                                       atol=0.0)),
        "timings": timings,
    }


# ---------------------------------------------------------------- the machine


def _blas_libraries():
    """The BLAS (and OpenMP) libraries loaded in this process, as threadpoolctl sees them."""
    try:
        import threadpoolctl
    except ImportError:
        return None
    keep = ("user_api", "internal_api", "version", "num_threads", "threading_layer", "architecture", "prefix")
    libraries = []
    for d in threadpoolctl.threadpool_info():
        entry = {k: d.get(k) for k in keep}
        # numpy.libs, scipy.libs, torch/lib: which package brought the library.
        entry["location"] = os.path.basename(os.path.dirname(d.get("filepath") or ""))
        libraries.append(entry)
    return libraries


def machine_info(torch_module=None):
    """Describe the machine and the libraries a timing depends on.

    Returns
    -------
    dict
        ``cpu_model``, ``cores`` (``os.cpu_count()``), ``nproc`` (cores this
        process may use), ``python``, ``numpy``, ``numba``,
        ``numba_threads``, ``numba_threading_layer``, ``blas`` (threadpoolctl's view, or None),
        ``numpy_blas_build``, ``torch`` and ``torch_threads`` (None without
        PyTorch), ``env`` (the thread and BLAS variables that are set) and
        ``numba_wait_policy`` (how Numba's OpenMP workers wait).
    """
    import numba

    from .machine_choices import cpu_model
    from .threads import numba_wait_policy, numpy_blas_build

    threads = numba.get_num_threads()  # also starts the pool, so its layer is known
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run in this process yet
        layer = None
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "nproc": nproc,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "numba_threads": threads,
        "numba_threading_layer": layer,
        "blas": _blas_libraries(),
        "numpy_blas_build": numpy_blas_build(),  # (for when threadpoolctl is missing)
        "torch": torch_module.__version__ if torch_module is not None else None,
        "torch_threads": torch_module.get_num_threads() if torch_module is not None else None,
        "env": {k: os.environ[k] for k in THREAD_ENV if k in os.environ},
        "numba_wait_policy": numba_wait_policy(),
    }


def machine_line(info):
    """One line: CPU, cores, BLAS, Numba's threads (and PyTorch's)."""
    parts = [f"{info['cpu_model']}, {info['nproc']} of {info['cores']} cores"]
    if info["blas"]:
        libs = []
        for d in info["blas"]:
            if d["user_api"] != "blas":
                continue
            extra = ", ".join(str(x) for x in (d.get("location"), d.get("architecture"), d.get("threading_layer")) if x)
            libs.append(f"{d['internal_api']} {d['version']} ({extra}; {d['num_threads']} threads)")
        parts.append("BLAS " + " + ".join(libs) if libs else "BLAS: none seen by threadpoolctl")
    else:
        parts.append(f"BLAS {info['numpy_blas_build'] or 'unknown'} (pip install threadpoolctl for details)")
    layer = info["numba_threading_layer"] or "not started"
    policy = info.get("numba_wait_policy")
    policy = f", OMP_WAIT_POLICY={policy}" if policy else ""
    parts.append(f"numpy {info['numpy']}, numba {info['numba']} ({layer} threading layer, "
                 f"{info['numba_threads']} threads{policy})")
    if info["torch"]:
        parts.append(f"torch {info['torch']} ({info['torch_threads']} threads)")
    if info["env"]:
        parts.append("env " + " ".join(f"{k}={v}" for k, v in info["env"].items()))
    busy = info.get("other_cores_busy") or {}
    if busy.get("before") is not None and busy.get("during") is not None:
        parts.append(f"other processes busy: {busy['before']:.1f} cores before, {busy['during']:.1f} during")
    return "machine: " + "; ".join(parts)


def cpu_sample():
    """Jiffies counters for measuring how busy *other* processes keep the cores.

    Returns
    -------
    tuple of (int, int, int, int) or None
        Busy jiffies of the whole machine, total jiffies, jiffies of this
        process (all its threads), and the number of CPUs; None where
        ``/proc`` is not available.
    """
    try:
        with open("/proc/stat") as f:
            lines = f.read().splitlines()
        with open("/proc/self/stat") as f:
            # Fields after the command name, which may contain spaces: utime and stime are 14th and 15th.
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    values = [int(x) for x in lines[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user time
    ncpu = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    return total - idle, total, int(fields[11]) + int(fields[12]), max(ncpu, 1)


def other_cores_busy(before, after):
    """Cores kept busy by other processes between two :func:`cpu_sample` calls, or None."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    busy = (after[0] - before[0]) - (after[2] - before[2])
    return max(0.0, busy / (after[1] - before[1]) * after[3])


def busy_machine_warning(cores_busy, when="before the benchmark starts"):
    """A warning when other processes keep at least half a core busy, or None.

    Parameters
    ----------
    cores_busy : float or None
        Cores other processes used (from :func:`other_cores_busy`).
    when : str
    """
    if cores_busy is None or cores_busy < 0.5:
        return None
    return (f"warning: other processes kept {cores_busy:.1f} cores busy {when}: threads that wait for each "
            f"other suffer most, so the times are inflated and noisy")


def slow_blas_warning(environ=None):
    """The warning to print when OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set, or None."""
    environ = os.environ if environ is None else environ
    found = [k for k in SLOW_BLAS_ENV if k in environ]
    if not found:
        return None
    settings = " ".join(f"{k}={environ[k]}" for k in found)
    unset = " ".join(f"-u {k}" for k in found)
    return (f"warning: {settings} is set: it makes NumPy's OpenBLAS choose slower kernels, which slows the "
            f"reference, fastdnn and the bound alike. For a benchmark, unset it in this command: "
            f"env {unset} fastdnn bench ...")


# ---------------------------------------------------------------- the table


def _ms(seconds):
    if seconds is None:
        return "-"
    ms = seconds * 1e3
    if ms >= 100:
        return f"{ms:.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    if ms >= 1:
        return f"{ms:.2f}"
    return f"{ms:.3f}"


def _ratio(x, suffix=""):
    return "-" if x is None else f"{x:.2f}{suffix}"


def table_columns(with_torch):
    """Column titles of the table, in order."""
    columns = ["shape", "dtype", "m", "reference ms", "fastdnn ms", "speedup", "route"]
    if with_torch:
        columns += ["torch ms"]
    columns += ["bound ms"]
    if with_torch:
        columns += ["fastdnn/torch"]
    columns += ["fastdnn/bound", "first call (compile) s", "others busy"]
    return columns


def table_cells(row, with_torch):
    """The cells of one row, as strings, in the order of :func:`table_columns`."""
    dtype = row["dtype"] + ("+bf16" if row.get("precision") == "bf16" else "")
    cells = [",".join(str(n) for n in row["shape"]), dtype, str(row["m"]), _ms(row["reference_s"]),
             _ms(row["fastdnn_s"]), _ratio(row["speedup"], "x"), row.get("route") or "-"]
    if with_torch:
        cells += [_ms(row["torch_s"])]
    cells += [_ms(row["bound_s"])]
    if with_torch:
        cells += [_ratio(row["fastdnn_over_torch"])]
    busy = row.get("other_cores_busy")
    cells += [_ratio(row["fastdnn_over_bound"]), f"{row['first_call_s']:.2f}",
              "-" if busy is None else f"{busy:.1f}" + (" !" if busy >= 0.5 else "")]
    return cells


def format_table(columns, rows_of_cells):
    """Plain-text table: the first three columns left-aligned, the numbers right-aligned."""
    widths = [max([len(c)] + [len(r[i]) for r in rows_of_cells]) for i, c in enumerate(columns)]

    def line(cells):
        out = [cell.ljust(w) if i < 3 else cell.rjust(w) for i, (cell, w) in enumerate(zip(cells, widths))]
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(columns), rule] + [line(r) for r in rows_of_cells])


def geometric_mean(values):
    values = [x for x in values if x]
    if not values:
        return None
    return math.exp(sum(math.log(x) for x in values) / len(values))


# ---------------------------------------------------------------- saved runs


def save_json(path, rows, machine, settings, with_torch):
    """Write the table, the machine and the settings to ``path``."""
    doc = {
        "format": JSON_FORMAT,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "settings": settings,
        "columns": table_columns(with_torch),
        "rows": rows,
    }
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


def load_json(path):
    """Read a file written by ``--json``; a clear ValueError for anything else."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not a JSON file: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != JSON_FORMAT or not isinstance(doc.get("rows"), list):
        raise ValueError(f"{path} was not written by 'fastdnn bench --json' (no \"format\": \"{JSON_FORMAT}\")")
    return doc


def _row_key(row):
    return (tuple(row["shape"]), row["dtype"], int(row["m"]), row.get("precision", "float"))


def compare_rows(rows, saved_rows, tolerance=REGRESSION_TOLERANCE):
    """Match rows by (shape, dtype, m) and flag fastdnn times that grew by more than ``tolerance``.

    Returns
    -------
    list of dict
        One per current row found in ``saved_rows``: ``row``, ``saved_s``,
        ``now_s``, ``change`` (now / saved - 1) and ``regressed``.
    """
    saved = {_row_key(r): r for r in saved_rows}
    out = []
    for row in rows:
        old = saved.get(_row_key(row))
        if old is None or not old.get("fastdnn_s"):
            continue
        change = row["fastdnn_s"] / old["fastdnn_s"] - 1.0
        out.append({"row": row, "saved_s": old["fastdnn_s"], "now_s": row["fastdnn_s"], "change": change,
                    "regressed": change > tolerance})
    return out


def format_comparison(matches, tolerance):
    columns = ["shape", "dtype", "m", "saved fastdnn ms", "now fastdnn ms", "change", "verdict"]
    cells = []
    for c in matches:
        r = c["row"]
        verdict = f"REGRESSED (> {tolerance:.0%})" if c["regressed"] else "ok"
        cells.append([",".join(str(n) for n in r["shape"]), r["dtype"], str(r["m"]), _ms(c["saved_s"]),
                      _ms(c["now_s"]), f"{c['change']:+.1%}", verdict])
    return format_table(columns, cells)


# ---------------------------------------------------------------- the plot


def _require_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(PLOT_HINT) from None


def plot(rows, path, machine=None):
    """Bar chart of how many times faster fastdnn is than each other implementation.

    One group of bars per row of the table: reference / fastdnn, torch /
    fastdnn (when measured) and bound / fastdnn (at most 1: the bound does
    only the products).  Saved to ``path``.
    """
    _require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = [f"{','.join(str(n) for n in r['shape'])}\n{r['dtype']} m={r['m']}" for r in rows]
    series = [("reference / fastdnn", [r["reference_s"] / r["fastdnn_s"] for r in rows])]
    if any(r["torch_s"] for r in rows):
        series.append(("torch / fastdnn", [(r["torch_s"] or 0.0) / r["fastdnn_s"] for r in rows]))
    series.append(("bound / fastdnn", [r["bound_s"] / r["fastdnn_s"] for r in rows]))

    fig = Figure(figsize=(max(6.0, 1.3 * len(rows) + 2.0), 4.8))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / len(series)
    x = np.arange(len(rows))
    for k, (name, values) in enumerate(series):
        bars = ax.bar(x + (k - (len(series) - 1) / 2) * width, values, width, label=name)
        ax.bar_label(bars, labels=[f"{v:.2f}" if v else "" for v in values], fontsize=7, padding=1)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(x)
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_ylabel("other time / fastdnn time (> 1: fastdnn faster)")
    title = "fastdnn training step"
    if machine:
        title += f" -- {machine['cpu_model']}, {machine['nproc']} cores"
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


# ---------------------------------------------------------------- the command


def _parse_shapes(text):
    shapes = []
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        try:
            dims = tuple(int(x) for x in part.replace(" ", "").split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"--shapes takes layer sizes like '784,256,256,1;64,64,64,1', got {part!r}") from None
        if len(dims) < 2 or min(dims) < 1:
            raise argparse.ArgumentTypeError(f"--shapes: {part!r} must list at least two positive layer sizes")
        shapes.append(dims)
    if not shapes:
        raise argparse.ArgumentTypeError("--shapes is empty")
    return shapes


def _parse_ints(text):
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas, got {text!r}")
    return values


def _parse_dtypes(text):
    names = [x.strip() for x in text.split(",") if x.strip()]
    for name in names:
        if name not in ("float32", "float64"):
            raise argparse.ArgumentTypeError(f"--dtype takes float32 and/or float64, got {name!r}")
    if not names:
        raise argparse.ArgumentTypeError("--dtype is empty")
    return names


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_arguments(parser):
    """Options of ``fastdnn bench``."""
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="full", action="store_false", default=False,
                      help="small batches (m=%s, the course's shape at m=%d) and %d repeats: about a minute "
                           "(the default)" % (",".join(map(str, QUICK_M)), COURSE_M, QUICK_REPEATS))
    size.add_argument("--full", dest="full", action="store_true",
                      help="SPEC section 3's batches, m=%s (the course's shape at m=%d), %d repeats: long" %
                           (",".join(map(str, FULL_M)), COURSE_M, FULL_REPEATS))
    parser.add_argument("--shapes", type=_parse_shapes, default=None, metavar="DIMS;DIMS",
                        help="layer sizes, e.g. '784,256,256,1;64,64,64,1' (default: SPEC section 3's four shapes)")
    parser.add_argument("--m", type=_parse_ints, default=None, metavar="M[,M]",
                        help="batch size(s) for every shape (default: see --quick / --full)")
    parser.add_argument("--dtype", type=_parse_dtypes, default=["float64", "float32"], metavar="DTYPES",
                        help="float64, float32 or both, comma-separated (default: float64,float32)")
    parser.add_argument("--precision", choices=("float", "bf16", "auto"), default="float",
                        help="fastdnn's products: bf16 multiplies bfloat16 operands (float32 networks, needs "
                             "pip install 'fastdnn[mkl]'); PyTorch then runs under autocast(bfloat16) and the "
                             "bound is the bf16 products alone (default: float)")
    parser.add_argument("--repeats", type=_positive_int, default=None, metavar="N",
                        help="timed samples per implementation (default: %d quick, %d full)" %
                             (QUICK_REPEATS, FULL_REPEATS))
    parser.add_argument("--json", default=None, metavar="FILE", help="save the table and the machine to FILE")
    parser.add_argument("--compare", default=None, metavar="FILE",
                        help="compare with a saved --json run; exit status 1 if a fastdnn time grew by more "
                             "than %d%%%%" % round(REGRESSION_TOLERANCE * 100))  # argparse %-formats help once more
    parser.add_argument("--plot", default=None, metavar="FILE.png",
                        help="draw the speedups as a bar chart (needs matplotlib: pip install 'fastdnn[plot]')")
    parser.add_argument("--from", dest="from_json", default=None, metavar="FILE",
                        help="with --plot: draw a run saved by --json instead of running the benchmark")
    parser.add_argument("--no-torch", dest="torch", action="store_false",
                        help="leave PyTorch out even when it is installed")
    parser.add_argument("--course", action="store_true",
                        help="instead: the course's own loops (L-layer, two-layer, week 2, week 3) as students "
                             "write them, on fastdnn's helpers and on the reference's")
    parser.add_argument("--short", action="store_true",
                        help="with --course: short runs of 20 iterations amid NumPy work (a product of the "
                             "student's size between every two iterations, no pause), as in a notebook")
    parser.add_argument("--cold", action="store_true",
                        help="instead: each case's first step in a fresh process from an empty Numba cache, "
                             "then on the cache it filled (what a new user's first call costs)")
    parser.add_argument("--data", default=None, metavar="DIR",
                        help="with --course: the folder of the cat data (train_catvnoncat.h5); default "
                             "$FASTDNN_DATA, else ../shared/data")


def _cases(args):
    shapes = args.shapes or [tuple(s) for s in SPEC_SHAPES]
    default_m = FULL_M if args.full else QUICK_M
    cases = []
    for shape in shapes:
        if args.m is not None:
            batch_sizes = args.m
        elif tuple(shape) == COURSE_SHAPE:
            batch_sizes = [COURSE_M]
        else:
            batch_sizes = default_m
        for m in batch_sizes:
            for dtype in args.dtype:
                cases.append((tuple(shape), int(m), dtype))
    return cases


def _err(message):
    print(message, file=sys.stderr, flush=True)


def run(args):
    """Run ``fastdnn bench``; returns the exit status (1 when ``--compare`` finds a regression)."""
    warning = slow_blas_warning()
    if warning:
        _err(warning)
    if getattr(args, "course", False):
        from . import bench_course

        return bench_course.run(args)
    if getattr(args, "cold", False):
        from . import bench_cold

        return bench_cold.run(_cases(args), args.json)
    # The steps timed are the compiled routes': a cold cache must not time the first use's NumPy steps.
    from . import options

    with options(first_use_seconds=0):
        return _run_steps(args)


def _run_steps(args):
    if getattr(args, "from_json", None):
        return plot_saved(args.from_json, args.plot)
    sample = cpu_sample()
    time.sleep(0.2)
    run_sample = cpu_sample()
    busy_before = other_cores_busy(sample, run_sample)
    warning = busy_machine_warning(busy_before)
    if warning:
        _err(warning)
    if args.plot:
        try:
            _require_matplotlib()
        except ImportError as exc:
            _err(f"fastdnn bench: {exc}")
            return 2
    saved = None
    if args.compare:
        try:
            saved = load_json(args.compare)
        except (OSError, ValueError) as exc:
            _err(f"fastdnn bench: --compare: {exc}")
            return 2

    precision = getattr(args, "precision", "float")
    if precision != "float":
        from . import precision as precision_mod

        if precision == "bf16" and "float64" in args.dtype:
            if args.dtype != ["float64", "float32"]:  # asked for, not the default
                _err("fastdnn bench: --precision bf16 keeps float32 networks: leave out --dtype float64")
                return 2
            args.dtype = ["float32"]
        try:
            precision_mod.choose(precision, np.float32)
        except ImportError as exc:
            _err(f"fastdnn bench: {exc}")
            return 2
    torch_module = None
    if args.torch:
        try:
            import torch as torch_module
        except ImportError:
            _err("note: PyTorch is not installed, so its column is left out "
                 "(pip install 'fastdnn[torch]' for a CPU build)")
    with_torch = torch_module is not None
    repeats = args.repeats or (FULL_REPEATS if args.full else QUICK_REPEATS)
    cases = _cases(args)

    rows = []
    started = time.perf_counter()
    for k, (shape, m, dtype) in enumerate(cases, start=1):
        _err(f"[{k}/{len(cases)}] timing {','.join(map(str, shape))} {dtype} m={m} ...")
        case_sample = cpu_sample()
        row = run_case(shape, m, dtype, repeats, with_torch, precision=precision)
        row["other_cores_busy"] = other_cores_busy(case_sample, cpu_sample())
        if not row["costs_agree"]:
            _err(f"warning: first-step costs differ: reference {row['first_cost']['reference']!r}, "
                 f"fastdnn {row['first_cost']['fastdnn']!r}")
        rows.append(row)
    elapsed = time.perf_counter() - started
    busy_during = other_cores_busy(run_sample, cpu_sample())
    warning = busy_machine_warning(busy_during, "while the benchmark ran")
    if warning:
        _err(warning)

    machine = machine_info(torch_module)
    machine["other_cores_busy"] = {"before": busy_before, "during": busy_during}
    print_report(rows, machine, repeats, with_torch, elapsed)

    settings = {"mode": "full" if args.full else "quick", "repeats": repeats, "sample_seconds": SAMPLE_SECONDS,
                "learning_rate": LEARNING_RATE, "torch": with_torch, "dtypes": list(args.dtype),
                "shapes": [list(s) for s in args.shapes] if args.shapes else None, "m": args.m,
                "precision": precision}
    if args.json:
        save_json(args.json, rows, machine, settings, with_torch)
        print(f"saved {args.json}")
    if args.plot:
        plot(rows, args.plot, machine)
        print(f"saved {args.plot}")
    if saved is not None:
        return report_comparison(rows, saved, args.compare, machine)
    return 0


def plot_saved(path, out):
    """``--plot OUT --from PATH``: draw a saved run without running anything; returns the exit status."""
    if not out:
        _err("fastdnn bench: --from draws a saved run: give --plot FILE.png too")
        return 2
    try:
        _require_matplotlib()
        doc = load_json(path)
    except (ImportError, OSError, ValueError) as exc:
        _err(f"fastdnn bench: {exc}")
        return 2
    plot(doc["rows"], out, doc.get("machine"))
    print(f"saved {out} (from {path}, run {doc.get('created', 'at an unknown time')})")
    return 0


def print_report(rows, machine, repeats, with_torch, elapsed):
    """Print the machine line, the table of ``rows``, the geometric means and how to read them."""
    print(machine_line(machine))
    print(f"median seconds per training step (forward, cost, backward, SGD update) over {repeats} interleaved "
          f"samples; speedup = reference / fastdnn; bound = the step's matrix products alone")
    cells = [table_cells(r, with_torch) for r in rows]
    print(format_table(table_columns(with_torch), cells))
    summary = f"geometric mean speedup over the reference: {geometric_mean([r['speedup'] for r in rows]):.2f}x"
    if with_torch:
        summary += f"; fastdnn/torch: {geometric_mean([r['fastdnn_over_torch'] for r in rows]):.2f}"
    summary += f"; fastdnn/bound: {geometric_mean([r['fastdnn_over_bound'] for r in rows]):.2f}"
    print(summary)
    if any(r.get("precision") == "bf16" for r in rows):
        print("+bf16: fastdnn multiplies bfloat16 operands (sums in float32), PyTorch runs under "
              "autocast(bfloat16), and the bound is the bf16 products alone (MKL's)")
    print(f"first call (compile) s: fastdnn's first step of the row, which includes Numba's compile (or its cache "
          f"load) the first time a dtype is used; others busy: cores other processes used while the row was timed "
          f"('!': half a core or more, so that row is noisy); whole run {elapsed:.1f} s")


def report_comparison(rows, saved, path, machine):
    """Print how ``rows`` compare with a saved run; returns 1 when a row regressed beyond the tolerance."""
    matches = compare_rows(rows, saved["rows"])
    print(f"\ncompared with {path} (saved {saved.get('created', '?')}):")
    if saved.get("machine", {}).get("cpu_model") not in (None, machine["cpu_model"]):
        print(f"note: that run was on another CPU ({saved['machine']['cpu_model']})")
    if not matches:
        print("no row of this run is in the saved file (match by shape, dtype and m): nothing compared")
        return 0
    print(format_comparison(matches, REGRESSION_TOLERANCE))
    regressed = [c for c in matches if c["regressed"]]
    if regressed:
        print(f"{len(regressed)} of {len(matches)} rows regressed by more than {REGRESSION_TOLERANCE:.0%}")
        return 1
    print(f"no regression beyond {REGRESSION_TOLERANCE:.0%} in {len(matches)} rows")
    return 0



