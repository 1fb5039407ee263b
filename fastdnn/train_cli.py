"""``fastdnn train``, ``fastdnn predict`` and ``fastdnn evaluate``: the trainer from the command line.

One module serves the three sub-commands (they share the data handling);
:func:`add_arguments` tells them apart by the name the command-line parser
gives each one.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

from . import compiling

DATA_HELP = """\
DATA formats (chosen by the file name):
  .npz          NumPy archive holding an array X (one example per row) and
                labels y; other names with --x-key/--y-key
  .npy          array of inputs, one example per row, memory-mapped (a data
                set larger than memory trains); labels in a second .npy file
                given with --labels
  .h5           the course's HDF5 files (train_set_x/train_set_y,
                test_set_x/test_set_y, e.g. train_catvnoncat.h5)
  idx, idx.gz   the handwritten digits' files: give the images file
                (...-images-idx3-ubyte[.gz]); the labels file beside it
                (...-labels-idx1-ubyte[.gz]) is found by itself
  .csv, .csv.gz comma-separated numbers, a header row or not; the labels in
                the last column, or the one --label-column names
Images are flattened to one row per example.  Inputs stored as uint8 are
divided by 255 (see --scale), which makes one float copy in memory; for a
data set larger than memory, store float32 inputs already scaled in a .npy:
it is memory-mapped and each batch is read from the file, never copied whole."""


def _command(parser):
    return parser.prog.rsplit(" ", 1)[-1]


def add_arguments(parser):
    """Add the options of ``train``, ``predict`` or ``evaluate`` to its parser."""
    command = _command(parser)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    if command == "train":
        _train_arguments(parser)
    elif command == "predict":
        _predict_arguments(parser)
    elif command == "export":
        _export_arguments(parser)
    else:
        _evaluate_arguments(parser)


def _data_options(parser, labels_help):
    parser.add_argument("--labels", metavar="FILE", help=labels_help)
    parser.add_argument("--x-key", default="X", metavar="NAME", help="name of the inputs in an .npz (default: X)")
    parser.add_argument("--y-key", default="y", metavar="NAME", help="name of the labels in an .npz (default: y)")
    parser.add_argument("--label-column", default=None, metavar="NAME|INDEX",
                        help="the labels' column of a .csv: a header name or a number, negative from the end "
                             "(default: the last; predict and evaluate: the one the model was trained with)")


def _train_arguments(parser):
    parser.description = (
        "Train a fully-connected network on DATA and save it to one .npz file.\n\n"
        "The task follows from the labels: integer or text labels of 2 classes give a\n"
        "sigmoid output, of more classes a softmax output; real-valued labels give a\n"
        "linear output (mean squared error).  Example:\n\n"
        "  fastdnn train train.npz --layers 256,128 --epochs 5 --batch-size 4096 \\\n"
        "      --optimizer adam --lr 1e-3 --dtype float32 --out model.npz"
    )
    parser.epilog = DATA_HELP
    parser.add_argument("data", metavar="DATA", help="training data file (formats below)")
    _data_options(parser, "labels file for a .npy or idx DATA (.npy or idx)")
    g = parser.add_argument_group("network")
    g.add_argument("--layers", default="128", metavar="N,N,...",
                   help="sizes of the hidden layers, comma-separated; '' for none (default: 128). A list that "
                        "starts with the input size and ends with the output size is taken as the whole network "
                        "(and said so); --exact-layers keeps it as hidden layers")
    g.add_argument("--exact-layers", action="store_true",
                   help="take --layers as the hidden layers whatever sizes it starts and ends with")
    g.add_argument("--hidden", default="relu", choices=["relu", "tanh", "sigmoid", "leaky_relu", "linear"],
                   help="activation of the hidden layers (default: relu)")
    g.add_argument("--output", default="auto", choices=["auto", "sigmoid", "softmax", "linear"],
                   help="output layer; auto picks it from the labels (default: auto)")
    g.add_argument("--init", default="auto", choices=["auto", "scaled", "small", "he", "xavier"],
                   help="weight initialization; auto is he for relu, xavier otherwise (default: auto)")
    g.add_argument("--dtype", default="float32", choices=["float32", "float64"],
                   help="precision; float32 is about twice as fast (default: float32)")
    g.add_argument("--precision", default="float", choices=["float", "bf16", "auto"],
                   help="what the training products multiply: bf16 rounds their operands to bfloat16 and sums "
                        "in float32 (float32 networks; needs pip install \"fastdnn[mkl]\"); auto takes bf16 "
                        "where this CPU makes it faster (default: float)")
    g.add_argument("--seed", type=int, default=1, help="seeds weights, shuffling and dropout (default: 1)")
    g = parser.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=10, help="passes over the data (default: 10)")
    g.add_argument("--batch-size", default="256", metavar="N|full",
                   help="examples per step, or 'full' for full-batch gradient descent (default: 256)")
    g.add_argument("--optimizer", default="adam", choices=["sgd", "momentum", "adam", "adamw"],
                   help="adamw: Adam with decoupled weight decay (--weight-decay) (default: adam)")
    g.add_argument("--weight-decay", type=float, default=0.01, metavar="W",
                   help="adamw's decoupled weight decay (default: 0.01)")
    g.add_argument("--clip-norm", type=float, metavar="C",
                   help="scale each step's gradient down to this global L2 norm when it is longer")
    g.add_argument("--clip-value", type=float, metavar="V",
                   help="clip each entry of each step's gradient to [-V, V]")
    g.add_argument("--early-stopping", type=int, metavar="PATIENCE",
                   help="stop when the validation cost (or, without validation data, the training cost) has not "
                        "improved for PATIENCE epochs, and keep the best epoch's weights")
    g.add_argument("--lr", type=float, default=1e-3, help="learning rate (default: 1e-3)")
    g.add_argument("--l2", type=float, default=0.0, help="L2 regularization strength lambda (default: 0)")
    g.add_argument("--dropout", type=float, default=0.0, help="probability of dropping a hidden unit (default: 0)")
    g.add_argument("--scale", default="auto", metavar="auto|none|FACTOR",
                   help="multiply the inputs by FACTOR; auto divides uint8 inputs by 255 (default: auto). "
                        "The factor is saved with the model and applied by predict/evaluate")
    g.add_argument("--standardize", action="store_true",
                   help="center each input feature and divide it by its standard deviation (over the training "
                        "data, after --scale; a float copy of the inputs); saved with the model and applied by "
                        "predict, evaluate and export")
    g.add_argument("--validation", metavar="FILE", help="validation data, evaluated after every epoch")
    g.add_argument("--validation-labels", metavar="FILE", help="labels file of --validation (.npy or idx)")
    g.add_argument("--validation-split", type=float, default=0.0, metavar="FRACTION",
                   help="hold out this fraction of DATA (chosen with --seed) for validation instead")
    g.add_argument("--out", default="model.npz", metavar="FILE", help="where to save the model (default: model.npz)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar (it is also off when not on a terminal)")
    g.add_argument("--distributed", action="store_true",
                   help="data-parallel over MPI: run as 'mpirun -n R fastdnn train ... --distributed'; every rank "
                        "trains on its share of each batch (--batch-size is the global batch) and rank 0 saves "
                        "(needs the distributed extra: pip install 'fastdnn[distributed]')")
    g = parser.add_argument_group("checkpoints")
    g.add_argument("--checkpoint", metavar="FILE",
                   help="write the whole training state to FILE (atomically) after every epoch and every "
                        "--checkpoint-every steps")
    g.add_argument("--checkpoint-every", type=int, metavar="N", help="also checkpoint every N steps")
    g.add_argument("--resume", action="store_true",
                   help="continue from --checkpoint when it exists (same data and options as the interrupted "
                        "run): the result is bit-identical to a run that never stopped")


def _predict_arguments(parser):
    parser.description = (
        "Predict with a model saved by 'fastdnn train': one line per example on standard\n"
        "output (the class label, or the output values for a linear model), or a file.\n\n"
        "  fastdnn predict model.npz test.npz --out predictions.txt"
    )
    parser.epilog = DATA_HELP
    parser.add_argument("model", metavar="MODEL", help="model file written by 'fastdnn train'")
    parser.add_argument("data", metavar="DATA", help="inputs (labels, if the file has any, are ignored)")
    _data_options(parser, "ignored (accepted so that the same options work for evaluate)")
    parser.add_argument("--proba", action="store_true",
                        help="print the class probabilities instead of the class (one column per class)")
    parser.add_argument("--out", metavar="FILE", help="write to FILE: .npy (binary) or text (any other name)")


def _evaluate_arguments(parser):
    parser.description = (
        "Evaluate a model saved by 'fastdnn train' on labelled DATA: prints the number\n"
        "of examples, the cost and (for classifiers) the accuracy.\n\n"
        "  fastdnn evaluate model.npz test.npz"
    )
    parser.epilog = DATA_HELP
    parser.add_argument("model", metavar="MODEL", help="model file written by 'fastdnn train'")
    parser.add_argument("data", metavar="DATA", help="inputs and labels (formats below)")
    _data_options(parser, "labels file for a .npy or idx DATA (.npy or idx)")
    parser.add_argument("--json", action="store_true", help="print the scores as one JSON object")


def _export_arguments(parser):
    parser.description = (
        "Write a model saved by 'fastdnn train' as an ONNX file: input X (N, n_features),\n"
        "one example per row as stored in DATA (the model's input scaling is in the graph),\n"
        "output 'output' (N, n_outputs), what 'fastdnn predict --proba' prints.\n\n"
        "  fastdnn export model.npz --onnx model.onnx\n\n"
        "Needs the onnx package: pip install \"fastdnn[onnx]\"."
    )
    parser.add_argument("model", metavar="MODEL", help="model file written by 'fastdnn train'")
    parser.add_argument("--onnx", required=True, metavar="OUT", help="the ONNX file to write")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                        help="element type of the graph (default: float32)")


# ---------------------------------------------------------------- running


class CommandError(Exception):
    """A user error: printed as one line, exit status 2."""


def run(args):
    """Run the sub-command; returns the exit status (2 and a one-line message on a user error)."""
    handlers = {"train": _train, "predict": _predict, "evaluate": _evaluate, "export": _export}
    try:
        return handlers[args.command](args)
    except (CommandError, FileNotFoundError, IsADirectoryError, PermissionError, ValueError, TypeError,
            ImportError, FloatingPointError, OSError) as exc:
        message = " ".join(str(exc).split())
        print(f"fastdnn {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fastdnn {args.command}: interrupted", file=sys.stderr)
        return 130


def _load(path, labels, x_key, y_key, need_labels, label_column="-1"):
    from .data import load_data

    X, y = load_data(path, labels=labels, x_key=x_key, y_key=y_key, label_column=label_column)
    if need_labels and y is None:
        raise CommandError(f"{path} has no labels; give them with --labels FILE")
    if X.shape[0] == 0:
        raise CommandError(f"{path} has no examples")
    return X, y


def _scale_factor(option, X):
    if option == "auto":
        return 1.0 / 255.0 if X.dtype == np.uint8 else 1.0
    if option == "none":
        return 1.0
    try:
        factor = float(option)
    except ValueError:
        raise CommandError(f"--scale must be auto, none or a number, got {option!r}") from None
    if not np.isfinite(factor) or factor == 0:
        raise CommandError(f"--scale must be a finite non-zero number, got {option!r}")
    return factor


def _model_inputs(X, metadata, dtype):
    """Raw inputs as the model was trained on them: scaled, then standardized when it was (a copy if either)."""
    return _standardized(_scaled(X, float(metadata.get("input_scale", 1.0)), dtype), metadata, dtype)


def _standardized(X, metadata, dtype):
    """``(X - mean) / std`` of the model's ``--standardize`` (a copy), or ``X`` when it has none."""
    if metadata.get("input_mean") is None:
        return X
    return (X - np.asarray(metadata["input_mean"], dtype=dtype)) / np.asarray(metadata["input_std"], dtype=dtype)


def _standardization(X):
    """Per-feature mean and standard deviation of ``X`` (float64 sums; 1 for a constant feature), as lists."""
    mean = np.mean(X, axis=0, dtype=np.float64)
    std = np.std(X, axis=0, dtype=np.float64)
    return mean.tolist(), np.where(std > 0, std, 1.0).tolist()


def _scaled(X, factor, dtype):
    """``X * factor`` in ``dtype`` (a copy), or ``X`` itself when the factor is 1."""
    if factor == 1.0:
        return X
    return np.multiply(X, dtype.type(factor), dtype=dtype)


def _targets(y, output):
    """(output, n_outputs, Y for Network.fit as labels or a matrix, classes or None)."""
    y = np.asarray(y)
    if y.ndim == 2 and output == "auto":
        output = _two_d_output(y)
    if y.ndim == 2:
        if output == "softmax" and not (np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1)):
            raise CommandError("--output softmax needs one label per example or one-hot rows; the labels are 2-D "
                               "and not one-hot")
        if output == "softmax":  # one-hot rows: the class of each is its 1
            return "softmax", y.shape[1], np.argmax(y, axis=1).astype(np.int64), np.arange(y.shape[1])
        if output == "linear":
            return "linear", y.shape[1], y.T, None
        if output == "sigmoid":
            return "sigmoid", y.shape[1], y.T, None
    integral = y.dtype.kind in "iubUSO" or (y.dtype.kind == "f" and np.all(y == np.round(y)))
    if output == "linear" or (output == "auto" and not integral):
        return "linear", 1, y.astype(np.float64).reshape(1, -1), None
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise CommandError(f"the labels hold a single class ({classes[0]!r}); a classifier needs at least 2")
    if output == "auto":
        output = "sigmoid" if len(classes) == 2 else "softmax"
    if output == "sigmoid" and len(classes) != 2:
        raise CommandError(f"--output sigmoid needs 2 classes, the labels have {len(classes)}")
    n_out = 1 if output == "sigmoid" else len(classes)
    return output, n_out, codes.astype(np.int64), classes


def _two_d_output(y):
    """What a 2-D label array asks for, said on stderr: one-hot rows, several 0/1 labels, or values."""
    binary = y.size and np.all((y == 0) | (y == 1))
    if binary and y.shape[1] >= 2 and np.all(y.sum(axis=1) == 1):
        print(f"the labels are one-hot rows of {y.shape[1]} classes: training a softmax classifier "
              f"(--output sigmoid for {y.shape[1]} yes/no labels, --output linear for a regression)",
              file=sys.stderr)
        return "softmax"
    if binary:
        print(f"the labels are {y.shape[1]} columns of 0/1: training {y.shape[1]} sigmoid outputs, one yes/no "
              f"answer each (--output linear for a regression)", file=sys.stderr)
        return "sigmoid"
    print(f"the labels are {y.shape[1]} columns of values: training a linear regression of {y.shape[1]} outputs",
          file=sys.stderr)
    return "linear"


def _hidden_sizes(sizes, n_features, n_out):
    """The hidden layers of ``--layers``, and what it says when the list looks like the course's layers_dims."""
    if len(sizes) >= 2 and sizes[0] == n_features and sizes[-1] == n_out:
        print(f"--layers {','.join(map(str, sizes))} starts with the {n_features} input features and ends with the "
              f"{n_out} outputs: taken as the whole network, hidden layers {sizes[1:-1]} (--layers lists the hidden "
              f"layers only; --exact-layers keeps them all as hidden layers)", file=sys.stderr)
        return sizes[1:-1]
    if sizes and (sizes[0] == n_features or sizes[-1] == n_out):
        print(f"note: --layers lists the hidden layers only; {','.join(map(str, sizes))} is taken as such, so the "
              f"network is {[n_features, *sizes, n_out]}", file=sys.stderr)
    return sizes


def _layers(text):
    text = text.strip()
    if not text:
        return []
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise CommandError(f"--layers must be comma-separated positive integers like 256,128, got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise CommandError(f"--layers must be positive integers, got {text!r}")
    return sizes


def _batch_size(args):
    """``--batch-size`` and the other numeric options checked; returns the batch size (``None``: full batch)."""
    if args.epochs < 1:
        raise CommandError(f"--epochs must be at least 1, got {args.epochs}")
    if args.batch_size == "full":
        batch_size = None
    else:
        try:
            batch_size = int(args.batch_size)
        except ValueError:
            raise CommandError(f"--batch-size must be a positive integer or 'full', got {args.batch_size!r}") \
                from None
        if batch_size < 1:
            raise CommandError(f"--batch-size must be a positive integer or 'full', got {batch_size}")
    if not (np.isfinite(args.lr) and args.lr > 0):
        raise CommandError(f"--lr must be a positive number, got {args.lr}")
    if not (np.isfinite(args.l2) and args.l2 >= 0):
        raise CommandError(f"--l2 must be a non-negative number, got {args.l2}")
    if not 0.0 <= args.dropout < 1.0:
        raise CommandError(f"--dropout must lie in [0, 1), got {args.dropout}")
    for flag, value in (("--clip-norm", args.clip_norm), ("--clip-value", args.clip_value)):
        if value is not None and not (np.isfinite(value) and value > 0):
            raise CommandError(f"{flag} must be a positive number, got {value}")
    if not (np.isfinite(args.weight_decay) and args.weight_decay >= 0):
        raise CommandError(f"--weight-decay must be a non-negative number, got {args.weight_decay}")
    if args.early_stopping is not None and args.early_stopping < 1:
        raise CommandError(f"--early-stopping must be a patience of at least 1 epoch, got {args.early_stopping}")
    if not 0.0 <= args.validation_split < 1.0:
        raise CommandError(f"--validation-split must lie in [0, 1), got {args.validation_split}")
    if args.resume and not args.checkpoint:
        raise CommandError("--resume needs --checkpoint FILE")
    if args.checkpoint_every is not None and (not args.checkpoint or args.checkpoint_every < 1):
        raise CommandError(f"--checkpoint-every must be a positive integer used with --checkpoint, "
                           f"got {args.checkpoint_every}")
    return batch_size


def _validation(args, net, X, Y):
    """``(train_indices, validation examples)`` of ``--validation`` or ``--validation-split`` (``None`` when neither)."""
    if args.validation:
        Xv, yv = _load(args.validation, args.validation_labels, args.x_key, args.y_key, need_labels=True,
                       label_column=args.label_column or "-1")
        _check_features(Xv, net, args.validation)
        Xv = _model_inputs(Xv, net.metadata, net.dtype)
        return None, net.prepare(Xv.T, _encode(yv, net, args.validation),
                                 names=(f"{args.validation} (inputs)", f"{args.validation} (labels)"))
    if args.validation_split > 0:
        order = np.random.default_rng(args.seed).permutation(X.shape[0])
        n_val = max(1, int(round(args.validation_split * X.shape[0])))
        if n_val >= X.shape[0]:
            raise CommandError(f"--validation-split {args.validation_split} leaves no training examples")
        val, train_indices = np.sort(order[:n_val]), np.sort(order[n_val:])
        return train_indices, net.prepare(np.ascontiguousarray(X[val]).T, Y[..., val],
                                          names=("validation inputs", "validation labels"))
    return None, None


def _summary(history, n_train, seconds, compile_seconds):
    """The line the command prints after training."""
    last = {k: values[-1] for k, values in history.items()}
    summary = [f"epochs {len(history['cost'])}", f"cost {last['cost']:.6g}"]
    if "accuracy" in last:
        summary.append(f"train accuracy {last['accuracy']:.4f}")
    if "val_cost" in last:
        summary.append(f"validation cost {last['val_cost']:.6g}")
    if "val_accuracy" in last:
        summary.append(f"validation accuracy {last['val_accuracy']:.4f}")
    summary.append(f"{seconds:.2f} s ({n_train * len(history['cost']) / seconds:,.0f} examples/s)")
    if compile_seconds >= 0.5:
        summary.append(f"compiling kernels {compile_seconds:.1f} s (first use only, not counted above)")
    return "; ".join(summary)


def _train(args):
    from . import validation as v
    from . import optimizers
    from .fitting import FitSettings
    from .network import Network

    batch_size = _batch_size(args)
    hidden_sizes = _layers(args.layers)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        raise CommandError(f"cannot write {args.out}: the folder {out_dir} does not exist")

    X, y = _load(args.data, args.labels, args.x_key, args.y_key, need_labels=True,
                 label_column=args.label_column or "-1")
    dtype = np.dtype(args.dtype)
    factor = _scale_factor(args.scale, X)
    X = _scaled(X, factor, dtype)
    output, n_out, Y, classes = _targets(y, args.output)
    if not args.exact_layers:
        hidden_sizes = _hidden_sizes(hidden_sizes, X.shape[1], n_out)
    init = args.init if args.init != "auto" else ("he" if args.hidden in ("relu", "leaky_relu") else "xavier")
    if args.precision == "bf16" and dtype != np.float32:
        raise CommandError("--precision bf16 keeps float32 parameters: use it with --dtype float32")
    try:
        net = Network([X.shape[1], *hidden_sizes, n_out], hidden=args.hidden, output=output, dtype=dtype,
                      init=init, seed=v.non_negative_int("--seed", args.seed), precision=args.precision)
    except ImportError as exc:
        raise CommandError(str(exc)) from None
    net.metadata = {"input_scale": factor, "classes": None if classes is None else classes.tolist(),
                    "trained_on": os.path.basename(args.data),
                    # a CSV's label column, so that predict and evaluate read the same columns as inputs
                    "label_column": args.label_column or "-1"}
    if args.standardize:
        net.metadata["input_mean"], net.metadata["input_std"] = _standardization(X)
        X = _standardized(X, net.metadata, dtype)

    data = net.prepare(X.T, Y, names=(f"{args.data} (inputs)", f"{args.data} (labels)"))
    train_indices, validation_data = _validation(args, net, X, Y)

    rank = 0
    if args.distributed:
        from . import distributed

        comm = distributed.world()
        rank = comm.Get_rank()
    n_train = X.shape[0] if train_indices is None else len(train_indices)
    if rank == 0:
        print(f"training {net.layer_dims} ({output} output, {net.params.size} parameters, {dtype.name}) on "
              f"{n_train} examples of {args.data}", file=sys.stderr)
    started = time.perf_counter()
    compiled_before = compiling.seconds()
    optimizer = optimizers.AdamW(weight_decay=args.weight_decay) if args.optimizer == "adamw" else args.optimizer
    if args.early_stopping is not None and args.distributed:
        raise CommandError("--early-stopping is not available with --distributed")
    settings = FitSettings(epochs=args.epochs, batch_size=batch_size, optimizer=optimizer, learning_rate=args.lr,
                           l2=args.l2, dropout=args.dropout, progress=not args.no_progress, indices=train_indices,
                           checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every, resume=args.resume,
                           clip_norm=args.clip_norm, clip_value=args.clip_value, early_stopping=args.early_stopping)
    if args.distributed:
        history = distributed.train(net, data, settings, validation_data, comm)
    else:
        history = net.train(data, settings, validation_data)
    # Throughput counts training only: a first run's kernel compiles are said apart.
    compile_seconds = compiling.seconds() - compiled_before
    seconds = max(time.perf_counter() - started - compile_seconds, 1e-9)
    if rank != 0:
        return 0  # rank 0 alone reports and saves
    net.save(args.out)
    if not history:
        print(f"nothing left to train: {args.checkpoint} is at epoch {args.epochs}")
        print(f"saved {args.out}")
        return 0
    print(_summary(history, n_train, seconds, compile_seconds))
    stopper = settings.early_stopping
    if stopper is not None and stopper.stopped_epoch is not None:
        kept = f"kept epoch {stopper.best_epoch}'s weights" if stopper.restored else "the last epoch was the best"
        print(f"early stopping: {stopper.watching} did not improve for {stopper.patience} epochs; {kept} "
              f"({stopper.watching} {stopper.best:.6g})")
    print(f"saved {args.out}")
    return 0


def _open_model(path):
    from .network import Network

    return Network.load(path)


def _check_features(X, net, path):
    if X.shape[1] != net.layer_dims[0]:
        raise CommandError(
            f"{path} has {X.shape[1]} features per example but the model expects {net.layer_dims[0]}"
        )


def _encode(y, net, path):
    """Labels of ``path`` in the model's terms: class numbers or a target matrix."""
    classes = net.metadata.get("classes")
    y = np.asarray(y)
    if classes is None:
        Y = y.T if y.ndim == 2 else y.reshape(1, -1)
        if Y.shape[0] != net.layer_dims[-1]:
            raise CommandError(f"{path} has {Y.shape[0]} target(s) per example but the model has "
                               f"{net.layer_dims[-1]} output(s)")
        return Y
    if y.ndim == 2 and y.shape[1] == len(classes) and np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1):
        return np.argmax(y, axis=1).astype(np.int64)  # one-hot rows, a column per class in the model's order
    if y.ndim != 1:
        raise CommandError(f"{path} has labels of shape {y.shape}; the model expects one class label per example")
    known = np.asarray(classes)
    if known.dtype.kind in "iuf" and y.dtype.kind in "iuf":
        y = y.astype(known.dtype) if np.all(y == np.round(y)) else y
    elif known.dtype.kind in "US":
        y = y.astype(str)
    position = np.searchsorted(known, y)
    position = np.minimum(position, len(known) - 1)
    unknown = known[position] != y
    if np.any(unknown):
        raise CommandError(f"{path} has labels the model was not trained on: {np.unique(y[unknown])[:10].tolist()}; "
                           f"its classes are {classes}")
    return position.astype(np.int64)


def _model_and_inputs(args, need_labels):
    net = _open_model(args.model)
    label_column = args.label_column or net.metadata.get("label_column", "-1")
    csv = args.data.lower().endswith((".csv", ".csv.gz"))
    try:
        X, y = _load(args.data, args.labels if need_labels else None, args.x_key, args.y_key, need_labels,
                     label_column=label_column)
    except ValueError:
        if need_labels or not csv:
            raise
        X = None  # predict on a CSV without the label column (named in its header)
    if not need_labels and csv and (X is None or X.shape[1] == net.layer_dims[0] - 1):
        # A CSV of inputs only: a column was taken for labels.
        X, y = _load(args.data, None, args.x_key, args.y_key, False, label_column=None)
    _check_features(X, net, args.data)
    return net, _model_inputs(X, net.metadata, net.dtype), y


def _predict(args):
    net, X, _ = _model_and_inputs(args, need_labels=False)
    P = net.predict_proba(X.T).T  # (m, n_out)
    classes = net.metadata.get("classes")
    if args.proba:
        if net.output == "sigmoid" and net.layer_dims[-1] == 1:
            P = np.column_stack([1 - P[:, 0], P[:, 0]])
        result = P
    elif classes is None:
        result = P if net.output == "linear" else (P > 0.5).astype(np.int64)
    else:
        index = (P[:, 0] > 0.5).astype(np.intp) if net.output == "sigmoid" else np.argmax(P, axis=1)
        result = np.asarray(classes)[index]
    if args.out:
        if args.out.endswith(".npy"):
            np.save(args.out, result)
        else:
            np.savetxt(args.out, result if result.ndim else result.reshape(1), fmt="%s")
        print(f"wrote {len(result)} predictions to {args.out}", file=sys.stderr)
    else:
        try:
            np.savetxt(sys.stdout, result, fmt="%s")
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader (``| head``) has gone: stop quietly, as other tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _export(args):
    from .interop import to_onnx

    net = _open_model(args.model)
    to_onnx(net, args.onnx, np.dtype(args.dtype))
    print(f"wrote {args.onnx}: {net.layer_dims} ({net.output} output), input X (N, {net.layer_dims[0]}), "
          f"output (N, {net.layer_dims[-1]})", file=sys.stderr)
    return 0


def _evaluate(args):
    net, X, y = _model_and_inputs(args, need_labels=True)
    scores = net.evaluate(X.T, _encode(y, net, args.data))
    scores = {"examples": int(X.shape[0]), **{k: float(val) for k, val in scores.items()}}
    if args.json:
        print(json.dumps(scores))
    else:
        for key, value in scores.items():
            print(f"{key}: {value:.6g}" if isinstance(value, float) else f"{key}: {value}")
    return 0
