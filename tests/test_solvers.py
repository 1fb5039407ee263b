"""Full-batch solvers: the objective's cost and gradient, and L-BFGS, against NumPy and SciPy directly."""

import warnings

import numpy as np
import pytest

import fastdnn
from conftest import reference_gradients
from fastdnn import threads
from fastdnn.network import Network
from fastdnn.solvers import FullBatchObjective, lbfgs

optimize = pytest.importorskip("scipy.optimize", reason="the lbfgs solver runs SciPy's L-BFGS-B")

TOL = {np.float64: 1e-12, np.float32: 2e-5}


def _strategies():
    return ["plain"] + (["threads", "native"] if threads.can_pin_blas() else [])


def _flat(grads, L):
    return np.concatenate([grads[f"W{l}"].ravel() for l in range(1, L + 1)]
                          + [grads[f"b{l}"].ravel() for l in range(1, L + 1)])


def _problem(rng, output, m=150, n_x=6, k=3):
    X = rng.standard_normal((n_x, m))
    if output == "softmax":
        Y = np.eye(k)[:, rng.integers(0, k, m)]
    elif output == "sigmoid":
        Y = (rng.random((k, m)) < 0.5).astype(float)
    else:
        Y = rng.standard_normal((k, m))
    return X, Y


@pytest.mark.parametrize("strategy", _strategies())
@pytest.mark.parametrize("output", ["sigmoid", "softmax", "linear"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_objective_is_the_numpy_cost_and_gradient(strategy, output, dtype, weighted, rng):
    X, Y = _problem(rng, output)
    w = rng.random(X.shape[1]) * 2 if weighted else None
    net = Network([6, 9, 5, 3], output=output, dtype=dtype, strategy=strategy, seed=1)
    theta = rng.standard_normal(net.params.size) * 0.3
    net.params[...] = theta
    params = {k: v.astype(np.float64) for k, v in net.parameters.items()}
    data = net.prepare(X, Y, sample_weight=w)
    with FullBatchObjective(net, data, l2=0.7, scale=0.5) as objective:
        cost, grad = objective(theta)
    Xr, Yr = X.astype(dtype).astype(np.float64), Y.astype(dtype).astype(np.float64)
    G, C = reference_gradients(params, Xr, Yr, output, w, 0.0)
    S = X.shape[1] if w is None else w.sum()
    W2 = sum(np.sum(params[f"W{l}"] ** 2) for l in (1, 2, 3))
    assert cost == pytest.approx(0.5 * C + 0.7 / (2 * S) * W2, rel=TOL[dtype] * 10)
    expected = 0.5 * _flat(G, 3)
    expected[:net.n_weights] += 0.7 / S * net.params[:net.n_weights]
    np.testing.assert_allclose(grad, expected, rtol=TOL[dtype] * 10, atol=TOL[dtype] * 10)


def test_lbfgs_takes_scipys_steps_on_the_numpy_objective(rng):
    X, Y = _problem(rng, "softmax")
    net = Network([6, 9, 3], output="softmax", seed=1)
    x0 = net.params.copy()

    def numpy_objective(theta):
        probe = Network([6, 9, 3], output="softmax", seed=1)
        probe.params[...] = theta
        G, C = reference_gradients({k: v.copy() for k, v in probe.parameters.items()}, X, Y, "softmax", None,
                                   0.2)
        return C, _flat(G, 2)

    expected = optimize.minimize(numpy_objective, x0, method="L-BFGS-B", jac=True,
                                 options={"maxiter": 15, "maxfun": 15000, "gtol": 1e-4})
    seen = []
    result = lbfgs(net, net.prepare(X, Y), l2=0.2, max_iter=15, callback=lambda i, cost: seen.append((i, cost)))
    assert (result.nit, result.nfev) == (expected.nit, expected.nfev)
    np.testing.assert_allclose(net.params, expected.x, rtol=1e-8, atol=1e-10)
    assert [i for i, _ in seen] == list(range(1, result.nit + 1))
    assert seen[-1][1] == pytest.approx(expected.fun, rel=1e-10)


# ------------------------------------------------------------ the estimators' solver="lbfgs"


def test_estimators_train_with_lbfgs_and_have_no_partial_fit(rng):
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    clf = fastdnn.MLPClassifier(solver="lbfgs", hidden_layer_sizes=(30,), max_iter=100, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastdnn.estimator.ConvergenceWarning)
        clf.fit(X[:1200], y[:1200])
    assert clf.score(X[1200:], y[1200:]) > 0.9
    assert 0 < clf.n_iter_ <= 100 and np.isfinite(clf.loss_)
    assert not hasattr(clf, "loss_curve_") and not hasattr(clf, "partial_fit")
    assert hasattr(fastdnn.MLPClassifier(), "partial_fit")
    reg = fastdnn.MLPRegressor(solver="lbfgs", hidden_layer_sizes=(10,), max_iter=300, random_state=0)
    Xr = rng.standard_normal((200, 3))
    yr = np.c_[Xr @ [1.0, -1.0, 0.5], np.tanh(Xr[:, 0])]
    reg.fit(Xr, yr)
    assert reg.score(Xr, yr) > 0.95
    # loss_ is scikit-learn's: half the squared error averaged over samples and outputs, plus the L2 term.
    P = reg.predict(Xr)
    squares = sum(float(np.sum(c ** 2)) for c in reg.coefs_)
    assert reg.loss_ == pytest.approx(0.5 * np.mean((P - yr) ** 2) + 0.5 * reg.alpha * squares / 200, rel=1e-6)


def test_lbfgs_warns_when_it_stops_before_converging_and_refuses_dropout(rng):
    pytest.importorskip("sklearn")
    from sklearn.exceptions import ConvergenceWarning

    X = rng.standard_normal((100, 4))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    clf = fastdnn.MLPClassifier(solver="lbfgs", hidden_layer_sizes=(20,), max_fun=5, random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"lbfgs failed to converge .*max_fun \(now 5\)"):
        clf.fit(X, y)
    assert clf.n_iter_ <= 5
    with pytest.raises(ValueError, match="dropout needs a stochastic solver"):
        fastdnn.MLPClassifier(solver="lbfgs", dropout=0.2).fit(X, y)
    with pytest.raises(TypeError, match="max_fun"):
        fastdnn.MLPClassifier(solver="lbfgs", max_fun=1.5).fit(X, y)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_same_random_state_starts_and_ends_where_scikit_learn_does(kind, rng):
    pytest.importorskip("sklearn")
    from sklearn import neural_network

    X = rng.standard_normal((120, 5))
    if kind == "classifier":
        y = np.digitize(X[:, 0] + X[:, 1], [-0.5, 0.5])  # three classes
        ours, theirs = fastdnn.MLPClassifier, neural_network.MLPClassifier
    else:
        # One output: for several, scikit-learn's lbfgs pairs the loss averaged over the outputs with the
        # gradient of their sum (its deltas are not divided by n_outputs); fastdnn's pair is consistent.
        y = X[:, 0] * X[:, 1]
        ours, theirs = fastdnn.MLPRegressor, neural_network.MLPRegressor
    for options in (dict(solver="lbfgs", max_iter=25),
                    dict(solver="sgd", momentum=0.0, shuffle=False, early_stopping=True, max_iter=6,
                         learning_rate_init=0.05, n_iter_no_change=100)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = ours(hidden_layer_sizes=(7, 4), activation="tanh", random_state=3, **options).fit(X, y)
            b = theirs(hidden_layer_sizes=(7, 4), activation="tanh", random_state=3, **options).fit(X, y)
        assert a.n_iter_ == b.n_iter_
        for mine, sk in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
            np.testing.assert_allclose(mine, sk, rtol=1e-6, atol=1e-9)
        assert a.loss_ == pytest.approx(b.loss_, rel=1e-6)
        if options["solver"] == "sgd":
            # The same early-stopping split: the same validation scores.
            np.testing.assert_allclose(a.validation_scores_, b.validation_scores_, rtol=1e-9)
