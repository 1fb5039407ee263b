"""Training on a memory-mapped data set larger than the resident-memory bound.

The RSS test runs in a subprocess so that its peak resident memory is its
own, not the test session's (measured as VmHWM: see the child's comment).
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fastdnn import mapped
from fastdnn.network import Network

MiB = 1 << 20

# The bound above the warmed-up baseline, and a data set four times larger.
BOUND = 64 * MiB
N_FEATURES = 256


def _write_rows(path, m, n, seed, dtype=np.float32):
    """A row-per-example .npy written in pieces (never whole in memory), and its 0/1 labels."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(n).astype(dtype)
    X = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(m, n))
    y = np.empty(m, dtype=dtype)
    piece = 8192
    for s in range(0, m, piece):
        block = rng.standard_normal((min(piece, m - s), n)).astype(dtype)
        X[s:s + block.shape[0]] = block
        y[s:s + block.shape[0]] = block @ w > 0
    X.flush()
    del X
    np.save(str(path).replace(".npy", "_y.npy"), y)


def test_mapped_training_equals_in_memory_training(tmp_path):
    path = tmp_path / "x.npy"
    _write_rows(path, 3001, 37, seed=0, dtype=np.float64)
    X = np.load(path, mmap_mode="r")
    y = np.load(str(path).replace(".npy", "_y.npy"))
    options = dict(epochs=2, batch_size=256, optimizer="adam", learning_rate=0.01, progress=False)
    in_memory = Network([37, 11, 1], seed=4)
    # A map trains on the plain path (its gathers release pages as they go);
    # in memory the same batches would run as native column blocks, whose
    # sums over a batch are ordered differently.  Same path, same bits:
    in_memory.column_blocks = False
    in_memory.fit(np.array(X).T, y, **options)
    budget = mapped.DEFAULT_BUDGET
    try:
        # A tiny budget: one row per piece, a release after every row.
        mapped.DEFAULT_BUDGET = 4096
        mapped_net = Network([37, 11, 1], seed=4)
        mapped_net.fit(X.T, y, **options)
    finally:
        mapped.DEFAULT_BUDGET = budget
    np.testing.assert_array_equal(mapped_net.params, in_memory.params)


def test_non_finite_value_in_a_map_is_found(tmp_path):
    path = tmp_path / "x.npy"
    _write_rows(path, 500, 8, seed=1, dtype=np.float64)
    X = np.lib.format.open_memmap(path, mode="r+")
    X[417, 3] = np.nan
    X.flush()
    del X
    X = np.load(path, mmap_mode="r")
    with pytest.raises(ValueError, match=r"X contains 1 non-finite value"):
        Network([8, 3, 1]).fit(X.T, np.zeros(500), progress=False)


def test_an_array_in_memory_has_no_page_budget():
    X = np.arange(10.0)
    assert mapped.budget_for(X) is None


_CHILD = textwrap.dedent("""
    import resource, sys
    import numpy as np
    from fastdnn.network import Network

    def peak():
        # The process's own peak RSS.  ru_maxrss would do, but Linux carries
        # it over from the parent through fork and exec (the pytest process
        # is larger than this one), while VmHWM belongs to this process's
        # memory map alone.  Both are in kB.
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    path = sys.argv[1]
    X = np.load(path, mmap_mode="r")
    y = np.load(path.replace(".npy", "_y.npy"), mmap_mode="r")
    net = Network([X.shape[1], 32, 1], dtype=np.float32, seed=0)
    # Warm-up: compile the kernels and make the workspace of the same batch
    # size, on the path a map trains on (in memory the batches would run as
    # native column blocks).
    net.column_blocks = False
    net.fit(np.array(X[:4096]).T, np.array(y[:4096]), epochs=1, batch_size=1024, progress=False)
    baseline = peak()
    history = net.fit(X.T, y, epochs=1, batch_size=1024, optimizer="adam", learning_rate=0.01, progress=False)
    print(baseline, peak(), history["cost"][0], history["accuracy"][0])
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status and uses madvise: Linux only")
def test_epoch_over_a_map_four_times_the_bound_stays_under_it(tmp_path):
    m = 4 * BOUND // (N_FEATURES * 4) + 4099  # float32 rows: a little over 4 x the bound
    path = tmp_path / "big.npy"
    _write_rows(path, m, N_FEATURES, seed=2)
    assert path.stat().st_size > 4 * BOUND
    result = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    baseline, peak, cost, accuracy = (float(x) for x in result.stdout.split())
    growth = peak - baseline
    print(f"data {path.stat().st_size / MiB:.0f} MiB, baseline {baseline / MiB:.1f} MiB, "
          f"peak {peak / MiB:.1f} MiB, growth {growth / MiB:.1f} MiB (bound {BOUND / MiB:.0f} MiB)")
    assert growth < BOUND, f"peak RSS grew by {growth / MiB:.1f} MiB over one epoch, the bound is {BOUND / MiB} MiB"
    # It did learn (the labels are a linear rule of the inputs).
    assert np.isfinite(cost) and accuracy > 0.6
