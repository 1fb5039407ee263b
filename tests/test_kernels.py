"""The Numba kernels against plain-NumPy formulas written here.

A registry maps each kernel case to a function that builds inputs, runs the
kernel (once into separate outputs, once with the output aliasing its input
where the kernel allows it), and compares with the NumPy formula evaluated in
float64 on the same inputs.  Every case runs for float32 and float64, for
shapes with one row, one column, odd widths and one above
``config.PARALLEL_MIN_ELEMENTS``, and for both twins (serial and
row-parallel) of the kernels that have them.
"""

import math
import warnings
import zlib

import numpy as np
import pytest

import fastdnn as dnn
from fastdnn import config
from fastdnn import validation as v
from fastdnn.kernels import activation as act
from fastdnn.kernels import loss, update

from conftest import assert_close, rtol_for

SLOPE = 0.07  # leaky relu's slope: not the default, so a hard-coded 0.01 would show

# One shape above the parallel cut-over, so that the parallel twin runs by itself.
BIG_COLUMNS = max(2500, -(-config.PARALLEL_MIN_ELEMENTS // 64) + 1)
SHAPES = [(1, 1), (1, 7), (5, 1), (3, 257), (17, 300), (64, BIG_COLUMNS)]
DTYPES = [np.float32, np.float64]


def test_big_shape_is_above_the_parallel_cut_over():
    assert 64 * BIG_COLUMNS >= config.PARALLEL_MIN_ELEMENTS


# ---------------------------------------------------------------- NumPy formulas (float64)


def g_numpy(z, code):
    z = np.asarray(z, dtype=np.float64)
    if code == act.RELU:
        return np.maximum(z, 0.0)
    if code == act.SIGMOID:
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-z))
    if code == act.TANH:
        return np.tanh(z)
    if code == act.LEAKY_RELU:
        return np.where(z > 0, z, SLOPE * z)
    return z.copy()


def g_prime_from_z(z, code):
    z = np.asarray(z, dtype=np.float64)
    if code == act.RELU:
        return (z > 0).astype(np.float64)
    if code == act.SIGMOID:
        s = g_numpy(z, code)
        return s * (1.0 - s)
    if code == act.TANH:
        return 1.0 - np.tanh(z) ** 2
    if code == act.LEAKY_RELU:
        return np.where(z > 0, 1.0, SLOPE)
    return np.ones_like(z)


def g_prime_from_a(a, code):
    a = np.asarray(a, dtype=np.float64)
    if code == act.RELU:
        return (a > 0).astype(np.float64)
    if code == act.SIGMOID:
        return a * (1.0 - a)
    if code == act.TANH:
        return 1.0 - a * a
    if code == act.LEAKY_RELU:
        return np.where(a > 0, 1.0, SLOPE)
    return np.ones_like(a)


def f64(x):
    return np.asarray(x, dtype=np.float64)


def random_block(rng, shape, dtype, scale=3.0, zero_row=True):
    """Normal values with one all-zero row (when there is more than one row)."""
    x = (rng.standard_normal(shape) * scale).astype(dtype)
    if zero_row and shape[0] > 1:
        x[shape[0] // 2] = 0
    return x


def assert_sums_close(actual, expected, terms, dtype, err_msg=""):
    """A sum is judged on the scale of its terms (their absolute sum), not on its own value."""
    expected, terms = f64(expected), np.abs(f64(terms))
    # A scalar is the sum of all the terms; a column the sum of each row's.
    scale = terms.sum() if expected.ndim == 0 else terms.sum(axis=-1, keepdims=True)
    tol = rtol_for(dtype) * (scale + np.abs(expected)) + 1e-300
    err = np.abs(f64(actual) - f64(expected))
    assert np.all(err <= tol), f"{err_msg}: max error {err.max()} above tolerance {tol.max()}"


def assert_written_in_place(out, into):
    """``out`` is exactly the buffer ``into`` (same memory), as an in-place kernel promises."""
    assert np.shares_memory(out, into)
    assert out.__array_interface__["data"][0] == into.__array_interface__["data"][0]


# ---------------------------------------------------------------- the registry

KERNELS = {}


def kernel(name, twins=True):
    def register(fn):
        KERNELS[name] = (fn, twins)
        return fn
    return register


CODE_NAMES = [(c, n) for n, c in act.CODES.items()]


def _register_activation_cases():
    for code, cname in CODE_NAMES:

        @kernel(f"bias_activation_forward[{cname}]")
        def case_bias_forward(rng, shape, dtype, code=code):
            n, m = shape
            Z0 = random_block(rng, shape, dtype)
            b = random_block(rng, (n, 1), dtype, 1.0)
            Z_expected = Z0 + b  # in dtype's arithmetic, as the kernel adds
            A_expected = g_numpy(Z_expected, code)
            # Separate output: Z gets Z + b, A gets g(Z + b).
            Z = Z0.copy()
            A = np.full(shape, np.nan, dtype=dtype)
            b_before = b.copy()
            act.bias_activation_forward(Z, b, code, SLOPE, A)
            assert_close(Z, Z_expected, dtype, err_msg="Z + b")
            assert_close(A, A_expected, dtype, err_msg="g(Z + b)")
            np.testing.assert_array_equal(b, b_before)
            # A is Z: only the activation is kept, in Z's memory.
            Z = Z0.copy()
            A = Z
            act.bias_activation_forward(Z, b, code, SLOPE, A)
            assert_written_in_place(A, Z)
            assert_close(Z, A_expected, dtype, err_msg="g(Z + b) written into Z")

        @kernel(f"activation_forward[{cname}]")
        def case_forward(rng, shape, dtype, code=code):
            Z0 = random_block(rng, shape, dtype)
            A_expected = g_numpy(Z0, code)
            Z = Z0.copy()
            A = np.full(shape, np.nan, dtype=dtype)
            act.activation_forward(Z, code, SLOPE, A)
            np.testing.assert_array_equal(Z, Z0)
            assert_close(A, A_expected, dtype)
            act.activation_forward(Z, code, SLOPE, Z)
            assert_close(Z, A_expected, dtype, err_msg="g(Z) written into Z")

        @kernel(f"activation_backward_from_Z[{cname}]")
        def case_backward_z(rng, shape, dtype, code=code):
            _check_backward(rng, shape, dtype, code, from_pre_activation=True)

        @kernel(f"activation_backward_from_A[{cname}]")
        def case_backward_a(rng, shape, dtype, code=code):
            _check_backward(rng, shape, dtype, code, from_pre_activation=False)


def _check_backward(rng, shape, dtype, code, from_pre_activation):
    n, m = shape
    # dA has no zero row: where Z's row is zero, relu's g'(0) = 0 must show.
    dA0 = random_block(rng, shape, dtype, 1.0, zero_row=False)
    Z = random_block(rng, shape, dtype)
    if from_pre_activation:
        H = Z
        derivative = g_prime_from_z(H, code)
    else:
        H = g_numpy(Z, code).astype(dtype)  # what the trainer keeps: A = g(Z)
        derivative = g_prime_from_a(H, code)
    dZ_expected = f64(dA0) * derivative
    scale = 1.0 / m
    db_expected = scale * dZ_expected.sum(axis=1, keepdims=True)
    H_before = H.copy()
    # g' is bounded by 1 and known to an absolute (not relative) precision
    # near saturation, where 1 - s or 1 - t**2 cancels: judge on |dA|'s scale.
    dA_scale = float(np.abs(f64(dA0)).max())
    db_terms = scale * np.abs(f64(dA0))
    # Separate dZ.
    dA = dA0.copy()
    dZ = np.full(shape, np.nan, dtype=dtype)
    db = np.full((n, 1), np.nan, dtype=dtype)
    act.activation_backward(dA, H, from_pre_activation, code, SLOPE, scale, dZ, db)
    np.testing.assert_array_equal(dA, dA0)
    np.testing.assert_array_equal(H, H_before)
    assert_close(dZ, dZ_expected, dtype, scale=dA_scale, err_msg="dZ")
    assert_sums_close(db, db_expected, db_terms, dtype, "db")
    # dZ is dA: the gradient overwrites dA in place.
    dA = dA0.copy()
    db = np.full((n, 1), np.nan, dtype=dtype)
    act.activation_backward(dA, H, from_pre_activation, code, SLOPE, scale, dA, db)
    assert_written_in_place(dA, dA)
    assert_close(dA, dZ_expected, dtype, scale=dA_scale, err_msg="dZ written into dA")
    assert_sums_close(db, db_expected, db_terms, dtype, "db (aliased)")
    # Without the bias gradient: db is not touched (an empty stand-in is enough).
    dZ = np.full(shape, np.nan, dtype=dtype)
    act.activation_backward(dA0.copy(), H, from_pre_activation, code, SLOPE, scale, dZ,
                            act.empty_bias_buffer(dtype), False)
    assert_close(dZ, dZ_expected, dtype, scale=dA_scale, err_msg="dZ without db")


_register_activation_cases()


@kernel("row_sums")
def case_row_sums(rng, shape, dtype):
    n, m = shape
    dZ = random_block(rng, shape, dtype)
    dZ_before = dZ.copy()
    db = np.full((n, 1), np.nan, dtype=dtype)
    act.row_sums(dZ, 1.0 / m, db)
    np.testing.assert_array_equal(dZ, dZ_before)
    assert db.dtype == dtype
    assert_sums_close(db, f64(dZ).sum(axis=1, keepdims=True) / m, f64(dZ) / m, dtype, "db")


@kernel("sigmoid_cross_entropy", twins=False)
def case_sigmoid_cross_entropy(rng, shape, dtype):
    n, m = shape
    Z0 = random_block(rng, shape, dtype)
    Y = rng.integers(0, 2, size=shape).astype(dtype)
    z = f64(Z0)
    A_expected = g_numpy(z, act.SIGMOID)
    terms = np.maximum(z, 0) - z * Y + np.log1p(np.exp(-np.abs(z)))
    cost_expected = terms.sum() / m
    scale = 1.0 / m
    dZ_expected = scale * (A_expected - Y)
    for alias in (False, True):
        Z = Z0.copy()
        A = Z if alias else np.full(shape, np.nan, dtype=dtype)
        dZ = np.full(shape, np.nan, dtype=dtype)
        out = np.full(1, np.nan)
        loss.sigmoid_cross_entropy(Z, Y, scale, A, dZ, out)
        if alias:
            assert_written_in_place(A, Z)
        assert_close(A, A_expected, dtype, err_msg="A")
        assert_close(dZ, dZ_expected, dtype, err_msg="dZ")
        assert_sums_close(out[0], cost_expected, terms.ravel() / m, dtype, "cost")


def one_hot_columns(rng, shape, dtype):
    k, m = shape
    Y = np.zeros(shape, dtype=dtype)
    Y[rng.integers(0, k, size=m), np.arange(m)] = 1
    return Y


@kernel("softmax_cross_entropy", twins=False)
def case_softmax_cross_entropy(rng, shape, dtype):
    k, m = shape
    Z0 = random_block(rng, shape, dtype)
    Y = one_hot_columns(rng, shape, dtype)
    z = f64(Z0)
    shifted = z - z.max(axis=0, keepdims=True)
    P_expected = np.exp(shifted) / np.exp(shifted).sum(axis=0, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))
    per_example = -(Y * log_p).sum(axis=0)
    cost_expected = per_example.sum() / m
    scale = 1.0 / m
    dZ_expected = scale * (P_expected - Y)
    for alias in (False, True):
        Z = Z0.copy()
        P = Z if alias else np.full(shape, np.nan, dtype=dtype)
        dZ = np.full(shape, np.nan, dtype=dtype)
        out = np.full(1, np.nan)
        shift, norm = np.full(m, np.nan), np.full(m, np.nan)
        loss.softmax_cross_entropy(Z, Y, scale, P, dZ, out, shift, norm)
        if alias:
            assert_written_in_place(P, Z)
        assert_close(P, P_expected, dtype, err_msg="P")
        assert_close(dZ, dZ_expected, dtype, err_msg="dZ")
        # Each example's cost is a log-sum-exp of terms as large as |z|.
        assert_sums_close(out[0], cost_expected, (np.abs(z).max(axis=0) + per_example) / m, dtype, "cost")


@kernel("binary_cross_entropy", twins=False)
def case_binary_cross_entropy(rng, shape, dtype):
    n, m = shape
    AL = rng.uniform(0.01, 0.99, size=shape).astype(dtype)
    Y = rng.integers(0, 2, size=shape).astype(dtype)
    a = f64(AL)
    terms = -(Y * np.log(a) + (1 - Y) * np.log1p(-a))
    out = np.full(1, np.nan)
    loss.binary_cross_entropy(AL, Y, out)
    # All terms are positive: the relative tolerance applies to the sum itself.
    assert out[0] == pytest.approx(terms.sum() / m, rel=rtol_for(dtype))


@kernel("course_sigmoid_output_backward", twins=False)
def case_course_output_backward(rng, shape, dtype):
    Z = random_block(rng, shape, dtype, 2.0)
    AL = g_numpy(Z, act.SIGMOID).astype(dtype)
    Y = rng.integers(0, 2, size=shape).astype(dtype)
    a, s = f64(AL), g_numpy(Z, act.SIGMOID)
    dZ_expected = -(Y / a - (1 - Y) / (1 - a)) * s * (1 - s)
    dZ = np.full(shape, np.nan, dtype=dtype)
    loss.course_sigmoid_output_backward(AL, Y, Z, dZ)
    # s is recomputed from Z in float64 while AL was rounded to dtype, so
    # (1 - s) / (1 - AL) differs from 1 by up to eps(dtype) / (1 - AL).
    rtol = rtol_for(dtype) * (10 if dtype == np.float32 else 1)
    assert_close(dZ, dZ_expected, dtype, rtol=rtol)


@kernel("softmax_rows", twins=False)
def case_softmax_rows(rng, shape, dtype):
    X0 = random_block(rng, shape, dtype, 20.0)
    x = f64(X0)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    expected = e / e.sum(axis=1, keepdims=True)
    X = X0.copy()
    out = np.full(shape, np.nan, dtype=dtype)
    loss.softmax_rows(X, out)
    np.testing.assert_array_equal(X, X0)
    assert_close(out, expected, dtype)
    loss.softmax_rows(X, X)
    assert_close(X, expected, dtype, err_msg="softmax written into X")


@kernel("sgd")
def case_sgd(rng, shape, dtype):
    param0 = random_block(rng, shape, dtype).reshape(-1)
    grad = random_block(rng, shape, dtype).reshape(-1)
    lr = 0.0075
    expected = f64(param0) - lr * f64(grad)
    param = param0.copy()
    out = np.full(param.shape, np.nan, dtype=dtype)
    update.sgd(param, grad, lr, out)
    np.testing.assert_array_equal(param, param0)
    assert_close(out, expected, dtype, scale=float(np.abs(f64(param0)).max() + lr * np.abs(f64(grad)).max()))
    update.sgd(param, grad, lr, param)
    assert_close(param, expected, dtype, scale=float(np.abs(f64(param0)).max() + lr * np.abs(f64(grad)).max()),
                 err_msg="update written into param")


# ---------------------------------------------------------------- the parametrized test

CASES = []
for _name, (_fn, _twins) in KERNELS.items():
    for _twin in (("serial", "parallel") if _twins else ("serial",)):
        CASES.append(pytest.param(_name, _twin, id=f"{_name}-{_twin}" if _twins else _name))


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name, twin", CASES)
def test_kernel_matches_numpy(name, twin, dtype, shape, monkeypatch):
    fn, has_twins = KERNELS[name]
    if has_twins:
        # The twin is chosen by size at call time: force the one under test.
        monkeypatch.setattr(config, "PARALLEL_MIN_ELEMENTS", 0 if twin == "parallel" else 1 << 62)
    # A seed per case that does not depend on PYTHONHASHSEED: reproducible alone.
    rng = np.random.default_rng(zlib.crc32(f"{name}|{np.dtype(dtype).name}|{shape}".encode()))
    fn(rng, shape, np.dtype(dtype))


TWINS = [
    (act.bias_activation_forward, "_bias_activation", lambda Z: (Z, np.zeros((Z.shape[0], 1)), act.RELU, 0.0, Z)),
    (act.activation_forward, "_activation", lambda Z: (Z, act.TANH, 0.0, Z)),
    (act.activation_backward, "_activation_backward",
     lambda Z: (Z, Z, True, act.SIGMOID, 0.0, 1.0, Z, np.zeros((Z.shape[0], 1)))),
    (act.row_sums, "_row_sums", lambda Z: (Z, 1.0, np.zeros((Z.shape[0], 1)))),
    (update.sgd, "_sgd", lambda Z: (Z.reshape(-1), Z.reshape(-1), 0.1, Z.reshape(-1))),
]


@pytest.mark.parametrize("dispatcher, prefix, args", TWINS, ids=[t[1].strip("_") for t in TWINS])
@pytest.mark.parametrize("shape", [SHAPES[0], SHAPES[-1]], ids=["small", "big"])
def test_size_picks_the_twin(dispatcher, prefix, args, shape, monkeypatch):
    """Below the cut-over the serial twin runs, at or above it the parallel one."""
    module = act if prefix != "_sgd" else update
    called = []
    # The serial twins are public (other kernels call them); the parallel ones private.
    names = {"serial": f"{prefix.lstrip('_')}_serial", "parallel": f"{prefix}_parallel"}
    for twin, name in names.items():
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _t=twin, _f=real: (called.append(_t), _f(*a)))
    dispatcher(*args(np.zeros(shape)))
    big = shape[0] * shape[1] >= config.PARALLEL_MIN_ELEMENTS
    assert called == ["parallel" if big else "serial"]


def test_registry_covers_every_kernel_family():
    families = {name.split("[")[0] for name in KERNELS}
    assert families >= {"bias_activation_forward", "activation_forward", "activation_backward_from_Z",
                        "activation_backward_from_A", "row_sums", "sigmoid_cross_entropy",
                        "softmax_cross_entropy", "binary_cross_entropy", "softmax_rows", "sgd"}


# ---------------------------------------------------------------- stability at the edges


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_sigmoid_cross_entropy_is_finite_for_huge_logits(dtype):
    Z = np.array([[1e4, -1e4, 1e4, -1e4, 0.0]], dtype=dtype)
    Y = np.array([[1, 0, 0, 1, 1]], dtype=dtype)
    m = Z.shape[1]
    A = np.empty_like(Z)
    dZ = np.empty_like(Z)
    out = np.full(1, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss.sigmoid_cross_entropy(Z, Y, 1.0 / m, A, dZ, out)
    assert np.isfinite(out[0]) and np.all(np.isfinite(A)) and np.all(np.isfinite(dZ))
    # Right and certain costs 0, wrong and certain costs |z|, z = 0 costs log 2.
    assert out[0] == pytest.approx((2e4 + math.log(2.0)) / m, rel=1e-12)
    np.testing.assert_allclose(A, [[1, 0, 1, 0, 0.5]])
    np.testing.assert_allclose(dZ, np.array([[0, 0, 1, -1, -0.5]]) / m, atol=1e-300)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_softmax_cross_entropy_is_finite_for_huge_logits(dtype):
    Z = np.array([[1e4, -1e4, 1e4], [-1e4, 1e4, 1e4]], dtype=dtype)
    Y = np.array([[1, 1, 0], [0, 0, 1]], dtype=dtype)
    m = Z.shape[1]
    Z0 = Z.copy()
    for alias in (False, True):
        Z = Z0.copy()
        P = Z if alias else np.empty_like(Z)
        dZ = np.empty_like(Z)
        out = np.full(1, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            loss.softmax_cross_entropy(Z, Y, 1.0 / m, P, dZ, out, np.empty(m), np.empty(m))
        assert np.isfinite(out[0]) and np.all(np.isfinite(P)) and np.all(np.isfinite(dZ))
        assert out[0] == pytest.approx((0.0 + 2e4 + math.log(2.0)) / m, rel=1e-12)
        np.testing.assert_allclose(P, [[1, 0, 0.5], [0, 1, 0.5]])
        np.testing.assert_allclose(dZ, np.array([[0, -1, 0.5], [0, 1, -0.5]]) / m, atol=1e-300)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_softmax_rows_is_finite_for_huge_inputs(dtype):
    X = np.array([[1e4, -1e4, 1e4], [3e4, 3e4, 3e4]], dtype=dtype)
    out = np.empty_like(X)
    loss.softmax_rows(X, out)
    np.testing.assert_allclose(out, [[0.5, 0, 0.5], [1 / 3, 1 / 3, 1 / 3]], rtol=rtol_for(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_compute_cost_saturated_correct_predictions_are_free(dtype):
    AL = np.array([[1.0, 0.0, 1.0, 0.0, 0.25]], dtype=dtype)
    Y = np.array([[1, 0, 1, 0, 1]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cost = dnn.compute_cost(AL, Y)
        out = np.full(1, np.nan)
        loss.binary_cross_entropy(AL, Y.astype(dtype), out)
    assert cost == pytest.approx(-math.log(0.25) / 5, rel=1e-12)
    assert out[0] == pytest.approx(cost, rel=1e-15)


def test_compute_cost_saturated_wrong_prediction_is_infinite():
    # The course's np.log warns there; so does fastdnn, naming the caller's line.
    with pytest.warns(RuntimeWarning, match="divide by zero encountered in log") as record:
        cost = dnn.compute_cost(np.array([[1.0, 0.5]]), np.array([[0, 1]]))
    assert cost == math.inf
    assert record[0].filename == __file__


# ---------------------------------------------------------------- in-place twins and scratch buffers


def softmax_cross_entropy_by_columns(Z, Y, scale):
    """The softmax output one column at a time, in float64 (the kernel's former layout)."""
    k, m = Z.shape
    P = np.empty((k, m))
    dZ = np.empty((k, m))
    total = 0.0
    for j in range(m):
        z = f64(Z[:, j])
        log_norm = np.log(np.exp(z - z.max()).sum()) + z.max()
        P[:, j] = np.exp(z - log_norm)
        dZ[:, j] = scale * (P[:, j] - Y[:, j])
        total -= float(np.dot(Y[:, j], z - log_norm))
    return P, dZ, total / m


@pytest.mark.parametrize("shape", [(1, 1), (2, 1), (10, 1), (3, 7), (10, 200), (7, 1025)],
                         ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_softmax_cross_entropy_in_place_is_bitwise_the_separate_output(dtype, shape):
    """P is Z takes the one-name loop; it must give the very same bits as separate P."""
    rng = np.random.default_rng(zlib.crc32(f"softmax-alias|{np.dtype(dtype).name}|{shape}".encode()))
    k, m = shape
    Z0 = random_block(rng, shape, dtype, 4.0)
    Y = one_hot_columns(rng, shape, dtype)
    scale = 1.0 / m
    results = {}
    for alias in (False, True):
        Z = Z0.copy()
        P = Z if alias else np.full(shape, np.nan, dtype=dtype)
        dZ = np.full(shape, np.nan, dtype=dtype)
        out = np.full(1, np.nan)
        shift, norm = np.full(m, np.nan), np.full(m, np.nan)
        loss.softmax_cross_entropy(Z, Y, scale, P, dZ, out, shift, norm)
        if alias:
            assert_written_in_place(P, Z)
        else:
            np.testing.assert_array_equal(Z, Z0)
        results[alias] = (P.copy(), dZ.copy(), out[0])
        # shift ends as each column's log-sum-exp, as exact as the arrays'
        # precision (float32 data is exponentiated in float32).
        z = f64(Z0)
        lse = np.log(np.exp(z - z.max(axis=0)).sum(axis=0)) + z.max(axis=0)
        np.testing.assert_allclose(shift, lse, rtol=rtol_for(dtype), atol=rtol_for(dtype))
    np.testing.assert_array_equal(results[True][0], results[False][0])
    np.testing.assert_array_equal(results[True][1], results[False][1])
    assert results[True][2] == results[False][2]
    P_ref, dZ_ref, cost_ref = softmax_cross_entropy_by_columns(Z0, Y, scale)
    assert_close(results[False][0], P_ref, dtype, err_msg="P")
    assert_close(results[False][1], dZ_ref, dtype, err_msg="dZ")
    # Each example's cost is a log-sum-exp of terms as large as |z|.
    z = f64(Z0)
    terms = (np.abs(z).max(axis=0) + np.abs(Y * (z - shift)).sum(axis=0)) / m
    assert_sums_close(results[False][2], cost_ref, terms, dtype, "cost")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_softmax_cross_entropy_probability_targets_and_stale_scratch(dtype):
    """Soft targets (columns summing to 1) and scratch holding garbage from an earlier call."""
    rng = np.random.default_rng(7)
    k, m = 5, 33
    Z = random_block(rng, (k, m), dtype, 2.0)
    Y = rng.uniform(0.0, 1.0, size=(k, m))
    Y = (Y / Y.sum(axis=0)).astype(dtype)
    P, dZ, out = np.empty_like(Z), np.empty_like(Z), np.full(1, np.nan)
    shift, norm = np.full(m, 1e300), np.full(m, -np.inf)
    loss.softmax_cross_entropy(Z, Y, 0.5, P, dZ, out, shift, norm)
    P_ref, dZ_ref, cost_ref = softmax_cross_entropy_by_columns(Z, Y, 0.5)
    assert_close(P, P_ref, dtype)
    assert_close(dZ, dZ_ref, dtype)
    assert out[0] == pytest.approx(cost_ref, rel=10 * rtol_for(dtype))


@pytest.mark.parametrize("twin", ["serial", "parallel"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("size", [1, 7, 1000, 4099])
def test_sgd_in_place_is_bitwise_the_separate_output(size, dtype, twin, monkeypatch):
    monkeypatch.setattr(config, "PARALLEL_MIN_ELEMENTS", 0 if twin == "parallel" else 1 << 62)
    rng = np.random.default_rng(size)
    param0 = rng.standard_normal(size).astype(dtype)
    grad = rng.standard_normal(size).astype(dtype)
    lr = 0.0123
    out = np.full(size, np.nan, dtype=dtype)
    param = param0.copy()
    update.sgd(param, grad, lr, out)
    np.testing.assert_array_equal(param, param0)
    update.sgd(param, grad, lr, param)
    np.testing.assert_array_equal(param, out)
    # Another view of the same memory (same shape and strides) is in place too.
    arena = param0.copy().reshape(1, size)
    update.sgd(arena.reshape(-1), grad, lr, arena.reshape(-1))
    np.testing.assert_array_equal(arena.reshape(-1), out)
    assert_close(out, f64(param0) - lr * f64(grad), dtype,
                 scale=float(np.abs(f64(param0)).max() + lr * np.abs(f64(grad)).max()))


def test_sgd_serial_kernel_called_directly_in_place():
    # planar.py calls the serial kernel itself with out = param.
    rng = np.random.default_rng(3)
    param, grad = rng.standard_normal(50), rng.standard_normal(50)
    # NumPy rounds the product before the subtraction (the kernel may fuse
    # them), so NumPy is matched to a tolerance and the separate output bitwise.
    expected = param - 0.1 * grad
    separate = np.full(50, np.nan)
    update.sgd_serial(param, grad, 0.1, separate)
    update.sgd_serial(param, grad, 0.1, param)
    np.testing.assert_array_equal(param, separate)
    assert_close(param, expected, np.float64)


@pytest.mark.parametrize("twin", ["serial", "parallel"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_check_finite_finds_a_bad_value_anywhere(bad, dtype, twin, monkeypatch):
    """The blocked parallel scan sees a non-finite value in any block, the partial last one included."""
    monkeypatch.setattr(config, "PARALLEL_MIN_ELEMENTS", 0 if twin == "parallel" else 1 << 62)
    block = v._FINITE_BLOCK
    size = 3 * block + 5
    x = np.random.default_rng(11).standard_normal(size).astype(dtype)
    assert not v._count_non_finite(x)
    v.check_finite("x", x.reshape(1, size))
    # The finite extremes of the dtype are still finite.
    x[1] = np.finfo(dtype).max
    x[2] = -np.finfo(dtype).max
    assert not v._count_non_finite(x)
    for where in (0, block - 1, block, 2 * block + 17, size - 1):
        y = x.copy()
        y[where] = bad
        assert v._count_non_finite(y), where
        with pytest.raises(ValueError, match=rf"x contains 1 non-finite value\(s\).*index \(0, {where}\)"):
            v.check_finite("x", y.reshape(1, size))


@pytest.mark.parametrize("twin, expected", [("serial", "serial"), ("parallel", "parallel")])
def test_check_finite_size_picks_the_twin(twin, expected, monkeypatch):
    called = []
    for name, label in (("_has_non_finite_serial", "serial"), ("_has_non_finite_parallel", "parallel")):
        real = getattr(v, name)
        monkeypatch.setattr(v, name, lambda x, _l=label, _f=real: (called.append(_l), _f(x))[1])
    size = config.PARALLEL_MIN_ELEMENTS if twin == "parallel" else config.PARALLEL_MIN_ELEMENTS - 1
    v.check_finite("x", np.zeros(size))
    assert called == [expected]


# ---------------------------------------------------------------- softmax blocks, threads and layouts


def _softmax_cross_entropy_run(Z0, Y, alias, dZ_order="C"):
    k, m = Z0.shape
    Z = Z0.copy()
    P = Z if alias else np.full(Z0.shape, np.nan, dtype=Z0.dtype)
    dZ = np.full(Z0.shape, np.nan, dtype=Z0.dtype, order=dZ_order)
    out = np.full(1, np.nan)
    shift, norm = np.full(m, np.nan), np.full(m, np.nan)
    loss.softmax_cross_entropy(Z, Y, 1.0 / m, P, dZ, out, shift, norm)
    return P.copy(), dZ.copy(), out[0], shift.copy()


@pytest.mark.parametrize("shape", [(10, 1), (10, 513), (3, 1300), (10, 20000)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_softmax_cross_entropy_layout_and_threads_give_the_same_bits(dtype, shape, monkeypatch):
    """Fortran-ordered targets (staged through dZ), a Fortran dZ, and serial vs threaded
    blocks all give bitwise the same results, and they match NumPy."""
    rng = np.random.default_rng(zlib.crc32(f"softmax-layout|{np.dtype(dtype).name}|{shape}".encode()))
    k, m = shape
    Z0 = random_block(rng, shape, dtype, 4.0)
    Y = one_hot_columns(rng, shape, dtype)
    Y_fortran = np.asfortranarray(Y)
    for alias in (False, True):
        base = _softmax_cross_entropy_run(Z0, Y, alias)
        variants = {"fortran Y": _softmax_cross_entropy_run(Z0, Y_fortran, alias),
                    "fortran Y and dZ": _softmax_cross_entropy_run(Z0, Y_fortran, alias, "F")}
        monkeypatch.setattr(config, "PARALLEL_MIN_ELEMENTS", 1)
        variants["threads"] = _softmax_cross_entropy_run(Z0, Y_fortran, alias)
        monkeypatch.setattr(config, "PARALLEL_MIN_ELEMENTS", 1 << 62)
        variants["serial"] = _softmax_cross_entropy_run(Z0, Y_fortran, alias)
        monkeypatch.undo()
        for name, got in variants.items():
            for a, b, what in zip(got, base, ("P", "dZ", "cost", "shift")):
                if what == "cost":
                    # The block order is fixed, but LLVM may vectorise a block's
                    # reduction differently in the serial and threaded kernels
                    # (and not at all for strided rows): the last bits may differ.
                    assert a == pytest.approx(b, rel=1e-13), f"{name}, alias={alias}: cost"
                else:
                    np.testing.assert_array_equal(a, b, err_msg=f"{name}, alias={alias}: {what}")
        P_ref, dZ_ref, cost_ref = softmax_cross_entropy_by_columns(Z0, Y, 1.0 / m)
        assert_close(base[0], P_ref, dtype, err_msg="P")
        assert_close(base[1], dZ_ref, dtype, err_msg="dZ")
        z = f64(Z0)
        assert_sums_close(base[2], cost_ref, (np.abs(z).max(axis=0) + np.abs(z).sum(axis=0)) / m, dtype, "cost")


def test_softmax_cross_entropy_does_not_touch_fortran_targets():
    rng = np.random.default_rng(11)
    Y = np.asfortranarray(one_hot_columns(rng, (10, 700), np.float32))
    Y0 = Y.copy()
    _softmax_cross_entropy_run(random_block(rng, (10, 700), np.float32), Y, False)
    np.testing.assert_array_equal(Y, Y0)


@pytest.mark.parametrize("shape", [(1, 10), (1025, 10), (20000, 10), (3, 1)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_softmax_rows_strided_output_and_threads(dtype, shape, monkeypatch):
    """A non-contiguous ``out`` takes the row-at-a-time path; serial and threaded blocks agree bitwise."""
    rng = np.random.default_rng(zlib.crc32(f"softmax-rows|{np.dtype(dtype).name}|{shape}".encode()))
    X = random_block(rng, shape, dtype, 20.0)
    x = f64(X)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    expected = e / e.sum(axis=1, keepdims=True)
    wide = np.full((shape[0], 2 * shape[1]), np.nan, dtype=dtype)
    strided = wide[:, ::2]
    loss.softmax_rows(X, strided)
    assert_close(strided, expected, dtype, err_msg="strided out")
    assert np.all(np.isnan(wide[:, 1::2])), "wrote outside the strided view"
    results = []
    for threshold in (1, 1 << 62):
        monkeypatch.setattr(config, "PARALLEL_MIN_ELEMENTS", threshold)
        out = np.full(shape, np.nan, dtype=dtype)
        loss.softmax_rows(X, out)
        results.append(out)
    np.testing.assert_array_equal(results[0], results[1])
    assert_close(results[0], expected, dtype)


# ---------------------------------------------------------------- fixed-order row sums


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m", [0, 1, 7, 8, 9, 64, 203, 2049])
def test_row_sum_vector_loop_gives_the_scalar_loops_bits(dtype, m, rng):
    # The C-contiguous path is explicit 8-lane vector code; its lanes must
    # round exactly as the eight scalar accumulators do, whatever the tail.
    from numba import njit

    from fastdnn.kernels import reduce

    @njit
    def both(X, i):
        return reduce.row_sum(X, i), reduce._scalar_row_sum(X, i)

    X = (rng.standard_normal((3, m)) * 10.0 ** rng.uniform(-6, 6, (3, m))).astype(dtype)
    for i in range(3):
        vector, scalar = both(X, i)
        assert vector == scalar
        np.testing.assert_allclose(vector, X[i].astype(np.float64).sum(), rtol=1e-12,
                                   atol=1e-12 * np.abs(X[i]).astype(np.float64).sum())
    # Any other layout takes the scalar loop.
    F = np.asfortranarray(X)
    assert both(F, 1)[0] == both(X, 1)[1]


def test_adam_in_float32_matches_numpy_in_float32(rng):
    # The float32 kernel works in float32 (twice the SIMD lanes for its square
    # roots and divisions), as NumPy does with float32 arrays and Python
    # scalars: the results agree to a few ulp.
    from fastdnn.kernels import update

    p = 1000
    param = rng.standard_normal(p).astype(np.float32)
    grad = (rng.standard_normal(p) * 1e-2).astype(np.float32)
    first = (rng.standard_normal(p) * 1e-2).astype(np.float32)
    second = (rng.random(p) * 1e-4).astype(np.float32)
    lr, beta1, beta2, eps, t, decay, n_decay = 1e-3, 0.9, 0.999, 1e-8, 7, 1e-3, 600
    expected_first, expected_second, expected = first.copy(), second.copy(), param.copy()
    g = grad + np.float32(decay) * param * (np.arange(p) < n_decay)
    expected_first[...] = np.float32(beta1) * first + np.float32(1 - beta1) * g
    expected_second[...] = np.float32(beta2) * second + np.float32(1 - beta2) * (g * g)
    c1, c2 = update.adam_corrections(beta1, beta2, t)
    expected[...] = param - np.float32(lr) * (expected_first * np.float32(c1)) / (
        np.sqrt(expected_second * np.float32(c2)) + np.float32(eps))
    update.adam(param, grad, first, second, lr, beta1, beta2, eps, t, decay, n_decay)
    assert param.dtype == np.float32
    ulp = np.spacing(np.abs(expected).astype(np.float32))
    assert np.all(np.abs(param - expected) <= 4 * ulp)
    # The moments are sums that can cancel: judged on the scale of their terms (FMA contraction may round once less).
    eps32 = np.finfo(np.float32).eps
    np.testing.assert_allclose(first, expected_first, rtol=4 * eps32, atol=4 * eps32 * np.abs(g).max() * 0.1)
    np.testing.assert_allclose(second, expected_second, rtol=4 * eps32, atol=4 * eps32 * np.abs(second).max())
