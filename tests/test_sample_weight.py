"""Sample weights: the weighted cost and gradient in every route, checked against a NumPy reference.

A batch's cost is :math:`\\sum_j w_j \\ell_j / \\sum_j w_j` plus the L2 term
:math:`\\frac{\\lambda}{2 \\sum_j w_j} \\sum W^2` (scikit-learn's), its
gradient that cost's gradient.  The reference below computes one SGD step
of it with NumPy alone; every route of :meth:`fastdnn.Network.fit` must take
the same steps.
"""

import numpy as np
import pytest

import fastdnn
from conftest import cost_per_column, reference_gradients
from fastdnn import threads
from fastdnn.kernels import loss
from fastdnn.network import Network

needs_pinning = pytest.mark.skipif(not threads.can_pin_blas(),
                                   reason="worker and native blocks need threadpoolctl (the 'threads' extra)")

OUTPUTS = {"sigmoid": (loss.SIGMOID_OUTPUT, 1), "softmax": (loss.SOFTMAX_OUTPUT, 3), "linear": (loss.LINEAR_OUTPUT, 2)}
TOL = {np.float64: 1e-10, np.float32: 2e-4}


# ------------------------------------------------------------ the NumPy reference


def weighted_step(params, X, Y, w, output, learning_rate, l2):
    """One SGD step of a relu network on the weighted cost; returns ``(new params, cost)`` (float64)."""
    grads, cost = reference_gradients(params, X, Y, output, w, l2)
    return {name: value - learning_rate * grads[name] for name, value in params.items()}, cost


def _problem(rng, output, n_x=6, m=157):
    _, k = OUTPUTS[output]
    X = rng.standard_normal((n_x, m))
    if output == "sigmoid":
        Y = (rng.random((1, m)) < 0.5).astype(np.float64)
    elif output == "softmax":
        Y = np.eye(k)[:, rng.integers(0, k, m)]
    else:
        Y = rng.standard_normal((k, m))
    w = rng.random(m) * 3.0
    w[::7] = 0.0  # zero weights count for nothing
    return X, Y, w


# ------------------------------------------------------------ kernels


@pytest.mark.parametrize("output", sorted(OUTPUTS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_weighted_output_cost_is_the_weighted_mean_of_the_column_costs(output, dtype, rng):
    code, k = OUTPUTS[output]
    _, Y, w = _problem(rng, output, m=41)
    Z = (rng.standard_normal(Y.shape) * 4).astype(dtype)
    Yd = Y.astype(dtype)
    shifted = np.concatenate([np.full(5, 9.0), w])  # read from an offset, as a column block does
    got = loss.weighted_output_cost(code, Z, Yd, shifted, 5)
    expected = np.sum(w * cost_per_column(output, Z.astype(np.float64), Y)) / Z.shape[1]
    assert got == pytest.approx(expected, rel=1e-12 if dtype == np.float64 else 1e-6)
    dZ = rng.standard_normal(Y.shape).astype(dtype)
    before = dZ.copy()
    loss.weigh_columns(dZ, shifted, 5)
    np.testing.assert_allclose(dZ, before * w.astype(dtype), rtol=1e-6)


def test_normalise_weights_gives_a_mean_of_one_and_zero_for_a_weightless_batch():
    w = np.array([1.0, 3.0, 0.0, 4.0])
    out = np.empty(4)
    assert loss.normalise_weights(w, out) == 8.0
    np.testing.assert_allclose(out, [0.5, 1.5, 0.0, 2.0])
    assert loss.normalise_weights(np.zeros(3), out[:3]) == 0.0
    assert not out[:3].any()
    # Scales at float64's ends: subnormal weights, and a sum beyond its range.
    for scale in (1e-320, 1e308):
        assert loss.normalise_weights(np.full(4, scale), out) > 0.0
        np.testing.assert_array_equal(out, np.ones(4))


# ------------------------------------------------------------ every route against the reference


def _strategies():
    return ["plain"] + (["threads", "native"] if threads.can_pin_blas() else [])


@pytest.mark.parametrize("strategy", _strategies())
@pytest.mark.parametrize("output", sorted(OUTPUTS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [None, 40])
def test_weighted_fit_takes_the_reference_steps_on_every_route(strategy, output, dtype, batch_size, rng):
    X, Y, w = _problem(rng, output)
    _, k = OUTPUTS[output]
    dims = [X.shape[0], 11, 7, k]
    lr, l2, epochs = 0.05, 0.3, 2
    net = Network(dims, output=output, dtype=dtype, strategy=strategy, seed=5)
    params = {name: value.astype(np.float64) for name, value in net.parameters.items()}
    w_before = w.copy()
    history = net.fit(X, Y, epochs=epochs, batch_size=batch_size, learning_rate=lr, l2=l2, shuffle=False,
                      progress=False, sample_weight=w)
    np.testing.assert_array_equal(w, w_before)  # the caller's weights are not touched
    assert net.last_plan.strategy == strategy

    # The same steps in NumPy: the dtype's rounding of the data, then float64 throughout.
    Xr, Yr = X.astype(dtype).astype(np.float64), Y.astype(dtype).astype(np.float64)
    m = X.shape[1]
    b = m if batch_size is None else batch_size
    for epoch in range(epochs):
        total = 0.0
        for start in range(0, m, b):
            cols = slice(start, min(m, start + b))
            params, cost = weighted_step(params, Xr[:, cols], Yr[:, cols], w[cols], output, lr, l2)
            total += cost * (cols.stop - cols.start) / m
        assert history["cost"][epoch] == pytest.approx(total, rel=TOL[dtype] * 10)
    for name, value in net.parameters.items():
        np.testing.assert_allclose(value, params[name], rtol=TOL[dtype] * 10, atol=TOL[dtype], err_msg=name)


@pytest.mark.parametrize("strategy", _strategies())
def test_weights_of_one_train_as_no_weights(strategy, rng):
    X, Y, _ = _problem(rng, "softmax")
    kw = dict(epochs=2, batch_size=32, optimizer="adam", learning_rate=0.01, l2=0.1, progress=False)
    a = Network([6, 9, 3], output="softmax", strategy=strategy, seed=2)
    b = Network([6, 9, 3], output="softmax", strategy=strategy, seed=2)
    ha = a.fit(X, Y, sample_weight=np.ones(X.shape[1]), **kw)
    hb = b.fit(X, Y, **kw)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ha["cost"], hb["cost"], rtol=1e-12)


def test_integer_weights_train_as_repeated_examples_in_a_full_batch(rng):
    X, Y, _ = _problem(rng, "sigmoid")
    counts = rng.integers(0, 4, X.shape[1])
    a = Network([6, 8, 1], seed=4)
    b = Network([6, 8, 1], seed=4)
    ha = a.fit(X, Y, epochs=5, learning_rate=0.1, l2=0.2, progress=False, sample_weight=counts)
    repeated = np.repeat(np.arange(X.shape[1]), counts)
    hb = b.fit(X[:, repeated], Y[:, repeated], epochs=5, learning_rate=0.1, l2=0.2, progress=False)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(ha["cost"], hb["cost"], rtol=1e-10)


def test_a_scalar_weight_weighs_every_example_alike(rng):
    X, Y, _ = _problem(rng, "sigmoid")
    a = Network([6, 8, 1], seed=4)
    b = Network([6, 8, 1], seed=4)
    a.fit(X, Y, epochs=2, batch_size=50, learning_rate=0.1, progress=False, sample_weight=2.5)
    b.fit(X, Y, epochs=2, batch_size=50, learning_rate=0.1, progress=False)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("strategy", _strategies())
@pytest.mark.parametrize("l2", [0.0, 0.4])
def test_a_batch_of_zero_weight_moves_nothing_on_every_route(strategy, l2, rng):
    X, Y, _ = _problem(rng, "sigmoid", m=64)
    w = np.ones(64)
    w[:16] = 0.0  # the first batch weighs nothing
    net = Network([6, 4, 1], strategy=strategy, seed=0)
    params = {name: value.copy() for name, value in net.parameters.items()}
    net.fit(X, Y, batch_size=16, shuffle=False, learning_rate=0.1, l2=l2, progress=False, sample_weight=w)
    for start in range(16, 64, 16):
        cols = slice(start, start + 16)
        params, _ = weighted_step(params, X[:, cols], Y[:, cols], w[cols], "sigmoid", 0.1, l2)
    for name, value in net.parameters.items():
        np.testing.assert_allclose(value, params[name], rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("bad, error, match", [
    (np.ones(5), ValueError, r"sample_weight must have shape \(157,\), one weight per example of X, got shape \(5,\)"),
    (np.ones((157, 1)), ValueError, r"got shape \(157, 1\)"),
    (np.where(np.arange(157) == 3, -1.0, 1.0), ValueError, r"non-negative, got -1.0 at index 3"),
    (np.where(np.arange(157) == 9, np.nan, 1.0), ValueError, r"sample_weight contains 1 non-finite"),
    (np.zeros(157), ValueError, r"must not be all zero"),
    (np.array(["a"] * 157), TypeError, r"sample_weight must have a real numeric dtype"),
])
def test_bad_sample_weight_is_refused_by_name(bad, error, match, rng):
    X, Y, _ = _problem(rng, "sigmoid")
    net = Network([6, 4, 1], seed=0)
    before = net.params.copy()
    with pytest.raises(error, match=match):
        net.fit(X, Y, progress=False, sample_weight=bad)
    np.testing.assert_array_equal(net.params, before)


# ------------------------------------------------------------ the estimators


def test_estimators_take_sample_weight_as_scikit_learn_does(rng):
    pytest.importorskip("sklearn")
    from sklearn.utils.validation import has_fit_parameter

    for cls in (fastdnn.MLPClassifier, fastdnn.MLPRegressor):
        assert has_fit_parameter(cls(), "sample_weight")
    X = rng.standard_normal((120, 4))
    y = (X[:, 0] > 0).astype(int)
    ones = fastdnn.MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0).fit(
        X, y, sample_weight=np.ones(120))
    plain = fastdnn.MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0).fit(X, y)
    for a, b in zip(ones.coefs_, plain.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    assert ones.loss_ == pytest.approx(plain.loss_, rel=1e-12)


def test_partial_fit_takes_sample_weight_before_classes_as_scikit_learn_does(rng):
    pytest.importorskip("sklearn")
    import inspect

    from sklearn.neural_network import MLPClassifier as SkClassifier

    assert list(inspect.signature(fastdnn.MLPClassifier.partial_fit).parameters) == \
        list(inspect.signature(SkClassifier.partial_fit).parameters)
    X = rng.standard_normal((40, 3))
    y = (X[:, 0] > 0).astype(int)
    w = rng.random(40)
    a = fastdnn.MLPClassifier(hidden_layer_sizes=(5,), random_state=0).partial_fit(X, y, w, [0, 1])
    b = fastdnn.MLPClassifier(hidden_layer_sizes=(5,), random_state=0).partial_fit(X, y, sample_weight=w,
                                                                                   classes=[0, 1])
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])


def test_early_stopping_refuses_a_validation_split_of_zero_weight(rng):
    pytest.importorskip("sklearn")
    X = rng.standard_normal((100, 3))
    y = (X[:, 0] > 0).astype(int)
    w = np.zeros(100)
    w[0] = 1.0  # one example weighs: one side of the split weighs nothing
    clf = fastdnn.MLPClassifier(hidden_layer_sizes=(4,), early_stopping=True, validation_fraction=0.5,
                                random_state=0)
    with pytest.raises(ValueError, match="zero on every (validation|training) sample"):
        clf.fit(X, y, sample_weight=w)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_heavy_class_is_learned_first(rng):
    """Weights move the decision as duplicates would: a class weighted 20x wins the overlap."""
    pytest.importorskip("sklearn")
    m = 400
    X = np.concatenate([rng.normal(-0.3, 1, (m // 2, 2)), rng.normal(0.3, 1, (m // 2, 2))])
    y = np.repeat([0, 1], m // 2)
    w = np.where(y == 1, 20.0, 1.0)
    heavy = fastdnn.MLPClassifier(hidden_layer_sizes=(8,), max_iter=60, random_state=0).fit(X, y, sample_weight=w)
    plain = fastdnn.MLPClassifier(hidden_layer_sizes=(8,), max_iter=60, random_state=0).fit(X, y)
    assert np.mean(heavy.predict(X) == 1) > 0.85
    assert np.mean(heavy.predict(X) == 1) > np.mean(plain.predict(X) == 1) + 0.2


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_regressor_weighted_early_stopping_scores_a_weighted_r2(rng):
    pytest.importorskip("sklearn")
    from sklearn.metrics import r2_score as sk_r2

    from fastdnn.estimator import r2_score

    y = rng.standard_normal((50, 2))
    p = y + rng.standard_normal((50, 2)) * 0.5
    w = rng.random(50)
    assert r2_score(y, p, w) == pytest.approx(sk_r2(y, p, sample_weight=w), rel=1e-12)
    X = rng.standard_normal((300, 3))
    target = X @ np.array([1.0, -2.0, 0.5])
    reg = fastdnn.MLPRegressor(hidden_layer_sizes=(10,), max_iter=30, early_stopping=True, random_state=0)
    reg.fit(X, target, sample_weight=rng.random(300) + 0.5)
    assert len(reg.validation_scores_) == reg.n_iter_
    assert reg.best_validation_score_ == max(reg.validation_scores_)


def test_scikit_learn_sample_weight_checks_pass():
    pytest.importorskip("sklearn")
    from sklearn.utils import estimator_checks as checks

    for cls in (fastdnn.MLPClassifier, fastdnn.MLPRegressor):
        estimator = cls(hidden_layer_sizes=(5,), max_iter=20, random_state=0)
        for name in ("check_sample_weights_not_an_array", "check_sample_weights_list",
                     "check_sample_weights_shape", "check_sample_weights_not_overwritten",
                     "check_all_zero_sample_weights_error", "check_classifiers_one_label_sample_weights"):
            if name == "check_classifiers_one_label_sample_weights" and cls is fastdnn.MLPRegressor:
                continue
            getattr(checks, name)(cls.__name__, estimator)
