"""fastdnn.MLPClassifier: the scikit-learn estimator convention, with and without scikit-learn."""

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import fastdnn
from fastdnn.estimator import MLPClassifier, MLPRegressor
from fastdnn.network import Network

sklearn = pytest.importorskip("sklearn", reason="scikit-learn (the 'sklearn' extra) is needed for these tests")
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits, load_iris, make_blobs  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.model_selection import cross_val_score, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402


# scikit-learn's own suite, default constructor parameters.  Two checks are
# skipped by scikit-learn itself here: pandas input (pandas not installed)
# and array-API input (SCIPY_ARRAY_API unset).
@parametrize_with_checks([MLPClassifier(), MLPRegressor()])
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)


def test_digits_accuracy(digits):
    X_train, X_test, y_train, y_test = digits
    clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=60, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.95
    assert clf.n_iter_ == 60 and len(clf.loss_curve_) == 60 and clf.t_ == 60 * len(X_train)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    P = clf.predict_proba(X_test)
    assert P.shape == (len(X_test), 10)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X_test), clf.classes_[np.argmax(P, axis=1)])
    np.testing.assert_allclose(clf.predict_log_proba(X_test), np.log(P))


def test_reads_the_callers_array_without_copying(digits, monkeypatch):
    X_train, _, y_train, _ = digits
    X = np.ascontiguousarray(X_train)
    seen = []
    real = Network.prepare

    def spy(self, X_in, Y_in=None, *args, **kwargs):
        seen.append(X_in)
        return real(self, X_in, Y_in, *args, **kwargs)

    monkeypatch.setattr(Network, "prepare", spy)
    MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X, y_train)
    assert np.shares_memory(seen[0], X) and seen[0].shape == X.T.shape


def test_pipeline_and_cross_validation(digits):
    X_train, _, y_train, _ = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(32,), max_iter=80, random_state=1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(pipe, X_train, y_train, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.9


def test_binary_string_labels_and_clone():
    X, y = make_blobs(n_samples=120, centers=2, random_state=3)
    labels = np.where(y == 1, "cat", "dog")
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=50, random_state=0, learning_rate_init=0.05)
    clf.fit(X, labels)
    assert clf.n_outputs_ == 1 and clf.out_activation_ == "logistic"
    assert list(clf.classes_) == ["cat", "dog"]
    assert clf.score(X, labels) > 0.95
    P = clf.predict_proba(X)
    np.testing.assert_array_equal(clf.predict(X), np.where(P[:, 1] > 0.5, "dog", "cat"))
    assert [c.shape for c in clf.coefs_] == [(2, 5), (5, 1)]
    assert [b.shape for b in clf.intercepts_] == [(5,), (1,)]
    assert np.shares_memory(clf.coefs_[0], clf.network_.params)
    twin = clone(clf)
    assert twin.get_params() == clf.get_params() and not hasattr(twin, "network_")


def test_same_random_state_same_model():
    X, y = make_blobs(n_samples=300, centers=3, random_state=0)
    a = MLPClassifier(max_iter=5, random_state=7).fit(X, y)
    b = MLPClassifier(max_iter=5, random_state=7).fit(X, y)
    np.testing.assert_array_equal(a.network_.params, b.network_.params)


def test_partial_fit_continues_training():
    X, y = make_blobs(n_samples=200, centers=3, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(10,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:100], y[:100], classes=[0, 1, 2])
    assert clf.n_iter_ == 1
    losses = [clf.loss_]
    for _ in range(20):
        clf.partial_fit(X, y)
        losses.append(clf.loss_)
    # scikit-learn 1.9: each call counts its own epochs (n_iter_ 1); t_ counts every sample seen.
    assert clf.n_iter_ == 1 and clf.t_ == 100 + 20 * 200 and losses[-1] < losses[0]
    with pytest.raises(ValueError, match="labels not seen before"):
        clf.partial_fit(X[:5], np.full(5, 9))
    with pytest.raises(ValueError, match="X has 1 features, but MLPClassifier is expecting 2"):
        clf.partial_fit(X[:, :1], y)


def test_warm_start_continues_and_cold_start_restarts():
    X, y = make_blobs(n_samples=150, centers=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warm = MLPClassifier(hidden_layer_sizes=(6,), max_iter=3, warm_start=True, random_state=0).fit(X, y)
        net = warm.network_
        warm.fit(X, y)
        # The same network trained on; n_iter_ counts this call's epochs (scikit-learn 1.9), the curve all.
        assert warm.network_ is net and warm.n_iter_ == 3 and len(warm.loss_curve_) == 6
        cold = MLPClassifier(hidden_layer_sizes=(6,), max_iter=3, random_state=0).fit(X, y)
        net = cold.network_
        cold.fit(X, y)
        assert cold.network_ is not net and cold.n_iter_ == 3


def test_early_stopping_keeps_the_best_validation_model(digits):
    X_train, _, y_train, _ = digits
    clf = MLPClassifier(hidden_layer_sizes=(16,), early_stopping=True, n_iter_no_change=3, max_iter=200,
                        learning_rate_init=0.05, random_state=0)
    clf.fit(X_train, y_train)
    assert clf.n_iter_ < 200  # stopped early
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None


def test_stops_when_the_loss_stops_improving():
    X, y = make_blobs(n_samples=100, centers=2, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(4,), tol=10.0, n_iter_no_change=2, random_state=0).fit(X, y)
    # The first epoch sets the best loss; no later one improves by 10, and the
    # count must exceed n_iter_no_change, as in scikit-learn.
    assert clf.n_iter_ == 4


def test_convergence_warning_at_max_iter():
    X, y = make_blobs(n_samples=60, centers=2, random_state=0)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(2\\)"):
        MLPClassifier(max_iter=2, tol=0.0, random_state=0).fit(X, y)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_is_scikit_learns_update(nesterov, rng):
    # scikit-learn: u <- mu u - eta g; theta <- theta + u (Nesterov: theta + mu u - eta g).
    clf = MLPClassifier(solver="sgd", momentum=0.8, nesterovs_momentum=nesterov, learning_rate_init=0.1)
    optimizer, factor = clf._optimizer(clf._checked_params())
    theta = rng.standard_normal(20)
    theta_sk = theta.copy()
    velocity = np.zeros(20)
    u = np.zeros(20)
    for t in range(1, 6):
        g = rng.standard_normal(20)
        optimizer.step(theta, g, (velocity,), 0.1 * factor, 0.0, 0, t)
        u = 0.8 * u - 0.1 * g
        theta_sk += 0.8 * u - 0.1 * g if nesterov else u
        np.testing.assert_allclose(theta, theta_sk, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("learning_rate", ["constant", "invscaling", "adaptive"])
def test_sgd_schedules(learning_rate):
    X, y = make_blobs(n_samples=100, centers=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(8,), solver="sgd", learning_rate=learning_rate, max_iter=40,
                            n_iter_no_change=2, tol=1.0, random_state=0).fit(X, y)
    rates = clf.network_.history["learning_rate"]
    if learning_rate == "constant":
        assert clf.n_iter_ == 4 and rates == pytest.approx([0.001 / (1 - 0.9)] * 4, rel=1e-15)
    elif learning_rate == "invscaling":
        assert rates[1] == pytest.approx(0.001 / (100 + 1) ** 0.5 / (1 - 0.9), rel=1e-15)
    else:
        assert clf.n_iter_ > 4 and rates[-1] < rates[0]  # the rate was divided by 5 instead of stopping


def test_float32_network(digits):
    X_train, X_test, y_train, y_test = digits
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=30, dtype=np.float32, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train.astype(np.float32), y_train)
    assert clf.network_.dtype == np.float32
    assert clf.score(X_test, y_test) > 0.9


@pytest.mark.parametrize("data, chosen, expected", [
    (np.float32, None, np.float32), (np.float64, None, np.float64), (np.int64, None, np.float64),
    (np.float32, np.float64, np.float64), (np.float64, np.float32, np.float32),
])
def test_network_precision_follows_the_data_unless_chosen(data, chosen, expected):
    # As scikit-learn: float32 data trains in float32 by default.
    X, y = make_blobs(n_samples=60, centers=3, random_state=0)
    X = (X * 10).astype(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, dtype=chosen, random_state=0).fit(X, y)
    assert clf.network_.dtype == expected
    assert clf.predict_proba(X).dtype == expected


def test_verbose_prints_the_loss(capsys):
    X, y = make_blobs(n_samples=40, centers=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier(hidden_layer_sizes=(3,), max_iter=2, verbose=True, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out and "Iteration 2, loss = " in out


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"solver": "newton"}, ValueError, "solver"),
        ({"activation": "softplus"}, ValueError, "activation"),
        ({"hidden_layer_sizes": (10, 0)}, ValueError, "hidden_layer_sizes"),
        ({"batch_size": "big"}, ValueError, "batch_size"),
        ({"validation_fraction": 1.5}, ValueError, "validation_fraction"),
        ({"dtype": np.int32}, TypeError, "dtype"),
        ({"random_state": "seed"}, ValueError, "random_state"),
    ],
)
def test_bad_parameters_fail_at_fit(params, error, match):
    X, y = make_blobs(n_samples=20, centers=2, random_state=0)
    clf = MLPClassifier(**params)  # the constructor only stores
    with pytest.raises(error, match=match):
        clf.fit(X, y)


def test_unfitted_and_exported():
    assert fastdnn.MLPClassifier is MLPClassifier
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(np.zeros((2, 3)))


def test_works_without_scikit_learn():
    # A fresh interpreter where importing scikit-learn fails.
    script = textwrap.dedent(
        """
        import sys
        sys.modules["sklearn"] = None
        import numpy as np
        import fastdnn
        from fastdnn import estimator
        assert not estimator.HAVE_SKLEARN
        rng = np.random.default_rng(0)
        X = np.r_[rng.normal(-2, 1, (40, 3)), rng.normal(2, 1, (40, 3))]
        y = np.array(["a"] * 40 + ["b"] * 40)
        clf = fastdnn.MLPClassifier(hidden_layer_sizes=(4,), max_iter=30, learning_rate_init=0.05, random_state=0)
        assert clf.get_params()["hidden_layer_sizes"] == (4,)
        clf.set_params(max_iter=40)
        assert clf.max_iter == 40 and "max_iter=40" in repr(clf)
        clf.fit(X, y)
        assert clf.score(X, y) > 0.95 and clf.predict_proba(X).shape == (80, 2)
        try:
            clf.predict(X[:, :2])
        except ValueError as exc:
            assert "X has 2 features, but MLPClassifier is expecting 3" in str(exc)
        else:
            raise AssertionError("no error for a wrong number of features")
        try:
            fastdnn.MLPClassifier().predict(X)
        except estimator.NotFittedError:
            pass
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")


# ---------------------------------------------------------------- MLPRegressor


@pytest.fixture(scope="module")
def friedman():
    from sklearn.datasets import make_friedman1

    X, y = make_friedman1(n_samples=3000, n_features=10, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def test_regressor_fits_as_scikit_learns_does(friedman):
    from sklearn.neural_network import MLPRegressor as SKRegressor

    X_train, X_test, y_train, y_test = friedman
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPRegressor(hidden_layer_sizes=(50,), max_iter=300, random_state=0).fit(X_train, y_train)
        theirs = SKRegressor(hidden_layer_sizes=(50,), max_iter=300, random_state=0).fit(X_train, y_train)
    assert ours.score(X_test, y_test) > 0.85
    assert ours.score(X_test, y_test) == pytest.approx(theirs.score(X_test, y_test), abs=0.02)
    assert ours.out_activation_ == "identity" and ours.n_outputs_ == 1 and ours.n_layers_ == 3
    prediction = ours.predict(X_test)
    assert prediction.shape == (len(X_test),)
    # loss_ is scikit-learn's: half the mean squared error (plus the L2 term), at the last epoch's weights' scale.
    half_mse = 0.5 * np.mean((ours.predict(X_train) - y_train) ** 2)
    assert ours.loss_ == pytest.approx(half_mse, rel=0.2)
    assert ours.loss_curve_[-1] < ours.loss_curve_[0]


def test_regressor_takes_several_outputs(friedman):
    X_train, X_test, y_train, _ = friedman
    Y = np.column_stack([y_train, -2.0 * y_train + 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = MLPRegressor(hidden_layer_sizes=(30,), max_iter=100, random_state=1).fit(X_train, Y)
    assert model.n_outputs_ == 2 and model.predict(X_test).shape == (len(X_test), 2)
    assert model.score(X_train, Y) > 0.6
    # The loss averages over the outputs as scikit-learn's does.
    half_mse = 0.5 * np.mean((model.predict(X_train) - Y) ** 2)
    assert model.loss_ == pytest.approx(half_mse, rel=0.2)
    with pytest.raises(ValueError, match="output"):
        model.partial_fit(X_train, y_train)


def test_regressor_early_stopping_scores_by_r2(friedman):
    X_train, _, y_train, _ = friedman
    model = MLPRegressor(hidden_layer_sizes=(20,), early_stopping=True, max_iter=50, random_state=0,
                         n_iter_no_change=3).fit(X_train, y_train)
    scores = model.validation_scores_
    assert len(scores) == model.n_iter_ and max(scores) <= 1.0
    assert model.best_validation_score_ == max(scores)
    assert model.best_loss_ is None


def test_regressor_partial_fit_continues_and_rejects_bad_targets(friedman):
    X_train, _, y_train, _ = friedman
    model = MLPRegressor(hidden_layer_sizes=(10,), random_state=0)
    for _ in range(3):
        model.partial_fit(X_train, y_train)
    assert model.n_iter_ == 1 and len(model.loss_curve_) == 3 and model.t_ == 3 * len(X_train)
    with pytest.raises(ValueError):
        MLPRegressor().fit(X_train, np.full(len(X_train), np.nan))


# ---------------------------------------------------------------- scikit-learn 1.9's behaviours (issue 20)


def test_scikit_learn_behaviours_of_both_estimators(friedman):
    X_train, X_test, y_train, _ = friedman
    labels = (y_train > np.median(y_train)).astype(int)
    for model, y in ((MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0), y_train),
                     (MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0), labels)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_train, y)
            assert model.n_iter_ == 5
            # A warm start counts its own epochs; the loss curve goes on.
            model.set_params(warm_start=True).fit(X_train, y)
            assert model.n_iter_ == 5 and len(model.loss_curve_) == 10
            # n_iter_no_change=np.inf: never stop on the loss.
            model.set_params(warm_start=False, n_iter_no_change=np.inf, tol=1e9).fit(X_train, y)
            assert model.n_iter_ == 5
        # partial_fit with early stopping: scikit-learn's error, not a crash.
        model.set_params(early_stopping=True, n_iter_no_change=10)
        with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
            model.partial_fit(X_train, y)
        # coefs_ and intercepts_ are assignable: the network predicts with them.
        coefs = [np.zeros_like(c) for c in model.coefs_]
        model.coefs_ = coefs
        model.intercepts_ = [np.full_like(b, 0.25) for b in model.intercepts_]
        assert all(not c.any() for c in model.coefs_) and model.intercepts_[-1][0] == 0.25
        with pytest.raises(ValueError, match=r"coefs_\[0\] must have shape"):
            model.coefs_ = [c.T for c in coefs]
    assert np.allclose(model.predict_proba(X_test)[:, 1], 1 / (1 + np.exp(-0.25)))


def test_review_findings_on_the_regressor(friedman):
    X_train, _, y_train, _ = friedman
    with pytest.raises(ValueError, match="validation set is too small"):
        MLPRegressor(early_stopping=True).fit(X_train[:10], y_train[:10])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = MLPRegressor(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(X_train, y_train[:, None])
        assert model.predict(X_train[:4]).shape == (4,)  # one output: 1-D, as scikit-learn's
        # loss_ averages the data term over the outputs, not the L2 term.
        Y = np.repeat(y_train[:, None], 4, axis=1)
        heavy = MLPRegressor(hidden_layer_sizes=(5,), max_iter=2, alpha=100.0, random_state=0).fit(X_train, Y)
    squares = sum(float(np.sum(c ** 2)) for c in heavy.coefs_)
    penalty = 0.5 * 100.0 * squares / 200
    half_mse = 0.5 * np.mean((heavy.predict(X_train) - Y) ** 2)
    assert heavy.loss_ == pytest.approx(half_mse + penalty, rel=0.25)
    # coefs_[i] = W writes the layer, as scikit-learn's list does.
    W = np.zeros_like(model.coefs_[1])
    model.coefs_[1] = W
    assert not model.network_.parameters["W2"].any()
    assert not hasattr(model, "_validation")


def test_regressor_scores_r2_without_scikit_learn():
    code = textwrap.dedent("""
        import sys
        sys.modules["sklearn"] = None
        import numpy as np
        from fastdnn.estimator import MLPRegressor, HAVE_SKLEARN, r2_score
        assert not HAVE_SKLEARN
        rng = np.random.default_rng(0)
        X = rng.standard_normal((200, 4))
        y = X @ np.array([1.0, 2.0, 3.0, 4.0])
        model = MLPRegressor(hidden_layer_sizes=(8,), max_iter=300, learning_rate_init=0.01, random_state=0).fit(X, y)
        assert model.score(X, y) == r2_score(y, model.predict(X)) and model.score(X, y) > 0.5, model.score(X, y)
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-2000:]


def test_what_scikit_learns_test_module_found():
    # A warm start on a subset of the classes is refused, as scikit-learn does.
    X, y = make_blobs(n_samples=150, centers=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, warm_start=True, random_state=0).fit(X, y)
        with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same classes"):
            clf.fit(X, (y == 1).astype(int))
    # Weights made non-finite: scikit-learn's ValueError (not a FloatingPointError).
    rng = np.random.RandomState(0)
    X_huge = np.finfo(float).max * rng.uniform(size=(10, 2))
    with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
        MLPRegressor().fit(X_huge, rng.standard_normal(10))


def test_a_diverging_fit_with_early_stopping_keeps_its_best_weights():
    X, y = load_iris(return_X_y=True)
    reg = MLPRegressor(hidden_layer_sizes=100, activation="identity", solver="sgd", learning_rate_init=1.0,
                       max_iter=20, early_stopping=True, random_state=0)
    with pytest.warns(ConvergenceWarning, match="diverged"):
        reg.fit(X, y)
    assert np.isnan(reg.validation_scores_[-1]) and isinstance(reg.validation_scores_[-1], float)
    assert np.all(np.isfinite(reg.network_.params)) and np.all(np.isfinite(reg.predict(X)))


def test_early_stopping_split_is_scikit_learns_and_so_are_its_errors():
    with pytest.raises(ValueError, match="least populated classes in y have only 1 member"):
        MLPClassifier(early_stopping=True).fit([[1, 2], [2, 3], [3, 4], [4, 5]], [0, 0, 0, 1])
    with pytest.raises(ValueError, match="validation set is too small"):
        MLPRegressor(early_stopping=True, validation_fraction=0.1).fit(np.eye(5), np.arange(5.0))


# ---------------------------------------------------------------- multilabel


def test_multilabel_is_scikit_learns_one_logistic_unit_per_label():
    from sklearn.datasets import make_multilabel_classification
    from sklearn.neural_network import MLPClassifier as SkClassifier

    X, Y = make_multilabel_classification(n_samples=80, n_classes=4, random_state=0, return_indicator=True)
    options = dict(solver="lbfgs", hidden_layer_sizes=(12,), max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours, theirs = MLPClassifier(**options).fit(X, Y), SkClassifier(**options).fit(X, Y)
    assert ours.out_activation_ == "logistic" and ours.n_outputs_ == 4
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-6, atol=1e-9)
    prediction = ours.predict(X)
    assert prediction.shape == Y.shape and prediction.dtype == theirs.predict(X).dtype
    np.testing.assert_array_equal(prediction, theirs.predict(X))
    assert ours.score(X, Y) == theirs.score(X, Y) == np.mean(np.all(prediction == Y, axis=1))


def test_multilabel_partial_fit_early_stopping_and_mixed_targets():
    from sklearn.datasets import make_multilabel_classification

    X, Y = make_multilabel_classification(n_samples=120, n_classes=3, random_state=1, return_indicator=True)
    clf = MLPClassifier(hidden_layer_sizes=(50,), solver="sgd", activation="logistic", alpha=1e-5,
                        learning_rate_init=0.2, random_state=0)
    for _ in range(100):
        clf.partial_fit(X, Y, classes=[0, 1, 2])
    assert clf.score(X, Y) > 0.9
    with pytest.raises(ValueError, match="trained on multilabel"):
        clf.partial_fit(X, Y[:, 0])
    with pytest.raises(ValueError, match="3 label columns|classes has 2 labels"):
        MLPClassifier().partial_fit(X, Y, classes=[0, 1])
    stopped = MLPClassifier(hidden_layer_sizes=(10,), early_stopping=True, max_iter=50, random_state=0).fit(X, Y)
    assert len(stopped.validation_scores_) == stopped.n_iter_
    assert all(0.0 <= s <= 1.0 for s in stopped.validation_scores_)


def test_warm_start_restarts_the_optimizer_and_a_shared_random_state_moves_as_scikit_learns():
    from sklearn.neural_network import MLPClassifier as SkClassifier

    X, y = load_digits(n_class=3, return_X_y=True)
    X = X / 16.0
    options = dict(hidden_layer_sizes=(8,), solver="sgd", shuffle=False, max_iter=5)
    ours_rs, theirs_rs = np.random.RandomState(0), np.random.RandomState(0)
    ours = MLPClassifier(warm_start=True, random_state=ours_rs, **options)
    theirs = SkClassifier(warm_start=True, random_state=theirs_rs, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(3):  # warm starts: each fit a fresh optimizer, as scikit-learn's
            ours.fit(X, y)
            theirs.fit(X, y)
            np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-9, atol=1e-12)
        # Two new estimators on the same (moved) RandomState still start from scikit-learn's weights.
        again = MLPClassifier(random_state=ours_rs, **options).fit(X, y)
        sk_again = SkClassifier(random_state=theirs_rs, **options).fit(X, y)
    np.testing.assert_allclose(again.coefs_[0], sk_again.coefs_[0], rtol=1e-9, atol=1e-12)
    assert ours_rs.randint(1 << 30) == theirs_rs.randint(1 << 30)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_poisson_regressor_with_one_identity_unit_is_the_poisson_glm(seed):
    from sklearn.linear_model import PoissonRegressor

    rng = np.random.default_rng(seed)
    X = np.linspace(0, 1, 100).reshape(-1, 1)
    y = rng.poisson(np.exp(X[:, 0] + 1))
    glm = PoissonRegressor(alpha=0, tol=1e-7).fit(X, y)
    mlp = MLPRegressor(loss="poisson", hidden_layer_sizes=(1,), activation="identity", alpha=0, solver="lbfgs",
                       tol=1e-7, random_state=np.random.RandomState(seed + 1)).fit(X, y)
    assert mlp.out_activation_ == "exp"
    np.testing.assert_allclose(mlp.predict(X), glm.predict(X), rtol=1e-4)
    with pytest.raises(ValueError, match="negative which is not allowed for Poisson"):
        MLPRegressor(loss="poisson").fit(X, y - 5.0)
    with pytest.raises(ValueError, match="loss"):
        MLPRegressor(loss="huber").fit(X, y)


def test_weights_assigned_before_the_first_fit_are_where_it_starts():
    from sklearn.neural_network import MLPClassifier as SkClassifier

    X = np.array([[0.6, 0.8, 0.7]])
    y = np.array([0])
    weights = [np.array([[0.1, 0.2], [0.3, 0.1], [0.5, 0.0]]), np.array([[0.1], [0.2]])]
    biases = [np.array([0.1, 0.1]), np.array([1.0])]
    results = []
    for cls in (MLPClassifier, SkClassifier):
        clf = cls(solver="sgd", learning_rate_init=0.1, alpha=0.1, activation="logistic", momentum=0,
                  hidden_layer_sizes=2, max_iter=1, random_state=1)
        clf.coefs_ = [0] * 2  # filled in afterwards, as scikit-learn's own test does
        clf.intercepts_ = [w.copy() for w in biases]
        clf.coefs_[0], clf.coefs_[1] = weights[0].copy(), weights[1].copy()
        if cls is SkClassifier:  # what scikit-learn's private state needs to start from them
            clf.n_outputs_, clf.n_layers_, clf.out_activation_, clf.t_, clf.n_iter_ = 1, 3, "logistic", 0, 0
            clf.n_features_in_, clf.best_loss_, clf.loss_curve_, clf._no_improvement_count = 3, np.inf, [], 0
        clf.partial_fit(X, y, classes=[0, 1])
        results.append([c.copy() for c in clf.coefs_ + clf.intercepts_])
    for mine, theirs in zip(*results):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12)
    with pytest.raises(ValueError, match=r"coefs_\[0\] must have shape \(3, 2\)"):
        bad = MLPClassifier(hidden_layer_sizes=2)
        bad.coefs_, bad.intercepts_ = [np.zeros((4, 2)), np.zeros((2, 1))], biases
        bad.fit(np.ones((4, 3)), [0, 1, 0, 1])
