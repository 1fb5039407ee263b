"""The trainer end to end: a mini-batch epoch, and scikit-learn's MLPClassifier on the 8x8 digits.

Groups:

* ``epoch 784,256,256,10 b=4096 float32`` -- one shuffled mini-batch Adam
  epoch over 16384 examples stored one per row:
  ``fastdnn`` (:meth:`fastdnn.Network.fit`, batches gathered from ``X.T``),
  ``reference`` (:func:`fastdnn.reference.minibatch_epoch`, the same work in
  plain NumPy), ``torch`` (the same loop in PyTorch; skipped without it) and
  ``bound`` (the epoch's matrix products alone).
* ``digits MLPClassifier`` -- ``fit`` of ``fastdnn.MLPClassifier`` and of
  ``sklearn.neural_network.MLPClassifier`` with the same parameters (layer
  sizes, Adam, batch 200, stopping rule, ``random_state=0``) on a fixed split
  of ``load_digits``; the test accuracy, the epochs run and the mean test
  accuracy over 8 seeds are in ``extra_info``.  A softmax :class:`fastdnn.Network` on the same split is
  timed too, and both estimators on the same data as float32 (each then trains in float32).

Run: ``python -m pytest benchmarks/test_bench_trainer.py --benchmark-only``.
"""

import warnings

import numpy as np
import pytest

from fastdnn import peers
from fastdnn import reference as ref
from fastdnn.network import Network

from conftest import require_torch

EPOCH_DIMS = [784, 256, 256, 10]
EPOCH_BATCH = 4096
EPOCH_M = 4 * EPOCH_BATCH
LEARNING_RATE = 1e-3


@pytest.fixture(scope="module")
def epoch_data():
    rng = np.random.default_rng(0)
    X_rows = rng.standard_normal((EPOCH_M, EPOCH_DIMS[0])).astype(np.float32)
    labels = rng.integers(0, EPOCH_DIMS[-1], EPOCH_M)
    return X_rows, labels


def build_epoch(impl, X_rows, labels):
    dtype = np.float32
    if impl == "fastdnn":
        net = Network(EPOCH_DIMS, output="softmax", dtype=dtype, init="he", seed=0)

        def epoch():
            return net.fit(X_rows.T, labels, epochs=1, batch_size=EPOCH_BATCH, optimizer="adam",
                           learning_rate=LEARNING_RATE, shuffle=True, progress=False)["cost"][0]

        return epoch
    if impl == "reference":
        params = {k: v.copy() for k, v in Network(EPOCH_DIMS, output="softmax", dtype=dtype, init="he",
                                                  seed=0).parameters.items()}
        state = {"v": {k: np.zeros_like(v) for k, v in params.items()},
                 "s": {k: np.zeros_like(v) for k, v in params.items()}}
        rng = np.random.default_rng(0)
        counter = {"t": 0}

        def epoch():
            order = rng.permutation(EPOCH_M)
            cost, counter["t"] = ref.minibatch_epoch(X_rows, labels, params, state, order, EPOCH_BATCH,
                                                     LEARNING_RATE, t=counter["t"])
            return cost

        return epoch
    if impl == "bound":
        step = peers.matmul_bound_step(EPOCH_DIMS, EPOCH_BATCH, dtype)

        def epoch():
            for _ in range(EPOCH_M // EPOCH_BATCH):
                step()

        return epoch
    torch = require_torch()
    import numba

    torch.set_num_threads(numba.get_num_threads())
    torch.manual_seed(0)
    nn = torch.nn
    layers = []
    for l in range(1, len(EPOCH_DIMS)):
        layers.append(nn.Linear(EPOCH_DIMS[l - 1], EPOCH_DIMS[l]))
        if l < len(EPOCH_DIMS) - 1:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = nn.CrossEntropyLoss()
    inputs = torch.from_numpy(X_rows)
    targets = torch.from_numpy(labels.astype(np.int64))

    def epoch():
        order = torch.randperm(EPOCH_M)
        total = 0.0
        for start in range(0, EPOCH_M, EPOCH_BATCH):
            batch = order[start:start + EPOCH_BATCH]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(inputs[batch]), targets[batch])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch) / EPOCH_M
        return total

    return epoch


@pytest.mark.parametrize("impl", ["fastdnn", "reference", "torch", "bound"])
def test_minibatch_epoch(benchmark, epoch_data, impl):
    benchmark.group = f"epoch {','.join(map(str, EPOCH_DIMS))} b={EPOCH_BATCH} m={EPOCH_M} float32"
    epoch = build_epoch(impl, *epoch_data)
    epoch()  # compilation, first touch of the buffers: not timed
    benchmark.pedantic(epoch, rounds=7, iterations=1, warmup_rounds=1)


@pytest.fixture(scope="module")
def digits():
    datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn (the 'sklearn' extra) is needed")
    from sklearn.model_selection import train_test_split

    X, y = datasets.load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)


ACCURACY_SEEDS = 8
SHARED = dict(hidden_layer_sizes=(100,), solver="adam", alpha=1e-4, batch_size=200, learning_rate_init=1e-3,
              max_iter=200, tol=1e-4, n_iter_no_change=10, random_state=0)


@pytest.mark.parametrize("impl", ["fastdnn", "sklearn", "fastdnn Network", "fastdnn float32 data",
                                  "sklearn float32 data"])
def test_digits_classifier(benchmark, digits, impl):
    from sklearn.exceptions import ConvergenceWarning

    X_train, X_test, y_train, y_test = digits
    benchmark.group = "digits MLPClassifier (100,) adam, 1347 train / 450 test"
    if impl.endswith("float32 data"):
        # Both estimators train in the precision of their data.
        X_train, X_test = X_train.astype(np.float32), X_test.astype(np.float32)
        impl = impl.split()[0]
    if impl == "fastdnn":
        from fastdnn.estimator import MLPClassifier

        def fit():
            return MLPClassifier(**SHARED).fit(X_train, y_train)
    elif impl == "sklearn":
        from sklearn.neural_network import MLPClassifier

        def fit():
            return MLPClassifier(**SHARED).fit(X_train, y_train)
    else:
        def fit():
            net = Network([64, 100, 10], output="softmax", init="he", seed=0)
            net.fit(X_train.T, y_train, epochs=100, batch_size=64, optimizer="adam", learning_rate=1e-3,
                    l2=1e-4, progress=False)
            return net

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = fit()  # compilation not timed
        model = benchmark.pedantic(fit, rounds=5, iterations=1, warmup_rounds=0)
    if impl == "fastdnn Network":
        benchmark.extra_info["test_accuracy"] = model.evaluate(X_test.T, y_test)["accuracy"]
        benchmark.extra_info["epochs"] = 100
    else:
        benchmark.extra_info["test_accuracy"] = float(model.score(X_test, y_test))
        benchmark.extra_info["epochs"] = int(model.n_iter_)
        # One split and one seed differ by a test sample or two between the
        # two libraries; the mean over seeds is the fair comparison (not timed).
        cls = type(model)
        scores = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for seed in range(ACCURACY_SEEDS):
                params = dict(SHARED, random_state=seed)
                scores.append(cls(**params).fit(X_train, y_train).score(X_test, y_test))
        benchmark.extra_info[f"mean_test_accuracy_{ACCURACY_SEEDS}_seeds"] = float(np.mean(scores))
