"""MPI between a step's gradient pass and its update: the :class:`Reducer` of data-parallel training.

:func:`fastdnn.distributed.fit` plugs one into the training loop
(:class:`fastdnn.loop.TrainLoop`): each rank trains on its :func:`shard` of
every batch, the reducer sums the gradient arena over the ranks in place
(``MPI_Allreduce``), and every rank takes the same step.  A checksum of the
parameter arena (:func:`check_identical`) proves that they stay the same.
The communicator is mpi4py's, passed in: this module imports no MPI.
"""

import math
import os
import sys
import time

import numpy as np

from .plan import StrategyRefused

#: Steps between two checks that the ranks' parameters are still identical.
DEFAULT_CHECK_EVERY = 50

# Relative size of a checksum difference that counts as divergence.  Ranks
# apply bit-identical updates, so any honest difference is rounding at most.
_CHECK_RTOL = 1e-9


class RanksDivergedError(RuntimeError):
    """The parameters are no longer the same on every rank."""


def shard(start, b, rank, size):
    """Columns ``[lo, hi)`` of the global batch ``[start, start + b)`` that ``rank`` of ``size`` trains on."""
    return start + (rank * b) // size, start + ((rank + 1) * b) // size


def checksum(params, out):
    """Two sums of the parameter arena, written in place into ``out`` (float64, shape (2,)).

    .. math:: c = \\left(\\sum_i p_i,\\ \\sum_i p_i^2\\right)

    Cheap (two passes, no allocation) and sensitive to a change of any one
    parameter; ranks holding bit-identical arenas get bit-identical sums.
    """
    out[0] = params.sum(dtype=np.float64)
    out[1] = float(np.dot(params, params))


def check_identical(comm, params, sums, gathered, step):
    """Gather every rank's :func:`checksum` and raise :class:`RanksDivergedError` if any differs from rank 0's."""
    checksum(params, sums)
    comm.Allgather(sums, gathered)
    reference = gathered[0]
    # |sum p| <= sqrt(n * sum p^2): a scale for the first sum that is never 0 unless all are.
    scale = np.array([math.sqrt(params.size * max(reference[1], 0.0)), abs(reference[1])]) + 1e-300
    differs = np.any(np.abs(gathered - reference) > _CHECK_RTOL * scale, axis=1)
    bad = np.flatnonzero(differs | ~np.all(np.isfinite(gathered), axis=1))
    if bad.size:
        raise RanksDivergedError(
            f"the parameters diverged across ranks (checked after step {step}): rank(s) "
            f"{', '.join(str(int(r)) for r in bad)} differ from rank 0 "
            f"(sum, sum of squares: rank 0 {tuple(reference)}, "
            + ", ".join(f"rank {int(r)} {tuple(gathered[r])}" for r in bad)
            + "). Every rank must run the same fastdnn, the same network, seed and data."
        )


class Reducer:
    """MPI between each step's gradient pass and its update, for :class:`fastdnn.loop.TrainLoop`.

    Rank ``r`` of ``R`` trains on the columns :func:`shard` gives it of
    every batch, on the route its shard calls for (the plan of a
    ``reduced`` case: no optimizer step inside the products, no native
    session).  The reducer sums the gradient arena and the step's cost and
    right answers over the ranks in place, checks every ``check_every``
    steps and at every epoch's end that the parameters are the same on
    every rank, lets rank 0 alone write checkpoints, show progress, run
    the validation and the callback (and tells the others what they
    decided), and on a failure of one rank alone ends the whole job.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm
    MPI : module
        ``mpi4py.MPI``.
    check_every : int
        Steps between two checks that the ranks agree.
    """

    def __init__(self, comm, MPI, check_every=DEFAULT_CHECK_EVERY):
        self.comm, self.MPI, self.check_every = comm, MPI, check_every
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        #: Whether this rank writes, shows and decides for all (rank 0).
        self.leads = self.rank == 0
        self.scalars = np.zeros(2, dtype=np.float64)  # cost share, right answers
        self._sums = np.zeros(2, dtype=np.float64)
        self._gathered = np.zeros((self.size, 2), dtype=np.float64)
        self._flag = np.zeros(1, dtype=np.int32)
        self._steps = 0

    def shard(self, start, b):
        """This rank's columns ``[lo, hi)`` of the batch ``[start, start + b)``."""
        return shard(start, b, self.rank, self.size)

    def local(self, b):
        """How many examples of a batch of ``b`` this rank trains on."""
        lo, hi = shard(0, b, self.rank, self.size)
        return hi - lo

    def widest(self, b):
        """The widest shard of a batch of ``b`` over the ranks (at least 1): what every rank plans for."""
        return max(1, -(-b // self.size))

    def reduce(self, executor, batch, ws, dropout, count):
        """The gradient of this rank's shard, summed over the ranks into the arena; returns the batch's cost.

        ``ws.count[0]`` gets the batch's right answers.  A rank whose cost
        is not finite (or that has no examples) adds zeros: the global cost
        is then not finite either, and no update follows.
        """
        grads, scalars = executor.state.grads, self.scalars
        scalars[:] = 0.0
        if batch.size:
            cost = executor.gradient(batch, ws, dropout, count)
            scalars[0] = cost * (batch.size / batch.columns)
            if not math.isfinite(cost):
                grads[...] = 0.0
            elif count:
                scalars[1] = ws.count[0]
        else:
            grads[...] = 0.0
        self.comm.Allreduce(self.MPI.IN_PLACE, grads, op=self.MPI.SUM)
        self.comm.Allreduce(self.MPI.IN_PLACE, scalars, op=self.MPI.SUM)
        ws.count[0] = scalars[1]
        return float(scalars[0])

    def after_step(self, state):
        self._steps += 1
        if self._steps >= self.check_every:
            self.end_epoch(state)

    def end_epoch(self, state):
        """Check that every rank holds the same parameters (:func:`check_identical`)."""
        check_identical(self.comm, state.params, self._sums, self._gathered, state.n_steps)
        self._steps = 0

    def scores(self, evaluate):
        """``evaluate()`` on rank 0, its scores on every rank."""
        return self.comm.bcast(evaluate() if self.leads else None, root=0)

    def stop(self, decide):
        """``decide()`` on rank 0 (the callback), its answer on every rank."""
        self._flag[0] = 1 if self.leads and decide() else 0
        self.comm.Bcast(self._flag, root=0)
        return bool(self._flag[0])

    def agree_on_resuming(self, checkpoints):
        """Rank 0 decides whether the checkpoint file is there, for every rank."""
        if checkpoints.path is not None:
            resuming = np.array([checkpoints.resuming], dtype=np.int32)
            self.comm.Bcast(resuming, root=0)
            checkpoints.resuming = bool(resuming[0])

    def failed(self, error):
        """End the whole job after a failure of this rank alone.

        A callback, a checkpoint write or an interrupt failing on one rank
        would leave the others waiting in the next collective call forever;
        so, as mpi4py's ``python -m mpi4py`` does, the job ends.  Errors that
        every rank raises together (divergence of the cost or of the ranks)
        end the run normally (a held strategy refuses alike on every rank:
        the ranks plan for the same widest shard).
        """
        if self.size < 2 or isinstance(error, (RanksDivergedError, FloatingPointError, StrategyRefused)):
            return
        import traceback

        # One write, and a moment for the launcher to forward it: Abort kills
        # the job at once, and a traceback printed line by line was seen cut
        # after its first line on a busy machine.
        sys.stderr.flush()
        os.write(2, traceback.format_exc().encode())
        time.sleep(0.2)
        self.comm.Abort(1)
