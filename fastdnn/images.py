"""Images in the course's layout: one flattened image per column, values in [0, 1].

The course turns ``(m, height, width, channels)`` image arrays into a
``(height*width*channels, m)`` matrix and divides by 255; "try your own
picture" loads one file into a single such column.  Reading files needs
Pillow, an optional dependency (the ``image`` extra), imported when
:func:`load_image` is called.

The order of the values in a column is row-major over ``(height, width,
channels)`` everywhere, so :func:`flatten`, :func:`image2vector`,
:func:`load_image` and :func:`unflatten` agree with each other and with the
course's ``reshape``.
"""

import numpy as np

from . import validation as v

__all__ = ["flatten", "standardize", "unflatten", "image2vector", "load_image"]


def flatten(images):
    """Images as columns: ``(m, h, w, c)`` to ``(h*w*c, m)``.

    Parameters
    ----------
    images : array_like of shape (m, h, w, c)
        Any number of dimensions after the first (the examples).

    Returns
    -------
    ndarray of shape (h*w*c, m)
        A view of ``images`` when its memory allows (as the course's
        ``images.reshape(m, -1).T``), else a copy; the dtype is kept.
    """
    arr = v.as_array("images", images)
    if arr.ndim < 2:
        raise ValueError(f"images must have shape (m, ...) with at least 2 dimensions, got shape {arr.shape}")
    return arr.reshape(arr.shape[0], -1).T


def standardize(X, dtype=np.float64):
    """Pixel values divided by 255, into [0, 1].

    Parameters
    ----------
    X : array_like of any shape
        Pixel values in [0, 255] (``uint8`` as read from files).
    dtype : {np.float64, np.float32}, default np.float64

    Returns
    -------
    ndarray of the shape of X
        A new array of ``dtype``.

    Notes
    -----
    .. math:: x \\leftarrow x / 255
    """
    arr = v.as_array("X", X)
    dtype = np.dtype(dtype)
    if dtype not in v.FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    return np.divide(arr, 255, dtype=dtype)


def unflatten(X, image_shape=(64, 64, 3)):
    """Columns back to images: ``(h*w*c, m)`` to ``(m, h, w, c)``.

    Parameters
    ----------
    X : array_like of shape (h*w*c, m)
    image_shape : tuple of int, default (64, 64, 3)

    Returns
    -------
    ndarray of shape (m,) + image_shape
        A view when the memory allows (the inverse of :func:`flatten`).
    """
    arr = v.as_array("X", X, ndim=2)
    shape = tuple(v.positive_int(f"image_shape[{i}]", s) for i, s in enumerate(image_shape))
    if arr.shape[0] != int(np.prod(shape)):
        raise ValueError(f"X has {arr.shape[0]} rows but an image of shape {shape} has {int(np.prod(shape))} values")
    return arr.T.reshape((arr.shape[1],) + shape)


def image2vector(image):
    """One image as one column: ``(h, w, c)`` to ``(h*w*c, 1)`` (the course's week-2 exercise).

    Parameters
    ----------
    image : array_like of shape (h, w, c)

    Returns
    -------
    ndarray of shape (h*w*c, 1)
    """
    arr = v.as_array("image", image)
    if arr.ndim != 3:
        raise ValueError(f"image must have shape (height, width, channels), got shape {arr.shape}")
    return arr.reshape(arr.size, 1)


def load_image(path, size=(64, 64), standardized=True, dtype=np.float64):
    """Read an image file as one column of the course's layout ("try your own picture").

    Parameters
    ----------
    path : str or path-like
        Any format Pillow reads (PNG, JPEG, ...).
    size : (int, int) or None, default (64, 64)
        ``(height, width)`` to resize to (the course's ``num_px``); ``None``
        keeps the file's size.
    standardized : bool, default True
        Divide by 255, as the course does before predicting.
    dtype : {np.float64, np.float32}, default np.float64
        Of the result when ``standardized``; otherwise it is ``uint8``.

    Returns
    -------
    ndarray of shape (height*width*3, 1)
        RGB values (a grey or a transparent image is converted to RGB,
        transparency dropped).
    """
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("load_image needs Pillow, an optional dependency: pip install 'fastdnn[image]'") from None
    if size is not None:
        if len(size) != 2:
            raise ValueError(f"size must be (height, width), got {size!r}")
        height = v.positive_int("size[0]", size[0])
        width = v.positive_int("size[1]", size[1])
    with Image.open(path) as img:
        rgb = img.convert("RGB")
        if size is not None and rgb.size != (width, height):
            rgb = rgb.resize((width, height))  # Pillow takes (width, height)
        pixels = np.asarray(rgb, dtype=np.uint8)
    column = image2vector(pixels)
    return standardize(column, dtype) if standardized else column.copy()
