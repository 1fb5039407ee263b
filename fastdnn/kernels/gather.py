"""Batch gather: copy the examples of a mini-batch into a preallocated buffer.

The trainer never copies the data set: each step copies the ``b`` examples
it needs, in the shuffled order, into a C-contiguous ``(n, b)`` batch buffer
of the network's dtype (casting on the way, so ``uint8`` or ``float64`` data
can feed a ``float32`` network).  Integer class labels become one-hot columns
here, so a ``(k, m)`` one-hot copy of the labels never exists.

Two layouts of the source are served:

* ``(n, m)`` with one example per column (the course's layout, C-contiguous
  or any strides): :func:`gather_columns`;
* ``(m, n)`` C-contiguous with one example per row (scikit-learn's layout,
  ``np.load`` of a row-per-example file, a ``np.memmap``): the network sees it
  as the transposed view, and :func:`gather_rows_transposed` reads one
  contiguous row per example.
"""

from numba import njit, prange

from .. import config

# Examples handled together by the transposing gather: 64 source rows stay in
# cache while the kernel walks their features.
_BLOCK = 64


@njit(**config.JIT_ROW)
def _gather_columns_row(X, indices, start, out, i):
    # Also sums x * 0 over what it copies (0 for finite x, NaN otherwise), so
    # that a caller may check the data as it reads it; unused, LLVM drops it.
    zero = X.dtype.type(0)
    bad = zero
    for j in range(out.shape[1]):
        x = X[i, indices[start + j]]
        out[i, j] = x
        bad += x * zero
    return bad


@njit(**config.JIT)
def _gather_columns_serial(X, indices, start, out):
    bad = 0.0
    for i in range(out.shape[0]):
        bad += _gather_columns_row(X, indices, start, out, i)
    return bad != bad


@njit(**config.JIT_PARALLEL)
def _gather_columns_parallel(X, indices, start, out):
    bad = 0.0
    for i in prange(out.shape[0]):
        bad += _gather_columns_row(X, indices, start, out, i)
    return bad != bad


def gather_columns(X, indices, start, out):
    """Copy the columns ``indices[start:start + b]`` of ``X`` into ``out``.

    Parameters
    ----------
    X : ndarray of shape (n, m_total)
        Any strides and any real dtype.
    indices : ndarray of shape (m_index,), int64
        Column numbers, each in ``[0, m_total)`` (not checked here).
    start : int
        First entry of ``indices`` to use.
    out : ndarray of shape (n, b)
        C-contiguous; written in place, cast to its dtype.

    Returns
    -------
    bool
        Whether a copied value of ``X`` was NaN or infinite.

    Notes
    -----
    .. math:: \\mathrm{out}_{i j} = X_{i,\\, \\mathrm{indices}[start + j]}
    """
    if out.size >= config.PARALLEL_MIN_ELEMENTS:
        return _gather_columns_parallel(X, indices, start, out)
    return _gather_columns_serial(X, indices, start, out)


@njit(**config.JIT_ROW)
def _gather_rows_block(X_rows, indices, start, out, block):
    j0 = block * _BLOCK
    j1 = min(j0 + _BLOCK, out.shape[1])
    for i in range(out.shape[0]):
        for j in range(j0, j1):
            out[i, j] = X_rows[indices[start + j], i]


@njit(**config.JIT)
def _gather_rows_serial(X_rows, indices, start, out):
    n_blocks = (out.shape[1] + _BLOCK - 1) // _BLOCK
    for block in range(n_blocks):
        _gather_rows_block(X_rows, indices, start, out, block)


@njit(**config.JIT_PARALLEL)
def _gather_rows_parallel(X_rows, indices, start, out):
    n_blocks = (out.shape[1] + _BLOCK - 1) // _BLOCK
    for block in prange(n_blocks):
        _gather_rows_block(X_rows, indices, start, out, block)


def gather_rows_transposed(X_rows, indices, start, out):
    r"""Copy the rows ``indices[start:start + b]`` of ``X_rows`` into the columns of ``out``.

    Parameters
    ----------
    X_rows : ndarray of shape (m_total, n)
        One example per row (C-contiguous for speed; any strides work).
    indices : ndarray of shape (m_index,), int64
        Row numbers, each in ``[0, m_total)`` (not checked here).
    start : int
    out : ndarray of shape (n, b)
        C-contiguous; written in place, cast to its dtype.

    Notes
    -----
    .. math:: \\mathrm{out}_{i j} = X^{rows}_{\\mathrm{indices}[start + j],\\, i}
    """
    if out.size >= config.PARALLEL_MIN_ELEMENTS:
        _gather_rows_parallel(X_rows, indices, start, out)
    else:
        _gather_rows_serial(X_rows, indices, start, out)


@njit(**config.JIT_ROW)
def _copy_row(X_rows, row, out_rows, j):
    # Indexed in two dimensions: a row view per example costs a reference
    # count, which was most of the gather of short rows.  The sum of x * 0
    # finds a NaN or inf on the way (see _gather_columns_row).
    zero = X_rows.dtype.type(0)
    bad = zero
    for i in range(out_rows.shape[1]):
        x = X_rows[row, i]
        out_rows[j, i] = x
        bad += x * zero
    return bad


@njit(**config.JIT)
def _gather_rows_serial_copy(X_rows, indices, start, out_rows):
    bad = 0.0
    for j in range(out_rows.shape[0]):
        bad += _copy_row(X_rows, indices[start + j], out_rows, j)
    return bad != bad


@njit(**config.JIT_PARALLEL)
def _gather_rows_parallel_copy(X_rows, indices, start, out_rows):
    bad = 0.0
    for j in prange(out_rows.shape[0]):
        bad += _copy_row(X_rows, indices[start + j], out_rows, j)
    return bad != bad


def gather_rows(X_rows, indices, start, out_rows):
    r"""Copy the rows ``indices[start:start + b]`` of ``X_rows`` into the rows of ``out_rows``.

    For row-per-example data this is the cheapest gather (one contiguous copy
    per example); the network then reads the batch as ``out_rows.T``, an
    F-ordered ``(n, b)`` view that the matrix products take as it is.

    Parameters
    ----------
    X_rows : ndarray of shape (m_total, n)
        One example per row, C-contiguous.
    indices : ndarray of shape (m_index,), int64
    start : int
    out_rows : ndarray of shape (b, n)
        C-contiguous; written in place, cast to its dtype.

    Returns
    -------
    bool
        Whether a copied value of ``X_rows`` was NaN or infinite (checking the
        data as they are read costs the memory-bound copy nothing measurable).

    Notes
    -----
    .. math:: \mathrm{out}_{j i} = X^{rows}_{\mathrm{indices}[start + j],\, i}
    """
    if out_rows.size >= config.PARALLEL_MIN_ELEMENTS:
        return _gather_rows_parallel_copy(X_rows, indices, start, out_rows)
    return _gather_rows_serial_copy(X_rows, indices, start, out_rows)


@njit(**config.JIT)
def one_hot(labels, indices, start, out):
    """One-hot columns of the class labels ``labels[indices[start:start + b]]``.

    Parameters
    ----------
    labels : ndarray of shape (m_total,), integer
        Class numbers in ``[0, k)`` (checked once by the caller, not here).
    indices : ndarray of shape (m_index,), int64
    start : int
    out : ndarray of shape (k, b)
        Written in place: 1 in row ``labels[...]`` of each column, 0 elsewhere.

    Notes
    -----
    .. math:: \\mathrm{out}_{c j} = [\\,\\mathrm{labels}[\\mathrm{indices}[start + j]] = c\\,]
    """
    # Row by row, so the writes are contiguous; the labels of a batch are
    # few and stay in cache across the k passes.
    for c in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[c, j] = 1.0 if labels[indices[start + j]] == c else 0.0


def gather(X, indices, start, out):
    """Gather a batch from ``X`` of shape ``(n, m_total)`` whatever its layout.

    An F-contiguous ``X`` (the transpose of a row-per-example array) is read
    through :func:`gather_rows_transposed`, anything else through
    :func:`gather_columns`.

    Parameters
    ----------
    X : ndarray of shape (n, m_total)
    indices : ndarray of shape (m_index,), int64
    start : int
    out : ndarray of shape (n, b)
        Written in place.

    Returns
    -------
    bool or None
        Whether a copied value was NaN or infinite (:func:`gather_columns`),
        or ``None`` when the layout's gather does not look.
    """
    if X.flags.f_contiguous and not X.flags.c_contiguous:
        gather_rows_transposed(X.T, indices, start, out)
        return None
    return gather_columns(X, indices, start, out)
