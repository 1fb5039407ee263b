"""PyTorch habits on fastdnn's trainer: AdamW, gradient clipping, warm-up + cosine, early stopping,
a data loader of batches, one activation per layer, and the weights out as an nn.Sequential state dict.

Run:  python examples/pytorch_habits.py [--epochs 30]
PyTorch is not needed (to_torch at the end uses it when it is installed).
"""

import argparse

import numpy as np

import fastdnn
from fastdnn import interop, learning_rates


def batches(X, y, size, rng):
    """A re-iterable 'data loader': a new shuffled order every epoch, rows as examples (PyTorch's layout)."""
    class Loader:
        def __iter__(self):
            order = rng.permutation(len(y))
            for start in range(0, len(y), size):
                rows = order[start:start + size]
                yield X[rows], y[rows]
    return Loader()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    X = rng.standard_normal((4000, 20))
    y = (np.sin(X[:, 0]) + X[:, 1] * X[:, 2] > 0).astype(np.int64)  # two classes, as integer labels
    X_val, y_val = X[3000:], y[3000:]
    loader = batches(X[:3000], y[:3000], 64, rng)
    steps = args.epochs * (3000 // 64 + 1)
    schedule = learning_rates.warmup(learning_rates.cosine(3e-3, steps=steps), steps=100)

    net = fastdnn.Network([20, 64, 64, 2], hidden=["relu", "tanh"], output="softmax", init="he", seed=0)
    stopper = fastdnn.EarlyStopping(patience=4)
    net.fit(loader, layout="rows", epochs=args.epochs, optimizer=fastdnn.AdamW(weight_decay=0.01),
            step_schedule=schedule, clip_norm=1.0, early_stopping=stopper, validation=(X_val.T, y_val),
            progress=False)
    print(f"best epoch {stopper.best_epoch} (val_cost {stopper.best:.4f}), stopped at {stopper.stopped_epoch}; "
          f"validation accuracy {net.evaluate(X_val.T, y_val)['accuracy']:.4f}")

    state_dict = interop.to_torch_state_dict(net)
    print("nn.Sequential keys:", ", ".join(f"{k} {tuple(v.shape)}" for k, v in state_dict.items()))
    try:
        import torch
    except ImportError:
        return
    model = interop.to_torch(net)
    with torch.no_grad():
        P = model(torch.from_numpy(X_val)).numpy()
    print(f"PyTorch predicts as fastdnn: max difference {np.abs(P - net.predict_proba(X_val.T).T).max():.2e}")


if __name__ == "__main__":
    main()
