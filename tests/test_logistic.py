"""fastdnn.logistic against the course's figures and against fastdnn.reference.logistic."""

import numpy as np
import pytest

from fastdnn import logistic
from fastdnn import reference
from conftest import assert_close, rtol_for

ref = reference.logistic

# The course's week-2 test vectors.
W_COURSE = np.array([[1.0], [2.0]])
B_COURSE = 2.0
X_COURSE = np.array([[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]])
Y_COURSE = np.array([[1, 0, 1]])


def _problem(rng, n_x, m, dtype, zero_rows=False):
    X = rng.standard_normal((n_x, m)).astype(dtype)
    if zero_rows:
        X[::2] = 0.0
    w = (0.3 * rng.standard_normal((n_x, 1))).astype(dtype)
    b = float(rng.standard_normal())
    Y = (rng.random((1, m)) > 0.5).astype(np.int64)
    return w, b, X, Y


SHAPES = [(2, 3), (1, 1), (5, 1), (7, 13), (300, 17), (3, 257)]


class Unchanged:
    """Proves the caller's arrays come back untouched."""

    def __init__(self, *arrays):
        self.arrays = arrays
        self.copies = [np.array(a, copy=True) for a in arrays]

    def check(self):
        for a, c in zip(self.arrays, self.copies):
            np.testing.assert_array_equal(a, c)


# ---------------------------------------------------------------- sigmoid, initialization


def test_sigmoid_returns_the_value_only():
    out = logistic.sigmoid(np.array([0, 2]))
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, [0.5, 0.88079708], rtol=1e-8)
    assert_close(out, ref.sigmoid(np.array([0.0, 2.0])))


def test_sigmoid_of_a_scalar_is_a_scalar():
    s = logistic.sigmoid(0)
    assert np.ndim(s) == 0 and s == 0.5
    assert logistic.sigmoid(3.0) == pytest.approx(ref.sigmoid(3.0), rel=1e-15)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_matches_reference(rng, dtype):
    z = (10 * rng.standard_normal((3, 7))).astype(dtype)
    out = logistic.sigmoid(z)
    assert out.dtype == dtype and out.shape == z.shape
    assert_close(out, ref.sigmoid(z.astype(np.float64)), dtype=dtype)


def test_initialize_with_zeros():
    w, b = logistic.initialize_with_zeros(2)
    assert w.shape == (2, 1) and w.dtype == np.float64 and not w.any()
    assert type(b) is float and b == 0.0
    for bad, err in ((0, ValueError), (-3, ValueError), (2.5, TypeError), ("2", TypeError)):
        with pytest.raises(err, match="dim"):
            logistic.initialize_with_zeros(bad)


# ---------------------------------------------------------------- propagate


def test_propagate_course_figures():
    guard = Unchanged(W_COURSE, X_COURSE, Y_COURSE)
    grads, cost = logistic.propagate(W_COURSE, B_COURSE, X_COURSE, Y_COURSE)
    guard.check()
    assert grads["dw"].shape == (2, 1)
    np.testing.assert_allclose(grads["dw"], [[0.99845601], [2.39507239]], rtol=1e-8)
    assert type(grads["db"]) is np.float64
    assert grads["db"] == pytest.approx(0.00145557813678, rel=1e-10)
    assert cost == pytest.approx(5.801545319394553, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_x, m", SHAPES)
@pytest.mark.parametrize("zero_rows", [False, True])
def test_propagate_matches_reference(rng, dtype, n_x, m, zero_rows):
    w, b, X, Y = _problem(rng, n_x, m, dtype, zero_rows)
    grads, cost = logistic.propagate(w, b, X, Y)
    ref_grads, ref_cost = ref.propagate(w.astype(np.float64), b, X.astype(np.float64), Y)
    assert grads["dw"].dtype == dtype
    assert_close(grads["dw"], ref_grads["dw"], dtype=dtype)
    assert grads["db"] == pytest.approx(ref_grads["db"], rel=rtol_for(dtype), abs=rtol_for(dtype))
    assert cost == pytest.approx(ref_cost, rel=rtol_for(dtype))


def test_propagate_accepts_flat_weights_and_array_bias():
    grads, cost = logistic.propagate(W_COURSE.ravel(), np.array([[B_COURSE]]), X_COURSE, Y_COURSE.ravel())
    ref_grads, ref_cost = ref.propagate(W_COURSE, B_COURSE, X_COURSE, Y_COURSE)
    assert_close(grads["dw"], ref_grads["dw"])
    assert cost == pytest.approx(ref_cost, rel=1e-12)


def test_propagate_saturated_correct_predictions_cost_nothing():
    # sigmoid(+-800) is exactly 1 or 0: the course's log would give NaN.
    X = np.array([[400.0, -400.0]])
    grads, cost = logistic.propagate(np.array([[2.0]]), 0.0, X, np.array([[1, 0]]))
    assert cost == 0.0
    assert np.all(np.isfinite(grads["dw"]))


@pytest.mark.parametrize(
    "kwargs, err, pattern",
    [
        ({"X": np.ones(3)}, ValueError, "X must be a 2-D array"),
        ({"X": np.ones((2, 0))}, ValueError, "X has no examples"),
        ({"X": np.array([["a", "b", "c"], ["d", "e", "f"]])}, TypeError, "X must have a real numeric dtype"),
        ({"X": np.array([[1.0, np.nan, 0], [1, 2, 3]])}, ValueError, "X contains 1 non-finite"),
        ({"w": np.ones((3, 1))}, ValueError, r"w must have shape \(2, 1\)"),
        ({"w": np.ones((1, 2))}, ValueError, r"w must have shape \(2, 1\)"),
        ({"w": np.array([[np.inf], [1.0]])}, ValueError, "w contains"),
        ({"b": np.ones(2)}, ValueError, "b must be a scalar"),
        ({"b": float("nan")}, ValueError, "b must be finite"),
        ({"b": True}, TypeError, "b must be a real number"),
        ({"b": "2"}, TypeError, "b must have a real numeric dtype"),
        ({"Y": np.array([[1, 0]])}, ValueError, r"Y must have shape \(1, 3\)"),
        ({"Y": np.array([[1, 0, np.nan]])}, ValueError, r"Y must hold finite values"),
        ({"Y": np.array([[1, 0, 1], [0, 1, 0]])}, ValueError, r"Y must have shape \(1, 3\)"),
    ],
)
def test_propagate_rejects_bad_input(kwargs, err, pattern):
    args = {"w": W_COURSE, "b": B_COURSE, "X": X_COURSE, "Y": Y_COURSE}
    args.update(kwargs)
    with pytest.raises(err, match=pattern):
        logistic.propagate(**args)


def test_week_2_takes_labels_drawn_from_randn_with_a_warning():
    """The course's formulas hold for any finite Y (its test cases draw such labels): computed, and warned about."""
    Y = np.random.default_rng(4).standard_normal((1, 3))
    with pytest.warns(RuntimeWarning, match="other than 0 and 1"):
        grads, cost = logistic.propagate(W_COURSE, B_COURSE, X_COURSE, Y)
    grads_ref, cost_ref = ref.propagate(W_COURSE, B_COURSE, X_COURSE, Y)
    np.testing.assert_allclose(cost, cost_ref, rtol=1e-12)
    np.testing.assert_allclose(grads["dw"], grads_ref["dw"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grads["db"], grads_ref["db"], rtol=1e-12, atol=1e-15)
    with pytest.warns(RuntimeWarning, match="other than 0 and 1"):
        params, _, _ = logistic.optimize(W_COURSE, B_COURSE, X_COURSE, Y, num_iterations=50, learning_rate=0.009)
    params_ref, _, _ = ref.optimize(W_COURSE, B_COURSE, X_COURSE, Y, num_iterations=50, learning_rate=0.009)
    np.testing.assert_allclose(params["w"], params_ref["w"], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(params["b"], params_ref["b"], rtol=1e-10, atol=1e-14)


# ---------------------------------------------------------------- optimize


def test_optimize_course_figures():
    guard = Unchanged(W_COURSE, X_COURSE, Y_COURSE)
    params, grads, costs = logistic.optimize(W_COURSE, B_COURSE, X_COURSE, Y_COURSE, num_iterations=100,
                                             learning_rate=0.009, print_cost=False)
    guard.check()
    np.testing.assert_allclose(params["w"], [[0.19033591], [0.12259159]], rtol=1e-7)
    assert params["b"] == pytest.approx(1.92535983008, rel=1e-10)
    assert type(params["b"]) is np.float64
    np.testing.assert_allclose(grads["dw"], [[0.67752042], [1.41625495]], rtol=1e-7)
    assert grads["db"] == pytest.approx(0.219194504541, rel=1e-10)
    assert costs == [pytest.approx(5.801545319394553, rel=1e-12)]


@pytest.mark.parametrize("method", ["direct", "gram"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_x, m", [(1, 1), (7, 13), (300, 17), (600, 250), (40, 3)])
def test_optimize_matches_reference(rng, method, dtype, n_x, m):
    w, b, X, Y = _problem(rng, n_x, m, dtype)
    params, grads, costs = logistic.optimize(w, b, X, Y, num_iterations=201, learning_rate=0.05, method=method)
    ref_params, ref_grads, ref_costs = ref.optimize(w.astype(np.float64), b, X.astype(np.float64), Y, 201, 0.05)
    # float32 rounding grows over the iterations: a looser, still tight, tolerance.
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    assert params["w"].dtype == dtype and params["w"].shape == (n_x, 1)
    assert_close(params["w"], ref_params["w"], rtol=rtol)
    assert params["b"] == pytest.approx(ref_params["b"], rel=rtol, abs=rtol)
    assert_close(grads["dw"], ref_grads["dw"], rtol=rtol, scale=np.abs(ref_grads["dw"]).max() + 1e-3)
    assert grads["db"] == pytest.approx(ref_grads["db"], rel=rtol, abs=rtol)
    assert len(costs) == 3
    np.testing.assert_allclose(costs, ref_costs, rtol=rtol)


def test_optimize_method_choice():
    # "auto" follows the logits only with fewer examples than features and
    # enough iterations to pay for G = X^T X.
    assert logistic._use_gram(12288, 209, 2000)
    assert logistic._use_gram(12288, 209, 100)
    assert not logistic._use_gram(12288, 209, 5)
    assert not logistic._use_gram(20, 500, 10000)
    assert not logistic._use_gram(2, 3, 100)
    with pytest.raises(ValueError, match="method must be one of"):
        logistic.optimize(W_COURSE, B_COURSE, X_COURSE, Y_COURSE, method="fast")


def test_optimize_single_iteration_gram_equals_propagate():
    params, grads, costs = logistic.optimize(W_COURSE, B_COURSE, X_COURSE, Y_COURSE, num_iterations=1,
                                             learning_rate=0.1, method="gram")
    ref_grads, ref_cost = ref.propagate(W_COURSE, B_COURSE, X_COURSE, Y_COURSE)
    assert_close(grads["dw"], ref_grads["dw"])
    assert_close(params["w"], W_COURSE - 0.1 * ref_grads["dw"])
    assert costs == [pytest.approx(ref_cost, rel=1e-12)]


def test_optimize_prints_every_hundred(capsys):
    logistic.optimize(W_COURSE, B_COURSE, X_COURSE, Y_COURSE, num_iterations=201, learning_rate=0.009,
                      print_cost=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Cost after iteration 0: 5.801545"
    assert [ln.split(":")[0] for ln in lines] == [f"Cost after iteration {i}" for i in (0, 100, 200)]


@pytest.mark.parametrize(
    "kwargs, err, pattern",
    [
        ({"num_iterations": 0}, ValueError, "num_iterations"),
        ({"num_iterations": 2.0}, TypeError, "num_iterations"),
        ({"learning_rate": float("inf")}, ValueError, "learning_rate"),
        ({"learning_rate": "0.1"}, TypeError, "learning_rate"),
    ],
)
def test_optimize_rejects_bad_settings(kwargs, err, pattern):
    args = {"num_iterations": 10, "learning_rate": 0.01}
    args.update(kwargs)
    with pytest.raises(err, match=pattern):
        logistic.optimize(W_COURSE, B_COURSE, X_COURSE, Y_COURSE, **args)


def test_optimize_divergence_is_reported():
    X = np.array([[1e300, -1e300, 1e300]])
    with pytest.raises(FloatingPointError, match="cost became"):
        logistic.optimize(np.zeros((1, 1)), 0.0, X, np.array([[1, 0, 0]]), num_iterations=101,
                          learning_rate=1e10)


# ---------------------------------------------------------------- predict, model


def test_predict_course_figure():
    w = np.array([[0.1124579], [0.23106775]])
    X = np.array([[1.0, -1.1, -3.2], [1.2, 2.0, 0.1]])
    p = logistic.predict(w, -0.3, X)
    np.testing.assert_array_equal(p, [[1.0, 1.0, 0.0]])
    assert p.dtype == np.float64


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_x, m", SHAPES)
def test_predict_matches_reference(rng, dtype, n_x, m):
    w, b, X, _ = _problem(rng, n_x, m, dtype)
    p = logistic.predict(w, b, X)
    assert p.shape == (1, m) and p.dtype == dtype
    np.testing.assert_array_equal(p, ref.predict(w.astype(np.float64), b, X.astype(np.float64)))


def test_accuracy_is_the_course_formula():
    assert logistic.accuracy(np.array([[1.0, 0.0, 1.0, 1.0]]), np.array([[1, 0, 0, 1]])) == 75.0
    with pytest.raises(ValueError, match="does not match"):
        logistic.accuracy(np.zeros((1, 3)), np.zeros((1, 4)))


def test_model_matches_reference_on_random_data(rng, capsys):
    w, b, X, Y = _problem(rng, 40, 60, np.float64)
    X_test, Y_test = X[:, :20] + 0.1, Y[:, :20]
    d = logistic.model(X, Y, X_test, Y_test, num_iterations=301, learning_rate=0.1, print_cost=True)
    out = capsys.readouterr().out.splitlines()
    d_ref = ref.model(X, Y, X_test, Y_test, num_iterations=301, learning_rate=0.1, print_cost=True)
    out_ref = capsys.readouterr().out.splitlines()
    assert out == out_ref
    for key in ("Y_prediction_test", "Y_prediction_train"):
        np.testing.assert_array_equal(d[key], d_ref[key])
    assert_close(d["w"], d_ref["w"], rtol=1e-10)
    assert d["b"] == pytest.approx(d_ref["b"], rel=1e-10)
    np.testing.assert_allclose(d["costs"], d_ref["costs"], rtol=1e-10)
    assert (d["learning_rate"], d["num_iterations"]) == (0.1, 301)
    assert d["train_accuracy"] == d_ref["train_accuracy"]


def test_model_is_silent_without_print_cost(rng, capsys):
    w, b, X, Y = _problem(rng, 4, 10, np.float64)
    logistic.model(X, Y, X, Y, num_iterations=5)
    assert capsys.readouterr().out == ""


def test_model_rejects_mismatched_test_set():
    with pytest.raises(ValueError, match="X_test has 3 features"):
        logistic.model(X_COURSE, Y_COURSE, np.ones((3, 2)), np.ones((1, 2)))
    with pytest.raises(ValueError, match="Y_test"):
        logistic.model(X_COURSE, Y_COURSE, np.ones((2, 2)), np.ones((1, 3)))


def test_model_on_the_cat_data_course_figures(data_dir, capsys):
    from fastdnn import images
    from fastdnn.data import load_catvnoncat

    train_x_orig, train_y, test_x_orig, test_y, _ = load_catvnoncat(data_dir)
    train_x = images.standardize(images.flatten(train_x_orig))
    test_x = images.standardize(images.flatten(test_x_orig))
    d = logistic.model(train_x, train_y, test_x, test_y, num_iterations=2000, learning_rate=0.005,
                       print_cost=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(d["costs"]) == 20
    # The course prints 6 decimals.
    assert d["costs"][0] == pytest.approx(0.693147, abs=5e-7)
    assert d["costs"][19] == pytest.approx(0.140872, abs=5e-7)
    assert d["costs"][0] == pytest.approx(np.log(2), rel=1e-12)  # zero weights: -log(1/2)
    assert lines[0] == "Cost after iteration 0: 0.693147"
    assert lines[19] == "Cost after iteration 1900: 0.140872"
    assert lines[-2:] == ["train accuracy: 99.04306220095694 %", "test accuracy: 70.0 %"]
    assert d["Y_prediction_train"].shape == (1, 209) and d["Y_prediction_test"].shape == (1, 50)


def test_model_on_the_cat_data_matches_reference(data_dir):
    # A shorter run against the plain-NumPy baseline (the full run is above).
    from fastdnn.data import load_catvnoncat

    train_x_orig, train_y, test_x_orig, test_y, _ = load_catvnoncat(data_dir)
    train_x = train_x_orig.reshape(train_x_orig.shape[0], -1).T / 255.0
    test_x = test_x_orig.reshape(test_x_orig.shape[0], -1).T / 255.0
    d = logistic.model(train_x, train_y, test_x, test_y, num_iterations=201, learning_rate=0.005)
    d_ref = ref.model(train_x, train_y, test_x, test_y, num_iterations=201, learning_rate=0.005)
    np.testing.assert_allclose(d["costs"], d_ref["costs"], rtol=1e-10)
    assert_close(d["w"], d_ref["w"], rtol=1e-10)
    assert d["b"] == pytest.approx(d_ref["b"], rel=1e-10)
