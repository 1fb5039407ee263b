"""FitSettings, Network.prepare/train and ModelState: the typed path the estimators and the CLI take."""

import numpy as np
import pytest

from fastdnn import FitSettings, Network
from fastdnn.examples import Examples


@pytest.fixture
def rng():
    return np.random.default_rng(30)


def problem(rng, n_x=5, m=40, k=3):
    return rng.standard_normal((n_x, m)), rng.integers(0, k, m)


BAD_SETTINGS = [
    ({"epochs": 0}, ValueError, "epochs"),
    ({"epochs": 1.5}, TypeError, "epochs"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"optimizer": "adagrad"}, ValueError, "optimizer"),
    ({"optimizer": 3}, TypeError, "optimizer"),
    ({"learning_rate": -1.0}, ValueError, "learning_rate"),
    ({"learning_rate": float("nan")}, ValueError, "learning_rate"),
    ({"l2": -0.1}, ValueError, "l2"),
    ({"dropout": 1.0}, ValueError, "dropout"),
    ({"schedule": 0.1}, TypeError, "schedule"),
    ({"callback": "stop"}, TypeError, "callback"),
    ({"checkpoint": 12}, TypeError, "checkpoint"),
    ({"checkpoint_every": 5}, ValueError, "checkpoint_every needs a checkpoint"),
    ({"resume": True}, ValueError, "resume=True needs a checkpoint"),
    ({"indices": np.zeros((2, 2))}, ValueError, "indices"),
]


@pytest.mark.parametrize("options, error, match", BAD_SETTINGS)
def test_bad_settings_name_the_argument(options, error, match):
    with pytest.raises(error, match=match):
        FitSettings(**options)


def test_settings_normalize_their_fields(tmp_path):
    settings = FitSettings(epochs=np.int64(3), optimizer="adam", checkpoint=tmp_path / "c.npz", shuffle=0,
                           indices=[3, 1, 2], dropout=0.25)
    assert settings.epochs == 3 and settings.optimizer.name == "adam" and settings.shuffle is False
    assert settings.checkpoint == str(tmp_path / "c.npz") and settings.keep_prob == 0.75
    assert settings.indices.dtype == np.int64 and settings.indices.tolist() == [3, 1, 2]
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 3\)"):
        settings.example_order(3)
    assert settings.rate(4) == settings.learning_rate
    scheduled = FitSettings(schedule=lambda epoch: -1.0)
    with pytest.raises(ValueError, match="the learning rate returned by schedule"):
        scheduled.rate(0)


def test_train_equals_fit(rng):
    X, y = problem(rng)
    a, b = Network([5, 7, 3], output="softmax", seed=4), Network([5, 7, 3], output="softmax", seed=4)
    options = dict(epochs=3, batch_size=8, optimizer="adam", learning_rate=0.01, l2=0.2, dropout=0.1, progress=False)
    a.fit(X, y, validation=(X[:, :10], y[:10]), **options)
    b.train(b.prepare(X, y), FitSettings(**options), b.prepare(X[:, :10], y[:10]))
    assert np.array_equal(a.params, b.params) and np.array_equal(a.state, b.state)
    assert a.history.keys() == b.history.keys() and a.history["val_cost"] == b.history["val_cost"]


def test_train_on_a_subset_leaves_the_callers_indices(rng):
    X, y = problem(rng)
    chosen = np.arange(0, 40, 2, dtype=np.int64)
    kept = chosen.copy()
    net = Network([5, 7, 3], output="softmax", seed=4)
    net.train(net.prepare(X, y), FitSettings(epochs=2, batch_size=4, progress=False, indices=chosen))
    assert np.array_equal(chosen, kept)
    # The same as training on those examples alone (the shuffle draws from the same generator).
    alone = Network([5, 7, 3], output="softmax", seed=4)
    alone.fit(X[:, chosen], y[chosen], epochs=2, batch_size=4, progress=False)
    assert np.array_equal(net.params, alone.params)


def test_indices_out_of_range_change_nothing(rng):
    X, y = problem(rng)
    net = Network([5, 7, 3], output="softmax", seed=4)
    before = net.params.copy()
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 40\)"):
        net.train(net.prepare(X, y), FitSettings(optimizer="adam", indices=[0, 40]))
    assert np.array_equal(net.params, before) and net.optimizer.name == "sgd"


def test_examples_of_another_network_are_refused(rng):
    X, y = problem(rng)
    other = Network([5, 7, 4], output="softmax").prepare(X, y)
    net = Network([5, 7, 3], output="softmax")
    with pytest.raises(ValueError, match="prepared for a network of 5 inputs and 4 softmax outputs"):
        net.train(other, FitSettings())
    with pytest.raises(ValueError, match="prepared for a network"):
        net.evaluate(other)
    with pytest.raises(TypeError, match="data must be the examples Network.prepare returns"):
        net.train((X, y), FitSettings())
    with pytest.raises(TypeError, match="settings must be a fastdnn.fitting.FitSettings"):
        net.train(net.prepare(X, y), {"epochs": 1})


def test_a_second_train_on_bad_examples_scans_them_again(rng):
    X, y = problem(rng)
    X[2, 33] = np.nan
    net = Network([5, 7, 3], output="softmax", seed=4)
    before = net.params.copy()
    data = net.prepare(X, y, check_X=False)
    assert isinstance(data, Examples) and data.unchecked == "X"
    for _ in range(2):
        with pytest.raises(ValueError, match="X contains 1 non-finite value"):
            net.train(data, FitSettings(epochs=2, batch_size=8, optimizer="adam", progress=False))
        assert np.array_equal(net.params, before) and net.model_state.n_steps == 0


def test_full_batch_fit_finds_a_bad_X_before_other_problems(rng):
    X, y = problem(rng)
    X[0, 0] = np.inf
    net = Network([5, 7, 3], output="softmax")
    with pytest.raises(ValueError, match="X contains 1 non-finite value"):
        net.fit(X, y, epochs=0)
    with pytest.raises(ValueError, match="X contains 1 non-finite value"):
        net.fit(X, y[:5])


def test_evaluate_takes_prepared_examples(rng):
    X, y = problem(rng)
    net = Network([5, 7, 3], output="softmax", seed=2)
    assert net.evaluate(net.prepare(X, y)) == net.evaluate(X, y)
    with pytest.raises(ValueError, match="prepared without Y"):
        net.evaluate(net.prepare(X))
    with pytest.raises(TypeError, match="evaluate needs Y"):
        net.evaluate(X)


def test_snapshot_restores_everything_a_fit_changes(rng):
    X, y = problem(rng)
    net = Network([5, 7, 3], output="softmax", seed=2)
    net.fit(X, y, epochs=1, batch_size=8, optimizer="adam", progress=False)
    model = net.model_state
    saved = model.snapshot()
    params, state, counters = net.params.copy(), net.state.copy(), (model.t, model.n_steps)
    draws = model.rng.integers(0, 1000, 5)
    net.fit(X, y, epochs=2, batch_size=8, optimizer="momentum", progress=False)
    model.restore(saved)
    assert np.array_equal(net.params, params) and np.array_equal(net.state, state)
    assert net.optimizer.name == "adam" and (model.t, model.n_steps) == counters
    assert np.array_equal(model.rng.integers(0, 1000, 5), draws)
