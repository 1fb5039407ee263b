"""PyTorch state dicts: nn.Sequential's keys, round trips, and PyTorch itself where it is installed."""

import numpy as np
import pytest

from fastdnn import Network



@pytest.mark.parametrize("hidden, first_keys", [("relu", ["0.weight", "0.bias", "2.weight", "2.bias"]),
                                                ("linear", ["0.weight", "0.bias", "1.weight", "1.bias"])])
def test_state_dict_has_sequentials_keys_and_round_trips(hidden, first_keys, rng):
    from fastdnn.interop import from_torch_state_dict, to_torch_state_dict

    net = Network([5, 7, 4, 3], hidden=hidden, output="softmax", dtype=np.float32, seed=3)
    sd = to_torch_state_dict(net)
    assert list(sd)[:4] == first_keys and len(sd) == 6
    assert sd[first_keys[0]].shape == (7, 5) and sd[first_keys[1]].shape == (7,)
    sd[first_keys[0]][0, 0] = 99.0  # a copy: the network is not touched
    assert net.parameters["W1"][0, 0] != 99.0
    back = from_torch_state_dict(to_torch_state_dict(net, prefix="model."), hidden=hidden, output="softmax")
    assert back.layer_dims == net.layer_dims and back.dtype == np.float32
    np.testing.assert_array_equal(back.params, net.params)
    X = rng.standard_normal((5, 9))
    np.testing.assert_array_equal(back.predict_proba(X), net.predict_proba(X))


def test_state_dict_indices_follow_one_activation_per_layer():
    from fastdnn.interop import from_torch_state_dict, to_torch_state_dict

    net = Network([5, 7, 6, 4, 3], hidden=["relu", "linear", "tanh"], output="softmax", seed=2)
    sd = to_torch_state_dict(net)
    assert [k for k in sd if k.endswith("weight")] == ["0.weight", "2.weight", "3.weight", "5.weight"]
    back = from_torch_state_dict(sd, hidden=["relu", "linear", "tanh"], output="softmax")
    np.testing.assert_array_equal(back.params, net.params)


@pytest.mark.parametrize("bad, error, match", [
    ({"0.weight": np.ones((3, 2))}, ValueError, "needs both weight and bias"),
    ({"0.weight": np.ones((3, 2)), "0.bias": np.ones(3), "2.weight": np.ones((1, 4)), "2.bias": np.ones(1)},
     ValueError, "takes 4 inputs but the layer before it gives 3"),
    ({"0.weight": np.ones((3, 2)), "0.bias": np.ones(2)}, ValueError, r"bias \(out,\)"),
    ({"0.running_mean": np.ones(3)}, ValueError, "not an nn.Sequential's"),
    ({"0.weight": np.ones((3, 2), dtype=int), "0.bias": np.ones(3)}, TypeError, "floating-point"),
    ({}, ValueError, "no parameters"),
    ([1, 2], TypeError, "mapping"),
])
def test_foreign_state_dicts_are_refused_with_the_reason(bad, error, match):
    from fastdnn.interop import from_torch_state_dict

    with pytest.raises(error, match=match):
        from_torch_state_dict(bad)


@pytest.mark.parametrize("hidden", ["relu", "tanh", "leaky_relu", "linear"])
@pytest.mark.parametrize("output", ["sigmoid", "softmax", "linear"])
def test_pytorch_loads_the_state_dict_and_predicts_the_same(hidden, output, rng):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: the state dict is checked without it "
                                                "by the round trip above")
    from fastdnn.interop import from_torch_state_dict, to_torch

    net = Network([6, 8, 5, 3 if output != "sigmoid" else 1], hidden=hidden, output=output,
                  dtype=np.float64, seed=2)
    model = to_torch(net)
    X = rng.standard_normal((6, 11))
    with torch.no_grad():
        got = model(torch.from_numpy(X.T.copy())).numpy().T
    np.testing.assert_allclose(got, net.predict_proba(X), rtol=1e-12, atol=1e-14)
    # And back from PyTorch's own state dict (tensors, activation modules taking indices).
    back = from_torch_state_dict(model.state_dict(), hidden=hidden, output=output, leaky_slope=net.leaky_slope)
    np.testing.assert_array_equal(back.params, net.params)
