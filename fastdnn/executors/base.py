"""The executor protocol and what every executor shares."""

import math
from typing import NamedTuple

import numpy as np

from ..kernels import loss
from ..kernels import regularization as reg
from ..kernels import update


class Batch(NamedTuple):
    """The examples of one step, as an executor takes them.

    ``X`` of shape ``(n_x, size)`` and ``Y`` of shape ``(n_L, size)``: the
    batch's arrays, or ``None`` for an executor that gathers its batches
    itself (:attr:`Executor.gathers`), which reads positions ``start`` to
    ``start + size`` of the fit's example order instead.  ``offset`` and
    ``total``: when the batch is a shard (an MPI rank's) of a batch of
    ``total`` examples, its first column in that batch; the gradient is
    then scaled by ``1 / total`` and the dropout masks are the whole
    batch's, so that the shards' gradients add up to the batch's.
    ``weights``: with sample weights, the ``size`` columns' weights
    (float64), normalised to a mean of 1 over the whole batch
    (:func:`fastdnn.kernels.loss.normalise_weights`), and ``weight_sum``
    the whole batch's sum of the weights as given, the L2 term's divisor.
    """

    X: object
    Y: object
    start: int
    size: int
    offset: int = 0
    total: int = 0
    weights: object = None
    weight_sum: float = 0.0

    @property
    def columns(self):
        """Examples of the whole batch (``total``, or ``size`` when the batch is not a shard)."""
        return self.total or self.size

    @property
    def l2_count(self):
        """What the L2 term divides by: the batch's examples, or its sum of weights (scikit-learn's)."""
        return self.columns if self.weights is None else self.weight_sum

    def weighed(self, weights):
        """This batch with the sample ``weights`` of its columns: a normalised copy and their sum."""
        normalised = np.empty(len(weights), dtype=np.float64)
        return self._replace(weights=normalised, weight_sum=loss.normalise_weights(weights, normalised))

    @property
    def shard(self):
        """``(offset, total)`` of a shard, for :func:`fastdnn.passes.gradient`; ``None`` for a whole batch."""
        return None if self.offset == 0 and self.columns == self.size else (self.offset, self.columns)


def _nothing(plan):
    pass


class Executor:
    """A plan carried out on a model state: the gradient of a batch, the optimizer's step, and ``close``.

    Parameters
    ----------
    plan : fastdnn.plan.Plan
        The route, blocks and chunk the executor runs.
    state : fastdnn.state.ModelState
        The arenas and workspaces it runs over.
    report : callable, optional
        ``report(plan)`` after every gradient pass, with the plan that ran
        (a busy executor may run another): what the network tells as
        ``last_plan`` and ``steps_by_route``.

    Notes
    -----
    An executor holds what its route needs (worker threads, a BLAS pin, a
    native session) for its lifetime and gives it back in :meth:`close`,
    also when a step raised; it is a context manager.
    """

    #: Whether the executor gathers each batch itself from the fit's data (:meth:`take` gathers nothing).
    gathers = False
    #: Whether its passes read C-ordered columns only (rows of a row-per-example X are then put in that order).
    c_order = False
    #: Whether the executor is opened for one call's data (a fit's examples, ``fit_course``'s batch) and closed after it.
    binds_data = False

    def __init__(self, plan, state, report=None):
        self.plan = plan
        self.state = state
        self.report = report or _nothing

    @classmethod
    def open(cls, plan, state, report=None, **context):
        """The executor of ``plan``; ``context``: what :func:`fastdnn.executors.open_executor` passes on."""
        return cls(plan, state, report)

    def take(self, data, indices, start, size, ws):
        """The :class:`Batch` of ``indices[start:start + size]`` of ``data``, gathered into ``ws``."""
        X = data.gather_X(indices, start, ws, c_order=self.c_order)
        data.gather_Y(indices, start, ws.Y)
        return Batch(X, ws.Y, start, size)

    def gradient(self, batch, ws, dropout=(1.0, 0), count=False):
        """Forward, cost and backward of ``batch`` into ``state.grads``; returns the batch's mean cost.

        ``dropout``: ``(keep_prob, key)``.  ``ws.count[0]`` gets the right
        answers added when ``count``.  The gradient is garbage when the
        cost is not finite.
        """
        raise NotImplementedError

    def train(self, batch, ws, rate, l2=0.0, keep_prob=1.0, count=False, reducer=None):
        """One step of a fit: gradient, the L2 term, and the bound optimizer's step; returns the cost.

        Only when the cost (with the L2 term) is finite do the parameters
        move, the old ones kept for :meth:`fastdnn.state.ModelState.rollback`.
        ``ws.count[0]`` gets the right answers when ``count``.  With a
        ``reducer`` (:class:`fastdnn.distributed.Reducer`), the batch is
        this process's shard: the reducer sums the gradient and the cost
        over the processes before the step.
        """
        ws.count[0] = 0.0
        dropout = self.dropout(keep_prob)
        if reducer is None:
            cost = self.gradient(batch, ws, dropout, count)
        else:
            cost = reducer.reduce(self, batch, ws, dropout, count)
        return self.descend_after(cost, ws, rate, l2, batch.l2_count)

    def descend(self, batch, ws, rate):
        """One plain gradient-descent step (the course's): gradient, then ``W -= rate dW``; returns the cost.

        No L2, no rollback copy, whatever optimizer a fit bound.
        """
        cost = self.gradient(batch, ws)
        update.sgd(self.state.params, self.state.grads, rate, self.state.params)
        return cost

    def dropout(self, keep_prob):
        """The ``(keep_prob, key)`` of this step's masks: a key from the network's seed and step count."""
        if keep_prob >= 1.0:
            return (1.0, 0)
        return (keep_prob, reg.mix_key(self.state.dropout_seed, self.state.n_steps))

    def descend_after(self, cost, ws, rate, l2, m):
        """The L2 term and the bound optimizer's step after a gradient pass on ``m`` examples; returns the cost.

        (``m``: the batch's sum of sample weights when it has them.)
        """
        state = self.state
        l2, m = reg.l2_divisor(l2, m)
        if math.isfinite(cost):
            cost = state.regularized_cost(cost, ws, l2, m)
        if math.isfinite(cost):
            if state.clip is not None:
                # On the whole (reduced) gradient, before the optimizer and its L2 term see it, as
                # torch.nn.utils.clip_grad_value_ / clip_grad_norm_ before optimizer.step().
                update.clip_gradient(state.grads, state.clip[0], state.clip[1])
            state.update(state.grads, rate, l2 / m)
        return cost

    def close(self):
        """Give back what the executor holds (threads, BLAS pin, session); it may not run again."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        return f"{type(self).__name__}({self.plan.route}, blocks={self.plan.blocks})"
