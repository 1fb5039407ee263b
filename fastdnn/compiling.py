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
``fit``'s records and the CLI can leave compile time out of throughput;
:func:`listening` tells a progress bar while a run of compiles is on.
"""

import contextlib
import logging
import os
import threading
import time

from numba.core import event

log = logging.getLogger("fastdnn")

#: Seconds of compiling after which the notice is given.
NOTICE_AFTER = 1.0
#: Compiles further apart than this (seconds) are separate runs.
GAP = 0.5


class _Watch(event.Listener):
    """Counts the compiles of fastdnn's kernels and announces the long runs of them.

    Numba calls :meth:`on_start` and :meth:`on_end` inside its compiler lock:
    they only count, under a lock of their own, and never log.  The lines are
    logged by timer threads, outside both locks.
    """

    def __init__(self):
        self._reset()

    def _reset(self):
        # Also the state of a forked child, whose parent's threads and lock holders are gone.
        self.lock = threading.Lock()
        self.local = threading.local()
        self.started = {}
        self.seconds = 0.0
        self.kernels = 0
        self.run_start = None
        self.run_seconds = 0.0
        self.run_kernels = 0
        self.last_end = 0.0
        self.announced = False
        self.location = None
        self.log = []

    def on_start(self, event):
        dispatcher = event.data.get("dispatcher")
        if not _ours(dispatcher):
            return
        stack = getattr(self.local, "stack", None)
        if stack is None:
            stack = self.local.stack = []
        stack.append(dispatcher)
        if len(stack) > 1:
            return  # a kernel compiled inside another: counted in the outer one's time
        with self.lock:
            now = time.perf_counter()
            self.started[threading.get_ident()] = (now, _describe(dispatcher, event))
            if self.run_start is None or now - self.last_end > GAP:
                # A new run (an announced one still open has its end timer on the way: it finds
                # the run gone and stays quiet; never log here, inside Numba's compile).
                self.run_start, self.run_seconds, self.run_kernels, self.announced = now, 0.0, 0, False
                self.location = _cache_location(dispatcher)
                _start_timer(NOTICE_AFTER, self._announce, self.run_start)

    def on_end(self, event):
        dispatcher = event.data.get("dispatcher")
        if not _ours(dispatcher):
            return
        stack = getattr(self.local, "stack", None)
        if not stack or stack[-1] is not dispatcher:
            return  # an end without its start (another listener failed in between): ignore it
        stack.pop()
        if stack:
            return
        with self.lock:
            now = time.perf_counter()
            started, name = self.started.pop(threading.get_ident(), (now, "?"))
            took = now - started
            self.seconds += took
            self.run_seconds += took
            self.last_end = now
            if not _failed(event):
                self.log.append((name, took))
                self.kernels += 1
                self.run_kernels += 1
            if self.announced:
                _start_timer(GAP, self._end_of_run, self.run_start, now)

    def _announce(self, run_start):
        with self.lock:
            if self.run_start != run_start or self.announced:
                return
            now = time.perf_counter()
            if not self.started and now - self.last_end > GAP:
                return  # the run ended before the notice was due
            self.announced = True
            where = f" (cached in {self.location})" if self.location else ""
            if not self.started:
                # Between two compiles: the end of the run is due GAP after the last one.
                _start_timer(max(self.last_end + GAP - now, 0.0), self._end_of_run, run_start, self.last_end)
        log.warning("fastdnn: compiling kernels for this machine, first use only%s...", where)
        _tell(True)

    def _end_of_run(self, run_start, end):
        with self.lock:
            if self.run_start != run_start or self.last_end != end or self.started:
                return  # another compile came: the run goes on
            line = self._close_run()
        if line:
            log.warning("%s", line)
            _tell(False)

    def _close_run(self):
        """End the current run (the lock held); its closing line, if it was announced."""
        line = None
        if self.run_start is not None and self.announced:
            line = (f"fastdnn: compiled {self.run_kernels} kernels in {self.run_seconds:.1f} s; "
                    f"later runs load them from the cache")
        self.run_start = None
        self.announced = False
        return line


def _failed(event):
    # Numba's Event.is_failed is inverted (True without an exception, as of 0.68): read the details.
    return getattr(event, "_exc_details", None) is not None


def _describe(dispatcher, event):
    func = dispatcher.py_func
    return f"{func.__module__}.{func.__qualname__}{tuple(event.data.get('args', ()))}"


_timers: set = set()


def _start_timer(delay, function, *args):
    # Named as fastdnn's own: it never calls BLAS, so OpenBLAS's idle threads may still be
    # parked while it waits (fastdnn.threads._park_blas_threads).
    def run():
        try:
            function(*args)
        finally:
            _timers.discard(timer)

    timer = threading.Timer(delay, run)
    timer.name = "fastdnn-compile-notice"
    timer.daemon = True
    _timers.add(timer)
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
    # A child forked while a timer thread held the lock would wait for it forever.
    os.register_at_fork(after_in_child=_watch._reset)
    _installed = True


def end_run():
    """Close the current run of compiles now (its closing line is logged if it was announced)."""
    with _watch.lock:
        line = _watch._close_run()
    if line:
        log.warning("%s", line)
        _tell(False)


_listeners: list = []


def _tell(compiling_now):
    for listener in list(_listeners):
        try:
            listener(compiling_now)
        except Exception:  # a display must not break training (nor the notice's timer thread)
            log.debug("fastdnn: a compile listener failed", exc_info=True)


@contextlib.contextmanager
def listening(listener):
    """Call ``listener(True)`` when a run of compiles is announced and ``listener(False)`` when it ends, in the block.

    From the notice's timer threads, outside Numba's compiler lock: a
    progress bar says it is compiling (:class:`fastdnn.loop.TrainLoop`).
    """
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def settle():
    """:func:`end_run`, then stop the notice's pending timers and wait for them to end.

    For code that measures what happens next (a benchmark, an allocation
    test) after a first call that may have compiled.
    """
    end_run()
    for timer in list(_timers):
        timer.cancel()
        if timer is not threading.current_thread():
            timer.join()


def seconds():
    """Seconds this process has spent compiling fastdnn's kernels (or waiting for another process's compile)."""
    return _watch.seconds


def add_seconds(waited):
    """Count ``waited`` seconds as compiling (:mod:`fastdnn.caching`'s wait for another process's compile)."""
    with _watch.lock:
        _watch.seconds += waited


def kernels():
    """How many of fastdnn's kernels this process has compiled (cache misses)."""
    return _watch.kernels


def compiled():
    """The kernels this process compiled, in order: ``[(name and argument types, seconds), ...]``."""
    return list(_watch.log)
