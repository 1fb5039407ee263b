"""The ``fastdnn`` command line: ``fastdnn bench``, ``fastdnn train``, ...

Each sub-command lives in its own module, which provides
``add_arguments(parser)`` and ``run(args) -> int``; this module only wires
them up, importing each lazily so that ``fastdnn --help`` stays fast.
"""

import argparse
import importlib
import sys

# name -> (module, one-line help)
COMMANDS = {
    "bench": ("fastdnn.bench", "time fastdnn against the NumPy reference on generated data and print a table"),
    "train": ("fastdnn.train_cli", "train a network on a data file (.npz, .npy, .h5, idx) and save it"),
    "predict": ("fastdnn.train_cli", "predict with a saved network, one line per example"),
    "evaluate": ("fastdnn.train_cli", "cost and accuracy of a saved network on labelled data"),
    "export": ("fastdnn.train_cli", "write a saved network as an ONNX file for other runtimes"),
    "warmup": ("fastdnn.warmup", "compile fastdnn's kernels for this machine ahead of time (Docker images, CI, clusters)"),
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fastdnn",
        description="Fully-connected deep neural networks on the CPU, fast.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"fastdnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(p)
    return parser


def main(argv=None):
    """Entry point of the ``fastdnn`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    module = importlib.import_module(COMMANDS[args.command][0])
    return module.run(args)


if __name__ == "__main__":
    sys.exit(main())
