"""Compilation flags and size thresholds shared by every Numba kernel.

All kernels take their ``@njit`` options from here, so that caching, fastmath
and the parallel cut-over are decided in one place.
"""

import os
from typing import Any

from . import tuning

# The thresholds below, from FASTDNN_<NAME> variables where set (fastdnn.tuning.OPTIONS lists
# them with their defaults); fastdnn.options changes them for a with-block.
_FROM_ENVIRONMENT = tuning.from_environment()

#: Bumped whenever fastdnn.options changes a threshold: plans decided before are decided again.
GENERATION = 0


def cores_available():
    """The cores this process may run on (its CPU affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

# Reassociation lets LLVM vectorise the row sums and the cost sums; it is
# deterministic (the order is fixed at compile time).  The flags that assume
# "no NaN / no inf" are left out on purpose: fastdnn must be able to *see* a
# NaN or an inf in order to report it.
FASTMATH = {"nsz", "arcp", "contract", "reassoc"}

#: Flags of a serial kernel.
JIT: Any = {"cache": True, "nogil": True, "fastmath": FASTMATH, "error_model": "numpy"}

#: Flags of a row (or block) routine shared by a serial and a parallel twin:
#: Numba inlines it into each twin before compiling.  Such routines take the
#: whole arrays and a row index or a range of rows, never a view per row: the
#: reference counting of a view cost ~60 ns a row (the relu gradient of a
#: 100 x 200 layer: 8.4 us with a view per row, 3.7 us over a row range;
#: 73 vs 3.9 us at 1000 x 20).
JIT_ROW: Any = dict(JIT, inline="always")

#: Flags of a kernel that splits its rows over Numba's threads.
JIT_PARALLEL: Any = dict(JIT, parallel=True)

#: Flags of the scalar math helpers (exp, sigmoid, tanh).  These allow only
#: fused multiply-add: their range reduction relies on the exact order of the
#: operations, which reassociation would destroy.  LLVM still inlines them
#: into the kernels, where they vectorise.
JIT_EXACT: Any = {"cache": True, "nogil": True, "fastmath": {"contract"}, "error_model": "numpy"}

#: Below this many elements an elementwise kernel runs on the calling thread:
#: waking the thread pool costs more than the work.
PARALLEL_MIN_ELEMENTS = _FROM_ENVIRONMENT["parallel_min_elements"]

#: The same cut-over for the per-layer passes of a training step (bias and
#: activation, their gradient, the bias sums, dropout) on the plain path, where
#: each pass sits between two multi-threaded matrix products.  Measured on the
#: 2-core machine (fused bias+relu forward and backward of a 64-row layer,
#: interleaved): the serial twin was as fast or faster up to 64 x 16384
#: (858 vs 1110 us median), and the whole step of [64, 64, 64, 1] at m=2048
#: and m=8192 was 1-5% faster serial, up to 2.6x when the machine was busy
#: (waking Numba's pool right after BLAS's costs more than the pass gains).
STEP_PARALLEL_MIN_ELEMENTS = _FROM_ENVIRONMENT["step_parallel_min_elements"]

#: True in a child forked after Numba's OpenMP pool ran: both thresholds above
#: are then infinite, since GNU OpenMP cannot start again there
#: (:func:`fastdnn.threads._serial_kernels_after_fork`).
SERIAL_AFTER_FORK = False

#: A course helper computes a layer of at most this many multiply-adds
#: (``n * k * m``) in one kernel call (:mod:`fastdnn.kernels.small`) rather
#: than a BLAS product and the fused epilogue: at the course's test-case and
#: planar sizes the call overheads of the latter are most of the time.
SMALL_LAYER_WORK = _FROM_ENVIRONMENT["small_layer_work"]

#: The forward pass takes that one call only up to this many multiply-adds and
#: a depth ``k`` of at most ``SMALL_FORWARD_DEPTH``: its loops vectorise along
#: the examples, and BLAS's product was faster for deeper or larger layers
#: (64 -> 16 units at m = 2: 2.9 us against 5.9; 20 -> 7 at m = 64: 3.2 against
#: 4.3).  The backward pass's one call won up to ``SMALL_LAYER_WORK``.
SMALL_FORWARD_WORK = _FROM_ENVIRONMENT["small_forward_work"]
SMALL_FORWARD_DEPTH = _FROM_ENVIRONMENT["small_forward_depth"]

#: The product of a layer of at most this many units over an F-ordered input
#: of at least ``SKINNY_MIN_DEPTH`` rows (the course's first layer over its
#: ``X``) runs as :func:`fastdnn.kernels.skinny.forward`.  Measured on the
#: cat images (12288 x 209): 7 units 0.67 ms against 1.34 ms for BLAS (Xeon; was 0.81), 20
#: units 2.4 against 2.5-3.0 -- and inside a student's loop, where the step
#: before it was a multi-threaded BLAS product whose threads still spin, 20
#: units lost (L-layer loop 7.2 ms against 5.5-6.1 ms with BLAS).
SKINNY_MAX_ROWS = _FROM_ENVIRONMENT["skinny_max_rows"]
SKINNY_MIN_DEPTH = _FROM_ENVIRONMENT["skinny_min_depth"]

#: The course's ``relu`` and ``relu_backward`` of at most this many elements
#: skip the general elementwise kernels, whose dispatch costs more than the
#: arithmetic there: ``relu`` is the NumPy expression ``np.maximum(0.0, Z)``,
#: ``relu_backward`` a three-argument kernel (:mod:`fastdnn.kernels.small`).
SMALL_ELEMENTWISE_MAX = _FROM_ENVIRONMENT["small_elementwise_max"]

#: Column blocks (see :mod:`fastdnn.workers`): at most this many, one per core
#: this process may run on (its CPU affinity, not the machine's count).
BLOCK_WORKERS = _FROM_ENVIRONMENT["block_workers"] or cores_available()
#: Whether BLOCK_WORKERS was set (FASTDNN_BLOCK_WORKERS, fastdnn.options): then it is used as it is.
BLOCK_WORKERS_SET = bool(_FROM_ENVIRONMENT["block_workers"])


def _omp_limit():
    # OMP_NUM_THREADS as a parent sets it ("4" or a nested list "4,2": the outer level); None if unset or odd.
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def block_workers():
    """The column blocks a step may split into now: one thread each.

    :data:`BLOCK_WORKERS` when it was set; otherwise the cores of this
    process, at most the threads a parent allows: Numba's thread count
    (``NUMBA_NUM_THREADS``, which joblib's workers get, ``numba.set_num_threads``,
    and ``threadpoolctl.threadpool_limits``, which fastdnn registers Numba
    with: :mod:`fastdnn.threads`) and ``OMP_NUM_THREADS`` when it is set.
    """
    if BLOCK_WORKERS_SET:
        return BLOCK_WORKERS
    import numba

    limit = min(BLOCK_WORKERS, numba.get_num_threads())
    omp = _omp_limit()
    return max(1, min(limit, omp) if omp else limit)

#: A step is split into column blocks only when its matrix products hold at
#: least this many floating-point operations.  Below it the plain path
#: (multi-threaded BLAS) was as fast or faster on the quiet 2-core machine:
#: a worker that slept since the last step needs a few steps to run at full
#: speed again, and single-threaded BLAS on a thin block is less efficient.
#: Measured: cat model (1e8 flops) 3.8 ms either way in a loop but 6.6 vs
#: 4.3 ms in the interleaved benchmark; [784, 256, 256, 1] at m=2048
#: (1.1e9 flops) 1.06x the matrix-product bound with blocks vs 1.09-1.19x.
BLOCKED_MIN_FLOPS = _FROM_ENVIRONMENT["blocked_min_flops"]

#: ``precision="auto"`` takes bf16 products only from this many forward flops an example
#: (:func:`fastdnn.plan.decide`; the measurement is in :data:`fastdnn.tuning.OPTIONS`).
BF16_MIN_FLOPS = _FROM_ENVIRONMENT["bf16_min_flops"]

#: A step whose route is not compiled yet runs in NumPy calls while the process's NumPy steps stay under
#: this many seconds (:func:`fastdnn.plan.first_use`).
FIRST_USE_SECONDS = _FROM_ENVIRONMENT["first_use_seconds"]

#: ... and every block gets at least this many columns.
BLOCK_MIN_COLUMNS = _FROM_ENVIRONMENT["block_min_columns"]

#: Smaller steps (under ``BLOCKED_MIN_FLOPS``) of :meth:`fastdnn.Network.fit`
#: run as column blocks on spinning threads (:mod:`fastdnn.native_blocks`)
#: when every block gets at least this many columns.  Measured on the 2-core
#: machine, Adam, digits network 64-100-10, per step native vs plain: batch
#: 8 (blocks of 4) 47.0 vs 39.5 us; 16 35.5 vs 45.5 us; 32 42.9 vs 59.6 us;
#: 64 56.3 vs 80.0 us; 96 65.8 vs 113.5 us.
NATIVE_BLOCK_MIN_COLUMNS = _FROM_ENVIRONMENT["native_block_min_columns"]

#: Larger steps run as native blocks too when their layers are narrow: fewer
#: than this many flops per unit and example (``2 sum n_l n_(l-1) / sum n_l``).
#: There the passes between the products weigh the most, and native blocks
#: keep them in each core's cache.  Measured (step / products alone, float64
#: / float32): [64, 64, 64, 1] (128 flops a unit) at m = 65536: 0.79 / 0.90
#: as native blocks, 1.06 / 0.97 as worker blocks; [784, 256, 256, 1] (1039)
#: at m = 65536: 1.12 / 1.11 native, 0.97 / 1.04 worker blocks (m = 8192:
#: 1.10 / 1.10 against 0.91 / 1.01).
NATIVE_MAX_FLOPS_PER_UNIT = _FROM_ENVIRONMENT["native_max_flops_per_unit"]

#: A native block goes through the network a chunk of its columns at a
#: time, so that the chunk's activations and gradients stay in the core's
#: cache between the products and the passes around them; the chunks'
#: gradients add up (BLAS's ``beta = 1``).  A chunk's workspace is about this
#: many bytes.
NATIVE_CHUNK_BYTES = _FROM_ENVIRONMENT["native_chunk_bytes"]

#: ... and a chunk has at least this many columns (a thinner product wastes BLAS's kernels).
NATIVE_CHUNK_MIN_COLUMNS = _FROM_ENVIRONMENT["native_chunk_min_columns"]

#: Plain gradient descent takes a layer's weight step inside its ``dW``
#: product (:func:`fastdnn.blas.add_product`) when the layer has at least
#: this many weights: below it, the update pass it saves is shorter than the
#: extra call.  Measured on the course's 20 x 12288 first layer: 1.29-1.34 ms
#: fused against 1.52-1.63 ms for the product and the update.
FUSED_UPDATE_MIN_WEIGHTS = _FROM_ENVIRONMENT["fused_update_min_weights"]


# Before any kernel is decorated: cached kernels depend on every source of
# the package, not only on the file that defines them (fastdnn.caching).
from . import caching  # noqa: E402

caching.key_caches_by_package(os.path.dirname(os.path.abspath(__file__)))
caching.share_compiles()
