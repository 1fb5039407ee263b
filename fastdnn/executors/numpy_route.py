"""The NumPy executor: a training step made of NumPy calls alone, which never waits for Numba.

A first fit in a new environment would otherwise compile its route's
kernels before its first step (seconds to tens of seconds, the native
blocks' pass the longest).  For a fit whose steps all together take less
time in NumPy than that compile, :func:`fastdnn.plan.first_use` sends them
here: the same math as the compiled routes (the forward products, the
output's cost and gradient, backward, the optimizer's step), written with
one NumPy call per operation over the state's arenas and the workspace's
buffers, in place.  It is the route of a first use, not a fast one: once the
route's kernels are compiled (``fastdnn warmup``, a larger fit, another
process on the same cache), the plans take them again.

The batch is gathered as every whole-batch route gathers it (small kernels,
compiled in a fraction of a second); the rest of a step -- the layer
epilogues, the output's cost and gradient, the L2 term, clipping and the
optimizer's update, whose kernels compile for seconds -- is NumPy here.
"""

import math

import numpy as np

from ..kernels import activation as act
from ..kernels import regularization as reg
from .base import Executor


def _relu(Z, slope):
    np.maximum(Z, 0, out=Z)  # NaN passes through, as in the kernel


def _sigmoid(Z, slope):
    with np.errstate(over="ignore"):  # e^{-z} overflows to inf for z < -710: the sigmoid is then 0
        np.negative(Z, out=Z)
        np.exp(Z, out=Z)
        Z += 1
        np.reciprocal(Z, out=Z)


def _tanh(Z, slope):
    np.tanh(Z, out=Z)


def _leaky_relu(Z, slope):
    np.multiply(Z, slope, out=Z, where=Z <= 0)


def _linear(Z, slope):
    pass


#: The hidden activations in place, by their kernel codes (:data:`fastdnn.kernels.activation.CODES`).
ACTIVATE = {act.RELU: _relu, act.SIGMOID: _sigmoid, act.TANH: _tanh, act.LEAKY_RELU: _leaky_relu,
            act.LINEAR: _linear}


def _relu_derivative(dA, A, slope, dZ):
    np.multiply(dA, A > 0, out=dZ)


def _sigmoid_derivative(dA, A, slope, dZ):
    np.multiply(dA, A * (1 - A), out=dZ)


def _tanh_derivative(dA, A, slope, dZ):
    np.multiply(dA, 1 - A * A, out=dZ)


def _leaky_relu_derivative(dA, A, slope, dZ):
    np.multiply(dA, np.where(A > 0, 1.0, slope).astype(dA.dtype), out=dZ)


def _linear_derivative(dA, A, slope, dZ):
    np.copyto(dZ, dA)


#: ``dZ = dA * g'(z)``, ``g'`` read from the activation ``A = g(z)`` as the kernels read it, by code.
DERIVATIVE = {act.RELU: _relu_derivative, act.SIGMOID: _sigmoid_derivative, act.TANH: _tanh_derivative,
              act.LEAKY_RELU: _leaky_relu_derivative, act.LINEAR: _linear_derivative}


def gradient(state, X, Y, ws, scale, count=False, weights=None):
    """Forward, cost and backward of the batch ``(X, Y)`` in NumPy into ``state.grads``; returns the mean cost.

    The same contract as :func:`fastdnn.passes.gradient` without dropout:
    ``ws.A[l]`` get the activations (the last the outputs), the gradient
    arena ``scale * dJ/dtheta``, ``ws.count[0]`` the right answers when
    ``count``; the backward pass is skipped when the cost is not finite.

    Parameters
    ----------
    state : fastdnn.state.ModelState
    X : ndarray of shape (n_x, m)
    Y : ndarray of shape (n_L, m)
    ws : fastdnn.state.Workspace
        Of ``m`` columns.
    scale : float
        ``1 / m``.
    weights : ndarray of float64, shape (m,), optional
        Normalised sample weights (a mean of 1).

    Notes
    -----
    .. math:: Z^{[l]} = W^{[l]} A^{[l-1]} + b^{[l]},\\quad
              dW^{[l]} = dZ^{[l]} A^{[l-1]T},\\quad dZ^{[l-1]} = W^{[l]T} dZ^{[l]} \\odot g'(A^{[l-1]})
    """
    # A diverging fit's inf and NaN are the loop's to report (as the compiled routes do), not NumPy's warnings.
    with np.errstate(all="ignore"):
        return _gradient(state, X, Y, ws, scale, count, weights)


def forward(state, X, ws):
    """:func:`fastdnn.passes.forward` (no dropout) in NumPy calls: fills ``ws.A``, returns the logits ``ws.A[L]``."""
    L = state.n_layers
    A, slope = ws.A, state.leaky_slope
    A_prev = X
    with np.errstate(all="ignore"):
        for l in range(1, L + 1):
            W, b = state.layers[l - 1]
            Z = A[l]
            np.matmul(W, A_prev, out=Z)
            Z += b
            if l < L:
                ACTIVATE[state.hidden_codes[l - 1]](Z, slope)
            A_prev = Z
    return A[L]


def _gradient(state, X, Y, ws, scale, count, weights):
    L = state.n_layers
    A, slope = ws.A, state.leaky_slope
    forward(state, X, ws)
    head = state.head
    cost = head.numpy_cost_and_gradient(A[L], Y, scale, ws.dZ[L], weights)
    if not math.isfinite(cost):
        return cost
    if count and head.counts:
        ws.count[0] = head.numpy_count_correct(A[L], Y)
    dZ = ws.dZ[L]
    for l in range(L, 0, -1):
        W, _ = state.layers[l - 1]
        dW, db = state.grad_layers[l - 1]
        A_prev = A[l - 1] if l > 1 else X
        np.matmul(dZ, A_prev.T, out=dW)
        np.sum(dZ, axis=1, keepdims=True, out=db)
        if l > 1:
            # dA and dZ of a layer share the workspace's two scratch buffers in turn (Workspace).
            dA = ws.dA[l - 1]
            np.matmul(W.T, dZ, out=dA)
            DERIVATIVE[state.hidden_codes[l - 2]](dA, A[l - 1], slope, ws.dZ[l - 1])
            dZ = ws.dZ[l - 1]
    return cost


class NumPyExecutor(Executor):
    """Route ``numpy``: each step in NumPy calls on the calling thread, nothing compiled for it.

    The batch is gathered as for the plain route.  No dropout and no MPI
    shards (the plan never sends them here): a step of those compiles.
    """

    def gradient(self, batch, ws, dropout=(1.0, 0), count=False):
        if dropout[0] < 1.0 or batch.shard is not None:
            raise ValueError("the numpy route takes no dropout and no MPI shards (fastdnn.plan.first_use)")
        self.report(self.plan)
        return gradient(self.state, batch.X, batch.Y, ws, 1.0 / batch.columns, count, batch.weights)

    def descend_after(self, cost, ws, rate, l2, m):
        state = self.state
        l2, m = reg.l2_divisor(l2, m)
        if l2 != 0.0 and math.isfinite(cost):
            weights = state.params[:state.n_weights].astype(np.float64)
            ws.square_sum[0] = float(np.dot(weights, weights))
            cost = cost + (l2 / (2.0 * m)) * ws.square_sum[0]
        if math.isfinite(cost):
            if state.clip is not None:
                clip_gradient(state.grads, state.clip[0], state.clip[1])
            state.update(state.grads, rate, l2 / m, numpy=True)
        return cost

    def descend(self, batch, ws, rate):
        cost = self.gradient(batch, ws)
        state = self.state
        state.params -= rate * state.grads
        return cost


def clip_gradient(grad, max_value, max_norm):
    """:func:`fastdnn.kernels.update.clip_gradient` in NumPy: entries to ``[-max_value, max_value]``, then the norm."""
    if max_value > 0.0:
        np.clip(grad, -max_value, max_value, out=grad)
    wide = grad.astype(np.float64, copy=False)  # the norm summed in float64, as the kernel's
    norm = math.sqrt(float(np.dot(wide, wide)))
    if max_norm > 0.0:
        coef = max_norm / (norm + 1e-6)
        if coef < 1.0:
            grad *= coef
    return norm
