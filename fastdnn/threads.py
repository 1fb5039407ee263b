"""Who runs on the cores: BLAS's threads and Numba's threads.

A training step alternates matrix products (BLAS, with its own thread pool)
and elementwise passes (Numba kernels, with Numba's pool).  On a machine with
few cores the two pools fight: a pool that spins after its work is done
keeps a core busy while the other pool needs it.  Measured on the 2-core
development machine (course cat model, one step): with Numba's OpenMP
threads spinning after each parallel kernel, the NumPy reference run right
after fastdnn slowed from 6.8 ms to 10.9 ms per step, and a fastdnn step
with a parallel update ran at 8.6 ms instead of 3.9 ms.

The design, chosen on purpose:

* BLAS owns all cores during a product.
* A Numba kernel runs on the calling thread unless its array is large
  (:data:`fastdnn.config.PARALLEL_MIN_ELEMENTS`), where a parallel pass pays
  for waking the pool.
* Numba's OpenMP workers sleep as soon as a parallel kernel ends
  (``OMP_WAIT_POLICY=PASSIVE`` while Numba starts its pool, unless the user
  set the variable; removed again after), so they never take a core from
  the next product.

:func:`limit` sets both pools for a block of code and restores them after,
also when the block raises.
"""

import contextlib
import ctypes
import os
import sys
import threading

from . import config

#: How Numba's OpenMP workers wait between parallel kernels unless the user set
#: ``OMP_WAIT_POLICY``: sleep at once (spinning workers took a core from the
#: next product, measured above).
NUMBA_WAIT_POLICY = "PASSIVE"

_numba_wait_policy = None


def _start_numba_pool_passive(parallel, start):
    """Wrap Numba's pool start so that GNU OpenMP reads fastdnn's wait policy, and only it.

    GNU OpenMP reads ``OMP_WAIT_POLICY`` once, when Numba's OpenMP layer
    loads it, and Numba does that on its first parallel kernel, from compiled
    or cached code alike, through one function (``_launch_threads``).  The
    variable is set for that call and removed after it, so neither the user's
    environment nor the OpenMP runtimes other libraries load later see it.
    """

    def launch():
        global _numba_wait_policy
        if parallel._is_initialized:
            return start()
        user_set = "OMP_WAIT_POLICY" in os.environ
        if not user_set:
            os.environ["OMP_WAIT_POLICY"] = NUMBA_WAIT_POLICY
        try:
            _numba_wait_policy = os.environ["OMP_WAIT_POLICY"]
            return start()
        finally:
            if not user_set:
                os.environ.pop("OMP_WAIT_POLICY", None)

    launch.__wrapped__ = start
    return launch


#: The order in which Numba may take a threading layer, unless the user chose one
#: (``NUMBA_THREADING_LAYER`` or ``NUMBA_THREADING_LAYER_PRIORITY``).  Measured on
#: the 2-core Xeon (benchmarks/threading_layers.py, docs/threading_layer.md): the
#: three run fastdnn's parallel passes equally fast (a [784, 1024, 1024, 1] step
#: 51.5 / 52.6 / 51.1 ms for omp / tbb / workqueue); OpenMP is threadsafe, comes
#: with Numba's wheels on Linux without another dependency, and its wait policy is
#: the one fastdnn sets (above); TBB is as fast and also survives ``fork``, so it
#: comes next (Numba's own order puts it first whenever the ``tbb`` package happens
#: to be installed); workqueue last: two Python threads calling parallel kernels
#: at once abort the process.
LAYER_PRIORITY = ["omp", "tbb", "workqueue"]


def _choose_threading_layer():
    import numba

    if "NUMBA_THREADING_LAYER" in os.environ or "NUMBA_THREADING_LAYER_PRIORITY" in os.environ:
        return
    if numba.config.THREADING_LAYER == "default":
        numba.config.THREADING_LAYER_PRIORITY = list(LAYER_PRIORITY)


def _install_pool_start():
    from numba.np.ufunc import parallel

    if not hasattr(parallel._launch_threads, "__wrapped__"):
        parallel._launch_threads = _start_numba_pool_passive(parallel, parallel._launch_threads)


def numba_wait_policy():
    """The ``OMP_WAIT_POLICY`` Numba's thread pool started with.

    Returns
    -------
    str or None
        ``None`` while the pool has not started, or when it started before
        fastdnn was imported.
    """
    return _numba_wait_policy


_choose_threading_layer()
_install_pool_start()


def _threadpoolctl():
    try:
        import threadpoolctl
    except ImportError:
        return None
    return threadpoolctl


def _register_numba_with_threadpoolctl():
    """Let ``threadpoolctl.threadpool_limits`` (and its ``threadpool_info``) reach Numba's thread count.

    threadpoolctl finds the libraries it controls among the loaded shared
    objects; Numba's own (its ``_helperlib``, loaded with Numba) gets a
    controller whose limit is ``numba.set_num_threads`` -- per Python thread,
    as the limit is set and the fit runs in the caller's thread -- so that a
    parent's ``with threadpool_limits(1):`` also holds fastdnn's column blocks
    to one thread (:func:`fastdnn.config.block_workers`).
    """
    tpc = _threadpoolctl()
    if tpc is None or not hasattr(tpc, "register") or not hasattr(tpc, "LibController"):
        return False
    import numba

    class NumbaController(tpc.LibController):
        user_api = "numba"
        internal_api = "numba"
        filename_prefixes = ("_helperlib",)

        def get_num_threads(self):
            return numba.get_num_threads()

        def set_num_threads(self, num_threads):
            numba.set_num_threads(max(1, min(int(num_threads), numba.config.NUMBA_NUM_THREADS)))

        def get_version(self):
            return numba.__version__

    tpc.register(NumbaController)
    return True


_blas_switches = None
_blas_parkers = None
_blas_servers = None


def numpy_blas_build():
    """NumPy's own BLAS as its build configuration names it (``"name version"``), or ``None`` where it does not say."""
    try:
        import numpy as np

        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # an older NumPy without mode="dicts"; the layout is not a stable API
        return None


def _numpy_uses_mkl():
    """Whether NumPy itself was built on MKL (a conda NumPy), rather than MKL loaded beside it."""
    return "mkl" in (numpy_blas_build() or "").lower()


def _blas_thread_switches():
    """``(get, set)`` thread-count functions of every BLAS library NumPy loaded (cached).

    Found through threadpoolctl once; for OpenBLAS the C functions
    themselves are kept, since going through threadpoolctl on every step
    leaves a little Python memory behind each time.  Empty without
    threadpoolctl.
    """
    global _blas_switches, _blas_parkers, _blas_servers
    if _blas_switches is None:
        tpc = _threadpoolctl()
        switches, parkers, servers = [], [], []
        if tpc is not None:
            skip_mkl = not _numpy_uses_mkl()
            for lib in tpc.ThreadpoolController().lib_controllers:
                if lib.user_api != "blas" or (skip_mkl and lib.internal_api == "mkl"):
                    # (MKL loaded for bf16 products only, fastdnn.precision: no pinned block calls it, and
                    # its thread count is per OpenMP thread, so a pin from one thread cannot hold it.)
                    continue
                get = set_ = None
                if lib.internal_api == "openblas" and getattr(lib, "threading_layer", "") != "openmp":
                    symbol = getattr(lib, "_get_symbol", None)
                    if symbol is not None:
                        get, set_ = symbol("openblas_get_num_threads"), symbol("openblas_set_num_threads")
                    # Not affixed like the public names, in the builds seen.
                    park = getattr(getattr(lib, "dynlib", None), "blas_thread_shutdown_", None)
                    if park is not None:
                        parkers.append(park)
                        try:  # 1 while its worker threads exist (spinning or asleep), 0 once parked
                            servers.append(ctypes.c_int.in_dll(lib.dynlib, "blas_server_avail"))
                        except ValueError:
                            pass
                if get is None or set_ is None:
                    get, set_ = (lambda lib=lib: lib.num_threads), lib.set_num_threads
                switches.append((get, set_))
        _blas_switches, _blas_parkers, _blas_servers = switches, parkers, servers
    return _blas_switches


def _park_blas_threads():
    """Stop OpenBLAS's idle threads from spinning, if no other thread may be inside BLAS.

    After a multi-threaded product, OpenBLAS's worker threads keep spinning
    for about 0.1 s (0.10-0.11 s of CPU time measured on the 2-core
    machine), lowering the count with ``openblas_set_num_threads`` does not
    stop them, and single-threaded blocks that start in that window share
    their cores with them: a native-block epoch of [784, 256, 256, 10] ran
    126 ms right after the NumPy reference instead of 78 ms.  OpenBLAS's own
    ``blas_thread_shutdown_`` (what it calls before a fork) ends those
    threads in ~90 us; its next multi-threaded call starts them again.  A
    call inside a product on another thread would hang that product, so
    this runs only while every other Python thread is one of fastdnn's own
    workers or a thread known never to call BLAS (:func:`_never_in_blas`).
    """
    if not _blas_parkers:
        return False
    me = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not me and not _never_in_blas(thread):
            return False
    for park in _blas_parkers:
        park()
    return True


def park_spinning_blas():
    """Before a kernel that takes every core: stop OpenBLAS's workers if a product started them.

    A student's loop calls NumPy between the helpers (its own ``np.dot``, a
    cost, a print); OpenBLAS's worker then spins for about 0.1 s and takes
    a core from the Numba kernel that follows.  Measured on the course's
    two-layer loop with a product of the student's size between iterations
    (2-core Xeon): 7.4 ms an iteration, 4.4 ms with the worker parked first
    (the reference's 7.1-7.5 ms); week 2's ``propagate`` 1.07 against 0.75 ms
    (docs/course_helpers.md).  Cheap when nothing runs: one integer read per
    BLAS library.  Returns whether it parked.
    """
    _blas_thread_switches()
    if not any(server.value for server in _blas_servers or ()):
        return False
    return _park_blas_threads()


def _never_in_blas(thread):
    """Whether ``thread`` is one that never runs a product: fastdnn's workers, tqdm's monitor of progress
    bars, the bookkeeping threads a process pool leaves in its parent (loky's and
    ``concurrent.futures``' executor manager, ``multiprocessing``'s queue feeder), and a Jupyter
    kernel's own threads (without them a notebook, where the students' loops run, would never park).

    Measured: with joblib's idle workers alive after ``GridSearchCV(n_jobs=2)``, the parent's own
    ``n_jobs=1`` search on the digits took 1.46 s instead of 0.95 s while these threads kept the
    parking off.
    """
    if thread.name.startswith("fastdnn-"):
        return True
    kind = type(thread).__name__
    if kind in _SERVICE_THREADS:
        return True
    if getattr(thread, "is_pydev_daemon_thread", False):
        return True  # a Jupyter kernel's own threads (IOPub, Control, Heartbeat) mark themselves so
    target = getattr(thread, "_target", None)
    return getattr(target, "__qualname__", None) in ("Queue._feed", "OutStream._watch_pipe_fd")


#: Classes of threads that never run a product: tqdm's monitor, a process pool's manager, and the
#: bookkeeping threads of a notebook's kernel (IPython's history, its parent poller, pyzmq's collector).
_SERVICE_THREADS = ("TMonitor", "_ExecutorManagerThread", "HistorySavingThread", "ParentPollerUnix",
                    "GarbageCollectorThread")


def can_pin_blas():
    """Whether fastdnn can switch BLAS to one thread per call (needs threadpoolctl)."""
    return bool(_blas_thread_switches())


_pin_lock = threading.Lock()
_pins = 0
_pinned_from: list = []


def _reset_pins_after_fork():
    # A forked child has no thread inside a pinned block.
    global _pin_lock, _pins
    _pin_lock, _pins = threading.Lock(), 0


def _serial_kernels_after_fork():
    # GNU OpenMP cannot start again in a child forked after its pool ran: the
    # child's first parallel kernel would end the process ("fork() called from
    # a process already using GNU OpenMP").  Such a child runs the serial
    # kernels only, as PyTorch's forked children run one thread; BLAS's
    # pthreads and fastdnn's own worker threads start afresh.
    from numba.np.ufunc import parallel

    if getattr(parallel, "_is_initialized", True) and getattr(parallel, "_threading_layer", "omp") == "omp":
        config.PARALLEL_MIN_ELEMENTS = sys.maxsize
        config.STEP_PARALLEL_MIN_ELEMENTS = sys.maxsize
        config.SERIAL_AFTER_FORK = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_pins_after_fork)
    os.register_at_fork(after_in_child=_serial_kernels_after_fork)


@contextlib.contextmanager
def single_threaded_blas(park=False):
    """Run a block with every BLAS library at one thread, then restore its count.

    About a microsecond (the libraries are looked up once), so it can wrap
    every training step.  Does nothing without threadpoolctl.  OpenBLAS's
    setting is process-wide: other threads' products in the meantime run
    single-threaded too, and blocks on several threads share one pin (the
    count comes back when the last of them ends).

    Parameters
    ----------
    park : bool, default False
        Also stop OpenBLAS's idle threads from spinning when this is the
        first pin (:func:`_park_blas_threads`), for a pin that lasts: OpenBLAS
        starts its threads again when the count comes back, and a new
        thread spins for its first 0.1 s too, so parking at every step
        would cost more than it saves.
    """
    global _pins, _pinned_from
    switches = _blas_thread_switches()
    # Counted, so that blocks entered and left on different threads in any
    # order restore the count that was there before the first of them.
    with _pin_lock:
        if _pins == 0:
            _pinned_from = [get() for get, _ in switches]
            for _, set_ in switches:
                set_(1)
            if park:
                _park_blas_threads()
        _pins += 1
    try:
        yield
    finally:
        with _pin_lock:
            _pins -= 1
            if _pins == 0:
                for (_, set_), n in zip(switches, _pinned_from):
                    set_(n)


def blas_info():
    """The BLAS libraries NumPy (and SciPy) loaded, as threadpoolctl reports them.

    Returns
    -------
    list of dict
        Empty when threadpoolctl (the ``threads`` extra) is not installed.
    """
    tpc = _threadpoolctl()
    if tpc is None:
        return []
    return [info for info in tpc.threadpool_info() if info.get("user_api") == "blas"]


_blas_name = None


def blas_summary():
    """NumPy's BLAS and the threads each of its products runs now: ``("openblas 0.3.31", 2)``.

    The library's name is looked up once per process; the thread count is
    read from the library on each call (a C call; 0 when unknown).
    """
    global _blas_name
    if _blas_name is None:
        libraries = blas_info()
        _blas_name = (f"{libraries[0].get('internal_api')} {libraries[0].get('version')}" if libraries
                      else "NumPy's BLAS")
    switches = _blas_thread_switches()
    return _blas_name, int(switches[0][0]()) if switches else 0


def describe():
    """A one-line description of the thread set-up, for benchmark tables.

    Returns
    -------
    str
    """
    import numba

    try:
        layer = numba.threading_layer()
    except ValueError:
        layer = "not started"
    blas = blas_info()
    blas_text = ", ".join(
        f"{b.get('internal_api')} {b.get('version')} {b.get('architecture', '')} x{b.get('num_threads')}" for b in blas
    ) or "unknown (install threadpoolctl)"
    return (
        f"numba {numba.__version__} threads={numba.get_num_threads()} layer={layer}; "
        f"BLAS: {blas_text}; Numba's OMP_WAIT_POLICY={numba_wait_policy()}"
    )


@contextlib.contextmanager
def limit(numba_threads=None, blas_threads=None):
    """Run a block with at most this many Numba and BLAS threads.

    Parameters
    ----------
    numba_threads : int, optional
        Threads of Numba's parallel kernels (``numba.set_num_threads``),
        at most ``numba.config.NUMBA_NUM_THREADS``.
    blas_threads : int, optional
        Threads of the BLAS behind NumPy (needs threadpoolctl, the
        ``threads`` extra).

    Notes
    -----
    Both settings are restored when the block exits, normally or by an
    exception.  Numba's setting is per Python thread; BLAS's is per process.
    """
    import numba

    if numba_threads is not None:
        numba_threads = int(numba_threads)
        if not 1 <= numba_threads <= numba.config.NUMBA_NUM_THREADS:
            raise ValueError(
                f"numba_threads must be between 1 and {numba.config.NUMBA_NUM_THREADS}, got {numba_threads}"
            )
    blas_limiter = None
    if blas_threads is not None:
        tpc = _threadpoolctl()
        if tpc is None:
            raise ImportError("limiting BLAS threads needs threadpoolctl: pip install 'fastdnn[threads]'")
        blas_limiter = tpc.threadpool_limits(limits=int(blas_threads), user_api="blas")
    previous = numba.get_num_threads()
    try:
        if numba_threads is not None:
            numba.set_num_threads(numba_threads)
        yield
    finally:
        numba.set_num_threads(previous)
        if blas_limiter is not None:
            blas_limiter.restore_original_limits()


# At import: a limit set before fastdnn first runs a kernel must already reach Numba.
_register_numba_with_threadpoolctl()
