"""fastdnn.images: the course's image layout, and reading one picture with Pillow."""

import sys

import numpy as np
import pytest
from conftest import rtol_for

from fastdnn import images


def test_flatten_is_the_course_reshape_without_a_copy(rng):
    originals = rng.integers(0, 256, (5, 4, 3, 3), dtype=np.uint8)
    flat = images.flatten(originals)
    assert flat.shape == (36, 5) and flat.dtype == np.uint8
    np.testing.assert_array_equal(flat, originals.reshape(originals.shape[0], -1).T)
    assert np.shares_memory(flat, originals)
    np.testing.assert_array_equal(flat[:, 2], originals[2].ravel())


def test_flatten_rejects_a_single_vector():
    with pytest.raises(ValueError, match="images must have shape"):
        images.flatten(np.zeros(5))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_standardize(rng, dtype):
    pixels = rng.integers(0, 256, (12, 3), dtype=np.uint8)
    out = images.standardize(pixels, dtype=dtype)
    assert out.dtype == dtype and out.shape == pixels.shape
    np.testing.assert_allclose(out, pixels / 255.0, rtol=rtol_for(dtype))
    assert out.min() >= 0 and out.max() <= 1
    assert not np.shares_memory(out, pixels)
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        images.standardize(pixels, dtype=np.int32)


def test_unflatten_inverts_flatten(rng):
    originals = rng.integers(0, 256, (3, 4, 5, 3), dtype=np.uint8)
    back = images.unflatten(images.flatten(originals), image_shape=(4, 5, 3))
    np.testing.assert_array_equal(back, originals)
    with pytest.raises(ValueError, match="an image of shape"):
        images.unflatten(images.flatten(originals), image_shape=(4, 4, 3))


def test_image2vector():
    image = np.arange(3 * 3 * 2).reshape(3, 3, 2)
    v = images.image2vector(image)
    assert v.shape == (18, 1)
    np.testing.assert_array_equal(v[:, 0], image.ravel())
    with pytest.raises(ValueError, match="height, width, channels"):
        images.image2vector(np.zeros((3, 3)))


# ---------------------------------------------------------------- load_image

PIL = pytest.importorskip("PIL", reason="Pillow (the 'image' extra) reads image files")
from PIL import Image  # noqa: E402


@pytest.fixture
def picture(rng, tmp_path):
    pixels = rng.integers(0, 256, (30, 20, 3), dtype=np.uint8)  # height 30, width 20
    path = tmp_path / "mine.png"
    Image.fromarray(pixels).save(path)
    return path, pixels


def test_load_image_keeps_the_size_and_the_pixels(picture):
    path, pixels = picture
    column = images.load_image(path, size=None)
    assert column.shape == (30 * 20 * 3, 1) and column.dtype == np.float64
    np.testing.assert_array_equal(column, pixels.reshape(-1, 1) / 255.0)
    raw = images.load_image(path, size=None, standardized=False)
    assert raw.dtype == np.uint8
    np.testing.assert_array_equal(raw[:, 0], pixels.ravel())


def test_load_image_resizes_like_the_course(picture):
    path, _ = picture
    column = images.load_image(path)  # the course's 64 x 64
    expected = np.array(Image.open(path).resize((64, 64))) / 255.0
    assert column.shape == (64 * 64 * 3, 1)
    np.testing.assert_array_equal(column, expected.reshape(-1, 1))
    # (height, width): a non-square size lands in the right order.
    tall = images.load_image(path, size=(10, 4), dtype=np.float32)
    assert tall.dtype == np.float32
    expected = np.array(Image.open(path).resize((4, 10)))
    np.testing.assert_allclose(images.unflatten(tall, (10, 4, 3))[0], expected / 255.0, rtol=1e-6)


@pytest.mark.parametrize("mode", ["L", "RGBA"])
def test_load_image_converts_to_rgb(rng, tmp_path, mode):
    shape = (6, 5) if mode == "L" else (6, 5, 4)
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    path = tmp_path / f"pic_{mode}.png"
    Image.fromarray(pixels, mode=mode).save(path)
    column = images.load_image(path, size=None, standardized=False)
    assert column.shape == (6 * 5 * 3, 1)
    rgb = column.reshape(6, 5, 3)
    if mode == "L":
        for c in range(3):
            np.testing.assert_array_equal(rgb[..., c], pixels)
    else:
        np.testing.assert_array_equal(rgb, pixels[..., :3])


def test_load_image_errors(picture, tmp_path):
    path, _ = picture
    with pytest.raises(ValueError, match="size must be"):
        images.load_image(path, size=(64,))
    with pytest.raises(ValueError, match="size"):
        images.load_image(path, size=(0, 64))
    with pytest.raises(FileNotFoundError):
        images.load_image(tmp_path / "absent.png")


def test_missing_pillow_gives_a_clear_message(picture, monkeypatch):
    path, _ = picture
    for name in list(sys.modules):
        if name == "PIL" or name.startswith("PIL."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"pip install 'fastdnn\[image\]'"):
        images.load_image(path)
