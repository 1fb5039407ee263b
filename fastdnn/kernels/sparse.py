"""The first layer's products on sparse inputs: a batch is a list of rows of a CSR matrix.

A sparse data set stays as scipy gave it (one CSR row per example); a batch
is the indices of its examples, and the products read their nonzeros in
place -- nothing is gathered or densified.  Each kernel splits the layer's
units over Numba's threads: a unit's weights are one row of ``W``, read
(or, for the gradient, written) while it stays in the core's cache.
"""

from numba import njit, prange

from .. import config


@njit(**config.JIT_PARALLEL)
def left_product(W, indptr, indices, values, rows, out):
    """``out = W @ X_b``, ``X_b``'s column ``j`` the CSR row ``rows[j]``.

    Parameters
    ----------
    W : ndarray of shape (n, n_x)
    indptr, indices, values : ndarray
        The CSR arrays of the whole data set (one row per example).
    rows : ndarray of int64, shape (b,)
    out : ndarray of shape (n, b)
        Written in place.

    Notes
    -----
    .. math:: out_{ij} = \\sum_{k \\in \\mathrm{row}(r_j)} W_{i,\\,c_k}\\, v_k
    """
    for i in prange(W.shape[0]):
        for j in range(rows.size):
            r = rows[j]
            acc = 0.0
            for k in range(indptr[r], indptr[r + 1]):
                acc += W[i, indices[k]] * values[k]
            out[i, j] = acc


@njit(**config.JIT_PARALLEL)
def weight_gradient(dZ, indptr, indices, values, rows, scale, dW):
    """``dW = scale * dZ @ X_b^T``: the first layer's weight gradient, scattered from the nonzeros.

    Parameters
    ----------
    dZ : ndarray of shape (n, b)
    indptr, indices, values, rows :
        As for :func:`left_product`.
    scale : float
    dW : ndarray of shape (n, n_x)
        Written in place (zeros where no example of the batch has a value).
    """
    for i in prange(dW.shape[0]):
        for c in range(dW.shape[1]):
            dW[i, c] = 0.0
        for j in range(rows.size):
            d = scale * dZ[i, j]
            if d != 0.0:
                r = rows[j]
                for k in range(indptr[r], indptr[r + 1]):
                    dW[i, indices[k]] += d * values[k]


@njit(**config.JIT)
def all_finite(values):
    """Whether every stored value is finite."""
    check = 0.0
    for k in range(values.size):
        check += values[k] * 0.0
    return check == 0.0
