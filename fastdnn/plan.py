"""Which way a training step runs: one decision, made in one place, that says why.

A step of :class:`fastdnn.Network` can run as

========================  ===========================================================
route                     what runs
========================  ===========================================================
``plain``                 forward, cost, backward on the calling thread, BLAS
                          multi-threaded; the optimizer's kernel after
``plain-sgd-in-products`` the same, with plain SGD's step of the large weights taken
                          inside their ``dW`` products (the course's settings)
``threads``               column blocks on worker threads, one per core, BLAS at one
                          thread each (:mod:`fastdnn.workers`)
``native-update``         mini-batches as native column blocks on spinning threads,
                          gather and optimizer step included (:mod:`fastdnn.native_blocks`)
``native-gradient``       the same for an optimizer without a native form: the blocks
                          return the gradient, the optimizer steps in Python
``native-whole-batch``    a batch given whole (``train_step``, a full-batch ``fit``, or
                          a batch gathered for the step) as native column blocks
``dual``                  ``fit_course`` with the first layer in dual form (:mod:`fastdnn.dual`)
========================  ===========================================================

:func:`decide` chooses, from facts about the network, the case (batch
size, kind of step, dropout, optimizer, data) and the machine; it is a pure
function, so a plan can be asked for without running anything
(:meth:`fastdnn.Network.plan`).  The strategies a network can be held to
(``Network(strategy=...)``) are :data:`STRATEGIES`; a forced strategy that
cannot serve a case raises :class:`ValueError` saying why.
"""

import os
from typing import NamedTuple

import numpy as np

from . import config

#: The strategies a network can be held to; ``"auto"`` lets :func:`decide` choose.
STRATEGIES = ("auto", "plain", "threads", "native", "dual", "numpy")

#: The route each strategy's steps take, by kind of step.
ROUTES = ("plain", "plain-sgd-in-products", "threads", "native-update", "native-gradient", "native-whole-batch",
          "dual", "numpy")

#: Kinds of step: a batch given whole (``train_step``, full-batch ``fit``),
#: mini-batches of a ``fit`` (the batch size of its steps), and the course's
#: full-batch gradient descent (``fit_course``).
KINDS = ("whole", "mini-batches", "course")

#: Optimizer kinds: plain SGD, another optimizer with a native form, one without, and any optimizer
#: after gradient clipping (which needs the whole gradient first: it steps in Python too).
OPTIMIZER_KINDS = ("sgd", "native", "python", "clipped")


class Case(NamedTuple):
    """What a step is asked to do.

    ``dropout`` and ``l2``: whether the step has them (their strengths do
    not change the route, so a grid search over them shares one plan).
    ``data``: why the data cannot be read in place by native blocks ("" when
    they can): for ``"whole"`` and ``"course"``, ``X`` and ``Y`` must be
    C-ordered in the network's dtype; for ``"mini-batches"``, in memory, in
    the network's dtype.  ``batch_data``: the same for each batch gathered
    from them (``"mini-batches"`` only).  ``dual``: ``fit_course``'s
    argument.  ``reduced``: the step's gradient is summed over MPI ranks
    before the optimizer's step (:class:`fastdnn.distributed.Reducer`);
    ``batch`` is then this rank's shard.  ``sparse``: ``X`` is a
    scipy.sparse matrix (:mod:`fastdnn.sparse_input`), which only the plain
    route reads.  ``precision``: ``"bf16"`` when the network's products
    take bfloat16 operands (:func:`fastdnn.precision.choose`, which gives
    ``precision_why``), else ``"float"``; ``precision_auto``: the network
    asked for ``"auto"``, a preference (a step bf16 cannot serve, or would
    not speed up, multiplies in float instead of being refused).
    ``numpy_optimizer``: the fit's optimizer has a NumPy step
    (:meth:`fastdnn.optimizers.Optimizer.numpy_form`), which the route
    ``numpy`` needs.
    """

    kind: str
    batch: int
    dropout: bool = False
    optimizer: str = "sgd"
    l2: bool = False
    data: str = ""
    batch_data: str = ""
    dual: object = "auto"
    reduced: bool = False
    sparse: bool = False
    precision: str = "float"
    precision_why: str = ""
    precision_auto: bool = False
    numpy_optimizer: bool = True


class Machine(NamedTuple):
    """What the process offers: threads for blocks, a BLAS that can be held at one thread, its gemm.

    ``workers`` is :func:`fastdnn.config.block_workers` (the cores this
    process may run on and a parent lets it use, or ``FASTDNN_BLOCK_WORKERS``): native blocks take up to that many;
    worker threads no more than ``cores``.
    """

    workers: int
    can_pin_blas: bool
    gemm: bool
    blas: str
    blas_threads: int
    cores: int = 2


class Plan(NamedTuple):
    """The route of a step and why.

    Attributes
    ----------
    strategy : str
        The strategy that serves the step: ``"plain"``, ``"threads"``,
        ``"native"`` or ``"dual"``.
    route : str
        One of :data:`ROUTES`.
    reason : str
        Why this route, in words.
    batch : int
        Columns of the step.
    blocks : int
        Column blocks the step is split into (1 when unsplit).
    chunk : int
        Columns a native block takes through the network at a time (0
        for the other routes).
    threads : int
        Threads that compute the step's passes.
    blas : str
        The BLAS library and how many threads each of its products runs.
    case : Case
        The case the plan was decided for.
    precision : str
        ``"bf16"`` when the products take bfloat16 operands (MKL's product,
        :mod:`fastdnn.precision`), ``"float"`` when they run in the
        network's dtype.
    """

    strategy: str
    route: str
    reason: str
    batch: int
    blocks: int
    chunk: int
    threads: int
    blas: str
    case: "Case | None" = None
    precision: str = "float"

    def __str__(self):
        split = f", {self.blocks} blocks" if self.blocks > 1 else ""
        chunk = f" of {self.chunk}-column chunks" if self.chunk else ""
        return f"{self.route} (batch {self.batch}{split}{chunk}; {self.blas}): {self.reason}"


#: What the products of a bf16 step run on, for :attr:`Plan.blas`.
BF16_PRODUCTS = "MKL's bf16 gemm"


def machine(dtype):
    """The :class:`Machine` facts of this process for products in ``dtype`` (cheap after the first call)."""
    from . import blas, threads

    return Machine(config.block_workers(), threads.can_pin_blas(), bool(blas.gemm_address(dtype)),
                   *threads.blas_summary(), cores=os.cpu_count() or 1)


def flops_per_example(layer_dims):
    """Floating-point operations of one example's forward products (twice the weights)."""
    return 2.0 * sum(a * b for a, b in zip(layer_dims[1:], layer_dims[:-1]))


def _native_blocks(layer_dims, batch, dtype, workers, forced):
    """Native blocks for ``batch`` columns and the reason, or 0 and why not.

    Chosen (not forced) only for small steps, narrow networks and those whose
    chunk fits the cache budget; always with at least
    ``config.NATIVE_BLOCK_MIN_COLUMNS`` columns a block.
    """
    from .native_blocks import _MAX_BLOCKS, bytes_per_column

    n_blocks = min(workers, _MAX_BLOCKS, batch // max(config.NATIVE_BLOCK_MIN_COLUMNS, 1))
    if n_blocks < 2:
        if workers < 2:
            return 0, f"native blocks need 2 threads; this process may use {workers} (its cores, its parent's limits)"
        return 0, (f"native blocks need {config.NATIVE_BLOCK_MIN_COLUMNS} columns a block "
                   f"(config.NATIVE_BLOCK_MIN_COLUMNS) on 2 threads; the batch has {batch}")
    if forced:
        return n_blocks, "strategy 'native'"
    per_example = flops_per_example(layer_dims)
    flops = batch * per_example
    if flops < config.BLOCKED_MIN_FLOPS:
        return n_blocks, f"a small step ({flops:.2g} flops < config.BLOCKED_MIN_FLOPS {config.BLOCKED_MIN_FLOPS:.2g})"
    if per_example / sum(layer_dims[1:]) < config.NATIVE_MAX_FLOPS_PER_UNIT:
        return n_blocks, (f"a narrow network ({per_example / sum(layer_dims[1:]):.0f} flops a unit < "
                          f"config.NATIVE_MAX_FLOPS_PER_UNIT {config.NATIVE_MAX_FLOPS_PER_UNIT:.0f})")
    if (bytes_per_column(layer_dims, np.dtype(dtype).itemsize) * config.NATIVE_CHUNK_MIN_COLUMNS
            <= config.NATIVE_CHUNK_BYTES):
        return n_blocks, "a chunk of its layers fits config.NATIVE_CHUNK_BYTES"
    return 0, f"a large step ({flops:.2g} flops) of wide layers"


def _worker_blocks(layer_dims, batch, workers, forced):
    """Worker column blocks for ``batch`` columns and the reason, or 0 and why not.

    Forced, a batch gets as many blocks as it has columns up to ``workers``
    (a batch of one column is one block on the calling thread, BLAS still
    at one thread): the steps keep the route the network was held to.
    """
    if forced:
        return min(workers, batch), "strategy 'threads'"
    if workers < 2:
        return 0, f"worker blocks need 2 threads; this process may use {workers} (its cores, its parent's limits)"
    if batch < workers:
        return 0, f"worker blocks need a column per thread ({workers}); the batch has {batch}"
    flops = batch * flops_per_example(layer_dims)
    if flops < config.BLOCKED_MIN_FLOPS:
        return 0, f"a small step ({flops:.2g} flops < config.BLOCKED_MIN_FLOPS {config.BLOCKED_MIN_FLOPS:.2g})"
    if batch < workers * config.BLOCK_MIN_COLUMNS:
        return 0, f"fewer than config.BLOCK_MIN_COLUMNS ({config.BLOCK_MIN_COLUMNS}) columns a thread"
    return workers, f"a large step ({flops:.2g} flops >= config.BLOCKED_MIN_FLOPS)"


def fused_layers(layer_dims):
    """Per layer, whether the route ``plain-sgd-in-products`` steps its weights inside their ``dW`` product.

    Layers of at least ``config.FUSED_UPDATE_MIN_WEIGHTS`` weights: there the
    product's second pass over ``W`` costs less than the update kernel's.
    """
    return tuple(a * b >= config.FUSED_UPDATE_MIN_WEIGHTS for a, b in zip(layer_dims[1:], layer_dims[:-1]))


def _sgd_in_products(layer_dims, case):
    # Not when the gradient is summed over MPI ranks first: the step follows the sum.
    return case.optimizer == "sgd" and not case.l2 and not case.reduced and any(fused_layers(layer_dims))


class StrategyRefused(ValueError):
    """A network held to a strategy (``Network(strategy=...)``) that cannot serve a step; the message says why."""


def _refuse(strategy, why):
    raise StrategyRefused(f"strategy={strategy!r} cannot run this step: {why}")


def decide(layer_dims, dtype, strategy, case, facts):
    """The :class:`Plan` of a step.

    Parameters
    ----------
    layer_dims : sequence of int
    dtype : numpy dtype
    strategy : str
        One of :data:`STRATEGIES`.
    case : Case
    facts : Machine

    Returns
    -------
    Plan

    Raises
    ------
    ValueError
        A forced strategy (not ``"auto"``) that cannot serve ``case``.
    """
    if case.sparse:
        # The first layer's sparse products (fastdnn.kernels.sparse) split the layer's units over Numba's
        # threads themselves; the column blocks and native sessions read dense columns only.
        if strategy not in ("auto", "plain"):
            _refuse(strategy, "sparse inputs take the plain route")
        why = "sparse inputs: the first layer's products read the nonzeros in place"
        if case.precision == "bf16":
            why += "; they multiply in float32 (bf16 products read dense inputs)"
        return _plain(layer_dims, case, facts, False, why)._replace(case=case)
    if case.precision == "bf16":
        why_not = _why_not_bf16(strategy, case)
        if case.precision_auto:
            if not why_not and flops_per_example(layer_dims) < config.BF16_MIN_FLOPS:
                why_not = (f"products too small for bf16 ({flops_per_example(layer_dims):.3g} flops an example < "
                           f"config.BF16_MIN_FLOPS {config.BF16_MIN_FLOPS:.3g})")
            if why_not:
                plan = _decide(layer_dims, dtype, strategy, case._replace(precision="float"), facts)
                return plan._replace(reason=f"{plan.reason}; auto: {why_not}", case=case)
        elif why_not:
            _refuse(strategy if strategy not in ("auto", "plain") else "dual", why_not)
        return _bf16(case, facts)._replace(case=case)
    return _decide(layer_dims, dtype, strategy, case, facts)._replace(case=case)


def _why_not_bf16(strategy, case):
    """Why a step held to ``strategy`` cannot take bf16 products ("" when it can)."""
    if strategy not in ("auto", "plain"):
        return "bf16 products run on the plain route (MKL threads each product)"
    if case.kind == "course" and case.dual is True:
        return "the dual form multiplies in float; bf16 products run on the plain route"
    return ""


def _bf16(case, facts):
    # MKL threads each bf16 product over the cores itself: the step runs whole on the calling thread.
    threads = facts.cores
    return Plan("plain", "plain", f"{case.precision_why}; MKL threads each product", case.batch, 1, 0, 1,
                f"{BF16_PRODUCTS}, {threads} thread{'s' if threads != 1 else ''}", precision="bf16")


#: Why a step whose plan chose native blocks runs another way: its threads are taken.
BUSY = "another fit holds the native blocks' threads"


def when_busy(layer_dims, dtype, strategy, case, facts):
    """The plan of a step of ``case`` while another fit holds the native blocks' threads.

    ``"auto"`` takes what it would without native blocks (worker threads or
    plain); a network held to ``"native"`` runs plain on the calling thread
    rather than wait.  The step is a whole batch either way (a fit's
    mini-batches are then gathered one by one).  Never the route
    ``plain-sgd-in-products``: the step is already under way without it.
    """
    if case.precision == "bf16":
        plan = decide(layer_dims, dtype, strategy, case, facts)
        if plan.precision == "bf16":
            return plan  # no native threads to wait for
        case = case._replace(precision="float")
    busy = case._replace(kind="whole", data=BUSY, batch_data=BUSY)
    if strategy == "auto":
        plan = _decide(layer_dims, dtype, "auto", busy, facts)
    if strategy != "auto" or plan.route == "plain-sgd-in-products":
        plan = _plain(layer_dims, busy, facts, False, BUSY)
    if BUSY not in plan.reason:
        plan = plan._replace(reason=f"{BUSY}; {plan.reason}")
    return plan._replace(case=case)


def _decide(layer_dims, dtype, strategy, case, facts):
    if strategy == "numpy" and not (case.kind == "course" and case.dual is True):
        why = numpy_unavailable(case)
        if why:
            _refuse(strategy, why)
        return _numpy(case, facts, "strategy 'numpy'")
    if case.kind == "course":
        # The dual form runs on the calling thread like the plain route: "plain" keeps it where
        # it pays; "threads" and "native" ask for their blocks instead, unless dual=True says otherwise.
        if case.dual is True or (case.dual == "auto" and (
                strategy == "dual" or (strategy in ("auto", "plain") and case.batch < layer_dims[0]))):
            why = ("fit_course(dual=True)" if case.dual is True else "strategy 'dual'" if strategy == "dual"
                   else f"fewer examples ({case.batch}) than features ({layer_dims[0]})")
            return Plan("dual", "dual", why, case.batch, 1, 0, 1, _blas(facts, False))
        if strategy == "dual":
            _refuse(strategy, "fit_course(dual=False) turns the dual form off")
        case = case._replace(kind="whole")
    elif strategy == "dual":
        _refuse(strategy, "the dual form serves fit_course (the course's full-batch gradient descent) only")
    if case.kind == "mini-batches":
        plan = _mini_batch_session(layer_dims, dtype, strategy, case, facts) if strategy in ("auto", "native") \
            else None
        if plan is not None:
            return plan
        # Otherwise each batch is gathered and stepped as a whole batch.
        case = case._replace(kind="whole", data=case.batch_data)
    return _whole_batch(layer_dims, dtype, strategy, case, facts)


def _blas(facts, pinned):
    if pinned:
        return f"{facts.blas} at 1 thread a block"
    n = facts.blas_threads
    return f"{facts.blas}, {n} thread{'s' if n != 1 else ''}" if n else facts.blas


def _mini_batch_session(layer_dims, dtype, strategy, case, facts):
    """The plan of a fit's mini-batches as one native session, or None for a step per batch."""
    forced = strategy == "native"
    why_not = _native_unavailable(case, facts)
    if why_not or case.data:
        if forced and why_not:
            _refuse(strategy, why_not)
        return None
    n_blocks, why = _native_blocks(layer_dims, case.batch, dtype, facts.workers, forced)
    if not n_blocks:
        if forced:
            _refuse(strategy, why)
        return None
    route = "native-update" if case.optimizer in ("sgd", "native") else "native-gradient"
    if case.optimizer == "python":
        why += "; the optimizer has no native form: it steps in Python"
    elif case.optimizer == "clipped":
        why += "; the gradient is clipped whole: the optimizer steps in Python"
    return Plan("native", route, why, case.batch, n_blocks, _chunk(layer_dims, dtype, case.batch, n_blocks, False),
                n_blocks, _blas(facts, True))


def _native_unavailable(case, facts):
    if case.dropout:
        return "native blocks have no dropout"
    if not facts.gemm:
        return "NumPy's BLAS exports no gemm for this dtype"
    if not facts.can_pin_blas:
        return "BLAS cannot be held at one thread (needs threadpoolctl)"
    return ""


def _chunk(layer_dims, dtype, batch, n_blocks, direct):
    from .native_blocks import _block_width, bytes_per_column, chunk_columns

    per_column = bytes_per_column(layer_dims, np.dtype(dtype).itemsize, direct)
    return min(int(_block_width(batch, n_blocks)), chunk_columns(per_column))


def _whole_batch(layer_dims, dtype, strategy, case, facts):
    in_products = _sgd_in_products(layer_dims, case)
    if strategy == "plain":
        return _plain(layer_dims, case, facts, in_products, "strategy 'plain'")
    if strategy == "threads":
        n_blocks, why = _worker_blocks(layer_dims, case.batch, min(facts.workers, facts.cores), True)
        if not facts.can_pin_blas:
            _refuse(strategy, "BLAS cannot be held at one thread (needs threadpoolctl)")
        return Plan("threads", "threads", why, case.batch, n_blocks, 0, n_blocks, _blas(facts, True))
    forced = strategy == "native"
    threads_blocks, threads_why = _worker_blocks(layer_dims, case.batch, min(facts.workers, facts.cores), False)
    if not facts.can_pin_blas:
        threads_blocks = 0
    if not forced and in_products and not threads_blocks:
        return _plain(layer_dims, case, facts, True, "plain SGD steps its large weights inside their products")
    why_not = _native_unavailable(case, facts) or case.data
    n_blocks, why = (0, why_not) if why_not else _native_blocks(layer_dims, case.batch, dtype, facts.workers, forced)
    if n_blocks:
        if case.optimizer == "clipped":
            why += "; the gradient is clipped, then the optimizer steps"
        elif case.optimizer != "sgd" and not forced:
            why += "; the optimizer steps after the blocks"
        return Plan("native", "native-whole-batch", why, case.batch, n_blocks,
                    _chunk(layer_dims, dtype, case.batch, n_blocks, True), n_blocks, _blas(facts, True))
    if forced:
        _refuse(strategy, why)
    if threads_blocks:
        return Plan("threads", "threads", threads_why, case.batch, threads_blocks, 0, threads_blocks,
                    _blas(facts, True))
    return _plain(layer_dims, case, facts, False, f"{why}; worker blocks: {threads_why}")


def _plain(layer_dims, case, facts, in_products, why):
    in_products = in_products and _sgd_in_products(layer_dims, case)
    return Plan("plain", "plain-sgd-in-products" if in_products else "plain", why, case.batch, 1, 0, 1,
                _blas(facts, False))


def numpy_unavailable(case):
    """Why the route ``numpy`` cannot run a step of ``case`` ("" when it can)."""
    if case.dropout:
        return "the numpy route has no dropout (its masks are the kernels')"
    if case.reduced:
        return "the numpy route takes no MPI shards"
    if case.sparse:
        return "sparse inputs take the plain route"
    if case.precision == "bf16":
        return "bf16 products run on the plain route"
    if not case.numpy_optimizer:
        return "the optimizer has no NumPy step (Optimizer.numpy_form)"
    return ""


def _numpy(case, facts, why):
    return Plan("numpy", "numpy", why, case.batch, 1, 0, 1, _blas(facts, False))


#: What a step on the route ``numpy`` costs, for :func:`first_use`: seconds a step and a layer of its
#: calls, and flops a second of its products.  Measured on the 2-core Xeon (a fit's steps with Adam;
#: docs/cold_start.md): [64, 100, 10] at a batch of 200, 0.53 ms (the compiled route 0.17 ms);
#: [784, 256, 256, 10] at 200, 8.6 ms; at 4096, 73 ms.  The estimate errs long (compiling sooner).
NUMPY_SECONDS_A_STEP = 300e-6
NUMPY_SECONDS_A_LAYER = 40e-6
NUMPY_FLOPS_A_SECOND = 3e10


def numpy_seconds(layer_dims, batch, steps):
    """About how long ``steps`` steps of ``batch`` examples take on the route ``numpy`` (forward and backward)."""
    per_step = NUMPY_SECONDS_A_STEP + NUMPY_SECONDS_A_LAYER * (len(layer_dims) - 1) + \
        3 * batch * flops_per_example(layer_dims) / NUMPY_FLOPS_A_SECOND
    return steps * per_step


def first_use(plan, layer_dims, case, facts, steps, compiled, spent):
    """``plan``, or the route ``numpy`` while ``plan``'s kernels are not compiled and few steps are asked.

    A new environment compiles a route's kernels on its first step: seconds
    for the plain route, tens of seconds for native blocks.  Steps that all
    together take less than that in NumPy calls run there instead
    (:mod:`fastdnn.executors.numpy_route`), nothing compiled: while the
    process's NumPy steps (``spent`` seconds so far, estimated) and these
    ``steps`` stay under ``config.FIRST_USE_SECONDS``.  Past it, or once
    the route is compiled (in this process, or in the cache for this CPU:
    ``compiled()``, asked last, as it may read the cache's index), ``plan``
    runs.  Only for ``"auto"`` plans (the caller's check).
    """
    if config.FIRST_USE_SECONDS <= 0 or plan.route in ("numpy", "dual") or numpy_unavailable(case):
        return plan
    estimate = numpy_seconds(layer_dims, case.batch, steps)
    if spent + estimate > config.FIRST_USE_SECONDS or compiled():
        return plan
    # (No figures of this fit in the reason: the plan of a case is the same from call to call.)
    return _numpy(case, facts, (
        f"first use: the {plan.route} route is not compiled for this machine yet; its steps run in NumPy calls "
        f"while the process's take under config.FIRST_USE_SECONDS ({config.FIRST_USE_SECONDS:g} s)"
    ))._replace(case=case)


def case_of(batch, m=None, optimizer="sgd", l2=False, dropout=False, course=False):
    """The :class:`Case` of :meth:`fastdnn.Network.plan`'s question: a step of ``batch`` of a fit over ``m``.

    ``course``: a step of ``fit_course``; ``m`` larger than ``batch``: a
    fit's mini-batches; else a batch given whole.
    """
    if course:
        return Case("course", batch)
    kind = "mini-batches" if m is not None and m > batch else "whole"
    return Case(kind, batch, dropout, optimizer, l2)


def needs_c_order(strategy):
    """Whether a fit's full batch is copied to C order for a network held to ``strategy``.

    Native blocks read C-ordered columns only, and a network held to
    ``"native"`` has no other route: one copy per fit lets it serve.
    """
    return strategy == "native"


def optimizer_kind(optimizer, clipped=False):
    """``"sgd"``, ``"native"``, ``"python"`` or ``"clipped"`` (see :data:`OPTIMIZER_KINDS`) of an optimizer
    object, in a fit that clips its gradients or not."""
    from . import optimizers

    if clipped:
        return "clipped"  # any optimizer: the gradient must be whole before the step
    form = optimizer.native_form()
    if form is None:
        return "python"
    return "sgd" if form.code == optimizers.SGD_CODE else "native"
