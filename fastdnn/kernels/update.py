"""Optimizer updates over flat parameter arrays.

The trainer keeps every parameter in one contiguous arena, so an update is
one pass over one (or a few) flat arrays, split over Numba's threads when it
is large.
"""

from numba import njit, prange

from .. import config


@njit(**config.JIT)
def _sgd_serial(param, grad, learning_rate, out):
    for k in range(param.size):
        out[k] = param[k] - learning_rate * grad[k]


@njit(**config.JIT_PARALLEL)
def _sgd_parallel(param, grad, learning_rate, out):
    for k in prange(param.size):
        out[k] = param[k] - learning_rate * grad[k]


def sgd(param, grad, learning_rate, out):
    """Plain gradient-descent step.

    Parameters
    ----------
    param : ndarray of shape (p,)
    grad : ndarray of shape (p,)
    learning_rate : float
    out : ndarray of shape (p,)
        Written in place with the new parameters; may be ``param`` itself.

    Notes
    -----
    .. math:: \\theta \\leftarrow \\theta - \\alpha\\, g
    """
    if param.size >= config.PARALLEL_MIN_ELEMENTS:
        _sgd_parallel(param, grad, learning_rate, out)
    else:
        _sgd_serial(param, grad, learning_rate, out)
