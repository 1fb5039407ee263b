"""Column blocks: one training step split over the cores by examples.

Every column (example) of a batch goes through the forward and backward
pass independently of the others; only the weight and bias gradients sum
over columns.  So a step splits into column blocks, one per core: each
worker thread runs the whole layer stack on its block -- single-threaded
BLAS products, then the fused epilogue while the block is still in cache --
into its own gradient arena, and the arenas are summed at the end.

Why not let BLAS split each product?  On the 2-core machine, OpenBLAS's two
threads meet at a spinning barrier inside every product; when another
process holds a core, one product took 238 ms instead of 9 ms (a
256x8192 by 8192x256 float32 ``dZ @ A.T``).  Blocks meet once per step.  And
the epilogues (bias, activation, dropout) run while their block is hot in
the cache, the way oneDNN fuses post-ops.

The workers are plain Python threads: NumPy's products and the Numba
kernels (``nogil``) release the GIL, so the blocks really run at once.
"""

import os
import threading


class BlockWorkers:
    """A fixed set of threads that run ``task(k)`` for ``k = 0 .. n - 1`` together.

    Task 0 runs on the calling thread, the others on ``n - 1`` daemon
    threads that wait between calls.  An exception in any task is re-raised
    by :meth:`run` after every task has finished.

    Parameters
    ----------
    n : int
        Number of tasks (blocks) per call.
    """

    def __init__(self, n):
        self.n = n
        self._start()

    def _start(self):
        # Also in a child forked after the threads started: it has none of them.
        self.pid = os.getpid()
        # This generation of threads' stop flag: threads of an earlier one never see a later one's.
        self._closed = [False]
        self._task = None
        self._errors = [None] * self.n
        self._go = [threading.Event() for _ in range(self.n)]
        self._done = [threading.Event() for _ in range(self.n)]
        self._threads = []
        for k in range(1, self.n):
            t = threading.Thread(target=self._loop, args=(k, self._go[k], self._closed), name=f"fastdnn-block-{k}",
                                 daemon=True)
            t.start()
            self._threads.append(t)

    def _loop(self, k, go, closed):
        while True:
            go.wait()
            go.clear()
            if closed[0]:
                return
            try:
                self._task(k)
            except BaseException as exc:  # re-raised on the calling thread
                self._errors[k] = exc
            finally:
                self._done[k].set()

    def run(self, task):
        """Run ``task(k)`` for every block ``k`` at once; return when all are done."""
        if self.pid != os.getpid():
            self._start()
        self._task = task
        self._errors = [None] * self.n
        for k in range(1, self.n):
            self._done[k].clear()
            self._go[k].set()
        try:
            task(0)
        except BaseException as exc:
            self._errors[0] = exc
        for k in range(1, self.n):
            self._done[k].wait()
        self._task = None
        for error in self._errors:
            if error is not None:
                raise error

    def close(self, wait=True):
        """End the worker threads; :meth:`run` starts new ones.

        Not during a :meth:`run`.  ``wait``: until they have ended (not
        from a finalizer, which may run on one of them).
        """
        if self.pid != os.getpid():
            return  # a forked child: the threads were the parent's
        self._closed[0] = True
        for k in range(1, self.n):
            self._go[k].set()
        for t in self._threads if wait else ():
            t.join()
        self._threads = []
        # A later run starts afresh, as in a forked child.
        self.pid = None


def split_columns(m, n_blocks, align=8):
    """Column ranges ``[(start, stop), ...]`` of ``n_blocks`` near-equal blocks of ``m`` columns.

    Block edges fall on multiples of ``align`` where possible, so that every
    block's rows start on a SIMD boundary, unless that would leave a block
    empty (fewer than ``n_blocks * align`` columns): an empty block's cost
    is 0/0.
    """
    if m < n_blocks * align:
        align = 1
    edges = [0]
    for k in range(1, n_blocks):
        edge = (m * k // n_blocks) // align * align
        edges.append(max(edge, edges[-1]))
    edges.append(m)
    return [(edges[k], edges[k + 1]) for k in range(n_blocks)]
