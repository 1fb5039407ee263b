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
"""

import hashlib
import os

from numba.core import caching as _numba_caching

_digests = {}


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
