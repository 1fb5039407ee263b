"""A network on disk and in a pickle: its architecture record and its arenas.

:meth:`fastdnn.Network.save` writes one ``.npz`` file atomically (the
architecture as a small JSON record, the parameter arena, on request the
optimizer's state); :meth:`fastdnn.Network.load` reads it back bit for bit.
A pickle holds the same plus the training counters.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from . import checkpoint as _checkpoint
from . import optimizers as opt_mod

if TYPE_CHECKING:
    from .network import Network

_Net = TypeVar("_Net", bound="Network")

#: Identifies a fastdnn model file; bumped when the file layout changes.
FILE_FORMAT = "fastdnn.Network"
FILE_VERSION = 1


def architecture(net: Network) -> dict[str, Any]:
    """The record saved with ``net`` (and checked when a checkpoint resumes): a JSON-ready dict."""
    return {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "layer_dims": net.layer_dims,
        "hidden": net.hidden,
        "output": net.output,
        "dtype": net.dtype.name,
        "init": net.init,
        "seed": net.seed,
        "leaky_slope": net.leaky_slope,
        "strategy": net.strategy,
        "precision": net.precision,
        "layout": "weights-then-biases",
        "n_parameters": int(net.params.size),
        "metadata": net.metadata,
    }


def save(net: Network, path: str | os.PathLike, include_optimizer: bool = False) -> None:
    """Write ``net`` to ``path`` (see :meth:`fastdnn.Network.save`)."""
    path = os.fspath(path)
    arch = architecture(net)
    arrays = {"params": net.params}
    if include_optimizer:
        arch["optimizer"] = net.model_state.training_record()["optimizer"]
        arrays["optimizer_state"] = net.state
    try:
        record = json.dumps(arch)
    except TypeError as exc:
        raise TypeError(f"metadata must be JSON-serialisable: {exc}") from None
    arrays["fastdnn_architecture"] = np.array(record)
    # Temporary file, fsync, rename, fsync of the folder; an OSError
    # (missing folder, read-only, full disk) names the file and leaves
    # any previous one intact.
    _checkpoint.atomic_write(path, lambda f: np.savez(f, **arrays))


def load(cls: type[_Net], path: str | os.PathLike) -> _Net:
    """Read a network of class ``cls`` written by :func:`save` (see :meth:`fastdnn.Network.load`)."""
    path = os.fspath(path)
    arch = _checkpoint.read_archive(path, "model", "fastdnn_architecture", FILE_FORMAT, FILE_VERSION,
                                    "architecture", ("params",), ("optimizer_state",))
    params = arch["params"]
    state = arch.get("optimizer_state")
    try:
        net = cls.from_architecture(arch)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path} is not a fastdnn model file: its architecture record is invalid ({exc})") \
            from None
    if params.shape != net.params.shape or params.dtype != net.dtype:
        raise ValueError(
            f"{path} is damaged: its parameter arena has shape {params.shape} and dtype {params.dtype}, "
            f"the architecture needs ({net.params.size},) of {net.dtype}"
        )
    net.params[...] = params
    if state is not None and "optimizer" in arch:
        spec = arch["optimizer"]
        optimizer = opt_mod.from_config(spec["name"], spec["config"])
        expected = (optimizer.n_slots * net.params.size,)
        if state.shape != expected:
            raise ValueError(f"{path} is damaged: its optimizer state has shape {state.shape}, "
                             f"expected {expected}")
        net.model_state.load(net.params, optimizer, state, int(spec.get("t", 0)))
    return net


def pickled(net: Network) -> dict[str, Any]:
    """What a pickle of ``net`` holds: the arenas and counters; views and workspaces are rebuilt on load."""
    model = net.model_state
    return {
        "architecture": architecture(net),
        "params": model.params,
        "optimizer": (model.optimizer.name, model.optimizer.get_config()),
        "state": model.state,
        "t": model.t,
        "history": net.history,
        "rng": model.rng.bit_generator.state,
        "n_steps": model.n_steps,
    }


def unpickle(net: Network, saved: dict[str, Any]) -> None:
    """Fill ``net`` (built from ``saved["architecture"]``) with what :func:`pickled` kept."""
    net.model_state.load(saved["params"], opt_mod.from_config(*saved["optimizer"]), saved["state"], saved["t"],
                         saved["n_steps"], saved["rng"])
    net.history = saved["history"]
