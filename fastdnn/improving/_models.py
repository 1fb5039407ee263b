"""The assignments' models: the Python side of :mod:`fastdnn.improving._core`'s compiled loops."""

import importlib
from typing import NamedTuple

import numpy as np

from .. import validation as v
from ..plots import pyplot
from . import _core

#: Iterations per call of the full-batch loop: the costs come back between calls.
CHUNK = 1000


def sklearn_datasets():
    """``sklearn.datasets``, or an ImportError naming the extra that installs it."""
    try:
        return importlib.import_module("sklearn.datasets")
    except ImportError:
        raise ImportError('the course\'s data sets are drawn with scikit-learn: pip install "fastdnn[sklearn]"') \
            from None


def scatter(X_rows, labels):
    """The course's scatter of a 2-D data set into matplotlib's current axes."""
    plt = pyplot()
    plt.scatter(X_rows[:, 0], X_rows[:, 1], c=labels, s=40, cmap=plt.cm.Spectral)


class Run(NamedTuple):
    """A model's data in its dtype, and its parameters and gradients as arenas with per-layer views."""

    dtype: np.dtype
    X: np.ndarray
    Y: np.ndarray
    params: np.ndarray
    Ws: tuple
    bs: tuple
    grads: np.ndarray
    dWs: tuple
    dbs: tuple


def _prepared_run(X, Y, parameters):
    # A model computes in X's dtype (float32 data trains in float32; the start is drawn in float64).
    layers = _core.check_parameters(parameters, n_x=X.shape[0])
    _core.check_output_rows(layers, Y)
    dtype = v.float_dtype(X)
    v.check_label_values("Y", Y, dtype)
    Xc, = _core.prepared(dtype, [("X", X)])
    Yc = v.prepare(Y, dtype)
    params, Ws, bs = _core.parameter_arena(layers, dtype)
    grads, dWs, dbs = _core.gradient_arena(layers, dtype)
    return Run(dtype, Xc, Yc, params, Ws, bs, grads, dWs, dbs)


def full_batch(X, Y, parameters, learning_rate, num_iterations, convention, lambd=0.0, keep_prob=1.0, masks=None,
               skip_nan=True, print_cost=False, print_every=1000, record_every=1000):
    """Full-batch gradient descent from ``parameters``; ``(trained parameters, recorded costs)``.

    The cost of iteration ``i`` (before its update) is printed when
    ``print_cost`` and ``i % print_every == 0`` as ``Cost after iteration i:
    cost`` and recorded when ``i % record_every == 0``.
    """
    lr = _core.check_learning_rate(learning_rate)
    num_iterations = v.non_negative_int("num_iterations", num_iterations)
    run = _prepared_run(X, Y, parameters)
    dtype, Xc, Yc, Ws = run.dtype, run.X, run.Y, run.Ws
    m = Xc.shape[1]
    Zs = tuple(np.empty((W.shape[0], m), dtype=dtype) for W in Ws)
    As = tuple(np.empty_like(Z) for Z in Zs)
    dZs = tuple(np.empty_like(Z) for Z in Zs)
    dAs = tuple(np.empty_like(Z) for Z in Zs)
    Ds = tuple(np.ascontiguousarray(D, dtype=dtype) for D in masks) if masks else Zs
    setting = (lr, float(keep_prob), float(lambd), float(bool(masks)), float(convention.scale_first),
               float(skip_nan))
    costs = np.empty(min(CHUNK, max(num_iterations, 1)))
    recorded = []
    with np.errstate(all="ignore"):
        for start in range(0, num_iterations, CHUNK):
            count = min(CHUNK, num_iterations - start)
            _core.full_batch_steps(Xc, Yc, (run.params, run.grads), (Ws, run.bs, run.dWs, run.dbs),
                                   (Zs, As, dZs, dAs), Ds, setting, count, costs)
            if np.inf in costs[:count]:
                v.warn_log_of_zero(np.inf)
            for i in range(start, start + count):
                if print_cost and i % print_every == 0:
                    print("Cost after iteration {}: {}".format(i, costs[i - start]))
                if i % record_every == 0:
                    recorded.append(costs[i - start])
    return _core.as_parameters(Ws, run.bs), recorded


def minibatch(X, Y, parameters, optimizer, learning_rate, mini_batch_size, beta, beta1, beta2, epsilon, num_epochs,
              print_cost, decay, decay_rate):
    """The optimization assignment's epochs; ``(trained parameters, costs of epochs 0, 100, ...)``."""
    lr0 = _core.check_learning_rate(learning_rate)
    batch = v.positive_int("mini_batch_size", mini_batch_size)
    num_epochs = v.non_negative_int("num_epochs", num_epochs)
    hyper = [v.finite_float(name, value) for name, value in
             (("beta", beta), ("beta1", beta1), ("beta2", beta2), ("epsilon", epsilon))]
    if decay is not None and not callable(decay):
        raise TypeError(f"decay must be None or a function (learning_rate0, epoch_num, decay_rate), got {decay!r}")
    code = _core.OPTIMIZERS[v.choice("optimizer", optimizer, tuple(_core.OPTIMIZERS))]
    if code == _core.ADAM and 1.0 in hyper[1:3]:
        raise ValueError(f"beta1 and beta2 must differ from 1 (Adam's bias correction divides by 1 - beta**t); got "
                         f"{hyper[1]}, {hyper[2]}")
    run = _prepared_run(X, Y, parameters)
    dtype, Xc, Yc, Ws = run.dtype, run.X, run.Y, run.Ws
    arenas = (run.params, run.grads, np.zeros_like(run.params), np.zeros_like(run.params))
    n_x, m = Xc.shape
    batch = min(batch, m)
    rows = [n_x, Yc.shape[0]] + [W.shape[0] for W in Ws] * 4
    flats = tuple(np.empty(r * batch, dtype=dtype) for r in rows)
    rows = np.array(rows, dtype=np.int64)
    learning_rate, seed, t, costs = lr0, 10, 0, []
    for i in range(num_epochs):
        seed += 1
        # The course's shuffle: NumPy's global generator, seeded per epoch.
        np.random.seed(seed)
        order = np.random.permutation(m)
        with np.errstate(all="ignore"):
            total, t = _core.minibatch_epoch(Xc, Yc, order, batch, arenas, (Ws, run.bs, run.dWs, run.dbs), flats,
                                             rows, (learning_rate,) + tuple(hyper), (code, t))
        cost_avg = total / m
        if decay is not None:
            learning_rate = v.finite_float("the learning rate decay returned", decay(lr0, i, decay_rate))
        if print_cost and i % 1000 == 0:
            print("Cost after epoch %i: %f" % (i, cost_avg))
            if decay is not None:
                print("learning rate after epoch %i: %f" % (i, learning_rate))
        if i % 100 == 0:
            costs.append(cost_avg)
    return _core.as_parameters(Ws, run.bs), costs
