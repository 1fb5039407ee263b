"""Executors: a plan carried out on a model state.

:func:`fastdnn.plan.decide` says how a step runs (a
:class:`~fastdnn.plan.Plan`); an executor runs it.  Every executor answers
the same small protocol (:class:`~fastdnn.executors.base.Executor`):

``take(data, indices, start, size, ws)``
    the :class:`Batch` of a step (gathered into ``ws``, or positions for an
    executor that gathers itself);
``gradient(batch, ws, dropout, count)``
    forward, cost and backward into the gradient arena, returning the cost;
``train(batch, ws, rate, l2, keep_prob, count)``
    a fit's step: the gradient, the L2 term and the bound optimizer's step
    (fused into the gradient pass where the route can);
``descend(batch, ws, rate)``
    the course's plain gradient-descent step;
``close()``
    give back the BLAS pin and the native session it holds.

The worker threads of the ``threads`` route are the state's (started once
per network, ended with it); :func:`release` lets every executor of a
state drop the caller's batch it keeps between steps.

========================  =====================================  ==========================
route                     executor                               holds
========================  =====================================  ==========================
``plain``                 :class:`~.plain.PlainExecutor`         nothing
``plain-sgd-in-products`` :class:`~.plain.PlainExecutor`         nothing
``threads``               :class:`~.threads.ThreadsExecutor`     BLAS pin per pass
``native-whole-batch``    :class:`~.native.NativeWholeBatch`     a session over the batch
``native-update``         :class:`~.native.NativeBatches`        threads, BLAS pin, session lock
``native-gradient``       :class:`~.native.NativeBatches`        threads, BLAS pin, session lock
``dual``                  :class:`~.dual.DualExecutor`           the first layer's dual form
``numpy``                 :class:`~.numpy_route.NumPyExecutor`   nothing (NumPy calls only)
========================  =====================================  ==========================
"""

from .. import native_blocks
from . import threads as threads_executor
from .base import Batch, Executor
from .dual import DualExecutor
from .native import NativeBatches, NativeWholeBatch
from .numpy_route import NumPyExecutor
from .plain import PlainExecutor
from .threads import ThreadsExecutor

#: The executor class of each route of :data:`fastdnn.plan.ROUTES`.
EXECUTORS = {
    "plain": PlainExecutor,
    "plain-sgd-in-products": PlainExecutor,
    "threads": ThreadsExecutor,
    "native-whole-batch": NativeWholeBatch,
    "native-update": NativeBatches,
    "native-gradient": NativeBatches,
    "dual": DualExecutor,
    "numpy": NumPyExecutor,
}


def open_executor(plan, state, report=None, fallback=None, data=None, indices=None, count=False, X=None,
                  weights=None):
    """The executor of ``plan`` over ``state``; ``None`` when its threads are held by another fit.

    Parameters
    ----------
    plan : fastdnn.plan.Plan
    state : fastdnn.state.ModelState
    report : callable, optional
        ``report(plan)`` after each gradient pass (:class:`Executor`).
    fallback : callable, optional
        ``native-whole-batch``: returns the executor a pass runs on while
        another fit holds the native threads.
    data, indices, count :
        ``native-update`` and ``native-gradient``: the fit's examples
        (:class:`fastdnn.examples.Examples`), their order (an int64 array
        the fit shuffles in place) and whether the steps count right answers.
    weights : ndarray of float64, optional
        ``native-update`` and ``native-gradient``: the fit's buffer of each
        batch's normalised sample weights (:class:`fastdnn.loop.TrainLoop`).
    X : ndarray, optional
        ``dual``: the full batch of inputs.
    """
    return EXECUTORS[plan.route].open(plan, state, report=report, fallback=fallback, data=data, indices=indices,
                                      count=count, X=X, weights=weights)


def release(state):
    """Every executor of ``state`` lets go of the caller's batch it keeps between steps.

    (The whole-batch native session and the column blocks' views: the end
    of a fit or of ``fit_course`` should not keep the caller's arrays.)
    """
    native_blocks.release(state)
    threads_executor.release(state)


__all__ = ["Batch", "Executor", "EXECUTORS", "open_executor", "release", "PlainExecutor", "ThreadsExecutor",
           "NativeWholeBatch", "NativeBatches", "DualExecutor"]
