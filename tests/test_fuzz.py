"""Hypothesis fuzzing of every public entry point.

Each generated case must end in a correct-looking result or a clear
``ValueError``/``TypeError``/``OSError`` (``FloatingPointError`` for a
diverging fit): never a crash, a Numba typing error, or a *silent NaN* -- an
output holding NaN while every input was finite.  The cases tried are counted
per entry point and printed at the end of the module (and written to the
file named by ``FASTDNN_FUZZ_COUNTS`` when set).
"""

import collections
import io
import json
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastdnn as dnn
from fastdnn import data as data_mod
from fastdnn.cli import main as cli_main

try:  # numba >= 0.49
    from numba.core.errors import NumbaError
except ImportError:  # pragma: no cover
    from numba.errors import NumbaError

CLEAR_ERRORS = (ValueError, TypeError, OSError, FloatingPointError)
COUNTS = collections.Counter()
OUTCOMES = collections.Counter()
FINDINGS = []

FUZZ = settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=False, database=None)

DTYPES = ["float64", "float32", "float16", "int64", "int32", "uint8", "bool", "complex128", "object"]
SCALES = [1.0, 0.0, 1e-30, 1e30, 1e4, -1e4]


@pytest.fixture(scope="module", autouse=True)
def report_counts(request):
    yield
    total = sum(COUNTS.values())
    lines = [f"fuzz cases: {total} in all"] + [f"  {name}: {n}" for name, n in sorted(COUNTS.items())]
    if FINDINGS:
        lines.append("  NaN after overflow in: " + ", ".join(f"{k} {v}" for k, v in
                                                           sorted(collections.Counter(FINDINGS).items())))
    lines.append("  outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(OUTCOMES.items())))
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            for line in lines:
                reporter.write_line(line)
    target = os.environ.get("FASTDNN_FUZZ_COUNTS")
    if target:
        with open(target, "w") as f:
            json.dump({"total": total, "per_entry_point": dict(COUNTS), "outcomes": dict(OUTCOMES)}, f, indent=1)


# ------------------------------------------------------------ helpers


@st.composite
def arrays(draw, shape=None, min_side=1, max_side=5, ndim=2, dtypes=DTYPES, scales=SCALES):
    """An array of a random dtype, scale and layout (C, F, or a strided view)."""
    if shape is None:
        shape = tuple(draw(st.integers(min_side, max_side)) for _ in range(ndim))
    dtype = draw(st.sampled_from(dtypes))
    scale = draw(st.sampled_from(scales))
    seed = draw(st.integers(0, 2**32 - 1))
    layout = draw(st.sampled_from(["C", "F", "strided"]))
    rng = np.random.default_rng(seed)
    big = tuple(s * 2 for s in shape) if layout == "strided" else shape
    values = rng.standard_normal(big) * scale
    if dtype == "bool":
        a = values > 0
    elif dtype in ("int64", "int32"):
        a = np.clip(np.round(values), -1e9, 1e9).astype(dtype)
    elif dtype == "uint8":
        a = np.clip(np.abs(values), 0, 255).astype(np.uint8)
    elif dtype == "complex128":
        a = values + 1j * values
    elif dtype == "object":
        a = values.astype(object)
    else:
        with np.errstate(over="ignore"):
            a = values.astype(dtype)
    if layout == "strided":
        a = a[tuple(slice(None, None, 2) for _ in shape)]
    elif layout == "F":
        a = np.asfortranarray(a)
    return a


def _finite(*inputs):
    """Whether every numeric input is finite (non-numeric inputs count as finite)."""
    for x in inputs:
        if isinstance(x, dict):
            if not _finite(*x.values()):
                return False
            continue
        if isinstance(x, (tuple, list)):
            if not _finite(*x):
                return False
            continue
        try:
            a = np.asarray(x)
            if a.dtype.kind in "fc" and not np.isfinite(a).all():
                return False
            if a.dtype.kind == "O" and not np.isfinite(a.astype(np.complex128)).all():
                return False
        except (TypeError, ValueError):
            pass
    return True


def _float_arrays(x):
    if isinstance(x, dict):
        for v in x.values():
            yield from _float_arrays(v)
    elif isinstance(x, (tuple, list)):
        for v in x:
            yield from _float_arrays(v)
    elif isinstance(x, np.ndarray) and x.dtype.kind == "f" and x.size:
        yield x


def _could_overflow(*inputs):
    """Whether a product of two input entries, summed over a few terms, can leave the narrowest input dtype."""
    found = list(_float_arrays(inputs))
    if not found:
        return False
    largest = max(float(np.max(np.abs(a.astype(np.float64)))) for a in found)
    narrowest = min((np.finfo(a.dtype).max for a in found), key=float)
    return largest * largest * 16 > float(narrowest)


def _has_nan(out):
    if isinstance(out, dict):
        return any(_has_nan(v) for v in out.values())
    if isinstance(out, (tuple, list)):
        return any(_has_nan(v) for v in out)
    try:
        a = np.asarray(out)
    except Exception:
        return False
    return a.dtype.kind in "fc" and bool(np.isnan(a).any())


def run_case(name, call, *inputs):
    """Run one fuzz case; fail on anything but a result or a clear error; returns the result or None."""
    COUNTS[name] += 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                out = call()
    except NumbaError as exc:
        pytest.fail(f"{name}: a Numba error leaked: {type(exc).__name__}: {str(exc)[:500]}")
    except CLEAR_ERRORS as exc:
        text = str(exc)
        assert "TypingError" not in text and "No implementation of function" not in text, \
            f"{name}: a Numba typing message leaked: {text[:500]}"
        assert text.strip(), f"{name}: {type(exc).__name__} without a message"
        OUTCOMES[type(exc).__name__] += 1
        return None
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - the point: anything else is a bug
        pytest.fail(f"{name}: unclear error {type(exc).__name__}: {str(exc)[:500]}")
    if _finite(*inputs) and _has_nan(out):
        if _could_overflow(*inputs):
            # A finite input whose products exceed the dtype's range (inf - inf = NaN inside a matrix
            # product): counted and reported as a finding, see docs/reliability.md.
            OUTCOMES["NaN after overflow (finding)"] += 1
            FINDINGS.append(name)
            return out
        pytest.fail(f"{name}: silent NaN in the output of finite inputs")
    OUTCOMES["result"] += 1
    return out


# ------------------------------------------------------------ course functions


@settings(FUZZ, max_examples=150)
@given(Z=arrays(), which=st.sampled_from(["sigmoid", "relu", "tanh", "softmax", "normalize_rows"]))
def test_course_activations(Z, which):
    f = getattr(dnn, which)
    run_case(which, lambda: f(Z), Z)


@settings(FUZZ, max_examples=150)
@given(data=st.data(), which=st.sampled_from(["sigmoid", "relu", "tanh"]))
def test_course_activation_backward(data, which):
    shape = data.draw(st.tuples(st.integers(1, 4), st.integers(1, 5)))
    dA = data.draw(arrays(shape=shape))
    Z = data.draw(arrays(shape=data.draw(st.sampled_from([shape, shape[::-1], (1, 1)]))))
    f = getattr(dnn, which + "_backward")
    run_case(which + "_backward", lambda: f(dA, Z), dA, Z)


@settings(FUZZ, max_examples=150)
@given(data=st.data(), activation=st.sampled_from(["sigmoid", "relu", "tanh", "softplus", None, 3]))
def test_course_linear_forward(data, activation):
    n, n_prev, m = (data.draw(st.integers(1, 4)) for _ in range(3))
    A = data.draw(arrays(shape=data.draw(st.sampled_from([(n_prev, m), (m, n_prev), (n_prev,)]))))
    W = data.draw(arrays(shape=(n, n_prev)))
    b = data.draw(arrays(shape=data.draw(st.sampled_from([(n, 1), (n,), (1, n), (n, 2)]))))
    run_case("linear_forward", lambda: dnn.linear_forward(A, W, b), A, W, b)
    run_case("linear_activation_forward", lambda: dnn.linear_activation_forward(A, W, b, activation), A, W, b)


@settings(FUZZ, max_examples=150)
@given(data=st.data(), activation=st.sampled_from(["sigmoid", "relu", "tanh", "bogus"]))
def test_course_linear_backward(data, activation):
    n, n_prev, m = (data.draw(st.integers(1, 4)) for _ in range(3))
    dZ = data.draw(arrays(shape=data.draw(st.sampled_from([(n, m), (m, n)]))))
    A = data.draw(arrays(shape=(n_prev, m)))
    W = data.draw(arrays(shape=(n, n_prev)))
    b = data.draw(arrays(shape=(n, 1)))
    Z = data.draw(arrays(shape=(n, m)))
    run_case("linear_backward", lambda: dnn.linear_backward(dZ, (A, W, b)), dZ, A, W, b)
    run_case("linear_activation_backward",
             lambda: dnn.linear_activation_backward(dZ, ((A, W, b), Z), activation), dZ, A, W, b, Z)


@settings(FUZZ, max_examples=150)
@given(data=st.data())
def test_course_compute_cost(data):
    m = data.draw(st.integers(1, 6))
    AL = data.draw(arrays(shape=(1, m), scales=[1.0, 0.0, 1e-30, 1e30]))
    AL_prob = data.draw(st.booleans())
    if AL_prob and AL.dtype.kind == "f":
        AL = np.clip(np.abs(AL), 0, 1).astype(AL.dtype)
    Y = data.draw(arrays(shape=data.draw(st.sampled_from([(1, m), (m,), (1, m + 1)])),
                         dtypes=["bool", "int64", "float64", "float32", "object"]))
    if data.draw(st.booleans()):
        Y = (np.asarray(Y) != 0).astype(Y.dtype if Y.dtype != object else np.float64)
    run_case("compute_cost", lambda: dnn.compute_cost(AL, Y), AL, Y)


@settings(FUZZ, max_examples=120)
@given(data=st.data())
def test_course_L_model_and_update(data):
    dims = data.draw(st.lists(st.integers(1, 4), min_size=2, max_size=4))
    m = data.draw(st.integers(1, 5))
    parameters = dnn.initialize_parameters_deep(dims, seed=data.draw(st.integers(0, 100)))
    if data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(parameters)))
        parameters[key] = data.draw(arrays(shape=parameters[key].shape))
    X = data.draw(arrays(shape=data.draw(st.sampled_from([(dims[0], m), (m, dims[0])]))))
    out = run_case("L_model_forward", lambda: dnn.L_model_forward(X, parameters), X, parameters)
    if out is None:
        return
    AL, caches = out
    Y = (np.random.default_rng(m).random((1, m)) > 0.5).astype(np.float64)
    if AL.shape != Y.shape:
        return
    grads = run_case("L_model_backward", lambda: dnn.L_model_backward(AL, Y, caches), AL, caches)
    if grads is None:
        return
    lr = data.draw(st.sampled_from([0.1, 0.0, -1.0, 1e30, float("nan"), "x"]))
    run_case("update_parameters", lambda: dnn.update_parameters(dict(parameters), grads, lr), parameters, grads, lr)


@settings(FUZZ, max_examples=100)
@given(dims=st.lists(st.one_of(st.integers(-2, 5), st.floats(-1, 5), st.just("3"), st.none()), min_size=0,
                     max_size=4),
       init=st.sampled_from(["scaled", "small", "he", "xavier", "bogus", None]),
       seed=st.one_of(st.integers(-5, 2**33), st.none(), st.floats(0, 3)))
def test_course_initialize(dims, init, seed):
    run_case("initialize_parameters_deep", lambda: dnn.initialize_parameters_deep(dims, init=init, seed=seed))
    if len(dims) == 3:
        run_case("initialize_parameters", lambda: dnn.initialize_parameters(*dims))


@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_course_predict_and_models(data):
    n, m = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 6))
    X = data.draw(arrays(shape=(n, m)))
    y = data.draw(arrays(shape=data.draw(st.sampled_from([(1, m), (m,)])), dtypes=["int64", "bool", "float64"]))
    y = (np.asarray(y) != 0).astype(y.dtype)
    parameters = dnn.initialize_parameters_deep([n, 3, 1])
    run_case("predict", lambda: dnn.predict(X, y, parameters, verbose=False), X, y)
    iterations = data.draw(st.sampled_from([1, 3, 0, -1]))
    run_case("L_layer_model", lambda: dnn.L_layer_model(X, y, [n, 3, 1], num_iterations=iterations), X, y)


# ------------------------------------------------------------ Network


@settings(FUZZ, max_examples=150)
@given(dims=st.lists(st.one_of(st.integers(-1, 5), st.just(2.5), st.just("4")), min_size=0, max_size=4),
       hidden=st.sampled_from(["relu", "tanh", "sigmoid", "leaky_relu", "linear", "softmax", 1]),
       output=st.sampled_from(["sigmoid", "softmax", "linear", "relu", None]),
       dtype=st.sampled_from([np.float64, np.float32, np.float16, np.int64, "float32", "bogus", None]),
       init=st.sampled_from(["scaled", "small", "he", "xavier", "x"]),
       seed=st.one_of(st.integers(-3, 2**40), st.none(), st.just(1.5)),
       slope=st.sampled_from([0.01, 0.0, -1.0, float("nan"), float("inf"), "a"]))
def test_network_constructor(dims, hidden, output, dtype, init, seed, slope):
    run_case("Network()", lambda: dnn.Network(dims, hidden=hidden, output=output, dtype=dtype, init=init,
                                              seed=seed, leaky_slope=slope))


@settings(FUZZ, max_examples=200)
@given(data=st.data(), output=st.sampled_from(["sigmoid", "softmax", "linear"]),
       dtype=st.sampled_from([np.float64, np.float32]),
       optimizer=st.sampled_from(["sgd", "momentum", "adam", "rmsprop"]),
       batch_size=st.sampled_from([None, 1, 2, 3, 7, 0, -1]),
       lr=st.sampled_from([0.01, 0.5, 0.0, -0.1, 1e30, float("nan")]),
       l2=st.sampled_from([0.0, 0.1, -1.0]), dropout=st.sampled_from([0.0, 0.3, 1.0]))
def test_network_fit_predict(data, output, dtype, optimizer, batch_size, lr, l2, dropout):
    n, m = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 9))
    k = 1 if output == "sigmoid" else data.draw(st.integers(2, 3))
    net = dnn.Network([n, 3, k], output=output, dtype=dtype, seed=data.draw(st.integers(0, 50)))
    X = data.draw(arrays(shape=data.draw(st.sampled_from([(n, m), (m, n), (n + 1, m)]))))
    if output == "softmax":
        Y = data.draw(arrays(shape=data.draw(st.sampled_from([(m,), (k, m)])), dtypes=["int64", "float64", "bool"],
                             scales=[1.0]))
        if Y.ndim == 1 and data.draw(st.booleans()):
            Y = np.abs(np.asarray(Y)).astype(np.int64) % k
    else:
        Y = data.draw(arrays(shape=data.draw(st.sampled_from([(k, m), (m,)])),
                             dtypes=["int64", "float64", "bool", "float32"], scales=[1.0, 1e30]))
        if output == "sigmoid" and data.draw(st.booleans()):
            Y = (np.asarray(Y) > 0).astype(np.float64)
    epochs = data.draw(st.sampled_from([1, 2, 0]))
    X_before = np.array(X, copy=True)
    run_case("Network.fit", lambda: net.fit(X, Y, epochs=epochs, batch_size=batch_size, optimizer=optimizer,
                                           learning_rate=lr, l2=l2, dropout=dropout, progress=False), X, Y)
    if X.dtype != object:
        assert np.array_equal(X, X_before, equal_nan=X.dtype.kind in "fc"), "fit mutated the caller's X"
    if not np.isfinite(net.params).all():
        pytest.fail("fit left non-finite parameters")
    Xp = data.draw(arrays(shape=data.draw(st.sampled_from([(n, m), (n, 1), (m, n)]))))
    # The parameters are operands of predict's products too: a fit at a huge learning rate can leave
    # finite ones whose products overflow (a finding, not a silent NaN; see _could_overflow).
    run_case("Network.predict", lambda: net.predict(Xp), Xp, net.params)
    run_case("Network.predict_proba", lambda: net.predict_proba(Xp), Xp, net.params)


@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_network_save_load(data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("saves")
    net = dnn.Network([3, 2, 1], dtype=data.draw(st.sampled_from([np.float64, np.float32])))
    net.metadata = data.draw(st.sampled_from([{}, {"a": 1}, {"bad": object()}, {"x": [1.5, "s"]}]))
    path = folder / data.draw(st.sampled_from(["m.npz", "m", "sub/m.npz"]))
    saved = run_case("Network.save", lambda: net.save(path, include_optimizer=data.draw(st.booleans())))
    if path.exists():
        loaded = run_case("Network.load", lambda: dnn.Network.load(path))
        assert loaded is not None and np.array_equal(loaded.params, net.params)
        raw = path.read_bytes()
        cut = data.draw(st.integers(0, len(raw)))
        flip = data.draw(st.integers(0, max(0, len(raw) - 1)))
        damaged = bytearray(raw[:cut])
        if damaged and data.draw(st.booleans()):
            damaged[min(flip, len(damaged) - 1)] ^= 0xFF
        bad = folder / "damaged.npz"
        bad.write_bytes(bytes(damaged))
        out = run_case("Network.load(damaged)", lambda: dnn.Network.load(bad))
        if out is not None:  # a damage that left a valid file (e.g. a flipped byte in padding)
            assert out.params.shape == net.params.shape
    else:
        assert saved is None


# ------------------------------------------------------------ MLPClassifier


@settings(FUZZ, max_examples=80)
@given(data=st.data(), solver=st.sampled_from(["adam"] * 4 + ["sgd", "lbfgs"]),
       hidden=st.sampled_from([(3,)] * 6 + [(2, 2), (), (0,), 4, "3"]),
       activation=st.sampled_from(["relu"] * 4 + ["tanh", "logistic", "identity", "bogus"]),
       alpha=st.sampled_from([1e-4] * 5 + [0.0, -1.0]), batch=st.sampled_from(["auto"] * 5 + [2, 0, "x"]))
def test_mlp_classifier(data, solver, hidden, activation, alpha, batch):
    pytest.importorskip("sklearn", reason="MLPClassifier's checks come from scikit-learn (the 'sklearn' extra)")
    m, n = data.draw(st.integers(1, 8)), data.draw(st.integers(1, 4))
    # Mostly valid settings and shapes, so that fits also succeed and predictions get fuzzed.
    X = data.draw(arrays(shape=data.draw(st.sampled_from([(m, n)] * 4 + [(m,), (m, n, 1)])), ndim=None,
                         dtypes=["float64", "float32", "int64", "bool", "float16", "object", "complex128"]))
    y = data.draw(st.sampled_from([
        np.arange(m) % 2, np.arange(m) % 2, np.arange(m) % 3, np.array(["a", "b"] * m)[:m], np.zeros(m),
        np.arange(m + 1) % 2, np.linspace(0, 1, m)]))
    clf = dnn.MLPClassifier(hidden_layer_sizes=hidden, activation=activation, solver=solver, alpha=alpha,
                            batch_size=batch, max_iter=3, random_state=0)
    fitted = run_case("MLPClassifier.fit", lambda: clf.fit(X, y), X)
    if fitted is not None:
        run_case("MLPClassifier.predict_proba", lambda: clf.predict_proba(X), X)
        run_case("MLPClassifier.predict", lambda: clf.predict(X), X)


# ------------------------------------------------------------ data loaders


def _npz_bytes(arrays_):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays_)
    return buffer.getvalue()


def _npy_bytes(a):
    buffer = io.BytesIO()
    np.save(buffer, a)
    return buffer.getvalue()


def _idx_bytes(a, type_code=0x08):
    header = bytes([0, 0, type_code, a.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in a.shape)
    return header + a.astype(">u1").tobytes()


def _h5_bytes(folder, shape):
    h5py = pytest.importorskip("h5py", reason="h5py (the 'data' extra) reads .h5")
    path = folder / "source.h5"
    with h5py.File(path, "w") as f:
        f["train_set_x"] = np.zeros(shape, dtype=np.uint8)
        f["train_set_y"] = np.zeros(shape[:1], dtype=np.int64)
    return path.read_bytes()


@settings(FUZZ, max_examples=250)
@given(data=st.data(), kind=st.sampled_from(["npz", "npy", "idx", "idx.gz", "h5"]))
def test_loaders_on_malformed_files(data, kind, tmp_path_factory):
    folder = tmp_path_factory.mktemp("loader")
    m, n = data.draw(st.integers(0, 4)), data.draw(st.integers(0, 3))
    if kind == "npz":
        content = _npz_bytes(data.draw(st.sampled_from([
            {"X": np.zeros((m, n)), "y": np.zeros(m)}, {"X": np.zeros((m, n))}, {"Z": np.zeros(2)},
            {"X": np.zeros((m, n)), "y": np.zeros(m + 1)}, {"X": np.zeros(m), "y": np.zeros(m)},
            {"X": np.array(["a"] * m), "y": np.zeros(m)}])))
        name = "d.npz"
    elif kind == "npy":
        content = _npy_bytes(data.draw(st.sampled_from([np.zeros((m, n)), np.zeros(m), np.zeros((m, n, 2)),
                                                         np.array([{"a": 1}], dtype=object)])))
        name = "d.npy"
    elif kind in ("idx", "idx.gz"):
        content = _idx_bytes(np.zeros((m, n + 1, 2), dtype=np.uint8), data.draw(st.sampled_from([0x08, 0x0D, 0x99])))
        name = "d-images-idx3-ubyte"
        labels = folder / "d-labels-idx1-ubyte"
        labels.write_bytes(_idx_bytes(np.zeros(data.draw(st.integers(0, 4)), dtype=np.uint8)))
        if kind == "idx.gz":
            import gzip

            content = gzip.compress(content)
            name += ".gz"
            (folder / "d-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels.read_bytes()))
    else:
        content = _h5_bytes(folder, (max(m, 1), n + 1))
        name = "d.h5"
    cut = data.draw(st.integers(0, len(content)))
    damaged = bytearray(content[:cut])
    if damaged and data.draw(st.booleans()):
        damaged[data.draw(st.integers(0, len(damaged) - 1))] ^= data.draw(st.integers(1, 255))
    path = folder / name
    path.write_bytes(bytes(damaged))
    loader = {"npz": data_mod.load_npz, "npy": data_mod.load_npy, "idx": data_mod.load_idx,
              "idx.gz": data_mod.load_idx, "h5": data_mod.load_h5}[kind]
    run_case(f"load_{kind}", lambda: loader(path))
    run_case("load_data", lambda: data_mod.load_data(path))


# ------------------------------------------------------------ command line

WORDS = ["train", "predict", "evaluate", "bench", "--help", "-h", "--epochs", "0", "-1", "3", "--lr", "nan",
         "inf", "1e30", "--batch-size", "full", "x", "--layers", "", "3,0", "a,b", "--dtype", "float16",
         "--dropout", "1", "--out", "/nonexistent/m.npz", "--checkpoint", "--resume", "--seed", "-5", "--scale",
         "none", "--labels", "--validation-split", "2", "missing.npz", "--optimizer", "rmsprop", "--proba"]


@settings(FUZZ, max_examples=250)
@given(argv=st.lists(st.sampled_from(WORDS), min_size=0, max_size=7), real_data=st.booleans())
def test_cli_argument_parsing(argv, real_data, tmp_path_factory, capsys):
    if real_data:
        folder = tmp_path_factory.mktemp("cli")
        path = folder / "d.npz"
        np.savez(path, X=np.random.default_rng(0).standard_normal((6, 2)), y=np.arange(6) % 2)
        argv = [str(path) if a == "missing.npz" else a for a in argv]
        argv = [str(folder / "m.npz") if a == "/nonexistent/m.npz" else a for a in argv]
    if "bench" in argv[:1]:
        argv = ["bench", "--help"]  # the benchmark itself is slow; its parser is what is fuzzed
    COUNTS["cli.main"] += 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            status = cli_main(list(argv))
    except SystemExit as exc:
        OUTCOMES["SystemExit"] += 1
        assert exc.code in (0, 2, None), f"argparse exit code {exc.code} for {argv}"
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"fastdnn {' '.join(argv)}: traceback {type(exc).__name__}: {exc}")
    else:
        OUTCOMES["cli status"] += 1
        assert isinstance(status, int), f"fastdnn {argv} returned {status!r}"
    capsys.readouterr()
