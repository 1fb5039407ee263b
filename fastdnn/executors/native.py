"""The native executors: column blocks of the whole network in one Numba pass on spinning threads.

The kernels and their sessions are :mod:`fastdnn.native_blocks`; these
executors hold a session for their lifetime.
"""

from .. import native_blocks
from .base import Batch, Executor


class NativeWholeBatch(Executor):
    """Route ``native-whole-batch``: a batch given whole, read in place (``train_step``, a full-batch fit).

    The session and the batch it holds are kept between passes over the
    same arrays (a loop over them costs nothing to set up); BLAS is at one
    thread only inside each pass.  While another fit holds the native
    threads, a pass runs on ``fallback()``'s executor instead (the plan
    :func:`fastdnn.plan.when_busy` gives).
    """

    c_order = True  # the blocks read C-ordered columns

    def __init__(self, plan, state, report=None, fallback=None):
        super().__init__(plan, state, report)
        self.fallback = fallback
        self._own_fallback = None

    @classmethod
    def open(cls, plan, state, report=None, fallback=None, **context):
        return cls(plan, state, report, fallback)

    def gradient(self, batch, ws, dropout=(1.0, 0), count=False):
        blocks = native_blocks.direct_pass(self.state, batch.X, batch.Y, count, self.plan, batch.total or None,
                                           batch.weights)
        if blocks is None:
            return self._busy().gradient(batch, ws, dropout, count)
        self.report(self.plan)
        total, ws.count[0] = blocks
        return total / batch.size

    def _busy(self):
        if self.fallback is not None:
            return self.fallback()
        if self._own_fallback is None:
            from .. import plan as plan_mod
            from . import open_executor

            state, plan = self.state, self.plan
            busy = plan_mod.when_busy(state.layer_dims, state.dtype, plan.strategy, plan.case,
                                      plan_mod.machine(state.dtype))
            self._own_fallback = open_executor(busy, state, self.report)
        return self._own_fallback

    def close(self):
        native_blocks.release(self.state)


class NativeBatches(Executor):
    """Routes ``native-update`` and ``native-gradient``: a fit's mini-batches, gathered by the blocks.

    Opened with :meth:`open` for one fit's data and example order; holds
    the native threads, BLAS at one thread and the session lock until
    :meth:`close`.  ``native-update`` takes the optimizer's step in the
    same Numba call, split over the threads; ``native-gradient`` (an
    optimizer without a native form) returns the gradient and the
    optimizer steps in Python.
    """

    gathers = True

    binds_data = True

    def __init__(self, plan, state, session, report=None):
        super().__init__(plan, state, report)
        self.session = session

    @classmethod
    def open(cls, plan, state, report=None, data=None, indices=None, count=False, weights=None, **context):
        """The executor of a fit over ``data`` in the order ``indices``, or ``None`` while another fit holds the threads.

        ``weights``: the fit's buffer of each batch's normalised sample weights.
        """
        session = native_blocks.open_session(state, data, indices, count, plan, weights)
        return None if session is None else cls(plan, state, session, report)

    def take(self, data, indices, start, size, ws):
        # (The loop adds the weights: the session reads them from its buffer.)
        return Batch(None, None, start, size)

    def gradient(self, batch, ws, dropout=(1.0, 0), count=False):
        self.report(self.plan)
        total, ws.count[0] = self.session.step(batch.start, batch.size)
        return total / batch.size

    def train(self, batch, ws, rate, l2=0.0, keep_prob=1.0, count=False, reducer=None):
        if reducer is not None:
            raise ValueError("the native blocks gather a fit's batches themselves: an MPI shard takes a "
                             "whole-batch route (fastdnn.plan.Case.reduced)")
        if self.plan.route != "native-update":
            # No dropout here (the plan saw to it): the blocks' count is the session's.
            return self.descend_after(self.gradient(batch, ws), ws, rate, l2, batch.l2_count)
        self.report(self.plan)
        cost, ws.count[0] = self.session.train_step(batch.start, batch.size, rate, l2, batch.l2_count)
        return cost

    def close(self):
        self.session.close()
