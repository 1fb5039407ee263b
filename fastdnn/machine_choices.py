"""Choices between two ways to compute the same thing, measured once on this machine and kept on disk.

Some routes win on one CPU and lose on another.  The course's narrow first
layer over its F-ordered ``X`` is the case in point: the one-pass skinny
kernels (:mod:`fastdnn.kernels.skinny`) ran 1.4-1.8x BLAS on an Intel Xeon,
whose 2 MB L2 holds a column of ``X`` between its two products, and lost on an
AMD EPYC (week 2: 0.92x against 1.14x with BLAS), whose 32 MB L3 holds all of
``X`` and lets OpenBLAS stream it at 120 GB/s (docs/course_helpers.md).  No
threshold serves both, so :func:`prefer` times the two ways side by side the
first time it is asked and writes the answer next to Numba's cache, under a
key naming the CPU, its caches, its core count and NumPy's BLAS.  Every later process on that
machine reads it: the route, and so the rounding of the results, is then the
same from run to run.

``FASTDNN_MACHINE_CHOICES=measure`` measures again (and rewrites the file);
a path there moves the file; ``off`` keeps every choice at its default
without measuring (the first way).
"""

import contextlib
import json
import os
import platform
import statistics
import threading
import time

#: The file's name, in the folder of Numba's cache of fastdnn's kernels.
FILE_NAME = "fastdnn-machine-choices.json"
FORMAT = "fastdnn-machine-choices/1"

#: The first way is kept unless the second measured at least this much faster.  Noise is not a reason
#: to move: the same loops measured 1.12x apart one way in one process and 1.18x the other way in the next.
MARGIN = 1.25

#: The choices fastdnn measures: name -> (the first way, the second way), as reports name them.
WAYS = {
    "skinny_layer": ("the skinny kernels", "BLAS"),
    "logistic_one_pass": ("the one-pass kernel", "two BLAS products"),
}

_lock = threading.Lock()
_answers: dict = {}
# The answers a measurement assumes while it times each way: this thread's only.
_assumed = threading.local()


def _after_fork_in_child():
    # A child forked while a thread measured would wait for its lock forever.
    global _lock, _assumed
    _lock = threading.Lock()
    _assumed = threading.local()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _setting():
    value = os.environ.get("FASTDNN_MACHINE_CHOICES", "").strip()
    if value.lower() in ("off", "0", "no", "false"):
        return "off"
    if value.lower() == "measure":
        return "measure"
    return value


def cpu_model():
    """The CPU's model name (Linux's ``/proc/cpuinfo``, else what ``platform`` knows)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _caches():
    # The sizes of the caches (Linux): what decides between one pass over X and two.
    sizes = []
    for index in range(4):
        folder = f"/sys/devices/system/cpu/cpu0/cache/index{index}"
        try:
            with open(os.path.join(folder, "level")) as f:
                level = f.read().strip()
            with open(os.path.join(folder, "size")) as f:
                size = f.read().strip()
            with open(os.path.join(folder, "type")) as f:
                kind = f.read().strip()
        except OSError:
            continue
        if kind != "Instruction":
            sizes.append(f"L{level} {size}")
    return ", ".join(sizes) or "caches unknown"


def machine_key():
    """What a measured choice depends on: the CPU model and its caches, the cores this process may use, NumPy's BLAS."""
    import numpy as np

    from . import config, threads

    # NumPy's own BLAS (threadpoolctl lists every BLAS loaded, in an order that varies).
    blas = threads.numpy_blas_build() or "unknown BLAS"
    return f"{cpu_model()} ({_caches()}) | {config.cores_available()} cores | numpy {np.__version__} | {blas}"


def path():
    """The file the choices are kept in (``FASTDNN_MACHINE_CHOICES`` may name another)."""
    setting = _setting()
    if setting not in ("", "measure", "off"):
        return setting
    from .warmup import cache_location

    folder = cache_location()
    if folder == "unknown" or not os.path.isdir(folder):
        folder = os.path.join(os.path.expanduser("~"), ".cache", "fastdnn")
    return os.path.join(folder, FILE_NAME)


def _read(file):
    try:
        with open(file) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("machines"), dict):
        return {}
    # Only well-formed entries: anything else is measured again (and written over).
    machines = {}
    for key, choices in doc["machines"].items():
        if isinstance(choices, dict):
            machines[key] = {name: c for name, c in choices.items() if _well_formed(c)}
    return machines


def _well_formed(choice):
    return (isinstance(choice, dict) and isinstance(choice.get("first"), bool)
            and all(isinstance(choice.get(k), (int, float)) for k in ("first_s", "second_s")))


def _write(file, machines):
    # Atomically (fastdnn.checkpoint's writer), so that a process reading at that moment sees the old file or
    # the new one; readable by the others who share the cache, as Numba's files are.
    from .checkpoint import atomic_write

    text = json.dumps({"format": FORMAT, "machines": machines}, indent=1, sort_keys=True).encode()
    try:
        os.makedirs(os.path.dirname(os.path.abspath(file)), exist_ok=True)
        atomic_write(file, lambda f: f.write(text))
    except OSError:
        pass  # a read-only cache: the choice holds for this process, and is measured again in the next


def time_side_by_side(first, second, rounds=4, calls=6):
    """Median seconds of ``first()`` and ``second()``: runs of ``calls`` calls of one way, then of the other.

    Each way is timed as a loop runs it, after calls of itself: one BLAS
    call's threads keep spinning after it returns and would tax a kernel that
    followed it right away, which no loop of that kernel sees.  The first call
    of each run is not counted; the order of the two ways alternates.
    """
    times = ([], [])
    ways = [(first, times[0]), (second, times[1])]
    for r in range(rounds):
        for way, samples in (ways if r % 2 == 0 else ways[::-1]):
            way()
            for _ in range(calls):
                start = time.perf_counter()
                way()
                samples.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def course_cat_batch():
    """``(X, Y)`` of the course's cat images' size and layout (12288 x 209, F-ordered; labels 0/1), made up."""
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.random((209, 12288)).T, (rng.random((1, 209)) < 0.5).astype(np.float64)


def time_loop_both_ways(name, loop):
    """:func:`time_side_by_side` of ``loop()`` with ``name``'s first way assumed, then its second."""
    def way(first):
        with assumed(name, first):
            loop()

    return time_side_by_side(lambda: way(True), lambda: way(False), rounds=2, calls=3)


def prefer(name, measure):
    """Whether the first of two ways is the one to take here: ``True`` (the default) or ``False``.

    Parameters
    ----------
    name : str
        What is chosen (a key of the file and of :data:`WAYS`, e.g. ``"skinny_layer"``).
    measure : callable
        ``measure()`` returns ``(seconds_first, seconds_second)``, timed side
        by side on this machine (:func:`time_side_by_side`).

    Returns
    -------
    bool
        ``False`` only when the second way measured at least :data:`MARGIN`
        times faster.  Read from the file when this machine measured it
        before; measured and written otherwise (once a process at most).
    """
    answer = getattr(_assumed, "answers", {}).get(name)
    if answer is not None:
        return answer  # a measurement under way on this thread times this way
    setting = _setting()
    if setting == "off":
        return True
    answer = _answers.get(name)
    if answer is not None:
        return answer
    with _lock:
        answer = _answers.get(name)
        if answer is not None:
            return answer
        key = machine_key()
        file = path()
        machines = _read(file)
        known = machines.get(key, {}).get(name)
        if known is None or setting == "measure":
            import numpy as np

            # The course's loops seed NumPy's global generator (initialize_parameters): the user's stream
            # must not depend on whether this process measured.
            random_state = np.random.get_state()
            try:
                first, second = measure()
            finally:
                np.random.set_state(random_state)
            known = {"first_s": first, "second_s": second, "first": first <= second * MARGIN,
                     "measured": time.strftime("%Y-%m-%d %H:%M:%S")}
            machines = _read(file)  # another process may have written meanwhile
            machines.setdefault(key, {})[name] = known
            _write(file, machines)
        answer = _answers[name] = bool(known["first"])
    return answer


@contextlib.contextmanager
def assumed(name, first):
    """Within the block, :func:`prefer` answers ``first`` for ``name`` (for a ``measure`` that times each way)."""
    answers = getattr(_assumed, "answers", None)
    if answers is None:
        answers = _assumed.answers = {}
    before = answers.get(name)
    answers[name] = bool(first)
    try:
        yield
    finally:
        if before is None:
            answers.pop(name, None)
        else:
            answers[name] = before


def forget():
    """Drop the answers this process holds (the file stays); the next :func:`prefer` reads it again."""
    with _lock:
        _answers.clear()


def describe():
    """One line: the choices this machine measured (from the file), for reports such as ``fastdnn bench``."""
    if _setting() == "off":
        return "routes measured on this machine: none (FASTDNN_MACHINE_CHOICES=off)"
    known = _read(path()).get(machine_key(), {})
    if not known:
        return "routes measured on this machine: none yet"
    parts = []
    for name, c in sorted(known.items()):
        first, second = WAYS.get(name, ("the first way", "the second way"))
        taken = first if c["first"] else second
        parts.append(f"{name}: {taken} ({first} {1e3 * c['first_s']:.3g} ms, {second} {1e3 * c['second_s']:.3g} ms)")
    return f"routes measured on this machine ({path()}): " + "; ".join(parts)
