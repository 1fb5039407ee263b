"""fit on an iterable of batches: the steps of a mini-batch fit over the same batches, on every route."""

import numpy as np
import pytest

import fastdnn
from fastdnn import threads
from fastdnn.network import Network


def _strategies():
    return ["plain"] + (["threads", "native"] if threads.can_pin_blas() else [])


def _data(rng, m=160):
    X = rng.standard_normal((6, m))
    Y = np.eye(3)[:, rng.integers(0, 3, m)]
    return X, Y


def _batches(X, Y, b=40, w=None):
    cols = [slice(i, i + b) for i in range(0, X.shape[1], b)]
    if w is None:
        return [(X[:, c], Y[:, c]) for c in cols]
    return [(X[:, c], Y[:, c], w[c]) for c in cols]


OPTIONS = dict(epochs=3, optimizer="adam", learning_rate=0.01, l2=0.1, progress=False)


@pytest.mark.parametrize("strategy", _strategies())
@pytest.mark.parametrize("weighted", [False, True])
def test_batches_train_as_the_mini_batch_fit_over_them(strategy, weighted, rng):
    X, Y = _data(rng, m=176)  # a last, smaller batch (of 16: native blocks need 8 columns each)
    w = rng.random(176) * 2 if weighted else None
    a = Network([6, 9, 3], output="softmax", strategy=strategy, seed=1)
    b = Network([6, 9, 3], output="softmax", strategy=strategy, seed=1)
    ha = a.fit(X, Y, batch_size=40, shuffle=False, sample_weight=w, **OPTIONS)
    hb = b.fit(_batches(X, Y, 40, w), **OPTIONS)
    np.testing.assert_allclose(hb["cost"], ha["cost"], rtol=1e-10)
    assert hb["accuracy"] == ha["accuracy"]
    np.testing.assert_allclose(b.params, a.params, rtol=1e-9, atol=1e-12)


def test_rows_layout_and_integer_labels_as_data_loaders_give_them(rng):
    X, Y = _data(rng)
    labels = Y.argmax(axis=0)
    a = Network([6, 9, 3], output="softmax", seed=1)
    b = Network([6, 9, 3], output="softmax", seed=1)
    a.fit(_batches(X, Y), **OPTIONS)
    b.fit([(X[:, i:i + 40].T.copy(), labels[i:i + 40]) for i in range(0, 160, 40)], layout="rows", **OPTIONS)
    np.testing.assert_allclose(b.params, a.params, rtol=1e-12, atol=1e-15)


def test_a_generator_serves_one_epoch_and_is_refused_for_more(rng):
    X, Y = _data(rng)
    net = Network([6, 9, 3], output="softmax", seed=1)
    history = net.fit((batch for batch in _batches(X, Y)), epochs=1, progress=False)
    assert len(history["cost"]) == 1
    with pytest.raises(ValueError, match="iterator .* epochs=2"):
        net.fit((batch for batch in _batches(X, Y)), epochs=2, progress=False)


def test_validation_early_stopping_and_callbacks_work_on_batches(rng):
    X, Y = _data(rng)
    Xv, Yv = _data(rng, m=60)
    seen = []
    stopper = fastdnn.EarlyStopping(patience=2)
    net = Network([6, 9, 3], output="softmax", seed=1)
    history = net.fit(_batches(X, Y), epochs=60, optimizer="adam", learning_rate=0.1, validation=(Xv, Yv),
                      early_stopping=stopper, callback=lambda epoch, record: seen.append(epoch), progress=False)
    assert len(history["val_cost"]) == len(seen) < 60 and stopper.stopped_epoch == len(seen)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"batch_size": 10}, ValueError, "batch_size does not apply"),
    ({"checkpoint": "c.npz"}, ValueError, "checkpoint does not apply"),
    ({"layout": "diagonal"}, ValueError, "layout"),
])
def test_options_that_do_not_apply_to_batches_are_refused(kwargs, error, match, rng):
    X, Y = _data(rng)
    with pytest.raises(error, match=match):
        Network([6, 9, 3], output="softmax").fit(_batches(X, Y), progress=False, **kwargs)


def test_bad_batches_are_named(rng):
    X, Y = _data(rng)
    net = Network([6, 9, 3], output="softmax")
    with pytest.raises(TypeError, match="Y is missing"):
        net.fit(X)
    with pytest.raises(TypeError, match="batch 1 of epoch 1: each item of batches must be a pair"):
        net.fit([X], progress=False)
    with pytest.raises(ValueError, match="X of batch 2 of epoch 1"):
        net.fit([(X[:, :40], Y[:, :40]), (X[:4, 40:80], Y[:, 40:80])], progress=False)


def test_a_pytorch_data_loader_trains_as_its_batches(rng):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: the lists above stand for loaders")
    from torch.utils.data import DataLoader, TensorDataset

    X, Y = _data(rng)
    labels = Y.argmax(axis=0)
    loader = DataLoader(TensorDataset(torch.from_numpy(X.T.copy()), torch.from_numpy(labels)), batch_size=40)
    a = Network([6, 9, 3], output="softmax", seed=1)
    b = Network([6, 9, 3], output="softmax", seed=1)
    a.fit(_batches(X, Y), **OPTIONS)
    b.fit(loader, layout="rows", **OPTIONS)
    np.testing.assert_allclose(b.params, a.params, rtol=1e-12, atol=1e-15)
