"""Data-parallel training over MPI: every rank trains on its shard of each batch.

Run one process per rank (``mpirun -n 4 python script.py`` or
``mpirun -n 4 fastdnn train DATA ... --distributed``).  Every rank holds the
whole network and reads the data set (memory-mapped: no rank loads it
whole).  For each global batch of ``b`` examples -- the same shuffled order
on every rank, because the shuffle generator comes from the network's seed
-- rank ``r`` of ``R`` takes the columns ``[r b / R, (r + 1) b / R)``,
computes its part of the gradient into the network's flat gradient arena
with the global batch's scale ``1 / b``, and one in-place ``Allreduce``
sums the arena over the ranks.  Every rank then applies the same update to
the same parameters, so they stay identical; a cheap checksum of the
parameter arena, gathered every ``check_every`` steps, proves it (and
stops the run with :class:`RanksDivergedError` when it fails).

The transport is MPI's (mpi4py), never our own: install the ``distributed``
extra, ``pip install 'fastdnn[distributed]'``, which brings mpi4py and the
MPICH library as PyPI wheels (no system MPI needed; ``mpirun`` lands in the
environment's ``bin``).
"""

import math
import os
import sys
import time

import numpy as np

from . import compiling
from . import examples as examples_mod
from . import fitting
from . import validation as v
from .fitting import FitSettings

#: Steps between two checks that the ranks' parameters are still identical.
DEFAULT_CHECK_EVERY = 50

# Relative size of a checksum difference that counts as divergence.  Ranks
# apply bit-identical updates, so any honest difference is rounding at most.
_CHECK_RTOL = 1e-9


class RanksDivergedError(RuntimeError):
    """The parameters are no longer the same on every rank."""


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError(
            "fastdnn.distributed needs mpi4py and an MPI library: pip install 'fastdnn[distributed]' "
            f"(brings the mpi4py and mpich wheels) ({exc})"
        ) from None
    return MPI


def world():
    """``MPI.COMM_WORLD`` (importing mpi4py lazily, with a clear error when it is missing)."""
    return _mpi().COMM_WORLD


def ranks_on_node(comm):
    """Number of ranks of ``comm`` that share this rank's node (its shared-memory domain)."""
    MPI = _mpi()
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        return node.Get_size()
    finally:
        node.Free()


def default_threads(comm):
    """Threads per rank: the node's cores divided among the ranks on the node (at least 1)."""
    cores = os.cpu_count() or 1
    share = max(1, cores // ranks_on_node(comm))
    try:
        # A launcher that binds each rank to some cores has already divided them.
        share = min(share, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        pass
    return max(1, share)


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


def fit(net, X, Y, comm=None, epochs=1, batch_size=None, optimizer="sgd", learning_rate=0.0075, l2=0.0,
        dropout=0.0, shuffle=True, validation=None, progress=True, schedule=None, callback=None,
        checkpoint=None, checkpoint_every=None, resume=False, check_every=DEFAULT_CHECK_EVERY, threads="auto"):
    """Train ``net`` data-parallel over the ranks of ``comm``; call it on every rank.

    Parameters
    ----------
    net : fastdnn.Network
        The same architecture and seed on every rank (checked before training).
    X : array_like of shape (n_x, m)
        The whole data set, as for :meth:`fastdnn.Network.fit`; a memory map
        (:func:`fastdnn.data.load_npy`) is read batch by batch, so that no
        rank holds it in memory.
    Y : array_like of shape (n_L, m), or (m,)
    comm : mpi4py.MPI.Comm, optional
        Default ``MPI.COMM_WORLD``.
    epochs, batch_size, optimizer, learning_rate, l2, dropout, shuffle, validation, schedule, callback
        As for :meth:`fastdnn.Network.fit`; ``batch_size`` is the *global*
        batch (split over the ranks).  ``schedule`` runs on every rank;
        ``callback`` and ``validation`` on rank 0 only (its stop decision and
        the validation scores are sent to the others).
    progress : bool, default True
        Progress bar on rank 0 only.
    checkpoint, checkpoint_every, resume
        As for :meth:`fastdnn.Network.fit`: rank 0 alone writes the file;
        on resume every rank reads it (so it must be on a file system that
        every rank sees).  The file is the one a single process writes, and
        a run resumes the same on any number of ranks.
    check_every : int, default 50
        Steps between two checksums of the parameters across ranks (and one
        at the end of every epoch).
    threads : int or "auto", default "auto"
        Numba and BLAS threads of this rank; ``"auto"`` divides the node's
        cores among the ranks on the node.  BLAS threads are set only when
        threadpoolctl is installed.

    Returns
    -------
    dict of list
        The same records on every rank, as :meth:`fastdnn.Network.fit`.

    Raises
    ------
    RanksDivergedError
        The ranks' parameters differ (names the ranks).
    FloatingPointError
        The global cost became NaN or infinite (on every rank together; the
        parameters are rolled back as in :meth:`fastdnn.Network.fit`).

    Notes
    -----
    Per step, with ``R`` ranks and ``b`` examples per batch:

    .. math:: g = \\sum_{r=0}^{R-1} \\frac{1}{b} \\sum_{j \\in S_r} \\nabla \\ell_j

    is summed by ``MPI_Allreduce`` over the gradient arena (and a second,
    16-byte one over the cost and the count of correct answers).  Dropout
    masks are drawn by position in the global batch, so they are the ones a
    single process would draw.
    """
    MPI = _mpi()
    comm = MPI.COMM_WORLD if comm is None else comm
    check_every, threads = _check_run_options(comm, check_every, threads)
    # Before the data's checks: a rank with another network fails with the others, not alone.
    _check_same_network(comm, net)
    data = net.prepare(X, Y)
    settings = FitSettings(epochs=epochs, batch_size=batch_size, optimizer=optimizer, learning_rate=learning_rate,
                           l2=l2, dropout=dropout, shuffle=shuffle, progress=progress, schedule=schedule,
                           callback=callback, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                           resume=resume)
    validation = examples_mod.validation_examples(net.model_state, validation)
    return _run(net, data, settings, validation, comm, MPI, check_every, threads)


def train(net, data, settings, validation=None, comm=None, check_every=DEFAULT_CHECK_EVERY, threads="auto"):
    """:func:`fit` on examples from :meth:`fastdnn.Network.prepare` with a :class:`fastdnn.fitting.FitSettings`.

    As :meth:`fastdnn.Network.train` is to :meth:`fastdnn.Network.fit`
    (the command line's ``--distributed`` runs it).  ``settings.verbose``
    is not used.
    """
    from .examples import Examples

    MPI = _mpi()
    comm = MPI.COMM_WORLD if comm is None else comm
    check_every, threads = _check_run_options(comm, check_every, threads)
    if not isinstance(settings, FitSettings):
        raise TypeError(f"settings must be a fastdnn.fitting.FitSettings, got {type(settings).__name__}")
    for name, examples in (("data", data), ("validation", validation)):
        if examples is None and name == "validation":
            continue
        if not isinstance(examples, Examples):
            raise TypeError(f"{name} must be the examples Network.prepare returns, got {type(examples).__name__}")
        examples.check_fits(net.layer_dims, net.output)
    _check_same_network(comm, net)
    return _run(net, data, settings, validation, comm, MPI, check_every, threads)


def _check_run_options(comm, check_every, threads):
    """``check_every`` and ``threads`` checked (``"auto"`` threads: the node's cores shared by its ranks)."""
    check_every = v.positive_int("check_every", check_every)
    if threads == "auto":
        threads = default_threads(comm)
    return check_every, v.positive_int("threads", threads)


def _run(net, data, settings, validation, comm, MPI, check_every, threads):
    import numba

    from . import threads as threads_mod

    blas = threads if threads_mod._threadpoolctl() is not None else None
    state = net.model_state
    with threads_mod.limit(min(threads, numba.config.NUMBA_NUM_THREADS), blas), state.lock:
        try:
            data.check_X()
        except ValueError as error:
            raise ValueError(str(error)) from None
        return _train(state, net, data, settings, validation, comm, MPI, check_every)


def _check_same_network(comm, net):
    mine = (list(net.layer_dims), net.hidden, net.output, net.dtype.name, net.seed)
    everyone = comm.allgather(mine)
    bad = [r for r, theirs in enumerate(everyone) if theirs != everyone[0]]
    if bad:
        raise ValueError(f"every rank must train the same network: rank(s) {bad} have {everyone[bad[0]]}, "
                         f"rank 0 has {everyone[0]}")


def _train(state, net, data, settings, validation_data, comm, MPI, check_every):
    """The epochs of :func:`train` on ``state`` (``net``'s); ``net`` for its public records only."""
    from . import loop as loop_mod

    rank, size = comm.Get_rank(), comm.Get_size()
    if settings.optimizer != state.optimizer:
        state.bind(settings.optimizer)
    state.backup_valid = False
    indices = settings.example_order(data.m)
    m = indices.size
    order = indices.copy()
    epochs, l2 = settings.epochs, settings.l2
    batch = m if settings.batch_size is None or settings.batch_size >= m else settings.batch_size
    use_shuffle = settings.shuffle and batch < m
    count = settings.track_accuracy and state.head.counts
    answers = m * state.head.answers_per_example(state.layer_dims[-1]) if count else None

    # The largest shard first, so that the smaller ones share its buffers.
    widest = max(hi - lo for lo, hi in (shard(0, batch, r, size) for r in range(size)))
    if widest:
        state.workspace(widest)
    scalars = np.zeros(2, dtype=np.float64)  # cost share, correct answers
    sums = np.zeros(2, dtype=np.float64)
    gathered = np.zeros((size, 2), dtype=np.float64)
    stop_flag = np.zeros(1, dtype=np.int32)

    checkpoints = _checkpoints(settings, state, net, m, batch, indices, comm)
    first_epoch, first_step, resumed_sums, history = checkpoints.resume(order)

    bar = loop_mod.progress_bar(settings.progress and rank == 0, epochs * m)
    steps_since_check = 0
    epoch = first_epoch
    try:
        for epoch in range(first_epoch, epochs):
            lr = settings.rate(epoch)
            started = time.perf_counter() - compiling.seconds()
            total = 0.0
            correct = 0.0
            skip = 0
            if epoch == first_epoch and first_step > 0:
                skip = first_step
                total, correct = resumed_sums
            if bar is not None:
                bar.set_description(f"epoch {epoch + 1}/{epochs}", refresh=False)
            if use_shuffle and not skip:
                np.copyto(indices, order)
                state.rng.shuffle(indices)
            n_steps = (m + batch - 1) // batch
            for step in range(skip, n_steps):
                start = step * batch
                b = min(batch, m - start)
                cost = _step(state, data, indices, start, b, comm, MPI, scalars, settings, count)
                if not math.isfinite(cost):
                    fitting.diverged(state, cost, f"epoch {epoch + 1} of {epochs}, step {step + 1} of {n_steps}", lr)
                state.update(state.grads, lr, l2 / b)
                total += cost * (b / m)
                correct += scalars[1]
                steps_since_check += 1
                if steps_since_check >= check_every:
                    check_identical(comm, state.params, sums, gathered, state.n_steps)
                    steps_since_check = 0
                if checkpoints.due():
                    checkpoints.save(epoch, step + 1, (total, correct), history)
                if bar is not None:
                    bar.update(b)
            record = _end_epoch(state, net, comm, (total, correct), answers, lr, started, validation_data,
                                (sums, gathered))
            steps_since_check = 0
            fitting.append_record(record, history, net.history)
            checkpoints.save(epoch + 1, 0, (0.0, 0.0), history)
            if bar is not None:
                bar.set_postfix({"loss": f"{record['cost']:.4g}"}, refresh=True)
            stop_flag[0] = 0
            if rank == 0 and settings.callback is not None and settings.callback(epoch, dict(record)):
                stop_flag[0] = 1
            comm.Bcast(stop_flag, root=0)
            if stop_flag[0]:
                break
        fitting.check_last_update(state, epoch)
    except (RanksDivergedError, FloatingPointError):
        raise  # raised by every rank together
    except BaseException:
        _abort_the_others(comm)
        raise
    finally:
        if bar is not None:
            bar.close()
    return history


def _checkpoints(settings, state, net, m, batch, indices, comm):
    """The :class:`fastdnn.fitting.Checkpoints` of the file ``Network.fit`` writes: rank 0 writes, every rank reads."""
    checkpoints = fitting.Checkpoints(settings, state, net, m, batch, indices, writer=comm.Get_rank() == 0)
    if checkpoints.path is not None:
        # Rank 0 decides whether the file is there, for every rank.
        resuming = np.array([checkpoints.resuming], dtype=np.int32)
        comm.Bcast(resuming, root=0)
        checkpoints.resuming = bool(resuming[0])
    return checkpoints


def _abort_the_others(comm):
    """End the whole job after a failure of this rank alone.

    A callback, a checkpoint write or an interrupt failing on one rank
    would leave the others waiting in the next collective call forever;
    so, as mpi4py's ``python -m mpi4py`` does, the job ends.
    """
    if comm.Get_size() < 2:
        return
    import traceback

    # One write, and a moment for the launcher to forward it: Abort kills
    # the job at once, and a traceback printed line by line was seen cut
    # after its first line on a busy machine.
    sys.stderr.flush()
    os.write(2, traceback.format_exc().encode())
    time.sleep(0.2)
    comm.Abort(1)


def _step(state, data, indices, start, b, comm, MPI, scalars, settings, count):
    """This rank's shard of the step on ``indices[start:start + b]``, summed over the ranks; returns the cost.

    The gradient arena and ``scalars`` (cost share, right answers) hold
    the global batch's sums afterwards; the cost has the L2 term.
    """
    from . import passes
    from .kernels import regularization as reg

    rank, size = comm.Get_rank(), comm.Get_size()
    lo, hi = shard(start, b, rank, size)
    local = hi - lo
    grads = state.grads
    scalars[:] = 0.0
    if local:
        ws = state.workspace(local)
        Xs = data.gather_X(indices, lo, ws)
        data.gather_Y(indices, lo, ws.Y)
        keep_prob = settings.keep_prob
        key = reg.mix_key(state.dropout_seed, state.n_steps) if keep_prob < 1.0 else 0
        # The global batch's scale and column positions: the shards' gradients add up to its.
        cost = passes.gradient(state, Xs, ws.Y, ws, 1.0 / b, (keep_prob, key), (lo - start, b), count=count)
        scalars[0] = cost * (local / b)
        if math.isfinite(cost):
            if count:
                scalars[1] = ws.count[0]
        else:
            grads[...] = 0.0  # the global cost is not finite either: no update follows
    else:
        grads[...] = 0.0  # fewer examples than ranks: this rank adds nothing
    comm.Allreduce(MPI.IN_PLACE, grads, op=MPI.SUM)
    comm.Allreduce(MPI.IN_PLACE, scalars, op=MPI.SUM)
    cost = float(scalars[0])
    if math.isfinite(cost) and settings.l2 != 0.0:
        cost = state.regularized_cost(cost, state.workspace(local) if local else _Scratch(), settings.l2, b)
    return cost


def _end_epoch(state, net, comm, sums, answers, lr, started, validation_data, check_buffers):
    """The epoch's record on every rank, after checking that the ranks' parameters agree."""
    record = fitting.epoch_record(net.history, sums[0], sums[1], answers, lr,
                                  time.perf_counter() - compiling.seconds() - started)
    check_identical(comm, state.params, check_buffers[0], check_buffers[1], state.n_steps)
    if validation_data is not None:
        scores = net.evaluate(validation_data) if comm.Get_rank() == 0 else None
        fitting.add_scores(record, comm.bcast(scores, root=0))
    return record


class _Scratch:
    """The one-element buffer :meth:`fastdnn.state.ModelState.regularized_cost` writes, for a rank without examples."""

    def __init__(self):
        self.square_sum = np.zeros(1, dtype=np.float64)
