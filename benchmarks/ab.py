"""Side-by-side timing of two fastdnn trees: is the new one no slower than the base?

Usage::

    python benchmarks/ab.py BASE_REF [--rounds N] [--groups trainer,digits,course,quick]
                            [--new-ref REF] [--repeats N] [--quick-repeats N] [--json FILE]

    python benchmarks/ab.py HEAD                  # the committed tree vs. the edited working tree
    python benchmarks/ab.py HEAD~1 --new-ref HEAD # two commits
    python benchmarks/ab.py HEAD --groups trainer,digits --rounds 5 --json ab.json

BASE_REF is checked out with ``git worktree add --detach`` in a temporary
folder (removed at exit, Ctrl-C included).  The "new" tree is the working
tree of the repository this script lives in, uncommitted changes included,
or a second worktree of ``--new-ref``.

Each measurement runs in a fresh subprocess of this interpreter with
``PYTHONPATH`` set to the tree's root (each subprocess reports
``fastdnn.__file__`` and the harness checks it lies in that tree).  Each tree
has its own ``NUMBA_CACHE_DIR``, and one untimed warm-up run per tree and
group fills it first, so no timed run pays for Numba's compile.  Rounds are
interleaved -- base then new, then new then base, and so on -- so that a slow
spell of the (shared, noisy) machine lands on both trees alike.

Groups (the defaults take about 10 minutes on 2 cores with --rounds 3):

* ``trainer`` -- a mini-batch Adam epoch of a [784, 256, 256, 10] softmax
  network in float32 at batch 4096 (16384 examples) and at batch 128 (4096
  examples); on cat-shaped random data ([12288, 20, 7, 5, 1], m=209,
  float64) one ``Network.train_step`` and one full-batch Adam ``fit`` epoch.
* ``digits`` -- ``fastdnn.MLPClassifier`` fit on scikit-learn's digits.
* ``course`` -- the course's loops as students write them
  (``fastdnn.student_loops``) and ``fastdnn.L_layer_model``, on the cat data
  when ``$FASTDNN_DATA`` or ``../shared/data`` (next to the repository)
  holds ``train_catvnoncat.h5``; skipped otherwise.
* ``quick`` -- the fastdnn column of ``python -m fastdnn bench --quick
  --no-torch --json FILE`` (with ``--repeats`` from ``--quick-repeats``).

A row's time is the median over the rounds of each run's own median.  The
table gives both medians, new/base, the range of the per-round new/base
ratios (a quick look at the noise) and flags new/base above 1.05, and
"rounds disagree" when the per-round ratios lie more than 10 % apart (noise:
rerun with more rounds).  The exit status is 0 unless something failed: this measures, it does not gate.
"""

import argparse
import atexit
import concurrent.futures
import datetime
import hashlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
GROUPS = ("trainer", "digits", "course", "quick")
SLOWER = 1.05
#: Per-round new/base ratios further apart than this factor mark the row as noisy.
DISAGREE = 1.10
#: Set in the environment, these make NumPy's OpenBLAS pick slower kernels.
SLOW_BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
JSON_FORMAT = "fastdnn-ab/1"

# The timing script of the trainer, digits and course groups.  It runs inside
# each tree, so it may use only the public API both trees have; it prints one
# JSON object per line: {"file": ...} first, then {"row", "seconds", "check"}.
GROUP_SCRIPT = r'''
import json, math, os, statistics, sys, time, warnings
import numpy as np
# Timed steps are the compiled routes', also on a cold cache (not a first use's NumPy steps, fastdnn.plan.first_use).
os.environ.setdefault("FASTDNN_FIRST_USE_SECONDS", "0")

import fastdnn

print(json.dumps({"file": fastdnn.__file__}), flush=True)
group, repeats, data_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
MIN_SAMPLE = 0.2  # a sample repeats a short call this long at least


def emit(row, fn, per=1):
    """Time fn: 2 untimed calls, then `repeats` back-to-back samples; print the median per call / per."""
    time.sleep(0.3)  # OpenBLAS threads of the previous row spin ~0.1 s: let them stop
    check = fn()  # the first call loads the kernels (compiles if the cache is stale): not timed
    start = time.perf_counter()
    fn()
    one = time.perf_counter() - start
    calls = max(1, math.ceil(MIN_SAMPLE / max(one, 1e-9)))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls / per)
    try:
        check = float(np.asarray(check, dtype=float).ravel()[0])
    except Exception:
        check = None
    print(json.dumps({"row": row, "seconds": statistics.median(samples), "check": check}), flush=True)


def cat_like(rng):
    """Random images in the layout of the cat set: X (12288, 209) in [0, 1], Y (1, 209) of 0/1."""
    X = rng.integers(0, 256, size=(209, 64 * 64 * 3)).T / 255.0
    Y = (rng.random((1, 209)) < 0.34).astype(np.float64)
    return np.ascontiguousarray(X), Y


if group == "trainer":
    from fastdnn import Network

    dims = [784, 256, 256, 10]
    for batch, m in ((4096, 16384), (128, 4096)):
        rng = np.random.default_rng(0)
        X_rows = rng.standard_normal((m, dims[0])).astype(np.float32)  # one example per row, read via .T
        labels = rng.integers(0, dims[-1], m)
        net = Network(dims, output="softmax", dtype=np.float32, init="he", seed=0)
        emit(f"trainer epoch 784,256,256,10 f32 b={batch} m={m} adam (per epoch)",
             lambda: net.fit(X_rows.T, labels, epochs=1, batch_size=batch, optimizer="adam",
                             learning_rate=1e-3, progress=False)["cost"][0])
        del X_rows, net
    X, Y = cat_like(np.random.default_rng(1))
    dims = [12288, 20, 7, 5, 1]
    net = Network(dims, dtype=np.float64, seed=1)
    emit("trainer cat train_step 12288,20,7,5,1 f64 m=209 (per step)", lambda: net.train_step(X, Y, 0.0075))
    net = Network(dims, dtype=np.float64, seed=1)
    emit("trainer cat fit() 1 full-batch adam epoch f64 m=209 (per fit)",
         lambda: net.fit(X, Y, epochs=1, optimizer="adam", learning_rate=1e-3, progress=False)["cost"][0])

elif group == "digits":
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from fastdnn import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    # n_iter_no_change = max_iter: every fit runs exactly max_iter epochs.
    params = dict(hidden_layer_sizes=(64,), solver="adam", batch_size=200, max_iter=30, n_iter_no_change=30,
                  random_state=0)
    warnings.simplefilter("ignore", ConvergenceWarning)
    for name, data in (("f64", X), ("f32", X.astype(np.float32))):
        emit(f"digits MLPClassifier (64,) adam b=200 30 epochs {name} data (per fit)",
             lambda: MLPClassifier(**params).fit(data, y).score(data, y))

elif group == "course":
    from fastdnn import course, logistic, planar, student_loops

    train_x_orig, train_y, _, _, _ = fastdnn.load_catvnoncat(data_dir)
    X = train_x_orig.reshape(train_x_orig.shape[0], -1).T / 255.0  # the course's way: F-ordered
    Y = train_y
    Xp, Yp = fastdnn.load_planar_dataset()
    loops = (
        ("course L-layer loop 12288,20,7,5,1", 10,
         lambda n: student_loops.L_layer_loop(course, X, Y, [12288, 20, 7, 5, 1], num_iterations=n)[1]),
        ("course two-layer loop 12288,7,1", 10,
         lambda n: student_loops.two_layer_loop(course, X, Y, (12288, 7, 1), num_iterations=n)[1]),
        ("course week 2 optimize loop", 50,
         lambda n: student_loops.optimize_loop(logistic, np.zeros((X.shape[0], 1)), 0.0, X, Y,
                                               num_iterations=n)[2]),
        ("course week 3 planar loop n_h=4", 200,
         lambda n: student_loops.planar_loop(planar, Xp, Yp, 4, num_iterations=n)[1]),
        ("course L_layer_model 12288,20,7,5,1", 10,
         lambda n: fastdnn.L_layer_model(X, Y, [12288, 20, 7, 5, 1], num_iterations=n, return_costs=True)[1]),
    )
    for name, n, call in loops:
        emit(f"{name} (per iteration)", lambda: call(n), per=n)
else:
    sys.exit(f"unknown group {group!r}")
'''

# Run in each tree first: where fastdnn comes from and what it runs on.
PROBE_SCRIPT = r'''
import importlib.util, json, os
import numpy, numba
import fastdnn
info = {"file": fastdnn.__file__, "numpy": numpy.__version__, "numba": numba.__version__,
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "sklearn": importlib.util.find_spec("sklearn") is not None, "blas": None}
try:
    import threadpoolctl
    info["blas"] = [{k: d.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
                    | {"from": os.path.basename(os.path.dirname(d.get("filepath") or ""))}
                    for d in threadpoolctl.threadpool_info() if d.get("user_api") == "blas"]
except ImportError:
    pass
print(json.dumps(info))
'''


#: Subprocesses running now (the warm-ups run two at once): killed before the worktrees go.
RUNNING = set()


class HarnessError(RuntimeError):
    pass


def git(*args, cwd=REPO):
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise HarnessError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.rstrip()  # not strip(): porcelain lines may start with a space


def package_digest(root):
    """SHA-1 of fastdnn's .py files in a tree: tells whether the live working tree changed under us."""
    sha = hashlib.sha1()
    package = Path(root) / "fastdnn"
    for path in sorted(package.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        sha.update(str(path.relative_to(package)).encode() + b"\0")
        try:
            sha.update(path.read_bytes())
        except OSError:  # deleted while we walked: that is a change too
            sha.update(b"<gone>")
    return sha.hexdigest()


# ---------------------------------------------------------------- the trees


class Tree:
    """One side of the comparison: a source tree, its own Numba cache and its own clean working folder."""

    def __init__(self, label, root, ref, commit, dirty, workdir):
        self.label = label
        self.root = Path(root).resolve()
        self.ref = ref
        self.commit = commit
        self.dirty = dirty
        self.cwd = workdir / f"{label}-cwd"  # empty: nothing importable in the subprocess's cwd
        self.cwd.mkdir()
        self.env = dict(os.environ)
        for key in SLOW_BLAS_ENV:
            self.env.pop(key, None)
        self.env.pop("PYTHONHOME", None)
        self.env.update({
            "PYTHONPATH": str(self.root),
            "NUMBA_CACHE_DIR": str(workdir / f"{label}-numba-cache"),
            # Bytecode goes to the temp folder too: the working tree is somebody's desk.
            "PYTHONPYCACHEPREFIX": str(workdir / f"{label}-pycache"),
        })
        self.digest = package_digest(self.root)

    def describe(self):
        text = f"{self.commit[:12]} ({self.ref})" if self.ref else f"{self.commit[:12]} (HEAD of {self.root})"
        if self.dirty:
            shown = ", ".join(self.dirty[:6]) + (", ..." if len(self.dirty) > 6 else "")
            text += f" + uncommitted changes ({len(self.dirty)} files: {shown})"
        return f"{text}  [{self.root}]"

    def run(self, args, what, timeout=1800):
        """Run this interpreter with the tree on PYTHONPATH; returns stdout, raises with stderr on failure."""
        process = subprocess.Popen([sys.executable, *args], cwd=self.cwd, env=self.env, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        RUNNING.add(process)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise HarnessError(f"{self.label} tree: {what} took more than {timeout} s") from None
        finally:
            if process.poll() is None:  # timeout, Ctrl-C: do not leave it running in a removed worktree
                process.kill()
                process.wait()
            RUNNING.discard(process)
        if process.returncode != 0:
            tail = "\n".join((stderr or stdout).strip().splitlines()[-25:])
            raise HarnessError(f"{self.label} tree: {what} failed (exit status {process.returncode}):\n{tail}")
        return stdout

    def check_file(self, file):
        path = Path(file).resolve()
        if self.root not in path.parents:
            raise HarnessError(f"{self.label} tree: imported fastdnn from {path}, not from {self.root}: "
                               f"the comparison would be meaningless")


def make_worktree(ref, path):
    commit = git("rev-parse", "--verify", f"{ref}^{{commit}}")
    git("worktree", "add", "--detach", str(path), commit)
    return commit


def remove_worktree(path):
    done = subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=REPO, capture_output=True,
                          text=True)
    if done.returncode != 0:
        print(f"note: git worktree remove {path}: {done.stderr.strip()}", file=sys.stderr)
        subprocess.run(["git", "worktree", "prune"], cwd=REPO, capture_output=True)


# ---------------------------------------------------------------- load of other processes


def cpu_jiffies():
    """(busy jiffies of the machine, total jiffies, number of CPUs), or None without /proc."""
    try:
        with open("/proc/stat") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    values = [int(x) for x in lines[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    ncpu = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    return total - idle, total, max(ncpu, 1)


def children_cpu_seconds():
    times = os.times()
    return times.children_user + times.children_system


def others_busy(before, after, child_cpu, elapsed):
    """Cores kept busy by processes other than our subprocess during a measurement, or None."""
    if before is None or after is None or after[1] <= before[1] or elapsed <= 0:
        return None
    busy_cores = (after[0] - before[0]) / (after[1] - before[1]) * after[2]
    return max(0.0, busy_cores - child_cpu / elapsed)


# ---------------------------------------------------------------- one measurement


def run_group(tree, group, workdir, settings, warm_up=False):
    """Run one group in one tree; returns {row: (seconds, check)} and the other processes' load."""
    before, cpu0, t0 = cpu_jiffies(), children_cpu_seconds(), time.perf_counter()
    if group == "quick":
        out_json = workdir / f"{tree.label}-quick.json"
        repeats = 1 if warm_up else settings["quick_repeats"]
        tree.run(["-m", "fastdnn", "bench", "--quick", "--no-torch", "--repeats", str(repeats), "--json",
                  str(out_json)], "fastdnn bench --quick")
        with open(out_json) as f:
            doc = json.load(f)
        rows = {}
        for r in doc["rows"]:
            name = f"quick {','.join(map(str, r['shape']))} {r['dtype']} m={r['m']} (per step)"
            rows[name] = (r["fastdnn_s"], None)
    else:
        script = workdir / "ab_groups.py"
        repeats = 1 if warm_up else settings["repeats"]
        out = tree.run([str(script), group, str(repeats), str(settings["data_dir"])], f"group {group}")
        rows = {}
        seen_file = False
        for line in out.splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            doc = json.loads(line)
            if "file" in doc:
                tree.check_file(doc["file"])
                seen_file = True
            else:
                rows[doc["row"]] = (doc["seconds"], doc.get("check"))
        if not seen_file:
            raise HarnessError(f"{tree.label} tree: group {group} did not report fastdnn.__file__")
    elapsed = time.perf_counter() - t0
    busy = others_busy(before, cpu_jiffies(), children_cpu_seconds() - cpu0, elapsed)
    return rows, busy, elapsed


# ---------------------------------------------------------------- report


def ms(seconds):
    if seconds is None:
        return "-"
    value = seconds * 1e3
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def format_table(columns, rows):
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]

    def line(cells):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(columns), "  ".join("-" * w for w in widths)] + [line(r) for r in rows])


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def summarize(results, order):
    """Per row: the medians, new/base, the per-round ratios and whether new is slower by more than 5 %."""
    summary = []
    for name in order:
        base = results[name]["base"]
        new = results[name]["new"]
        if not base or not new:
            continue
        base_median, new_median = statistics.median(base), statistics.median(new)
        ratio = new_median / base_median
        paired = [n / b for b, n in zip(base, new)]
        summary.append({"row": name, "group": results[name]["group"], "base_s": base, "new_s": new,
                        "base_median_s": base_median, "new_median_s": new_median, "new_over_base": ratio,
                        "round_ratios": paired, "slower": ratio > SLOWER,
                        "check": {"base": results[name]["check_base"], "new": results[name]["check_new"]}})
    return summary


# ---------------------------------------------------------------- main


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base_ref", metavar="BASE_REF", help="the commit to compare against, e.g. HEAD or HEAD~1")
    parser.add_argument("--new-ref", default=None, metavar="REF",
                        help="compare with this commit instead of the working tree")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per tree and group (default 3)")
    parser.add_argument("--groups", default=",".join(GROUPS),
                        help=f"comma-separated, from {','.join(GROUPS)} (default: all)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed samples per row inside one run of trainer/digits/course (default 5)")
    parser.add_argument("--quick-repeats", type=int, default=3,
                        help="--repeats passed to 'fastdnn bench --quick' (default 3; the CLI's own is 5)")
    parser.add_argument("--json", default=None, metavar="FILE", help="save the results to FILE")
    args = parser.parse_args(argv)
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    unknown = [g for g in groups if g not in GROUPS]
    if unknown or not groups:
        parser.error(f"--groups: unknown {unknown}; choose from {','.join(GROUPS)}")
    if args.rounds < 1 or args.repeats < 1 or args.quick_repeats < 1:
        parser.error("--rounds, --repeats and --quick-repeats must be at least 1")
    args.groups = [g for g in GROUPS if g in groups]
    return args


def on_signal(signum, frame):
    # Ctrl-C, SIGTERM, SIGHUP: stop our subprocesses (a warm-up thread waits on one), then unwind so
    # that the finally blocks remove the worktrees.
    for process in list(RUNNING):
        process.kill()
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv=None):
    args = parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="fastdnn-ab-"))
    worktrees = []

    def cleanup():
        for process in list(RUNNING):
            process.kill()
            process.wait()
        for path in worktrees:
            remove_worktree(path)
        worktrees.clear()
        shutil.rmtree(workdir, ignore_errors=True)

    atexit.register(cleanup)  # also when something below raises
    try:
        return compare(args, workdir, worktrees, started)
    except HarnessError as exc:
        print(f"\nab.py: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nab.py: interrupted; removing the worktrees", file=sys.stderr)
        return 130
    finally:
        cleanup()


def compare(args, workdir, worktrees, started):
    # The trees.
    base_path = workdir / "base"
    base_commit = make_worktree(args.base_ref, base_path)
    worktrees.append(base_path)
    base = Tree("base", base_path, args.base_ref, base_commit, [], workdir)
    if args.new_ref:
        new_path = workdir / "new"
        new_commit = make_worktree(args.new_ref, new_path)
        worktrees.append(new_path)
        new = Tree("new", new_path, args.new_ref, new_commit, [], workdir)
    else:
        status = git("status", "--porcelain", "--untracked-files=normal")
        dirty = [line[3:] for line in status.splitlines()]
        new = Tree("new", REPO, None, git("rev-parse", "HEAD"), dirty, workdir)
    trees = (base, new)
    live = args.new_ref is None  # the working tree may change while we measure

    # Where fastdnn comes from, and the machine.
    probes = {}
    for tree in trees:
        probes[tree.label] = json.loads(tree.run(["-c", PROBE_SCRIPT], "import fastdnn").strip().splitlines()[-1])
        tree.check_file(probes[tree.label]["file"])
    probe = probes["new"]
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    blas = "; ".join(f"{b['internal_api']} {b['version']} ({b['from']}, {b['architecture']}, "
                     f"{b['num_threads']} threads)" for b in probe["blas"] or []) or "not seen (no threadpoolctl)"
    print(f"machine: {cpu_model()}, {nproc} of {os.cpu_count()} cores; python {platform.python_version()}; "
          f"numpy {probe['numpy']}; numba {probe['numba']} ({probe['numba_threads']} threads); BLAS {blas}")
    print(f"base: {base.describe()}")
    print(f"new:  {new.describe()}")
    if base.commit == new.commit and not new.dirty:
        print("note: base and new are the same code: an A/A run, any difference is noise")
    unset = [k for k in SLOW_BLAS_ENV if k in os.environ]
    if unset:
        print(f"note: {' '.join(f'{k}={os.environ[k]}' for k in unset)} is set here; unset in the benchmark "
              f"subprocesses (it makes NumPy's OpenBLAS pick slower kernels)")

    # Which groups can run.
    data_dir = Path(os.environ.get("FASTDNN_DATA") or REPO.parent / "shared" / "data").resolve()
    groups = list(args.groups)
    if "course" in groups and not (data_dir / "train_catvnoncat.h5").exists():
        print(f"course: skipped (no train_catvnoncat.h5 in {data_dir})")
        groups.remove("course")
    if "digits" in groups and not all(p["sklearn"] for p in probes.values()):
        print("digits: skipped (scikit-learn is not installed)")
        groups.remove("digits")
    if not groups:
        raise HarnessError("no group left to run")
    (workdir / "ab_groups.py").write_text(GROUP_SCRIPT)
    settings = {"rounds": args.rounds, "repeats": args.repeats, "quick_repeats": args.quick_repeats,
                "data_dir": str(data_dir), "groups": groups}

    # Warm-up: one untimed run per tree and group fills each tree's Numba cache.  Nothing is timed
    # here, so the two trees warm up at once (compiling is single-threaded: it halves the wait).
    def warm_up(tree):
        for group in groups:
            _, _, elapsed = run_group(tree, group, workdir, settings, warm_up=True)
            print(f"[warm-up] {group} in {tree.label}: {elapsed:.0f} s", file=sys.stderr, flush=True)

    print(f"[warm-up] {', '.join(groups)} in both trees at once ...", file=sys.stderr, flush=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(warm_up, tree) for tree in trees]
        try:
            for future in futures:
                future.result()
        except BaseException:
            for process in list(RUNNING):  # one side failed: do not wait for the other to finish
                process.kill()
            raise

    # Timed rounds, interleaved; the order flips every round so drift hurts both alike.
    results, order, busy = {}, [], {g: [] for g in groups}
    changed_rounds = []
    for r in range(args.rounds):
        pair = trees if r % 2 == 0 else trees[::-1]
        for group in groups:
            for tree in pair:
                if live and tree is new and package_digest(new.root) != new.digest:
                    changed_rounds.append(r + 1)
                    new.digest = package_digest(new.root)
                rows, others, elapsed = run_group(tree, group, workdir, settings)
                if others is not None:
                    busy[group].append(others)
                print(f"[round {r + 1}/{args.rounds}] {group} in {tree.label}: {elapsed:.0f} s"
                      + (f", other processes {others:.1f} cores" if others is not None else ""),
                      file=sys.stderr, flush=True)
                for name, (seconds, check) in rows.items():
                    if name not in results:
                        results[name] = {"group": group, "base": [], "new": [], "check_base": None,
                                         "check_new": None}
                        order.append(name)
                    results[name][tree.label].append(seconds)
                    results[name][f"check_{tree.label}"] = check

    if live and package_digest(new.root) != new.digest:
        changed_rounds.append(args.rounds)

    # The table.
    summary = summarize(results, order)
    print(f"\nmedian over {args.rounds} interleaved rounds of each run's median ({args.repeats} samples a row; "
          f"quick: fastdnn bench --repeats {args.quick_repeats}); ms per epoch, step, fit or iteration "
          f"as the row says")
    columns = ["row", "base ms", "new ms", "new/base", "per-round new/base", "flag"]
    cells = []
    for s in summary:
        spread = f"{min(s['round_ratios']):.2f}..{max(s['round_ratios']):.2f}"
        flags = [f"SLOWER >{SLOWER - 1:.0%}"] if s["slower"] else []
        if max(s["round_ratios"]) > DISAGREE * min(s["round_ratios"]):
            flags.append("rounds disagree")  # one round says otherwise: noise, rerun with more rounds
        cells.append([s["row"], ms(s["base_median_s"]), ms(s["new_median_s"]), f"{s['new_over_base']:.3f}",
                      spread, ", ".join(flags)])
    print(format_table(columns, cells))
    for group in groups:
        if busy[group]:
            print(f"{group}: other processes kept {statistics.mean(busy[group]):.1f} cores busy on average "
                  f"(max {max(busy[group]):.1f}) while it ran" + (" -- noisy" if max(busy[group]) >= 0.5 else ""))
    for s in summary:
        b, n = s["check"]["base"], s["check"]["new"]
        if b is not None and n is not None and not np.isclose(b, n, rtol=1e-2, atol=1e-6):
            print(f"note: {s['row']}: the first call's result differs (base {b:.6g}, new {n:.6g}): "
                  f"check both trees do the same work")
    missing = [name for name in order if not results[name]["base"] or not results[name]["new"]]
    if missing:
        print(f"note: rows only one tree has (not compared): {', '.join(missing)}")
    if changed_rounds:
        print(f"warning: the working tree's fastdnn sources changed during the run (before round(s) "
              f"{sorted(set(changed_rounds))}): later rounds timed other code than the first")
    elapsed = time.perf_counter() - started
    print(f"whole run {elapsed:.0f} s")

    if args.json:
        doc = {"format": JSON_FORMAT,
               "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "machine": {"cpu_model": cpu_model(), "cores": os.cpu_count(), "nproc": nproc,
                           "python": platform.python_version(), **{k: probe[k] for k in
                                                                   ("numpy", "numba", "numba_threads", "blas")}},
               "base": {"ref": base.ref, "commit": base.commit},
               "new": {"ref": new.ref, "commit": new.commit, "uncommitted_files": new.dirty,
                       "changed_during_run": sorted(set(changed_rounds))},
               "settings": settings, "unset_env": unset, "others_busy": busy, "seconds": elapsed,
               "rows": summary}
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        print(f"saved {args.json}")
    slower = [s["row"] for s in summary if s["slower"]]
    print(f"slower than {SLOWER - 1:.0%} (new/base > {SLOWER}): " + (", ".join(slower) if slower else "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
