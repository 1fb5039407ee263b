"""Optimizer updates over flat parameter arrays.

The trainer keeps every parameter in one contiguous arena, so an update is
one pass over one (or a few) flat arrays, split over Numba's threads when it
is large.
"""

import math

import numpy as np
from numba import njit, prange

from .. import config
from . import scalar


@njit(**config.JIT)
def sgd_serial(param, grad, learning_rate, out):
    if out is param:
        _sgd_in_place(param, grad, learning_rate)
    else:
        for k in range(param.size):
            out[k] = param[k] - learning_rate * grad[k]


@njit(**config.JIT)
def sgd_checked(param, grad, learning_rate, out):
    """``out = param - learning_rate * grad`` for 2-D arrays (as :func:`sgd_serial`); True when ``out`` is finite."""
    check = 0.0
    for i in range(param.shape[0]):
        for j in range(param.shape[1]):
            x = param[i, j] - learning_rate * grad[i, j]
            out[i, j] = x
            check += x * 0.0
    return check == 0.0


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
#
# ``keep``: when ``save`` is true, the pass also copies the old parameters and
# state into ``keep`` (parameters first, then each slot), which the trainer
# restores if the next cost is not finite.  Each twin spells out the loops
# for save and for no save: with ``save`` left a run-time flag inside the
# loop, Adam over 7,510 parameters took 710 us instead of 12.  The update is bound by its square
# roots and divisions, so the copy rides along for free: measured for Adam
# over 7,510 parameters 10.8 us with the copy against 15.9 us for two memcpy
# and the update (269,322 parameters: 552 vs 975 us).


def _no_keep(param):
    """The zero-length ``keep`` passed when nothing is saved."""
    return _EMPTY[param.dtype.num]


_EMPTY = {np.dtype(d).num: np.empty(0, dtype=d) for d in (np.float64, np.float32)}


@njit(**config.JIT)
def _split2(keep, p):
    """``keep[:p], keep[p:2p]`` (the empty ``keep`` itself when nothing is kept)."""
    if keep.size == 0:
        return keep, keep
    return keep[:p], keep[p:2 * p]


@njit(**config.JIT)
def _split3(keep, p):
    """``keep[:p], keep[p:2p], keep[2p:3p]`` (or the empty ``keep`` three times)."""
    if keep.size == 0:
        return keep, keep, keep
    return keep[:p], keep[p:2 * p], keep[2 * p:3 * p]


@njit(**config.JIT)
def _sgd_l2_element(param, grad, learning_rate, decay, keep, save, k):
    p = param[k]
    if save:
        keep[k] = p
    param[k] = p - learning_rate * (grad[k] + decay * p)


@njit(**config.JIT)
def _sgd_l2_serial(param, grad, learning_rate, decay, n_decay, keep, save):
    if save:
        for k in range(n_decay):
            _sgd_l2_element(param, grad, learning_rate, decay, keep, True, k)
        for k in range(n_decay, param.size):
            _sgd_l2_element(param, grad, learning_rate, 0.0, keep, True, k)
    else:
        for k in range(n_decay):
            _sgd_l2_element(param, grad, learning_rate, decay, keep, False, k)
        for k in range(n_decay, param.size):
            _sgd_l2_element(param, grad, learning_rate, 0.0, keep, False, k)


@njit(**config.JIT_PARALLEL)
def _sgd_l2_parallel(param, grad, learning_rate, decay, n_decay, keep, save):
    if save:
        for k in prange(n_decay):
            _sgd_l2_element(param, grad, learning_rate, decay, keep, True, k)
        for k in prange(n_decay, param.size):
            _sgd_l2_element(param, grad, learning_rate, 0.0, keep, True, k)
    else:
        for k in prange(n_decay):
            _sgd_l2_element(param, grad, learning_rate, decay, keep, False, k)
        for k in prange(n_decay, param.size):
            _sgd_l2_element(param, grad, learning_rate, 0.0, keep, False, k)


def sgd_l2(param, grad, learning_rate, decay, n_decay, keep=None):
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
    keep : ndarray of shape (p,), optional
        Written in place with the parameters before the step.

    Notes
    -----
    ``param`` is written in place.  There is no separate output array on
    purpose: an output that may alias ``param`` keeps LLVM from vectorising
    the loop (measured: Adam over 7,500 parameters 19.5 us aliased, 11.7 us not).

    .. math:: \\theta_k \\leftarrow \\theta_k - \\alpha\\,(g_k + d\\,\\theta_k\\,[k < n_{decay}])
    """
    save = keep is not None
    keep = keep if save else _no_keep(param)
    if param.size >= config.PARALLEL_MIN_ELEMENTS:
        _sgd_l2_parallel(param, grad, learning_rate, decay, n_decay, keep, save)
    else:
        _sgd_l2_serial(param, grad, learning_rate, decay, n_decay, keep, save)


@njit(**config.JIT)
def _momentum_element(param, grad, velocity, learning_rate, beta, nesterov, decay, keep_p, keep_v, save, k):
    p = param[k]
    v = velocity[k]
    if save:
        keep_p[k] = p
        keep_v[k] = v
    g = grad[k] + decay * p
    vel = beta * v + (1.0 - beta) * g
    velocity[k] = vel
    if nesterov:
        param[k] = p - learning_rate * (beta * vel + (1.0 - beta) * g)
    else:
        param[k] = p - learning_rate * vel


@njit(**config.JIT)
def _momentum_serial(param, grad, velocity, learning_rate, beta, nesterov, decay, n_decay, keep, save):
    # Separate views of keep: offsets into one array cost the loop its vectorisation.
    keep_p, keep_v = _split2(keep, param.size)
    momentum_run(param, grad, velocity, learning_rate, beta, nesterov, decay, n_decay, keep_p, keep_v, save)


@njit(**config.JIT)
def momentum_run(param, grad, velocity, learning_rate, beta, nesterov, decay, n_decay, keep_p, keep_v, save):
    """The momentum step over a run of the arena, the old values going to ``keep_p``, ``keep_v`` (if ``save``)."""
    if save:
        for k in range(n_decay):
            _momentum_element(param, grad, velocity, learning_rate, beta, nesterov, decay, keep_p, keep_v, True, k)
        for k in range(n_decay, param.size):
            _momentum_element(param, grad, velocity, learning_rate, beta, nesterov, 0.0, keep_p, keep_v, True, k)
    else:
        for k in range(n_decay):
            _momentum_element(param, grad, velocity, learning_rate, beta, nesterov, decay, keep_p, keep_v, False, k)
        for k in range(n_decay, param.size):
            _momentum_element(param, grad, velocity, learning_rate, beta, nesterov, 0.0, keep_p, keep_v, False, k)


@njit(**config.JIT_PARALLEL)
def _momentum_parallel(param, grad, velocity, learning_rate, beta, nesterov, decay, n_decay, keep, save):
    # Separate views of keep: offsets into one array cost the loop its vectorisation.
    keep_p, keep_v = _split2(keep, param.size)
    if save:
        for k in prange(n_decay):
            _momentum_element(param, grad, velocity, learning_rate, beta, nesterov, decay, keep_p, keep_v, True, k)
        for k in prange(n_decay, param.size):
            _momentum_element(param, grad, velocity, learning_rate, beta, nesterov, 0.0, keep_p, keep_v, True, k)
    else:
        for k in prange(n_decay):
            _momentum_element(param, grad, velocity, learning_rate, beta, nesterov, decay, keep_p, keep_v, False, k)
        for k in prange(n_decay, param.size):
            _momentum_element(param, grad, velocity, learning_rate, beta, nesterov, 0.0, keep_p, keep_v, False, k)


def momentum(param, grad, velocity, learning_rate, beta, nesterov, decay, n_decay, keep=None):
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
    keep : ndarray of shape (2 p,), optional
        Written in place with the parameters and the velocity before the step.

    Notes
    -----
    .. math:: g' = g + d\\,\\theta,\\quad v \\leftarrow \\beta v + (1-\\beta) g',\\quad
              \\theta \\leftarrow \\theta - \\alpha v
              \\;\\; (\\text{Nesterov: } \\theta - \\alpha(\\beta v + (1-\\beta) g'))
    """
    save = keep is not None
    keep = keep if save else _no_keep(param)
    if param.size >= config.PARALLEL_MIN_ELEMENTS:
        _momentum_parallel(param, grad, velocity, learning_rate, beta, nesterov, decay, n_decay, keep, save)
    else:
        _momentum_serial(param, grad, velocity, learning_rate, beta, nesterov, decay, n_decay, keep, save)


@njit(**config.JIT)
def _adam_element(param, grad, first, second, hyper, decay, keep_p, keep_v, keep_s, save, k):
    # hyper: (learning_rate, beta1, beta2, correction1, correction2, eps).
    learning_rate, beta1, beta2, correction1, correction2, eps = hyper
    p = param[k]
    v = first[k]
    s = second[k]
    if save:
        keep_p[k] = p
        keep_v[k] = v
        keep_s[k] = s
    # In the arena's precision: float32 then takes its square roots and
    # divisions 16 to a vector instead of 8 (float64: the same bits as before).
    g = grad[k] + scalar.like(decay, p) * p
    m1 = scalar.like(beta1, p) * v + scalar.like(1.0 - beta1, p) * g
    m2 = scalar.like(beta2, p) * s + scalar.like(1.0 - beta2, p) * (g * g)
    first[k] = m1
    second[k] = m2
    param[k] = p - scalar.like(learning_rate, p) * (m1 * scalar.like(correction1, p)) / (
        np.sqrt(m2 * scalar.like(correction2, p)) + scalar.like(eps, p))


@njit(**config.JIT)
def _adam_serial(param, grad, first, second, hyper, decay, n_decay, keep, save):
    # Separate views of keep: offsets into one array cost the loop its vectorisation.
    keep_p, keep_v, keep_s = _split3(keep, param.size)
    adam_run(param, grad, first, second, hyper, decay, n_decay, keep_p, keep_v, keep_s, save)


@njit(**config.JIT)
def adam_run(param, grad, first, second, hyper, decay, n_decay, keep_p, keep_v, keep_s, save):
    """The Adam step over a run of the arena, the old values going to the ``keep_*`` views (if ``save``).

    ``hyper`` is ``(learning_rate, beta1, beta2, correction1, correction2, eps)``, all floats.
    """
    if save:
        for k in range(n_decay):
            _adam_element(param, grad, first, second, hyper, decay, keep_p, keep_v, keep_s, True, k)
        for k in range(n_decay, param.size):
            _adam_element(param, grad, first, second, hyper, 0.0, keep_p, keep_v, keep_s, True, k)
    else:
        for k in range(n_decay):
            _adam_element(param, grad, first, second, hyper, decay, keep_p, keep_v, keep_s, False, k)
        for k in range(n_decay, param.size):
            _adam_element(param, grad, first, second, hyper, 0.0, keep_p, keep_v, keep_s, False, k)


@njit(**config.JIT_PARALLEL)
def _adam_parallel(param, grad, first, second, hyper, decay, n_decay, keep, save):
    # Separate views of keep: offsets into one array cost the loop its vectorisation.
    keep_p, keep_v, keep_s = _split3(keep, param.size)
    if save:
        for k in prange(n_decay):
            _adam_element(param, grad, first, second, hyper, decay, keep_p, keep_v, keep_s, True, k)
        for k in prange(n_decay, param.size):
            _adam_element(param, grad, first, second, hyper, 0.0, keep_p, keep_v, keep_s, True, k)
    else:
        for k in prange(n_decay):
            _adam_element(param, grad, first, second, hyper, decay, keep_p, keep_v, keep_s, False, k)
        for k in prange(n_decay, param.size):
            _adam_element(param, grad, first, second, hyper, 0.0, keep_p, keep_v, keep_s, False, k)


def adam(param, grad, first, second, learning_rate, beta1, beta2, eps, t, decay, n_decay, keep=None):
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
    keep : ndarray of shape (3 p,), optional
        Written in place with the parameters, ``first`` and ``second`` before
        the step.

    Notes
    -----
    .. math:: v \\leftarrow \\beta_1 v + (1-\\beta_1) g,\\quad s \\leftarrow \\beta_2 s + (1-\\beta_2) g^2,\\quad
              \\theta \\leftarrow \\theta - \\alpha\\,\\frac{v / (1-\\beta_1^t)}{\\sqrt{s / (1-\\beta_2^t)} + \\epsilon}
    """
    correction1, correction2 = adam_corrections(beta1, beta2, t)
    hyper = (float(learning_rate), float(beta1), float(beta2), float(correction1), float(correction2), float(eps))
    save = keep is not None
    keep = keep if save else _no_keep(param)
    if param.size >= config.PARALLEL_MIN_ELEMENTS:
        _adam_parallel(param, grad, first, second, hyper, decay, n_decay, keep, save)
    else:
        _adam_serial(param, grad, first, second, hyper, decay, n_decay, keep, save)


def adam_corrections(beta1, beta2, t):
    """Adam's bias corrections ``1 / (1 - beta1^t)`` and ``1 / (1 - beta2^t)`` of step ``t``."""
    return 1.0 / (1.0 - beta1 ** t), 1.0 / (1.0 - beta2 ** t)


@njit(**config.JIT)
def decoupled_decay(param, old, rate, n):
    """``param[k] -= rate * old[k]`` for the leading ``n`` entries: AdamW's decay, apart from the gradient.

    ``old`` is the arena before the step (``param`` itself when the decay
    goes first), so the decay is ``rate`` times the weights the step started from.
    """
    for k in range(n):
        param[k] -= rate * old[k]


@njit(**config.JIT)
def clip_gradient(grad, max_value, max_norm):
    """Clip ``grad`` in place: each entry to ``[-max_value, max_value]``, then the whole to norm ``max_norm``.

    Zero turns either off.  Returns the norm before the norm clip.

    Parameters
    ----------
    grad : ndarray of shape (p,)
        The gradient arena, written in place.
    max_value : float
    max_norm : float

    Notes
    -----
    .. math:: g \\leftarrow g \\min\\left(1, \\frac{c}{\\lVert g \\rVert_2 + 10^{-6}}\\right)

    PyTorch's ``clip_grad_norm_`` (its ``1e-6`` included), after its
    ``clip_grad_value_``.  The norm is summed in float64.
    """
    squares = 0.0
    if max_value > 0.0:
        for k in range(grad.size):
            x = min(max(grad[k], -max_value), max_value)
            grad[k] = x
            squares += float(x) * float(x)
    else:
        for k in range(grad.size):
            squares += float(grad[k]) * float(grad[k])
    norm = math.sqrt(squares)
    if max_norm > 0.0:
        coef = max_norm / (norm + 1e-6)
        if coef < 1.0:
            for k in range(grad.size):
                grad[k] *= coef
    return norm
