"""The course-compatible API (SPEC section 1): published test vectors, then
property tests against the plain-NumPy reference on random shapes, layouts
and dtypes.

Conventions of the property tests:

* inputs come from ``np.random.default_rng(seed)`` with a seed drawn by
  hypothesis, so a failure prints a reproducible example;
* every array may be C-ordered, Fortran-ordered, a transposed view, a
  strided slice of a larger buffer, or a view with negative strides;
* the expected dtype follows NumPy's promotion restricted to floats: float32
  when every input is float32, float64 otherwise (integers included); the
  reference is evaluated on the inputs cast to that dtype;
* every call is checked not to modify the caller's arrays.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastdnn as dnn
from fastdnn import reference as ref

from conftest import assert_close, rtol_for

# Published figures have 8 significant digits.
SPEC_RTOL = 1e-6
SPEC_ATOL = 1e-8


def assert_spec(actual, expected):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected, dtype=float), rtol=SPEC_RTOL, atol=SPEC_ATOL)


# =========================================================== SPEC test vectors


def test_spec_linear_forward():
    np.random.seed(1)
    A = np.random.randn(3, 2)
    W = np.random.randn(1, 3)
    b = np.random.randn(1, 1)
    Z, cache = dnn.linear_forward(A, W, b)
    assert_spec(Z, [[3.26295337, -1.23429987]])
    assert cache[0] is A and cache[1] is W and cache[2] is b


@pytest.mark.parametrize(
    "activation, expected",
    [("sigmoid", [[0.96890023, 0.11013289]]), ("relu", [[3.43896131, 0.0]])],
)
def test_spec_linear_activation_forward(activation, expected):
    np.random.seed(2)
    A_prev = np.random.randn(3, 2)
    W = np.random.randn(1, 3)
    b = np.random.randn(1, 1)
    A, ((A_c, W_c, b_c), Z) = dnn.linear_activation_forward(A_prev, W, b, activation)
    assert_spec(A, expected)
    assert A_c is A_prev and W_c is W and b_c is b
    assert_spec(Z, W @ A_prev + b)


def test_spec_L_model_forward():
    np.random.seed(6)
    X = np.random.randn(5, 4)
    parameters = {}
    for name, shape in [("W1", (4, 5)), ("b1", (4, 1)), ("W2", (3, 4)), ("b2", (3, 1)), ("W3", (1, 3)), ("b3", (1, 1))]:
        parameters[name] = np.random.randn(*shape)
    AL, caches = dnn.L_model_forward(X, parameters)
    assert_spec(AL, [[0.03921668, 0.70498921, 0.19734387, 0.04728177]])
    assert len(caches) == 3


def test_spec_linear_forward_by_hand():
    W = np.array([[1, 1.3], [2, 3.3], [4, 5.3]])
    b = np.array([[2.7], [3.5], [2.4]])
    A = np.array([[1, 2.8, 3.5, 2.9], [2.2, 3.9, 4.8, 3.3]])
    Z, _ = dnn.linear_forward(A, W, b)
    assert_spec(Z, [[6.56, 10.57, 12.44, 9.89], [12.76, 21.97, 26.34, 20.19], [18.06, 34.27, 41.84, 31.49]])


def test_spec_compute_cost():
    cost = dnn.compute_cost(np.array([[0.8, 0.9, 0.4]]), np.array([[1, 1, 1]]))
    # The course's own check: np.squeeze's 0-d array, printed as the notebook printed it.
    assert isinstance(cost, np.ndarray) and cost.shape == () and cost.dtype == np.float64
    assert cost == pytest.approx(0.41493159961539694, rel=1e-12)
    assert float(str(cost)) == pytest.approx(0.41493159961539694, rel=1e-12)  # printed as a number
    reference = ref.compute_cost(np.array([[0.8, 0.9, 0.4]]), np.array([[1, 1, 1]]))
    assert isinstance(reference, np.ndarray) and reference.shape == ()


def test_spec_linear_backward():
    np.random.seed(1)
    dZ = np.random.randn(1, 2)
    A = np.random.randn(3, 2)
    W = np.random.randn(1, 3)
    b = np.random.randn(1, 1)
    dA_prev, dW, db = dnn.linear_backward(dZ, (A, W, b))
    assert_spec(dA_prev, [[0.51822968, -0.19517421], [-0.40506361, 0.15255393], [2.37496825, -0.89445391]])
    assert_spec(dW, [[-0.10076895, 1.40685096, 1.64992505]])
    assert_spec(db, [[0.50629448]])


def _seed2_backward_inputs():
    np.random.seed(2)
    dA = np.random.randn(1, 2)
    A = np.random.randn(3, 2)
    W = np.random.randn(1, 3)
    b = np.random.randn(1, 1)
    Z = np.random.randn(1, 2)
    return dA, ((A, W, b), Z)


def test_spec_linear_activation_backward_sigmoid():
    dA, cache = _seed2_backward_inputs()
    dA_prev, dW, db = dnn.linear_activation_backward(dA, cache, "sigmoid")
    assert_spec(dA_prev, [[0.11017994, 0.01105339], [0.09466817, 0.00949723], [-0.05743092, -0.00576154]])
    assert_spec(dW, [[0.10266786, 0.09778551, -0.01968084]])
    assert_spec(db, [[-0.05729622]])


def test_spec_linear_activation_backward_relu():
    dA, cache = _seed2_backward_inputs()
    dA_prev, dW, db = dnn.linear_activation_backward(dA, cache, "relu")
    assert_spec(dA_prev, [[0.44090989, 0], [0.37883606, 0], [-0.2298228, 0]])
    assert_spec(dW, [[0.44513824, 0.37371418, -0.10478989]])
    assert_spec(db, [[-0.20837892]])


def test_spec_update_parameters():
    np.random.seed(2)
    parameters = {"W1": np.random.randn(3, 4), "b1": np.random.randn(3, 1),
                  "W2": np.random.randn(1, 3), "b2": np.random.randn(1, 1)}
    np.random.seed(3)
    grads = {"dW1": np.random.randn(3, 4), "db1": np.random.randn(3, 1),
             "dW2": np.random.randn(1, 3), "db2": np.random.randn(1, 1)}
    new = dnn.update_parameters(parameters, grads, 0.1)
    assert_spec(new["W1"][0], [-0.59562069, -0.09991781, -2.14584584, 1.82662008])
    assert_spec(new["b1"], [[-0.04659241], [-1.28888275], [0.53405496]])
    assert_spec(new["W2"], [[-0.55569196, 0.0354055, 1.32964895]])
    assert_spec(new["b2"], [[-0.84610769]])


def test_spec_softmax():
    s = dnn.softmax(np.array([[9, 2, 5, 0, 0], [7, 5, 0, 0, 0]]))
    assert_spec(s[0], [9.80897665e-01, 8.94462891e-04, 1.79657674e-02, 1.21052389e-04, 1.21052389e-04])
    assert s.dtype == np.float64  # integer input, computed in float64


def test_spec_initialize_parameters():
    p = dnn.initialize_parameters(3, 2, 1)
    assert_spec(p["W1"], [[0.01624345, -0.00611756, -0.00528172], [-0.01072969, 0.00865408, -0.02301539]])
    assert_spec(p["W2"], [[0.01744812, -0.00761207]])
    assert np.array_equal(p["b1"], np.zeros((2, 1))) and np.array_equal(p["b2"], np.zeros((1, 1)))


def test_spec_initialize_parameters_deep_small():
    p = dnn.initialize_parameters_deep([5, 4, 3], init="small", seed=3)
    assert_spec(p["W1"][0], [0.01788628, 0.0043651, 0.00096497, -0.01863493, -0.00277388])
    assert p["W1"].shape == (4, 5) and p["W2"].shape == (3, 4)
    assert p["b1"].shape == (4, 1) and p["b2"].shape == (3, 1)


def test_public_names_of_spec_section_1():
    """Every function of the SPEC's drop-in table is importable from ``fastdnn``."""
    names = ["sigmoid", "relu", "tanh", "sigmoid_backward", "relu_backward", "tanh_backward", "softmax",
             "normalize_rows", "initialize_parameters", "initialize_parameters_deep", "linear_forward",
             "linear_activation_forward", "L_model_forward", "compute_cost", "linear_backward",
             "linear_activation_backward", "L_model_backward", "update_parameters", "predict",
             "two_layer_model", "L_layer_model", "layer_sizes", "nn_model", "load_planar_dataset",
             "load_catvnoncat"]
    missing = [n for n in names if not callable(getattr(dnn, n, None))]
    assert not missing, f"fastdnn lacks {missing}"


# =========================================================== helpers of the property tests

LAYOUTS = ("C", "F", "T", "step", "reversed")
FLOATS = (np.float64, np.float32)
INPUT_DTYPES = (np.float64, np.float32, np.int64)

seeds = st.integers(0, 2**32 - 1)
layouts = st.sampled_from(LAYOUTS)
float_dtypes = st.sampled_from(FLOATS)
input_dtypes = st.sampled_from(INPUT_DTYPES)
widths = st.integers(1, 8)
examples = st.integers(1, 9)


def relayout(a, layout):
    """The values of ``a`` in another memory layout (a new array or view)."""
    every = (slice(None, None, -1),) * a.ndim
    if layout == "C":
        return np.ascontiguousarray(a)
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "T":
        return np.ascontiguousarray(a.T).T
    if layout == "step":
        big = np.zeros(tuple(2 * s + 1 for s in a.shape), dtype=a.dtype)
        view = big[(slice(1, None, 2),) * a.ndim]
        view[...] = a
        return view
    if layout == "reversed":
        return np.ascontiguousarray(a[every])[every]
    raise AssertionError(layout)


def make(rng, shape, dtype=np.float64, layout="C", scale=1.0, zero_row=False):
    """A random array: normal floats, or small integers for an integer dtype."""
    if np.dtype(dtype).kind in "iu":
        a = rng.integers(-3, 4, size=shape).astype(dtype)
    else:
        a = (rng.standard_normal(shape) * scale).astype(dtype)
    if zero_row and a.ndim >= 1 and a.shape[0] > 0:
        a[rng.integers(a.shape[0])] = 0
    return relayout(a, layout)


def result_dtype(*arrays):
    """float32 when every input is float32, float64 otherwise."""
    if all(np.asarray(a).dtype == np.float32 for a in arrays):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def cast(dtype, *arrays):
    return [np.asarray(a).astype(dtype) for a in arrays]


class Unchanged:
    """Snapshot of arrays (or dicts / tuples of arrays) to check they were not modified."""

    def __init__(self, *objs):
        self.objs = objs
        self.copies = [self._copy(o) for o in objs]

    def _copy(self, o):
        if isinstance(o, dict):
            return {k: self._copy(x) for k, x in o.items()}
        if isinstance(o, (list, tuple)):
            return type(o)(self._copy(x) for x in o)
        if isinstance(o, np.ndarray):
            return o.copy()
        return o

    def _check(self, o, c):
        if isinstance(o, dict):
            assert set(o) == set(c), "a dict argument gained or lost keys"
            for k in o:
                self._check(o[k], c[k])
        elif isinstance(o, (list, tuple)):
            assert len(o) == len(c)
            for x, y in zip(o, c):
                self._check(x, y)
        elif isinstance(o, np.ndarray):
            assert o.dtype == c.dtype
            np.testing.assert_array_equal(o, c, err_msg="a caller's array was modified")

    def check(self):
        for o, c in zip(self.objs, self.copies):
            self._check(o, c)


def make_parameters(rng, dims, dtype, layout_of, scale=1.0, zero_row=False):
    """Course parameters for ``dims``, weights ``randn / sqrt(n_prev)`` (scaled)."""
    parameters = {}
    for l in range(1, len(dims)):
        parameters[f"W{l}"] = make(rng, (dims[l], dims[l - 1]), dtype, layout_of(), scale / np.sqrt(dims[l - 1]),
                                   zero_row)
        parameters[f"b{l}"] = make(rng, (dims[l], 1), dtype, layout_of(), 0.1 * scale)
    return parameters


def assert_course_cache(cache, expected_cache, dtype):
    """``cache`` has the course's structure ``((A_prev, W, b), Z)`` and the expected values."""
    assert isinstance(cache, tuple) and len(cache) == 2
    linear_cache, Z = cache
    assert isinstance(linear_cache, tuple) and len(linear_cache) == 3
    (A_e, W_e, b_e), Z_e = expected_cache
    for got, want in zip(linear_cache, (A_e, W_e, b_e)):
        assert_close(np.asarray(got, dtype=dtype), want, dtype)
    assert isinstance(Z, np.ndarray) and Z.dtype == dtype
    assert_close(Z, Z_e, dtype)


# =========================================================== activations

ACTIVATION_NAMES = ("sigmoid", "relu", "tanh")
shapes_any_rank = st.one_of(
    st.tuples(st.integers(1, 9)),
    st.tuples(widths, examples),
    st.tuples(st.integers(1, 3), widths, examples),
)


@given(name=st.sampled_from(ACTIVATION_NAMES), shape=shapes_any_rank, dtype=input_dtypes, layout=layouts,
       seed=seeds, zero_row=st.booleans(), scale=st.sampled_from([1.0, 30.0, 800.0]))
def test_activation_forward_matches_reference(name, shape, dtype, layout, seed, zero_row, scale):
    rng = np.random.default_rng(seed)
    Z = make(rng, shape, dtype, layout, scale, zero_row)
    guard = Unchanged(Z)
    A, cache = getattr(dnn, name)(Z)
    guard.check()
    out_dtype = result_dtype(Z)
    assert cache is Z
    assert A.dtype == out_dtype and A.shape == Z.shape
    (Z_f,) = cast(out_dtype, Z)
    A_ref, _ = getattr(ref, name)(Z_f)
    assert_close(A, A_ref, out_dtype)


@given(name=st.sampled_from(ACTIVATION_NAMES), shape=shapes_any_rank, dA_dtype=input_dtypes,
       Z_dtype=input_dtypes, dA_layout=layouts, Z_layout=layouts, seed=seeds, zero_row=st.booleans())
def test_activation_backward_matches_reference(name, shape, dA_dtype, Z_dtype, dA_layout, Z_layout, seed, zero_row):
    rng = np.random.default_rng(seed)
    dA = make(rng, shape, dA_dtype, dA_layout)
    Z = make(rng, shape, Z_dtype, Z_layout, 2.0, zero_row)
    guard = Unchanged(dA, Z)
    dZ = getattr(dnn, f"{name}_backward")(dA, Z)
    guard.check()
    out_dtype = result_dtype(dA, Z)
    assert dZ.dtype == out_dtype and dZ.shape == dA.shape
    dZ_ref = getattr(ref, f"{name}_backward")(*cast(out_dtype, dA, Z))
    assert_close(dZ, dZ_ref, out_dtype)


def test_relu_backward_is_zero_where_Z_is_zero():
    dA = np.array([[1.0, 2.0, 3.0, 4.0]])
    Z = np.array([[-1.0, 0.0, -0.0, 5.0]])
    np.testing.assert_array_equal(dnn.relu_backward(dA, Z), [[0.0, 0.0, 0.0, 4.0]])


def test_activations_propagate_nan():
    Z = np.array([[np.nan, 1.0]])
    for name in ACTIVATION_NAMES:
        A, _ = getattr(dnn, name)(Z)
        assert np.isnan(A[0, 0]) and np.isfinite(A[0, 1]), name


# =========================================================== softmax, normalize_rows


@given(rows=st.integers(0, 6), k=widths, dtype=input_dtypes, layout=layouts, seed=seeds,
       scale=st.sampled_from([1.0, 50.0, 1e4]))
def test_softmax_matches_reference(rows, k, dtype, layout, seed, scale):
    rng = np.random.default_rng(seed)
    shape = (k,) if rows == 0 else (rows, k)
    x = make(rng, shape, dtype, layout, scale)
    guard = Unchanged(x)
    s = dnn.softmax(x)
    guard.check()
    out_dtype = result_dtype(x)
    assert s.dtype == out_dtype and s.shape == x.shape
    (x_f,) = cast(out_dtype, x)
    assert_close(s, ref.softmax(x_f), out_dtype)
    assert np.all(np.isfinite(s))
    assert_close(s.sum(axis=-1), np.ones(s.shape[:-1]), out_dtype)


@given(rows=widths, k=widths, dtype=input_dtypes, layout=layouts, seed=seeds, zero_row=st.booleans())
def test_normalize_rows_matches_reference(rows, k, dtype, layout, seed, zero_row):
    rng = np.random.default_rng(seed)
    x = make(rng, (rows, k), dtype, layout, 3.0, zero_row)
    guard = Unchanged(x)
    out = dnn.normalize_rows(x)
    guard.check()
    out_dtype = result_dtype(x)
    assert out.dtype == out_dtype and out.shape == x.shape
    (x_f,) = cast(out_dtype, x)
    nonzero = np.any(x_f != 0, axis=1)
    # The course divides 0 by 0 (NaN); fastdnn keeps an all-zero row at zero.
    assert_close(out[nonzero], ref.normalize_rows(x_f[nonzero]), out_dtype)
    np.testing.assert_array_equal(out[~nonzero], 0.0)


# =========================================================== initialization


@given(dims=st.lists(st.integers(1, 9), min_size=2, max_size=7), init=st.sampled_from(dnn.course.INITS),
       seed=st.integers(0, 2**32 - 1))
def test_initialize_parameters_deep_matches_reference(dims, init, seed):
    p = dnn.initialize_parameters_deep(dims, init=init, seed=seed)
    after_fast = np.random.randn()
    p_ref = ref.initialize_parameters_deep(dims, init=init, seed=seed)
    after_ref = np.random.randn()
    assert after_fast == after_ref, "the global generator must be left where the course leaves it"
    assert sorted(p) == sorted(p_ref)
    for key in p_ref:
        assert p[key].dtype == np.float64 and p[key].shape == p_ref[key].shape
        np.testing.assert_array_equal(p[key], p_ref[key], err_msg=key)


@given(n_x=widths, n_h=widths, n_y=widths, seed=st.integers(0, 2**32 - 1))
def test_initialize_parameters_matches_reference(n_x, n_h, n_y, seed):
    p = dnn.initialize_parameters(n_x, n_h, n_y, seed=seed)
    p_ref = ref.initialize_parameters(n_x, n_h, n_y, seed=seed)
    assert sorted(p) == sorted(p_ref)
    for key in p_ref:
        np.testing.assert_array_equal(p[key], p_ref[key], err_msg=key)


# =========================================================== forward


@given(n_prev=widths, n=widths, m=examples, dtypes=st.tuples(input_dtypes, float_dtypes, float_dtypes),
       layouts3=st.tuples(layouts, layouts, layouts), seed=seeds, zero_row=st.booleans())
def test_linear_forward_matches_reference(n_prev, n, m, dtypes, layouts3, seed, zero_row):
    rng = np.random.default_rng(seed)
    A = make(rng, (n_prev, m), dtypes[0], layouts3[0], zero_row=zero_row)
    W = make(rng, (n, n_prev), dtypes[1], layouts3[1], zero_row=zero_row)
    b = make(rng, (n, 1), dtypes[2], layouts3[2])
    guard = Unchanged(A, W, b)
    Z, cache = dnn.linear_forward(A, W, b)
    guard.check()
    out_dtype = result_dtype(A, W, b)
    assert Z.dtype == out_dtype and Z.shape == (n, m)
    assert isinstance(cache, tuple) and len(cache) == 3
    assert cache[0] is A and cache[1] is W and cache[2] is b
    Z_ref, _ = ref.linear_forward(*cast(out_dtype, A, W, b))
    assert_close(Z, Z_ref, out_dtype)


@given(activation=st.sampled_from(ACTIVATION_NAMES), n_prev=widths, n=widths, m=examples,
       dtypes=st.tuples(input_dtypes, float_dtypes, float_dtypes), layouts3=st.tuples(layouts, layouts, layouts),
       seed=seeds, zero_row=st.booleans())
def test_linear_activation_forward_matches_reference(activation, n_prev, n, m, dtypes, layouts3, seed, zero_row):
    rng = np.random.default_rng(seed)
    A_prev = make(rng, (n_prev, m), dtypes[0], layouts3[0], zero_row=zero_row)
    W = make(rng, (n, n_prev), dtypes[1], layouts3[1], zero_row=zero_row)
    b = make(rng, (n, 1), dtypes[2], layouts3[2])
    guard = Unchanged(A_prev, W, b)
    A, cache = dnn.linear_activation_forward(A_prev, W, b, activation)
    guard.check()
    out_dtype = result_dtype(A_prev, W, b)
    assert A.dtype == out_dtype and A.shape == (n, m)
    A_ref, cache_ref = ref.linear_activation_forward(*cast(out_dtype, A_prev, W, b), activation)
    assert_close(A, A_ref, out_dtype)
    assert_course_cache(cache, cache_ref, out_dtype)
    # The linear cache holds the caller's own arrays, as the course's does.
    assert cache[0][0] is A_prev and cache[0][1] is W and cache[0][2] is b


@st.composite
def networks(draw, max_layers=6):
    """A random network problem: sizes, dtypes, layouts and a seed."""
    L = draw(st.integers(1, max_layers))
    dims = draw(st.lists(widths, min_size=L + 1, max_size=L + 1))
    dims[-1] = draw(st.integers(1, 2))
    return {
        "dims": dims,
        "m": draw(examples),
        "X_dtype": draw(input_dtypes),
        "param_dtype": draw(float_dtypes),
        "X_layout": draw(layouts),
        "param_layouts": draw(st.lists(layouts, min_size=2 * L, max_size=2 * L)),
        "seed": draw(seeds),
        "zero_row": draw(st.booleans()),
    }


def build_problem(net):
    rng = np.random.default_rng(net["seed"])
    dims, m = net["dims"], net["m"]
    X = make(rng, (dims[0], m), net["X_dtype"], net["X_layout"], zero_row=net["zero_row"])
    it = iter(net["param_layouts"])
    parameters = make_parameters(rng, dims, net["param_dtype"], lambda: next(it), zero_row=net["zero_row"])
    Y = relayout(rng.integers(0, 2, size=(dims[-1], m)), "C")
    return X, parameters, Y


@given(net=networks())
def test_L_model_forward_matches_reference(net):
    X, parameters, _ = build_problem(net)
    guard = Unchanged(X, parameters)
    AL, caches = dnn.L_model_forward(X, parameters)
    guard.check()
    out_dtype = result_dtype(X, *parameters.values())
    L = len(net["dims"]) - 1
    assert AL.dtype == out_dtype and AL.shape == (net["dims"][-1], net["m"])
    (X_f,) = cast(out_dtype, X)
    p_f = {k: np.asarray(a, dtype=out_dtype) for k, a in parameters.items()}
    AL_ref, caches_ref = ref.L_model_forward(X_f, p_f)
    assert_close(AL, AL_ref, out_dtype)
    assert isinstance(caches, list) and len(caches) == L
    for cache, cache_ref in zip(caches, caches_ref):
        assert_course_cache(cache, cache_ref, out_dtype)


# =========================================================== cost


@given(n=st.integers(1, 3), m=examples, AL_dtype=float_dtypes, Y_dtype=st.sampled_from([np.int64, np.float64,
       np.float32, np.uint8, np.bool_]), layout=layouts, seed=seeds, saturate=st.booleans())
def test_compute_cost_matches_reference(n, m, AL_dtype, Y_dtype, layout, seed, saturate):
    rng = np.random.default_rng(seed)
    Y = rng.integers(0, 2, size=(n, m)).astype(Y_dtype)
    AL = rng.uniform(0.02, 0.98, size=(n, m))
    if saturate:  # exactly right and certain: 0 * log(0) terms
        AL[0] = Y[0]
    AL = relayout(AL.astype(AL_dtype), layout)
    guard = Unchanged(AL, Y)
    cost = dnn.compute_cost(AL, Y)
    guard.check()
    assert isinstance(cost, np.ndarray) and cost.shape == () and cost.dtype == np.float64
    # fastdnn takes the logarithms in float64 whatever AL's dtype, so the
    # reference runs on the exact float64 values of the inputs.
    with np.errstate(all="raise"):
        cost_ref = ref.compute_cost(*cast(np.float64, AL, Y))
    # Every term of the sum has the same sign: a relative tolerance is fair.
    assert cost == pytest.approx(cost_ref, rel=rtol_for(AL.dtype), abs=1e-300)


# =========================================================== backward


@given(n_prev=widths, n=widths, m=examples, dtypes=st.tuples(float_dtypes, input_dtypes, float_dtypes),
       layouts3=st.tuples(layouts, layouts, layouts), seed=seeds, zero_row=st.booleans())
def test_linear_backward_matches_reference(n_prev, n, m, dtypes, layouts3, seed, zero_row):
    rng = np.random.default_rng(seed)
    dZ = make(rng, (n, m), dtypes[0], layouts3[0], zero_row=zero_row)
    A_prev = make(rng, (n_prev, m), dtypes[1], layouts3[1], zero_row=zero_row)
    W = make(rng, (n, n_prev), dtypes[2], layouts3[2])
    b = np.zeros((n, 1), dtype=dtypes[2])
    guard = Unchanged(dZ, A_prev, W, b)
    dA_prev, dW, db = dnn.linear_backward(dZ, (A_prev, W, b))
    guard.check()
    out_dtype = result_dtype(dZ, A_prev, W, b)
    dZ_f, A_f, W_f, b_f = cast(out_dtype, dZ, A_prev, W, b)
    dA_ref, dW_ref, db_ref = ref.linear_backward(dZ_f, (A_f, W_f, b_f))
    for got, want, name in ((dA_prev, dA_ref, "dA_prev"), (dW, dW_ref, "dW"), (db, db_ref, "db")):
        assert got.dtype == out_dtype and got.shape == want.shape, name
    assert_close(dA_prev, dA_ref, out_dtype, err_msg="dA_prev")
    assert_close(dW, dW_ref, out_dtype, err_msg="dW")
    # db is a sum of signed terms: judge it on the scale of the terms.
    assert_close(db, db_ref, out_dtype, scale=float(np.abs(dZ_f).mean(axis=1).max()), err_msg="db")


@given(activation=st.sampled_from(ACTIVATION_NAMES), n_prev=widths, n=widths, m=examples,
       dtypes=st.tuples(float_dtypes, input_dtypes, float_dtypes, float_dtypes),
       layouts4=st.tuples(layouts, layouts, layouts, layouts), seed=seeds, zero_row=st.booleans())
def test_linear_activation_backward_matches_reference(activation, n_prev, n, m, dtypes, layouts4, seed, zero_row):
    rng = np.random.default_rng(seed)
    dA = make(rng, (n, m), dtypes[0], layouts4[0])
    A_prev = make(rng, (n_prev, m), dtypes[1], layouts4[1], zero_row=zero_row)
    W = make(rng, (n, n_prev), dtypes[2], layouts4[2])
    b = np.zeros((n, 1), dtype=dtypes[2])
    Z = make(rng, (n, m), dtypes[3], layouts4[3], 2.0, zero_row)
    cache = ((A_prev, W, b), Z)
    guard = Unchanged(dA, cache)
    dA_prev, dW, db = dnn.linear_activation_backward(dA, cache, activation)
    guard.check()
    out_dtype = result_dtype(dA, A_prev, W, b)
    dA_f, A_f, W_f, b_f, Z_f = cast(out_dtype, dA, A_prev, W, b, Z)
    dA_ref, dW_ref, db_ref = ref.linear_activation_backward(dA_f, ((A_f, W_f, b_f), Z_f), activation)
    for got, want, name in ((dA_prev, dA_ref, "dA_prev"), (dW, dW_ref, "dW"), (db, db_ref, "db")):
        assert got.dtype == out_dtype and got.shape == want.shape, name
    # For a saturated tanh or sigmoid, the reference's 1 - A**2 (or A (1 - A)) loses digits to
    # cancellation: its error is absolute, on the scale of dA, not of the tiny dZ. So judge each
    # output on the scale of the terms it sums with dA in place of dZ (as db already is).
    dA_abs = np.abs(dA_f).astype(np.float64)
    scale_dA_prev = float((np.abs(W_f).T @ dA_abs).max())
    scale_dW = float((dA_abs @ np.abs(A_f).T).max()) / m
    assert_close(dA_prev, dA_ref, out_dtype, scale=max(scale_dA_prev, float(np.abs(dA_ref).max())),
                 err_msg="dA_prev")
    assert_close(dW, dW_ref, out_dtype, scale=max(scale_dW, float(np.abs(dW_ref).max())), err_msg="dW")
    assert_close(db, db_ref, out_dtype, scale=float(np.abs(dA_f).mean(axis=1).max()), err_msg="db")


def backward_term_scales(AL, Y, caches):
    """Largest magnitude of the terms each gradient of L_model_backward sums.

    Backpropagation of absolute values: the same products on ``|dZ|``,
    ``|A|`` and ``|W|``.  Rounding errors scale with these terms, not with the
    result, which cancellation can make far smaller (float32 dW of a deep
    net: terms ~1e-3 summing to ~1e-5).
    """
    AL, Y = (np.asarray(a, dtype=np.float64) for a in (AL, Y.reshape(AL.shape)))
    scales = {}
    L = len(caches)
    s_dA = np.abs(Y / AL) + np.abs((1 - Y) / (1 - AL))
    for l in range(L, 0, -1):
        (A_prev, W, _), Z = caches[l - 1]
        A_prev, W, Z = (np.asarray(a, dtype=np.float64) for a in (A_prev, W, Z))
        if l == L:
            s = 1 / (1 + np.exp(-Z))
            s_dZ = s_dA * s * (1 - s)
        else:
            s_dZ = s_dA * (Z > 0)
        m = A_prev.shape[1]
        scales[f"dW{l}"] = float((s_dZ @ np.abs(A_prev).T).max()) / m
        scales[f"db{l}"] = float(s_dZ.sum(axis=1).max()) / m
        s_dA = np.abs(W).T @ s_dZ
        scales[f"dA{l - 1}"] = float(s_dA.max())
    return scales


def assert_grads_match(grads, grads_ref, L, dtype, scales=None):
    expected_keys = {f"dA{l - 1}" for l in range(1, L + 1)} | {f"dW{l}" for l in range(1, L + 1)} | \
        {f"db{l}" for l in range(1, L + 1)}
    assert set(grads) == expected_keys
    for key in sorted(expected_keys):
        got, want = grads[key], grads_ref[key]
        assert got.dtype == dtype and got.shape == want.shape, key
        # The scale of the terms, when known; else the result's largest entry.
        assert_close(got, want, dtype, scale=None if scales is None else scales[key], err_msg=key)


@given(net=networks())
def test_L_model_backward_matches_reference(net):
    X, parameters, Y = build_problem(net)
    L = len(net["dims"]) - 1
    dtype = result_dtype(X, *parameters.values())
    AL, caches = dnn.L_model_forward(X, parameters)
    guard = Unchanged(AL, Y, caches, X, parameters)
    grads = dnn.L_model_backward(AL, Y, caches)
    guard.check()
    # The reference, run the course's way from its own forward pass.
    X_f, Y_f = cast(dtype, X, Y)
    p_f = {k: np.asarray(a, dtype=dtype) for k, a in parameters.items()}
    AL_ref, caches_ref = ref.L_model_forward(X_f, p_f)
    grads_ref = ref.L_model_backward(AL_ref, Y_f, caches_ref)
    assert_grads_match(grads, grads_ref, L, dtype, backward_term_scales(AL_ref, Y_f, caches_ref))


def test_L_model_backward_integer_labels_keep_float32():
    """int64 labels (as the course's .h5 files store them) must not promote float32 to float64."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3, 5)).astype(np.float32)
    parameters = make_parameters(rng, [3, 2, 1], np.float32, lambda: "C")
    Y = rng.integers(0, 2, size=(1, 5))  # int64
    AL, caches = dnn.L_model_forward(X, parameters)
    grads = dnn.L_model_backward(AL, Y, caches)
    assert {g.dtype for g in grads.values()} == {np.dtype(np.float32)}
    new = dnn.update_parameters(parameters, grads, 0.1)
    assert {p.dtype for p in new.values()} == {np.dtype(np.float32)}


def test_L_model_backward_float32_saturated_output():
    X = np.array([[1.0, -1.0, 0.5]], dtype=np.float32)
    parameters = {"W1": np.array([[12.0]], dtype=np.float32), "b1": np.zeros((1, 1), dtype=np.float32)}
    Y = np.zeros((1, 3), dtype=np.float32)
    AL, caches = dnn.L_model_forward(X, parameters)
    grads = dnn.L_model_backward(AL, Y, caches)
    AL_ref, caches_ref = ref.L_model_forward(X, parameters)
    grads_ref = ref.L_model_backward(AL_ref, Y, caches_ref)
    assert_grads_match(grads, grads_ref, 1, np.dtype(np.float32))


@given(net=networks(), labels=st.sampled_from([np.int64, np.float64, np.uint8]), flat_Y=st.booleans())
@settings(max_examples=25)
def test_L_model_backward_on_reference_caches(net, labels, flat_Y):
    """Caches built outside fastdnn (here: by the reference) give the course's gradients."""
    net = dict(net, X_dtype=np.float64, param_dtype=np.float64)
    X, parameters, Y = build_problem(net)
    L = len(net["dims"]) - 1
    AL_ref, caches_ref = ref.L_model_forward(X, parameters)
    Y = Y.astype(labels)
    grads_ref = ref.L_model_backward(AL_ref, Y, caches_ref)
    if flat_Y and Y.shape[0] == 1:
        Y = Y.ravel()  # the course reshapes Y to AL's shape
    guard = Unchanged(AL_ref, Y, caches_ref)
    grads = dnn.L_model_backward(AL_ref, Y, caches_ref)
    guard.check()
    assert_grads_match(grads, grads_ref, L, np.dtype(np.float64))


# =========================================================== update


@given(net=networks(), grad_dtype=float_dtypes, grad_layouts=st.lists(layouts, min_size=12, max_size=12),
       learning_rate=st.sampled_from([0.0, 1e-3, 0.0075, 0.1, 1.2, -0.5]))
def test_update_parameters_matches_reference(net, grad_dtype, grad_layouts, learning_rate):
    _, parameters, _ = build_problem(net)
    rng = np.random.default_rng(net["seed"] + 1)
    it = iter(grad_layouts)
    grads = {"d" + k: make(rng, a.shape, grad_dtype, next(it)) for k, a in parameters.items()}
    guard = Unchanged(parameters, grads)
    new = dnn.update_parameters(parameters, grads, learning_rate)
    guard.check()
    assert new is not parameters
    assert sorted(new) == sorted(parameters)
    for key, p in parameters.items():
        dtype = result_dtype(p, grads["d" + key])
        assert new[key].dtype == dtype and new[key].shape == p.shape, key
        want = np.asarray(p, dtype=dtype) - np.asarray(learning_rate, dtype=dtype) * np.asarray(grads["d" + key],
                                                                                            dtype=dtype)
        assert_close(new[key], want, dtype, err_msg=key)
    p_f = {k: np.asarray(a, dtype=np.float64) for k, a in parameters.items()}
    g_f = {k: np.asarray(a, dtype=np.float64) for k, a in grads.items()}
    new_ref = ref.update_parameters(p_f, g_f, learning_rate)
    for key in new_ref:
        assert_close(new[key], new_ref[key], new[key].dtype, err_msg=key)


def test_update_parameters_keeps_extra_keys_and_accepts_extra_grads():
    p = {"W1": np.ones((2, 3)), "b1": np.zeros((2, 1))}
    grads = {"dW1": np.ones((2, 3)), "db1": np.ones((2, 1)), "dA0": np.ones((3, 4))}
    new = dnn.update_parameters(p, grads, 0.5)
    np.testing.assert_array_equal(new["W1"], 0.5)
    np.testing.assert_array_equal(new["b1"], -0.5)


# =========================================================== predict


@given(net=networks(), y_dtype=st.sampled_from([np.int64, np.float64]))
def test_predict_matches_reference(net, y_dtype):
    X, parameters, Y = build_problem(net)
    if net["dims"][-1] != 1:
        return  # the course's predict is for one output unit
    Y = Y.astype(y_dtype)
    guard = Unchanged(X, Y, parameters)
    p = dnn.predict(X, Y, parameters, verbose=False)
    guard.check()
    dtype = result_dtype(X, *parameters.values())
    X_f = np.asarray(X, dtype=dtype)
    p_f = {k: np.asarray(a, dtype=dtype) for k, a in parameters.items()}
    p_ref = ref.predict(X_f, Y, p_f, verbose=False)
    assert p.shape == (1, net["m"])
    assert set(np.unique(p)) <= {0.0, 1.0}
    # Only a probability within rounding of 0.5 may legitimately differ.
    AL_ref, _ = ref.L_model_forward(X_f, p_f)
    decided = np.abs(AL_ref - 0.5) > 10 * rtol_for(dtype)
    np.testing.assert_array_equal(p[decided], p_ref[decided])


def test_predict_prints_the_course_accuracy(capsys, rng):
    X = rng.standard_normal((4, 10))
    parameters = make_parameters(rng, [4, 3, 1], np.float64, lambda: "C")
    y = rng.integers(0, 2, size=(1, 10))
    p = dnn.predict(X, y, parameters)
    printed = capsys.readouterr().out
    ref.predict(X, y, parameters)
    assert printed == capsys.readouterr().out
    assert printed.startswith("Accuracy: ")
    assert float(printed.split()[1]) == pytest.approx(np.mean(p == y), rel=1e-12)
    dnn.predict(X, y, parameters, verbose=False)
    assert capsys.readouterr().out == ""


# =========================================================== the course's models


def small_problem(seed, n_x=6, m=24):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_x, m))
    w = rng.standard_normal(n_x)
    Y = (w @ X + 0.3 * rng.standard_normal(m) > 0).astype(np.int64).reshape(1, m)
    return X, Y


def assert_models_equal(params, costs, params_ref, costs_ref, rtol):
    assert sorted(params) == sorted(params_ref)
    for key in params_ref:
        assert params[key].shape == params_ref[key].shape
        assert_close(params[key], params_ref[key], rtol=rtol, err_msg=key)
    assert len(costs) == len(costs_ref)
    np.testing.assert_allclose(costs, costs_ref, rtol=rtol)


@pytest.mark.parametrize("dims", [[6, 1], [6, 5, 1], [6, 5, 4, 3, 1]])
@pytest.mark.parametrize("X_layout", ["C", "F", "step"])
def test_L_layer_model_matches_reference(dims, X_layout):
    X, Y = small_problem(len(dims))
    X = relayout(X, X_layout)
    guard = Unchanged(X, Y)
    params, costs = dnn.L_layer_model(X, Y, dims, learning_rate=0.05, num_iterations=250, return_costs=True)
    guard.check()
    params_ref, costs_ref = ref.L_layer_model(X, Y, dims, learning_rate=0.05, num_iterations=250,
                                              return_costs=True)
    assert len(costs) == 4  # iterations 0, 100, 200 and the last
    assert_models_equal(params, costs, params_ref, costs_ref, rtol=1e-10)
    assert all(isinstance(c, float) for c in costs)


def test_L_layer_model_float32_stays_float32():
    X, Y = small_problem(7)
    params, costs = dnn.L_layer_model(X.astype(np.float32), Y, [6, 5, 1], learning_rate=0.05, num_iterations=50,
                                      return_costs=True)
    assert all(a.dtype == np.float32 for a in params.values())
    params_ref, costs_ref = ref.L_layer_model(X.astype(np.float32), Y.astype(np.float32), [6, 5, 1],
                                              learning_rate=np.float32(0.05), num_iterations=50, return_costs=True)
    assert_models_equal(params, costs, params_ref, costs_ref, rtol=1e-5)


def test_L_layer_model_returns_parameters_only_by_default():
    X, Y = small_problem(3)
    params = dnn.L_layer_model(X, Y, [6, 3, 1], num_iterations=5)
    assert isinstance(params, dict) and sorted(params) == ["W1", "W2", "b1", "b2"]


def test_L_layer_model_prints_like_the_course(capsys):
    X, Y = small_problem(4)
    dnn.L_layer_model(X, Y, [6, 3, 1], num_iterations=201, print_cost=True)
    out = capsys.readouterr().out
    ref.L_layer_model(X, Y, [6, 3, 1], num_iterations=201, print_cost=True)
    out_ref = capsys.readouterr().out
    lines, lines_ref = out.splitlines(), out_ref.splitlines()
    assert [ln.split(":")[0] for ln in lines] == [ln.split(":")[0] for ln in lines_ref]
    np.testing.assert_allclose([float(ln.split(":")[1]) for ln in lines],
                               [float(ln.split(":")[1]) for ln in lines_ref], rtol=1e-10)


@pytest.mark.parametrize("n_h", [1, 4, 7])
def test_two_layer_model_matches_reference(n_h):
    X, Y = small_problem(10 + n_h)
    guard = Unchanged(X, Y)
    params, costs = dnn.two_layer_model(X, Y, (6, n_h, 1), learning_rate=0.5, num_iterations=50,
                                        return_costs=True)
    guard.check()
    params_ref, costs_ref = ref.two_layer_model(X, Y, (6, n_h, 1), learning_rate=0.5, num_iterations=50,
                                                return_costs=True)
    assert_models_equal(params, costs, params_ref, costs_ref, rtol=1e-10)


@pytest.mark.parametrize("name", ["sigmoid", "relu", "tanh"])
def test_activation_of_a_scalar_keeps_zero_dimensions(name):
    expected, _ = getattr(ref, name)(np.float64(0.3))
    out, cache = getattr(dnn, name)(np.float64(0.3))
    assert out.shape == () == np.shape(expected)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
