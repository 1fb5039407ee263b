"""Networks out of fastdnn: ONNX files for other runtimes, PyTorch's state dicts.

:func:`to_onnx` writes a trained :class:`fastdnn.Network` as an ONNX graph --
one ``Gemm`` per layer (``X W^T + b``, rows are examples as ONNX runtimes
expect) and its activation -- through the ``onnx`` package, an optional extra
(``pip install "fastdnn[onnx]"``) imported only here.  The estimators'
``to_onnx`` and ``fastdnn export MODEL --onnx OUT`` use it.

:func:`to_torch_state_dict` and :func:`from_torch_state_dict` map the
parameters to and from the keys of PyTorch's ``nn.Sequential`` as NumPy
arrays, with no PyTorch needed; :func:`to_torch` builds the module itself
where PyTorch is installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np

from . import validation as v

if TYPE_CHECKING:
    import os
    from collections.abc import Mapping, Sequence

    import onnx
    import torch
    from numpy.typing import DTypeLike

    from .network import Network

#: ONNX operators of fastdnn's activations (linear: none).
ACTIVATION_OPS = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid", "leaky_relu": "LeakyRelu", "linear": None}
#: The opset the graphs are written for.
OPSET = 17


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError('writing ONNX needs the onnx package: pip install "fastdnn[onnx]"') from None
    return onnx


def _activation(helper, kind, source, target, slope):
    """The node turning ``source`` into ``target`` with activation ``kind`` (an ``Identity`` for linear)."""
    if kind == "softmax":
        return helper.make_node("Softmax", [source], [target], axis=1)
    if kind == "poisson":
        return helper.make_node("Exp", [source], [target])
    op = ACTIVATION_OPS[kind]
    if op is None:
        return helper.make_node("Identity", [source], [target])
    if op == "LeakyRelu":
        return helper.make_node(op, [source], [target], alpha=float(slope))
    return helper.make_node(op, [source], [target])


def network_graph(net: Network, dtype: DTypeLike = np.float32, input_scale: float | None = None,
                  two_class_columns: bool = False) -> onnx.ModelProto:
    """The ONNX ``ModelProto`` of ``net`` (see :func:`to_onnx`), checked by ``onnx.checker``."""
    onnx = _onnx()
    from onnx import TensorProto, helper, numpy_helper

    from . import __version__

    dtype = v.network_dtype("dtype", dtype)
    element = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    scale = float(net.metadata.get("input_scale", 1.0) if input_scale is None else input_scale)
    parameters = net.parameters
    L = len(net.layer_dims) - 1
    nodes, weights = [], []
    current = "X"
    if scale != 1.0:  # the scaling `fastdnn train` applied to the inputs (uint8 images: 1/255)
        weights.append(numpy_helper.from_array(np.array(scale, dtype=dtype), "input_scale"))
        nodes.append(helper.make_node("Mul", ["X", "input_scale"], ["X_scaled"]))
        current = "X_scaled"
    if net.metadata.get("input_mean") is not None:  # fastdnn train --standardize
        weights.append(numpy_helper.from_array(np.asarray(net.metadata["input_mean"], dtype=dtype), "input_mean"))
        weights.append(numpy_helper.from_array(np.asarray(net.metadata["input_std"], dtype=dtype), "input_std"))
        nodes.append(helper.make_node("Sub", [current, "input_mean"], ["X_centered"]))
        nodes.append(helper.make_node("Div", ["X_centered", "input_std"], ["X_standard"]))
        current = "X_standard"
    for l in range(1, L + 1):
        weights.append(numpy_helper.from_array(np.ascontiguousarray(parameters[f"W{l}"], dtype=dtype), f"W{l}"))
        weights.append(numpy_helper.from_array(np.ascontiguousarray(parameters[f"b{l}"].reshape(-1), dtype=dtype),
                                               f"b{l}"))
        nodes.append(helper.make_node("Gemm", [current, f"W{l}", f"b{l}"], [f"Z{l}"], transB=1))
        kind = net.hidden_layers[l - 1] if l < L else net.output
        current = f"A{l}" if l < L else "output"
        nodes.append(_activation(helper, kind, f"Z{l}", current, net.leaky_slope))
    n_out = net.layer_dims[-1]
    if two_class_columns:  # one sigmoid unit -> the probabilities of both classes, as predict_proba gives them
        weights.append(numpy_helper.from_array(np.array(1.0, dtype=dtype), "one"))
        nodes[-1].output[0] = "positive"
        nodes.append(helper.make_node("Sub", ["one", "positive"], ["negative"]))
        nodes.append(helper.make_node("Concat", ["negative", "positive"], ["output"], axis=1))
        n_out = 2
    graph = helper.make_graph(
        nodes, "fastdnn_network",
        [helper.make_tensor_value_info("X", element, ["N", net.layer_dims[0]])],
        [helper.make_tensor_value_info("output", element, ["N", n_out])],
        weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="fastdnn",
                              producer_version=__version__)
    model.ir_version = 9  # onnxruntime 1.16 and later read it
    onnx.checker.check_model(model)
    return model


def to_onnx(net: Network, path: str | os.PathLike, dtype: DTypeLike = np.float32,
            input_scale: float | None = None) -> onnx.ModelProto:
    """Write ``net`` as an ONNX file.

    Parameters
    ----------
    net : fastdnn.Network
    path : str or path-like
    dtype : {np.float32, np.float64}, default np.float32
        The graph's element type (ONNX runtimes are fastest in float32).
    input_scale : float, optional
        A factor the graph applies to its input first; by default the one
        ``fastdnn train`` saved with the model (``metadata["input_scale"]``,
        1/255 for uint8 images), so that the file predicts from the same raw
        inputs as ``fastdnn predict``; the standardization of ``fastdnn train
        --standardize`` follows, when the model has one.

    Returns
    -------
    onnx.ModelProto

    Notes
    -----
    The graph's input ``X`` has shape ``(N, n_x)``, one example per row, and
    its output ``output`` shape ``(N, n_out)``: the network's
    :meth:`~fastdnn.Network.predict_proba`, transposed (probabilities for a
    sigmoid or softmax output, values for a linear one).
    """
    model = network_graph(net, dtype, input_scale)
    _onnx().save(model, str(path))
    return model


# ------------------------------------------------------------ PyTorch's nn.Sequential

#: The ``nn.Sequential`` module of each hidden activation (``None``: linear, no module).
TORCH_MODULES = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "leaky_relu": "LeakyReLU", "linear": None}


def _linear_indices(hidden_layers):
    # Linear, activation, Linear, ...: each hidden layer's activation takes an index, a linear one none.
    indices, index = [], 0
    for kind in list(hidden_layers) + [None]:
        indices.append(index)
        index += 1 if kind is None or TORCH_MODULES[kind] is None else 2
    return indices


def to_torch_state_dict(net: Network, prefix: str = "") -> dict[str, np.ndarray]:
    """The network's parameters in the key layout of PyTorch's ``nn.Sequential``, as NumPy arrays.

    The layout is the one of ``nn.Sequential(nn.Linear(n0, n1), nn.ReLU(),
    nn.Linear(n1, n2), ..., nn.Linear(...))`` -- what :func:`to_torch` builds,
    and what a PyTorch user writes by hand -- so that
    ``model.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})``
    loads it.  PyTorch itself is not needed.

    Parameters
    ----------
    net : fastdnn.Network
    prefix : str, default ""
        Put before every key (``"model."`` for a Sequential held as ``self.model``).

    Returns
    -------
    dict of str to ndarray
        ``"0.weight"`` of shape ``(n1, n0)`` (``W1``, copied), ``"0.bias"``
        of shape ``(n1,)``, ``"2.weight"``... in the network's dtype.

    Notes
    -----
    ``nn.Linear`` computes :math:`x W^T + b` on rows, fastdnn :math:`W x + b`
    on columns: the same ``W``, so the weights go across as they are.  The
    output activation (sigmoid or softmax) has no parameters and no key: add
    it to the Sequential, or use a loss that takes logits
    (``BCEWithLogitsLoss``, ``CrossEntropyLoss``).
    """
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str, got {prefix!r}")
    out = {}
    for index, (W, b) in zip(_linear_indices(net.hidden_layers), net.model_state.layers):
        out[f"{prefix}{index}.weight"] = W.copy()
        out[f"{prefix}{index}.bias"] = b.reshape(-1).copy()
    return out


def _as_array(name, value):
    if hasattr(value, "detach"):  # a torch.Tensor: to NumPy without importing torch
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"state_dict[{name!r}] must hold floating-point values, got dtype {array.dtype}")
    return array


def from_torch_state_dict(state_dict: Mapping[str, Any], hidden: str | Sequence[str] = "relu", output: str = "sigmoid",
                          dtype: DTypeLike | None = None, leaky_slope: float = 0.01, **network: Any) -> Network:
    """A :class:`fastdnn.Network` holding the ``nn.Linear`` parameters of a PyTorch ``state_dict``.

    Parameters
    ----------
    state_dict : mapping of str to tensor or array
        The state of an ``nn.Sequential`` of ``nn.Linear`` layers and
        parameter-free activations (``model.state_dict()``; tensors or NumPy
        arrays).  Keys ``<prefix><index>.weight`` and ``<prefix><index>.bias``,
        taken in the order of their module index; every layer needs both.
    hidden : str or list of str, default "relu"
        The activation between the layers, or one per hidden layer
        (PyTorch's state does not say).
    output : {"sigmoid", "softmax", "linear"}, default "sigmoid"
    dtype : numpy dtype, optional
        By default the weights' (float32 from a default PyTorch model).
    leaky_slope : float, default 0.01
        PyTorch's ``nn.LeakyReLU`` default ``negative_slope`` too.
    **network
        Other :class:`fastdnn.Network` arguments (``strategy``...).

    Returns
    -------
    fastdnn.Network
    """
    from .network import Network

    if not hasattr(state_dict, "items"):
        raise TypeError(f"state_dict must be a mapping of parameter names to tensors, got "
                        f"{type(state_dict).__name__}")
    layers: dict[tuple[str, int], dict[str, np.ndarray]] = {}
    for key, value in state_dict.items():
        head, _, kind = str(key).rpartition(".")
        prefix, _, digits = head.rpartition(".")
        if kind not in ("weight", "bias") or not digits.isdigit():
            raise ValueError(f"state_dict key {key!r} is not an nn.Sequential's '<index>.weight' or "
                             f"'<index>.bias'")
        layers.setdefault((prefix, int(digits)), {})[kind] = _as_array(key, value)
    if not layers:
        raise ValueError("state_dict holds no parameters")
    if len({prefix for prefix, _ in layers}) > 1:
        raise ValueError(f"state_dict holds more than one module: {sorted({p for p, _ in layers})}")
    ordered = [layers[key] for key in sorted(layers)]
    dims: list[int] = []
    for (prefix, index), layer in zip(sorted(layers), ordered):
        if set(layer) != {"weight", "bias"}:
            raise ValueError(f"layer {prefix}{'.' if prefix else ''}{index} needs both weight and bias, "
                             f"got {sorted(layer)}")
        W, b = layer["weight"], layer["bias"]
        if W.ndim != 2 or b.shape != (W.shape[0],):
            raise ValueError(f"layer {index}: weight must be (out, in) and bias (out,), got {W.shape} and "
                             f"{b.shape}")
        if dims and W.shape[1] != dims[-1]:
            raise ValueError(f"layer {index} takes {W.shape[1]} inputs but the layer before it gives "
                             f"{dims[-1]}")
        if not dims:
            dims.append(W.shape[1])
        dims.append(W.shape[0])
    dtype = ordered[0]["weight"].dtype if dtype is None else dtype
    net = Network(dims, hidden=hidden, output=output, dtype=dtype, leaky_slope=leaky_slope, **network)
    for (W, b), layer in zip(net.model_state.layers, ordered):
        W[...] = layer["weight"]
        b[...] = layer["bias"].reshape(b.shape)
    return net


def to_torch(net: Network) -> torch.nn.Sequential:
    """An ``nn.Sequential`` with the network's layers, activations and parameters (needs PyTorch).

    The output activation is included (``nn.Sigmoid``/``nn.Softmax(dim=1)``),
    so that ``model(X.T)`` gives ``net.predict_proba(X).T``; drop the last
    module to train it on logits.
    """
    if net.output == "poisson":
        raise ValueError("PyTorch has no exponential module for a poisson output: build the Sequential from "
                         "to_torch_state_dict and take torch.exp of its output")
    try:
        import torch
        from torch import nn
    except ImportError:
        raise ImportError("to_torch needs PyTorch (pip install torch); to_torch_state_dict does not") from None
    modules: list[nn.Module] = []
    for l, (n_in, n_out) in enumerate(zip(net.layer_dims[:-1], net.layer_dims[1:])):
        modules.append(nn.Linear(n_in, n_out))
        if l < net.n_layers - 1 and TORCH_MODULES[net.hidden_layers[l]] is not None:
            kind = TORCH_MODULES[net.hidden_layers[l]]
            modules.append(nn.LeakyReLU(net.leaky_slope) if kind == "LeakyReLU" else getattr(nn, cast(str, kind))())
    if net.output == "sigmoid":
        modules.append(nn.Sigmoid())
    elif net.output == "softmax":
        modules.append(nn.Softmax(dim=1))
    model = nn.Sequential(*modules).to(getattr(torch, net.dtype.name))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in to_torch_state_dict(net).items()})
    return model
