"""Optimizer updates over flat parameter arrays.

The trainer keeps every parameter in one contiguous arena, so an update is
one pass over one (or a few) flat arrays, split over Numba's threads when it
is large.
"""

import numpy as np
from numba import njit, prange

from .. import config


@njit(**config.JIT)
def sgd_serial(param, grad, learning_rate, out):
    if out is param:
        _sgd_in_place(param, grad, learning_rate)
    else:
        for k in range(param.size):
            out[k] = param[k] - learning_rate * grad[k]


@njit(**config.JIT)
def _sgd_in_place(param, grad, learning_rate):
    # One name for the updated buffer: with ``out`` as a second name for it,
    # LLVM's run-time overlap check fails and the loop runs scalar.
    for k in range(param.size):
        param[k] = param[k] - learning_rate * grad[k]


@njit(**config.JIT_PARALLEL)
def _sgd_parallel(param, grad, learning_rate, out):
    if out is param:
        for k in prange(param.size):
            param[k] = param[k] - learning_rate * grad[k]
    else:
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
        Written in place with the new parameters; may be ``param`` itself
        (the same buffer with the same shape and strides, which takes a loop
        that names the buffer once and vectorises; same bits either way).

    Notes
    -----
    .. math:: \\theta \\leftarrow \\theta - \\alpha\\, g
    """
    if param.size >= config.PARALLEL_MIN_ELEMENTS:
        _sgd_parallel(param, grad, learning_rate, out)
    else:
        sgd_serial(param, grad, learning_rate, out)


# ---------------------------------------------------------------- regularised and stateful updates
#
# The trainer's arena holds every weight first and every bias after them, so
# L2 weight decay applies to the prefix ``[0, n_decay)`` and nothing else.
# Each update is one pass over the arena (and its state), split over Numba's
# threads above config.PARALLEL_MIN_ELEMENTS; the prefix and the rest are two
# branch-free loops so that both vectorise.


@njit(**config.JIT)
def _sgd_l2_range(param, grad, learning_rate, decay, start, stop):
    for k in range(start, stop):
        p = param[k]
        param[k] = p - learning_rate * (grad[k] + decay * p)


@njit(**config.JIT)
def _sgd_l2_serial(param, grad, learning_rate, decay, n_decay):
    _sgd_l2_range(param, grad, learning_rate, decay, 0, n_decay)
    _sgd_l2_range(param, grad, learning_rate, 0.0, n_decay, param.size)


@njit(**config.JIT_PARALLEL)
def _sgd_l2_parallel(param, grad, learning_rate, decay, n_decay):
    for k in prange(n_decay):
        p = param[k]
        param[k] = p - learning_rate * (grad[k] + decay * p)
    for k in prange(n_decay, param.size):
        param[k] = param[k] - learning_rate * grad[k]


def sgd_l2(param, grad, learning_rate, decay, n_decay):
    """Gradient-descent step with L2 weight decay on a prefix of the arena.

    Parameters
    ----------
    param : ndarray of shape (p,)
    grad : ndarray of shape (p,)
    learning_rate : float
    decay : float
        ``lambda / m``: the gradient of the L2 term per unit of weight.
    n_decay : int
        The first ``n_decay`` entries (the weights) decay; the rest (the
        biases) do not.

    Notes
    -----
    ``param`` is written in place.  There is no separate output array on
    purpose: an output that may alias ``param`` keeps LLVM from vectorising
    the loop (measured: Adam over 7,500 parameters 19.5 us aliased, 11.7 us not).

    .. math:: \\theta_k \\leftarrow \\theta_k - \\alpha\\,(g_k + d\\,\\theta_k\\,[k < n_{decay}])
    """
    if param.size >= config.PARALLEL_MIN_ELEMENTS:
        _sgd_l2_parallel(param, grad, learning_rate, decay, n_decay)
    else:
        _sgd_l2_serial(param, grad, learning_rate, decay, n_decay)


@njit(**config.JIT)
def _momentum_element(param, grad, velocity, learning_rate, beta, nesterov, decay, k):
    p = param[k]
    g = grad[k] + decay * p
    vel = beta * velocity[k] + (1.0 - beta) * g
    velocity[k] = vel
    if nesterov:
        param[k] = p - learning_rate * (beta * vel + (1.0 - beta) * g)
    else:
        param[k] = p - learning_rate * vel


@njit(**config.JIT)
def _momentum_serial(param, grad, velocity, learning_rate, beta, nesterov, decay, n_decay):
    for k in range(n_decay):
        _momentum_element(param, grad, velocity, learning_rate, beta, nesterov, decay, k)
    for k in range(n_decay, param.size):
        _momentum_element(param, grad, velocity, learning_rate, beta, nesterov, 0.0, k)


@njit(**config.JIT_PARALLEL)
def _momentum_parallel(param, grad, velocity, learning_rate, beta, nesterov, decay, n_decay):
    for k in prange(n_decay):
        _momentum_element(param, grad, velocity, learning_rate, beta, nesterov, decay, k)
    for k in prange(n_decay, param.size):
        _momentum_element(param, grad, velocity, learning_rate, beta, nesterov, 0.0, k)


def momentum(param, grad, velocity, learning_rate, beta, nesterov, decay, n_decay):
    """Gradient descent with momentum (the course's exponentially weighted form), fused.

    Parameters
    ----------
    param : ndarray of shape (p,)
        Written in place with the new parameters.
    grad : ndarray of shape (p,)
    velocity : ndarray of shape (p,)
        The running average of the gradients; written in place.
    learning_rate : float
    beta : float
    nesterov : bool
        Take the step from the look-ahead velocity (Nesterov's variant).
    decay : float
        L2 decay per unit of weight, ``lambda / m`` (0 for none).
    n_decay : int
        Number of leading entries (the weights) that decay.

    Notes
    -----
    .. math:: g' = g + d\\,\\theta,\\quad v \\leftarrow \\beta v + (1-\\beta) g',\\quad
              \\theta \\leftarrow \\theta - \\alpha v
              \\;\\; (\\text{Nesterov: } \\theta - \\alpha(\\beta v + (1-\\beta) g'))
    """
    if param.size >= config.PARALLEL_MIN_ELEMENTS:
        _momentum_parallel(param, grad, velocity, learning_rate, beta, nesterov, decay, n_decay)
    else:
        _momentum_serial(param, grad, velocity, learning_rate, beta, nesterov, decay, n_decay)


@njit(**config.JIT)
def _adam_element(param, grad, first, second, learning_rate, beta1, beta2, correction1, correction2, eps, decay,
                  k):
    p = param[k]
    g = grad[k] + decay * p
    m1 = beta1 * first[k] + (1.0 - beta1) * g
    m2 = beta2 * second[k] + (1.0 - beta2) * (g * g)
    first[k] = m1
    second[k] = m2
    param[k] = p - learning_rate * (m1 * correction1) / (np.sqrt(m2 * correction2) + eps)


@njit(**config.JIT)
def _adam_serial(param, grad, first, second, learning_rate, beta1, beta2, correction1, correction2, eps, decay,
                 n_decay):
    for k in range(n_decay):
        _adam_element(param, grad, first, second, learning_rate, beta1, beta2, correction1, correction2, eps,
                      decay, k)
    for k in range(n_decay, param.size):
        _adam_element(param, grad, first, second, learning_rate, beta1, beta2, correction1, correction2, eps,
                      0.0, k)


@njit(**config.JIT_PARALLEL)
def _adam_parallel(param, grad, first, second, learning_rate, beta1, beta2, correction1, correction2, eps, decay,
                   n_decay):
    for k in prange(n_decay):
        _adam_element(param, grad, first, second, learning_rate, beta1, beta2, correction1, correction2, eps,
                      decay, k)
    for k in prange(n_decay, param.size):
        _adam_element(param, grad, first, second, learning_rate, beta1, beta2, correction1, correction2, eps,
                      0.0, k)


def adam(param, grad, first, second, learning_rate, beta1, beta2, eps, t, decay, n_decay):
    """Adam step with bias correction, fused into one pass.

    Parameters
    ----------
    param : ndarray of shape (p,)
        Written in place with the new parameters.
    grad : ndarray of shape (p,)
    first : ndarray of shape (p,)
        Running mean of the gradients, ``v`` in the course; written in place.
    second : ndarray of shape (p,)
        Running mean of the squared gradients, ``s`` in the course; written in place.
    learning_rate : float
    beta1, beta2 : float
    eps : float
    t : int
        Number of this step, counting from 1 (for the bias correction).
    decay : float
        L2 decay per unit of weight, ``lambda / m`` (0 for none).
    n_decay : int
        Number of leading entries (the weights) that decay.

    Notes
    -----
    .. math:: v \\leftarrow \\beta_1 v + (1-\\beta_1) g,\\quad s \\leftarrow \\beta_2 s + (1-\\beta_2) g^2,\\quad
              \\theta \\leftarrow \\theta - \\alpha\\,\\frac{v / (1-\\beta_1^t)}{\\sqrt{s / (1-\\beta_2^t)} + \\epsilon}
    """
    correction1 = 1.0 / (1.0 - beta1 ** t)
    correction2 = 1.0 / (1.0 - beta2 ** t)
    if param.size >= config.PARALLEL_MIN_ELEMENTS:
        _adam_parallel(param, grad, first, second, learning_rate, beta1, beta2, correction1, correction2, eps,
                       decay, n_decay)
    else:
        _adam_serial(param, grad, first, second, learning_rate, beta1, beta2, correction1, correction2, eps,
                     decay, n_decay)
