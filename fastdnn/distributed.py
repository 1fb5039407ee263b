"""Data-parallel training over MPI: every rank trains on its shard of each batch.

Run one process per rank (``mpirun -n 4 python script.py`` or
``mpirun -n 4 fastdnn train DATA ... --distributed``).  Every rank holds the
whole network and reads the data set (memory-mapped: no rank loads it
whole).  For each global batch of ``b`` examples -- the same shuffled order
on every rank, because the shuffle generator comes from the network's seed
-- rank ``r`` of ``R`` takes the columns ``[r b / R, (r + 1) b / R)``,
computes its part of the gradient into the network's flat gradient arena
with the global batch's scale ``1 / b``, and one in-place ``Allreduce``
sums the arena over the ranks (:class:`fastdnn.reducer.Reducer`, in the same
training loop as one process's fit).  Each rank's shard runs on the route
it calls for -- worker or native column blocks when the rank has the cores
-- with the threads the node's cores give each rank.  Every rank then
applies the same update to the same parameters, so they stay identical; a
cheap checksum of the parameter arena, gathered every ``check_every`` steps,
proves it (and stops the run with :class:`RanksDivergedError` when it fails).

The transport is MPI's (mpi4py), never our own: install the ``distributed``
extra, ``pip install 'fastdnn[distributed]'``, which brings mpi4py and the
MPICH library as PyPI wheels (no system MPI needed; ``mpirun`` lands in the
environment's ``bin``).
"""

import os

from . import examples as examples_mod
from . import validation as v
from .fitting import FitSettings
# The reducer's names are this module's too (where they lived before it).
from .reducer import DEFAULT_CHECK_EVERY, RanksDivergedError, Reducer, check_identical, checksum, shard  # noqa: F401


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


def fit(net, X, Y, comm=None, epochs=1, batch_size=None, optimizer="sgd", learning_rate=0.0075, l2=0.0,
        dropout=0.0, shuffle=True, validation=None, progress=True, schedule=None, callback=None,
        checkpoint=None, checkpoint_every=None, resume=False, check_every=DEFAULT_CHECK_EVERY, threads="auto",
        sample_weight=None, step_schedule=None, clip_norm=None, clip_value=None):
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
    sample_weight : array_like of shape (m,), optional
        As for :meth:`fastdnn.Network.fit`, the same on every rank: each
        rank weighs its shard by the whole batch's sum of weights.
    step_schedule, clip_norm, clip_value
        As for :meth:`fastdnn.Network.fit`; every rank clips the summed
        gradient alike.  (Early stopping: from ``callback``.)

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
    data = net.prepare(X, Y, sample_weight=sample_weight)
    settings = FitSettings(epochs=epochs, batch_size=batch_size, optimizer=optimizer, learning_rate=learning_rate,
                           l2=l2, dropout=dropout, shuffle=shuffle, progress=progress, schedule=schedule,
                           callback=callback, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                           resume=resume, step_schedule=step_schedule, clip_norm=clip_norm, clip_value=clip_value)
    validation = examples_mod.validation_examples(net.model_state, validation)
    return _run(net, data, settings, validation, comm, MPI, check_every, threads)


def train(net, data, settings, validation=None, comm=None, check_every=DEFAULT_CHECK_EVERY, threads="auto"):
    """:func:`fit` on examples from :meth:`fastdnn.Network.prepare` with a :class:`fastdnn.fitting.FitSettings`.

    As :meth:`fastdnn.Network.train` is to :meth:`fastdnn.Network.fit`
    (the command line's ``--distributed`` runs it); ``settings.verbose``
    prints on rank 0.
    """
    MPI = _mpi()
    comm = MPI.COMM_WORLD if comm is None else comm
    check_every, threads = _check_run_options(comm, check_every, threads)
    if not isinstance(settings, FitSettings):
        raise TypeError(f"settings must be a fastdnn.fitting.FitSettings, got {type(settings).__name__}")
    examples_mod.check_training_examples(net.layer_dims, net.output, data, validation)
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

    from . import options
    from . import threads as threads_mod

    blas = threads if threads_mod._threadpoolctl() is not None else None
    # This process's share of the node: its threads, and the blocks its plans may use.
    with threads_mod.limit(min(threads, numba.config.NUMBA_NUM_THREADS), blas), options(block_workers=threads):
        return net.train(data, settings, validation, reducer=Reducer(comm, MPI, check_every))


def _check_same_network(comm, net):
    mine = (list(net.layer_dims), net.hidden, net.output, net.dtype.name, net.seed)
    everyone = comm.allgather(mine)
    bad = [r for r, theirs in enumerate(everyone) if theirs != everyone[0]]
    if bad:
        raise ValueError(f"every rank must train the same network: rank(s) {bad} have {everyone[bad[0]]}, "
                         f"rank 0 has {everyone[0]}")


