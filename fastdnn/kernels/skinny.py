"""The products of a narrow layer over the course's F-ordered input.

The course's first layer is narrow and its input is wide: ``W1`` of 7 x
12288 (the two-layer model) against ``X`` of 12288 x 209, F-ordered
(``X.T`` is C-contiguous, one row per example).  BLAS packs ``X`` into
panels for the product and, with so few rows in ``W1``, spends more time
moving ``X`` than multiplying.  :func:`forward` reads ``X`` in place: tiles
of 4 rows of ``W`` by 4 examples over a piece of the depth that stays in
L1, ranges of examples on Numba's threads.

:func:`weight_gradient` (``dW = s dZ X^T``) and :func:`input_gradient`
(``W^T dZ``, written as rows so that its transpose has ``X``'s F order) are
little faster than BLAS alone (7 units on the AMD EPYC: 1.26-1.4 and 1.9 ms
against 1.29 and 1.15-1.9 ms; the weight gradient on the Xeon since its
four-row tiles: 0.86 against 0.96 ms), but they keep the whole layer on Numba's
threads: a
multi-threaded BLAS call leaves OpenBLAS's threads spinning for about 0.1 s,
and the next iteration's :func:`forward` then shares the cores with them.
In the course's two-layer loop: 5.4-6.1 ms an iteration with all three
here, 6.7-7.4 ms with the gradients on BLAS (reference 7.7-8.8 ms).

Loops run over unsigned ranges: with a signed index that starts anywhere
but 0, Numba's negative-index check stays in the loop and it runs several
times slower.  The chunks depend on the shapes only, so results do not
depend on the number of threads.
"""

import numpy as np
from numba import njit, prange

from .. import config
from . import scalar

#: Bytes of each row that one piece of :func:`forward` keeps in L1: four
#: rows of ``X.T`` and four of ``W``, 32 KB in all.
_FORWARD_PIECE_BYTES = 4096
#: Examples per tile of :func:`forward`.
_GROUP = 4


def forward_piece(itemsize):
    """The depth piece of :func:`forward`: 4 KB of a row (512 values in float64, 1024 in float32)."""
    return _FORWARD_PIECE_BYTES // itemsize


@njit(**config.JIT_ROW)
def _tile44(W, XT, i, j, k0, k1, Z):
    # Z[i:i+4, j:j+4] += W[i:i+4, k0:k1] @ XT[j:j+4, k0:k1].T: sixteen sums in
    # registers, each value loaded once for four of them.  Rows past the last
    # of W repeat it and are not written, so every layer takes this loop.
    n = W.shape[0]
    r1 = min(i + 1, n - 1)
    r2 = min(i + 2, n - 1)
    r3 = min(i + 3, n - 1)
    a0 = a1 = a2 = a3 = 0.0
    b0 = b1 = b2 = b3 = 0.0
    c0 = c1 = c2 = c3 = 0.0
    e0 = e1 = e2 = e3 = 0.0
    for k in range(np.uint64(k0), np.uint64(k1)):
        x0 = XT[j, k]
        x1 = XT[j + 1, k]
        x2 = XT[j + 2, k]
        x3 = XT[j + 3, k]
        w = W[i, k]
        a0, a1, a2, a3 = a0 + w * x0, a1 + w * x1, a2 + w * x2, a3 + w * x3
        w = W[r1, k]
        b0, b1, b2, b3 = b0 + w * x0, b1 + w * x1, b2 + w * x2, b3 + w * x3
        w = W[r2, k]
        c0, c1, c2, c3 = c0 + w * x0, c1 + w * x1, c2 + w * x2, c3 + w * x3
        w = W[r3, k]
        e0, e1, e2, e3 = e0 + w * x0, e1 + w * x1, e2 + w * x2, e3 + w * x3
    Z[i, j] += a0
    Z[i, j + 1] += a1
    Z[i, j + 2] += a2
    Z[i, j + 3] += a3
    if i + 1 < n:
        Z[i + 1, j] += b0
        Z[i + 1, j + 1] += b1
        Z[i + 1, j + 2] += b2
        Z[i + 1, j + 3] += b3
    if i + 2 < n:
        Z[i + 2, j] += c0
        Z[i + 2, j + 1] += c1
        Z[i + 2, j + 2] += c2
        Z[i + 2, j + 3] += c3
    if i + 3 < n:
        Z[i + 3, j] += e0
        Z[i + 3, j + 1] += e1
        Z[i + 3, j + 2] += e2
        Z[i + 3, j + 3] += e3


@njit(**config.JIT_ROW)
def _dot(W, XT, i, j, k0, k1):
    total = 0.0
    for k in range(np.uint64(k0), np.uint64(k1)):
        total += W[i, k] * XT[j, k]
    return total


@njit(**config.JIT_PARALLEL)
def forward(W, XT, piece, tasks, Z):
    """``Z = W @ XT.T``: a narrow layer's product over examples stored as rows.

    Parameters
    ----------
    W : ndarray of shape (n, k), C-contiguous
    XT : ndarray of shape (m, k), C-contiguous
        ``X.T`` of the course's F-ordered ``X``.
    piece : int
        Depth piece (:func:`forward_piece`): four examples' piece of ``X``
        stays in L1 while every row of ``W`` passes over it.
    tasks : int
        Ranges of examples for the threads, one per core.  The result does
        not depend on it.
    Z : ndarray of shape (n, m)
        Written in place.

    Notes
    -----
    .. math:: Z_{ij} = \\sum_k W_{ik} X_{kj}

    ``X`` is read from memory once, in four-example tiles; each tile's
    piece is then read from L1 for every four rows of ``W`` (7 units over
    the cat images, 2-core Xeon: 0.67 ms, against 0.96 ms with pieces of
    ``W`` kept in L2 and 1.34 ms for BLAS).
    """
    n, depth = W.shape
    m = XT.shape[0]
    groups = (m + _GROUP - 1) // _GROUP
    tasks = max(1, min(groups, tasks))
    per = (groups + tasks - 1) // tasks
    for task in prange(tasks):
        j0 = min(m, task * per * _GROUP)
        j1 = min(m, (task + 1) * per * _GROUP)
        for i in range(n):
            for j in range(j0, j1):
                Z[i, j] = 0.0
        j = j0
        while j + _GROUP <= j1:
            for k0 in range(0, depth, piece):
                k1 = min(depth, k0 + piece)
                for i in range(0, n, 4):
                    _tile44(W, XT, i, j, k0, k1, Z)
            j += _GROUP
        for jj in range(j, j1):
            for k0 in range(0, depth, piece):
                k1 = min(depth, k0 + piece)
                for i in range(n):
                    Z[i, jj] += _dot(W, XT, i, jj, k0, k1)


#: Bytes of each row that one piece of :func:`weight_gradient` keeps in L1:
#: four rows of ``X.T`` and four of ``dW``, 16 KB in all.
_GRADIENT_PIECE_BYTES = 2048


def gradient_piece(itemsize):
    """The depth piece of :func:`weight_gradient`: 2 KB of a row (256 values in float64)."""
    return _GRADIENT_PIECE_BYTES // itemsize


@njit(**config.JIT_PARALLEL)
def weight_gradient(dZ, XT, scale, piece, tasks, dW):
    """``dW = scale * dZ @ XT``: a narrow layer's weight gradient over examples stored as rows.

    Parameters
    ----------
    dZ : ndarray of shape (n, m), C-contiguous
    XT : ndarray of shape (m, k), C-contiguous
    scale : float
    piece : int
        Depth piece (:func:`gradient_piece`): four examples' piece of ``X``
        stays in L1 while every row of ``dW`` adds it in.
    tasks : int
        Stripes of columns of ``dW``, one per core.  The result does not
        depend on it.
    dW : ndarray of shape (n, k)
        Written in place.

    Notes
    -----
    .. math:: dW_{ik} = s \\sum_j dZ_{ij} X_{kj}

    Each value of ``dW`` adds the examples four at a time, in order, so the
    sums do not depend on the pieces or the stripes.  Four rows of ``dW``
    take each four-example piece together (7 units over the cat images,
    2-core Xeon: 0.86 ms, against 1.02 ms a row at a time and 0.96 ms for
    BLAS).
    """
    n, m = dZ.shape
    depth = XT.shape[1]
    pieces = (depth + piece - 1) // piece
    tasks = max(1, min(tasks, pieces))
    per = (pieces + tasks - 1) // tasks
    for task in prange(tasks):
        c0 = min(depth, task * per * piece)
        c1 = min(depth, (task + 1) * per * piece)
        for i in range(n):
            for k in range(np.uint64(c0), np.uint64(c1)):
                dW[i, k] = 0.0
        j = 0
        while j + 4 <= m:
            for k0 in range(c0, c1, piece):
                k1 = min(c1, k0 + piece)
                i = 0
                while i + 4 <= n:
                    _add_four_rows(dZ, XT, i, j, k0, k1, dW)
                    i += 4
                while i < n:
                    d0 = dZ[i, j]
                    d1 = dZ[i, j + 1]
                    d2 = dZ[i, j + 2]
                    d3 = dZ[i, j + 3]
                    for k in range(np.uint64(k0), np.uint64(k1)):
                        dW[i, k] += d0 * XT[j, k] + d1 * XT[j + 1, k] + d2 * XT[j + 2, k] + d3 * XT[j + 3, k]
                    i += 1
            j += 4
        for jj in range(j, m):
            for i in range(n):
                d = dZ[i, jj]
                for k in range(np.uint64(c0), np.uint64(c1)):
                    dW[i, k] += d * XT[jj, k]
        for i in range(n):
            for k in range(np.uint64(c0), np.uint64(c1)):
                dW[i, k] *= scale


@njit(**config.JIT_ROW)
def _add_four_rows(dZ, XT, i, j, k0, k1, dW):
    # dW[i:i+4, k0:k1] += dZ[i:i+4, j:j+4] @ XT[j:j+4, k0:k1]: each value of X
    # loaded once for four rows, each row's sum in the order of a row alone.
    p0, p1, p2, p3 = dZ[i, j], dZ[i, j + 1], dZ[i, j + 2], dZ[i, j + 3]
    q0, q1, q2, q3 = dZ[i + 1, j], dZ[i + 1, j + 1], dZ[i + 1, j + 2], dZ[i + 1, j + 3]
    r0, r1, r2, r3 = dZ[i + 2, j], dZ[i + 2, j + 1], dZ[i + 2, j + 2], dZ[i + 2, j + 3]
    s0, s1, s2, s3 = dZ[i + 3, j], dZ[i + 3, j + 1], dZ[i + 3, j + 2], dZ[i + 3, j + 3]
    for k in range(np.uint64(k0), np.uint64(k1)):
        x0 = XT[j, k]
        x1 = XT[j + 1, k]
        x2 = XT[j + 2, k]
        x3 = XT[j + 3, k]
        dW[i, k] += p0 * x0 + p1 * x1 + p2 * x2 + p3 * x3
        dW[i + 1, k] += q0 * x0 + q1 * x1 + q2 * x2 + q3 * x3
        dW[i + 2, k] += r0 * x0 + r1 * x1 + r2 * x2 + r3 * x3
        dW[i + 3, k] += s0 * x0 + s1 * x1 + s2 * x2 + s3 * x3


#: Values of a row of the input gradient written per pass: four rows of 4 KB in float64.
_ROW_PIECE = 512


@njit(**config.JIT_ROW)
def _four_rows(W, dZ, i, j, k0, k1, first, out):
    # out[j:j+4, k0:k1] (+)= dZ[i:i+4, j:j+4]^T W[i:i+4, k0:k1]: each value of W
    # read once for four rows of out.  Past the last row of W the weights are
    # zero (the last row's values, times 0), so every layer takes this loop.
    n = W.shape[0]
    r1 = min(i + 1, n - 1)
    r2 = min(i + 2, n - 1)
    r3 = min(i + 3, n - 1)
    c0, c1, c2, c3 = dZ[i, j], dZ[i, j + 1], dZ[i, j + 2], dZ[i, j + 3]
    e0, e1, e2, e3 = (dZ[r1, j], dZ[r1, j + 1], dZ[r1, j + 2], dZ[r1, j + 3]) if i + 1 < n else (0.0, 0.0, 0.0, 0.0)
    f0, f1, f2, f3 = (dZ[r2, j], dZ[r2, j + 1], dZ[r2, j + 2], dZ[r2, j + 3]) if i + 2 < n else (0.0, 0.0, 0.0, 0.0)
    h0, h1, h2, h3 = (dZ[r3, j], dZ[r3, j + 1], dZ[r3, j + 2], dZ[r3, j + 3]) if i + 3 < n else (0.0, 0.0, 0.0, 0.0)
    if first:
        for k in range(np.uint64(k0), np.uint64(k1)):
            w0 = W[i, k]
            w1 = W[r1, k]
            w2 = W[r2, k]
            w3 = W[r3, k]
            out[j, k] = c0 * w0 + e0 * w1 + f0 * w2 + h0 * w3
            out[j + 1, k] = c1 * w0 + e1 * w1 + f1 * w2 + h1 * w3
            out[j + 2, k] = c2 * w0 + e2 * w1 + f2 * w2 + h2 * w3
            out[j + 3, k] = c3 * w0 + e3 * w1 + f3 * w2 + h3 * w3
    else:
        for k in range(np.uint64(k0), np.uint64(k1)):
            w0 = W[i, k]
            w1 = W[r1, k]
            w2 = W[r2, k]
            w3 = W[r3, k]
            out[j, k] += c0 * w0 + e0 * w1 + f0 * w2 + h0 * w3
            out[j + 1, k] += c1 * w0 + e1 * w1 + f1 * w2 + h1 * w3
            out[j + 2, k] += c2 * w0 + e2 * w1 + f2 * w2 + h2 * w3
            out[j + 3, k] += c3 * w0 + e3 * w1 + f3 * w2 + h3 * w3


@njit(**config.JIT_ROW)
def _coefficients(dZ, i, j):
    # dZ[i, j:j+4], or zeros past the last row.
    if i < dZ.shape[0]:
        return dZ[i, j], dZ[i, j + 1], dZ[i, j + 2], dZ[i, j + 3]
    return 0.0, 0.0, 0.0, 0.0


@njit(**config.JIT_ROW)
def _eight_rows(W, dZ, j, out):
    # out[j:j+4, :] = dZ[:8, j:j+4]^T W[:8, :] for a W of 5 to 8 rows, in one
    # pass: each row of out written once (two passes of _four_rows store it
    # twice and read it back once).  Rows past the last repeat it, times 0.
    n, depth = W.shape
    r4 = min(4, n - 1)
    r5 = min(5, n - 1)
    r6 = min(6, n - 1)
    r7 = min(7, n - 1)
    a0, a1, a2, a3 = _coefficients(dZ, 0, j)
    b0, b1, b2, b3 = _coefficients(dZ, 1, j)
    c0, c1, c2, c3 = _coefficients(dZ, 2, j)
    e0, e1, e2, e3 = _coefficients(dZ, 3, j)
    f0, f1, f2, f3 = _coefficients(dZ, 4, j)
    g0, g1, g2, g3 = _coefficients(dZ, 5, j)
    h0, h1, h2, h3 = _coefficients(dZ, 6, j)
    p0, p1, p2, p3 = _coefficients(dZ, 7, j)
    for k in range(np.uint64(depth)):
        w0 = W[0, k]
        w1 = W[1, k]
        w2 = W[2, k]
        w3 = W[3, k]
        w4 = W[r4, k]
        w5 = W[r5, k]
        w6 = W[r6, k]
        w7 = W[r7, k]
        out[j, k] = (a0 * w0 + b0 * w1 + c0 * w2 + e0 * w3) + (f0 * w4 + g0 * w5 + h0 * w6 + p0 * w7)
        out[j + 1, k] = (a1 * w0 + b1 * w1 + c1 * w2 + e1 * w3) + (f1 * w4 + g1 * w5 + h1 * w6 + p1 * w7)
        out[j + 2, k] = (a2 * w0 + b2 * w1 + c2 * w2 + e2 * w3) + (f2 * w4 + g2 * w5 + h2 * w6 + p2 * w7)
        out[j + 3, k] = (a3 * w0 + b3 * w1 + c3 * w2 + e3 * w3) + (f3 * w4 + g3 * w5 + h3 * w6 + p3 * w7)


@njit(**config.JIT_PARALLEL)
def input_gradient(W, dZ, tasks, out):
    """``out = (W.T @ dZ).T``: the gradient with respect to the input, one row per example.

    Parameters
    ----------
    W : ndarray of shape (n, k), C-contiguous
    dZ : ndarray of shape (n, m), C-contiguous
    tasks : int
        Ranges of examples (rows of ``out``), one per core.  The result does
        not depend on it.
    out : ndarray of shape (m, k), C-contiguous
        Written in place; ``out.T`` is the ``(k, m)`` gradient, F-ordered.

    Notes
    -----
    .. math:: dA_{kj} = \\sum_i W_{ik}\\, dZ_{ij}

    Four rows of ``out`` at a time, a piece of them small enough to stay in
    L1 while the rows of ``W`` are added four by four: ``W`` is read once
    per four examples (7 units over the cat images: 1.3 ms, against 1.9-2.1
    ms one example at a time and 1.15-2.0 ms for BLAS).  A layer of 5 to 8
    units takes all its rows in one pass, so each value of ``out`` is
    stored once (7 units, 2-core Xeon: 0.80 against 1.02 ms).
    """
    n, depth = W.shape
    m = dZ.shape[1]
    groups = (m + 3) // 4
    tasks = max(1, min(groups, tasks))
    per = (groups + tasks - 1) // tasks
    for task in prange(tasks):
        for group in range(task * per, min(groups, (task + 1) * per)):
            j = group * 4
            if j + 4 <= m and 4 < n <= 8:
                _eight_rows(W, dZ, j, out)
            elif j + 4 <= m:
                for k0 in range(0, depth, _ROW_PIECE):
                    k1 = min(depth, k0 + _ROW_PIECE)
                    for i in range(0, n, 4):
                        _four_rows(W, dZ, i, j, k0, k1, i == 0, out)
            else:
                for jj in range(j, m):
                    for k in range(depth):
                        out[jj, k] = 0.0
                    for i in range(n):
                        d = dZ[i, jj]
                        for k in range(depth):
                            out[jj, k] += d * W[i, k]


@njit(**config.JIT_ROW)
def _logistic_unit(z, y, scale, j, Z, A, dZ):
    # The course's sigmoid and its gradient at the output, for example j.
    Z[j] = z
    a = scalar.sigmoid(z)
    A[j] = a
    d = scale * (a - y)
    dZ[j] = d
    return d


@njit(**config.JIT_PARALLEL)
def logistic_pass(XT, w, b, Y, scale, partial, Z, A, dZ, dw):
    """One unit's sigmoid output and its weight gradient, reading the input once.

    Parameters
    ----------
    XT : ndarray of shape (m, k), C-contiguous
        ``X.T`` of the course's F-ordered ``X``: one example per row.
    w : ndarray of shape (k,)
    b : float
    Y : ndarray of shape (m,)
        Labels.
    scale : float
        Factor of the gradient, usually ``1/m``.
    partial : ndarray of shape (tasks, k)
        Scratch: one weight gradient per range of examples, one range per
        core; their sum is ``dw``.
    Z : ndarray of shape (m,)
        Written in place with the logits, for the caller to check: under
        fastdnn's fastmath flags ``np.isfinite`` of a computed value can be
        folded to True, a value read back from memory is tested as it is.
    A : ndarray of shape (m,)
        Written in place with the activations.
    dZ : ndarray of shape (m,)
        Written in place with ``scale * (A - Y)``.
    dw : ndarray of shape (k,)
        Written in place.

    Notes
    -----
    .. math:: a_j = \\sigma(w^T x_j + b),\\quad dz_j = s\\,(a_j - y_j),\\quad
              dw = \\sum_j dz_j\\, x_j

    Two matrix-vector products read ``X`` twice from memory.  Here each pass
    over the depth adds four examples into the gradient while it forms the
    next four examples' logits, so ``X`` comes from memory once (and from L2
    once more).  The sum over the ranges of examples follows the number of
    ranges, as BLAS's sums follow its threads.
    """
    m, depth = XT.shape
    tasks = partial.shape[0]
    for task in prange(tasks):
        j0 = task * m // tasks
        j1 = (task + 1) * m // tasks
        for k in range(np.uint64(depth)):
            partial[task, k] = 0.0
        s0 = s1 = s2 = s3 = 0.0
        j = j0
        if j + 4 <= j1:
            for k in range(np.uint64(depth)):
                wk = w[k]
                s0 += XT[j, k] * wk
                s1 += XT[j + 1, k] * wk
                s2 += XT[j + 2, k] * wk
                s3 += XT[j + 3, k] * wk
        while j + 4 <= j1:
            d0 = _logistic_unit(s0 + b, Y[j], scale, j, Z, A, dZ)
            d1 = _logistic_unit(s1 + b, Y[j + 1], scale, j + 1, Z, A, dZ)
            d2 = _logistic_unit(s2 + b, Y[j + 2], scale, j + 2, Z, A, dZ)
            d3 = _logistic_unit(s3 + b, Y[j + 3], scale, j + 3, Z, A, dZ)
            s0 = s1 = s2 = s3 = 0.0
            if j + 8 <= j1:
                for k in range(np.uint64(depth)):
                    wk = w[k]
                    partial[task, k] += d0 * XT[j, k] + d1 * XT[j + 1, k] + d2 * XT[j + 2, k] + d3 * XT[j + 3, k]
                    s0 += XT[j + 4, k] * wk
                    s1 += XT[j + 5, k] * wk
                    s2 += XT[j + 6, k] * wk
                    s3 += XT[j + 7, k] * wk
            else:
                for k in range(np.uint64(depth)):
                    partial[task, k] += d0 * XT[j, k] + d1 * XT[j + 1, k] + d2 * XT[j + 2, k] + d3 * XT[j + 3, k]
            j += 4
        while j < j1:
            s0 = 0.0
            for k in range(np.uint64(depth)):
                s0 += XT[j, k] * w[k]
            d0 = _logistic_unit(s0 + b, Y[j], scale, j, Z, A, dZ)
            for k in range(np.uint64(depth)):
                partial[task, k] += d0 * XT[j, k]
            j += 1
    for k in range(depth):
        total = 0.0
        for task in range(tasks):
            total += partial[task, k]
        dw[k] = total
