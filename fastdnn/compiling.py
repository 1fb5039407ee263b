"""Never a silent stall: say when fastdnn compiles its kernels, and for how long.

Numba compiles a kernel on the first call of each signature that its on-disk
cache does not hold: in a new environment the first ``fit`` compiles for
tens of seconds.  A listener on Numba's ``numba:compile`` event (which fires
only on a cache miss) follows the compiles of fastdnn's own kernels.  When a
run of compiles (kernels compiled less than :data:`GAP` seconds apart) has
lasted :data:`NOTICE_AFTER` seconds, one line goes to the ``fastdnn``
logger at WARNING level (so that, without a logging configuration, Python
prints it on standard error), and when the run ends, a second with the time
it took.  Silence them with ``logging.getLogger("fastdnn").setLevel(logging.ERROR)``.

:func:`seconds` and :func:`kernels` count this process's compiles, so that
``fit``'s records and the CLI can leave compile time out of throughput.
"""

import logging
import threading
import time

from numba.core import event

log = logging.getLogger("fastdnn")

#: Seconds of compiling after which the notice is given.
NOTICE_AFTER = 1.0
#: Compiles further apart than this (seconds) are separate runs.
GAP = 0.5


class _Watch(event.Listener):
    """Counts the compiles of fastdnn's kernels and announces the long runs of them."""

    def __init__(self):
        self.lock = threading.Lock()
        self.depth = 0
        self.started = 0.0
        self.seconds = 0.0
        self.kernels = 0
        self.run_start = None
        self.run_seconds = 0.0
        self.run_kernels = 0
        self.last_end = 0.0
        self.announced = False
        self.location = None
        self.log = []
        self.current = None

    def on_start(self, event):
        dispatcher = event.data.get("dispatcher")
        if not _ours(dispatcher):
            return
        with self.lock:
            self.depth += 1
            if self.depth > 1:
                return  # a kernel compiled inside another: counted in the outer one's time
            now = time.perf_counter()
            self.started = now
            self.current = f"{dispatcher.py_func.__module__}.{dispatcher.py_func.__qualname__}{tuple(event.data['args'])}"
            if self.run_start is None or now - self.last_end > GAP:
                self._close_run()
                self.run_start, self.run_seconds, self.run_kernels, self.announced = now, 0.0, 0, False
                self.location = _cache_location(dispatcher)
                _start_timer(NOTICE_AFTER, self._announce, self.run_start)

    def on_end(self, event):
        if not _ours(event.data.get("dispatcher")):
            return
        with self.lock:
            self.depth -= 1
            if self.depth:
                return
            now = time.perf_counter()
            took = now - self.started
            self.log.append((self.current, took))
            self.seconds += took
            self.kernels += 1
            self.run_seconds += took
            self.run_kernels += 1
            self.last_end = now
            if self.announced:
                _start_timer(GAP, self._end_of_run, self.run_start, now)

    def _announce(self, run_start):
        with self.lock:
            if self.run_start != run_start or self.announced:
                return
            if self.depth == 0 and time.perf_counter() - self.last_end > GAP:
                return  # the run ended before the notice was due
            self.announced = True
            where = f" (cached in {self.location})" if self.location else ""
        log.warning("fastdnn: compiling kernels for this machine, first use only%s...", where)

    def _end_of_run(self, run_start, end):
        with self.lock:
            if self.run_start != run_start or self.last_end != end or self.depth:
                return  # another compile came: the run goes on
            self._close_run()

    def _close_run(self):
        # Called with the lock held.
        if self.run_start is not None and self.announced:
            log.warning("fastdnn: compiled %d kernels in %.1f s; later runs load them from the cache",
                     self.run_kernels, self.run_seconds)
        self.run_start = None
        self.announced = False


def _start_timer(delay, function, *args):
    # Named as fastdnn's own: it never calls BLAS, so OpenBLAS's idle threads may still be
    # parked while it waits (fastdnn.threads._park_blas_threads).
    timer = threading.Timer(delay, function, args=args)
    timer.name = "fastdnn-compile-notice"
    timer.daemon = True
    timer.start()


def _ours(dispatcher):
    module = getattr(getattr(dispatcher, "py_func", None), "__module__", "") or ""
    return module == "fastdnn" or module.startswith("fastdnn.")


def _cache_location(dispatcher):
    cache = getattr(dispatcher, "_cache", None)
    return getattr(cache, "_cache_path", None)


_watch = _Watch()
_installed = False


def install():
    """Start following compiles (once per process; called by ``import fastdnn``)."""
    global _installed
    if _installed:
        return
    event.register("numba:compile", _watch)
    _installed = True


def end_run():
    """Close the current run of compiles now (its closing line is logged if it was announced)."""
    with _watch.lock:
        _watch._close_run()


def seconds():
    """Seconds this process has spent compiling fastdnn's kernels."""
    return _watch.seconds


def kernels():
    """How many of fastdnn's kernels this process has compiled (cache misses)."""
    return _watch.kernels


def compiled():
    """The kernels this process compiled, in order: ``[(name and argument types, seconds), ...]``."""
    return list(_watch.log)
