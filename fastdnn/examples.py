"""Training data checked once and gathered batch by batch.

:func:`prepare` checks ``X`` and ``Y`` against a network's shape (once per
fit, not per batch) and returns :class:`Examples`: the caller's arrays in
any layout (a transposed row-per-example array and a memory map are read in
place), integer class labels kept as labels (one-hot happens in the gather).
"""

import numpy as np

from . import mapped
from . import sparse_input
from . import validation as v
from .kernels import gather as gather_mod


class InputNotFinite(ValueError):
    """``X`` held a NaN or inf found after training began; :meth:`fastdnn.Network.train` restores the network first."""


class Examples:
    """Inputs and targets checked once, ready to be gathered batch by batch (:meth:`fastdnn.Network.prepare`).

    ``X`` has shape ``(n_x, m)`` in any layout and real dtype (a transposed
    row-per-example array or a memory map included); ``labels`` are integer
    classes of shape ``(m,)`` (one-hot in the gather) or ``Y`` a matrix
    ``(n_L, m)``.  ``weights``: the examples' sample weights (float64,
    ``(m,)``, checked: finite, non-negative, a positive sum), or ``None``.
    """

    def __init__(self, X, Y=None, labels=None, unchecked=None, prepared_for=None):
        self.X = X
        self.weights = None
        # (n_x, n_out, output) of the network that checked them.
        self.prepared_for = prepared_for
        self.Y = Y
        self.labels = labels
        self.m = X.shape[1]
        # The name of X while its values are still to be checked for NaN and
        # inf: the gather of a fit's first epoch does it as it copies them.
        self.unchecked = unchecked
        self.rows, self.pages = self._layout(X)

    @staticmethod
    def _layout(X):
        """``(rows, pages)``: a row-per-example array seen transposed (batches are gathered row by row, one
        contiguous copy per example, and read through their transpose), and a file map's page budget (its
        pages are released every few batches, so that an epoch over a data set larger than memory keeps the
        resident set small); ``None`` when ``X`` is neither."""
        rows = X.T if X.flags.f_contiguous and not X.flags.c_contiguous else None
        return rows, mapped.budget_for(X)

    #: Whether ``X`` is sparse (:class:`SparseExamples`).
    sparse = False

    def session_problem(self, dtype):
        """Why native blocks cannot read these data in place for a fit's mini-batches ("" when they can)."""
        if self.pages is not None:
            return "X is a memory map: each batch is read from it"
        if self.X.dtype != dtype or self.X.ndim != 2:
            return f"X is {self.X.dtype}, not the network's {dtype}"
        if self.labels is None and (self.Y is None or self.Y.dtype != dtype):
            return f"Y is {None if self.Y is None else self.Y.dtype}, not the network's {dtype}"
        return ""

    def batch_problem(self):
        """Why native blocks cannot read a batch gathered from these data in place ("" when they can).

        (An MPI shard's batch is gathered in C order when its route reads
        it so: :meth:`gather_X`'s ``c_order``.)
        """
        return "each gathered batch is F-ordered (rows of a row-per-example X)" if self.rows is not None else ""

    def direct_X(self, dtype):
        """Whether a product can read ``X`` as it is (right dtype, C or F order)."""
        return self.X.dtype == dtype and (self.X.flags.c_contiguous or self.X.flags.f_contiguous)

    def direct_Y(self, dtype):
        return self.Y is not None and self.Y.dtype == dtype and self.Y.flags.c_contiguous

    def gather_X(self, indices, start, ws, c_order=False):
        """Gather the batch ``indices[start:start + ws.m]`` into ``ws``; returns the ``(n_x, b)`` batch.

        While :attr:`unchecked`, a NaN or inf among the copied values raises
        :class:`InputNotFinite` (see :meth:`check_X`).  Rows of a
        row-per-example ``X`` make an F-ordered batch; ``c_order`` copies it
        into a C-ordered one (for native blocks, which read C-ordered columns).
        """
        if self.pages is not None and self.rows is not None:
            ws.X_rows  # noqa: B018 -- makes the row buffer and its transpose
            self.pages.gather_rows(gather_mod.gather_rows, self.rows, indices, start, ws.X_rows)
            return _in_c_order(ws) if c_order else ws.X_rows_T
        if self.rows is not None:
            bad = gather_mod.gather_rows(self.rows, indices, start, ws.X_rows)
            batch = _in_c_order(ws) if c_order else ws.X_rows_T
        else:
            bad = gather_mod.gather(self.X, indices, start, ws.X)
            batch = ws.X
        if self.unchecked is not None and (bad or bad is None):
            self.check_X()
        if self.pages is not None:
            self.pages.read(ws.m * self.X.shape[0], self.X.itemsize)
        return batch

    def check_X(self):
        """Check the whole of ``X`` for NaN and inf now, if that was left to the gather.

        Raises :class:`InputNotFinite` (a ``ValueError`` with the message of
        an up-front check) for a bad value.
        """
        if self.unchecked is None:
            return
        try:
            v.check_finite(self.unchecked, self.rows if self.rows is not None else self.X)
        except ValueError as error:
            # Still unchecked: a second fit on the same examples scans them again.
            raise InputNotFinite(str(error)) from None
        self.unchecked = None

    def finite_examples(self, examples):
        """Whether each of these examples' inputs is finite (a failure path's check: it copies them)."""
        return np.isfinite(np.asarray(self.X[:, examples])).all(axis=0)

    def chunk_X(self, start, b, ws, positions, direct):
        """Columns ``start:start + b`` as a product reads them (:func:`fastdnn.inference.chunks`): ``X``'s
        slice in place when ``direct``, else gathered into ``ws`` (``positions``: ``0 .. b - 1``)."""
        X_part = self.X[:, start:start + b]
        if direct:
            return X_part  # a product reads a slice of a C or F array in place
        if self.rows is not None:
            gather_mod.gather_rows(X_part.T, positions, 0, ws.X_rows)
            return ws.X_rows_T
        gather_mod.gather(X_part, positions, 0, ws.X)
        return ws.X

    def check_fits(self, layer_dims, output):
        """Raise ``ValueError`` unless these examples were prepared for a network of this shape and output."""
        if self.prepared_for != (layer_dims[0], layer_dims[-1], output):
            n_x, n_out, kind = self.prepared_for
            raise ValueError(
                f"these examples were prepared for a network of {n_x} inputs and {n_out} {kind} outputs; this "
                f"one has {layer_dims[0]} inputs and {layer_dims[-1]} {output} outputs: prepare them with its "
                f"own Network.prepare"
            )

    def gather_all_X(self, indices, dtype):
        """The examples ``indices`` gathered into a new array (once per fit), ``(n_x, m)``."""
        if self.rows is not None:
            out = np.empty((indices.size, self.X.shape[0]), dtype=dtype)
            gather_mod.gather_rows(self.rows, indices, 0, out)
            return out.T
        out = np.empty((self.X.shape[0], indices.size), dtype=dtype)
        gather_mod.gather(self.X, indices, 0, out)
        return out

    def gather_Y(self, indices, start, out):
        if self.labels is not None:
            gather_mod.one_hot(self.labels, indices, start, out)
        else:
            gather_mod.gather(self.Y, indices, start, out)


def prepare_X(state, X, name="X", check_finite=True):
    """``X`` checked (shape, dtype, finite) but not copied: a memory map stays one.

    ``check_finite=False`` leaves the scan for NaN and inf to the caller
    (a memory map is scanned here all the same, chunk by chunk); returns
    ``(X, checked)``.
    """
    if sparse_input.is_sparse(X):
        return _prepare_sparse_X(state, X, name, check_finite)
    if isinstance(X, np.memmap):
        X = np.asarray(X)  # a plain view of the mapped memory, no copy
    X_arr = v.as_array(name, X, ndim=2)
    if X_arr.dtype == np.float16:
        # Numba has no float16: one copy in the network's dtype.
        X_arr = X_arr.astype(state.dtype)
    n_x = state.layer_dims[0]
    if X_arr.shape[0] != n_x:
        raise ValueError(
            f"{name} has {X_arr.shape[0]} rows (features) but the network expects {n_x}: "
            f"{name} must have shape ({n_x}, m), one column per example"
        )
    if X_arr.shape[1] == 0:
        raise ValueError(f"{name} has no examples (shape {X_arr.shape})")
    C_view = X_arr.T if X_arr.flags.f_contiguous and not X_arr.flags.c_contiguous else X_arr
    pages = mapped.budget_for(C_view) if C_view.flags.c_contiguous and C_view.dtype.kind == "f" else None
    if pages is None and not check_finite:
        return X_arr, False
    if pages is None or mapped.count_non_finite_in_chunks(C_view, pages, v._count_non_finite):
        # In memory, or a map known to hold a bad value (the message needs the whole scan).
        v.check_finite(name, C_view)
    return X_arr, True


def _prepare_sparse_X(state, X, name, check_finite):
    """A scipy.sparse ``X`` of shape ``(n_x, m)`` as :class:`fastdnn.sparse_input.SparseInputs`: checked, not densified."""
    inputs = sparse_input.SparseInputs.of(X, state.dtype, name)
    n_x = state.layer_dims[0]
    if inputs.shape[0] != n_x:
        raise ValueError(f"{name} has {inputs.shape[0]} rows (features) but the network expects {n_x}: "
                         f"{name} must have shape ({n_x}, m), one column per example")
    if inputs.shape[1] == 0:
        raise ValueError(f"{name} has no examples (shape {inputs.shape})")
    if check_finite and not inputs.all_finite():
        raise ValueError(f"{name} contains NaN or infinity among its stored values")
    return inputs, check_finite


def prepare(state, X, Y=None, names=("X", "Y"), check_X=True, sample_weight=None):
    """Check ``X`` (and ``Y`` when given) once, against the network of ``state``; returns :class:`Examples`.

    Integer class labels stay labels (one-hot happens in the gather).
    ``check_X=False`` leaves the scan of ``X`` for NaN and inf to the
    returned data's gather (:attr:`Examples.unchecked`, :meth:`Examples.check_X`).
    ``sample_weight``: one weight per example (or one number for all),
    checked and kept as :attr:`Examples.weights` (a float64 copy).
    """
    data = _prepare(state, X, Y, names, check_X)
    if sample_weight is not None:
        data.weights = v.check_sample_weight(sample_weight, data.m, names[0])
    return data


def _prepare(state, X, Y, names, check_X):
    X_arr, checked = prepare_X(state, X, names[0], check_X)
    unchecked = None if checked else names[0]
    Examples = SparseExamples if isinstance(X_arr, sparse_input.SparseInputs) else DenseExamples
    if Y is None:
        return Examples(X_arr, unchecked=unchecked, prepared_for=_shape_of(state))
    m = X_arr.shape[1]
    k = state.layer_dims[-1]
    name = names[1]
    if isinstance(Y, np.memmap):
        Y = np.asarray(Y)
    Y_arr = v.as_array(name, Y)
    if Y_arr.dtype == np.float16:
        Y_arr = Y_arr.astype(state.dtype)
    if Y_arr.ndim == 1:
        if Y_arr.shape[0] != m:
            raise ValueError(f"{name} has {Y_arr.shape[0]} labels but {names[0]} has {m} examples")
        if state.head.multiclass:
            return Examples(X_arr, labels=_class_labels(state, name, Y_arr), unchecked=unchecked,
                            prepared_for=_shape_of(state))
        if k != 1:
            raise ValueError(
                f"{name} of shape {Y_arr.shape} fits a single output unit; this network has {k}: "
                f"{name} must have shape ({k}, {m})"
            )
        Y_arr = Y_arr.reshape(1, m)
    if Y_arr.ndim != 2:
        raise ValueError(f"{name} must be 1-D (labels) or 2-D ({k}, m), got shape {Y_arr.shape}")
    v.check_shape(name, Y_arr, (k, m), f"(n_out, m), one column per example of {names[0]}")
    v.check_finite(name, Y_arr)
    state.head.check_targets(name, Y_arr)
    return Examples(X_arr, Y=Y_arr, unchecked=unchecked, prepared_for=_shape_of(state))


DenseExamples = Examples


class SparseExamples(Examples):
    """:class:`Examples` whose ``X`` is sparse (:class:`fastdnn.sparse_input.SparseInputs`).

    A batch is the indices of its examples (:class:`fastdnn.sparse_input.SparseColumns`):
    nothing is gathered or densified, and the steps take the plain route
    (:func:`fastdnn.plan.decide`, ``Case.sparse``).
    """

    sparse = True

    #: Why native blocks cannot read these data.
    PROBLEM = "X is sparse: its products run on the plain route"

    @staticmethod
    def _layout(X):
        return None, None

    def session_problem(self, dtype):
        return self.PROBLEM

    def batch_problem(self):
        return self.PROBLEM

    def direct_X(self, dtype):
        return False

    def gather_X(self, indices, start, ws, c_order=False):
        if self.unchecked is not None:
            self.check_X()  # the stored values at once: no batch of them is copied to check on the way
        return self.X.columns(indices[start:start + ws.m])

    def finite_examples(self, examples):
        rows = self.X.rows[np.asarray(examples)]
        bad_rows = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))[~np.isfinite(rows.data)]
        finite = np.ones(rows.shape[0], dtype=bool)
        finite[bad_rows] = False
        return finite

    def gather_all_X(self, indices, dtype):
        return self.X.columns(indices)

    def chunk_X(self, start, b, ws, positions, direct):
        return self.X.columns(np.arange(start, start + b))  # the first layer reads the nonzeros in place

    def check_X(self):
        if self.unchecked is not None and not self.X.all_finite():
            raise InputNotFinite(f"{self.unchecked} contains NaN or infinity among its stored values")
        self.unchecked = None


def _in_c_order(ws):
    """The rows gathered into ``ws.X_rows``, copied in C order (``ws.X_c``: ``ws.X`` shares their memory)."""
    np.copyto(ws.X_c, ws.X_rows_T)
    return ws.X_c


def full_batch_arrays(state, X, Y):
    """``(X, Y)`` checked and converted once for full-batch steps (``fit_course``): C-ordered, of the network's dtype."""
    X_arr = v.as_array("X", X, ndim=2)
    n_x, n_out = state.layer_dims[0], state.layer_dims[-1]
    if X_arr.shape[0] != n_x:
        raise ValueError(f"X has {X_arr.shape[0]} rows (features) but the network expects {n_x}: "
                         f"X must have shape ({n_x}, m)")
    Xc = v.prepare(X_arr, state.dtype)
    v.check_finite("X", Xc)
    Y_arr = v.as_array("Y", Y)
    if Y_arr.ndim == 1 and n_out == 1:
        Y_arr = Y_arr.reshape(1, -1)
    v.check_shape("Y", Y_arr, (n_out, X_arr.shape[1]), "(n_out, m), one column per example of X")
    Yc = v.prepare(Y_arr, state.dtype)
    v.check_finite("Y", Yc)
    # The course's loop computes its formula for any finite Y (a warning says when Y is not 0/1).
    state.head.check_targets("Y", Yc, formula=True)
    return Xc, Yc


def check_training_examples(layer_dims, output, data, validation=None):
    """``TypeError`` unless ``data`` (and ``validation``) are :class:`Examples`; ``ValueError`` unless they fit the network."""
    for name, examples in (("data", data), ("validation", validation)):
        if examples is None and name == "validation":
            continue
        if not isinstance(examples, Examples):
            raise TypeError(f"{name} must be the examples Network.prepare returns, got {type(examples).__name__}")
        examples.check_fits(layer_dims, output)


def validation_examples(state, validation):
    """A fit's ``validation``: ``None``, :class:`Examples` as they are, or a pair ``(X_val, Y_val)`` prepared."""
    if validation is None or isinstance(validation, Examples):
        return validation
    if not isinstance(validation, (tuple, list)) or len(validation) != 2:
        raise TypeError("validation must be a pair (X_val, Y_val)")
    return prepare(state, validation[0], validation[1], names=("X_val", "Y_val"))


def _class_labels(state, name, y):
    k = state.layer_dims[-1]
    if y.dtype.kind == "f":
        v.check_finite(name, y)
        if np.any(y != np.floor(y)):
            raise ValueError(f"{name} must hold integer class labels in [0, {k}), found non-integer values")
    lo, hi = (y.min(), y.max()) if y.size else (0, 0)
    if lo < 0 or hi >= k:
        raise ValueError(
            f"{name} must hold class labels in [0, {k}) for a softmax output of {k} units; "
            f"found labels from {lo} to {hi}"
        )
    return y if y.dtype == np.int64 else y.astype(np.int64)


def _shape_of(state):
    return (state.layer_dims[0], state.layer_dims[-1], state.output)
