"""Output probabilities and accuracy counts over an output block ``(k, m)``.

Used by prediction and evaluation, chunk by chunk, and by the trainer to
count the correct answers of each training batch; output blocks are small,
so these kernels are serial.
"""

import numpy as np
from numba import njit

from .. import config
from . import scalar


@njit(**config.JIT)
def softmax_columns(Z, out):
    """Softmax over the rows (classes) of each column, shifted by the column's maximum.

    Parameters
    ----------
    Z : ndarray of shape (k, m)
        Logits, one column per example.
    out : ndarray of shape (k, m)
        Written in place with the class probabilities; may be ``Z``.

    Notes
    -----
    .. math:: p_{ij} = e^{z_{ij} - c_j} / \\sum_l e^{z_{lj} - c_j},\\quad c_j = \\max_l z_{lj}
    """
    k, m = Z.shape
    for j in range(m):
        c = Z[0, j]
        for i in range(1, k):
            c = max(c, Z[i, j])
        total = 0.0
        for i in range(k):
            total += scalar.exp(Z[i, j] - c)
        log_norm = scalar.log(total) + c
        for i in range(k):
            out[i, j] = scalar.exp(Z[i, j] - log_norm)


@njit(**config.JIT_ROW)
def _argmax_column(P, j):
    best = 0
    for i in range(1, P.shape[0]):
        if P[i, j] > P[best, j]:
            best = i
    return best


@njit(**config.JIT)
def count_correct(P, Y, multiclass, out):
    """Number of correct answers of the outputs ``P`` against the targets ``Y``.

    Parameters
    ----------
    P : ndarray of shape (k, m)
        Probabilities.
    Y : ndarray of shape (k, m)
        Targets: one-hot columns (``multiclass``) or 0/1 labels.
    multiclass : bool
        Compare the arg-max of each column (softmax output, one answer per
        example); otherwise threshold each entry at 0.5 (sigmoid outputs,
        one answer per entry).
    out : ndarray of shape (1,)
        Written in place with the count.

    Notes
    -----
    .. math:: \\sum_j [\\arg\\max_i p_{ij} = \\arg\\max_i y_{ij}] \\quad\\text{or}\\quad
              \\sum_{ij} [\\,[p_{ij} > 0.5] = [y_{ij} > 0.5]\\,]
    """
    count = 0
    if multiclass:
        for j in range(P.shape[1]):
            if _argmax_column(P, j) == _argmax_column(Y, j):
                count += 1
    else:
        for i in range(P.shape[0]):
            for j in range(P.shape[1]):
                if (P[i, j] > 0.5) == (Y[i, j] > 0.5):
                    count += 1
    out[0] = count


@njit(**config.JIT)
def argmax_columns(P, out):
    """Row number of the largest entry of each column (the first one on ties).

    Parameters
    ----------
    P : ndarray of shape (k, m)
    out : ndarray of shape (m,), integer
        Written in place.
    """
    for j in range(P.shape[1]):
        out[j] = _argmax_column(P, j)


def empty_count():
    """A one-element float64 buffer for :func:`count_correct`."""
    return np.zeros(1, dtype=np.float64)
