"""The plain executor: the gradient pass on the calling thread, BLAS with all its threads."""

import math

from .. import passes
from ..kernels import update
from .base import Executor


class PlainExecutor(Executor):
    """Routes ``plain`` and ``plain-sgd-in-products`` (:mod:`fastdnn.plan`), in float or with bf16 products.

    The second takes plain SGD's step of the large weights inside their
    ``dW`` products (:meth:`fastdnn.state.ModelState.fused_plan`), the same
    bits as the course's path; the rest of the arena steps in the update
    kernel.  Holds nothing: BLAS and Numba keep their threads.
    """

    def __init__(self, plan, state, report=None):
        super().__init__(plan, state, report)
        self.in_products = plan.route == "plain-sgd-in-products"

    def gradient(self, batch, ws, dropout=(1.0, 0), count=False, fused_rate=None, keep=False):
        self.report(self.plan)
        if self.plan.precision == "bf16":
            # (The plan never puts a bf16 step's update inside its products: fused_rate is None.)
            return passes.gradient_bf16(self.state, batch.X, batch.Y, ws, 1.0 / batch.columns, dropout,
                                        batch.shard, count=count, weights=batch.weights)
        return passes.gradient(self.state, batch.X, batch.Y, ws, 1.0 / batch.columns, dropout, batch.shard,
                               count=count, fused_rate=fused_rate, keep=keep, weights=batch.weights)

    def train(self, batch, ws, rate, l2=0.0, keep_prob=1.0, count=False, reducer=None):
        if not self.in_products or reducer is not None:
            # (A step whose gradient is reduced first cannot take its update inside the products.)
            return super().train(batch, ws, rate, l2, keep_prob, count, reducer)
        # The plan chose it for plain SGD without L2: the old weights are
        # copied for a rollback inside the products, the rest in the update.
        ws.count[0] = 0.0
        cost = self.gradient(batch, ws, self.dropout(keep_prob), count, rate, True)
        if math.isfinite(cost):
            self.state.update(self.state.grads, rate, 0.0, in_products=True)
        return cost

    def descend(self, batch, ws, rate):
        if not self.in_products:
            return super().descend(batch, ws, rate)
        cost = self.gradient(batch, ws, fused_rate=rate)
        for params, grads, _ in self.state.fused_plan()[1]:
            update.sgd(params, grads, rate, params)
        return cost
