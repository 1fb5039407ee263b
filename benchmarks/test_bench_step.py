"""A whole training step (forward, cost, backward, SGD update) on SPEC section 3's shapes.

One group per shape, batch size and dtype:

* ``reference`` -- the course's loop body in plain NumPy
  (``L_model_forward``, ``compute_cost``, ``L_model_backward``,
  ``update_parameters`` from :mod:`fastdnn.reference`);
* ``fastdnn`` -- ``Network.train_step`` on a C-contiguous batch of its dtype;
* ``torch`` -- the same network as a PyTorch user writes it (skipped without PyTorch);
* ``bound`` -- the step's matrix products alone, the floor for this BLAS.

The builders are :mod:`fastdnn.bench`'s, the ones ``fastdnn bench`` times.
"""

import numpy as np
import pytest

from fastdnn import bench, peers

from conftest import DTYPES, FULL, require_torch

CASES = [(bench.COURSE_SHAPE, bench.COURSE_M)]
CASES += [(shape, 8192) for shape in bench.SPEC_SHAPES if shape != bench.COURSE_SHAPE]
if FULL:
    CASES += [(shape, 65536) for shape in bench.SPEC_SHAPES if shape != bench.COURSE_SHAPE]
IMPLEMENTATIONS = ("reference", "fastdnn", "torch", "bound")


def _case_id(case):
    shape, m = case
    return f"{'-'.join(map(str, shape))}-m{m}"


def build_step(impl, layer_dims, m, dtype):
    if impl == "bound":
        return peers.matmul_bound_step(layer_dims, m, dtype)
    X, Y = bench.make_batch(layer_dims, m, dtype)
    if impl == "reference":
        return bench.reference_step(layer_dims, X, Y)
    if impl == "fastdnn":
        return bench.fastdnn_step(layer_dims, X, Y)
    require_torch()
    return peers.torch_step(layer_dims, m, dtype, "sigmoid", X=X, Y=Y, learning_rate=bench.LEARNING_RATE)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_training_step(benchmark, case, dtype, impl):
    layer_dims, m = case
    benchmark.group = f"step {','.join(map(str, layer_dims))} m={m} {dtype}"
    step = build_step(impl, layer_dims, m, np.dtype(dtype))
    step()  # Numba's compile, PyTorch's first-call set-up, page faults: not timed
    benchmark(step)
