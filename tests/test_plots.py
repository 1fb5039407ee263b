"""fastdnn.plots renders real PNG files without a display."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastdnn import planar, plots

matplotlib = pytest.importorskip("matplotlib", reason="matplotlib (the 'plot' extra) draws the figures")
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import imread  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _read_png(path):
    with open(path, "rb") as f:
        assert f.read(8) == PNG_SIGNATURE, f"{path} is not a PNG file"
    pixels = imread(path)
    assert pixels.ndim == 3 and pixels.shape[2] in (3, 4)
    return pixels


def _drawn(pixels):
    """The image is not blank: it has several distinct colours."""
    return len(np.unique(pixels.reshape(-1, pixels.shape[2]), axis=0)) > 2


def test_headless_and_without_pyplot(tmp_path):
    # A fresh interpreter with no display: the figure is drawn by Agg and
    # pyplot (which would pick an interactive backend) is never imported.
    code = (
        "import sys; import fastdnn.plots as p; "
        "p.plot_costs([0.7, 0.5, 0.3], 0.01, path=sys.argv[1]); "
        "print('matplotlib.pyplot' in sys.modules)"
    )
    env = {k: val for k, val in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    path = tmp_path / "c.png"
    done = subprocess.run([sys.executable, "-c", code, str(path)], env=env, capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
    assert _drawn(_read_png(path))


def test_plot_costs_png(tmp_path):
    costs = [0.69, 0.58, 0.47, 0.38, 0.33, 0.30]
    path = tmp_path / "costs.png"
    fig = plots.plot_costs(costs, 0.005, path=path, figsize=(5, 4), dpi=80)
    assert isinstance(fig, Figure)
    pixels = _read_png(path)
    assert pixels.shape[:2] == (4 * 80, 5 * 80)
    assert _drawn(pixels)
    ax = fig.axes[0]
    assert ax.get_title() == "Learning rate =0.005"
    assert ax.get_xlabel() == "iterations (per hundreds)" and ax.get_ylabel() == "cost"
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), costs)


def test_plot_costs_without_path_saves_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fig = plots.plot_costs(np.array([[0.5], [0.4]]), 0.1, every=1000)
    assert list(tmp_path.iterdir()) == []
    assert fig.axes[0].get_xlabel() == "iterations (per 1000)"


def test_plot_costs_rejects_empty():
    with pytest.raises(ValueError, match="costs must be a non-empty"):
        plots.plot_costs([], 0.1)


def test_plot_decision_boundary_png(tmp_path):
    X, Y = planar.load_planar_dataset()
    params = planar.nn_model(X, Y, 4, num_iterations=300)
    path = tmp_path / "boundary.png"
    fig = plots.plot_decision_boundary(lambda x: planar.predict(params, x.T), X, Y, path=path, step=0.05,
                                       figsize=(6, 5), dpi=50)
    pixels = _read_png(path)
    assert pixels.shape[:2] == (5 * 50, 6 * 50)
    assert _drawn(pixels)
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x1", "x2")


def test_plot_decision_boundary_passes_rows_of_points():
    seen = {}

    def predict_fn(points):
        seen["shape"] = points.shape
        return points[:, 0] > points[:, 1]

    X = np.array([[0.0, 1.0, 2.0], [0.0, 2.0, 1.0]])
    plots.plot_decision_boundary(predict_fn, X, np.array([0, 1, 0]), step=0.5)
    assert seen["shape"][1] == 2 and seen["shape"][0] > 3


@pytest.mark.parametrize(
    "kwargs, err, pattern",
    [
        ({"predict_fn": None}, TypeError, "predict_fn must be callable"),
        ({"X": np.zeros((3, 4))}, ValueError, r"X must have shape \(2, m\)"),
        ({"y": np.zeros(3)}, ValueError, "one label per column"),
        ({"step": 0.0}, ValueError, "step must be positive"),
        ({"step": 1e-6}, ValueError, "pass a larger step"),
        ({"predict_fn": lambda p: np.zeros(3)}, ValueError, "predict_fn returned 3 values"),
    ],
)
def test_plot_decision_boundary_rejects_bad_input(kwargs, err, pattern):
    args = {"predict_fn": lambda p: p[:, 0] > 0, "X": np.array([[0.0, 1, 2, 3], [1.0, 0, 1, 0]]),
            "y": np.array([[0, 1, 0, 1]]), "step": 0.1}
    args.update(kwargs)
    with pytest.raises(err, match=pattern):
        plots.plot_decision_boundary(**args)


def _images(rng, m=7):
    originals = rng.integers(0, 256, (m, 8, 6, 3), dtype=np.uint8)
    flat = originals.reshape(m, -1).T / 255.0
    return originals, flat


def test_print_mislabeled_images_png(rng, tmp_path):
    _, X = _images(rng)
    y = np.array([[1, 0, 1, 0, 1, 0, 1]])
    p = np.array([[0, 0, 1, 1, 0, 0, 0]])  # 4 mislabeled: columns 0, 3, 4, 6
    classes = np.array([b"non-cat", b"cat"])
    path = tmp_path / "wrong.png"
    fig = plots.print_mislabeled_images(classes, X, y, p, path=path, image_shape=(8, 6, 3), columns=3, dpi=40)
    pixels = _read_png(path)
    # 4 images in rows of 3: 3 x 2 cells of 2 x 2.4 inches.
    assert pixels.shape[:2] == (round(2 * 2.4 * 40), 3 * 2 * 40)
    assert _drawn(pixels)
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == 4
    assert titles[0] == "Prediction: non-cat \n Class: cat"
    assert titles[1] == "Prediction: cat \n Class: non-cat"


def test_print_mislabeled_images_shows_the_right_pixels(rng):
    originals, X = _images(rng, m=3)
    y, p = np.array([[0, 1, 0]]), np.array([[0, 0, 0]])
    fig = plots.print_mislabeled_images(["a", "b"], X, y, p, image_shape=(8, 6, 3))
    shown = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(shown, originals[1] / 255.0)
    # The original (m, h, w, c) images work too, and num limits the count.
    fig = plots.print_mislabeled_images(["a", "b"], originals, np.array([[0, 1, 1]]), np.array([[1, 0, 0]]), num=2)
    assert len(fig.axes) == 2
    np.testing.assert_array_equal(fig.axes[1].images[0].get_array(), originals[1])


def test_print_mislabeled_images_none_wrong(rng, tmp_path):
    _, X = _images(rng, m=2)
    path = tmp_path / "none.png"
    plots.print_mislabeled_images(["a", "b"], X, np.array([[0, 1]]), np.array([[0, 1]]), path=path,
                                  image_shape=(8, 6, 3), dpi=50)
    assert _read_png(path).shape[:2] == (round(2.4 * 50), 2 * 50)


def test_print_mislabeled_images_rejects_bad_input(rng):
    _, X = _images(rng, m=2)
    with pytest.raises(ValueError, match="an image of shape"):
        plots.print_mislabeled_images(["a", "b"], X, np.array([[0, 1]]), np.array([[1, 1]]))
    with pytest.raises(ValueError, match="one label per image"):
        plots.print_mislabeled_images(["a", "b"], X, np.array([[0, 1, 0]]), np.array([[1, 1]]), image_shape=(8, 6, 3))
    with pytest.raises(ValueError, match="no name in classes"):
        plots.print_mislabeled_images(["a"], X, np.array([[0, 1]]), np.array([[1, 1]]), image_shape=(8, 6, 3))


def test_missing_matplotlib_gives_a_clear_message(monkeypatch):
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # "import matplotlib" now fails
    with pytest.raises(ImportError, match=r"pip install 'fastdnn\[plot\]'"):
        plots.plot_costs([0.5], 0.1)
