"""Training steps as column blocks on spinning threads, without the GIL.

Used for small steps and for the steps of narrow networks (chosen by
:func:`fastdnn.plan.decide`): ``fit``'s mini-batches (:func:`open_session`) and
whole batches read in place (:func:`direct_pass`: ``train_step``, a
full-batch ``fit``).

A mini-batch of a small network (the 8x8 digits through 64-100-10, batch
200) is too small for BLAS to split a product well: on the 2-core machine
the products of such a step took 106 us on one thread and ~100 us on two,
and the elementwise passes right after a two-thread product ran at half
speed because they read what the other core had just written.  Column
blocks fix both -- each core runs the whole gradient pass of half the
batch with single-threaded products, its block staying in its own cache
(measured: the products of a 100-column block take 50 us, and two blocks
run at once in 50 us) -- but only if handing a block to the other core is
cheap.  A Python thread woken through an event takes tens of microseconds,
and every GIL handoff as long, so the blocks of :mod:`fastdnn.workers`
only pay off for large steps.

Here a block's whole gradient pass is one ``nogil`` Numba function
(:func:`_block_pass`): the batch gather, every layer's product (NumPy's own
BLAS, called by address, see :func:`fastdnn.blas.gemm_address`) and fused
epilogue, the cost and the backward pass into the block's gradient arena.
The worker thread waits for the next step inside Numba, spinning on a
shared counter (atomic loads with a ``pause``), so a step costs one store to
start and one load to finish.  A worker that spins too long without work
goes to sleep on an event, and :class:`Session` wakes it.

After the gradient pass each thread adds the blocks' gradients over its own
run of the arena and takes the optimizer's step there (:func:`_finish_step`):
on one thread the update ran three to five times slower, every parameter
line being shared with the core that had just read the weights.

The math is the same as the plain path's: the layer epilogues, costs,
gathers, bias sums and optimizer updates are the same kernels, called from
here instead of from :class:`fastdnn.Network`'s Python loop.  Only the sum
over a batch changes order (block 0's part plus block 1's).
"""

import math
import os
import platform
import threading
from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.core.imputils import impl_ret_borrowed
from numba.np import arrayobj
from numba.extending import intrinsic

from . import blas, config
from .optimizers import ADAM_CODE, MOMENTUM_CODE, SGD_CODE, NativeForm
from .kernels import activation as act
from .kernels import gather as gather_mod
from .kernels import loss, metrics, update
from .kernels import regularization as reg
from .kernels import scalar

# Output codes of the block pass (fastdnn.outputs.Output.code).
SOFTMAX_OUTPUT = loss.SOFTMAX_OUTPUT


#: The weights of a session without sample weights.
_NO_WEIGHTS = np.empty(0, dtype=np.float64)


# The kernels' arguments come in small records.  They are passed as plain tuples (tuple(record)):
# Numba's dispatcher types a plain tuple in C, a named one through Python on every call.
class Model(NamedTuple):
    """The network as the block pass reads it: BLAS's gemm, the parameter arena and its layout, the activations."""

    gemm: int
    params: np.ndarray
    w_off: np.ndarray
    b_off: np.ndarray
    dims: np.ndarray
    hidden_code: int
    output_code: int
    slope: float


class Batches(NamedTuple):
    """Where a step's examples come from: ``X`` by rows or columns, ``labels`` or ``Y``, the epoch's ``indices``.

    ``weights``: the current batch's sample weights, normalised (column
    ``j`` of the batch has ``weights[j]``), or empty without weights.
    """

    rows_data: bool
    direct: bool
    X: np.ndarray
    labels: np.ndarray
    Y: np.ndarray
    indices: np.ndarray
    count: bool  # type: ignore[assignment]  # a field, where tuple has a method of the name
    weights: np.ndarray


class Block(NamedTuple):
    """One block's own memory: its workspace (``ws``, float64 ``ws64``, activation offsets), gradient and result."""

    ws: np.ndarray
    ws64: np.ndarray
    a_off: np.ndarray
    grads: np.ndarray
    result: np.ndarray


class Arenas(NamedTuple):
    """The arenas the update runs over: the parameters, block 0's gradient, the other blocks' gradients."""

    params: np.ndarray
    grads: np.ndarray
    block_grads: np.ndarray


class Penalty(NamedTuple):
    """The L2 term of the cost (its strength is ``fctl[_L2]``): the weights' count, scratch for their sum of squares."""

    n_weights: int
    partials: np.ndarray
    square_sum: np.ndarray

# Slots of the shared control array (int64).  What the main thread writes
# and what the workers write sit on different cache lines.
_GEN = 0        # step counter: the main thread bumps it to start a step
_LEAVE = 1      # non-zero: the workers return from their loops
_START = 2      # first position of the batch in the index array
_BATCH = 3      # columns of the batch
_PHASE = 4      # what a step is: _GRADIENTS, _UPDATE or _NO_UPDATE
_BLOCKS = 5     # then per block k: first column at _BLOCKS + 2 k, end at _BLOCKS + 2 k + 1
_MAX_BLOCKS = 6
_CHUNK = 20     # columns a block takes through the network at a time (set once per session)
_DONE = 24      # per block k: the last step it finished
_ASLEEP = 32    # per block k: 1 while its worker sleeps on its event
_CTL_SIZE = 40
# Columns of the batch whose 1/b scales the gradient (an MPI shard's batch is wider than its columns);
# written by the main thread, on the cache line of _CHUNK, away from the workers' _DONE and _ASLEEP.
_SCALE = 21
assert _BLOCKS + 2 * _MAX_BLOCKS <= _CHUNK < _SCALE < _DONE and _DONE + _MAX_BLOCKS <= _ASLEEP <= _CTL_SIZE - _MAX_BLOCKS

_GRADIENTS = 0  # the gradient pass of each block
_UPDATE = 1     # each thread's run of the arena: add the blocks' gradients, take the optimizer's step
_NO_UPDATE = 2  # the cost was not finite: nothing to do

# The slots of the float control array.
_LR = 0
_DECAY = 1
_CORRECTION1 = 2
_CORRECTION2 = 3
_L2 = 4

#: ``pause`` spins of a waiting thread before it gives up the core (the
#: worker) or asks for the worker to be woken (the main thread); a pause is
#: 40-150 cycles, so this is a few milliseconds.
SPIN_LIMIT = 100_000



# ---------------------------------------------------------------- atomics


def _item_pointer(context, builder, array_type, array, index):
    ary = context.make_array(array_type)(context, builder, array)
    return cgutils.get_item_pointer(context, builder, array_type, ary, [index])


@intrinsic
def _load(typingctx, array, index):
    """``array[index]`` as a sequentially consistent atomic load (int64 arrays)."""
    def codegen(context, builder, signature, args):
        ptr = _item_pointer(context, builder, signature.args[0], args[0], args[1])
        return builder.load_atomic(ptr, "seq_cst", 8)
    return types.int64(array, index), codegen


@intrinsic
def _store(typingctx, array, index, value):
    """``array[index] = value`` as a sequentially consistent atomic store (int64 arrays)."""
    def codegen(context, builder, signature, args):
        ptr = _item_pointer(context, builder, signature.args[0], args[0], args[1])
        value = context.cast(builder, args[2], signature.args[2], types.int64)
        builder.store_atomic(value, ptr, "seq_cst", 8)
        return context.get_dummy_value()
    return types.void(array, index, value), codegen


_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")


@intrinsic
def _pause(typingctx):
    """The x86 ``pause`` hint of a spin loop (nothing elsewhere)."""
    def codegen(context, builder, signature, args):
        if _X86:
            fnty = ir.FunctionType(ir.VoidType(), [])
            builder.call(cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.sse2.pause"), [])
        return context.get_dummy_value()
    return types.void(), codegen


@intrinsic
def _yield_core(typingctx):
    """``sched_yield()``: let another thread that wants this core run (POSIX; nothing elsewhere)."""
    def codegen(context, builder, signature, args):
        if _POSIX:
            fnty = ir.FunctionType(ir.IntType(32), [])
            builder.call(cgutils.get_or_insert_function(builder.module, fnty, "sched_yield"), [])
        return context.get_dummy_value()
    return types.void(), codegen


_POSIX = os.name == "posix"

#: Spins of a waiting thread before it starts yielding its core on each spin:
#: if the thread it waits for shares the core (the machine is busy, or the
#: scheduler put both there), spinning alone would wait out a time slice.
YIELD_AFTER = 256


# ---------------------------------------------------------------- the block pass


@intrinsic
def _view(typingctx, flat, offset, rows, cols):
    """``flat[offset:offset + rows * cols]`` as a C-ordered ``(rows, cols)`` array (1-D C-ordered ``flat``).

    What a slice and ``reshape`` give, without ``reshape``'s checks: their
    error path (the message with the shapes) compiled for 5 s in every new
    environment, and the planner sizes every buffer this reads.
    """
    if not (isinstance(flat, types.Array) and flat.ndim == 1 and flat.layout == "C"
            and all(isinstance(size, types.Integer) for size in (offset, rows, cols))):
        return None
    view_type = flat.copy(ndim=2, layout="C")  # keeps flat's flags (read-only stays read-only)

    def codegen(context, builder, signature, args):
        flat_type = signature.args[0]
        source = context.make_array(flat_type)(context, builder, args[0])
        offset, rows, cols = (context.cast(builder, value, kind, types.intp)
                              for value, kind in zip(args[1:], signature.args[1:]))
        itemsize = context.get_constant(types.intp, context.get_abi_sizeof(context.get_data_type(flat_type.dtype)))
        view = context.make_array(view_type)(context, builder)
        arrayobj.populate_array(view, data=builder.gep(source.data, [offset]), shape=[rows, cols],
                                strides=[builder.mul(cols, itemsize), itemsize], itemsize=itemsize,
                                meminfo=source.meminfo, parent=source.parent)
        return impl_ret_borrowed(context, builder, view_type, view._getvalue())

    return view_type(flat, offset, rows, cols), codegen


@njit(**config.JIT)
def _block_pass(model, data, start, c0, c1, scale, block, chunk):
    """Forward, cost and backward of the columns ``c0:c1`` of a batch into ``block.grads``, ``chunk`` columns at a time.

    Each chunk goes through the whole network while its activations are in
    the core's cache (:func:`_chunk_pass`); the gradients of later chunks add
    into those of the first.  Writes the block's cost summed over its columns
    to ``block.result[0]`` and, with ``data.count``, its number of correct
    answers to ``block.result[1]``; stops at the first chunk whose cost is
    not finite.
    """
    result = block[4]
    total = 0.0
    correct = 0.0
    for s0 in range(c0, c1, chunk):
        s1 = min(c1, s0 + chunk)
        _chunk_pass(model, data, start, s0, s1, scale, block, s0 > c0)
        total += result[0]
        correct += result[1]
        if not scalar.is_finite(total):
            break
    result[0] = total
    result[1] = correct


@njit(**config.JIT)
def _chunk_pass(model, data, start, c0, c1, scale, block, accumulate):
    """Forward, cost and backward of the columns ``c0:c1`` of a batch into ``block.grads`` (added to it when ``accumulate``).

    ``model``, ``data`` and ``block`` are a :class:`Model`, :class:`Batches`
    and :class:`Block` as tuples.  ``data.X`` holds one example per row
    (``rows_data``) or per column; targets are ``labels`` (one-hot on the
    fly) unless ``labels`` is empty, then columns of ``Y``.  ``direct``:
    ``X`` and ``Y`` are the batch itself (``indices`` and ``start`` unused);
    the products read the chunk's columns of ``X`` in place.
    ``ws``/``ws64`` are the block's workspace and ``a_off`` (``L + 1``
    int64) room for the offsets of its activations.  Writes the chunk's
    cost summed over its columns to ``result[0]`` and, with ``count``, its
    number of correct answers to ``result[1]``.
    """
    gemm, params, w_off, b_off, dims, hidden_code, output_code, slope = model
    rows_data, direct, X, labels, Y, indices, count, weights = data
    ws, ws64, a_off, grads, result = block
    c = c1 - c0
    L = dims.size - 1
    n_x = dims[0]
    widest = 0
    for l in range(1, L + 1):
        widest = max(widest, dims[l])
    # Workspace: a bias-gradient scratch, A[1..L], two scratch buffers, the inputs, the targets.
    db_chunk = _view(ws, 0, widest, 1)
    offset = widest
    for l in range(1, L + 1):
        a_off[l] = offset
        offset += dims[l] * c
    scratch = (_view(ws, offset, widest, c), _view(ws, offset + widest * c, widest, c))
    offset += 2 * widest * c
    k = dims[L]
    Yb = _view(ws, offset, k, c)
    offset += k * c
    if direct:
        Xb = X[:, c0:c1]
        for i in range(k):  # a loop, not a slice assignment: its shape check's message compiled for seconds
            for j in range(c):
                Yb[i, j] = Y[i, c0 + j]
    else:
        # Their own names for the gathered buffers: the kernels writing them
        # see C-contiguous arrays (Xb also takes a block of X, any layout).
        if rows_data:
            X_gathered = _view(ws, offset, c, n_x)
            gather_mod._gather_rows_serial_copy(X, indices, start + c0, X_gathered)
        else:
            X_gathered = _view(ws, offset, n_x, c)
            gather_mod._gather_columns_serial(X, indices, start + c0, X_gathered)
        Xb = X_gathered
        if labels.size > 0:
            gather_mod.one_hot(labels, indices, start + c0, Yb)
        else:
            gather_mod._gather_columns_serial(Y, indices, start + c0, Yb)

    # Forward: A[l] = g(W[l] A[l-1] + b[l]); the output layer keeps its logits.
    for l in range(1, L + 1):
        n, n_prev = dims[l], dims[l - 1]
        W = _view(params, w_off[l - 1], n, n_prev)
        b = _view(params, b_off[l - 1], n, 1)
        A = _view(ws, a_off[l], n, c)
        if l == 1:
            blas.product(gemm, W, False, Xb, rows_data, A, 0.0)
        else:
            blas.product(gemm, W, False, _view(ws, a_off[l - 1], n_prev, c), False, A, 0.0)
        act.bias_activation_serial(A, b, hidden_code if l < L else act.LINEAR, slope, A, True)

    # Cost and dZ of the output layer (scaled by 1/batch, not 1/block).
    Z = _view(ws, a_off[L], k, c)
    dZ = scratch[0][:k]
    out = result[0:1]
    result[1] = 0.0
    weighted = weights.size > 0
    if weighted:
        # Read from the logits, before the output kernel makes them outputs.
        weighted_cost = loss.weighted_output_cost(output_code, Z, Yb, weights, c0)
    loss.output_serial(output_code, Z, Yb, scale, dZ, out, ws64[:c], ws64[c:2 * c])
    if weighted and scalar.is_finite(result[0]):
        loss.weigh_columns(dZ, weights, c0)
        result[0] = weighted_cost
    result[0] = result[0] * c
    if not scalar.is_finite(result[0]):
        return
    if count:
        metrics.count_correct(Z, Yb, output_code == SOFTMAX_OUTPUT, result[1:2])

    # Backward: dW[l] = dZ A[l-1]^T, db[l] = sum of dZ's columns, dA[l-1] = W[l]^T dZ.
    current = 0
    for l in range(L, 0, -1):
        n, n_prev = dims[l], dims[l - 1]
        W = _view(params, w_off[l - 1], n, n_prev)
        dW = _view(grads, w_off[l - 1], n, n_prev)
        db = _view(grads, b_off[l - 1], n, 1)
        dZ = scratch[current][:n]
        # A later chunk's bias sums go through the scratch and add to the first's.
        db_here = db_chunk[:n] if accumulate else db
        if l == L:
            act.row_sums_serial(dZ, 1.0, db_here)
        else:
            act.activation_backward_serial(dZ, _view(ws, a_off[l], n, c), False, hidden_code, slope, 1.0, dZ,
                                           db_here, True, True)
        if accumulate:
            for i in range(n):
                db[i, 0] += db_here[i, 0]
        beta = 1.0 if accumulate else 0.0
        if l == 1:
            blas.product(gemm, dZ, False, Xb, not rows_data, dW, beta)
        else:
            A_prev = _view(ws, a_off[l - 1], n_prev, c)
            blas.product(gemm, dZ, False, A_prev, True, dW, beta)
            blas.product(gemm, W, True, dZ, False, scratch[1 - current][:n_prev], 0.0)
            current = 1 - current


@njit(**config.JIT)
def _block_width(b, n_blocks):
    """Columns of every block of a batch of ``b`` but the last: a multiple of 8, at most ``b``."""
    step = -(-b // n_blocks)
    return min(b, -(-step // 8) * 8)


@njit(**config.JIT)
def _split(ctl, start, b, n_blocks):
    """Write the batch position and each block's columns (multiples of 8 but the last) into ``ctl``."""
    ctl[_START] = start
    ctl[_BATCH] = b
    step = _block_width(b, n_blocks)
    c0 = 0
    for k in range(n_blocks):
        c1 = min(b, c0 + step) if k < n_blocks - 1 else b
        ctl[_BLOCKS + 2 * k] = c0
        ctl[_BLOCKS + 2 * k + 1] = c1
        c0 = c1


@njit(**config.JIT)
def _wait_for(ctl, slot, value, limit, watch_sleep):
    """Spin until ``ctl[slot] == value`` (slot ``_DONE + k``).

    ``False`` after ``limit`` spins, or with ``watch_sleep`` as soon as
    worker ``k`` has gone to sleep.
    """
    spins = 0
    asleep = _ASLEEP + slot - _DONE
    while _load(ctl, slot) != value:
        spins += 1
        if spins > limit or (watch_sleep and _load(ctl, asleep) != 0):
            return False
        _pause()
        if spins > YIELD_AFTER:
            _yield_core()
    return True


@njit(**config.JIT)
def _main_step(ctl, gen, limit, n_blocks, model, data, start, b, block):
    """Start step ``gen`` on the workers, run block 0 here, wait up to ``limit`` spins for the others.

    Returns whether every block finished (then :func:`_reduce` adds them up).
    """
    _split(ctl, start, b, n_blocks)
    ctl[_PHASE] = _GRADIENTS
    _store(ctl, _GEN, gen)
    result = block[4]
    result[0] = 0.0
    result[1] = 0.0
    _block_pass(model, data, start, ctl[_BLOCKS], ctl[_BLOCKS + 1], 1.0 / ctl[_SCALE], block, ctl[_CHUNK])
    return _wait_all(ctl, gen, limit, n_blocks, True)


@njit(**config.JIT)
def _wait_all(ctl, gen, limit, n_blocks, watch_sleep):
    """Wait for every worker to finish step ``gen`` (see :func:`_wait_for`); whether they all did."""
    for k in range(1, n_blocks):
        if not _wait_for(ctl, _DONE + k, gen, limit, watch_sleep):
            return False
    return True


@njit(**config.JIT)
def _reduce(grads, block_grads, results, result):
    """Add the other blocks' gradients and results to block 0's, in block order."""
    for k in range(block_grads.shape[0]):
        g = block_grads[k]
        for i in range(grads.size):
            grads[i] += g[i]
        result[0] += results[k, 0]
        result[1] += results[k, 1]


@njit(**config.JIT)
def _arena_run(p, n_blocks, k):
    """Thread ``k``'s run ``[a, b)`` of an arena of ``p`` entries (cache-line multiples)."""
    step = -(-p // n_blocks)
    step = -(-step // 16) * 16
    return min(p, k * step), min(p, (k + 1) * step)


@njit(**config.JIT)
def _update_run(k, n_blocks, fctl, arenas, opt):
    """Thread ``k``'s run of the arenas: the other blocks' gradients added, then the optimizer's step.

    The same kernels as the optimizers' own (:mod:`fastdnn.kernels.update`),
    saving the old values into ``opt.keep`` for a rollback.
    """
    params, grads, block_grads = arenas
    opt_code, slot1, slot2, keep, n_decay, beta1, beta2, eps, nesterov = opt
    p = params.size
    a, b = _arena_run(p, n_blocks, k)
    if b <= a:
        return
    g = grads[a:b]
    for j in range(block_grads.shape[0]):
        other = block_grads[j, a:b]
        for i in range(g.size):
            g[i] += other[i]
    learning_rate = fctl[_LR]
    decay = fctl[_DECAY]
    run_decay = min(max(n_decay - a, 0), b - a)
    if opt_code == SGD_CODE:
        update._sgd_l2_serial(params[a:b], g, learning_rate, decay, run_decay, keep[a:b], True)
    elif opt_code == MOMENTUM_CODE:
        update.momentum_run(params[a:b], g, slot1[a:b], learning_rate, beta1, nesterov, decay, run_decay, keep[a:b],
                            keep[p + a:p + b], True)
    else:
        update.adam_run(params[a:b], g, slot1[a:b], slot2[a:b],
                        (learning_rate, beta1, beta2, fctl[_CORRECTION1], fctl[_CORRECTION2], eps), decay, run_decay,
                        keep[a:b], keep[p + a:p + b], keep[2 * p + a:2 * p + b], True)


@njit(**config.JIT)
def _finish_step(ctl, fctl, gen, limit, n_blocks, results, result, b, penalty, arenas, opt):
    """After the gradient pass (step ``gen - 1``): the cost, and the update as step ``gen`` on every thread.

    The cost (with the L2 term, as :meth:`fastdnn.state.ModelState.regularized_cost`
    adds it) goes to ``result[0]``; the update runs only when it is
    finite.  Returns whether every thread finished.
    """
    n_weights, partials, square_sum = penalty
    l2 = fctl[_L2]
    for k in range(1, n_blocks):
        result[0] += results[k, 0]
        result[1] += results[k, 1]
    cost = result[0] / b
    if scalar.is_finite(cost) and l2 != 0.0:
        reg._sum_of_squares_serial(arenas[0], n_weights, partials, square_sum)
        cost = cost + (l2 / (2.0 * b)) * square_sum[0]
    result[0] = cost
    go = scalar.is_finite(cost)
    ctl[_PHASE] = _UPDATE if go else _NO_UPDATE
    _store(ctl, _GEN, gen)
    if go:
        # The main thread's run, block 0 (an int64, not the literal 0: one compile serves both callers).
        _update_run(np.int64(0), n_blocks, fctl, arenas, opt)
    return _wait_all(ctl, gen, limit, n_blocks, True)


@njit(**config.JIT)
def _worker_loop(ctl, fctl, k, limit, seen, model, data, block, n_blocks, arenas, opt):
    """Run block ``k`` of every new step until told to leave (returns -1) or idle too long.

    Idle for ``limit`` spins, it returns the last step it saw, and the
    caller waits on its event.
    """
    grads, result = block[3], block[4]
    _store(ctl, _ASLEEP + k, 0)
    while True:
        spins = 0
        while True:
            if _load(ctl, _LEAVE) != 0:
                return -1
            gen = _load(ctl, _GEN)
            if gen != seen:
                break
            spins += 1
            if spins > limit:
                # The main thread wakes a sleeping worker as soon as it waits
                # for it (and any worker it waited too long for), so sleeping
                # now cannot miss a step.
                _store(ctl, _ASLEEP + k, 1)
                return seen
            _pause()
            if spins > YIELD_AFTER:
                _yield_core()
        seen = gen
        phase = ctl[_PHASE]
        if phase != _GRADIENTS:
            if phase == _UPDATE:
                _update_run(k, n_blocks, fctl, arenas, opt)
            _store(ctl, _DONE + k, gen)
            continue
        result[0] = 0.0
        result[1] = 0.0
        start = ctl[_START]
        c0 = ctl[_BLOCKS + 2 * k]
        c1 = ctl[_BLOCKS + 2 * k + 1]
        if c1 > c0:
            _block_pass(model, data, start, c0, c1, 1.0 / ctl[_SCALE], block, ctl[_CHUNK])
        else:
            grads[:] = 0.0
        _store(ctl, _DONE + k, gen)


# ---------------------------------------------------------------- threads


class _Worker:
    """A daemon thread running block ``k`` of each step of the current :class:`Session`."""

    def __init__(self, k):
        self.k = k
        self.session = None
        self.event = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"fastdnn-block-{k}", daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            self.event.wait()
            self.event.clear()
            session = self.session
            if session is None:
                continue
            try:
                seen = _worker_loop(session.ctl, session.fctl, self.k, session.idle_spins, session.seen[self.k],
                                    *session.worker_args[self.k])
            except BaseException as exc:  # reported by the main thread's wait
                session.errors.append(exc)
                continue
            if seen >= 0:
                session.seen[self.k] = seen
            del session  # asleep, the thread holds no session (nor its arrays)


_workers: list = []
_workers_lock = threading.Lock()
_session_lock = threading.Lock()
_attached = None  # the session the workers serve


def _get_workers(n):
    with _workers_lock:
        while len(_workers) < n:
            _workers.append(_Worker(len(_workers) + 1))
        return _workers[:n]


def _reset_after_fork():
    # A forked child has none of its parent's threads: it starts its own.
    global _workers, _workers_lock, _session_lock, _attached
    _workers, _workers_lock, _session_lock, _attached = [], threading.Lock(), threading.Lock(), None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


# ---------------------------------------------------------------- sessions


def bytes_per_column(layer_dims, itemsize, direct=False):
    """Workspace bytes a native block needs per column: activations, two gradient buffers, targets (and inputs)."""
    dims = [int(n) for n in layer_dims]
    return itemsize * (sum(dims[1:]) + 2 * max(dims[1:]) + dims[-1] + (0 if direct else dims[0]))


def chunk_columns(per_column):
    """Columns a block takes through the network at a time, for ``per_column`` workspace bytes a column.

    As many as fit ``config.NATIVE_CHUNK_BYTES``, a multiple of 8, at least
    ``config.NATIVE_CHUNK_MIN_COLUMNS``.
    """
    columns = int(config.NATIVE_CHUNK_BYTES // max(per_column, 1)) // 8 * 8
    return max(columns, config.NATIVE_CHUNK_MIN_COLUMNS)


def plan_blocks(layer_dims, batch, dtype=np.float64):
    """Number of native column blocks ``"auto"`` gives ``batch`` columns of ``layer_dims``, or 0 for another path.

    See :func:`fastdnn.plan.decide`: small steps, narrow networks, chunks
    that fit the cache budget, with enough columns a block.
    """
    from .plan import _native_blocks

    return _native_blocks(layer_dims, batch, dtype, config.block_workers(), False)[0]


class Session:
    """Column blocks of one network's steps: buffers, the workers' arguments, and their hand-over.

    Made by :func:`open_session` (a :meth:`fastdnn.Network.fit` over
    mini-batches, gathered by the blocks) or :func:`direct_pass` (a batch
    given whole, read in place).  The workers serve one session at a time,
    the *attached* one: :meth:`attach` takes them over (the caller holds
    the module's session lock and BLAS at one thread).  :meth:`train_step`
    runs one step (gradient pass, cost, and the update split over the
    threads) for the built-in optimizers, :meth:`step` the gradient pass
    alone into ``state.grads``.
    """

    def __init__(self, state, X, Y, labels, indices, rows_data, direct, count, plan, gemm, weights=_NO_WEIGHTS):
        self.state = state
        self.plan = plan
        n_blocks = plan.blocks
        self.X, self.Y = X, Y
        self.indices = indices
        self.n_blocks = n_blocks
        self.count = bool(count)
        self.ctl = np.zeros(_CTL_SIZE, dtype=np.int64)
        self.seen = [0] * n_blocks
        self.errors = []
        self._gen = 0
        dims = np.asarray(state.layer_dims, dtype=np.int64)
        w_off = np.array([w.start for w, _, _, _ in state.layout], dtype=np.int64)
        b_off = np.array([b.start for _, _, b, _ in state.layout], dtype=np.int64)
        dtype = state.dtype
        per_column = bytes_per_column(state.layer_dims, dtype.itemsize, direct)
        columns = plan.chunk
        self.ctl[_CHUNK] = columns
        self.workspaces = [(np.empty(int(dims[1:].max()) + per_column // dtype.itemsize * columns, dtype=dtype),
                            np.empty(2 * columns, dtype=np.float64), np.zeros(dims.size, dtype=np.int64))
                           for _ in range(n_blocks)]
        self.block_grads = np.zeros((n_blocks - 1, state.params.size), dtype=dtype)
        self.results = np.zeros((n_blocks, 2), dtype=np.float64)
        self.result = np.zeros(2, dtype=np.float64)
        self.model = tuple(Model(gemm, state.params, w_off, b_off, dims, state.hidden_code, state.head.code,
                                 float(state.leaky_slope)))
        self.weights = weights
        self.data = tuple(Batches(rows_data, direct, X, labels, Y, indices, self.count, weights))
        self.fctl = np.zeros(_L2 + 1, dtype=np.float64)
        self.penalty = tuple(Penalty(int(state.n_weights), state.partials, np.zeros(1, dtype=np.float64)))
        self.arenas = tuple(Arenas(state.params, state.grads, self.block_grads))
        self.optimizer = _optimizer_args(state)
        self.update_args = tuple(self.optimizer)
        self.main_block = tuple(Block(*self.workspaces[0], state.grads, self.result))
        self.worker_args = [None] + [
            (self.model, self.data, tuple(Block(*self.workspaces[k], self.block_grads[k - 1], self.results[k])),
             n_blocks, self.arenas, self.update_args)
            for k in range(1, n_blocks)
        ]
        self.workers = _get_workers(n_blocks - 1)
        self.idle_spins = SPIN_LIMIT
        # A fit's session holds the BLAS pin and the module lock until close().
        self._blas_pin = self._held = None

    def attach(self):
        """Take the workers over from whichever session had them (no step of it is running)."""
        global _attached
        if _attached is self:
            return
        if _attached is not None:
            _attached.detach()
        self.ctl[_LEAVE] = 0
        # Every earlier step of this session is finished: start from the last one.
        self.seen = [int(self.ctl[_GEN])] * self.n_blocks
        for worker in self.workers:
            worker.session = self
            worker.event.set()
        _attached = self

    def detach(self):
        """Send the workers out of this session's loop (to the next session, or to sleep)."""
        global _attached
        _store_leave(self.ctl)
        for worker in self.workers:
            if worker.session is self:
                worker.session = None
        if _attached is self:
            _attached = None

    def train_step(self, start, b, learning_rate, l2, l2_count=None):
        """One training step on the batch ``indices[start:start + b]``; returns ``(cost, correct)``.

        ``l2_count``: what the L2 term divides by (the batch's sum of sample
        weights; by default ``b``).  With weights, the session's ``weights``
        buffer holds the batch's, normalised.
        The cost is the batch's mean with the L2 term; only when it is
        finite do the threads add up the gradients and take the optimizer's
        step (each over its run of the arena), the old values kept for a
        rollback, and the network's step count advance.
        """
        state = self.state
        self._gradient_pass(start, b)
        self._gen += 1
        if self.optimizer.code == ADAM_CODE:
            self.fctl[_CORRECTION1], self.fctl[_CORRECTION2] = update.adam_corrections(
                self.optimizer.beta1, self.optimizer.beta2, state.t + 1)
        l2, l2_count = reg.l2_divisor(l2, b if l2_count is None else l2_count)
        self.fctl[_LR] = learning_rate
        self.fctl[_DECAY] = l2 / l2_count
        # _finish_step divides the cost's L2 term by b.
        self.fctl[_L2] = l2 * (b / l2_count)
        done = _finish_step(self.ctl, self.fctl, self._gen, SPIN_LIMIT, self.n_blocks, self.results, self.result, b,
                            self.penalty, self.arenas, self.update_args)
        try:
            self._wait(done)
        finally:
            # Also when interrupted: the update is all or nothing, and the
            # step count follows it.
            self._finish_in_progress()
            if math.isfinite(self.result[0]):
                state.count_update()
        return self.result[0], self.result[1]

    def _gradient_pass(self, start, b, total=None):
        self._wake_sleepers()
        # Written before the step starts (its generation is stored after): the workers read it then.
        self.ctl[_SCALE] = b if total is None else total
        self._gen += 1
        done = _main_step(self.ctl, self._gen, SPIN_LIMIT, self.n_blocks, self.model, self.data, start, b,
                          self.main_block)
        try:
            self._wait(done)
        except BaseException:
            self._finish_in_progress()
            raise

    def _wake_sleepers(self):
        # Before the step, so that a worker idle since the last one starts with it.
        for worker in self.workers:
            if self.ctl[_ASLEEP + worker.k]:
                worker.event.set()

    def _finish_in_progress(self):
        """Wait, without a way out, until every live worker has finished the current step."""
        while not _wait_all(self.ctl, self._gen, SPIN_LIMIT, self.n_blocks, False):
            if self.errors or not all(worker.thread.is_alive() for worker in self.workers):
                return
            for worker in self.workers:
                worker.event.set()

    def _wait(self, done):
        while not done:
            # A worker went to sleep (or is slow to come): wake it and wait again.
            if self.errors:
                raise RuntimeError("a fastdnn block worker failed") from self.errors[0]
            if not all(worker.thread.is_alive() for worker in self.workers):
                raise RuntimeError("a fastdnn block worker thread has stopped")
            for worker in self.workers:
                worker.event.set()
            # Its flag says asleep until it is back in its loop: wait without looking at it.
            done = _wait_all(self.ctl, self._gen, SPIN_LIMIT, self.n_blocks, False)

    def step(self, start, b, total=None):
        """Gradient pass over the batch ``indices[start:start + b]`` into ``state.grads``.

        Returns ``(cost, correct)``: the cost summed over the batch's
        examples (the gradient is garbage when it is not finite) and the
        number of correct answers (0 unless counting).  ``total``: the
        columns of the whole batch when these are a shard of it (the
        gradient is scaled by ``1 / total``; by default ``1 / b``).
        """
        self._gradient_pass(start, b, total)
        _reduce(self.state.grads, self.block_grads, self.results[1:], self.result)
        return self.result[0], self.result[1]

    def close(self):
        """End a fit's session: the workers leave, BLAS gets its threads back, the lock is free."""
        pin = self._blas_pin
        if pin is None:
            return
        self._blas_pin = None
        self.detach()
        pin.__exit__(None, None, None)
        self._held.release()


class OptimizerArgs(NamedTuple):
    """The bound optimizer as the native update kernels take it (:func:`_update_run` unpacks it in this order)."""

    code: int
    slot1: np.ndarray
    slot2: np.ndarray
    keep: np.ndarray
    n_decay: int
    beta1: float
    beta2: float
    eps: float
    nesterov: bool


def _optimizer_args(state):
    """The :class:`OptimizerArgs` of the bound optimizer (its :meth:`~fastdnn.optimizers.Optimizer.native_form`).

    The code is -1 for an optimizer without a native form: the threads sum
    its gradients and it steps in Python.
    """
    empty = np.empty(0, dtype=state.dtype)
    slots = tuple(state.slots) + (empty, empty)
    form = state.optimizer.native_form()
    if form is None:
        form = NativeForm(-1)
    # Floats and a bool whatever the form holds: Adam's scalars travel as one tuple of float64.
    return OptimizerArgs(int(form.code), slots[0], slots[1], state.keep, int(state.n_weights), float(form.beta1),
                         float(form.beta2), float(form.eps), bool(form.nesterov))


@njit(**config.JIT)
def _store_leave(ctl):
    _store(ctl, _LEAVE, 1)


def open_session(state, data, indices, count, plan, weights=None):
    """A :class:`Session` for the mini-batches of ``plan``, or ``None`` while another fit holds the workers.

    ``weights``: the fit's buffer of each batch's normalised sample weights
    (:class:`fastdnn.loop.TrainLoop`), read at every step.

    The plan (:func:`fastdnn.plan.decide`) has checked the rest: no
    dropout, NumPy's BLAS offers its gemm and can be held at one thread,
    the data are in memory in the network's dtype.
    """
    from . import threads

    gemm = blas.gemm_address(state.dtype)
    if data.rows is not None:
        rows_data, X = True, data.rows
    else:
        rows_data, X = False, data.X
    if data.labels is not None:
        labels, Y = data.labels, np.empty((0, 0), dtype=state.dtype)
    else:
        labels, Y = np.empty(0, dtype=np.int64), data.Y
    lock = _session_lock
    if not lock.acquire(blocking=False):
        return None
    # Held for the whole fit: OpenBLAS's threads, spinning after some earlier
    # product, would share the cores with the blocks.
    pin = threads.single_threaded_blas(park=True)
    pin.__enter__()
    try:
        session = Session(state, X, Y, labels, indices, rows_data, False, count, plan, gemm,
                          _NO_WEIGHTS if weights is None else weights)
        session.attach()
    except BaseException:
        pin.__exit__(None, None, None)
        lock.release()
        raise
    session._blas_pin, session._held = pin, lock
    return session


_NO_INDICES = np.empty(0, dtype=np.int64)


def release(state):
    """Forget the whole-batch session of ``state`` (a :class:`fastdnn.state.ModelState`) and the batch it holds; the workers leave it."""
    session = state.direct_session
    state.direct_session = None
    if session is not None and _session_lock.acquire(blocking=False):
        try:
            if _attached is session:
                session.detach()
        finally:
            _session_lock.release()


def direct_pass(state, X, Y, count, plan, total=None, weights=None):
    """The gradient pass of a whole batch ``(X, Y)`` as the native column blocks of ``plan``, or ``None`` while another fit holds the workers.

    For :meth:`fastdnn.Network.train_step` and full-batch :meth:`fit`
    steps the plan chose it for: ``X`` of shape ``(n_x, m)``, C-contiguous,
    read in place, and ``Y`` ``(n_L, m)``, both in the network's dtype.  The session stays
    attached between calls (its worker spins a few milliseconds, then
    sleeps); BLAS is at one thread only inside the call.  Returns
    ``(cost summed over the examples, correct answers)``; the gradient is
    in ``state.grads``, scaled by ``1 / total`` (``total``: the columns of
    the whole batch ``X`` is a shard of; by default ``1 / m``).
    ``weights``: the columns' normalised sample weights (float64, ``(m,)``).
    """
    from . import threads

    m = X.shape[1]
    weights = _NO_WEIGHTS if weights is None else weights
    session = state.direct_session
    if session is None or session.X is not X or session.Y is not Y or session.count != bool(count) \
            or session.model[1] is not state.params or session.plan != plan or session.weights is not weights:
        session = None
        state.direct_session = None
        gemm = blas.gemm_address(state.dtype)
        session = Session(state, X, Y, _NO_INDICES, _NO_INDICES, False, True, count, plan, gemm, weights)
        state.direct_session = session
    if not _session_lock.acquire(blocking=False):
        return None
    try:
        with threads.single_threaded_blas():
            session.attach()
            return session.step(0, m, total)
    finally:
        _session_lock.release()
