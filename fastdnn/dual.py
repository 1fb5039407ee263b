"""The first layer in dual form, for full-batch gradient descent with few examples.

With full-batch gradient descent the first layer's weights only ever move
along the examples: every gradient is :math:`dW_1 = dZ_1 X^T` (the ``1/m``
folded into ``dZ_1``), plus the L2 term, which is a multiple of ``W_1``
itself.  So throughout training

.. math:: W_1 = a\\,W_1^{(0)} - C X^T, \\qquad V = \\alpha\\,W_1^{(0)} + U X^T

(``V`` the momentum velocity), and the first layer's pre-activation is

.. math:: P = W_1 X = a\\,P^{(0)} - C\\,G, \\qquad P^{(0)} = W_1^{(0)} X,\\quad G = X^T X.

When there are fewer examples than features (``m < n_x``: the course's cat
model has 209 images of 12288 values) a step costs :math:`n_1 m^2` instead of
:math:`n_1 n_x m` for the product, and ``dW_1`` is never formed.  ``W_1`` is
materialized once at the end (or whenever asked for).  This is the same
gradient descent, exact in real arithmetic; in floating point it differs
from the direct path by rounding only.

It does not apply to Adam (element-wise scaling breaks the span), dropout
(the mask changes ``dZ`` per step but keeps the span -- excluded to keep the
check simple) or mini-batches (``X`` changes per step).
"""

import numpy as np

from .kernels import activation as act


class DualFirstLayer:
    """State of the first layer in dual form, and its share of a training step.

    Parameters
    ----------
    W1 : ndarray of shape (n_1, n_x)
        The first layer's weights when the dual form starts; kept as
        :math:`W_1^{(0)}` (not modified until :meth:`materialize`).
    X : ndarray of shape (n_x, m)
        The full batch, the same for every step.
    momentum : bool
        Whether a velocity is tracked (the optimizer's state must start at 0).
    """

    def __init__(self, W1, X, momentum=False):
        dtype = W1.dtype
        n1, m = W1.shape[0], X.shape[1]
        self.X = X
        self.P0 = np.matmul(W1, X)
        self.G = np.matmul(X.T, X)
        self.w0_square = float(np.vdot(W1, W1))
        self.a = 1.0
        self.C = np.zeros((n1, m), dtype=dtype)
        self.momentum = momentum
        self.alpha = 0.0
        self.U = np.zeros((n1, m), dtype=dtype) if momentum else None
        self.CG = np.empty((n1, m), dtype=dtype)
        self.scratch = np.empty((n1, m), dtype=dtype)

    def forward(self, b1, code, slope, A1):
        """First layer's activation ``A1 = g(a P0 - C G + b1)`` (written in place).

        Parameters
        ----------
        b1 : ndarray of shape (n_1, 1)
        code : int
        slope : float
        A1 : ndarray of shape (n_1, m)
        """
        np.matmul(self.C, self.G, out=self.CG)
        np.multiply(self.P0, self.a, out=A1)
        np.subtract(A1, self.CG, out=A1)
        act.bias_activation_forward(A1, b1, code, slope, A1)

    def weight_square_sum(self):
        """:math:`\\|W_1\\|^2` without forming ``W_1`` (uses the ``C G`` of the last :meth:`forward`).

        .. math:: \\|a W^{(0)} - C X^T\\|^2 = a^2\\|W^{(0)}\\|^2 - 2a\\langle P^{(0)}, C\\rangle + \\langle C G, C\\rangle
        """
        a = self.a
        return a * a * self.w0_square - 2.0 * a * float(np.vdot(self.P0, self.C)) + float(np.vdot(self.CG, self.C))

    def step(self, dZ1, learning_rate, decay, beta):
        """Apply one update of the first layer's weights.

        Parameters
        ----------
        dZ1 : ndarray of shape (n_1, m)
            Gradient of the first pre-activation, ``1/m`` included.
        learning_rate : float
        decay : float
            L2 factor ``lambda / m`` (0 without L2).
        beta : float
            Momentum coefficient (ignored without momentum).

        Notes
        -----
        With :math:`g = g_a W^{(0)} + g_U X^T`, :math:`g_a = \\text{decay}\\,a`,
        :math:`g_U = dZ_1 - \\text{decay}\\,C`: plain descent does
        :math:`a \\leftarrow a - \\eta g_a,\\ C \\leftarrow C + \\eta g_U`; momentum
        first moves :math:`(\\alpha, U) \\leftarrow \\beta(\\alpha, U) + (1-\\beta)(g_a, g_U)`
        and then :math:`(a, C)` along :math:`(\\alpha, U)`.
        """
        g_a = decay * self.a
        g_U = self.scratch
        if decay != 0.0:
            np.multiply(self.C, -decay, out=g_U)
            np.add(g_U, dZ1, out=g_U)
        else:
            np.copyto(g_U, dZ1)
        if self.momentum:
            self.alpha = beta * self.alpha + (1.0 - beta) * g_a
            np.multiply(self.U, beta, out=self.U)
            np.multiply(g_U, 1.0 - beta, out=g_U)
            np.add(self.U, g_U, out=self.U)
            g_a, g_U = self.alpha, self.U
        self.a = self.a - learning_rate * g_a
        np.multiply(g_U, learning_rate, out=self.scratch)
        np.add(self.C, self.scratch, out=self.C)

    def materialize(self, W1, velocity=None):
        """Write :math:`W_1 = a W^{(0)} - C X^T` into ``W1`` (which holds :math:`W^{(0)}`), in place.

        Parameters
        ----------
        W1 : ndarray of shape (n_1, n_x)
        velocity : ndarray of shape (n_1, n_x), optional
            The optimizer's velocity slice of the first layer, written with
            :math:`\\alpha W^{(0)} + U X^T` when momentum is tracked.
        """
        CX = np.matmul(self.C, self.X.T)
        if velocity is not None and self.momentum:
            UX = np.matmul(self.U, self.X.T)
            np.multiply(W1, self.alpha, out=velocity)
            np.add(velocity, UX, out=velocity)
        np.multiply(W1, self.a, out=W1)
        np.subtract(W1, CX, out=W1)
