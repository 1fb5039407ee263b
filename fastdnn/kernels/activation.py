"""Layer epilogues: bias + activation forward, activation derivative + bias gradient backward.

The matrix product of a layer goes through BLAS; everything after it is a
single pass over the ``(n, m)`` block here, forward and backward side by side.

Arrays are C-contiguous with one row per unit and one column per example
(the course's layout).  Kernels write their outputs in place and return
nothing.  Each comes as a serial and a row-parallel twin sharing one row
routine; :func:`bias_activation_forward` and friends pick the twin by size.
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
CODES = {"linear": LINEAR, "relu": RELU, "sigmoid": SIGMOID, "tanh": TANH, "leaky_relu": LEAKY_RELU}


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


@njit(**config.JIT)
def _bias_activation_row(Z, b, code, slope, A, i):
    # One loop per activation, so that each loop body is branch-free and
    # vectorises; the choice is made once per row.
    bias = b[i, 0]
    z_row = Z[i]
    a_row = A[i]
    if code == RELU:
        for j in range(z_row.size):
            z = z_row[j] + bias
            z_row[j] = z
            a_row[j] = activate(z, RELU, slope)
    elif code == SIGMOID:
        for j in range(z_row.size):
            z = z_row[j] + bias
            z_row[j] = z
            a_row[j] = activate(z, SIGMOID, slope)
    elif code == TANH:
        for j in range(z_row.size):
            z = z_row[j] + bias
            z_row[j] = z
            a_row[j] = activate(z, TANH, slope)
    elif code == LEAKY_RELU:
        for j in range(z_row.size):
            z = z_row[j] + bias
            z_row[j] = z
            a_row[j] = activate(z, LEAKY_RELU, slope)
    else:
        for j in range(z_row.size):
            z = z_row[j] + bias
            z_row[j] = z
            a_row[j] = z


@njit(**config.JIT)
def _bias_activation_row_in_place(Z, b, code, slope, i):
    # Z[i] <- g(Z[i] + b[i]) through a single array: with two names for one
    # buffer LLVM's overlap check fails at run time and the loop runs scalar.
    bias = b[i, 0]
    row = Z[i]
    if code == RELU:
        for j in range(row.size):
            row[j] = activate(row[j] + bias, RELU, slope)
    elif code == SIGMOID:
        for j in range(row.size):
            row[j] = activate(row[j] + bias, SIGMOID, slope)
    elif code == TANH:
        for j in range(row.size):
            row[j] = activate(row[j] + bias, TANH, slope)
    elif code == LEAKY_RELU:
        for j in range(row.size):
            row[j] = activate(row[j] + bias, LEAKY_RELU, slope)
    else:
        for j in range(row.size):
            row[j] = row[j] + bias


@njit(**config.JIT)
def bias_activation_serial(Z, b, code, slope, A, in_place):
    for i in range(Z.shape[0]):
        if in_place:
            _bias_activation_row_in_place(Z, b, code, slope, i)
        else:
            _bias_activation_row(Z, b, code, slope, A, i)


@njit(**config.JIT_PARALLEL)
def _bias_activation_parallel(Z, b, code, slope, A, in_place):
    for i in prange(Z.shape[0]):
        if in_place:
            _bias_activation_row_in_place(Z, b, code, slope, i)
        else:
            _bias_activation_row(Z, b, code, slope, A, i)


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


@njit(**config.JIT)
def _activation_row(Z, code, slope, A, i):
    z_row = Z[i]
    a_row = A[i]
    if code == RELU:
        for j in range(z_row.size):
            a_row[j] = activate(z_row[j], RELU, slope)
    elif code == SIGMOID:
        for j in range(z_row.size):
            a_row[j] = activate(z_row[j], SIGMOID, slope)
    elif code == TANH:
        for j in range(z_row.size):
            a_row[j] = activate(z_row[j], TANH, slope)
    elif code == LEAKY_RELU:
        for j in range(z_row.size):
            a_row[j] = activate(z_row[j], LEAKY_RELU, slope)
    else:
        for j in range(z_row.size):
            a_row[j] = z_row[j]


@njit(**config.JIT)
def activation_serial(Z, code, slope, A):
    for i in range(Z.shape[0]):
        _activation_row(Z, code, slope, A, i)


@njit(**config.JIT_PARALLEL)
def _activation_parallel(Z, code, slope, A):
    for i in prange(Z.shape[0]):
        _activation_row(Z, code, slope, A, i)


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


@njit(**config.JIT)
def _derivative_times_row(da, h, from_pre_activation, code, slope, dz):
    # dz = da * g'(.), one loop per case so that each body vectorises.
    if from_pre_activation and code == SIGMOID:
        for j in range(da.size):
            d = da[j] * derivative_from_output(activate(h[j], SIGMOID, slope), SIGMOID, slope)
            dz[j] = d
    elif from_pre_activation and code == TANH:
        for j in range(da.size):
            d = da[j] * derivative_from_output(activate(h[j], TANH, slope), TANH, slope)
            dz[j] = d
    elif code == SIGMOID:
        for j in range(da.size):
            d = da[j] * derivative_from_output(h[j], SIGMOID, slope)
            dz[j] = d
    elif code == TANH:
        for j in range(da.size):
            d = da[j] * derivative_from_output(h[j], TANH, slope)
            dz[j] = d
    # relu and leaky relu: g'(z) > 0 exactly where z > 0, and there g(z) = z,
    # so the pre-activation and the activation give the same mask.
    elif code == RELU:
        for j in range(da.size):
            d = da[j] if h[j] > 0.0 else 0.0
            dz[j] = d
    elif code == LEAKY_RELU:
        for j in range(da.size):
            d = da[j] if h[j] > 0.0 else da[j] * slope
            dz[j] = d
    else:
        for j in range(da.size):
            d = da[j]
            dz[j] = d


@njit(**config.JIT)
def _derivative_times_row_in_place(da, h, from_pre_activation, code, slope):
    # da <- da * g'(.) through a single name for the buffer, so it vectorises
    # (see _bias_activation_row_in_place).
    if from_pre_activation and code == SIGMOID:
        for j in range(da.size):
            da[j] = da[j] * derivative_from_output(activate(h[j], SIGMOID, slope), SIGMOID, slope)
    elif from_pre_activation and code == TANH:
        for j in range(da.size):
            da[j] = da[j] * derivative_from_output(activate(h[j], TANH, slope), TANH, slope)
    elif code == SIGMOID:
        for j in range(da.size):
            da[j] = da[j] * derivative_from_output(h[j], SIGMOID, slope)
    elif code == TANH:
        for j in range(da.size):
            da[j] = da[j] * derivative_from_output(h[j], TANH, slope)
    elif code == RELU:
        for j in range(da.size):
            da[j] = da[j] if h[j] > 0.0 else 0.0
    elif code == LEAKY_RELU:
        for j in range(da.size):
            da[j] = da[j] if h[j] > 0.0 else da[j] * slope
    # linear: da is already dz.


@njit(**config.JIT)
def _activation_backward_row(dA, H, from_pre_activation, code, slope, scale, dZ, db, with_db, in_place, i):
    if in_place:
        _derivative_times_row_in_place(dA[i], H[i], from_pre_activation, code, slope)
        out = dA[i]
    else:
        _derivative_times_row(dA[i], H[i], from_pre_activation, code, slope, dZ[i])
        out = dZ[i]
    if with_db:
        # A separate pass in a fixed order (the row is still in cache): a sum
        # fused into the loop above rounds as the vectoriser pleases.
        db[i, 0] = reduce.lane_sum(out) * scale


@njit(**config.JIT)
def activation_backward_serial(dA, H, from_pre_activation, code, slope, scale, dZ, db, with_db, in_place):
    for i in range(dA.shape[0]):
        _activation_backward_row(dA, H, from_pre_activation, code, slope, scale, dZ, db, with_db, in_place, i)


@njit(**config.JIT_PARALLEL)
def _activation_backward_parallel(dA, H, from_pre_activation, code, slope, scale, dZ, db, with_db, in_place):
    for i in prange(dA.shape[0]):
        _activation_backward_row(dA, H, from_pre_activation, code, slope, scale, dZ, db, with_db, in_place, i)


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
    parallel = parallel and dA.size >= config.PARALLEL_MIN_ELEMENTS
    kernel = _activation_backward_parallel if parallel else activation_backward_serial
    kernel(dA, H, from_pre_activation, code, slope, scale, dZ, db, with_db, dZ is dA)


@njit(**config.JIT)
def _row_sums_row(dZ, scale, db, i):
    db[i, 0] = reduce.lane_sum(dZ[i]) * scale


@njit(**config.JIT)
def row_sums_serial(dZ, scale, db):
    for i in range(dZ.shape[0]):
        _row_sums_row(dZ, scale, db, i)


@njit(**config.JIT_PARALLEL)
def _row_sums_parallel(dZ, scale, db):
    for i in prange(dZ.shape[0]):
        _row_sums_row(dZ, scale, db, i)


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
