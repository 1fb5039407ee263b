"""A trained network out to ONNX, and run by onnxruntime.

Run:  python examples/onnx_export.py [--out model.onnx]
Needs the onnx extra (pip install "fastdnn[onnx]") and onnxruntime to run the file.
"""

import argparse

import numpy as np

import fastdnn


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="model.onnx")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 2000)).astype(np.float32)
    y = (X[0] * X[1] > 0).astype(np.float32)
    net = fastdnn.Network([10, 32, 1], dtype=np.float32, init="he", seed=0)
    net.fit(X, y, epochs=20, batch_size=100, optimizer="adam", learning_rate=1e-2, progress=False)
    net.to_onnx(args.out)
    print(f"saved {args.out}")
    try:
        import onnxruntime
    except ImportError:
        print("onnxruntime is not installed: the file is not run here")
        return
    session = onnxruntime.InferenceSession(args.out, providers=["CPUExecutionProvider"])
    P = session.run(["output"], {"X": X[:, :5].T})[0]  # rows are examples in ONNX
    print("onnxruntime:", P.ravel().round(4), "\nfastdnn:    ", net.predict_proba(X[:, :5]).ravel().round(4))


if __name__ == "__main__":
    main()
