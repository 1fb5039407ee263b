"""The trainer on the 10,000 handwritten digits, with checkpoints: stop it (Ctrl-C, kill -9), run it again.

Run:  python examples/digits_trainer_checkpoints.py [--epochs 20] [--checkpoint digits.ckpt.npz]
The data are the t10k-images-idx3-ubyte.gz / t10k-labels-idx1-ubyte.gz files (in $FASTDNN_DATA,
or ../shared/data beside the repository): 8,000 images to train on, 2,000 to test.
"""

import argparse
import os
from pathlib import Path

import numpy as np

import fastdnn


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--limit", type=int, default=10000, help="use the first LIMIT images only")
    parser.add_argument("--checkpoint", default="digits.ckpt.npz")
    parser.add_argument("--data", default=os.environ.get("FASTDNN_DATA") or
                        str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    args = parser.parse_args()

    images = fastdnn.load_idx(str(Path(args.data) / "t10k-images-idx3-ubyte.gz"))
    labels = fastdnn.load_idx(str(Path(args.data) / "t10k-labels-idx1-ubyte.gz"))
    X = images.reshape(len(images), -1)[:args.limit].T.astype(np.float32) / 255.0  # one column per image
    y = labels[:args.limit].astype(np.int64)
    split = int(0.8 * X.shape[1])
    if Path(args.checkpoint).exists():
        print(f"resuming from {args.checkpoint}")
    net = fastdnn.Network([784, 256, 128, 10], output="softmax", dtype=np.float32, init="he", seed=1)
    history = net.fit(X[:, :split], y[:split], epochs=args.epochs, batch_size=128, optimizer="adamw",
                      learning_rate=1e-3, validation=(X[:, split:], y[split:]), checkpoint=args.checkpoint,
                      checkpoint_every=20, resume=True, early_stopping=5, verbose=True)
    print(f"epochs so far: {len(history.get('epoch', []))}; validation accuracy "
          f"{net.evaluate(X[:, split:], y[split:])['accuracy']:.4f}")


if __name__ == "__main__":
    main()
