"""The threads executor: a batch split into column blocks on worker threads, BLAS at one thread each."""

import math
import weakref

import numpy as np

from .. import passes
from .. import threads
from .. import workers
from ..state import Workspace, layer_views
from .base import Executor


class ThreadsExecutor(Executor):
    """Route ``threads``: one column block per core (:mod:`fastdnn.workers`).

    Each block runs the whole gradient pass on its columns with
    single-threaded BLAS products into its own gradient arena (block 0
    into the state's), and the arenas are summed.  BLAS is held at one
    thread during each pass and given back after it, also when a block
    raised.  The worker threads and the blocks' buffers are the state's
    (``state.executor_cache``): started once per network and number of
    blocks, not per executor, and ended when the state is collected.
    """

    def __init__(self, plan, state, report=None):
        super().__init__(plan, state, report)
        self.workers = _pool(state, plan.blocks)

    def blocks(self, m):
        """The :class:`ColumnBlocks` of batches of ``m`` examples (made on first use and kept with the state)."""
        key = ("column-blocks", m, self.plan.blocks)
        cache = self.state.executor_cache
        blocks = cache.get(key)
        if blocks is None:
            blocks = cache[key] = ColumnBlocks(self.state, m, self.plan.blocks)
        return blocks

    def gradient(self, batch, ws, dropout=(1.0, 0), count=False):
        self.report(self.plan)
        return self.blocks(batch.size).run(self.workers, batch, ws, dropout, count)


def _pool(state, n):
    """The state's :class:`fastdnn.workers.BlockWorkers` of ``n`` blocks, started on first use."""
    key = ("block-workers", n)
    pool = state.executor_cache.get(key)
    if pool is None:
        pool = state.executor_cache[key] = workers.BlockWorkers(n)
        # The threads end with the state (its network collected); not waited for: the
        # collection may run on one of them.
        weakref.finalize(state, pool.close, False)
    return pool


def release(state):
    """The column blocks of ``state`` forget the batches they hold views of (a caller's arrays)."""
    for key, kept in state.executor_cache.items():
        if key[0] == "column-blocks":
            kept.forget()


class ColumnBlocks:
    """The buffers of one batch size split into column blocks: a workspace and a gradient arena per block."""

    def __init__(self, state, m, n):
        self.state = state
        self.m = m
        self.ranges = workers.split_columns(m, n)
        self.spaces = [Workspace(state.layer_dims, j1 - j0, state.dtype) for j0, j1 in self.ranges]
        self.arenas = [state.grads] + [np.zeros_like(state.grads) for _ in range(1, n)]
        self.grad_layers = [state.grad_layers] + [layer_views(a, state.layout) for a in self.arenas[1:]]
        self.costs = np.zeros(n)
        self.finite = [True] * n
        self._args = None
        self._views = {}

    def _block(self, k):
        state = self.state
        batch, dropout, count = self._args
        j0, j1 = self.ranges[k]
        ws = self.spaces[k]
        Xb = self._blocks_of(batch.X)[k]
        np.copyto(ws.Y, self._blocks_of(batch.Y)[k])
        # The scale is the whole batch's 1/m (of an MPI shard's batch too), so the block gradients add up.
        total = batch.columns
        weights = None if batch.weights is None else batch.weights[j0:j1]
        cost = passes.gradient(state, Xb, ws.Y, ws, 1.0 / total, dropout, (batch.offset + j0, total),
                               grad_layers=self.grad_layers[k], parallel=False, count=count, weights=weights)
        self.costs[k] = cost * ((j1 - j0) / self.m)
        self.finite[k] = math.isfinite(cost)

    def forget(self):
        """Drop the views of the batches seen (they keep the caller's arrays alive)."""
        self._views.clear()

    def _blocks_of(self, array):
        # Column views of the batch, kept while the same array comes back
        # (the gathered batch buffer, or the caller's full batch): a step
        # then makes no new array objects.
        cached = self._views.get(id(array))
        if cached is None or cached[0] is not array:
            cached = (array, [array[:, j0:j1] for j0, j1 in self.ranges])
            if len(self._views) > 8:
                self._views.clear()
            self._views[id(array)] = cached
        return cached[1]

    def run(self, pool, batch, ws, dropout, count):
        """One gradient pass over ``batch`` on the threads of ``pool``; returns the cost (the mean of its columns)."""
        self._blocks_of(batch.X)
        self._blocks_of(batch.Y)
        self._args = (batch, dropout, count)
        try:
            with threads.single_threaded_blas():
                pool.run(self._block)
        finally:
            self._args = None
        if not all(self.finite):
            return math.nan if any(c != c for c in self.costs) else math.inf
        grads = self.state.grads
        for arena in self.arenas[1:]:
            np.add(grads, arena, out=grads)
        if count:
            ws.count[0] += sum(space.count[0] for space in self.spaces)
        return float(self.costs.sum())
