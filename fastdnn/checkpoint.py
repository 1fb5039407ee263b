"""Training checkpoints: the whole state of a :meth:`Network.fit`, written atomically.

A checkpoint holds everything the next step of training depends on: the
parameter arena, the optimizer (its configuration, state arena and step
count), the network's step count (which keys the dropout masks), the state
of the shuffling generator, the order of the current epoch's examples, the
position in the fit (epoch, step) with the running sums of the epoch's
record, and the history.  Resuming from it continues the very same sequence
of floating-point operations, so a run that is killed and resumed ends with
the same parameters, bit for bit, as a run that never stopped.

Files are written with :func:`atomic_write`: a temporary file in the same
folder, flushed and ``fsync``-ed, renamed over the destination, and the
folder ``fsync``-ed.  A crash (or a full disk) at any moment leaves either
the previous file or the new one, never a torn one.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from numpy.typing import ArrayLike

    from .state import ModelState

CHECKPOINT_FORMAT = "fastdnn.checkpoint"
CHECKPOINT_VERSION = 1


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> None:
    """Write a file through ``write(file)`` so that ``path`` is never torn.

    Parameters
    ----------
    path : str or path
        Destination; replaced only once the new content is on disk.
    write : callable
        ``write(f)`` writes the content to the binary file object ``f``.

    Raises
    ------
    OSError
        The folder is missing or unwritable, or the disk is full; the message
        names ``path``, which keeps its previous content.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        reason = exc.strerror or str(exc)
        raise OSError(exc.errno, f"could not write {path} ({reason}); any previous {path} is unchanged") from exc
    except BaseException:
        _remove(tmp)
        raise
    fsync_directory(directory)


def _remove(tmp):
    if tmp is not None:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def fsync_directory(directory: str | os.PathLike) -> None:
    """Make a rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save(path: str | os.PathLike, state: ModelState, architecture: dict[str, Any], history: dict[str, list],
         position: dict[str, Any], indices: ArrayLike) -> None:
    """Write the training state to ``path`` (atomically).

    Parameters
    ----------
    path : str or path
    state : fastdnn.state.ModelState
        The parameters, the optimizer with its state and step count, the
        network's step count and shuffling generator.
    architecture : dict
        The network's record (:attr:`fastdnn.Network.architecture`).
    history : dict of list
        The network's records of every fit so far.
    position : dict
        JSON-serialisable: ``epoch`` (epochs of the fit completed), ``step``
        (steps of the current epoch completed), ``total`` and ``correct``
        (running sums of the epoch's record), ``history`` (records of this
        fit so far) and ``config`` (the fit's settings, checked on resume).
    indices : ndarray of shape (m,)
        The order of the examples of the current epoch.
    """
    record = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "architecture": architecture,
        **state.training_record(),
        "history": history,
        "position": position,
    }
    text = json.dumps(record)
    arrays = {
        "params": state.params,
        "optimizer_state": state.state,
        "indices": np.ascontiguousarray(indices, dtype=np.int64),
        "fastdnn_checkpoint": np.array(text),
    }
    atomic_write(path, lambda f: np.savez(f, **arrays))


class _Foreign(Exception):
    """The file reads, but it is not what was asked for."""


def read_archive(path: str | os.PathLike, what: str, record_name: str, fmt: str, version: int, label: str,
                 arrays: Sequence[str], optional: Sequence[str] = ()) -> dict[str, Any]:
    """Open one of fastdnn's ``.npz`` files: its JSON record and its arrays.

    Parameters
    ----------
    path : str or path
    what : str
        What the file should be (``"model"``, ``"checkpoint"``), for the messages.
    record_name : str
        The array holding the JSON record.
    fmt : str
        The record's ``"format"``.
    version : int
        The newest ``"version"`` this fastdnn reads.
    label : str
        The record's name in the messages.
    arrays : tuple of str
        Arrays the file must hold.
    optional : tuple of str
        Arrays it may hold.

    Returns
    -------
    dict
        The record, with every array present among ``arrays`` and
        ``optional`` added under its name.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        The file is not an ``.npz`` archive, is truncated or damaged, or is
        another kind of file; the message names it.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such {what} file: {path}")
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise _Foreign(f"it is a single .npy array, not a fastdnn .npz {what}")
        with archive:
            if record_name not in archive.files:
                raise _Foreign(f"it has no {label} record (arrays: {', '.join(archive.files) or 'none'})")
            record = json.loads(str(archive[record_name]))
            if not isinstance(record, dict) or record.get("format") != fmt:
                raise _Foreign(f"its {label} record is not a {fmt}'s")
            if record.get("version", 0) > version:
                raise _Foreign(f"it was written by a newer fastdnn (file version {record.get('version')})")
            for name in arrays:
                if name not in archive.files:
                    raise _Foreign(f"it has no array {name!r}")
            for name in (*arrays, *optional):
                if name in archive.files:
                    record[name] = archive[name]
    except _Foreign as exc:
        raise ValueError(f"{path} is not a fastdnn {what} file: {exc}") from None
    except (ValueError, OSError, EOFError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        raise ValueError(
            f"{path} is not a readable fastdnn {what} file (not an .npz archive, truncated or damaged): {exc}"
        ) from None
    return record


def load(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save`.

    Returns
    -------
    dict
        The JSON record with the arrays ``params``, ``optimizer_state`` and
        ``indices`` added.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        The file is truncated, damaged, or not a fastdnn checkpoint; the
        message names it.
    """
    record = read_archive(path, "checkpoint", "fastdnn_checkpoint", CHECKPOINT_FORMAT, CHECKPOINT_VERSION,
                          "checkpoint", ("params", "optimizer_state", "indices"))
    for key in ("architecture", "optimizer", "n_steps", "rng", "history", "position"):
        if key not in record:
            raise ValueError(f"{os.fspath(path)} is not a fastdnn checkpoint file: its record has no {key!r}")
    return record


def restore(state: ModelState, record: dict[str, Any], path: str | os.PathLike, architecture: dict[str, Any]) -> None:
    """Put the training state of a checkpoint ``record`` (from :func:`load`) into ``state``.

    ``architecture`` is the record of the network ``state`` belongs to; the
    caller takes the history and metadata from ``record``.

    Raises
    ------
    ValueError
        The checkpoint belongs to another architecture, or it is damaged;
        the message names ``path`` and the difference.
    """
    from . import optimizers as opt_mod

    arch = record["architecture"]
    for key in ("layer_dims", "hidden", "output", "dtype", "leaky_slope"):
        if arch.get(key) != architecture[key]:
            raise ValueError(
                f"checkpoint {path} was written by a network with {key}={arch.get(key)!r}; "
                f"this network has {key}={architecture[key]!r}"
            )
    params = record["params"]
    if params.shape != state.params.shape or params.dtype != state.dtype:
        raise ValueError(
            f"checkpoint {path} is damaged: its parameter arena has shape {params.shape} and dtype "
            f"{params.dtype}, the network needs ({state.params.size},) of {state.dtype}"
        )
    spec = record["optimizer"]
    try:
        optimizer = opt_mod.from_config(spec["name"], spec["config"])
        values = record["optimizer_state"]
        expected = (optimizer.n_slots * state.params.size,)
        if values.shape != expected or values.dtype != state.dtype:
            raise ValueError(f"its optimizer state has shape {values.shape}, expected {expected}")
        state.load(params, optimizer, values, int(spec["t"]), int(record["n_steps"]), record["rng"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"checkpoint {path} is damaged: {exc}") from None
