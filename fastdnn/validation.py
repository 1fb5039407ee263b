"""Input checks shared by every public function.

A public function validates and prepares its inputs here, then hands plain
C-contiguous float arrays to the kernels.  Every error names the argument and
what was expected and received, so a user never sees a Numba typing
traceback or a silent NaN.
"""

import math
import numbers

import sys
import warnings

import numpy as np
from numba import njit, prange

from . import config

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _describe(x):
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    return f"{type(x).__name__}"


def as_array(name, x, ndim=None):
    """``x`` as an ndarray of a numeric dtype (not copied when it already is one).

    Raises
    ------
    TypeError
        ``x`` is not array-like or has a non-numeric dtype (object, string,
        complex, datetime).
    ValueError
        ``x`` does not have ``ndim`` dimensions.
    """
    if x is None:
        raise TypeError(f"{name} must be an array, got None")
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array, got {_describe(x)}: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must have a real numeric dtype (bool, int or float), got dtype {arr.dtype}"
        )
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got an array of shape {arr.shape} ({arr.ndim}-D)")
    return arr


def check_sample_weight(sample_weight, m, x_name="X", name="sample_weight"):
    """``sample_weight`` as a float64 array of shape ``(m,)`` (a copy): one weight per example of ``x_name``.

    A single number weighs every example alike.  Raises ``TypeError`` for a
    non-numeric value and ``ValueError`` for a wrong shape, a NaN or an
    infinity, a negative weight, or weights that sum to zero.
    """
    w = as_array(name, sample_weight)
    if w.ndim == 0:
        w = np.full(m, w, dtype=np.float64)
    elif w.shape != (m,):
        raise ValueError(f"{name} must have shape ({m},), one weight per example of {x_name}, got shape {w.shape}")
    else:
        w = np.array(w, dtype=np.float64)
    check_finite(name, w)
    if m and w.min() < 0.0:
        bad = int(np.argmin(w))
        raise ValueError(f"{name} must be non-negative, got {w[bad]} at index {bad}")
    if m and not w.sum() > 0.0:
        raise ValueError(f"{name} must not be all zero: the weighted cost would divide by a total weight of 0")
    return w


def float_dtype(*arrays):
    """The float dtype a computation on ``arrays`` runs in.

    float32 only when every float input is float32 (and no integer input
    would lose precision); float64 otherwise, NumPy's own promotion.
    float16 is computed in float32.  Integer and boolean inputs alone are
    computed in float64 (NumPy would give float16 for uint8 or bool and
    float32 for int16, which the course never meant).
    """
    if not any(a.dtype.kind == "f" for a in arrays):
        return np.dtype(np.float64)
    dtype = np.result_type(*[a.dtype for a in arrays], np.float16)
    if dtype == np.float16:
        return np.dtype(np.float32)
    if dtype not in FLOAT_DTYPES:
        return np.dtype(np.float64)
    return dtype


def prepare(arr, dtype):
    """``arr`` as a C-contiguous array of ``dtype``; copies only when it must.

    The shape is kept, 0-d included (``np.ascontiguousarray`` alone makes it 1-d).
    """
    out = np.ascontiguousarray(arr, dtype=dtype)
    return out.reshape(()) if np.ndim(arr) == 0 else out


# Fixed blocks: the partition does not depend on the number of threads.
_FINITE_BLOCK = 1 << 14


@njit(**config.JIT)
def _non_finite_sum(x):
    # x * 0 is 0 for finite x and NaN for inf or NaN; summing vectorises.
    # The loop starts at 0 on purpose: with a variable start LLVM keeps the
    # negative-index check and the loop runs about 4x slower.
    total = 0.0
    for k in range(x.size):
        total += x[k] * 0.0
    return total


@njit(**config.JIT)
def _has_non_finite_serial(x):
    total = _non_finite_sum(x)
    return total != total


@njit(**config.JIT)
def _abs_sum_serial(x):
    total = 0.0
    for k in range(x.size):
        total += abs(x[k])
    return total


@njit(**config.JIT_PARALLEL)
def _blocked_sum_parallel(x, absolute):
    # Sum of |x| (absolute) or of x * 0 (NaN exactly when x holds a NaN or an
    # inf), in fixed blocks on Numba's threads, the blocks added in order.
    n_blocks = (x.size + _FINITE_BLOCK - 1) // _FINITE_BLOCK
    partials = np.empty(n_blocks)
    for block in prange(n_blocks):
        start = block * _FINITE_BLOCK
        part = x[start:start + _FINITE_BLOCK]
        partials[block] = _abs_sum_serial(part) if absolute else _non_finite_sum(part)
    total = 0.0
    for block in range(n_blocks):
        total += partials[block]
    return total


def _has_non_finite_parallel(x):
    total = _blocked_sum_parallel(x, False)
    return total != total


def _count_non_finite(x, parallel_min=None):
    """True if the 1-d array ``x`` holds a NaN or an infinity.

    Split over Numba's threads in fixed blocks from ``parallel_min``
    elements on (default ``config.PARALLEL_MIN_ELEMENTS``), serial below.
    """
    if x.size >= (config.PARALLEL_MIN_ELEMENTS if parallel_min is None else parallel_min):
        return _has_non_finite_parallel(x)
    return _has_non_finite_serial(x)


def _abs_sum(x):
    """``sum(|x|)`` of a 1-d array in float64: inf or NaN when ``x`` holds one."""
    if x.size >= config.PARALLEL_MIN_ELEMENTS:
        return _blocked_sum_parallel(x, True)
    return _abs_sum_serial(x)


def product_is_finite(out, A, B):
    """Whether ``out = A @ B`` (just computed from ``A`` and ``B``) holds only finite values.

    Scans whichever is smaller: ``out``, or both inputs.  Every entry of the
    product and every partial sum of it is bounded by
    :math:`\\sum|A| \\sum|B|`, so when that bound is finite and well inside
    the dtype's range the product cannot have overflowed, and NaN or inf in
    an input would have made the bound non-finite.  Otherwise ``out`` itself
    is scanned.
    """
    if out.size > A.size + B.size and _contiguous(A) and _contiguous(B):
        bound = _abs_sum(A.ravel(order="K")) * _abs_sum(B.ravel(order="K"))
        if bound < _SAFE_BOUND[out.dtype]:
            return True
    return not _count_non_finite(out.ravel(order="K"))


def _contiguous(x):
    flags = x.flags
    return flags.c_contiguous or flags.f_contiguous


# A quarter of the largest value: room for the rounding of the products' sums.
_SAFE_BOUND = {dtype: float(np.finfo(dtype).max) / 4 for dtype in FLOAT_DTYPES}


def check_finite(name, arr):
    """Raise ``ValueError`` if ``arr`` holds a NaN or an infinity."""
    if arr.size == 0:
        return
    flat = arr.reshape(-1) if arr.flags.c_contiguous else np.ravel(arr)
    if flat.dtype.kind != "f":
        return
    if flat.dtype.itemsize < 4:
        # float16: Numba has no such type; NumPy's scan is fine for this rare case.
        if np.isfinite(flat).all():
            return
    elif not _count_non_finite(flat):
        return
    bad = np.flatnonzero(~np.isfinite(flat))
    first = np.unravel_index(bad[0], arr.shape)
    raise ValueError(
        f"{name} contains {bad.size} non-finite value(s) (NaN or inf), "
        f"the first at index {tuple(int(i) for i in first)}: {flat[bad[0]]}"
    )


def check_binary_labels(name, Y):
    """Raise ``ValueError`` unless every entry of ``Y`` is 0 or 1."""
    if Y.size and not np.all((Y == 0) | (Y == 1)):
        bad = Y[(Y != 0) & (Y != 1)]
        raise ValueError(f"{name} must hold labels in {{0, 1}}; found {bad.size} other value(s), e.g. {bad.flat[0]!r}")


def check_label_values(name, Y, dtype=None):
    """The course's rule for the labels of its cross-entropy formulas: finite; other than 0 and 1 with a warning.

    The course's cost and its gradient are defined for any real ``y`` (its
    test cases draw ``Y = np.random.randn(...)``): they are computed by the
    formula, with a ``RuntimeWarning`` (shown once per place of the caller's
    code, as NumPy's are), since labels of a classifier are 0 or 1.  NaN
    and infinity are refused, and values beyond the range of ``dtype`` (the
    computation's float type) too.
    """
    if not Y.size:
        return
    if Y.dtype.kind in "fc" and not np.all(np.isfinite(Y)):
        raise ValueError(f"{name} must hold finite values; it holds NaN or infinity")
    if not np.all((Y == 0) | (Y == 1)):
        if dtype is not None and np.abs(Y).max() > np.finfo(dtype).max:
            raise ValueError(f"{name} holds values beyond the range of {np.dtype(dtype).name} "
                             f"(up to {np.abs(Y).max()!r}): they would become infinite")
        bad = Y[(Y != 0) & (Y != 1)]
        warnings.warn(f"{name} holds {bad.size} value(s) other than 0 and 1, e.g. {bad.flat[0]!r}: the "
                      f"cross-entropy and its gradient are computed by their formulas", RuntimeWarning,
                      stacklevel=_caller_level())


def warn_log_of_zero(cost):
    """NumPy's ``divide by zero encountered in log`` when a cross-entropy came out infinite.

    The course computes its costs with ``np.log``, which warns when a
    probability is exactly 0 or 1 on the wrong side (a run that diverged), and
    ignores or raises as ``np.errstate`` / ``np.seterr`` say:
    fastdnn's kernels get the same ``inf`` without NumPy, so they say it the
    same way, naming the caller's line.
    """
    if not math.isinf(cost):
        return
    # As NumPy would under the caller's np.errstate / np.seterr.
    mode = np.geterr()["divide"]
    if mode == "ignore":
        return
    if mode == "raise":
        raise FloatingPointError("divide by zero encountered in log")
    warnings.warn("divide by zero encountered in log", RuntimeWarning, stacklevel=_caller_level())


def _caller_level():
    """The ``stacklevel`` of the first frame outside fastdnn: a warning names the user's line."""
    frame, level = sys._getframe(1), 1
    while frame is not None and (frame.f_globals.get("__name__") or "").split(".")[0] == "fastdnn":
        frame, level = frame.f_back, level + 1
    return level


def check_probabilities(name, A):
    """Raise ``ValueError`` unless every entry of ``A`` lies in [0, 1]."""
    check_finite(name, A)
    if A.size and (A.min() < 0 or A.max() > 1):
        raise ValueError(
            f"{name} must hold probabilities in [0, 1]; found values in [{A.min()}, {A.max()}]"
        )


def check_shape(name, arr, expected, meaning=""):
    """Raise ``ValueError`` unless ``arr.shape == expected``."""
    if arr.shape != tuple(expected):
        extra = f" ({meaning})" if meaning else ""
        raise ValueError(f"{name} must have shape {tuple(expected)}{extra}, got {arr.shape}")


def positive_int(name, value):
    """``value`` as an int, which must be >= 1 (bool is not accepted)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {value!r} ({type(value).__name__})")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)


def non_negative_int(name, value):
    """``value`` as an int, which must be >= 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a non-negative integer, got {value!r} ({type(value).__name__})")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value}")
    return int(value)


def finite_float(name, value, minimum=None):
    """``value`` as a finite float (optionally ``>= minimum``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def positive_float(name, value):
    """``value`` as a finite float ``> 0``."""
    value = finite_float(name, value, minimum=0.0)
    if value == 0.0:
        raise ValueError(f"{name} must be > 0, got 0.0")
    return value


def network_dtype(name, value):
    """``value`` as a NumPy dtype, float32 or float64, else ``TypeError`` naming ``name``."""
    try:
        dtype = np.dtype(value)
    except TypeError:
        raise TypeError(f"{name} must be float32 or float64, got {value!r}") from None
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {dtype}")
    return dtype


def choice(name, value, options):
    """``value``, which must be one of ``options``; the error lists them."""
    if not isinstance(value, str) or value not in options:
        valid = ", ".join(repr(o) for o in options)
        raise ValueError(f"{name} must be one of {valid}; got {value!r}")
    return value


def layer_dims(name, dims, min_len=2):
    """A list of positive layer sizes."""
    if isinstance(dims, (str, bytes)) or not hasattr(dims, "__len__"):
        raise TypeError(f"{name} must be a sequence of positive integers, got {dims!r}")
    if len(dims) < min_len:
        raise ValueError(f"{name} must list at least {min_len} layer sizes, got {list(dims)}")
    return [positive_int(f"{name}[{i}]", d) for i, d in enumerate(dims)]
