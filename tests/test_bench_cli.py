"""Smoke tests of ``fastdnn bench`` and its peers on a tiny configuration.

They check what the command prints and saves, and the regression check of
``--compare`` on synthetic saved runs; they never assert anything about how
fast a step was (timing belongs to the benchmarks, not to pass/fail tests).
"""

import json

import numpy as np
import pytest

from fastdnn import bench, peers
from fastdnn.cli import build_parser, main

TINY = ["bench", "--shapes", "8,4,1", "--m", "16", "--repeats", "1", "--no-torch"]
NO_TORCH_COLUMNS = ["shape", "dtype", "m", "reference ms", "fastdnn ms", "speedup", "route", "bound ms", "fastdnn/bound",
                    "first call (compile) s", "others busy"]


def _table(out):
    """Header line, rule and rows of the printed table."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("shape "))
    rows = []
    for line in lines[start + 2:]:
        if not line.strip() or not line[0].isdigit():
            break
        rows.append(line.split())  # the shape has no spaces, so split() keeps the cells apart
    return lines[start], rows


def test_table_has_the_expected_columns_and_rows(capsys):
    status = main(TINY + ["--dtype", "float64,float32"])
    out = capsys.readouterr().out
    assert status == 0
    header, rows = _table(out)
    positions = [header.index(c) for c in NO_TORCH_COLUMNS]
    assert positions == sorted(positions)  # all present, in this order
    assert "torch" not in header
    assert [r[:3] for r in rows] == [["8,4,1", "float64", "16"], ["8,4,1", "float32", "16"]]
    machine = next(line for line in out.splitlines() if line.startswith("machine: "))
    assert "cores" in machine and "numba" in machine


def test_json_round_trip(tmp_path, capsys):
    path = tmp_path / "run.json"
    assert main(TINY + ["--dtype", "float32", "--json", str(path)]) == 0
    capsys.readouterr()
    doc = bench.load_json(str(path))
    assert doc["format"] == bench.JSON_FORMAT
    assert doc["columns"] == NO_TORCH_COLUMNS
    assert doc["machine"]["nproc"] >= 1 and doc["machine"]["numpy"] == np.__version__
    (row,) = doc["rows"]
    assert row["shape"] == [8, 4, 1] and row["dtype"] == "float32" and row["m"] == 16
    assert row["torch_s"] is None
    for key in ("reference_s", "fastdnn_s", "bound_s", "first_call_s"):
        assert row[key] > 0
    assert row["speedup"] == pytest.approx(row["reference_s"] / row["fastdnn_s"])
    assert row["costs_agree"], row["first_cost"]  # same weights, same batch: same first cost
    assert set(row["timings"]) == {"reference", "fastdnn", "bound"}


def _saved_run(tmp_path, fastdnn_seconds):
    """A saved run holding the tiny row with a made-up fastdnn time."""
    row = {"shape": [8, 4, 1], "dtype": "float64", "m": 16, "fastdnn_s": fastdnn_seconds}
    path = tmp_path / "saved.json"
    path.write_text(json.dumps({"format": bench.JSON_FORMAT, "rows": [row]}))
    return str(path)


def test_compare_flags_a_regression(tmp_path, capsys):
    # No real step takes a picosecond, so against this saved run every time is a regression.
    status = main(TINY + ["--dtype", "float64", "--compare", _saved_run(tmp_path, 1e-12)])
    out = capsys.readouterr().out
    assert status == 1
    assert "REGRESSED" in out


def test_compare_passes_when_nothing_got_slower(tmp_path, capsys):
    status = main(TINY + ["--dtype", "float64", "--compare", _saved_run(tmp_path, 1e6)])
    out = capsys.readouterr().out
    assert status == 0
    assert "REGRESSED" not in out and "no regression" in out


def test_compare_rows_matches_by_shape_dtype_and_m():
    base = {"shape": [8, 4, 1], "dtype": "float64", "m": 16}
    now = [dict(base, fastdnn_s=1.06), dict(base, dtype="float32", fastdnn_s=1.04), dict(base, m=32, fastdnn_s=9.0)]
    saved = [dict(base, fastdnn_s=1.0), dict(base, dtype="float32", fastdnn_s=1.0)]
    matches = bench.compare_rows(now, saved, tolerance=0.05)
    assert [(m["row"]["dtype"], m["regressed"]) for m in matches] == [("float64", True), ("float32", False)]
    assert matches[0]["change"] == pytest.approx(0.06)


def test_compare_rejects_a_file_that_is_not_a_saved_run(tmp_path, capsys):
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"rows": []}))
    assert main(TINY + ["--compare", str(path)]) == 2
    assert "was not written by 'fastdnn bench --json'" in capsys.readouterr().err


def test_plot_writes_a_png(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib (the plot extra)")
    path = tmp_path / "speedup.png"
    assert main(TINY + ["--dtype", "float64", "--plot", str(path)]) == 0
    capsys.readouterr()
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_draws_a_saved_run_without_running(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib (the plot extra)")
    saved, path = tmp_path / "run.json", tmp_path / "again.png"
    assert main(TINY + ["--dtype", "float64", "--json", str(saved)]) == 0
    capsys.readouterr()
    monkeypatch.setattr(bench, "run_case", lambda *a: pytest.fail("--from must not run the benchmark"))
    assert main(["bench", "--plot", str(path), "--from", str(saved)]) == 0
    assert f"from {saved}" in capsys.readouterr().out
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["bench", "--from", str(saved)]) == 2
    assert "give --plot FILE.png too" in capsys.readouterr().err
    (tmp_path / "other.json").write_text("{}")
    assert main(["bench", "--plot", str(path), "--from", str(tmp_path / "other.json")]) == 2
    assert "was not written by 'fastdnn bench --json'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--shapes", "8,x,1"], ["--shapes", "8"], ["--m", "0"], ["--dtype", "float16"],
                                  ["--repeats", "0"], ["--quick", "--full"]])
def test_bad_options_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench"] + argv)
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


def test_slow_blas_environment_is_warned_about():
    message = bench.slow_blas_warning({"OPENBLAS_CORETYPE": "Haswell", "PATH": "/bin"})
    assert "OPENBLAS_CORETYPE=Haswell" in message and "-u OPENBLAS_CORETYPE" in message
    assert "OPENBLAS_L2_SIZE" not in message
    assert bench.slow_blas_warning({"PATH": "/bin"}) is None


def test_busy_machine_is_warned_about():
    assert "kept 1.5 cores busy" in bench.busy_machine_warning(1.5)
    assert bench.busy_machine_warning(0.2) is None
    assert bench.busy_machine_warning(None) is None


def test_other_cores_busy_leaves_out_our_own_time():
    # 2 CPUs, 100 jiffies elapsed on each (200 in all): 150 busy, of which 50 were ours.
    before = (1000, 5000, 300, 2)
    after = (1150, 5200, 350, 2)
    assert bench.other_cores_busy(before, after) == pytest.approx(1.0)
    assert bench.other_cores_busy(None, after) is None
    sample = bench.cpu_sample()
    assert sample is None or (sample[1] >= sample[0] >= 0 and sample[3] >= 1)


def test_default_cases_are_the_spec_shapes():
    args = build_parser().parse_args(["bench"])
    cases = bench._cases(args)
    assert {c[0] for c in cases} == set(bench.SPEC_SHAPES)
    assert (bench.COURSE_SHAPE, bench.COURSE_M, "float64") in cases
    full = bench._cases(build_parser().parse_args(["bench", "--full"]))
    assert ((784, 1024, 1024, 1), 65536, "float32") in full


def test_bound_step_runs_and_rejects_bad_input():
    step = peers.matmul_bound_step([6, 5, 3, 2], 7, np.float32)
    assert step() is None
    with pytest.raises(TypeError, match="dtype"):
        peers.matmul_bound_step([6, 5, 2], 7, np.int32)
    with pytest.raises(ValueError, match="m must be a positive integer"):
        peers.matmul_bound_step([6, 5, 2], 0, np.float64)


def test_torch_step_trains_and_checks_its_input():
    pytest.importorskip("torch", reason="PyTorch is not installed (the torch extra)")
    X, Y = bench.make_batch([6, 5, 1], 32, np.float64)
    step = peers.torch_step([6, 5, 1], 32, np.float64, "sigmoid", X=X, Y=Y, learning_rate=0.5)
    losses = [step() for _ in range(20)]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    softmax = peers.torch_step([6, 5, 3], 32, np.float32, "softmax")
    assert np.isfinite(softmax())
    with pytest.raises(ValueError, match="X must have shape"):
        peers.torch_step([6, 5, 1], 32, np.float64, X=X[:, :10])
    with pytest.raises(ValueError, match="output"):
        peers.torch_step([6, 5, 1], 32, np.float64, "softmax")


def test_course_loops_table(tmp_path, capsys, monkeypatch):
    # No cat data in tmp_path: the rows run on random images of the cat set's shape, and say so.
    from fastdnn import bench_course

    monkeypatch.setattr(bench_course, "SAMPLE_SECONDS", 0.0)  # one call per sample: the table, not the timing
    status = main(["bench", "--course", "--repeats", "1", "--data", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0
    assert "random images of the cat set's shape" in out
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("loop "))
    rows = [line for line in lines[start + 2:start + 10]]
    assert [r.split()[0] for r in rows] == ["L-layer", "two-layer", "week", "week", "Adam", "Adam", "L2", "dropout"]
    for row in rows:
        cells = row.split()
        assert cells[-3].endswith("x") and float(cells[-3][:-1]) > 0  # speedup
        assert float(cells[-2]) < 1e-9  # the two loops recorded the same costs


def test_course_short_runs_table(tmp_path, capsys, monkeypatch):
    from fastdnn import bench_course

    monkeypatch.setattr(bench_course, "SHORT_ITERATIONS", 3)
    status = main(["bench", "--course", "--short", "--repeats", "2", "--data", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0
    assert "short runs of 3 iterations amid NumPy work" in out
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("loop "))
    rows = [r for r in lines[start + 2:] if not r.startswith("routes measured on this machine")]
    assert [r.split()[0] for r in rows] == ["L-layer", "two-layer", "week", "week", "Adam"]
    assert lines[-1].startswith("routes measured on this machine")  # what fastdnn.machine_choices measured
    for row in rows:
        low, high = row.split()[-1].split("..")
        assert 0 < float(low[:-1]) <= float(row.split()[-2][:-1]) <= float(high[:-1])


@pytest.mark.parametrize("name", ["L-layer", "two-layer", "week 2", "week 3", "Adam (student)"])
def test_a_student_loop_runs_the_work_between_every_two_iterations(name):
    from fastdnn import bench_course, student_loops

    data, _ = bench_course.course_data("/nonexistent")
    kind, _, call, _ = bench_course.LOOPS[name]
    helpers = student_loops.HELPERS[kind]["reference"]
    calls = []
    call(helpers, data, 3, lambda: calls.append(1))
    assert len(calls) == 2  # between every two of the 3 iterations, not before the first


@pytest.mark.parametrize("first_use", ["0", "5"])
def test_cold_runs_each_case_from_an_empty_cache(first_use, tmp_path, capsys, monkeypatch):
    # A shape small enough for the plain route (cheap to compile): the point is the fresh processes.
    monkeypatch.setenv("FASTDNN_FIRST_USE_SECONDS", first_use)  # what the children inherit
    out = tmp_path / "cold.json"
    assert main(["bench", "--cold", "--shapes", "8,4,1", "--m", "4", "--dtype", "float64", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "cold first step s" in text and "warm first step s" in text and "8,4,1" in text
    (case,) = json.loads(out.read_text())
    assert case["shape"] == [8, 4, 1] and case["m"] == 4 and case["dtype"] == "float64"
    cold, compiled, warm = case["cold"], case["compiled"], case["warm"]
    # A new user's first step: the numpy route of a first use compiles nothing (when it is on).
    assert cold["route"] == ("numpy" if first_use != "0" else "plain")
    if first_use != "0":
        assert cold["kernels"] == 0
    # The route's own compile, then its cache: the empty cache compiled, the filled one did not.
    assert compiled["route"] == warm["route"] == "plain"
    assert compiled["kernels"] > 0 and compiled["compile_s"] > 0 and warm["kernels"] == 0


def test_version(capsys):
    import fastdnn

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"fastdnn {fastdnn.__version__}"


@pytest.mark.skipif(not __import__("fastdnn.precision").precision.available(),
                    reason="no bfloat16 product installed (pip install \"fastdnn[mkl]\")")
def test_bf16_rows_use_bf16_peers(tmp_path, capsys):
    path = tmp_path / "bf16.json"
    assert main(TINY + ["--precision", "bf16", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    _, rows = _table(out)
    assert [r[:3] for r in rows] == [["8,4,1", "float32+bf16", "16"]]  # float64 left out: bf16 is float32's
    (row,) = bench.load_json(str(path))["rows"]
    assert row["precision"] == "bf16" and row["costs_agree"], row["first_cost"]
    # A bf16 row is compared with bf16 rows only.
    assert bench.compare_rows([row], [dict(row, precision="float", fastdnn_s=row["fastdnn_s"] / 10)]) == []
    assert main(TINY + ["--precision", "bf16", "--dtype", "float64"]) == 2
    assert "float32" in capsys.readouterr().err
