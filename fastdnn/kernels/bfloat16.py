"""bfloat16 copies written by the kernels that write the float32 values (:mod:`fastdnn.precision`).

bfloat16 is the top half of a float32: 8 exponent bits and 7 stored
mantissa bits.  A value is rounded to the nearest bfloat16, ties to even; a
NaN stays a (quiet) NaN, infinities stay infinite, and a finite value too
large for bfloat16 rounds to infinity, as IEEE rounding does.  The copies are
uint16 arrays holding the bits, which MKL's ``cblas_gemm_bf16bf16f32`` reads.

The epilogues here are the layer kernels of :mod:`fastdnn.kernels.activation`
(the same row routines, so the same float32 bits) with each row rounded into
its bfloat16 copy while it is still in cache: no second pass over memory.
"""

import numpy as np
from numba import njit, prange

from .. import config
from . import activation

_EXPONENT = np.uint32(0x7F800000)
_MAGNITUDE = np.uint32(0x7FFFFFFF)
_HALF = np.uint32(0x7FFF)
_ONE = np.uint32(1)
_QUIET = np.uint32(0x40)
_SHIFT = np.uint32(16)


@njit(**config.JIT_ROW)
def _round_row(bits, out, i):
    # Row i of the float32 bits into row i of out; branch-free so that it vectorises.
    for j in range(bits.shape[1]):
        u = bits[i, j]
        nan = (u & _MAGNITUDE) > _EXPONENT
        rounded = (u + _HALF + ((u >> _SHIFT) & _ONE)) >> _SHIFT
        out[i, j] = np.uint16(((u >> _SHIFT) | _QUIET) if nan else rounded)


@njit(**config.JIT)
def _round_serial(bits, out):
    for i in range(bits.shape[0]):
        _round_row(bits, out, i)


@njit(**config.JIT_PARALLEL)
def _round_parallel(bits, out):
    for i in prange(bits.shape[0]):
        _round_row(bits, out, i)


def _rows(X):
    # A 2-D C-ordered view of X (1-D arrays as one row).
    return X.reshape(1, -1) if X.ndim == 1 else X


#: A long 1-D array (the weights) is rounded as rows of this many elements, so that they split over the threads.
_ROW = 4096


def round_into(X, out, parallel=True):
    """Write the bfloat16 bits of float32 ``X`` into ``out`` (uint16, the same shape, both C-contiguous)."""
    if X.dtype != np.float32 or out.dtype != np.uint16:
        raise TypeError(f"round_into: X must be float32 and out uint16, got {X.dtype} and {out.dtype}")
    if X.shape != out.shape or not X.flags.c_contiguous or not out.flags.c_contiguous:
        raise ValueError(f"round_into: X {X.shape} and out {out.shape} must be C-contiguous and of one shape")
    parallel = parallel and X.size >= config.PARALLEL_MIN_ELEMENTS
    if X.ndim == 1 and parallel and X.size >= 2 * _ROW:
        whole = X.size - X.size % _ROW
        _round_parallel(X[:whole].reshape(-1, _ROW).view(np.uint32), out[:whole].reshape(-1, _ROW))
        X, out = X[whole:], out[whole:]
        parallel = False
    bits, out = _rows(X).view(np.uint32), _rows(out)
    kernel = _round_parallel if parallel and bits.shape[0] > 1 else _round_serial
    kernel(bits, out)


def rounded(X):
    """A new C-ordered uint16 array of the bfloat16 bits of ``X`` (any real array; not for hot paths)."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    out = np.empty(X.shape, dtype=np.uint16)
    round_into(X, out, parallel=False)
    return out


@njit(**config.JIT_ROW)
def _forward_rows(Z, b, code, slope, A16, start, stop):
    bits = Z.view(np.uint32)
    for i in range(start, stop):
        activation._bias_activation_rows(Z, b, code, slope, Z, True, i, i + 1)
        _round_row(bits, A16, i)


@njit(**config.JIT)
def _forward_serial(Z, b, code, slope, A16):
    _forward_rows(Z, b, code, slope, A16, 0, Z.shape[0])


@njit(**config.JIT_PARALLEL)
def _forward_parallel(Z, b, code, slope, A16):
    for i in prange(Z.shape[0]):
        _forward_rows(Z, b, code, slope, A16, i, i + 1)


def bias_activation_forward(Z, b, code, slope, A16, parallel=True):
    """``Z <- g(Z + b)`` in place (float32), and its bfloat16 copy into ``A16``, in one pass.

    Parameters
    ----------
    Z : ndarray of float32, shape (n, m)
        ``W @ A_prev`` on entry, the activation on exit; C-contiguous.
    b : ndarray of float32, shape (n, 1)
    code : int
        :data:`fastdnn.kernels.activation.CODES`.
    slope : float
    A16 : ndarray of uint16, shape (n, m)
        Written with the bfloat16 bits of the activation.
    parallel : bool

    Notes
    -----
    .. math:: A = g(Z + b), \\qquad A_{16} = \\mathrm{rne}_{16}(A)
    """
    kernel = _forward_parallel if parallel and Z.size >= config.PARALLEL_MIN_ELEMENTS else _forward_serial
    kernel(Z, b, code, slope, A16)


@njit(**config.JIT_ROW)
def _backward_rows(dA, A, code, slope, db, dZ16, start, stop):
    bits = dA.view(np.uint32)
    for i in range(start, stop):
        activation._derivative_times_rows_in_place(dA, A, False, code, slope, 1.0, db, True, i, i + 1)
        _round_row(bits, dZ16, i)


@njit(**config.JIT)
def _backward_serial(dA, A, code, slope, db, dZ16):
    _backward_rows(dA, A, code, slope, db, dZ16, 0, dA.shape[0])


@njit(**config.JIT_PARALLEL)
def _backward_parallel(dA, A, code, slope, db, dZ16):
    for i in prange(dA.shape[0]):
        _backward_rows(dA, A, code, slope, db, dZ16, i, i + 1)


def activation_backward(dA, A, code, slope, db, dZ16, parallel=True):
    """``dA <- dA * g'(Z)`` in place (it becomes ``dZ``), ``db`` its row sums, and ``dZ``'s bfloat16 copy.

    Parameters
    ----------
    dA : ndarray of float32, shape (n, m)
        C-contiguous; ``dZ`` on exit.
    A : ndarray of float32, shape (n, m)
        The layer's activation ``g(Z)``.
    code : int
    slope : float
    db : ndarray of float32, shape (n, 1)
        Written with ``dZ``'s row sums.
    dZ16 : ndarray of uint16, shape (n, m)
    parallel : bool

    Notes
    -----
    .. math:: dZ = dA \\odot g'(Z), \\quad db = \\sum_j dZ_{:,j}, \\quad dZ_{16} = \\mathrm{rne}_{16}(dZ)
    """
    kernel = _backward_parallel if parallel and dA.size >= config.PARALLEL_MIN_ELEMENTS else _backward_serial
    kernel(dA, A, code, slope, db, dZ16)
