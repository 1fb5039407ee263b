"""Numba's on-disk caches of fastdnn's kernels, keyed by all of fastdnn's sources.

Numba keeps a cached kernel as long as the source file that defines it is
unchanged.  A kernel also carries the machine code of the helpers it inlines
from other files (``kernels/reduce.py``, ``kernels/scalar.py``) and the values
of the module constants it read when it compiled: after an upgrade, a ``git
pull`` or a branch switch that touches only such a file, Numba would keep
running the old code.

fastdnn therefore gives Numba cache locators whose source stamp is the hash
of every Python file of the package (:func:`key_caches_by_package`): when any
of them changes, no cached kernel of the package matches any more, each one
compiles again on its first call and its new code replaces the old entry.
Nothing is deleted and nothing is written at import; where the caches live
is still Numba's choice (``NUMBA_CACHE_DIR`` if set, else ``__pycache__``
beside the sources, else the user's cache folder).  A user who sets
``NUMBA_CACHE_LOCATOR_CLASSES`` chooses the locators, and this keying with
them.

Processes that share a cache compile each kernel once between them
(:func:`share_compiles`): the first to miss a kernel compiles it under a lock
file in the kernel's cache folder, the others wait and load what it wrote.
"""

import hashlib
import logging
import os
import threading
import time

import numpy as np

from numba.core import caching as _numba_caching
from numba.core.compiler_lock import global_compiler_lock
from numba.core.dispatcher import Dispatcher

from . import compiling

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; each process compiles for itself
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("fastdnn")

_digests: dict = {}


def _package_digest(root):
    """SHA-1 of the names and contents of every ``.py`` file under ``root`` (once per process)."""
    digest = _digests.get(root)
    if digest is None:
        sha = hashlib.sha1()
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    sha.update(os.path.relpath(path, root).encode() + b"\0")
                    with open(path, "rb") as f:
                        sha.update(f.read())
        digest = _digests[root] = sha.hexdigest()
    return digest


def _root_of(py_file):
    path = os.path.abspath(py_file)
    for root in _digests:
        if path.startswith(root + os.sep):
            return root
    return None


class _PackageStamp:
    """Locator mixin: a kernel defined in a keyed package is stamped with the package's digest."""

    @classmethod
    def from_function(cls, py_func, py_file):
        root = _root_of(py_file)
        if root is None:
            return None
        locator = super().from_function(py_func, py_file)
        if locator is not None:
            locator._package_root = root
        return locator

    def get_source_stamp(self):
        return ("package", _package_digest(self._package_root))


def _stamped(base):
    return type(f"PackageStamped{base.__name__}", (_PackageStamp, base), {})


def _numba_class(name):
    # Older Numba releases (within our numba>=0.59) spell these with a leading underscore.
    return getattr(_numba_caching, name, None) or getattr(_numba_caching, "_" + name)


# Numba's own file-backed locators, in Numba's order; the others (IPython
# cells, zip imports) never hold a package's files.
_LOCATORS = tuple(
    _stamped(_numba_class(name)) for name in ("UserProvidedCacheLocator", "InTreeCacheLocator", "UserWideCacheLocator")
)


def key_caches_by_package(root):
    """Make every cached kernel defined under ``root`` depend on all of ``root``'s Python files.

    Must run before the package's kernels are decorated (the locator is chosen
    then); fastdnn calls it for itself when :mod:`fastdnn.config` loads.

    Parameters
    ----------
    root : str
        The package's folder.

    Returns
    -------
    str
        The digest the package's cached kernels are now stamped with.
    """
    root = os.path.abspath(root)
    digest = _package_digest(root)
    locators = _numba_class("CacheImpl")._locator_classes
    if not locators or locators[0] is not _LOCATORS[0]:
        locators[:0] = _LOCATORS  # in place: every cache implementation shares the list
    return digest


# ---------------------------------------------------------------- one compile at a time across processes
#
# Processes that start together on an empty cache (joblib's workers in a grid
# search, MPI ranks) would each compile the same kernels: the same machine code
# built two or more times over, for minutes of CPU.  When a compile (Numba's
# Dispatcher.compile) misses the cache for one of a keyed package's kernels, it
# takes an exclusive lock on one file for the whole package
# (:func:`lock_folder`) before compiling; a process that finds the lock taken
# waits, then looks in the cache again and loads what the other one wrote.
# The lock is given back when the outermost compile of the process ends, saved
# or failed (the kernels it calls compile inside it).  So a process holds at
# most one lock and never waits while holding it.  Everything here runs under
# Numba's compiler lock: one thread of a process compiles at a time.

#: The lock file, in the package's cache folder.
LOCK_NAME = "fastdnn-compile.lock"
#: Seconds a process waits for another's compile before compiling itself
#: (a stopped or hung holder must not stall every other process for good).
LOCK_PATIENCE = 900.0


class _CompileLock:
    """How deep the process is in Numba compiles, and the lock it holds (at most one)."""

    def __init__(self):
        self.depth = 0
        self.handle = None


_lock = _CompileLock()


def lock_folder(cache):
    """The folder of the compile lock for ``cache``'s kernel (a Numba ``Cache``): ``None`` if not a keyed package's.

    One folder per package: the cache folder its ``__init__.py`` would have
    under the locator its kernels use (``NUMBA_CACHE_DIR``, ``__pycache__``
    or the user's cache), whichever subpackage the kernel lives in.
    """
    locator = getattr(getattr(cache, "_impl", None), "locator", None)
    root = getattr(locator, "_package_root", None)
    if root is None:
        return None
    key = (type(locator), root)
    folder = _lock_folders.get(key)
    if folder is None:
        # A locator reads only the line number of the function it is given.
        folder = _lock_folders[key] = type(locator)(lock_folder, os.path.join(root, "__init__.py")).get_cache_path()
    return folder


_lock_folders: dict = {}


def _log_later(message, *args):
    # From a thread of its own: never log inside Numba's compiler lock.
    timer = threading.Timer(0.0, log.warning, (message,) + args)
    timer.daemon = True
    timer.start()


def _acquire(folder):
    """An open file of ``folder``'s lock, locked exclusively; ``None`` where it cannot be locked (then compile)."""
    if fcntl is None:
        return None
    try:
        os.makedirs(folder, exist_ok=True)
        handle = open(os.path.join(folder, LOCK_NAME), "a")
    except OSError:
        return None  # a folder we cannot write: then Numba cannot save there either
    started = time.perf_counter()
    said = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            pass  # another process holds it
        except OSError:
            handle.close()  # no locks on this file system
            return None
        if not said:
            _log_later("fastdnn: another process is compiling the same kernels; waiting to load them from the "
                       "cache (%s)", folder)
            said = True
        if time.perf_counter() - started > LOCK_PATIENCE:
            handle.close()
            _log_later("fastdnn: gave up waiting for another process's compile after %.0f s; compiling here",
                      LOCK_PATIENCE)
            return None
        time.sleep(0.05)
    # The wait was for a compile: the records leave it out of throughput as they leave compiling out.
    compiling.add_seconds(time.perf_counter() - started)
    return handle


def _release():
    handle, _lock.handle = _lock.handle, None
    if handle is not None:
        handle.close()  # closing the file gives its lock back


def _load_overload(self, sig, target_context):
    data = _numba_load_overload(self, sig, target_context)
    if data is not None or _lock.depth == 0 or _lock.handle is not None:
        return data  # a hit, a load outside a Dispatcher compile (cfunc, vectorize), or the lock already held
    folder = lock_folder(self)
    if folder is None:
        return None
    handle = _acquire(folder)
    if handle is None:
        return None
    try:
        # While we waited, another process may have compiled and saved it.
        data = _numba_load_overload(self, sig, target_context)
    except BaseException:
        handle.close()
        raise
    if data is not None:
        handle.close()
        return data
    _lock.handle = handle  # held until the outermost compile ends
    return None


def _compile(self, sig):
    with global_compiler_lock:
        _lock.depth += 1
        try:
            return _numba_compile(self, sig)
        finally:
            _lock.depth -= 1
            if _lock.depth == 0:
                _release()


def _original(function):
    # A reloaded module must wrap Numba's own method, not its previous wrapper.
    return getattr(function, "__wrapped__", function)


_numba_load_overload = _original(_numba_caching.Cache.load_overload)
_numba_compile = _original(Dispatcher.compile)
_load_overload.__wrapped__ = _numba_load_overload  # type: ignore[attr-defined]
_compile.__wrapped__ = _numba_compile  # type: ignore[attr-defined]
_sharing = False


def share_compiles():
    """Let processes sharing a cache folder compile each of fastdnn's kernels once (idempotent).

    Wraps Numba's ``Dispatcher.compile`` (to know the outermost compile) and
    the load of its file caches; kernels of other packages go through them
    unchanged.  ``import fastdnn`` calls it.
    """
    global _sharing
    if _sharing:
        return
    Dispatcher.compile = _compile
    _numba_caching.Cache.load_overload = _load_overload
    # A child forked in the middle of a compile holds neither its lock nor its depth.
    os.register_at_fork(after_in_child=_lock.__init__)
    _sharing = True


def _holds_float32(signature):
    # A float32 network's kernels take float32 arrays; a float64 network's take none.
    return "float32" in str(signature)


def compiled_for(dispatcher, dtype):
    """Whether ``dispatcher`` has machine code for a network of ``dtype`` without compiling.

    Compiled in this process, or in its cache file for this CPU and this
    version of the package (the index Numba reads before it compiles).
    Any specialization for the dtype counts: it says the machine's cache
    has been filled for it (``fastdnn warmup``, an earlier fit), not that
    every layout is there.  Reading the index costs a file open, no compile.
    """
    overloads = getattr(dispatcher, "overloads", None)
    if overloads is None:
        return True  # not a dispatcher: NUMBA_DISABLE_JIT runs the Python functions, nothing to compile
    float32 = np.dtype(dtype) == np.float32
    if any(_holds_float32(types) == float32 for types in list(overloads)):
        return True
    cache = getattr(dispatcher, "_cache", None)
    index_file = getattr(cache, "_cache_file", None)
    if index_file is None:
        return False
    try:
        index = index_file._load_index()
        magic = dispatcher.targetctx.codegen().magic_tuple()
    except Exception:  # an unreadable or foreign index: as if empty (the compile will say so)
        return False
    return any(isinstance(key, tuple) and len(key) > 1 and key[1] == magic and _holds_float32(key[0]) == float32
               for key in index)
