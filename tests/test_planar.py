"""fastdnn.planar against the course's figures and against fastdnn.reference.planar."""

import numpy as np
import pytest
from conftest import assert_close, rtol_for

import fastdnn
from fastdnn import planar
from fastdnn import reference

ref = reference.planar


@pytest.fixture(scope="module")
def flower():
    return planar.load_planar_dataset()


def _parameters(rng, n_x, n_h, n_y, dtype=np.float64, scale=0.5):
    return {
        "W1": (scale * rng.standard_normal((n_h, n_x))).astype(dtype),
        "b1": (scale * rng.standard_normal((n_h, 1))).astype(dtype),
        "W2": (scale * rng.standard_normal((n_y, n_h))).astype(dtype),
        "b2": (scale * rng.standard_normal((n_y, 1))).astype(dtype),
    }


def _as64(parameters):
    return {k: np.asarray(a, dtype=np.float64) for k, a in parameters.items()}


# (n_x, n_h, n_y, m): m = 1, odd widths, several outputs.
SHAPES = [(2, 4, 1, 400), (2, 1, 1, 1), (3, 5, 2, 7), (5, 20, 1, 33), (1, 3, 3, 129)]


class Unchanged:
    def __init__(self, *arrays):
        self.arrays = arrays
        self.copies = [np.array(a, copy=True) for a in arrays]

    def check(self):
        for a, c in zip(self.arrays, self.copies):
            np.testing.assert_array_equal(a, c)


# ---------------------------------------------------------------- data, sizes, initialization


def test_load_planar_dataset_is_the_course_flower(flower):
    X, Y = flower
    X_ref, Y_ref = ref.load_planar_dataset()
    assert X.shape == (2, 400) and X.dtype == np.float64
    assert Y.shape == (1, 400) and Y.dtype == np.uint8
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(Y, Y_ref)
    np.testing.assert_array_equal(Y[0, :200], 0)
    np.testing.assert_array_equal(Y[0, 200:], 1)


def test_load_planar_dataset_other_seed():
    X, Y = planar.load_planar_dataset(seed=7)
    X_ref, _ = ref.load_planar_dataset(seed=7)
    np.testing.assert_array_equal(X, X_ref)
    assert not np.array_equal(X, planar.load_planar_dataset()[0])
    with pytest.raises(ValueError, match="seed"):
        planar.load_planar_dataset(seed=-1)


def test_top_level_names_are_the_planar_ones():
    assert fastdnn.nn_model is planar.nn_model
    assert fastdnn.layer_sizes is planar.layer_sizes
    assert fastdnn.load_planar_dataset is planar.load_planar_dataset


def test_layer_sizes(flower):
    X, Y = flower
    assert planar.layer_sizes(X, Y) == ref.layer_sizes(X, Y) == (2, 4, 1)
    assert planar.layer_sizes(np.zeros((5, 3)), np.zeros((2, 3))) == (5, 4, 2)
    with pytest.raises(ValueError, match="X must be a 2-D array"):
        planar.layer_sizes(np.zeros(3), np.zeros((1, 3)))


def test_initialize_parameters_seeds_two_like_the_course():
    params = planar.initialize_parameters(2, 4, 1)
    after = np.random.rand()
    expected = ref.initialize_parameters(2, 4, 1)
    # The global generator is left where the course's initialization leaves it.
    assert np.random.rand() == after
    for key in ("W1", "b1", "W2", "b2"):
        np.testing.assert_array_equal(params[key], expected[key])
    assert params["W1"].shape == (4, 2) and params["b2"].shape == (1, 1)


# ---------------------------------------------------------------- step functions


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_x, n_h, n_y, m", SHAPES)
def test_forward_propagation_matches_reference(rng, dtype, n_x, n_h, n_y, m):
    X = rng.standard_normal((n_x, m)).astype(dtype)
    X[0] = 0.0  # an all-zero row
    params = _parameters(rng, n_x, n_h, n_y, dtype)
    guard = Unchanged(X, *params.values())
    A2, cache = planar.forward_propagation(X, params)
    guard.check()
    A2_ref, cache_ref = ref.forward_propagation(X.astype(np.float64), _as64(params))
    assert A2 is cache["A2"]
    assert set(cache) == {"Z1", "A1", "Z2", "A2"}
    for key in cache:
        assert cache[key].dtype == dtype
        assert_close(cache[key], cache_ref[key], dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_x, n_h, n_y, m", SHAPES)
def test_backward_propagation_matches_reference(rng, dtype, n_x, n_h, n_y, m):
    X = rng.standard_normal((n_x, m)).astype(dtype)
    Y = (rng.random((n_y, m)) > 0.5).astype(np.uint8)
    params = _parameters(rng, n_x, n_h, n_y, dtype)
    # A cache built by hand, unrelated to the parameters: the gradients must use
    # its A1 and A2, as the course's do.
    cache = {"A1": np.tanh(rng.standard_normal((n_h, m))).astype(dtype),
             "A2": rng.uniform(0.05, 0.95, (n_y, m)).astype(dtype)}
    guard = Unchanged(X, Y, cache["A1"], cache["A2"], *params.values())
    grads = planar.backward_propagation(params, cache, X, Y)
    guard.check()
    grads_ref = ref.backward_propagation(_as64(params), _as64(cache), X.astype(np.float64), Y)
    assert set(grads) == {"dW1", "db1", "dW2", "db2"}
    for key in grads:
        assert grads[key].shape == params[key[1:]].shape
        assert grads[key].dtype == dtype
        assert_close(grads[key], grads_ref[key], dtype=dtype)


def test_compute_cost_matches_reference(rng):
    A2 = rng.uniform(0.01, 0.99, (1, 17))
    Y = (rng.random((1, 17)) > 0.5).astype(np.uint8)
    assert planar.compute_cost(A2, Y) == pytest.approx(ref.compute_cost(A2, Y), rel=1e-12)
    assert planar.compute_cost(A2, Y, {"W1": None}) == planar.compute_cost(A2, Y)
    assert isinstance(planar.compute_cost(A2, Y), float) and isinstance(ref.compute_cost(A2, Y), float)  # week 3's type


def test_update_parameters_matches_reference(rng):
    params = _parameters(rng, 3, 5, 1)
    grads = {"d" + k: a * 0.1 for k, a in _parameters(rng, 3, 5, 1).items()}
    guard = Unchanged(*params.values())
    new = planar.update_parameters(params, grads)
    guard.check()
    expected = ref.update_parameters(params, grads)
    for key in params:
        assert_close(new[key], expected[key])
    new_lr = planar.update_parameters(params, grads, learning_rate=0.5)
    assert_close(new_lr["W1"], params["W1"] - 0.5 * grads["dW1"])


def test_predict_gives_integers_the_courses_accuracy_line_can_use(rng, flower):
    X, Y = flower
    params = _parameters(rng, 2, 4, 1)
    p = planar.predict(params, X)
    assert p.dtype == np.int64 and p.shape == (1, 400) and set(np.unique(p)) <= {0, 1}
    np.testing.assert_array_equal(p, ref.predict(params, X))
    # The notebook's line with its uint8 labels: right with integers (a boolean array wraps around at 256).
    right = (np.dot(Y, p.T) + np.dot(1 - Y, 1 - p.T)).item()
    assert right == int(np.sum(p == Y))


def test_accuracy():
    assert planar.accuracy(np.array([[True, False, True, True]]), np.array([[1, 0, 0, 1]], dtype=np.uint8)) == 75.0
    # 400 uint8 labels: no wrap-around at 256 (the course's formula would wrap).
    Y = np.ones((1, 400), dtype=np.uint8)
    assert planar.accuracy(np.ones((1, 400), dtype=bool), Y) == 100.0
    with pytest.raises(ValueError, match="does not match"):
        planar.accuracy(np.ones((1, 3)), np.ones((1, 4)))


@pytest.mark.parametrize(
    "call, err, pattern",
    [
        (lambda p, X, Y: planar.forward_propagation(X[:1], p), ValueError, "W1 of shape"),
        (lambda p, X, Y: planar.forward_propagation(X, {"W1": p["W1"]}), ValueError, "missing"),
        (lambda p, X, Y: planar.forward_propagation(X, [p]), TypeError, "parameters must be a dict"),
        (lambda p, X, Y: planar.forward_propagation(X, dict(p, b1=np.zeros((3, 1)))), ValueError, "b1 must have"),
        (lambda p, X, Y: planar.forward_propagation(X, dict(p, W2=np.zeros((1, 3)))), ValueError, "W2 of shape"),
        (lambda p, X, Y: planar.forward_propagation(np.where(X > 0, np.nan, X), p), ValueError, "X contains"),
        (lambda p, X, Y: planar.backward_propagation(p, {"A1": None}, X, Y), TypeError, "cache must be"),
        (lambda p, X, Y: planar.backward_propagation(p, {"A1": np.zeros((4, 9)), "A2": np.zeros((1, 9))}, X, Y),
         ValueError, r"A1 \(in cache\) must have shape \(4, 10\)"),
        (lambda p, X, Y: planar.nn_model(X, Y, 0), ValueError, "n_h"),
        (lambda p, X, Y: planar.nn_model(X, Y[:, :5], 4), ValueError, "one column per column of X"),
        (lambda p, X, Y: planar.nn_model(X, np.where(Y > 0, np.nan, Y), 4), ValueError, "Y must hold finite"),
        (lambda p, X, Y: planar.nn_model(X, Y, 4, num_iterations=-1), ValueError, "num_iterations"),
        (lambda p, X, Y: planar.nn_model(X, Y, 4, learning_rate=float("nan")), ValueError, "learning_rate"),
        (lambda p, X, Y: planar.nn_model(X.astype(str), Y, 4), TypeError, "X must have a real numeric dtype"),
        (lambda p, X, Y: planar.hidden_layer_sweep(X, Y, hidden_sizes=[4, 0]), ValueError, "hidden_sizes"),
    ],
)
def test_bad_input_gets_a_clear_error(rng, call, err, pattern):
    X = rng.standard_normal((2, 10))
    Y = (rng.random((1, 10)) > 0.5).astype(np.uint8)
    with pytest.raises(err, match=pattern):
        call(_parameters(rng, 2, 4, 1), X, Y)


# ---------------------------------------------------------------- nn_model


def test_nn_model_course_figures(flower, capsys):
    X, Y = flower
    guard = Unchanged(X, Y)
    params, costs = planar.nn_model(X, Y, 4, num_iterations=10000, print_cost=True, return_costs=True)
    guard.check()
    lines = capsys.readouterr().out.splitlines()
    assert len(costs) == 10 and len(lines) == 10
    assert lines[:3] == ["Cost after iteration 0: 0.693048", "Cost after iteration 1000: 0.288083",
                         "Cost after iteration 2000: 0.254385"]
    assert costs[0] == pytest.approx(0.693048, abs=5e-7)
    assert costs[1] == pytest.approx(0.288083, abs=5e-7)
    assert costs[2] == pytest.approx(0.254385, abs=5e-7)
    # The course reports "about 90%" for n_h = 4.
    assert planar.accuracy(planar.predict(params, X), Y) == pytest.approx(90.0, abs=1.0)


def test_nn_model_matches_reference(flower):
    X, Y = flower
    params, costs = planar.nn_model(X, Y, 4, num_iterations=3001, return_costs=True)
    params_ref, costs_ref = ref.nn_model(X, Y, 4, num_iterations=3001, return_costs=True)
    np.testing.assert_allclose(costs, costs_ref, rtol=1e-10)
    for key in params:
        assert_close(params[key], params_ref[key], rtol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_x, n_h, n_y, m", SHAPES)
def test_compiled_loop_equals_the_step_functions(rng, dtype, n_x, n_h, n_y, m):
    # nn_model's compiled loop against the public step functions chained in Python.
    X = rng.standard_normal((n_x, m)).astype(dtype)
    Y = (rng.random((n_y, m)) > 0.5).astype(np.uint8)
    params, costs = planar.nn_model(X, Y, n_h, num_iterations=30, return_costs=True, learning_rate=0.7)
    expected = planar.initialize_parameters(n_x, n_h, n_y)
    expected = {k: a.astype(dtype) for k, a in expected.items()}
    first_cost = None
    for _ in range(30):
        A2, cache = planar.forward_propagation(X, expected)
        if first_cost is None:
            first_cost = planar.compute_cost(A2, Y)
        grads = planar.backward_propagation(expected, cache, X, Y)
        expected = planar.update_parameters(expected, grads, learning_rate=0.7)
    assert costs[0] == pytest.approx(first_cost, rel=10 * rtol_for(dtype))
    for key in params:
        assert params[key].dtype == dtype
        assert_close(params[key], expected[key], rtol=100 * rtol_for(dtype))


def test_nn_model_zero_iterations_returns_the_initialization(flower):
    X, Y = flower
    params, costs = planar.nn_model(X, Y, 3, num_iterations=0, return_costs=True)
    assert costs == []
    init = planar.initialize_parameters(2, 3, 1)
    for key in params:
        np.testing.assert_array_equal(params[key], init[key])


def test_nn_model_records_every_thousand(flower):
    X, Y = flower
    _, costs = planar.nn_model(X, Y, 2, num_iterations=2001, return_costs=True)
    _, costs_short = planar.nn_model(X, Y, 2, num_iterations=1, return_costs=True)
    assert len(costs) == 3 and costs[0] == costs_short[0]


def test_nn_model_divergence_is_reported(flower):
    X, Y = flower
    with pytest.raises(FloatingPointError, match="learning rate"):
        planar.nn_model(X, Y, 4, num_iterations=10, learning_rate=1e308)
    with pytest.raises(FloatingPointError, match="at iteration 1000"):
        planar.nn_model(X, Y, 4, num_iterations=1001, learning_rate=1e308)


def test_hidden_layer_sweep_course_figures(flower, capsys):
    X, Y = flower
    acc = planar.hidden_layer_sweep(X, Y, print_accuracy=True)
    assert list(acc) == [1, 2, 3, 4, 5, 20, 50]
    # The course's printed accuracies.  Small networks are deterministic;
    # n_h = 20 and 50 pass through chaotic phases at learning rate 1.2, where
    # the summation order of the products may move a point or two.
    course = {1: 67.5, 2: 67.25, 3: 90.75, 4: 90.5, 5: 91.25, 20: 90.0, 50: 90.75}
    for n_h in (1, 2, 3, 4, 5):
        assert acc[n_h] == course[n_h]
    for n_h in (20, 50):
        assert acc[n_h] == pytest.approx(course[n_h], abs=1.0)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Accuracy for 1 hidden units: 67.5 %"


def test_hidden_layer_sweep_matches_reference_on_short_runs(flower):
    X, Y = flower
    sizes = (1, 3, 6)
    assert planar.hidden_layer_sweep(X, Y, sizes, num_iterations=600) == ref.hidden_layer_sweep(X, Y, sizes, 600)


def test_load_extra_datasets_shapes():
    pytest.importorskip("sklearn", reason="scikit-learn (the 'sklearn' extra) makes these data sets")
    sets = planar.load_extra_datasets()
    assert len(sets) == 5
    for X, y in sets:
        assert X.shape == (200, 2) and y.shape[0] == 200


def test_week_3_takes_labels_drawn_from_randn_as_the_course_test_cases_do():
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((2, 3)), rng.standard_normal((1, 3))
    with pytest.warns(RuntimeWarning, match="other than 0 and 1"):
        got = planar.nn_model(X, Y, 4, num_iterations=100)
    expected = ref.nn_model(X, Y, 4, num_iterations=100)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-9, atol=1e-12)
    A2, cache = planar.forward_propagation(X, got)
    with pytest.warns(RuntimeWarning, match="other than 0 and 1"):
        grads = planar.backward_propagation(got, cache, X, Y)
    expected = ref.backward_propagation(got, cache, X, Y)
    for key in expected:
        np.testing.assert_allclose(grads[key], expected[key], rtol=1e-10, atol=1e-14)
