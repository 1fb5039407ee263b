"""Data-parallel training over MPI (``fastdnn.distributed``).

The MPI runs are launched with ``mpirun -n 2`` as subprocesses; they are
skipped, saying why, when mpi4py or mpirun is not installed (the
``distributed`` extra brings both: ``pip install 'fastdnn[distributed]'``).
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fastdnn import distributed
from fastdnn import threads as threads_mod
from fastdnn.network import Network


def _mpirun():
    """``mpirun`` of the running Python's environment (the mpich wheel installs it beside python), else PATH's."""
    for name in ("mpirun", "mpiexec"):
        beside = os.path.join(os.path.dirname(sys.executable), name)
        if os.access(beside, os.X_OK):
            return beside
    return shutil.which("mpirun") or shutil.which("mpiexec")


def _mpi_missing():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return "mpi4py is not installed (pip install 'fastdnn[distributed]')"
    if _mpirun() is None:
        return "no mpirun/mpiexec found (pip install 'fastdnn[distributed]' brings MPICH's)"
    return None


needs_mpi = pytest.mark.skipif(_mpi_missing() is not None, reason=str(_mpi_missing()))

N_X, M = 7, 203
LAYERS = [N_X, 9, 5, 1]
OPTIONS = dict(epochs=3, batch_size=64, optimizer="adam", learning_rate=0.01, l2=0.1, dropout=0.2)


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N_X, M))
    Y = (rng.random((1, M)) < 0.5).astype(np.float64)
    return X, Y


_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from mpi4py import MPI
    from fastdnn import distributed
    from fastdnn.network import Network

    out, options, perturb = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
    rank = MPI.COMM_WORLD.Get_rank()
    rng = np.random.default_rng(0)
    X = rng.standard_normal(({n_x}, {m}))
    Y = (rng.random((1, {m})) < 0.5).astype(np.float64)
    net = Network({layers}, seed=3)

    def schedule(epoch):
        # The deliberate fault: one rank's parameters nudged before an epoch.
        if perturb and "rank" in perturb and rank == perturb["rank"] and epoch == perturb["epoch"]:
            net.params[2] += perturb["delta"]
        return options["learning_rate"]

    def callback(epoch, record):
        if perturb and perturb.get("callback_raises") and epoch == 1:
            raise RuntimeError("callback failed on rank 0 alone")

    if options.pop("weighted", False):
        options["sample_weight"] = np.random.default_rng(1).random({m}) * 2
    history = distributed.fit(net, X, Y, schedule=schedule, callback=callback, progress=False, check_every=4,
                              **options)
    if rank == 0:
        np.save(out, net.params)
        with open(out + ".json", "w") as f:
            json.dump(history, f)
""").format(n_x=N_X, m=M, layers=LAYERS)


def _run(tmp_path, options, perturb=None, ranks=2):
    import json

    script = tmp_path / "train.py"
    script.write_text(_SCRIPT)
    out = str(tmp_path / "params.npy")
    return out, subprocess.run(
        [_mpirun(), "-n", str(ranks), sys.executable, str(script), out, json.dumps(options), json.dumps(perturb)],
        capture_output=True, text=True, timeout=120,
    )


@needs_mpi
def test_two_ranks_train_like_one_process(tmp_path):
    import json

    out, result = _run(tmp_path, OPTIONS)
    assert result.returncode == 0, result.stderr
    X, Y = _data()
    single = Network(LAYERS, seed=3)
    history = single.fit(X, Y, progress=False, **OPTIONS)
    np.testing.assert_allclose(np.load(out), single.params, rtol=1e-10, atol=0)
    with open(out + ".json") as f:
        remote = json.load(f)
    np.testing.assert_allclose(remote["cost"], history["cost"], rtol=1e-10)
    np.testing.assert_allclose(remote["accuracy"], history["accuracy"], rtol=1e-12)


@needs_mpi
@pytest.mark.parametrize("batch_size", [64, None])
def test_two_ranks_train_weighted_examples_like_one_process(tmp_path, batch_size):
    """Each rank weighs its shard by the whole batch's sum of weights: the run is one process's."""
    options = dict(OPTIONS, batch_size=batch_size, weighted=True)
    out, result = _run(tmp_path, options)
    assert result.returncode == 0, result.stderr
    X, Y = _data()
    single = Network(LAYERS, seed=3)
    del options["weighted"]
    history = single.fit(X, Y, progress=False, sample_weight=np.random.default_rng(1).random(M) * 2, **options)
    np.testing.assert_allclose(np.load(out), single.params, rtol=1e-10, atol=0)
    with open(out + ".json") as f:
        remote = json.load(f)
    np.testing.assert_allclose(remote["cost"], history["cost"], rtol=1e-10)


@needs_mpi
def test_checksum_guard_catches_a_perturbed_rank(tmp_path):
    out, result = _run(tmp_path, OPTIONS, perturb={"rank": 1, "epoch": 1, "delta": 1e-3})
    assert result.returncode != 0, "the run with one perturbed rank must fail"
    assert "RanksDivergedError" in result.stderr and "diverged across ranks" in result.stderr
    assert "rank(s) 1 differ from rank 0" in result.stderr
    assert not os.path.exists(out)


@needs_mpi
def test_unperturbed_guard_run_passes_with_a_zero_nudge(tmp_path):
    # The same fault path with a zero nudge: the guard must not fire on honest runs.
    out, result = _run(tmp_path, OPTIONS, perturb={"rank": 1, "epoch": 1, "delta": 0.0})
    assert result.returncode == 0, result.stderr


@needs_mpi
def test_checkpoint_of_two_ranks_resumes_in_one_process(tmp_path):
    # Rank 0 writes the same checkpoint a single process writes: resuming it
    # alone continues the training as if it had never been split.
    path = str(tmp_path / "run.ckpt")
    out, result = _run(tmp_path, {**OPTIONS, "epochs": 2, "checkpoint": path, "checkpoint_every": 3})
    assert result.returncode == 0, result.stderr
    copy = str(tmp_path / "copy.ckpt")
    shutil.copyfile(path, copy)
    X, Y = _data()
    resumed = Network(LAYERS, seed=3)
    resumed.fit(X, Y, progress=False, checkpoint=path, resume=True, **OPTIONS)
    single = Network(LAYERS, seed=3)
    single.fit(X, Y, progress=False, **OPTIONS)
    np.testing.assert_allclose(resumed.params, single.params, rtol=1e-10, atol=0)
    # And resumed on two ranks again.
    out, result = _run(tmp_path, {**OPTIONS, "checkpoint": copy, "resume": True})
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(np.load(out), single.params, rtol=1e-10, atol=0)


@needs_mpi
def test_failure_of_one_rank_ends_the_job_instead_of_hanging(tmp_path):
    # The callback runs on rank 0 only; rank 1 would wait for it forever.
    out, result = _run(tmp_path, OPTIONS, perturb={"callback_raises": True})
    assert result.returncode != 0
    assert "callback failed on rank 0 alone" in result.stderr
    assert not os.path.exists(out)


def test_shards_split_every_batch_without_overlap():
    for b in (1, 2, 3, 64, 65, 203):
        for size in (1, 2, 3, 4, 7):
            pieces = [distributed.shard(100, b, r, size) for r in range(size)]
            assert pieces[0][0] == 100 and pieces[-1][1] == 100 + b
            assert all(hi0 == lo1 for (_, hi0), (lo1, _) in zip(pieces, pieces[1:]))
            widths = [hi - lo for lo, hi in pieces]
            assert max(widths) - min(widths) <= 1


def test_checksum_is_written_in_place_and_sees_one_parameter():
    params = np.random.default_rng(1).standard_normal(1000)
    out = np.zeros(2)
    distributed.checksum(params, out)
    np.testing.assert_allclose(out, [params.sum(), (params ** 2).sum()], rtol=1e-12)
    before = out.copy()
    params[500] += 1e-3
    distributed.checksum(params, out)
    assert np.all(out != before)


def test_missing_mpi4py_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(ImportError, match=r"fastdnn\[distributed\]"):
        distributed.fit(Network([2, 1]), np.zeros((2, 4)), np.zeros((1, 4)))


@needs_mpi
def test_cli_distributed_equals_single_process(tmp_path):
    rng = np.random.default_rng(5)
    np.save(tmp_path / "X.npy", rng.standard_normal((301, 6)))
    np.save(tmp_path / "y.npy", rng.integers(0, 3, 301))
    common = ["train", str(tmp_path / "X.npy"), "--labels", str(tmp_path / "y.npy"), "--layers", "8",
              "--dtype", "float64", "--epochs", "2", "--batch-size", "50", "--no-progress"]
    mpi = subprocess.run([_mpirun(), "-n", "2", sys.executable, "-m", "fastdnn", *common, "--distributed",
                          "--out", str(tmp_path / "d.npz")], capture_output=True, text=True, timeout=300)
    assert mpi.returncode == 0, mpi.stderr
    assert mpi.stdout.count("saved") == 1, "rank 0 alone reports and saves"
    one = subprocess.run([sys.executable, "-m", "fastdnn", *common, "--out", str(tmp_path / "s.npz")],
                         capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr
    np.testing.assert_allclose(np.load(tmp_path / "d.npz")["params"], np.load(tmp_path / "s.npz")["params"],
                               rtol=1e-10)


def test_import_fastdnn_alone_reaches_distributed_and_the_estimator():
    # A fresh interpreter: the trainer guide writes fastdnn.distributed.fit after a bare import fastdnn.
    script = textwrap.dedent(
        """
        import sys
        import fastdnn
        assert "fastdnn.distributed" not in sys.modules and "fastdnn.estimator" not in sys.modules
        assert {"distributed", "MLPClassifier", "Network", "L_model_forward"} <= set(dir(fastdnn))
        assert callable(fastdnn.distributed.fit) and fastdnn.MLPClassifier.__name__ == "MLPClassifier"
        try:
            fastdnn.no_such_name
        except AttributeError as exc:
            assert "no_such_name" in str(exc)
        else:
            raise AssertionError("no AttributeError")
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


_ROUTES_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from mpi4py import MPI
    from fastdnn import distributed
    from fastdnn.network import Network

    out, case = sys.argv[1], json.loads(sys.argv[2])
    comm = MPI.COMM_WORLD
    rng = np.random.default_rng(0)
    dims, m = case["dims"], case["m"]
    X = rng.standard_normal((m, dims[0])).T
    y = rng.integers(0, dims[-1], m)
    net = Network(dims, output="softmax", seed=3, strategy=case.get("strategy", "auto"))
    # Two threads a rank (more than this machine's share): the shards' own fast routes run.
    distributed.fit(net, X, y, epochs=case["epochs"], batch_size=case["batch"], optimizer="adam",
                    learning_rate=0.01, l2=case["l2"], progress=False, threads=2)
    routes = comm.gather(sorted(net.steps_by_route), root=0)
    if comm.Get_rank() == 0:
        np.save(out, net.params)
        with open(out + ".json", "w") as f:
            json.dump(routes, f)
""")


@needs_mpi
@pytest.mark.skipif(not threads_mod.can_pin_blas(), reason="column blocks need threadpoolctl (the 'threads' extra)")
@pytest.mark.parametrize("case, routes", [
    # The digits classifier's network; 1003 examples: shards of 100, then a last batch of 3 (shards of 1 and 2).
    ({"dims": [64, 100, 10], "m": 1003, "batch": 200, "epochs": 2, "l2": 0.0}, {"native-whole-batch", "plain"}),
    ({"dims": [784, 256, 256, 10], "m": 8192, "batch": 4096, "epochs": 1, "l2": 0.01}, {"threads"}),
    # A network held to a strategy keeps it on every rank.
    ({"dims": [64, 100, 10], "m": 600, "batch": 200, "epochs": 1, "l2": 0.0, "strategy": "plain"}, {"plain"}),
])
def test_every_rank_runs_the_fast_route_its_shard_calls_for(tmp_path, case, routes):
    import json

    script = tmp_path / "routes.py"
    script.write_text(_ROUTES_SCRIPT)
    out = str(tmp_path / "params.npy")
    result = subprocess.run([_mpirun(), "-n", "2", sys.executable, str(script), out, json.dumps(case)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    with open(out + ".json") as f:
        ran = json.load(f)
    assert len(ran) == 2
    for rank_routes in ran:
        assert set(rank_routes) == routes, ran
    rng = np.random.default_rng(0)
    dims, m = case["dims"], case["m"]
    X = rng.standard_normal((m, dims[0])).T
    y = rng.integers(0, dims[-1], m)
    single = Network(dims, output="softmax", seed=3, strategy="plain")
    single.fit(X, y, epochs=case["epochs"], batch_size=case["batch"], optimizer="adam", learning_rate=0.01,
               l2=case["l2"], progress=False)
    np.testing.assert_allclose(np.load(out), single.params, rtol=1e-10, atol=1e-14)
