"""The output layers: each one an activation, its cost, and how its answers are read.

:data:`OUTPUTS` maps a :class:`fastdnn.Network`'s ``output`` name to an
:class:`Output`.  The Python routes of a training step, evaluation and
prediction ask it.  The native column blocks run without the GIL and so
cannot: they reach the same kernels by :attr:`Output.code` through
:func:`fastdnn.kernels.loss.output_serial` (and count right answers by the
code too).  Adding an output is one entry here and one branch there.
"""

import numpy as np

from . import validation as v
from .kernels import activation as act
from .kernels import loss
from .kernels import metrics


class Output:
    """An output layer: the last layer's activation fused with its cost.

    Attributes
    ----------
    name : str
    code : int
        Its code in the native kernels (:data:`fastdnn.kernels.loss.SIGMOID_OUTPUT`...).
    min_units : int
        The fewest output units it takes.
    counts : bool
        Whether its answers are right or wrong (classifiers), so that fits
        report an accuracy.
    multiclass : bool
        One class per example (the answer is the largest output), rather
        than one yes/no answer per output unit.
    """

    name = ""
    code = -1
    min_units = 1
    counts = True
    multiclass = False

    def cost_and_gradient(self, Z, Y, scale, dZ, ws):
        """Turn the logits ``Z``, ``(k, m)``, into outputs in place, write ``dZ = scale * dJ/dZ``; returns ``J``.

        ``J`` is the mean cost over the ``m`` columns; ``ws`` (a
        :class:`fastdnn.state.Workspace`) holds the cost and the scratch.
        """
        raise NotImplementedError

    def numpy_cost_and_gradient(self, Z, Y, scale, dZ, weights=None):
        """:meth:`cost_and_gradient` in NumPy calls (the route ``numpy``, :mod:`fastdnn.executors.numpy_route`).

        ``weights``: the columns' normalised sample weights, or ``None``;
        the cost is then their weighted mean and each column of ``dZ`` is
        scaled by its weight.  Returns the mean cost (a Python float).
        """
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            columns = self._numpy_columns(Z, Y)
            self.numpy_to_outputs(Z)
            np.subtract(Z, Y, out=dZ)
            dZ *= scale
        if weights is not None:
            dZ *= weights.astype(dZ.dtype)
            return float(np.dot(columns, weights)) / Z.shape[1]
        return float(np.sum(columns)) / Z.shape[1]

    def _numpy_columns(self, Z, Y):
        """Each column's cost from the logits ``Z`` (unchanged), float64, ``(m,)``."""
        raise NotImplementedError

    def numpy_to_outputs(self, Z):
        """:meth:`to_outputs` in NumPy calls."""

    def numpy_count_correct(self, P, Y):
        """:meth:`count_correct` in NumPy: the number of right answers."""
        if self.multiclass:
            return int(np.count_nonzero(np.argmax(P, axis=0) == np.argmax(Y, axis=0)))
        return int(np.count_nonzero((P > 0.5) == (Y > 0.5)))

    def to_outputs(self, Z):
        """Turn logits into the outputs (probabilities or values), in place."""

    def answers(self, P, dtype):
        """The predicted labels of the outputs ``P``, ``(k, m)``."""
        return P

    def count_correct(self, P, Y, out):
        """Write into ``out[0]`` the number of right answers of the outputs ``P`` for the targets ``Y``."""
        metrics.count_correct(P, Y, self.multiclass, out)

    def check_units(self, name, k):
        """Raise ``ValueError`` when ``k`` output units are too few for this output."""
        if k < self.min_units:
            raise ValueError(f"a {name} output needs at least {self.min_units} units, got layer_dims[-1] = {k}")

    def answers_per_example(self, k):
        """How many answers an example of ``k`` output units gives (the accuracy's denominator per example)."""
        return 1 if self.multiclass else k

    def check_targets(self, name, Y, formula=False):
        """Raise ``ValueError`` for targets this output's cost is not defined for.

        ``formula``: as the course's code, take any value its formula takes
        (``fit_course``), with a warning where a classifier's would differ.
        """


class Sigmoid(Output):
    """Sigmoid units with binary cross-entropy, computed from the logits.

    .. math:: J = \\frac{1}{m}\\sum \\max(z, 0) - z y + \\ln(1 + e^{-|z|})
    """

    name = "sigmoid"
    code = loss.SIGMOID_OUTPUT

    def cost_and_gradient(self, Z, Y, scale, dZ, ws):
        loss.sigmoid_cross_entropy(Z, Y, scale, Z, dZ, ws.cost)
        return ws.cost[0]

    def _numpy_columns(self, Z, Y):
        Z64 = Z.astype(np.float64, copy=False)
        return np.sum(np.maximum(Z64, 0) - Z64 * Y + np.log1p(np.exp(-np.abs(Z64))), axis=0)

    def numpy_to_outputs(self, Z):
        from .executors import numpy_route  # (imported here: the executors import the outputs)

        numpy_route.ACTIVATE[act.SIGMOID](Z, 0.0)

    def to_outputs(self, Z):
        act.activation_forward(Z, act.SIGMOID, 0.0, Z)

    def answers(self, P, dtype):
        return (P > 0.5).astype(dtype)

    def check_targets(self, name, Y, formula=False):
        (v.check_label_values if formula else v.check_binary_labels)(name, Y)


class Softmax(Output):
    """Softmax over the units with cross-entropy, by the log-sum-exp of the logits.

    .. math:: J = -\\frac{1}{m}\\sum_{ij} y_{ij}\\,(z_{ij} - \\log\\textstyle\\sum_i e^{z_{ij}})
    """

    name = "softmax"
    code = loss.SOFTMAX_OUTPUT
    min_units = 2
    multiclass = True

    def cost_and_gradient(self, Z, Y, scale, dZ, ws):
        loss.softmax_cross_entropy(Z, Y, scale, Z, dZ, ws.cost, ws.softmax_shift, ws.softmax_norm)
        return ws.cost[0]

    def _numpy_columns(self, Z, Y):
        log_p = Z.astype(np.float64, copy=True)
        log_p -= log_p.max(axis=0)
        log_p -= np.log(np.sum(np.exp(log_p), axis=0))
        return -np.sum(Y * log_p, axis=0)

    def numpy_to_outputs(self, Z):
        Z -= Z.max(axis=0)
        np.exp(Z, out=Z)
        Z /= Z.sum(axis=0)

    def to_outputs(self, Z):
        metrics.softmax_columns(Z, Z)

    def answers(self, P, dtype):
        return np.argmax(P, axis=0)


class Linear(Output):
    """Linear units with the halved squared error.

    .. math:: J = \\frac{1}{2m}\\sum_{ij} (z_{ij} - y_{ij})^2
    """

    name = "linear"
    code = loss.LINEAR_OUTPUT
    counts = False

    def cost_and_gradient(self, Z, Y, scale, dZ, ws):
        loss.squared_error(Z, Y, scale, dZ, ws.cost)
        return ws.cost[0]

    def _numpy_columns(self, Z, Y):
        d = Z.astype(np.float64) - Y
        return 0.5 * np.sum(d * d, axis=0)


class Poisson(Output):
    """Exponential units with the Poisson deviance: counts and rates (scikit-learn's ``loss="poisson"``).

    .. math:: J = \\frac{1}{m}\\sum_{ij} y_{ij}\\ln\\frac{y_{ij}}{\\mu_{ij}} - y_{ij} + \\mu_{ij},
              \\qquad \\mu = e^{z}
    """

    name = "poisson"
    code = loss.POISSON_OUTPUT
    counts = False

    def cost_and_gradient(self, Z, Y, scale, dZ, ws):
        loss.poisson_deviance(Z, Y, scale, Z, dZ, ws.cost)
        return ws.cost[0]

    def _numpy_columns(self, Z, Y):
        Z64 = Z.astype(np.float64)
        Y64 = Y.astype(np.float64, copy=False)
        y_log_y = np.where(Y64 > 0, Y64 * np.log(np.where(Y64 > 0, Y64, 1.0)), 0.0)  # 0 at y = 0
        return np.sum(y_log_y - Y64 * Z64 - Y64 + np.exp(Z64), axis=0)

    def to_outputs(self, Z):
        np.exp(Z, out=Z)

    numpy_to_outputs = to_outputs  # NumPy calls already

    def check_targets(self, name, Y, formula=False):
        if np.any(Y < 0):
            raise ValueError(f"{name} holds negative values; a poisson output needs counts or rates >= 0")


#: The output layers by name.
OUTPUTS = {kind.name: kind() for kind in (Sigmoid, Softmax, Linear, Poisson)}
