"""What fastdnn is measured against, besides the NumPy reference.

Two peers of a training step of a fully-connected network:

* :func:`torch_step` -- the same network written the way a PyTorch user
  would write it (``nn.Sequential`` of ``Linear`` and activations, a loss
  from logits, ``torch.optim.SGD``), on the CPU, with as many threads as
  Numba uses.  PyTorch is an optional dependency (``pip install
  'fastdnn[torch]'``, a CPU build), imported only here.
* :func:`matmul_bound_step` -- the matrix products a training step cannot
  avoid, with NumPy's BLAS into preallocated outputs, and nothing else.  No
  implementation that calls the same BLAS can beat it, so it is the bound a
  step is compared to.

Both build everything up front and return a callable that runs one step, so
that a timer measures the step alone.
"""

import numpy as np

from . import validation as v

TORCH_HINT = (
    "the PyTorch peer needs torch, an optional dependency: pip install 'fastdnn[torch]' "
    "(or pip install torch==2.13.0 with a CPU wheel; a bare 'pip install torch' may pull a multi-GB CUDA build)"
)

#: Output layers :func:`torch_step` knows.
TORCH_OUTPUTS = ("sigmoid", "softmax")
#: Hidden activations :func:`torch_step` knows.
TORCH_HIDDEN = ("relu", "tanh", "sigmoid", "leaky_relu")


def _require_torch():
    try:
        import torch
    except ImportError:
        raise ImportError(TORCH_HINT) from None
    return torch


def torch_available():
    """True when PyTorch can be imported (without raising)."""
    try:
        _require_torch()
    except ImportError:
        return False
    return True


def _float_dtype(dtype):
    dt = np.dtype(dtype)
    if dt not in v.FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _check_batch(name, arr, shape, dtype):
    if arr is None:
        return None
    arr = v.as_array(name, arr, ndim=2)
    v.check_shape(name, arr, shape, "the course's layout: one column per example")
    return np.ascontiguousarray(arr, dtype=dtype)


def torch_step(layer_dims, m, dtype, output="sigmoid", *, hidden="relu", X=None, Y=None, learning_rate=0.0075,
               seed=0, autocast=False):
    """One training step of the network in PyTorch, as a PyTorch user writes it.

    Parameters
    ----------
    layer_dims : sequence of int
        ``[n_x, n_1, ..., n_L]``.
    m : int
        Batch size (examples per step).
    dtype : {np.float32, np.float64}
    output : {"sigmoid", "softmax"}, default "sigmoid"
        ``"sigmoid"``: ``BCEWithLogitsLoss`` on every output unit;
        ``"softmax"``: ``CrossEntropyLoss`` over the ``n_L`` classes.
    hidden : {"relu", "tanh", "sigmoid", "leaky_relu"}, default "relu"
    X : ndarray of shape (n_x, m), optional
        The batch, in the course's layout (copied once, transposed to
        PyTorch's rows-are-examples layout).  Drawn at random when omitted.
    Y : ndarray of shape (n_L, m), optional
        Labels in {0, 1} (one-hot columns for ``"softmax"``).  Drawn at
        random when omitted.
    learning_rate : float, default 0.0075
    seed : int, default 0
        Seeds the generated data and PyTorch's weight initialisation.
    autocast : bool, default False
        Run the forward pass and the loss under
        ``torch.autocast("cpu", dtype=torch.bfloat16)``, as a PyTorch user
        asks for bfloat16 products (``dtype`` float32).

    Returns
    -------
    callable
        ``step()`` runs forward, loss, backward and the SGD update on the
        batch and returns the loss as a Python float.

    Notes
    -----
    The thread count is set to Numba's, ``torch.set_num_threads(numba.get_num_threads())``,
    for the whole process, so that both sides use the same cores.

    .. math:: \\theta \\leftarrow \\theta - \\alpha \\nabla_\\theta J(\\theta; X, Y)
    """
    dims = v.layer_dims("layer_dims", layer_dims)
    m = v.positive_int("m", m)
    dt = _float_dtype(dtype)
    output = v.choice("output", output, TORCH_OUTPUTS)
    hidden = v.choice("hidden", hidden, TORCH_HIDDEN)
    learning_rate = v.finite_float("learning_rate", learning_rate)
    if output == "softmax" and dims[-1] < 2:
        raise ValueError(f"output='softmax' needs at least 2 output units, got layer_dims[-1] = {dims[-1]}")
    X = _check_batch("X", X, (dims[0], m), dt)
    Y = _check_batch("Y", Y, (dims[-1], m), dt)

    torch = _require_torch()
    import numba

    torch.set_num_threads(numba.get_num_threads())
    torch.manual_seed(seed)
    torch_dtype = torch.float64 if dt == np.float64 else torch.float32
    rng = np.random.default_rng(seed)
    if X is None:
        X = rng.standard_normal((dims[0], m)).astype(dt)
    if Y is None:
        if output == "sigmoid":
            Y = rng.integers(0, 2, size=(dims[-1], m)).astype(dt)
        else:
            Y = np.eye(dims[-1], dtype=dt)[:, rng.integers(0, dims[-1], size=m)]

    nn = torch.nn
    activations = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "leaky_relu": nn.LeakyReLU}
    modules = []
    for l in range(1, len(dims)):
        modules.append(nn.Linear(dims[l - 1], dims[l]))
        if l < len(dims) - 1:
            modules.append(activations[hidden]())
    model = nn.Sequential(*modules).to(torch_dtype)
    inputs = torch.from_numpy(np.ascontiguousarray(X.T))
    if output == "sigmoid":
        loss_fn = nn.BCEWithLogitsLoss()
        targets = torch.from_numpy(np.ascontiguousarray(Y.T))
    else:
        loss_fn = nn.CrossEntropyLoss()
        targets = torch.from_numpy(np.argmax(Y, axis=0).astype(np.int64))
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)

    def step():
        optimizer.zero_grad(set_to_none=True)
        if autocast:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = loss_fn(model(inputs), targets)
        else:
            loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        return loss.item()

    # Keep the objects reachable for callers that want to inspect them.
    step.model = model
    step.optimizer = optimizer
    return step


def matmul_bound_step(layer_dims, m, dtype, seed=0):
    """The matrix products of one training step and nothing else.

    Parameters
    ----------
    layer_dims : sequence of int
        ``[n_x, n_1, ..., n_L]``.
    m : int
        Batch size.
    dtype : {np.float32, np.float64}
    seed : int, default 0
        Seeds the (meaningless but finite) contents of the buffers.

    Returns
    -------
    callable
        ``step()`` runs, with ``np.matmul`` into buffers allocated here (the
        course's layout, C-contiguous, transposes as views so BLAS reads them
        in place): for every layer the forward product, for every layer the
        weight gradient, and for every layer but the first the gradient of
        its input.  Returns None.

    Notes
    -----
    .. math:: A_l = W_l A_{l-1},\\qquad dW_l = dZ_l A_{l-1}^T,\\qquad
              dA_{l-1} = W_l^T dZ_l \\;(l > 1)

    Bias, activation, loss, their gradients and the update are left out:
    they are what a fast implementation hides behind these products, so this
    is the time a step cannot go below with this BLAS.
    """
    dims = v.layer_dims("layer_dims", layer_dims)
    m = v.positive_int("m", m)
    dt = _float_dtype(dtype)
    rng = np.random.default_rng(seed)
    L = len(dims) - 1
    # Scaled weights keep the forward values of order one, and dZ of the last
    # layer is never overwritten, so every call multiplies the same finite numbers.
    W = [None] + [(rng.standard_normal((dims[l], dims[l - 1])) / np.sqrt(dims[l - 1])).astype(dt)
                  for l in range(1, L + 1)]
    A = [rng.standard_normal((dims[0], m)).astype(dt)] + [np.empty((dims[l], m), dtype=dt) for l in range(1, L + 1)]
    dZ = [None] + [np.empty((dims[l], m), dtype=dt) for l in range(1, L + 1)]
    dZ[L][...] = rng.standard_normal((dims[L], m)) / m
    dW = [None] + [np.empty_like(W[l]) for l in range(1, L + 1)]
    return _products_step(lambda a, b, c: np.matmul(a, b, out=c), W, A, dZ, A, dW, dZ)


def _products_step(product, W, A, dZ, Z, dW, dA):
    """``step()`` running a training step's products through ``product(a, b, out)``; lists indexed by layer.

    Forward ``Z[l] = W[l] A[l-1]``, then for every layer ``dW[l] = dZ[l] A[l-1]^T``
    and, but for the first, ``dA[l-1] = W[l]^T dZ[l]``.
    """
    L = len(W) - 1

    def step():
        for l in range(1, L + 1):
            product(W[l], A[l - 1], Z[l])
        for l in range(L, 0, -1):
            product(dZ[l], A[l - 1].T, dW[l])
            if l > 1:
                product(W[l].T, dZ[l], dA[l - 1])

    return step


def bf16_bound_step(layer_dims, m, seed=0):
    """The matrix products of one bf16 training step alone: :func:`matmul_bound_step` through MKL's bf16 gemm.

    The operands are bfloat16 copies made here once (:mod:`fastdnn.precision`),
    the results float32; the bound of ``Network(precision="bf16")``'s step.
    Needs MKL (``pip install "fastdnn[mkl]"``).
    """
    from . import precision
    from .kernels import bfloat16

    dims = v.layer_dims("layer_dims", layer_dims)
    m = v.positive_int("m", m)
    precision.mkl()
    rng = np.random.default_rng(seed)
    L = len(dims) - 1
    W = [None] + [bfloat16.rounded(rng.standard_normal((dims[l], dims[l - 1])) / np.sqrt(dims[l - 1]))
                  for l in range(1, L + 1)]
    A16 = [bfloat16.rounded(rng.standard_normal((dims[l], m))) for l in range(L)]
    dZ16 = [None] + [bfloat16.rounded(rng.standard_normal((dims[l], m)) / m) for l in range(1, L + 1)]
    out = [None] + [np.empty((dims[l], m), dtype=np.float32) for l in range(1, L + 1)]
    dW = [None] + [np.empty((dims[l], dims[l - 1]), dtype=np.float32) for l in range(1, L + 1)]
    return _products_step(precision.product, W, A16, dZ16, out, dW, out)
