"""Regularization: inverted dropout (forward and backward) and the L2 penalty's sum of squares.

Dropout masks come from a counter-based generator: the keep/drop decision of
element ``e`` of a layer is a hash of ``(key, e)``.  Any thread can compute
any element, so the serial and the parallel kernels draw the same mask, and
a run is reproducible bit for bit from its seed whatever the thread count.
"""

import numpy as np
from numba import njit, prange

from .. import config

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
#: Uniform draws have 53 bits: ``u = hash >> 11`` lies in ``[0, 2**53)``.
_UNIFORM_BITS = 53


@njit(**config.JIT)
def _hash(key, counter):
    # splitmix64's output function applied to the state key + (counter + 1) * golden.
    z = key + (np.uint64(counter) + np.uint64(1)) * _GOLDEN
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


def mix_key(*parts):
    """A 63-bit key from non-negative integers (seed, step, layer), in plain Python.

    The same hash as the kernels, chained over ``parts``, so that keys of
    different steps and layers are unrelated.
    """
    mask = (1 << 64) - 1
    z = 0
    for part in parts:
        z = (z + (int(part) + 1) * 0x9E3779B97F4A7C15) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        z ^= z >> 31
    return z >> 1


@njit(**config.JIT_ROW)
def _dropout_forward_row(A, key, threshold, inverse_keep, mask, col_offset, total_cols, i):
    # The draw of unit (i, j) depends on its place in the whole batch, so a
    # batch split into column blocks gets the same masks as the whole.
    k = np.uint64(key)
    t = np.uint64(threshold)
    base = i * total_cols + col_offset
    for j in range(A.shape[1]):
        keep = (_hash(k, base + j) >> _S11) < t
        mask[i, j] = 1 if keep else 0
        A[i, j] = A[i, j] * inverse_keep if keep else 0.0


@njit(**config.JIT)
def _dropout_forward_serial(A, key, threshold, inverse_keep, mask, col_offset, total_cols):
    for i in range(A.shape[0]):
        _dropout_forward_row(A, key, threshold, inverse_keep, mask, col_offset, total_cols, i)


@njit(**config.JIT_PARALLEL)
def _dropout_forward_parallel(A, key, threshold, inverse_keep, mask, col_offset, total_cols):
    for i in prange(A.shape[0]):
        _dropout_forward_row(A, key, threshold, inverse_keep, mask, col_offset, total_cols, i)


def keep_threshold(keep_prob):
    """The integer threshold of a 53-bit uniform draw below which a unit is kept."""
    return int(round(keep_prob * (1 << _UNIFORM_BITS)))


def dropout_forward(A, key, keep_prob, mask, col_offset=0, total_cols=None, parallel=True):
    """Inverted dropout of a layer's activation, in place, with its mask.

    Parameters
    ----------
    A : ndarray of shape (n, m)
        Written in place: kept units scaled by ``1 / keep_prob``, dropped units 0.
    key : int
        Non-negative 63-bit key of this layer at this step (see :func:`mix_key`).
    keep_prob : float
        Probability of keeping a unit, in ``(0, 1]``.
    mask : ndarray of shape (n, m), uint8
        Written in place: 1 where the unit is kept.
    col_offset : int, default 0
        Column of the batch where ``A``'s first column sits, when ``A`` is a
        block of a wider batch of ``total_cols`` columns.
    total_cols : int, optional
        Columns of the whole batch (default ``A.shape[1]``).
    parallel : bool, default True
        Allow the row-parallel twin for large arrays.

    Notes
    -----
    .. math:: D_{ij} = [u_{ij} < p], \\qquad A \\leftarrow A \\odot D / p
    """
    threshold = keep_threshold(keep_prob)
    total_cols = A.shape[1] if total_cols is None else total_cols
    if parallel and A.size >= config.PARALLEL_MIN_ELEMENTS:
        _dropout_forward_parallel(A, key, threshold, 1.0 / keep_prob, mask, col_offset, total_cols)
    else:
        _dropout_forward_serial(A, key, threshold, 1.0 / keep_prob, mask, col_offset, total_cols)


@njit(**config.JIT_ROW)
def _dropout_backward_row(dA, A, mask, keep_prob, inverse_keep, i):
    for j in range(dA.shape[1]):
        kept = mask[i, j] != 0
        dA[i, j] = dA[i, j] * inverse_keep if kept else 0.0
        A[i, j] = A[i, j] * keep_prob if kept else 0.0


@njit(**config.JIT)
def _dropout_backward_serial(dA, A, mask, keep_prob, inverse_keep):
    for i in range(dA.shape[0]):
        _dropout_backward_row(dA, A, mask, keep_prob, inverse_keep, i)


@njit(**config.JIT_PARALLEL)
def _dropout_backward_parallel(dA, A, mask, keep_prob, inverse_keep):
    for i in prange(dA.shape[0]):
        _dropout_backward_row(dA, A, mask, keep_prob, inverse_keep, i)


def dropout_backward(dA, A, mask, keep_prob, parallel=True):
    """Backward of inverted dropout, and the activation restored for the layer's own backward.

    Parameters
    ----------
    dA : ndarray of shape (n, m)
        Gradient with respect to the dropped activation; written in place with
        the gradient with respect to the activation before dropout.
    A : ndarray of shape (n, m)
        The dropped activation; written in place with ``g(Z)`` where the unit
        was kept (up to rounding of ``/ p * p``) and 0 where it was dropped,
        so that the activation's derivative can be taken from it.
    mask : ndarray of shape (n, m), uint8
    keep_prob : float

    Notes
    -----
    .. math:: dA \\leftarrow dA \\odot D / p, \\qquad A \\leftarrow A\\,p
    """
    if parallel and dA.size >= config.PARALLEL_MIN_ELEMENTS:
        _dropout_backward_parallel(dA, A, mask, keep_prob, 1.0 / keep_prob)
    else:
        _dropout_backward_serial(dA, A, mask, keep_prob, 1.0 / keep_prob)


# Blocks of a fixed size make the parallel sum's rounding independent of the
# number of threads: each block is summed alone, then the block sums in order.
SUM_BLOCK = 1 << 14


def l2_divisor(l2, count):
    """``(l2, count)`` of a batch's L2 term, ``count`` its examples or its sum of sample weights.

    A batch of zero total weight has no L2 term to divide (and ``l2 / count``
    must not be ``0 / 0``): ``(0.0, 1.0)``.
    """
    return (0.0, 1.0) if count <= 0.0 else (l2, count)


def n_sum_blocks(size):
    """Length of the ``partials`` buffer :func:`sum_of_squares` needs for ``size`` elements."""
    return max(1, (size + SUM_BLOCK - 1) // SUM_BLOCK)


@njit(**config.JIT_ROW)
def _block_square_sum(x, stop, block):
    # A slice and a loop from 0: with a variable start Numba keeps its
    # negative-index check in the loop and it does not vectorise (3x slower).
    part = x[block * SUM_BLOCK:min((block + 1) * SUM_BLOCK, stop)]
    total = 0.0
    for k in range(part.size):
        total += part[k] * part[k]
    return total


@njit(**config.JIT_PARALLEL)
def _sum_of_squares_parallel(x, stop, partials, out):
    for block in prange(partials.size):
        partials[block] = _block_square_sum(x, stop, block)
    total = 0.0
    for block in range(partials.size):
        total += partials[block]
    out[0] = total


@njit(**config.JIT)
def _sum_of_squares_serial(x, stop, partials, out):
    for block in range(partials.size):
        partials[block] = _block_square_sum(x, stop, block)
    total = 0.0
    for block in range(partials.size):
        total += partials[block]
    out[0] = total


def sum_of_squares(x, stop, partials, out):
    """Sum of the squares of ``x[:stop]``, the same bits on any number of threads.

    Parameters
    ----------
    x : ndarray of shape (p,)
    stop : int
        Only ``x[:stop]`` counts (the weights of the arena).
    partials : ndarray of shape (n_sum_blocks(stop),), float64
        Scratch, written in place with the sum of each block.
    out : ndarray of shape (1,), float64
        Written in place with the total.

    Notes
    -----
    .. math:: \\mathrm{out}_0 = \\sum_{k < stop} x_k^2
    """
    if stop >= config.PARALLEL_MIN_ELEMENTS:
        _sum_of_squares_parallel(x, stop, partials, out)
    else:
        _sum_of_squares_serial(x, stop, partials, out)
