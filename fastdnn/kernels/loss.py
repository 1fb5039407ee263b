"""Output layers: cross-entropy costs and their gradients, softmax.

Each kernel makes one pass over the output block and writes the cost into
``out[0]`` (kernels return nothing).  Output blocks are small (``n_out`` rows
of ``m`` examples), so these kernels are serial.
"""

import numpy as np
from numba import njit

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

    Notes
    -----
    .. math:: J = -\\frac{1}{m}\\sum_{ij} y_{ij}\\ln a_{ij} + (1 - y_{ij})\\ln(1 - a_{ij})

    Only the term whose label weight is non-zero is evaluated, so a
    saturated but correct prediction (``a = 1`` with ``y = 1``) costs 0
    instead of NaN.
    """
    total = 0.0
    for i in range(AL.shape[0]):
        for j in range(AL.shape[1]):
            a = AL[i, j]
            y = Y[i, j]
            pos = y * scalar.log(a) if y != 0.0 else 0.0
            neg = (1.0 - y) * scalar.log(1.0 - a) if y != 1.0 else 0.0
            total += pos + neg
    out[0] = -total / AL.shape[1]


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
    """
    for i in range(AL.shape[0]):
        for j in range(AL.shape[1]):
            a = AL[i, j]
            y = Y[i, j]
            da = -(y / a - (1.0 - y) / (1.0 - a))
            # s rounded to the arrays' dtype, as the course computes it, so
            # that float32 caches give the float32 course numbers.
            dZ[i, j] = scalar.sigmoid(Z[i, j])
            s = dZ[i, j]
            dZ[i, j] = da * s * (1.0 - s)


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


@njit(**config.JIT)
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


@njit(**config.JIT)
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


@njit(**config.JIT)
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
        Scratch, written in place: each column's maximum, then its
        log-sum-exp.
    norm : ndarray of shape (m,), float64
        Scratch, written in place with each column's sum of
        ``exp(z - max)``.

    Notes
    -----
    .. math:: J = -\\frac{1}{m}\\sum_{ij} y_{ij}\\,(z_{ij} - \\ell_j),\\quad
              \\ell_j = c_j + \\ln\\sum_i e^{z_{ij} - c_j},\\quad c_j = \\max_i z_{ij},
              \\quad p_{ij} = e^{z_{ij} - \\ell_j}

    The passes walk the rows (each row is contiguous) and keep one running
    value per column in ``shift`` and ``norm``, so every inner loop is a
    unit-stride loop over ``m`` that vectorises.  Logits of magnitude 1e4
    give finite results.  The scratch vectors are taken from the caller so
    that the hot path allocates nothing.
    """
    k, m = Z.shape
    _column_log_sum_exp(Z, shift, norm)
    total = 0.0
    for i in range(k):
        if P is Z:
            total += _softmax_cross_entropy_row_in_place(Z[i], Y[i], scale, dZ[i], shift)
        else:
            total += _softmax_cross_entropy_row(Z[i], Y[i], scale, P[i], dZ[i], shift)
    out[0] = total / m


@njit(**config.JIT)
def _column_log_sum_exp(Z, shift, norm):
    # shift[j] <- max_i Z[i, j], then the stable log-sum-exp of column j.
    k, m = Z.shape
    z0 = Z[0]
    for j in range(m):
        shift[j] = z0[j]
        norm[j] = 0.0
    for i in range(1, k):
        zi = Z[i]
        for j in range(m):
            v = zi[j]
            shift[j] = v if v > shift[j] else shift[j]
    for i in range(k):
        zi = Z[i]
        for j in range(m):
            norm[j] += scalar.exp(zi[j] - shift[j])
    for j in range(m):
        shift[j] = scalar.log(norm[j]) + shift[j]


@njit(**config.JIT)
def _softmax_cross_entropy_row(z_row, y_row, scale, p_row, dz_row, log_norm):
    # Returns -sum_j y * log p over the row.
    total = 0.0
    for j in range(z_row.size):
        y = y_row[j]
        log_p = z_row[j] - log_norm[j]
        total -= y * log_p
        p = scalar.exp(log_p)
        p_row[j] = p
        dz_row[j] = scale * (p - y)
    return total


@njit(**config.JIT)
def _softmax_cross_entropy_row_in_place(z_row, y_row, scale, dz_row, log_norm):
    # The probabilities overwrite the logits: one name for the buffer, so the
    # loop vectorises (two names fail LLVM's run-time overlap check).  Row i
    # of Z is not read again once it is overwritten.
    total = 0.0
    for j in range(z_row.size):
        y = y_row[j]
        log_p = z_row[j] - log_norm[j]
        total -= y * log_p
        p = scalar.exp(log_p)
        z_row[j] = p
        dz_row[j] = scale * (p - y)
    return total


# ------------------------------------------------- course's softmax


@njit(**config.JIT)
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
    """
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
