"""The course helpers' fast paths: the course's arrays as they are, validation by the outputs.

A student's loop hands the helpers an F-ordered ``X`` (a transposed reshape
divided by 255) and fresh dictionaries every iteration.  These tests check
that such calls take ``X`` without copying it, that both routes (one small
kernel per layer, or BLAS and the fused epilogue) give the reference's
numbers, that a NaN or inf anywhere still gets the error naming the
argument, and that the deferred ``dA0`` of :func:`fastdnn.L_model_backward`
behaves as a plain value wherever it is read.
"""

import copy
import pickle
import tracemalloc

import numpy as np
import pytest

import fastdnn as dnn
from fastdnn import config, logistic, planar
from fastdnn import reference as ref

from conftest import assert_close

#: The size limits of the one-call route: everything, or nothing.
ROUTES = {"small": (1 << 30), "blas": 0}


def _force_route(monkeypatch, limit):
    for name in ("SMALL_LAYER_WORK", "SMALL_FORWARD_WORK", "SMALL_FORWARD_DEPTH"):
        monkeypatch.setattr(config, name, limit)


@pytest.fixture(params=sorted(ROUTES))
def route(request, monkeypatch):
    """Force every layer onto one route."""
    _force_route(monkeypatch, ROUTES[request.param])
    return request.param


def course_X(rng, n_x, m, dtype=np.float64):
    """An input laid out as the course makes it: ``images.reshape(m, -1).T / 255``, F-ordered."""
    images = rng.integers(0, 256, size=(m, n_x)).astype(dtype)
    X = images.T / dtype(255)
    assert X.flags.f_contiguous and (m == 1 or not X.flags.c_contiguous)
    return X


def deep_parameters(rng, dims, dtype=np.float64):
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = (rng.standard_normal((dims[l], dims[l - 1])) / np.sqrt(dims[l - 1])).astype(dtype)
        params[f"b{l}"] = (rng.standard_normal((dims[l], 1)) * 0.1).astype(dtype)
    return params


NETS = [[5, 3, 1], [7, 4, 3, 1], [33, 9, 1], [300, 20, 7, 5, 1]]


@pytest.mark.parametrize("dims", NETS)
@pytest.mark.parametrize("m", [1, 2, 13, 64])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_student_iteration_matches_reference(rng, route, dims, m, dtype):
    X = course_X(rng, dims[0], m, dtype)
    Y = (rng.random((1, m)) < 0.5).astype(np.int64)
    params = deep_parameters(rng, dims, dtype)
    AL, caches = dnn.L_model_forward(X, params)
    AL_ref, caches_ref = ref.L_model_forward(X, params)
    assert AL.dtype == dtype
    assert_close(AL, AL_ref, dtype)
    assert caches[0][0][0] is X, "the cache holds the caller's X, not a copy"
    assert_close(dnn.compute_cost(AL, Y), ref.compute_cost(AL_ref, Y), dtype)
    grads = dnn.L_model_backward(AL, Y, caches)
    grads_ref = ref.L_model_backward(AL_ref, Y, caches_ref)
    assert list(grads) == list(grads_ref)
    for key in grads_ref:
        assert_close(grads[key], grads_ref[key], dtype, err_msg=key)
    new = dnn.update_parameters(params, grads, 0.0075)
    new_ref = ref.update_parameters(params, grads_ref, 0.0075)
    for key in new_ref:
        assert_close(new[key], new_ref[key], dtype, err_msg=key)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("n_prev, n, m", [(3, 1, 2), (12, 7, 1), (40, 9, 31)])
def test_layer_helpers_match_reference_on_course_X(rng, route, activation, n_prev, n, m):
    X = course_X(rng, n_prev, m)
    W = rng.standard_normal((n, n_prev))
    b = rng.standard_normal((n, 1))
    A, cache = dnn.linear_activation_forward(X, W, b, activation)
    A_ref, cache_ref = ref.linear_activation_forward(X, W, b, activation)
    assert_close(A, A_ref)
    assert cache[0][0] is X
    dA = rng.standard_normal(A.shape)
    got = dnn.linear_activation_backward(dA, cache, activation)
    expected = ref.linear_activation_backward(dA, cache_ref, activation)
    for g, e in zip(got, expected):
        assert_close(g, e)
    # On the BLAS route dA_prev takes the memory order of the array it is the gradient of.
    assert got[0].flags.f_contiguous or route == "small"
    got = dnn.linear_backward(dA, cache[0])
    for g, e in zip(got, ref.linear_backward(dA, cache_ref[0])):
        assert_close(g, e)


def test_routes_agree_to_rounding(rng, monkeypatch):
    X = course_X(rng, 30, 17)
    Y = (rng.random((1, 17)) < 0.5).astype(np.float64)
    params = deep_parameters(rng, [30, 6, 4, 1])
    results = []
    for work in ROUTES.values():
        _force_route(monkeypatch, work)
        AL, caches = dnn.L_model_forward(X, params)
        grads = dnn.L_model_backward(AL, Y, caches)
        results.append((AL, dict(grads)))
    (AL_a, g_a), (AL_b, g_b) = results
    np.testing.assert_allclose(AL_a, AL_b, rtol=1e-14)
    for key in g_a:
        np.testing.assert_allclose(g_a[key], g_b[key], rtol=1e-12, atol=1e-15, err_msg=key)


def test_course_X_is_never_copied():
    rng = np.random.default_rng(3)
    X = course_X(rng, 4096, 200)
    Y = (rng.random((1, 200)) < 0.5).astype(np.int64)
    params = deep_parameters(rng, [4096, 8, 1])
    dnn.L_model_backward(*dnn.L_model_forward(X, params)[:1], Y, dnn.L_model_forward(X, params)[1])  # compile
    tracemalloc.start()
    try:
        AL, caches = dnn.L_model_forward(X, params)
        grads = dnn.L_model_backward(AL, Y, caches)
        dnn.update_parameters(params, grads, 0.01)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The weights and their gradients are 2 x 262 kB; X is 6.5 MB.
    assert peak < X.nbytes / 4, f"peak allocation {peak} bytes: X ({X.nbytes} bytes) was copied"


# --------------------------------------------------------------- validation by the outputs


def _poison(array, index, value):
    bad = array.copy(order="K")
    bad[index] = value
    return bad


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["X", "W1", "b1", "W2", "b2"])
def test_non_finite_input_names_the_argument(rng, route, where, value):
    X = course_X(rng, 6, 5)
    params = deep_parameters(rng, [6, 3, 1])
    if where == "X":
        X = _poison(X, (4, 2), value)
    else:
        params[where] = _poison(params[where], (0, 0), value)
    with pytest.raises(ValueError, match=rf"\b{where}\b.*non-finite"):
        dnn.L_model_forward(X, params)


@pytest.mark.parametrize("where", ["dA", "A_prev", "W", "Z"])
def test_non_finite_backward_input_names_the_argument(rng, route, where):
    A_prev = rng.standard_normal((5, 4))
    W = rng.standard_normal((3, 5))
    b = np.zeros((3, 1))
    _, ((A_c, W_c, b_c), Z) = dnn.linear_activation_forward(A_prev, W, b, "relu")
    dA = rng.standard_normal((3, 4))
    arrays = {"dA": dA, "A_prev": A_c, "W": W_c, "Z": Z}
    arrays[where] = _poison(arrays[where], (1, 1), np.nan)
    cache = ((arrays["A_prev"], arrays["W"], b_c), arrays["Z"])
    with pytest.raises(ValueError, match=rf"{where}.*non-finite"):
        dnn.linear_activation_backward(arrays["dA"], cache, "relu")


def test_update_with_nan_gradient_names_it(rng):
    params = deep_parameters(rng, [4, 3, 1])
    grads = {f"d{k}": np.zeros_like(v) for k, v in params.items()}
    grads["db2"] = _poison(grads["db2"], (0, 0), np.nan)
    with pytest.raises(ValueError, match="db2.*non-finite"):
        dnn.update_parameters(params, grads, 0.1)


def test_float32_overflow_is_reported_on_both_routes(route):
    A = np.full((2, 3), 3e19, dtype=np.float32)
    W = np.full((2, 2), 3e19, dtype=np.float32)
    b = np.zeros((2, 1), dtype=np.float32)
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match="overflowed"):
        dnn.linear_forward(A, W, b)


def test_compute_cost_still_refuses_bad_probabilities():
    with pytest.raises(ValueError, match="AL must hold probabilities"):
        dnn.compute_cost(np.array([[0.2, 1.7]]), np.array([[0, 1]]))


@pytest.mark.parametrize("Y", [np.array([[0, 2, 1]]), np.array([[0.5, 1.0, 0.0]]), np.array([[1 + 1e-12, 0, 1]]),
                               np.random.default_rng(3).standard_normal((1, 3))])
def test_the_course_formulas_take_any_finite_labels_with_a_warning(Y):
    """The course's test cases draw Y = randn: its cost and gradients are computed by the formulas (issue 35)."""
    rng = np.random.default_rng(0)
    AL = rng.uniform(0.05, 0.95, (1, 3))
    with pytest.warns(RuntimeWarning, match="other than 0 and 1"):
        cost = dnn.compute_cost(AL, Y)
    assert_close(cost, ref.compute_cost(AL, Y), np.float64)
    Z = np.log(AL / (1 - AL))
    caches = [((rng.standard_normal((4, 3)), rng.standard_normal((1, 4)), np.zeros((1, 1))), Z)]
    with pytest.warns(RuntimeWarning, match="other than 0 and 1"):
        grads = dnn.L_model_backward(AL, Y, caches)
    expected = ref.L_model_backward(AL, Y, caches)
    for key in expected:
        assert_close(grads[key], expected[key], np.float64)


def test_the_course_models_train_on_labels_drawn_from_randn():
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((5, 4)), rng.standard_normal((1, 4))
    with pytest.warns(RuntimeWarning, match="other than 0 and 1") as caught:
        got = dnn.L_layer_model(X, Y, [5, 3, 1], num_iterations=50)
    assert caught[0].filename == __file__  # the warning names the student's line, not fastdnn's
    expected = ref.L_layer_model(X, Y, [5, 3, 1], num_iterations=50)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-10, atol=1e-14)
    with pytest.warns(RuntimeWarning, match="other than 0 and 1"):
        got = dnn.two_layer_model(X, Y, (5, 3, 1), num_iterations=50)
    expected = ref.two_layer_model(X, Y, (5, 3, 1), num_iterations=50)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-10, atol=1e-14)


def test_L_model_backward_takes_the_course_test_case_outside_0_1():
    # The course's L_model_backward_test_case draws AL from randn: its formula is defined there.
    np.random.seed(3)
    AL = np.random.randn(1, 2)
    Y = np.array([[1, 0]])
    A1 = np.random.randn(4, 2)
    W1 = np.random.randn(3, 4)
    b1 = np.random.randn(3, 1)
    Z1 = np.random.randn(3, 2)
    A2 = np.random.randn(3, 2)
    W2 = np.random.randn(1, 3)
    b2 = np.random.randn(1, 1)
    Z2 = np.random.randn(1, 2)
    caches = [((A1, W1, b1), Z1), ((A2, W2, b2), Z2)]
    grads = dnn.L_model_backward(AL, Y, caches)
    expected = ref.L_model_backward(AL, Y, caches)
    for key in expected:
        assert_close(grads[key], expected[key], err_msg=key)
    # The course prints dW1 = [[0.41010002 0.07807203 0.13798444 0.10502167] ...
    np.testing.assert_allclose(grads["dW1"][0], [0.41010002, 0.07807203, 0.13798444, 0.10502167], rtol=1e-6)
    with pytest.raises(ValueError, match="exactly 0 or 1"):
        dnn.L_model_backward(np.array([[1.0, 0.3]]), Y, caches)


# --------------------------------------------------------------- the deferred dA0


@pytest.fixture
def backward_case(rng):
    X = course_X(rng, 50, 9)
    Y = (rng.random((1, 9)) < 0.5).astype(np.int64)
    params = deep_parameters(rng, [50, 4, 1])
    AL, caches = dnn.L_model_forward(X, params)
    expected = ref.L_model_backward(AL, Y, ref.L_model_forward(X, params)[1])
    return params, dnn.L_model_backward(AL, Y, caches), expected


def test_dA0_is_there_in_the_course_order(backward_case):
    _, grads, expected = backward_case
    assert list(grads.keys()) == list(expected.keys())
    assert "dA0" in grads and len(grads) == len(expected)
    assert_close(grads["dA0"], expected["dA0"])
    assert_close(grads.get("dA0"), expected["dA0"])


def test_dA0_ignores_a_later_in_place_change_of_W1(backward_case):
    params, grads, expected = backward_case
    params["W1"] *= 3.0
    assert_close(grads["dA0"], expected["dA0"])


@pytest.mark.parametrize("read", [
    lambda g: dict(g), lambda g: {**g}, lambda g: g.copy(), lambda g: copy.deepcopy(g), lambda g: copy.copy(g),
    lambda g: pickle.loads(pickle.dumps(g)), lambda g: dict(g.items()), lambda g: dict(zip(g, g.values())),
    lambda g: g | {}, lambda g: {} | g,
])
def test_every_way_of_reading_gives_arrays(backward_case, read):
    _, grads, expected = backward_case
    out = read(grads)
    assert type(out["dA0"]) is np.ndarray
    assert_close(out["dA0"], expected["dA0"])


def test_printing_grads_prints_numbers(backward_case, capsys):
    _, grads, expected = backward_case
    print(grads)
    text = capsys.readouterr().out
    assert "computed when first read" not in text and "'dA0': array(" in text
    with np.printoptions(threshold=5):
        assert repr(grads["dA0"]) == repr(expected["dA0"]).replace("array", "array")


# --------------------------------------------------------------- weeks 2 and 3


@pytest.mark.parametrize("m", [1, 3, 8, 37, 209])
@pytest.mark.parametrize("layout", ["F", "C"])
def test_propagate_matches_reference(rng, m, layout):
    X = course_X(rng, 40, m)
    if layout == "C":
        X = np.ascontiguousarray(X)
    w = rng.standard_normal((40, 1)) * 0.1
    b = np.float64(0.3)
    Y = (rng.random((1, m)) < 0.5).astype(np.int64)
    grads, cost = logistic.propagate(w, b, X, Y)
    grads_ref, cost_ref = ref.logistic.propagate(w, b, X, Y)
    assert_close(grads["dw"], grads_ref["dw"])
    assert_close(grads["db"], grads_ref["db"])
    assert_close(cost, cost_ref)
    assert grads["dw"].shape == (40, 1)


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5, 7, 8, 9, 13, 209])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_propagate_one_pass_over_course_X_matches_reference(rng, m, dtype):
    # Deep and F-ordered: the one-pass kernel (skinny.logistic_pass), every tail of 4 examples.
    n_x = config.SKINNY_MIN_DEPTH + 7
    X = course_X(rng, n_x, m, dtype)
    w = (rng.standard_normal((n_x, 1)) * 0.05).astype(dtype)
    Y = (rng.random((1, m)) < 0.5).astype(np.int64)
    grads, cost = logistic.propagate(w, 0.25, X, Y)
    grads_ref, cost_ref = ref.logistic.propagate(w.astype(np.float64), 0.25, X.astype(np.float64), Y)
    assert grads["dw"].dtype == dtype and grads["dw"].shape == (n_x, 1)
    assert_close(grads["dw"], grads_ref["dw"], dtype)
    assert_close(grads["db"], grads_ref["db"], dtype)
    assert_close(cost, cost_ref, dtype)


@pytest.mark.parametrize("tasks", [1, 2, 3, 5])
def test_logistic_pass_matches_two_products(rng, tasks):
    from fastdnn.kernels import skinny

    m, n_x = 23, 1100
    X = course_X(rng, n_x, m)
    w = rng.standard_normal(n_x) * 0.05
    Y = (rng.random(m) < 0.5).astype(np.float64)
    Z, A, dZ, dw = np.empty(m), np.empty(m), np.empty(m), np.empty(n_x)
    partial = np.full((tasks, n_x), np.nan)  # scratch: every value is written before it is read
    skinny.logistic_pass(X.T, w, -0.5, Y, 1 / m, partial, Z, A, dZ, dw)
    assert_close(Z, w @ X - 0.5)
    A_ref = 1 / (1 + np.exp(-(w @ X - 0.5)))
    assert_close(A, A_ref)
    assert_close(dZ, (A_ref - Y) / m)
    assert_close(dw, X @ ((A_ref - Y) / m))


@pytest.mark.parametrize("where", ["X", "w"])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_propagate_one_pass_names_a_bad_input(rng, where, value):
    n_x, m = config.SKINNY_MIN_DEPTH, 9
    X = course_X(rng, n_x, m)
    w = np.zeros((n_x, 1))
    if where == "X":
        X = _poison(X, (5, 6), value)
    else:
        w = _poison(w, (5, 0), value)
    with pytest.raises(ValueError, match=rf"\b{where}\b.*non-finite"):
        logistic.propagate(w, 0.0, X, np.ones((1, m)))


def test_propagate_names_a_non_finite_X(rng):
    X = _poison(course_X(rng, 20, 10), (3, 4), np.nan)
    with pytest.raises(ValueError, match=r"\bX\b.*non-finite"):
        logistic.propagate(np.zeros((20, 1)), 0.0, X, np.zeros((1, 10)))


def test_planar_step_matches_reference(route):
    X, Y = ref.load_planar_dataset()
    assert X.flags.f_contiguous
    np.random.seed(3)
    params = planar.initialize_parameters(2, 4, 1)
    A2, cache = planar.forward_propagation(X, params)
    A2_ref, cache_ref = ref.planar.forward_propagation(X, params)
    assert_close(A2, A2_ref)
    for key in cache_ref:
        assert_close(cache[key], cache_ref[key], err_msg=key)
    grads = planar.backward_propagation(params, cache, X, Y)
    grads_ref = ref.planar.backward_propagation(params, cache_ref, X, Y)
    for key in grads_ref:
        assert_close(grads[key], grads_ref[key], err_msg=key)
    new = planar.update_parameters(params, grads)
    for key, value in ref.planar.update_parameters(params, grads_ref).items():
        assert_close(new[key], value, err_msg=key)


def test_planar_backward_uses_the_cache_A1(rng):
    # The course's test case hands a cache whose A1 is not tanh(Z1): the formula reads A1.
    X = rng.standard_normal((2, 3))
    Y = np.array([[1, 0, 1]])
    params = {"W1": rng.standard_normal((4, 2)), "b1": np.zeros((4, 1)),
              "W2": rng.standard_normal((1, 4)), "b2": np.zeros((1, 1))}
    cache = {"A1": rng.uniform(-1, 1, (4, 3)), "A2": rng.uniform(0, 1, (1, 3)),
             "Z1": rng.standard_normal((4, 3)), "Z2": rng.standard_normal((1, 3))}
    grads = planar.backward_propagation(params, cache, X, Y)
    for key, value in ref.planar.backward_propagation(params, cache, X, Y).items():
        assert_close(grads[key], value, err_msg=key)
    # Labels other than 0 and 1: the course's formula, with a warning (its test cases draw Y = randn).
    with pytest.warns(RuntimeWarning, match="other than 0 and 1"):
        grads = planar.backward_propagation(params, cache, X, np.array([[1, 0, 2]]))
    for key, value in ref.planar.backward_propagation(params, cache, X, np.array([[1, 0, 2]])).items():
        assert_close(grads[key], value, err_msg=key)
    with pytest.raises(ValueError, match="finite"):
        planar.backward_propagation(params, cache, X, np.array([[1, 0, np.nan]]))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 8])  # every remainder of the four-row tile
@pytest.mark.parametrize("m", [1, 5, 8, 13])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_narrow_layer_over_course_X_matches_reference(rng, n, m, dtype):
    # Deep enough for the skinny product (config.SKINNY_MIN_DEPTH), with depth piece boundaries inside.
    k = 1500 if n < 8 else 40000
    assert n <= config.SKINNY_MAX_ROWS and k >= config.SKINNY_MIN_DEPTH
    X = course_X(rng, k, m, dtype)
    W = (rng.standard_normal((n, k)) / np.sqrt(k)).astype(dtype)
    b = rng.standard_normal((n, 1)).astype(dtype)
    A, cache = dnn.linear_activation_forward(X, W, b, "relu")
    A_ref, cache_ref = ref.linear_activation_forward(X, W, b, "relu")
    assert_close(cache[1], cache_ref[1], dtype)
    assert_close(A, A_ref, dtype)
    dA = rng.standard_normal((n, m)).astype(dtype)
    got = dnn.linear_activation_backward(dA, cache, "relu")
    for g, e, name in zip(got, ref.linear_activation_backward(dA, cache_ref, "relu"), ("dA_prev", "dW", "db")):
        assert g.dtype == dtype
        assert_close(g, e, dtype, err_msg=name)
    assert got[0].flags.f_contiguous or n * k * m <= config.SMALL_LAYER_WORK


def test_skinny_product_does_not_depend_on_the_tasks(rng):
    from fastdnn.kernels import skinny

    X = course_X(rng, 3000, 37)
    W = rng.standard_normal((5, 3000))
    results = []
    for tasks in (1, 2, 3, 16):
        Z = np.empty((5, 37))
        skinny.forward(W, X.T, skinny.forward_piece(8), tasks, Z)
        results.append(Z)
    for Z in results[1:]:
        np.testing.assert_array_equal(Z, results[0])


# --------------------------------------------------------------- found by review


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_L_model_backward_names_a_bad_W1_although_dA0_waits(rng, route, value):
    X = course_X(rng, 5, 4)
    Y = np.array([[1, 0, 1, 0]])
    params = deep_parameters(rng, [5, 3, 1])
    AL, ((c1, Z1), second) = dnn.L_model_forward(X, params)
    W1 = _poison(params["W1"], (0, 0), value)
    with pytest.raises(ValueError, match="W1.*non-finite"):
        dnn.L_model_backward(AL, Y, [((X, W1, c1[2]), Z1), second])


@pytest.mark.parametrize("where", ["AL", "Z2"])
def test_L_model_backward_names_an_infinite_output(rng, route, where):
    X = course_X(rng, 5, 4)
    Y = np.array([[1, 0, 1, 0]])
    params = deep_parameters(rng, [5, 3, 1])
    AL, (first, (c2, Z2)) = dnn.L_model_forward(X, params)
    if where == "AL":
        AL = _poison(AL, (0, 1), np.inf)
    else:
        Z2 = _poison(Z2, (0, 0), np.inf)
    with pytest.raises(ValueError, match="non-finite"):
        dnn.L_model_backward(AL, Y, [first, (c2, Z2)])


def test_planar_backward_names_a_bad_W1(rng):
    X, Y = ref.load_planar_dataset()
    np.random.seed(3)
    params = planar.initialize_parameters(2, 4, 1)
    _, cache = planar.forward_propagation(X, params)
    params["W1"] = _poison(params["W1"], (1, 1), np.nan)
    with pytest.raises(ValueError, match="W1.*non-finite"):
        planar.backward_propagation(params, cache, X, Y)


@pytest.mark.parametrize("name", ["relu_backward", "sigmoid_backward", "tanh_backward"])
def test_read_only_dA_is_taken(rng, name):
    dA = rng.standard_normal((3, 4))
    Z = rng.standard_normal((3, 4))
    dA.setflags(write=False)
    assert_close(getattr(dnn, name)(dA, Z), getattr(ref, name)(dA, Z))


def test_read_only_dA_on_both_routes(rng, route):
    A_prev = rng.standard_normal((5, 4))
    W = rng.standard_normal((3, 5))
    b = np.zeros((3, 1))
    _, cache = dnn.linear_activation_forward(A_prev, W, b, "relu")
    _, cache_ref = ref.linear_activation_forward(A_prev, W, b, "relu")
    dA = rng.standard_normal((3, 4))
    dA.setflags(write=False)
    for g, e in zip(dnn.linear_activation_backward(dA, cache, "relu"),
                    ref.linear_activation_backward(dA, cache_ref, "relu")):
        assert_close(g, e)


@pytest.mark.parametrize("n", [1, 3, 4, 5, 7, 8, 9, 12])  # one pass up to 8 units, passes of four beyond
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_narrow_layer_kernels_match_the_products(rng, n, dtype):
    from fastdnn.kernels import skinny

    k, m = 1100, 39  # a depth piece boundary inside, a tail of three examples
    X = course_X(rng, k, m, dtype)
    W = rng.standard_normal((n, k)).astype(dtype)
    dZ = rng.standard_normal((n, m)).astype(dtype)
    Z = np.empty((n, m), dtype)
    skinny.forward(W, X.T, skinny.forward_piece(W.itemsize), 2, Z)
    assert_close(Z, W.astype(np.float64) @ X, dtype)
    dW = np.empty((n, k), dtype)
    skinny.weight_gradient(dZ, X.T, 1 / m, skinny.gradient_piece(W.itemsize), 2, dW)
    assert_close(dW, dZ.astype(np.float64) @ X.T / m, dtype)
    dA = np.empty((m, k), dtype)
    skinny.input_gradient(W, dZ, 2, dA)
    assert_close(dA.T, W.T.astype(np.float64) @ dZ, dtype)


def test_narrow_layer_gradients_do_not_depend_on_the_tasks(rng):
    from fastdnn.kernels import skinny

    X = course_X(rng, 3000, 37)
    W = rng.standard_normal((5, 3000))
    dZ = rng.standard_normal((5, 37))
    results = []
    for tasks in (1, 2, 3, 16):
        out = np.empty((37, 3000))
        skinny.input_gradient(W, dZ, tasks, out)
        results.append(out)
    for out in results[1:]:
        np.testing.assert_array_equal(out, results[0])
    gradients = []
    for tasks in (1, 2, 3, 16):
        dW = np.empty((5, 3000))
        skinny.weight_gradient(dZ, X.T, 1 / 37, skinny.gradient_piece(8), tasks, dW)
        gradients.append(dW)
    for dW in gradients[1:]:
        np.testing.assert_array_equal(dW, gradients[0])
    assert_close(gradients[0], dZ @ X.T / 37)


@pytest.mark.parametrize("size", [50, 200_000])  # serial and blocked sums
def test_product_is_finite_bound_and_scan(rng, size):
    from fastdnn import validation as v

    W = rng.standard_normal((2, 3))
    dZ = rng.standard_normal((2, size // 2))
    out = W.T @ dZ
    assert out.size > W.size + dZ.size  # the bound is used
    assert v.product_is_finite(out, W, dZ)
    bad = out.copy()
    bad[1, 7] = np.nan
    # A finite bound vouches for the product as computed from these inputs ...
    assert v.product_is_finite(bad, W, dZ)
    # ... and a NaN or a huge value in an input sends it to the scan.
    W_nan = _poison(W, (0, 0), np.nan)
    assert not v.product_is_finite(W_nan.T @ dZ, W_nan, dZ)
    W_huge = W * 1e300
    assert v.product_is_finite(W_huge.T @ (dZ * 1e-300), W_huge, dZ * 1e-300)
    with np.errstate(over="ignore"):
        assert not v.product_is_finite(W_huge.T @ (dZ * 1e10), W_huge, dZ * 1e10)


def test_propagate_reports_a_bad_X_without_a_runtime_warning(rng):
    import warnings

    X = _poison(course_X(rng, 20, 7), (2, 3), np.inf)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"\bX\b.*non-finite"):
            logistic.propagate(np.zeros((20, 1)), 0.0, X, np.array([[1, 0, 1, 0, 1, 1, 0]]))


@pytest.mark.parametrize("shape", [(1, 2), (4, 3), (32, 32), (33, 32), (2, 1, 3)])
@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_relu_pair_gives_the_course_bits_at_every_size(rng, shape, layout, dtype):
    # 32 x 32 is the small paths' limit (SMALL_ELEMENTWISE_MAX), 33 x 32 the general kernels.
    Z = rng.standard_normal(shape).astype(dtype)
    dA = rng.standard_normal(shape).astype(dtype)
    flat = Z.reshape(-1)
    flat[:4] = [-0.0, 0.0, np.nan, -np.inf][: flat.size] if flat.size >= 4 else flat[:4]
    dA.reshape(-1)[2:3] = np.nan  # where Z is NaN: the course keeps dA there
    if layout == "F":
        Z, dA = np.asfortranarray(Z), np.asfortranarray(dA)
    A, cache = dnn.relu(Z)
    A_ref, _ = ref.relu(Z)
    assert cache is Z
    # Equal values, NaN where the course has NaN (the kernels' nsz flag may write -0.0 as 0.0).
    assert A.dtype == A_ref.dtype and np.array_equal(A, A_ref, equal_nan=True)
    dZ = dnn.relu_backward(dA, Z)
    dZ_ref = ref.relu_backward(dA, Z)
    assert dZ.dtype == dZ_ref.dtype and np.array_equal(dZ, dZ_ref, equal_nan=True)
    assert not np.shares_memory(dZ, dA)


@pytest.mark.parametrize("m", [1, 2, 7, 8, 9, 64])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_linear_forward_small_kernel_matches_reference_across_its_loop_orders(rng, m, dtype):
    # Fewer than 8 examples take one dot product per entry, 8 and more a row at a time.
    A = rng.standard_normal((20, m)).astype(dtype)
    W = rng.standard_normal((7, 20)).astype(dtype)
    b = rng.standard_normal((7, 1)).astype(dtype)
    Z, cache = dnn.linear_forward(A, W, b)
    assert cache[0] is A and cache[1] is W and cache[2] is b
    assert Z.dtype == dtype
    assert_close(Z, ref.linear_forward(A, W, b)[0])


def test_labels_beyond_float32_are_refused_not_made_infinite():
    AL = np.array([[0.4, 0.5, 0.6]], dtype=np.float32)
    with pytest.raises(ValueError, match="beyond the range of float32"):
        dnn.compute_cost(AL, np.array([[1e39, 0.0, 1.0]]))


def test_the_course_loop_does_not_return_infinite_parameters_silently():
    X = np.ones((3, 4))
    with pytest.warns(RuntimeWarning), pytest.raises(FloatingPointError, match="last update"), \
            np.errstate(all="ignore"):
        dnn.L_layer_model(X, np.full((1, 4), 1e307), [3, 2, 1], learning_rate=100.0, num_iterations=1)
