"""The same seed gives the same bits whether the kernels were just compiled or loaded from Numba's cache.

Found by the kill-and-resume test on a fresh clone: bias gradients summed
inside a vectorised loop rounded differently in a process that compiled the
kernels and in one that loaded them from the cache (last-bit differences
that grew over training).  The sums now run in a written-out order
(fastdnn/kernels/reduce.py).
"""

import os
import subprocess
import sys
import textwrap

import numpy as np

SCRIPT = """
import sys
import numpy as np
import fastdnn
rng = np.random.default_rng(7)
X = rng.standard_normal((6, 240))
Y = (np.sin(X[0]) + X[1] * X[2] > 0).astype(np.float64).reshape(1, -1)
net = fastdnn.Network([6, 16, 8, 1], hidden="tanh", seed=11)
net.fit(X, Y, epochs=5, batch_size=16, optimizer="adam", learning_rate=0.005, dropout=0.25, l2=0.01,
        progress=False)
np.save(sys.argv[1], net.params)
"""


def test_compiled_and_cached_kernels_train_to_the_same_bits(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba_cache"),
               PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    outputs = []
    for run in ("compiles", "loads the cache"):
        out = tmp_path / f"params_{len(outputs)}.npy"
        subprocess.run([sys.executable, str(script), str(out)], env=env, check=True, timeout=300)
        outputs.append(np.load(out))
    assert any((tmp_path / "numba_cache").rglob("*.nbi")), "the first run wrote no cache"
    np.testing.assert_array_equal(outputs[0], outputs[1])
