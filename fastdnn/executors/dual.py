"""The dual executor: ``fit_course``'s full-batch gradient descent with the first layer in dual form."""

import math

from .. import passes
from ..dual import DualFirstLayer
from ..kernels import activation as act
from ..kernels import update
from .base import Executor


class DualExecutor(Executor):
    """Route ``dual`` (:mod:`fastdnn.dual`): the first layer's weights tracked as :math:`aW^{(0)} - CX^T`.

    Opened for one full batch ``X`` (the same at every step); only plain
    gradient descent (:meth:`descend`) serves it.  The first layer's
    weights stay :math:`W^{(0)}` in the arena while the form tracks them;
    :meth:`close` writes them back, also when a step raised.
    """

    binds_data = True

    def __init__(self, plan, state, X, report=None):
        super().__init__(plan, state, report)
        self.form = DualFirstLayer(state.layers[0][0], X)

    @classmethod
    def open(cls, plan, state, report=None, X=None, **context):
        return cls(plan, state, X, report)

    def gradient(self, batch, ws, dropout=(1.0, 0), count=False):
        raise NotImplementedError("the dual form never forms the first layer's gradient: use descend")

    def train(self, batch, ws, rate, l2=0.0, keep_prob=1.0, count=False, reducer=None):
        raise NotImplementedError("the dual form serves plain gradient descent only: use descend")

    def descend(self, batch, ws, rate):
        """One plain gradient-descent step on the batch the executor was opened for; returns the cost.

        Layers 2..L and every bias take the usual path; ``batch.X`` is not read.
        """
        state = self.state
        self.report(self.plan)
        L = state.n_layers
        _, b1 = state.layers[0]
        dW1, db1 = state.grad_layers[0]
        code = state.hidden_codes[0] if L > 1 else act.LINEAR
        self.form.forward(b1, code, state.leaky_slope, ws.A[1])
        cost = passes.gradient(state, None, batch.Y, ws, 1.0 / batch.size, span=(2, 2))
        if not math.isfinite(cost):
            return cost
        if L > 1:
            act.activation_backward(ws.dA[1], ws.A[1], False, code, state.leaky_slope, 1.0, ws.dZ[1], db1)
        else:
            act.row_sums(ws.dZ[1], 1.0, db1)
        # Everything but W1 (the arena's first slice) steps as usual.
        rest = dW1.size
        params, grads = state.params, state.grads
        update.sgd(params[rest:], grads[rest:], rate, params[rest:])
        self.form.step(ws.dZ[1], rate, 0.0, 0.0)
        return cost

    def close(self):
        form, self.form = self.form, None
        if form is not None:
            form.materialize(self.state.layers[0][0])
