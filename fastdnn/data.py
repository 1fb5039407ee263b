"""Loading the data sets the course and the benchmarks use.

Every loader returns arrays with **one example per row** (the layout files
store and scikit-learn uses); :class:`fastdnn.Network` reads them through
their transpose ``X.T`` without a copy.  Errors name the file and say what is
wrong with it (missing, not of the format, truncated).
"""

from __future__ import annotations

import gzip
import os
import tokenize
import zipfile
import zlib

import numpy as np

# NumPy parses an .npy header as a Python literal: a damaged one can fail in
# the tokenizer or the parser rather than with a ValueError.
_BAD_HEADER = (SyntaxError, tokenize.TokenError)


def _require_h5py(what):
    try:
        import h5py
    except ImportError:
        raise ImportError(f"{what} needs h5py, an optional dependency: pip install 'fastdnn[data]'") from None
    return h5py


def _read_h5(path, keys):
    h5py = _require_h5py("reading the course's .h5 files")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in keys if k not in f]
            if missing:
                raise ValueError(f"{path} is not one of the course's data files: it has no {missing}")
            return [np.array(f[k][:]) for k in keys]
    except OSError as exc:
        raise OSError(f"cannot read {path} as HDF5: {exc}") from None


def load_catvnoncat(directory: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The course's cat/non-cat images.

    Parameters
    ----------
    directory : str or path
        Folder holding ``train_catvnoncat.h5`` and ``test_catvnoncat.h5``.

    Returns
    -------
    train_x_orig : ndarray of shape (209, 64, 64, 3), uint8
    train_y : ndarray of shape (1, 209), int64
    test_x_orig : ndarray of shape (50, 64, 64, 3), uint8
    test_y : ndarray of shape (1, 50), int64
    classes : ndarray of shape (2,), bytes
    """
    train_x, train_y = _read_h5(os.path.join(directory, "train_catvnoncat.h5"), ["train_set_x", "train_set_y"])
    test_x, test_y, classes = _read_h5(
        os.path.join(directory, "test_catvnoncat.h5"), ["test_set_x", "test_set_y", "list_classes"]
    )
    return train_x, train_y.reshape(1, -1), test_x, test_y.reshape(1, -1), classes


# ---------------------------------------------------------------- generic formats


def _require_file(path: str | os.PathLike) -> str:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a folder, not a data file")
    return path


def load_npz(path: str | os.PathLike, x_key: str = "X",
             y_key: str | None = "y") -> tuple[np.ndarray, np.ndarray | None]:
    """Inputs and labels from a NumPy ``.npz`` archive.

    Parameters
    ----------
    path : str or path
    x_key : str, default "X"
        Name of the inputs in the archive.
    y_key : str or None, default "y"
        Name of the labels; ``None`` to read the inputs only.

    Returns
    -------
    X : ndarray of shape (m, ...)
        One example per row, as stored.
    y : ndarray of shape (m,) or (m, k), or None

    Raises
    ------
    FileNotFoundError
    ValueError
        Not an ``.npz`` archive, truncated, a key missing (the message lists
        the keys there are), or ``X`` and ``y`` of different lengths.
    """
    return _load_npz(path, x_key, y_key, True)


def _load_npz(path, x_key, y_key, y_required):
    path = _require_file(path)
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError(f"{path} holds a single array (.npy), not an .npz archive of named arrays")
        with archive:
            if not y_required and y_key not in archive.files:
                y_key = None
            missing = [k for k in (x_key, y_key) if k is not None and k not in archive.files]
            if missing:
                raise ValueError(
                    f"{path} has no array named {missing[0]!r}; it has: {', '.join(archive.files) or 'nothing'}"
                )
            X = archive[x_key]
            y = archive[y_key] if y_key is not None else None
    except ValueError as exc:
        if str(exc).startswith(path):
            raise
        raise ValueError(f"cannot read {path} as an .npz archive (damaged or truncated?): {exc}") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) + _BAD_HEADER as exc:
        raise ValueError(f"cannot read {path} as an .npz archive (damaged or truncated?): {exc}") from None
    _check_lengths(path, X, y)
    return X, y


def load_npy(path: str | os.PathLike, mmap: bool = True) -> np.ndarray:
    """One array from a NumPy ``.npy`` file, memory-mapped by default.

    Parameters
    ----------
    path : str or path
    mmap : bool, default True
        Map the file read-only instead of reading it: only the pages a batch
        touches are read, so a data set larger than memory can be trained on
        (:meth:`fastdnn.Network.fit` gathers each batch from the map).

    Returns
    -------
    ndarray (a read-only ``np.memmap`` when ``mmap``)

    Raises
    ------
    FileNotFoundError
    ValueError
        Not a ``.npy`` file or truncated.
    """
    path = _require_file(path)
    try:
        arr = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) + _BAD_HEADER as exc:
        raise ValueError(f"cannot read {path} as a .npy array (not a .npy file, or truncated?): {exc}") from None
    if not isinstance(arr, np.ndarray):
        arr.close()
        raise ValueError(f"{path} is an .npz archive; use load_npz")
    return arr


# ---------------------------------------------------------------- the course's HDF5 files


def load_h5(path: str | os.PathLike, x_key: str | None = None,
            y_key: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and labels from one of the course's ``.h5`` files (cat/non-cat, SIGNS).

    Parameters
    ----------
    path : str or path
    x_key, y_key : str, optional
        Dataset names; by default the one name ending in ``_x`` and the one
        ending in ``_y`` (``train_set_x``/``train_set_y``,
        ``test_set_x``/``test_set_y``).

    Returns
    -------
    X : ndarray of shape (m, height, width, channels), uint8
    y : ndarray of shape (m,)

    Raises
    ------
    FileNotFoundError
    ValueError
        Not an HDF5 file, or no (single) inputs/labels dataset.
    ImportError
        h5py, the ``data`` extra, is not installed.
    """
    h5py = _require_h5py("reading the course's .h5 files")
    path = _require_file(path)
    try:
        with h5py.File(path, "r") as f:
            names = [k for k in f.keys() if isinstance(f[k], h5py.Dataset)]
            x_key = x_key or _one_name(path, names, "_x")
            y_key = y_key or _one_name(path, names, "_y")
            for key in (x_key, y_key):
                if key not in names:
                    raise ValueError(f"{path} has no dataset {key!r}; it has: {', '.join(names)}")
            X = np.array(f[x_key][:])
            y = np.array(f[y_key][:]).reshape(-1)
    except ValueError as exc:
        if str(exc).startswith(path):
            raise
        raise ValueError(f"cannot read {path} as HDF5 (damaged or truncated?): {exc}") from None
    except (OSError, KeyError, RuntimeError) as exc:
        # h5py reports some damaged internals as RuntimeError ("bad local heap signature").
        raise ValueError(f"cannot read {path} as an HDF5 file (not HDF5, damaged or truncated?): {exc}") from None
    _check_lengths(path, X, y)
    return X, y


def _one_name(path, names, suffix):
    found = [k for k in names if k.endswith(suffix)]
    if len(found) != 1:
        raise ValueError(
            f"{path}: expected exactly one dataset whose name ends in {suffix!r}, found {found or 'none'} "
            f"among {', '.join(names)}; name it with x_key/y_key"
        )
    return found[0]


# ---------------------------------------------------------------- idx (the handwritten digits)

#: idx type codes -> big-endian NumPy dtypes.
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def load_idx(path: str | os.PathLike, mmap: bool = True) -> np.ndarray:
    """An array from an idx file, the format of the classic handwritten-digit data (``.gz`` or not).

    The header is big-endian: two zero bytes, a type code (``0x08`` unsigned
    byte ... ``0x0E`` float64), the number of dimensions, then each
    dimension as a 4-byte unsigned integer; the data follow.

    Parameters
    ----------
    path : str or path
        ``*.gz`` files are decompressed in memory.
    mmap : bool, default True
        Map an uncompressed file instead of reading it.

    Returns
    -------
    ndarray
        For example ``(10000, 28, 28)`` uint8 images or ``(10000,)`` uint8 labels,
        in native byte order.

    Raises
    ------
    FileNotFoundError
    ValueError
        A bad magic number, an unknown type code, or fewer data bytes than the
        header announces (truncated); the message names the file.
    """
    path = _require_file(path)
    compressed = path.endswith(".gz")
    try:
        if compressed:
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            with open(path, "rb") as f:
                raw = f.read(4 + 4 * 255)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"cannot read {path}: damaged or truncated gzip data ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an idx file: it does not start with the idx magic number (00 00 type ndim)")
    type_code, ndim = raw[2], raw[3]
    if type_code not in _IDX_TYPES:
        raise ValueError(f"{path} is not an idx file: unknown type code 0x{type_code:02x}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path} is truncated: its header announces {ndim} dimensions but ends early")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[type_code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    available = (len(raw) if compressed else os.path.getsize(path)) - header
    if available < expected:
        raise ValueError(
            f"{path} is truncated: its header announces shape {shape} ({expected} bytes of data), "
            f"but only {available} bytes follow"
        )
    if compressed:
        arr = np.frombuffer(raw, dtype=dtype, count=expected // dtype.itemsize, offset=header).reshape(shape)
    elif mmap and expected > 0:
        arr = np.memmap(path, dtype=dtype, mode="r", offset=header, shape=shape)
    else:
        arr = np.fromfile(path, dtype=dtype, count=expected // dtype.itemsize, offset=header).reshape(shape)
    if dtype.itemsize > 1:
        arr = arr.astype(dtype.newbyteorder("="))
    return arr


def idx_labels_path(images_path: str | os.PathLike) -> str | None:
    """The labels file beside an idx images file: ``...-images-idx3-ubyte[.gz]`` -> ``...-labels-idx1-ubyte[.gz]``.

    Returns
    -------
    str or None
        ``None`` when the name does not follow the convention or the file is absent.
    """
    directory, name = os.path.split(os.fspath(images_path))
    if "images-idx3" not in name:
        return None
    candidate = os.path.join(directory, name.replace("images-idx3", "labels-idx1"))
    return candidate if os.path.exists(candidate) else None


# ---------------------------------------------------------------- any of them


#: File kinds :func:`load_data` recognises, by suffix.
FORMATS = {
    ".npz": "NumPy archive with arrays X (inputs) and y (labels)",
    ".npy": "NumPy array of inputs, memory-mapped; labels from a second .npy file",
    ".h5": "the course's HDF5 files (train_set_x/train_set_y or test_set_x/test_set_y)",
    ".idx": "idx files of the handwritten digits (…-images-idx3-ubyte[.gz] with its …-labels-idx1-ubyte[.gz])",
    ".csv": "comma-separated numbers, a header row or not; the labels in one column (the last by default)",
}


def data_format(path: str | os.PathLike) -> str:
    """The kind of a data file by its name: ``"npz"``, ``"npy"``, ``"h5"`` or ``"idx"``.

    Raises
    ------
    ValueError
        An unrecognised name; the message lists the formats.
    """
    name = os.path.basename(os.fspath(path)).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith(".npz"):
        return "npz"
    if name.endswith(".npy"):
        return "npy"
    if name.endswith((".h5", ".hdf5")):
        return "h5"
    if name.endswith(".idx") or "-idx" in name or name.endswith("ubyte"):
        return "idx"
    if name.endswith(".csv"):
        return "csv"
    kinds = "; ".join(f"{suffix}: {text}" for suffix, text in FORMATS.items())
    raise ValueError(f"cannot tell the format of {path} from its name. Known formats -- {kinds}")


def _csv_rows(path):
    import csv

    opener = gzip.open if os.fspath(path).lower().endswith(".gz") else open
    with opener(_require_file(path), "rt", newline="", encoding="utf-8-sig") as f:  # a BOM is not data
        return [row for row in csv.reader(f) if row and any(cell.strip() for cell in row)]


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def load_csv(path: str | os.PathLike, label_column: int | str | None = -1) -> tuple[np.ndarray, np.ndarray | None]:
    """Inputs and labels from a CSV file of numbers, one example per row.

    Parameters
    ----------
    path : str or path
        ``.csv`` or ``.csv.gz``.  A first row with a field that is not a
        number is the header.
    label_column : int, str or None, default -1
        The labels' column: an index (negative from the end) or a header
        name; ``None`` for a file of inputs only.

    Returns
    -------
    X : ndarray of shape (m, n), float64
    y : ndarray of shape (m,) or None
        Numbers when every label is one, else the labels' text.

    Raises
    ------
    ValueError
        Rows of different lengths, a field of the inputs that is not a
        number (the message names its row and column), an unknown column.
    """
    rows = _csv_rows(path)
    if not rows:
        raise ValueError(f"{path} holds no rows")
    if len(rows[0]) == 1 and ";" in rows[0][0]:
        raise ValueError(f"{path} has one column and semicolons: fastdnn reads comma-separated files")
    # A header names the columns: a field of the first row that is not a number, the label's aside
    # (a file without a header may have text labels: "5.1,3.5,1.4,0.2,Iris-setosa").
    first = rows[0]
    named = isinstance(label_column, str) and not label_column.lstrip("-").isdigit()
    label_index = None
    if label_column is not None and not named:
        label_index = int(label_column) % len(first) if -len(first) <= int(label_column) < len(first) else None
    has_header = named or any(not _is_number(cell) for j, cell in enumerate(first) if j != label_index)
    header = [cell.strip() for cell in first] if has_header else None
    body = rows[1:] if header else rows
    if not body:
        raise ValueError(f"{path} holds a header and no examples")
    width = len(rows[0])
    for k, row in enumerate(body, start=2 if header else 1):
        if len(row) != width:
            raise ValueError(f"{path}, row {k}: {len(row)} fields where the first row has {width}")
    column = None
    if label_column is not None:
        if isinstance(label_column, str) and not label_column.lstrip("-").isdigit():
            if header is None or label_column not in header:
                raise ValueError(f"{path} has no column named {label_column!r}; its columns: {header or 'unnamed'}")
            column = header.index(label_column)
        else:
            column = int(label_column)
            if not -width <= column < width:
                raise ValueError(f"{path} has {width} columns; no column {label_column}")
            column %= width
    table = np.array(body, dtype=object)
    features = [j for j in range(width) if j != column]
    try:
        X = table[:, features].astype(np.float64)
    except ValueError:
        for k, row in enumerate(body, start=2 if header else 1):
            for j in features:
                if not _is_number(row[j]):
                    raise ValueError(f"{path}, row {k}, column {j + 1}: {row[j]!r} is not a number") from None
        raise
    y = None
    if column is not None:
        text = np.array([row[column].strip() for row in body])
        y = text.astype(np.float64) if all(_is_number(cell) for cell in text) else text
    return X, y


def load_data(path: str | os.PathLike, labels: str | os.PathLike | None = None, x_key: str = "X",
              y_key: str | None = "y", label_column: int | str | None = -1) -> tuple[np.ndarray, np.ndarray | None]:
    """Inputs (one example per row, flattened) and labels from any supported file.

    Parameters
    ----------
    path : str or path
        ``.npz``, ``.npy`` (memory-mapped), ``.h5`` (the course's) or idx
        (``.gz`` or not); see :data:`FORMATS`.
    labels : str or path, optional
        Labels file for ``.npy`` (another ``.npy``) and idx (another idx file;
        by default the ``labels-idx1`` file beside ``images-idx3``).
    x_key, y_key : str
        Array names inside an ``.npz``.
    label_column : int or str, default -1
        The labels' column of a ``.csv`` (see :func:`load_csv`).

    Returns
    -------
    X : ndarray of shape (m, n)
        Each example flattened to one row, as stored (no scaling, no copy
        where a reshape suffices: a memory map stays a memory map).
    y : ndarray of shape (m,) or (m, k), or None
        ``None`` when the file has no labels and none were given.

    Raises
    ------
    FileNotFoundError
    ValueError
        An unknown format, a malformed or truncated file, or inputs and
        labels of different lengths; the message names the file.
    """
    kind = data_format(path)
    if kind == "npz":
        X, y = _load_npz(path, x_key, y_key if labels is None else None, False)
    elif kind == "npy":
        X, y = load_npy(path), None
    elif kind == "h5":
        X, y = load_h5(path)
    elif kind == "csv":
        X, y = load_csv(path, None if labels is not None else label_column)
    else:
        X = load_idx(path)
        y = None
        if labels is None:
            labels = idx_labels_path(path)
    if labels is not None:
        kind = data_format(labels)
        y = (load_idx(labels) if kind == "idx" else load_csv(labels, None)[0] if kind == "csv"
             else load_npy(labels, mmap=False))
    if X.ndim == 1:
        raise ValueError(f"{path} holds a 1-D array of shape {X.shape}; inputs need one row per example")
    if X.ndim > 2:
        X = X.reshape(X.shape[0], -1)
    if y is not None:
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.reshape(-1)
        _check_lengths(path if labels is None else f"{path} and {labels}", X, y)
    return X, y


def _check_lengths(what, X, y):
    if y is not None and len(y) != len(X):
        raise ValueError(f"{what}: {len(X)} examples but {len(y)} labels")
