"""The course's figures: learning curve, decision boundary, mislabeled images.

matplotlib is an optional dependency (the ``plot`` extra), imported when a
function is called.  The figures are built on :class:`matplotlib.figure.Figure`
with the Agg canvas, never through ``pyplot``: nothing needs a display,
nothing is added to pyplot's list of open figures, and a notebook shows a
returned figure by itself (or with ``display(fig)``).

Every function returns the figure and, when given a ``path``, saves it there
(PNG unless the path's extension names another format) at exactly
``figsize * dpi`` pixels.
"""

import numpy as np

from . import validation as v

__all__ = ["plot_costs", "plot_decision_boundary", "print_mislabeled_images"]

#: Above this many grid points :func:`plot_decision_boundary` asks for a coarser step.
MAX_GRID_POINTS = 25_000_000


def pyplot():
    """``matplotlib.pyplot``, for the course's functions that draw into the current figure, or an ImportError
    naming the extra."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plotting needs matplotlib, an optional dependency: pip install 'fastdnn[plot]'") from None
    return plt


def _new_figure(figsize, dpi):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plotting needs matplotlib, an optional dependency: pip install 'fastdnn[plot]'") from None
    if len(figsize) != 2:
        raise ValueError(f"figsize must be (width, height) in inches, got {figsize!r}")
    width = v.finite_float("figsize[0]", figsize[0], minimum=0.1)
    height = v.finite_float("figsize[1]", figsize[1], minimum=0.1)
    dpi = v.positive_int("dpi", dpi)
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def _finish(fig, path):
    if path is not None:
        # dpi given explicitly: savefig's own default could differ (rcParams).
        fig.savefig(path, dpi=fig.dpi)
    return fig


def plot_costs(costs, learning_rate, path=None, every=100, figsize=(6.4, 4.8), dpi=100):
    """Learning curve: the recorded costs against the iterations.

    Parameters
    ----------
    costs : sequence of float of length k
        A cost every ``every`` iterations (what the course's models return).
    learning_rate : float
        Shown in the title, ``Learning rate =0.0075`` as in the course.
    path : str or path-like, optional
        Save the figure there.
    every : int, default 100
        Iterations between two recorded costs; labels the x axis.
    figsize : (float, float), default (6.4, 4.8)
        Inches.
    dpi : int, default 100

    Returns
    -------
    matplotlib.figure.Figure
    """
    values = np.atleast_1d(np.squeeze(v.as_array("costs", costs))).astype(np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"costs must be a non-empty sequence of numbers, got shape {np.shape(costs)}")
    every = v.positive_int("every", every)
    fig = _new_figure(figsize, dpi)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(np.arange(values.size), values)
    ax.set_ylabel("cost")
    ax.set_xlabel("iterations (per hundreds)" if every == 100 else f"iterations (per {every})")
    ax.set_title("Learning rate =" + str(learning_rate))
    return _finish(fig, path)


def plot_decision_boundary(predict_fn, X, y, path=None, step=0.01, margin=1.0, figsize=(6.4, 4.8), dpi=100):
    """Regions of a 2-D classifier with the data points on top.

    Parameters
    ----------
    predict_fn : callable
        Takes an array of shape (k, 2), one point per row (the course's
        ``lambda x: predict(parameters, x.T)``), and returns k class values.
    X : array_like of shape (2, m)
        The points, one per column.
    y : array_like of shape (1, m) or (m,)
        Their labels (the points' colours).
    path : str or path-like, optional
    step : float, default 0.01
        Spacing of the evaluation grid.
    margin : float, default 1.0
        Space around the points.
    figsize : (float, float), default (6.4, 4.8)
    dpi : int, default 100

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not callable(predict_fn):
        raise TypeError(f"predict_fn must be callable, got {type(predict_fn).__name__}")
    X_arr = v.as_array("X", X, ndim=2)
    if X_arr.shape[0] != 2 or X_arr.shape[1] == 0:
        raise ValueError(f"X must have shape (2, m) with m >= 1, one 2-D point per column; got {X_arr.shape}")
    y_arr = v.as_array("y", y).reshape(-1)
    if y_arr.size != X_arr.shape[1]:
        raise ValueError(f"y of shape {np.shape(y)} must hold one label per column of X {X_arr.shape}")
    step = v.finite_float("step", step)
    margin = v.finite_float("margin", margin, minimum=0.0)
    if step <= 0:
        raise ValueError(f"step must be positive, got {step}")
    Xf = X_arr.astype(np.float64)
    v.check_finite("X", Xf)
    x_min, x_max = Xf[0].min() - margin, Xf[0].max() + margin
    y_min, y_max = Xf[1].min() - margin, Xf[1].max() + margin
    n_points = (int((x_max - x_min) / step) + 1) * (int((y_max - y_min) / step) + 1)
    if n_points > MAX_GRID_POINTS:
        raise ValueError(
            f"a grid of step {step} over [{x_min:.3g}, {x_max:.3g}] x [{y_min:.3g}, {y_max:.3g}] has {n_points} "
            f"points (more than {MAX_GRID_POINTS}); pass a larger step"
        )
    xx, yy = np.meshgrid(np.arange(x_min, x_max, step), np.arange(y_min, y_max, step))
    Z = np.asarray(predict_fn(np.c_[xx.ravel(), yy.ravel()]))
    if Z.size != xx.size:
        raise ValueError(
            f"predict_fn returned {Z.size} values for {xx.size} points: it must return one class per row of "
            f"its (k, 2) argument"
        )
    Z = Z.astype(np.float64).reshape(xx.shape)
    fig = _new_figure(figsize, dpi)
    ax = fig.add_subplot(1, 1, 1)
    ax.contourf(xx, yy, Z, cmap="Spectral")
    ax.scatter(Xf[0], Xf[1], c=y_arr.astype(np.float64), cmap="Spectral", s=12, edgecolors="none")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    return _finish(fig, path)


def _class_name(classes, label):
    name = classes[int(label)]
    if isinstance(name, (bytes, np.bytes_)):
        return name.decode("utf-8")
    return str(name)


def _displayable(image):
    """An image ``imshow`` shows as the course does: floats in [0, 1] or uint8."""
    if image.dtype.kind == "f":
        if image.size and np.nanmax(image) > 1.0:  # not standardized: 0..255 floats
            image = image / 255.0
        return np.clip(image, 0.0, 1.0)
    return np.clip(image, 0, 255).astype(np.uint8)


def print_mislabeled_images(classes, X, y, p, path=None, num=None, image_shape=(64, 64, 3), columns=5, dpi=100):
    """The images whose prediction differs from the label, with both as titles.

    Parameters
    ----------
    classes : sequence of length k
        Class names by label (bytes, as in the course's ``.h5`` files, or str).
    X : array_like of shape (h*w*c, m) or (m, h, w, c)
        The images: flattened columns (standardized or not) or the originals.
    y : array_like of shape (1, m)
        True labels.
    p : array_like of shape (1, m)
        Predicted labels.
    path : str or path-like, optional
    num : int, optional
        Show at most this many (default: all).
    image_shape : tuple of int, default (64, 64, 3)
        Shape of one image when ``X`` is flattened.
    columns : int, default 5
        Images per row of the figure.
    dpi : int, default 100

    Returns
    -------
    matplotlib.figure.Figure
        ``min(n, columns)`` by ``ceil(n / columns)`` cells of 2 x 2.4
        inches for ``n`` mislabeled images (one cell with a note when there
        is none).
    """
    X_arr = v.as_array("X", X)
    y_arr = v.as_array("y", y).reshape(-1)
    p_arr = v.as_array("p", p).reshape(-1)
    if X_arr.ndim == 2:
        shape = tuple(v.positive_int(f"image_shape[{i}]", s) for i, s in enumerate(image_shape))
        if X_arr.shape[0] != int(np.prod(shape)):
            raise ValueError(
                f"X has {X_arr.shape[0]} rows but an image of shape {shape} has {int(np.prod(shape))} values"
            )
        m = X_arr.shape[1]
    elif X_arr.ndim in (3, 4):
        m = X_arr.shape[0]
    else:
        raise ValueError(f"X must be flattened images (h*w*c, m) or images (m, h, w[, c]); got shape {X_arr.shape}")
    if y_arr.size != m or p_arr.size != m:
        raise ValueError(f"y ({np.shape(y)}) and p ({np.shape(p)}) must hold one label per image ({m} images)")
    columns = v.positive_int("columns", columns)
    wrong = np.flatnonzero(p_arr != y_arr)
    if num is not None:
        wrong = wrong[: v.non_negative_int("num", num)]
    for label in np.concatenate([y_arr[wrong], p_arr[wrong]]):
        if not 0 <= int(label) < len(classes):
            raise ValueError(f"label {label} has no name in classes (of length {len(classes)})")

    n_cols = max(1, min(len(wrong), columns))
    n_rows = max(1, -(-len(wrong) // columns))
    fig = _new_figure((2.0 * n_cols, 2.4 * n_rows), dpi)
    if len(wrong) == 0:
        ax = fig.add_subplot(1, 1, 1)
        ax.text(0.5, 0.5, "no mislabeled images", ha="center", va="center")
        ax.axis("off")
    for k, index in enumerate(wrong):
        image = X_arr[:, index].reshape(shape) if X_arr.ndim == 2 else X_arr[index]
        ax = fig.add_subplot(n_rows, n_cols, k + 1)
        ax.imshow(_displayable(image), interpolation="nearest")
        ax.axis("off")
        ax.set_title(
            "Prediction: " + _class_name(classes, p_arr[index]) + " \n Class: " + _class_name(classes, y_arr[index]),
            fontsize=8,
        )
    return _finish(fig, path)
