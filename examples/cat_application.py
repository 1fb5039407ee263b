"""The course's cat / non-cat application, with fastdnn as a drop-in for the course's helpers.

Run:  python examples/cat_application.py [--iterations 2500] [--data DIR]
The data are the course's train_catvnoncat.h5 / test_catvnoncat.h5 (in $FASTDNN_DATA, or
../shared/data beside the repository); the 'data' extra reads them (pip install "fastdnn[data]").
"""

import argparse
import os
from pathlib import Path

import numpy as np

import fastdnn as dnn  # the one line a notebook changes: was "from dnn_app_utils_v3 import *"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2500)
    parser.add_argument("--data", default=os.environ.get("FASTDNN_DATA") or
                        str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    args = parser.parse_args()

    train_x_orig, train_y, test_x_orig, test_y, classes = dnn.load_catvnoncat(args.data)
    # One column per image, pixel values in [0, 1], as the course prepares them.
    train_x = train_x_orig.reshape(train_x_orig.shape[0], -1).T / 255.0
    test_x = test_x_orig.reshape(test_x_orig.shape[0], -1).T / 255.0

    parameters, costs = dnn.L_layer_model(train_x, train_y, [12288, 20, 7, 5, 1], learning_rate=0.0075,
                                          num_iterations=args.iterations, print_cost=True, return_costs=True)
    for name, x, y in (("train", train_x, train_y), ("test", test_x, test_y)):
        AL, _ = dnn.L_model_forward(x, parameters)
        print(f"{name} accuracy: {np.mean((AL > 0.5) == y):.4f}")


if __name__ == "__main__":
    main()
