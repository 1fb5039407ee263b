"""Layer epilogues: bias + activation forward, activation derivative + bias gradient backward.

The matrix product of a layer goes through BLAS; everything after it is a
single pass over the ``(n, m)`` block here, forward and backward side by side.

Arrays are C-contiguous with one row per unit and one column per example
(the course's layout).  Kernels write their outputs in place and return
nothing.  Each comes as a serial and a row-parallel twin sharing one routine
over a range of rows (the serial twin passes all rows at once, the parallel
one a row per iteration); :func:`bias_activation_forward` and friends pick
the twin by size.
"""

import numpy as np
from numba import njit, prange

from .. import config
from . import reduce, scalar

# Activation codes, passed to the kernels as plain integers.
LINEAR = 0
RELU = 1
SIGMOID = 2
TANH = 3
LEAKY_RELU = 4

#: Public names of the activations and their kernel codes.
CODES = {"relu": RELU, "tanh": TANH, "sigmoid": SIGMOID, "leaky_relu": LEAKY_RELU, "linear": LINEAR}


@njit(**config.JIT_EXACT)
def activate(z, code, slope):
    """The activation ``g(z)`` of one element (``slope`` is leaky relu's)."""
    if code == RELU:
        # NaN must survive (np.maximum propagates it), hence not just z > 0.
        return 0.0 if z <= 0.0 else z
    # The *_native helpers stay in float32 for float32 input: twice the SIMD lanes.
    if code == SIGMOID:
        return scalar.sigmoid_native(z)
    if code == TANH:
        return scalar.tanh_native(z)
    if code == LEAKY_RELU:
        return slope * z if z <= 0.0 else z
    return z


@njit(**config.JIT_EXACT)
def derivative_from_output(a, code, slope):
    """``g'(z)`` expressed through ``a = g(z)``: what backward needs, without ``z``."""
    if code == RELU:
        return 1.0 if a > 0.0 else 0.0
    if code == SIGMOID:
        return a * (1.0 - a)
    if code == TANH:
        return 1.0 - a * a
    if code == LEAKY_RELU:
        return 1.0 if a > 0.0 else slope
    return 1.0


# ---------------------------------------------------------------- forward


@njit(**config.JIT_ROW)
def _bias_activation_rows(Z, b, code, slope, A, in_place, start, stop):
    # Rows start:stop.  One loop nest per activation, so that each inner loop
    # is branch-free and vectorises, and the choice is made once per call
    # rather than once per row.  In place, Z is read and written through a
    # single name: with two names for one buffer LLVM's overlap check fails
    # at run time and the loop runs scalar.
    m = Z.shape[1]
    if in_place:
        if code == RELU:
            for i in range(start, stop):
                bias = b[i, 0]
                for j in range(m):
                    Z[i, j] = activate(Z[i, j] + bias, RELU, slope)
        elif code == SIGMOID:
            for i in range(start, stop):
                bias = b[i, 0]
                for j in range(m):
                    Z[i, j] = activate(Z[i, j] + bias, SIGMOID, slope)
        elif code == TANH:
            for i in range(start, stop):
                bias = b[i, 0]
                for j in range(m):
                    Z[i, j] = activate(Z[i, j] + bias, TANH, slope)
        elif code == LEAKY_RELU:
            for i in range(start, stop):
                bias = b[i, 0]
                for j in range(m):
                    Z[i, j] = activate(Z[i, j] + bias, LEAKY_RELU, slope)
        else:
            for i in range(start, stop):
                bias = b[i, 0]
                for j in range(m):
                    Z[i, j] = Z[i, j] + bias
        return
    if code == RELU:
        for i in range(start, stop):
            bias = b[i, 0]
            for j in range(m):
                z = Z[i, j] + bias
                Z[i, j] = z
                A[i, j] = activate(z, RELU, slope)
    elif code == SIGMOID:
        for i in range(start, stop):
            bias = b[i, 0]
            for j in range(m):
                z = Z[i, j] + bias
                Z[i, j] = z
                A[i, j] = activate(z, SIGMOID, slope)
    elif code == TANH:
        for i in range(start, stop):
            bias = b[i, 0]
            for j in range(m):
                z = Z[i, j] + bias
                Z[i, j] = z
                A[i, j] = activate(z, TANH, slope)
    elif code == LEAKY_RELU:
        for i in range(start, stop):
            bias = b[i, 0]
            for j in range(m):
                z = Z[i, j] + bias
                Z[i, j] = z
                A[i, j] = activate(z, LEAKY_RELU, slope)
    else:
        for i in range(start, stop):
            bias = b[i, 0]
            for j in range(m):
                z = Z[i, j] + bias
                Z[i, j] = z
                A[i, j] = z


@njit(**config.JIT)
def bias_activation_serial(Z, b, code, slope, A, in_place):
    _bias_activation_rows(Z, b, code, slope, A, in_place, 0, Z.shape[0])


@njit(**config.JIT_PARALLEL)
def _bias_activation_parallel(Z, b, code, slope, A, in_place):
    for i in prange(Z.shape[0]):
        _bias_activation_rows(Z, b, code, slope, A, in_place, i, i + 1)


def bias_activation_forward(Z, b, code, slope, A, parallel=True):
    """Add the bias and apply the activation, in one pass.

    Parameters
    ----------
    Z : ndarray of shape (n, m)
        ``W @ A_prev`` on entry; ``W @ A_prev + b`` on exit (written in place).
    b : ndarray of shape (n, 1)
    code : int
        Activation code (:data:`CODES`).
    slope : float
        Negative-side slope of leaky relu; ignored otherwise.
    A : ndarray of shape (n, m)
        Written in place with ``g(Z)``.  May be ``Z`` itself, when only the
        activation needs to be kept.
    parallel : bool, default True
        Allow the row-parallel twin for large arrays; ``False`` keeps the
        pass on the calling thread (for callers that run their own threads).

    Notes
    -----
    .. math:: Z \\leftarrow Z + b, \\qquad A \\leftarrow g(Z)
    """
    kernel = _bias_activation_parallel if parallel and Z.size >= config.PARALLEL_MIN_ELEMENTS else bias_activation_serial
    kernel(Z, b, code, slope, A, A is Z)


@njit(**config.JIT_ROW)
def _activation_rows(Z, code, slope, A, start, stop):
    m = Z.shape[1]
    if code == RELU:
        for i in range(start, stop):
            for j in range(m):
                A[i, j] = activate(Z[i, j], RELU, slope)
    elif code == SIGMOID:
        for i in range(start, stop):
            for j in range(m):
                A[i, j] = activate(Z[i, j], SIGMOID, slope)
    elif code == TANH:
        for i in range(start, stop):
            for j in range(m):
                A[i, j] = activate(Z[i, j], TANH, slope)
    elif code == LEAKY_RELU:
        for i in range(start, stop):
            for j in range(m):
                A[i, j] = activate(Z[i, j], LEAKY_RELU, slope)
    else:
        for i in range(start, stop):
            for j in range(m):
                A[i, j] = Z[i, j]


@njit(**config.JIT)
def activation_serial(Z, code, slope, A):
    _activation_rows(Z, code, slope, A, 0, Z.shape[0])


@njit(**config.JIT_PARALLEL)
def _activation_parallel(Z, code, slope, A):
    for i in prange(Z.shape[0]):
        _activation_rows(Z, code, slope, A, i, i + 1)


def activation_forward(Z, code, slope, A, parallel=True):
    """Apply the activation alone, ``A = g(Z)`` (written in place).

    Parameters
    ----------
    Z : ndarray of shape (n, m)
    code : int
    slope : float
    A : ndarray of shape (n, m)
        Written in place; a buffer apart from ``Z``.
    parallel : bool, default True
        Allow the row-parallel twin for large arrays.
    """
    if parallel and Z.size >= config.PARALLEL_MIN_ELEMENTS:
        _activation_parallel(Z, code, slope, A)
    else:
        activation_serial(Z, code, slope, A)


# ---------------------------------------------------------------- backward


@njit(**config.JIT_ROW)
def _derivative_times_rows(dA, H, from_pre_activation, code, slope, scale, dZ, db, with_db, start, stop):
    # dZ = dA * g'(.) for rows start:stop, one loop nest per case so that each
    # inner loop vectorises; then db from the row while it is in cache, in a
    # fixed order (a sum fused into the loop would round as the vectoriser
    # pleases).
    m = dA.shape[1]
    for i in range(start, stop):
        if from_pre_activation and code == SIGMOID:
            for j in range(m):
                dZ[i, j] = dA[i, j] * derivative_from_output(activate(H[i, j], SIGMOID, slope), SIGMOID, slope)
        elif from_pre_activation and code == TANH:
            for j in range(m):
                dZ[i, j] = dA[i, j] * derivative_from_output(activate(H[i, j], TANH, slope), TANH, slope)
        elif code == SIGMOID:
            for j in range(m):
                dZ[i, j] = dA[i, j] * derivative_from_output(H[i, j], SIGMOID, slope)
        elif code == TANH:
            for j in range(m):
                dZ[i, j] = dA[i, j] * derivative_from_output(H[i, j], TANH, slope)
        # relu and leaky relu: g'(z) > 0 exactly where z > 0, and there g(z) = z,
        # so the pre-activation and the activation give the same mask.  Masked
        # where z <= 0, as the course's dZ[Z <= 0] = 0: a NaN z keeps dA.
        elif code == RELU:
            for j in range(m):
                dZ[i, j] = 0.0 if H[i, j] <= 0.0 else dA[i, j]
        elif code == LEAKY_RELU:
            for j in range(m):
                dZ[i, j] = dA[i, j] * slope if H[i, j] <= 0.0 else dA[i, j]
        else:
            for j in range(m):
                dZ[i, j] = dA[i, j]
        if with_db:
            db[i, 0] = reduce.row_sum(dZ, i) * scale


@njit(**config.JIT_ROW)
def _derivative_times_rows_in_place(dA, H, from_pre_activation, code, slope, scale, db, with_db, start, stop):
    # The same with dZ = dA, read and written through one name so that the
    # loops vectorise (see _bias_activation_rows).
    m = dA.shape[1]
    for i in range(start, stop):
        if from_pre_activation and code == SIGMOID:
            for j in range(m):
                dA[i, j] = dA[i, j] * derivative_from_output(activate(H[i, j], SIGMOID, slope), SIGMOID, slope)
        elif from_pre_activation and code == TANH:
            for j in range(m):
                dA[i, j] = dA[i, j] * derivative_from_output(activate(H[i, j], TANH, slope), TANH, slope)
        elif code == SIGMOID:
            for j in range(m):
                dA[i, j] = dA[i, j] * derivative_from_output(H[i, j], SIGMOID, slope)
        elif code == TANH:
            for j in range(m):
                dA[i, j] = dA[i, j] * derivative_from_output(H[i, j], TANH, slope)
        elif code == RELU:
            for j in range(m):
                dA[i, j] = 0.0 if H[i, j] <= 0.0 else dA[i, j]
        elif code == LEAKY_RELU:
            for j in range(m):
                dA[i, j] = dA[i, j] * slope if H[i, j] <= 0.0 else dA[i, j]
        # linear: dA is already dZ.
        if with_db:
            db[i, 0] = reduce.row_sum(dA, i) * scale


@njit(**config.JIT_ROW)
def _activation_backward_rows(dA, H, from_pre_activation, code, slope, scale, dZ, db, with_db, in_place, start, stop):
    if in_place:
        _derivative_times_rows_in_place(dA, H, from_pre_activation, code, slope, scale, db, with_db, start, stop)
    else:
        _derivative_times_rows(dA, H, from_pre_activation, code, slope, scale, dZ, db, with_db, start, stop)


@njit(**config.JIT)
def activation_backward_serial(dA, H, from_pre_activation, code, slope, scale, dZ, db, with_db, in_place):
    _activation_backward_rows(dA, H, from_pre_activation, code, slope, scale, dZ, db, with_db, in_place, 0,
                              dA.shape[0])


@njit(**config.JIT_PARALLEL)
def _activation_backward_parallel(dA, H, from_pre_activation, code, slope, scale, dZ, db, with_db, in_place):
    for i in prange(dA.shape[0]):
        _activation_backward_rows(dA, H, from_pre_activation, code, slope, scale, dZ, db, with_db, in_place, i,
                                  i + 1)


def activation_backward(dA, H, from_pre_activation, code, slope, scale, dZ, db, with_db=True, parallel=True):
    """Multiply by the activation's derivative and sum the bias gradient, in one pass.

    Parameters
    ----------
    dA : ndarray of shape (n, m)
        Gradient of the cost with respect to the layer's output.
    H : ndarray of shape (n, m)
        The pre-activation ``Z`` when ``from_pre_activation`` is true (the
        course's caches), otherwise the activation ``A = g(Z)`` (the trainer
        keeps only ``A``).
    from_pre_activation : bool
    code : int
    slope : float
    scale : float
        Factor of the bias gradient (``1/m`` for the course, 1 when the
        caller folded ``1/m`` in earlier).
    dZ : ndarray of shape (n, m)
        Written in place with ``dA * g'(Z)``; may be ``dA`` itself.
    db : ndarray of shape (n, 1)
        Written in place with ``scale * dZ.sum(axis=1)`` when ``with_db``.
    with_db : bool
    parallel : bool, default True
        Allow the row-parallel twin for large arrays.

    Notes
    -----
    .. math:: dZ = dA \\odot g'(Z), \\qquad db = s \\sum_j dZ_{:,j}
    """
    if not dA.flags.writeable:
        # The kernels hold an in-place twin that writes through dA, so Numba
        # cannot compile them for a read-only array; this copy is never written.
        dA = dA.copy()
    parallel = parallel and dA.size >= config.PARALLEL_MIN_ELEMENTS
    kernel = _activation_backward_parallel if parallel else activation_backward_serial
    kernel(dA, H, from_pre_activation, code, slope, scale, dZ, db, with_db, dZ is dA)


@njit(**config.JIT)
def row_sums_serial(dZ, scale, db):
    for i in range(dZ.shape[0]):
        db[i, 0] = reduce.row_sum(dZ, i) * scale


@njit(**config.JIT_PARALLEL)
def _row_sums_parallel(dZ, scale, db):
    for i in prange(dZ.shape[0]):
        db[i, 0] = reduce.row_sum(dZ, i) * scale


def row_sums(dZ, scale, db, parallel=True):
    """Bias gradient of a linear layer, ``db = scale * dZ.sum(axis=1)`` (written in place).

    Parameters
    ----------
    dZ : ndarray of shape (n, m)
    scale : float
    db : ndarray of shape (n, 1)
    parallel : bool, default True
        Allow the row-parallel twin for large arrays.
    """
    if parallel and dZ.size >= config.PARALLEL_MIN_ELEMENTS:
        _row_sums_parallel(dZ, scale, db)
    else:
        row_sums_serial(dZ, scale, db)


def empty_bias_buffer(dtype):
    """A zero-row stand-in for ``db`` when a kernel is asked not to write it."""
    return np.empty((0, 1), dtype=dtype)
