"""The product of a narrow layer over the course's F-ordered input.

The course's first layer is narrow and its input is wide: ``W1`` of 7 x
12288 (the two-layer model) against ``X`` of 12288 x 209, F-ordered
(``X.T`` is C-contiguous, one row per example).  BLAS packs ``X`` into
panels for the product and, with so few rows in ``W1``, spends more time
moving ``X`` than multiplying.  :func:`forward` reads ``X`` in place: tiles
of 2 rows of ``W`` by 4 examples, the depth split into chunks whose slice of
``W`` stays in the core's L2, ranges of examples on Numba's threads.

The gradients of such a layer (``dW = dZ X^T`` and ``W^T dZ``) were written
the same way and measured no faster than BLAS (7 units: 1.26 and 2.1 ms
against 1.29 and 1.15 ms), so they stay BLAS products.

Loops run over unsigned ranges: with a signed index that starts anywhere
but 0, Numba's negative-index check stays in the loop and it runs several
times slower.  The chunks depend on the shapes only, so results do not
depend on the number of threads.
"""

import numpy as np
from numba import njit, prange

from .. import config

#: Bytes of ``W`` that one depth chunk of :func:`forward` keeps in cache.
_FORWARD_CHUNK_BYTES = 320 * 1024
#: Examples per tile of :func:`forward`.
_GROUP = 4


def forward_chunk(n, itemsize):
    """The depth chunk of :func:`forward` for ``n`` rows of ``W``: a multiple of 64, at least 512."""
    return max(512, (_FORWARD_CHUNK_BYTES // (itemsize * max(n, 1))) // 64 * 64)


@njit(**config.JIT_ROW)
def _tile24(W, XT, i, j, k0, k1):
    a0 = a1 = a2 = a3 = 0.0
    b0 = b1 = b2 = b3 = 0.0
    for k in range(np.uint64(k0), np.uint64(k1)):
        w0 = W[i, k]
        w1 = W[i + 1, k]
        x0 = XT[j, k]
        x1 = XT[j + 1, k]
        x2 = XT[j + 2, k]
        x3 = XT[j + 3, k]
        a0 += w0 * x0
        a1 += w0 * x1
        a2 += w0 * x2
        a3 += w0 * x3
        b0 += w1 * x0
        b1 += w1 * x1
        b2 += w1 * x2
        b3 += w1 * x3
    return a0, a1, a2, a3, b0, b1, b2, b3


@njit(**config.JIT_ROW)
def _tile14(W, XT, i, j, k0, k1):
    a0 = a1 = a2 = a3 = 0.0
    for k in range(np.uint64(k0), np.uint64(k1)):
        w0 = W[i, k]
        a0 += w0 * XT[j, k]
        a1 += w0 * XT[j + 1, k]
        a2 += w0 * XT[j + 2, k]
        a3 += w0 * XT[j + 3, k]
    return a0, a1, a2, a3


@njit(**config.JIT_ROW)
def _dot(W, XT, i, j, k0, k1):
    total = 0.0
    for k in range(np.uint64(k0), np.uint64(k1)):
        total += W[i, k] * XT[j, k]
    return total


@njit(**config.JIT_PARALLEL)
def forward(W, XT, chunk, tasks, Z):
    """``Z = W @ XT.T``: a narrow layer's product over examples stored as rows.

    Parameters
    ----------
    W : ndarray of shape (n, k), C-contiguous
    XT : ndarray of shape (m, k), C-contiguous
        ``X.T`` of the course's F-ordered ``X``.
    chunk : int
        Depth chunk (:func:`forward_chunk`).
    tasks : int
        Ranges of examples for the threads, one per core: each range walks
        the depth chunks in order, so its chunk of ``W`` is read from L2 for
        all its examples.  The result does not depend on it.
    Z : ndarray of shape (n, m)
        Written in place.

    Notes
    -----
    .. math:: Z_{ij} = \\sum_k W_{ik} X_{kj}
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
        for k0 in range(0, depth, chunk):
            k1 = min(depth, k0 + chunk)
            j = j0
            while j + _GROUP <= j1:
                for i in range(0, n - 1, 2):
                    a0, a1, a2, a3, b0, b1, b2, b3 = _tile24(W, XT, i, j, k0, k1)
                    Z[i, j] += a0
                    Z[i, j + 1] += a1
                    Z[i, j + 2] += a2
                    Z[i, j + 3] += a3
                    Z[i + 1, j] += b0
                    Z[i + 1, j + 1] += b1
                    Z[i + 1, j + 2] += b2
                    Z[i + 1, j + 3] += b3
                if n % 2:
                    a0, a1, a2, a3 = _tile14(W, XT, n - 1, j, k0, k1)
                    Z[n - 1, j] += a0
                    Z[n - 1, j + 1] += a1
                    Z[n - 1, j + 2] += a2
                    Z[n - 1, j + 3] += a3
                j += _GROUP
            for jj in range(j, j1):
                for i in range(n):
                    Z[i, jj] += _dot(W, XT, i, jj, k0, k1)
