"""Output layers: cross-entropy costs and their gradients, softmax.

Each kernel writes the cost into ``out[0]`` (kernels return nothing).  The
binary kernels are serial; the softmax kernels split large inputs into fixed
blocks and run the blocks on Numba's threads.
"""

import math
import threading

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from .. import config
from . import scalar


# ------------------------------------------------- cost on probabilities


@njit(**config.JIT)
def binary_cross_entropy(AL, Y, out):
    """Cross-entropy of probabilities, with ``0 * log(0)`` counted as 0.

    Parameters
    ----------
    AL : ndarray of shape (n, m)
        Predicted probabilities.
    Y : ndarray of shape (n, m)
        Labels in {0, 1}.
    out : ndarray of shape (1,)
        Written in place with the cost.

    Returns
    -------
    int
        0; 1 when a label is not 0 or 1; 2 when an ``a`` is not a
        probability (outside [0, 1], or NaN).  The cost is then meaningless:
        the caller's validation says what is wrong.

    Notes
    -----
    .. math:: J = -\\frac{1}{m}\\sum_{ij} y_{ij}\\ln a_{ij} + (1 - y_{ij})\\ln(1 - a_{ij})

    Only the term whose label weight is non-zero is evaluated, so a
    saturated but correct prediction (``a = 1`` with ``y = 1``) costs 0
    instead of NaN.
    """
    total = 0.0
    # Counted, not branched on, so that the loop stays vector code.
    bad_labels = 0
    bad_probabilities = 0
    for i in range(AL.shape[0]):
        for j in range(AL.shape[1]):
            a = AL[i, j]
            y = Y[i, j]
            bad_labels += 1 if (y != 0.0) & (y != 1.0) else 0
            bad_probabilities += 0 if (a >= 0.0) & (a <= 1.0) else 1
            pos = y * scalar.log(a) if y != 0.0 else 0.0
            neg = (1.0 - y) * scalar.log(1.0 - a) if y != 1.0 else 0.0
            total += pos + neg
    out[0] = -total / AL.shape[1]
    if bad_labels:
        return 1
    return 2 if bad_probabilities else 0


# Exact arithmetic: reassociation and reciprocals would round otherwise than the course (see below).
@njit(**config.JIT_EXACT)
def binary_cross_entropy_exact(AL, Y, out):
    """:func:`binary_cross_entropy` rounded as the course's NumPy line rounds it, for the test cases' sizes.

    Parameters
    ----------
    AL : ndarray of shape (n, m)
        Predicted probabilities.
    Y : ndarray of shape (n, m)
        Labels in {0, 1}.
    out : ndarray of shape (1,)
        Written in place with the cost.

    Returns
    -------
    int
        0; 1 when a label is not 0 or 1; 2 when an ``a`` is not a
        probability (outside [0, 1], or NaN).  The cost is then meaningless:
        the caller's validation says what is wrong.

    Notes
    -----
    .. math:: J = -\\frac{1}{m}\\sum_{ij} y_{ij}\\ln a_{ij} + (1 - y_{ij})\\ln(1 - a_{ij})

    Only the term whose label weight is non-zero is evaluated, so a
    saturated but correct prediction (``a = 1`` with ``y = 1``) costs 0
    instead of NaN.
    """
    # The two sums apart and (1/m) times their negatives, with the C library's
    # log (NumPy's values; scalar.log is 1 ulp off at 0.8), as the course's
    # (1./m) * (-np.dot(Y, log(AL).T) - np.dot(1 - Y, log(1 - AL).T)) rounds
    # them: the test case's 0.41493159961539694, not 0.414931599615397.  Only
    # the course's helpers call this, on one output row: the scalar loop is
    # four times slower than the vector loop, hence only up to EXACT_MAX_SIZE
    # entries (the course's test cases have 3 to 5; beyond a few dozen the
    # course's own np.dot sums in another order anyway).
    positive = 0.0
    negative = 0.0
    # Counted, not branched on, so that the loop stays vector code.
    bad_labels = 0
    bad_probabilities = 0
    for i in range(AL.shape[0]):
        for j in range(AL.shape[1]):
            a = np.float64(AL[i, j])  # float64 whatever AL's dtype (Numba's float() keeps float32)
            y = np.float64(Y[i, j])
            bad_labels += 1 if (y != 0.0) & (y != 1.0) else 0
            bad_probabilities += 0 if (a >= 0.0) & (a <= 1.0) else 1
            positive += y * np.log(a) if y != 0.0 else 0.0
            negative += (1.0 - y) * np.log(1.0 - a) if y != 1.0 else 0.0
    out[0] = (1.0 / AL.shape[1]) * (-positive - negative)
    if bad_labels:
        return 1
    return 2 if bad_probabilities else 0


#: Entries up to which :func:`course_cross_entropy` rounds as the course does.
EXACT_MAX_SIZE = 64


def course_cross_entropy(AL, Y, out):
    """The course helpers' cost: :func:`binary_cross_entropy_exact` at the test cases' sizes, else the vector kernel.

    Returns the kernel's status (0, 1 or 2; see :func:`binary_cross_entropy`).
    """
    if AL.size <= EXACT_MAX_SIZE:
        return binary_cross_entropy_exact(AL, Y, out)
    return binary_cross_entropy(AL, Y, out)


@njit(**config.JIT)
def course_sigmoid_output_backward(AL, Y, Z, dZ):
    """The course's first backward step, fused: ``dAL`` then the sigmoid derivative.

    Parameters
    ----------
    AL : ndarray of shape (n, m)
    Y : ndarray of shape (n, m)
    Z : ndarray of shape (n, m)
        Pre-activation of the output layer (from the cache).
    dZ : ndarray of shape (n, m)
        Written in place.

    Notes
    -----
    .. math:: dA = -\\left(\\frac{Y}{A} - \\frac{1 - Y}{1 - A}\\right),
              \\qquad dZ = dA\\,\\sigma(Z)\\,(1 - \\sigma(Z))

    Computed from ``AL`` and ``Z`` exactly as the course does, so caches
    built by hand give the course's numbers.

    Returns
    -------
    int
        0; 1 when a label is not 0 or 1; 2 when ``AL``, ``Z`` or a ``dZ``
        is not finite (``AL`` exactly 0 or 1, where the course's ``dA``
        divides by zero, or a NaN or inf anywhere).
    """
    bad_labels = 0
    check = 0.0
    for i in range(AL.shape[0]):
        for j in range(AL.shape[1]):
            a = AL[i, j]
            y = Y[i, j]
            bad_labels += 1 if (y != 0.0) & (y != 1.0) else 0
            da = -(y / a - (1.0 - y) / (1.0 - a))
            # s in the arrays' precision, bit for bit the forward pass's AL
            # (the same helper), so that (1 - s) / (1 - AL) is 1 even where
            # the output saturates.
            dZ[i, j] = scalar.sigmoid_native(Z[i, j])
            s = dZ[i, j]
            d = da * s * (1.0 - s)
            dZ[i, j] = d
            # AL = inf gives a finite d (0) and so can Z = inf: check all three.
            check += d * 0.0 + a * 0.0 + Z[i, j] * 0.0
    if bad_labels:
        return 1
    return 2 if check != 0.0 else 0


# ------------------------------------------------- costs on logits


@njit(**config.JIT)
def sigmoid_cross_entropy(Z, Y, scale, A, dZ, out):
    """Sigmoid output and its cross-entropy from the logits, stable for any ``Z``.

    Parameters
    ----------
    Z : ndarray of shape (n, m)
        Logits.
    Y : ndarray of shape (n, m)
        Labels in [0, 1].
    scale : float
        Factor of the gradient, usually ``1/m``.
    A : ndarray of shape (n, m)
        Written in place with ``sigmoid(Z)``; may be ``Z``.
    dZ : ndarray of shape (n, m)
        Written in place with ``scale * (A - Y)``.
    out : ndarray of shape (1,)
        Written in place with the mean cost over the ``m`` columns.

    Notes
    -----
    .. math:: J = \\frac{1}{m}\\sum \\max(z, 0) - z y + \\ln(1 + e^{-|z|}),
              \\qquad dZ = s\\,(\\sigma(z) - y)

    No ``log(0)`` and no overflow: logits of magnitude 1e4 are fine.
    """
    total = 0.0
    for i in range(Z.shape[0]):
        if A is Z:
            total += _sigmoid_cross_entropy_row_in_place(Z[i], Y[i], scale, dZ[i])
        else:
            total += _sigmoid_cross_entropy_row(Z[i], Y[i], scale, A[i], dZ[i])
    out[0] = total / Z.shape[1]


@njit(**config.JIT_ROW)
def _sigmoid_cross_entropy_row(z_row, y_row, scale, a_row, dz_row):
    total = 0.0
    for j in range(z_row.size):
        z = z_row[j]
        y = y_row[j]
        total += (z if z > 0.0 else 0.0) - z * y + scalar.log1p(scalar.exp(-abs(z)))
        a = scalar.sigmoid(z)
        a_row[j] = a
        dz_row[j] = scale * (a - y)
    return total


@njit(**config.JIT_ROW)
def _sigmoid_cross_entropy_row_in_place(z_row, y_row, scale, dz_row):
    # The activation overwrites the logits: one name for the buffer, so the
    # loop vectorises (two names fail LLVM's run-time overlap check).
    total = 0.0
    for j in range(z_row.size):
        z = z_row[j]
        y = y_row[j]
        total += (z if z > 0.0 else 0.0) - z * y + scalar.log1p(scalar.exp(-abs(z)))
        a = scalar.sigmoid(z)
        z_row[j] = a
        dz_row[j] = scale * (a - y)
    return total


#: Columns per block of :func:`softmax_cross_entropy`.  Fixed, so that the
#: cost is summed in the same order whatever the number of threads; small
#: enough that a block of Z, Y, P and dZ stays in the L2 cache between passes.
SOFTMAX_BLOCK_COLUMNS = 512


def softmax_cross_entropy(Z, Y, scale, P, dZ, out, shift, norm):
    """Softmax over the rows (classes) of each column and its cross-entropy.

    Parameters
    ----------
    Z : ndarray of shape (k, m)
        Logits, one column per example.
    Y : ndarray of shape (k, m)
        One-hot (or probability) targets.
    scale : float
        Factor of the gradient, usually ``1/m``.
    P : ndarray of shape (k, m)
        Written in place with the class probabilities; may be ``Z``.
    dZ : ndarray of shape (k, m)
        Written in place with ``scale * (P - Y)``.
    out : ndarray of shape (1,)
        Written in place with the mean cost.
    shift : ndarray of shape (m,), float64
        Scratch, written in place; holds each column's log-sum-exp on exit.
    norm : ndarray of shape (m,), float64
        Scratch, written in place (its content on exit is unspecified).
        Must be C-contiguous: for float32 data its bytes hold float32
        per-column values.

    Notes
    -----
    .. math:: J = -\\frac{1}{m}\\sum_{ij} y_{ij}\\,(z_{ij} - \\ell_j),\\quad
              \\ell_j = c_j + \\ln\\sum_i e^{z_{ij} - c_j},\\quad c_j = \\max_i z_{ij},
              \\quad p_{ij} = e^{z_{ij} - \\ell_j}

    The columns are cut into fixed blocks of :data:`SOFTMAX_BLOCK_COLUMNS`;
    within a block the passes walk the rows (each contiguous) and keep one
    running value per column in ``shift`` and ``norm``, so every inner loop
    is unit-stride and vectorises.  ``exp`` is evaluated once per element
    (``p = e^{z - c} / \\sum e^{z - c}``), in the arrays' precision.  Large
    outputs split the blocks over Numba's threads; each block's cost is
    summed in block order, so the result does not depend on the number of
    threads.
    Logits of magnitude 1e4 give finite results.  The scratch vectors are
    taken from the caller so that the hot path allocates nothing.
    """
    parallel = Z.size >= config.PARALLEL_MIN_ELEMENTS and threading.current_thread() is threading.main_thread()
    kernel = _softmax_cross_entropy_parallel if parallel else _softmax_cross_entropy_serial
    # Strided rows of Y are staged through dZ (when dZ is a separate buffer).
    stage_y = not Y.flags.c_contiguous and dZ.flags.c_contiguous and dZ is not Y
    # float32 data keeps its per-column values in float32, in norm's bytes.
    kernel(Z, Y, scale, P, dZ, out, shift, norm, norm.view(np.float32), P is Z, stage_y)


@njit(**config.JIT)
def _softmax_cross_entropy_serial(Z, Y, scale, P, dZ, out, shift, norm, norm32, in_place, stage_y):
    m = Z.shape[1]
    total = 0.0
    for start in range(0, m, SOFTMAX_BLOCK_COLUMNS):
        stop = min(start + SOFTMAX_BLOCK_COLUMNS, m)
        total += _softmax_cross_entropy_block(Z, Y, scale, P, dZ, shift, norm, norm32, (start, stop), in_place,
                                              stage_y)
    out[0] = total / m


@njit(**config.JIT_PARALLEL)
def _softmax_cross_entropy_parallel(Z, Y, scale, P, dZ, out, shift, norm, norm32, in_place, stage_y):
    m = Z.shape[1]
    n_blocks = (m + SOFTMAX_BLOCK_COLUMNS - 1) // SOFTMAX_BLOCK_COLUMNS
    for b in prange(n_blocks):
        start = b * SOFTMAX_BLOCK_COLUMNS
        stop = min(start + SOFTMAX_BLOCK_COLUMNS, m)
        cost = _softmax_cross_entropy_block(Z, Y, scale, P, dZ, shift, norm, norm32, (start, stop), in_place,
                                            stage_y)
        # The block is done with norm: its first slot keeps the block's cost.
        norm[start] = cost
    total = 0.0
    for b in range(n_blocks):
        total += norm[b * SOFTMAX_BLOCK_COLUMNS]
    out[0] = total / m


def _softmax_cross_entropy_block(Z, Y, scale, P, dZ, shift, norm, norm32, cols, in_place, stage_y):
    """The columns ``cols = (start, stop)`` of a softmax: returns the block's :math:`-\\sum y \\ln p` (kernels only).

    Chosen by ``Z``'s dtype when the calling kernel compiles
    (:func:`_softmax_block_for_dtype`): each dtype compiles only its own way
    of keeping the per-column values.
    """
    raise TypeError("_softmax_cross_entropy_block runs inside compiled kernels only")


@njit(**config.JIT_ROW)
def _float32_slots(norm32, start, stop):
    # norm[start:stop] as 2 * (stop - start) float32 slots: the column
    # maxima, then the sums.  Only this block touches them.
    width = stop - start
    return norm32[2 * start:2 * start + width], norm32[2 * start + width:2 * stop]


def _softmax_block_float32(Z, Y, scale, P, dZ, shift, norm, norm32, cols, in_place, stage_y):
    start, stop = cols
    c, s = _float32_slots(norm32, start, stop)
    if stage_y:
        _stage_rows(Y, dZ, start, stop)
        return _softmax_cross_entropy_block_core(Z, dZ, scale, P, dZ, shift, c, s, cols, in_place, True, True)
    return _softmax_cross_entropy_block_core(Z, Y, scale, P, dZ, shift, c, s, cols, in_place, False, True)


def _softmax_block_float64(Z, Y, scale, P, dZ, shift, norm, norm32, cols, in_place, stage_y):
    start, stop = cols
    c = shift[start:stop]
    s = norm[start:stop]
    if stage_y:
        # Y's rows are strided (a one-hot matrix built by fancy indexing is
        # Fortran-ordered): copy the block once into dZ, whose rows are
        # contiguous, so that the three passes reading y vectorise.
        _stage_rows(Y, dZ, start, stop)
        return _softmax_cross_entropy_block_core(Z, dZ, scale, P, dZ, shift, c, s, cols, in_place, True, False)
    return _softmax_cross_entropy_block_core(Z, Y, scale, P, dZ, shift, c, s, cols, in_place, False, False)


@overload(_softmax_cross_entropy_block, jit_options=config.JIT)
def _softmax_block_for_dtype(Z, Y, scale, P, dZ, shift, norm, norm32, cols, in_place, stage_y):
    # A run-time flag would type (and compile) the float32 slots' variants
    # for float64 data too: 2 of the 4 compiles, 4 s of a first fit.  A
    # caller that never stages passes stage_y=None (the native pass: its
    # targets are contiguous) and does not compile the staged variant either.
    unstaged = isinstance(stage_y, types.NoneType)
    if Z.dtype == types.float32:
        return _softmax_block_float32_unstaged if unstaged else _softmax_block_float32
    return _softmax_block_float64_unstaged if unstaged else _softmax_block_float64


def _softmax_block_float32_unstaged(Z, Y, scale, P, dZ, shift, norm, norm32, cols, in_place, stage_y):
    start, stop = cols
    c, s = _float32_slots(norm32, start, stop)
    return _softmax_cross_entropy_block_core(Z, Y, scale, P, dZ, shift, c, s, cols, in_place, False, True)


def _softmax_block_float64_unstaged(Z, Y, scale, P, dZ, shift, norm, norm32, cols, in_place, stage_y):
    start, stop = cols
    return _softmax_cross_entropy_block_core(Z, Y, scale, P, dZ, shift, shift[start:stop], norm[start:stop], cols,
                                             in_place, False, False)


@njit(**config.JIT_ROW)
def _stage_rows(Y, dZ, start, stop):
    for i in range(Y.shape[0]):
        y_src = Y[i, start:stop]
        y_dst = dZ[i, start:stop]
        for j in range(y_dst.size):
            y_dst[j] = y_src[j]


@njit(**config.JIT)
def _softmax_cross_entropy_block_core(Z, Y, scale, P, dZ, shift, c, s, cols, in_place, y_in_dz, separate_slots):
    # c and s: the block's column maxima and sums (shift and norm's slices,
    # or float32 slots for float32 data).  The loops run over slices from 0:
    # an index known to be non-negative needs no wrap-around test, which
    # would halve the vector loops' speed.
    start, stop = cols
    k = Z.shape[0]
    lse = shift[start:stop]
    z0 = Z[0, start:stop]
    for j in range(c.size):
        c[j] = z0[j]
        s[j] = 0.0
    for i in range(1, k):
        zi = Z[i, start:stop]
        for j in range(c.size):
            v = zi[j]
            c[j] = v if v > c[j] else c[j]
    # e = exp(z - c) into P, its column sums into s, -sum y (z - c) into total.
    total = 0.0
    for i in range(k):
        if in_place:
            total += _shifted_exp_row_in_place(Z[i, start:stop], Y[i, start:stop], c, s)
        else:
            total += _shifted_exp_row(Z[i, start:stop], Y[i, start:stop], P[i, start:stop], c, s)
    # log p = (z - c) - ln(sum): the second half of the cost.  ln(sum) goes
    # to a free vector, s becomes 1/sum, shift the log-sum-exp (float64).
    if separate_slots:
        # c and s are float32 slots: c is free once the lse is in shift.
        for j in range(s.size):
            total_j = np.float64(s[j])
            log_norm = scalar.log(total_j)
            lse[j] = np.float64(c[j]) + log_norm
            c[j] = log_norm
            s[j] = 1.0 / total_j
        for i in range(k):
            yi = Y[i, start:stop]
            for j in range(c.size):
                total += yi[j] * c[j]
    else:
        # c is shift itself: ln(sum) goes through s.
        for j in range(s.size):
            s[j] = scalar.log(s[j])
        for i in range(k):
            yi = Y[i, start:stop]
            for j in range(s.size):
                total += yi[j] * s[j]
        for j in range(s.size):
            c[j] = c[j] + s[j]
            s[j] = scalar.exp(-s[j])
    for i in range(k):
        if y_in_dz:
            _normalise_row_y_in_dz(P[i, start:stop], dZ[i, start:stop], scale, s)
        else:
            _normalise_row(P[i, start:stop], Y[i, start:stop], dZ[i, start:stop], scale, s)
    return total


@njit(**config.JIT_ROW)
def _shifted_exp_row(z_row, y_row, p_row, shift, norm):
    total = 0.0
    for j in range(z_row.size):
        z = z_row[j]
        d = z - scalar.like(shift[j], z)
        e = scalar.exp_native(d)
        p_row[j] = e
        norm[j] += e
        total -= y_row[j] * d
    return total


@njit(**config.JIT_ROW)
def _shifted_exp_row_in_place(z_row, y_row, shift, norm):
    # The exponentials overwrite the logits: one name for the buffer, so the
    # loop vectorises (two names fail LLVM's run-time overlap check).
    total = 0.0
    for j in range(z_row.size):
        z = z_row[j]
        d = z - scalar.like(shift[j], z)
        e = scalar.exp_native(d)
        z_row[j] = e
        norm[j] += e
        total -= y_row[j] * d
    return total


@njit(**config.JIT_ROW)
def _normalise_row(p_row, y_row, dz_row, scale, inverse_norm):
    for j in range(p_row.size):
        e = p_row[j]
        p = e * scalar.like(inverse_norm[j], e)
        p_row[j] = p
        dz_row[j] = scalar.like(scale, e) * (p - y_row[j])


@njit(**config.JIT_ROW)
def _normalise_row_y_in_dz(p_row, dz_row, scale, inverse_norm):
    # dz_row holds y on entry (see stage_y): one name, so the loop vectorises.
    for j in range(p_row.size):
        e = p_row[j]
        p = e * scalar.like(inverse_norm[j], e)
        p_row[j] = p
        dz_row[j] = scalar.like(scale, e) * (p - dz_row[j])


#: Rows per block of :func:`softmax_rows`.
SOFTMAX_BLOCK_ROWS = 1024


def softmax_rows(X, out):
    """Softmax of each row, shifted by the row's maximum (no overflow).

    Parameters
    ----------
    X : ndarray of shape (n, k)
    out : ndarray of shape (n, k)
        Written in place; may be ``X``.

    Notes
    -----
    .. math:: s_{ij} = e^{x_{ij} - c_i} / \\sum_l e^{x_{il} - c_i}

    Rows are short (a few classes), so a loop along a row hardly vectorises.
    Instead ``x - c`` is written to ``out`` block by block, ``exp`` runs over
    the block as one contiguous vector (once per element, in the arrays'
    precision), and the rows are normalised last.  Large inputs split the
    row blocks over Numba's threads.
    """
    if not out.flags.c_contiguous:
        _softmax_rows_strided(X, out)
        return
    parallel = X.size >= config.PARALLEL_MIN_ELEMENTS and threading.current_thread() is threading.main_thread()
    kernel = _softmax_rows_parallel if parallel else _softmax_rows_serial
    kernel(X, out, out.reshape(-1))


@njit(**config.JIT)
def _softmax_rows_serial(X, out, out_flat):
    n = X.shape[0]
    for start in range(0, n, SOFTMAX_BLOCK_ROWS):
        _softmax_rows_block(X, out, out_flat, start, min(start + SOFTMAX_BLOCK_ROWS, n))


@njit(**config.JIT_PARALLEL)
def _softmax_rows_parallel(X, out, out_flat):
    n = X.shape[0]
    n_blocks = (n + SOFTMAX_BLOCK_ROWS - 1) // SOFTMAX_BLOCK_ROWS
    for b in prange(n_blocks):
        start = b * SOFTMAX_BLOCK_ROWS
        _softmax_rows_block(X, out, out_flat, start, min(start + SOFTMAX_BLOCK_ROWS, n))


@njit(**config.JIT)
def _softmax_rows_block(X, out, out_flat, start, stop):
    # out_flat is out as one C-ordered vector.
    k = X.shape[1]
    for i in range(start, stop):
        c = X[i, 0]
        for j in range(1, k):
            v = X[i, j]
            c = v if v > c else c
        for j in range(k):
            out[i, j] = X[i, j] - c
    _exp_in_place(out_flat[start * k:stop * k])
    for i in range(start, stop):
        total = out[i, 0]
        for j in range(1, k):
            total += out[i, j]
        inverse = 1.0 / total
        for j in range(k):
            out[i, j] = out[i, j] * inverse


@njit(**config.JIT_ROW)
def _exp_in_place(v):
    for j in range(v.size):
        v[j] = scalar.exp_native(v[j])


@njit(**config.JIT)
def _softmax_rows_strided(X, out):
    # Any layout: one row at a time.
    for i in range(X.shape[0]):
        c = -np.inf
        for j in range(X.shape[1]):
            c = max(c, X[i, j])
        total = 0.0
        for j in range(X.shape[1]):
            e = scalar.exp(X[i, j] - c)
            out[i, j] = e
            total += e
        for j in range(X.shape[1]):
            out[i, j] = out[i, j] / total


# ------------------------------------------------- squared error, and the outputs by code


@njit(**config.JIT)
def squared_error(Z, Y, scale, dZ, out):
    """Halved squared error of a linear output and its gradient.

    Parameters
    ----------
    Z : ndarray of shape (n, m)
        The outputs (a linear layer's logits are its outputs).
    Y : ndarray of shape (n, m)
    scale : float
        Factor of the gradient, usually ``1/m``.
    dZ : ndarray of shape (n, m)
        Written in place with ``scale * (Z - Y)``.
    out : ndarray of shape (1,)
        Written in place with the mean cost over the ``m`` columns.

    Notes
    -----
    .. math:: J = \\frac{1}{2m}\\sum_{ij} (z_{ij} - y_{ij})^2, \\qquad dZ = s\\,(Z - Y)
    """
    total = 0.0
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            d = Z[i, j] - Y[i, j]
            total += d * d
            dZ[i, j] = scale * d
    out[0] = 0.5 * total / Z.shape[1]


#: Codes of the output layers for the native kernels (:data:`fastdnn.outputs.OUTPUTS` names them).
SIGMOID_OUTPUT = 0
SOFTMAX_OUTPUT = 1
LINEAR_OUTPUT = 2
POISSON_OUTPUT = 3


@njit(**config.JIT)
def _poisson_term(z, y):
    # y log(y / mu) - y + mu with mu = e^z: the Poisson deviance's half, 0 at mu = y (y log y is 0 at y = 0).
    mu = math.exp(z)
    return (y * math.log(y) if y > 0.0 else 0.0) - y * z - y + mu, mu


@njit(**config.JIT)
def poisson_deviance(Z, Y, scale, A, dZ, out):
    """Exponential outputs with the Poisson deviance (halved), from the log-means ``Z``.

    Parameters
    ----------
    Z : ndarray of shape (n, m)
        Log-means (the last layer's pre-activations).
    Y : ndarray of shape (n, m)
        Counts or rates, non-negative.
    scale : float
    A : ndarray of shape (n, m)
        Written with the means :math:`\\mu = e^z` (may be ``Z``).
    dZ : ndarray of shape (n, m)
        Written with ``scale * (mu - Y)``.
    out : ndarray of shape (1,)
        Written with the mean cost over the ``m`` columns.

    Notes
    -----
    .. math:: J = \\frac{1}{m}\\sum_{ij} y_{ij}\\ln\\frac{y_{ij}}{\\mu_{ij}} - y_{ij} + \\mu_{ij},
              \\qquad \\mu = e^{z}, \\quad dZ = s\\,(\\mu - Y)

    scikit-learn's ``MLPRegressor(loss="poisson")`` loss, whose gradient in
    ``z`` is the same ``mu - y`` as the other outputs'.
    """
    total = 0.0
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            term, mu = _poisson_term(np.float64(Z[i, j]), np.float64(Y[i, j]))
            total += term
            A[i, j] = mu
            dZ[i, j] = scale * (mu - Y[i, j])
    out[0] = total / Z.shape[1]


@njit(**config.JIT)
def output_serial(code, Z, Y, scale, dZ, out, shift, norm):
    """The output layer of ``code`` on one thread: ``Z`` becomes the outputs, ``dZ`` their gradient, ``out[0]`` the mean cost.

    The kernels :data:`fastdnn.outputs.OUTPUTS` runs on whole batches, for
    the native column blocks (``shift``/``norm``: the softmax's float64
    scratch of ``m`` columns).
    """
    if code == SOFTMAX_OUTPUT:
        _softmax_cross_entropy_serial(Z, Y, scale, Z, dZ, out, shift, norm, norm.view(np.float32), True, None)
    elif code == SIGMOID_OUTPUT:
        sigmoid_cross_entropy(Z, Y, scale, Z, dZ, out)
    elif code == POISSON_OUTPUT:
        poisson_deviance(Z, Y, scale, Z, dZ, out)
    else:
        squared_error(Z, Y, scale, dZ, out)


# ------------------------------------------------- sample weights


@njit(**config.JIT)
def weighted_output_cost(code, Z, Y, w, w_start):
    """The weighted mean cost of the logits ``Z`` of the output ``code``, read before the output kernel turns them into outputs.

    Parameters
    ----------
    code : int
        :data:`SIGMOID_OUTPUT`, :data:`SOFTMAX_OUTPUT` or :data:`LINEAR_OUTPUT`.
    Z : ndarray of shape (n, c)
        Logits (not changed).
    Y : ndarray of shape (n, c)
    w : ndarray of float64, shape (>= w_start + c,)
        Column ``j``'s weight is ``w[w_start + j]``; the batch's weights are
        normalised to a mean of 1 (:func:`normalise_weights`).
    w_start : int

    Returns
    -------
    float
        :math:`\\frac{1}{c}\\sum_j w_j \\ell_j`, the same per-column cost as
        the unweighted kernels: sigmoid cross-entropy from the logits,
        softmax cross-entropy by the log-sum-exp, halved squared error.
    """
    k, c = Z.shape
    total = 0.0
    for j in range(c):
        cost = 0.0
        if code == SOFTMAX_OUTPUT:
            top = np.float64(Z[0, j])
            for i in range(1, k):
                top = max(top, np.float64(Z[i, j]))
            norm = 0.0
            for i in range(k):
                norm += math.exp(np.float64(Z[i, j]) - top)
            lse = top + math.log(norm)
            for i in range(k):
                cost -= np.float64(Y[i, j]) * (np.float64(Z[i, j]) - lse)
        elif code == SIGMOID_OUTPUT:
            for i in range(k):
                z = np.float64(Z[i, j])
                cost += (z if z > 0.0 else 0.0) - z * np.float64(Y[i, j]) + math.log1p(math.exp(-abs(z)))
        elif code == POISSON_OUTPUT:
            for i in range(k):
                cost += _poisson_term(np.float64(Z[i, j]), np.float64(Y[i, j]))[0]
        else:
            for i in range(k):
                d = np.float64(Z[i, j]) - np.float64(Y[i, j])
                cost += 0.5 * d * d
        total += w[w_start + j] * cost
    return total / c


@njit(**config.JIT)
def weigh_columns(dZ, w, w_start):
    """``dZ[:, j] *= w[w_start + j]``: the output gradient of a weighted batch."""
    for i in range(dZ.shape[0]):
        for j in range(dZ.shape[1]):
            dZ[i, j] = dZ[i, j] * w[w_start + j]


def normalise_weights(weights, out):
    """Write into ``out`` the batch's ``weights`` scaled to a mean of 1; returns their sum.

    With normalised weights every route keeps its unweighted arithmetic: a
    column block's cost stays the mean over its columns and the gradient's
    scale ``1/b``, and together they give scikit-learn's
    :math:`\\sum_j w_j \\ell_j / \\sum_j w_j`.  A batch whose weights sum to
    0 gets zero weights and no L2 term: it moves nothing.  The weights
    are first divided by the largest, so that neither subnormal weights
    nor a sum beyond float64's range break the scaling.
    """
    top = float(weights.max()) if weights.size else 0.0
    if not top > 0.0:
        out[...] = 0.0
        return 0.0
    np.divide(weights, top, out=out)
    scaled = float(out.sum())  # in [1, size]
    np.multiply(out, weights.size / scaled, out=out)
    return scaled * top
