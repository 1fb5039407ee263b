"""Networks out of fastdnn: ONNX files for other runtimes.

:func:`to_onnx` writes a trained :class:`fastdnn.Network` as an ONNX graph --
one ``Gemm`` per layer (``X W^T + b``, rows are examples as ONNX runtimes
expect) and its activation -- through the ``onnx`` package, an optional extra
(``pip install "fastdnn[onnx]"``) imported only here.  The estimators'
``to_onnx`` and ``fastdnn export MODEL --onnx OUT`` use it.
"""

import numpy as np

from . import validation as v

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
    op = ACTIVATION_OPS[kind]
    if op is None:
        return helper.make_node("Identity", [source], [target])
    if op == "LeakyRelu":
        return helper.make_node(op, [source], [target], alpha=float(slope))
    return helper.make_node(op, [source], [target])


def network_graph(net, dtype=np.float32, input_scale=None, two_class_columns=False):
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
        kind = net.hidden if l < L else net.output
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


def to_onnx(net, path, dtype=np.float32, input_scale=None):
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
