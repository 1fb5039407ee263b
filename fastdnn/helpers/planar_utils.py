"""Week 3's ``planar_utils``: its decision-boundary plot, ``sigmoid`` and its two data sets' loaders."""

import numpy as np

from .. import validation as v
from ..logistic import sigmoid
from ..planar import load_extra_datasets, load_planar_dataset
from ..plots import pyplot

__all__ = ["plot_decision_boundary", "sigmoid", "load_planar_dataset", "load_extra_datasets"]


def plot_decision_boundary(model, X, y):
    """A 2-D classifier's regions and the points, drawn into pyplot's current axes, as the course draws them.

    Parameters
    ----------
    model : callable
        Takes an array of shape (k, 2), one point per row (the course's
        ``lambda x: predict(parameters, x.T)``), and returns k class values.
    X : array_like of shape (2, m)
    y : array_like of shape (1, m) or (m,)

    Notes
    -----
    The grid spans the points with a margin of 1 and a step of 0.01; the
    regions are filled with the Spectral colour map and the points scattered
    on top.  Nothing else is changed (no new figure, no title), so the
    course's sweep -- ``plt.subplot(5, 2, i + 1)`` then this -- fills its panels.
    :func:`fastdnn.plots.plot_decision_boundary` draws a figure of its own.
    """
    plt = pyplot()
    if not callable(model):
        raise TypeError(f"model must be callable, got {type(model).__name__}")
    X = v.as_array("X", X, ndim=2)
    if X.shape[0] != 2:
        raise ValueError(f"X must have shape (2, m), one point per column; got {X.shape}")
    step = 0.01
    xx, yy = np.meshgrid(np.arange(X[0].min() - 1, X[0].max() + 1, step),
                         np.arange(X[1].min() - 1, X[1].max() + 1, step))
    Z = np.asarray(model(np.c_[xx.ravel(), yy.ravel()]))
    if Z.size != xx.size:
        raise ValueError(f"model returned {Z.size} values for {xx.size} points: one class per row of its (k, 2) "
                         f"argument")
    plt.contourf(xx, yy, Z.reshape(xx.shape), cmap=plt.cm.Spectral)
    plt.ylabel("x2")
    plt.xlabel("x1")
    plt.scatter(X[0, :], X[1, :], c=np.ravel(y), cmap=plt.cm.Spectral)
