"""fastdnn.improving (the course's second part) against the course's figures and fastdnn.reference's twins."""

import numpy as np
import pytest
from conftest import assert_close

from fastdnn import reference
from fastdnn.improving import gradient_checking as gc
from fastdnn.improving import initialization as init
from fastdnn.improving import optimization as opt
from fastdnn.improving import regularization as reg

# The course's test cases are compared at 1e-12 (the same arithmetic, a BLAS
# product or an exp rounding differently in the last bit).
COURSE_RTOL = 1e-12

MODULES = {"initialization": init, "regularization": reg, "optimization": opt}


def _course_draws(seed, shapes):
    """``np.random.seed(seed)`` then one ``randn`` per shape, as the course's test-case builders draw."""
    np.random.seed(seed)
    return [np.random.randn(*shape) for shape in shapes]


def _three_layer_case(seed=1, widths=(3, 2, 3, 1), m=5):
    X, W1, b1, W2, b2, W3, b3 = _course_draws(seed, [(widths[0], m), (widths[1], widths[0]), (widths[1], 1),
                                                     (widths[2], widths[1]), (widths[2], 1), (widths[3], widths[2]),
                                                     (widths[3], 1)])
    return X, {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}


def _network(rng, dims, dtype=np.float64, scale=0.7):
    parameters = {}
    for l in range(1, len(dims)):
        parameters[f"W{l}"] = (scale * rng.standard_normal((dims[l], dims[l - 1]))).astype(dtype)
        parameters[f"b{l}"] = (0.1 * rng.standard_normal((dims[l], 1))).astype(dtype)
    return parameters


def _assert_dicts_close(actual, expected, rtol=COURSE_RTOL, whole=False):
    """Equal dicts of arrays; ``whole``: entries compared on the scale of the largest array, at least 1
    (a trained network's bias of 1e-17 is rounding: the zeros start's b3 is 0.5 - mean(Y), summed)."""
    assert list(actual) == list(expected)
    scale = max([1.0] + [float(np.max(np.abs(a))) for a in expected.values()]) if whole else None
    for key in expected:
        assert_close(actual[key], expected[key], rtol=rtol, scale=scale, err_msg=key)


class Unchanged:
    """The arrays given are equal to their copies at the end of the block."""

    def __init__(self, *arrays):
        self.arrays = arrays

    def __enter__(self):
        self.copies = [np.array(a, copy=True) for a in self.arrays]

    def __exit__(self, *exc):
        for a, c in zip(self.arrays, self.copies):
            np.testing.assert_array_equal(a, c)


# ---------------------------------------------------------------- initialization


def test_zeros_random_and_he_starts_are_the_courses():
    zeros = init.initialize_parameters_zeros([3, 2, 1])
    assert set(zeros) == {"W1", "b1", "W2", "b2"} and all(not a.any() for a in zeros.values())
    assert zeros["W1"].shape == (2, 3) and zeros["b2"].shape == (1, 1)
    random = init.initialize_parameters_random([3, 2, 1])
    assert_close(random["W1"], [[17.88628473, 4.36509851, 0.96497468], [-18.63492703, -2.77388203, -3.54758979]],
                 rtol=1e-9)
    assert_close(random["W2"], [[-0.82741481, -6.27000677]], rtol=1e-9)
    he = init.initialize_parameters_he([2, 4, 1])
    assert_close(he["W1"], [[1.78862847, 0.43650985], [0.09649747, -1.8634927], [-0.2773882, -0.35475898],
                            [-0.08274148, -0.62700068]], rtol=1e-8)
    assert_close(he["W2"], [[-0.03098412, -0.33744411, -0.92904268, 0.62552248]], rtol=1e-8)
    newest = init.initialize_parameters_he([3, 1, 2])
    assert_close(newest["W1"], [[1.46040903, 0.3564088, 0.07878985]], rtol=1e-8)
    assert_close(newest["W2"], [[-2.63537665], [-0.39228616]], rtol=1e-8)
    for name in ("initialize_parameters_zeros", "initialize_parameters_random", "initialize_parameters_he"):
        _assert_dicts_close(getattr(init, name)([5, 4, 3, 1]), getattr(reference.initialization, name)([5, 4, 3, 1]),
                            rtol=0)


@pytest.mark.parametrize("module", ["initialization", "regularization", "optimization"])
@pytest.mark.parametrize("dims,m", [((3, 2, 3, 1), 5), ((2, 10, 5, 1), 300), ((4, 1), 3), ((7, 5, 1), 1),
                                    ((3, 9, 4, 2, 1), 17)])
def test_forward_and_backward_equal_the_reference(module, dims, m):
    fast, ref = MODULES[module], getattr(reference, module)
    rng = np.random.default_rng(sum(dims) + m)
    parameters = _network(rng, dims)
    X = rng.standard_normal((dims[0], m))
    Y = (rng.random((dims[-1], m)) < 0.5).astype(float)
    with Unchanged(X, Y, *parameters.values()):
        A, cache = fast.forward_propagation(X, parameters)
        rA, rcache = ref.forward_propagation(X, parameters)
        assert_close(A, rA, rtol=COURSE_RTOL)
        assert len(cache) == len(rcache) == 4 * (len(dims) - 1)
        for a, b in zip(cache, rcache):
            assert_close(a, b, rtol=COURSE_RTOL)
        _assert_dicts_close(fast.backward_propagation(X, Y, cache), ref.backward_propagation(X, Y, rcache))


def test_gradient_keys_follow_each_assignment():
    X, parameters = _three_layer_case()
    Y = np.array([[1, 1, 0, 1, 0]])
    _, cache = init.forward_propagation(X, parameters)
    assert list(init.backward_propagation(X, Y, cache)) == ["dz3", "dW3", "db3", "da2", "dz2", "dW2", "db2", "da1",
                                                            "dz1", "dW1", "db1"]
    assert list(opt.backward_propagation(X, Y, cache))[:4] == ["dz3", "dW3", "db3", "da2"]
    assert list(reg.backward_propagation(X, Y, cache)) == ["dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1",
                                                           "dZ1", "dW1", "db1"]
    # The two placements of 1/m: dz3 of the first is dZ3 of the other over m.
    assert_close(init.backward_propagation(X, Y, cache)["dz3"] * 5, reg.backward_propagation(X, Y, cache)["dZ3"])


def test_costs_skip_nan_terms_or_sum_as_the_course_does():
    a3 = np.array([[0.5, 1.0, 0.25, 0.0]])
    Y = np.array([[1, 1, 0, 0]])
    # 0 * log(0) is NaN in the course's formula: np.nansum leaves it out.
    expected = (np.log(2) + np.log(4 / 3)) / 4
    assert init.compute_loss(a3, Y) == pytest.approx(expected, rel=1e-15)
    assert reg.compute_cost(a3, Y) == pytest.approx(expected, rel=1e-15)
    with np.errstate(all="ignore"):
        assert reference.initialization.compute_loss(a3, Y) == pytest.approx(expected, rel=1e-15)
    assert np.isnan(opt.compute_cost(a3, Y))  # np.sum keeps it, as the helper file's
    b = np.array([[0.4, 0.9, 0.2]])
    Yb = np.array([[1, 1, 0]])
    assert opt.compute_cost(b, Yb) == pytest.approx(reference.optimization.compute_cost(b, Yb), rel=1e-15)
    assert isinstance(init.compute_loss(b, Yb), np.float64)
    # A zero probability of a positive example: the cost is infinite (the course prints inf).
    assert init.compute_loss(np.array([[0.0]]), np.array([[1]])) == np.inf


# ---------------------------------------------------------------- regularization


def test_l2_cost_is_the_courses():
    W1, b1, W2, b2, W3, b3 = _course_draws(1, [(2, 3), (2, 1), (3, 2), (3, 1), (1, 3), (1, 1)])
    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
    A3 = np.array([[0.40682402, 0.01629284, 0.16722898, 0.10118111, 0.40682402]])
    Y = np.array([[1, 1, 0, 1, 0]])
    cost = reg.compute_cost_with_regularization(A3, Y, parameters, 0.1)
    assert cost == pytest.approx(1.7864859451590758, rel=COURSE_RTOL)
    assert cost == pytest.approx(reference.regularization.compute_cost_with_regularization(A3, Y, parameters, 0.1),
                                 rel=COURSE_RTOL)


def test_dropout_forward_is_the_courses_and_leaves_numpys_generator_as_it_does():
    X, parameters = _three_layer_case(widths=(3, 2, 3, 1))
    A3, cache = reg.forward_propagation_with_dropout(X, parameters, keep_prob=0.7)
    state = np.random.get_state()[1].copy()
    assert_close(A3, [[0.36974721, 0.00305176, 0.04565099, 0.49683389, 0.36974721]], rtol=1e-7)
    np.testing.assert_array_equal(cache[1], [[1, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    np.testing.assert_array_equal(cache[6], [[1, 1, 1, 0, 1], [1, 1, 1, 1, 1], [0, 0, 1, 1, 0]])
    rA3, rcache = reference.regularization.forward_propagation_with_dropout(X, parameters, keep_prob=0.7)
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    assert len(cache) == len(rcache) == 14
    for a, b in zip(cache, rcache):
        assert_close(a, b, rtol=COURSE_RTOL)


@pytest.mark.parametrize("keep_prob", [0.8, 0.5, 1.0])
@pytest.mark.parametrize("dims,m", [((3, 2, 3, 1), 5), ((2, 20, 3, 1), 211), ((4, 6, 1), 1)])
def test_dropout_backward_equals_the_reference(keep_prob, dims, m):
    rng = np.random.default_rng(m)
    parameters = _network(rng, dims)
    X = rng.standard_normal((dims[0], m))
    Y = (rng.random((1, m)) < 0.5).astype(int)
    _, cache = reference.regularization.forward_propagation_with_dropout(X, parameters, keep_prob)
    with Unchanged(X, Y, *cache):
        _assert_dicts_close(reg.backward_propagation_with_dropout(X, Y, cache, keep_prob),
                            reference.regularization.backward_propagation_with_dropout(X, Y, cache, keep_prob))


@pytest.mark.parametrize("lambd", [0.7, 0.0, 3.0])
def test_l2_backward_equals_the_reference(lambd):
    X, parameters = _three_layer_case(widths=(3, 2, 3, 1))
    Y = np.array([[1, 1, 0, 1, 0]])
    _, cache = reg.forward_propagation(X, parameters)
    _assert_dicts_close(reg.backward_propagation_with_regularization(X, Y, cache, lambd),
                        reference.regularization.backward_propagation_with_regularization(X, Y, cache, lambd))


# ---------------------------------------------------------------- gradient checking


def test_one_dimensional_gradient_check_prints_the_courses_verdict(capsys):
    assert gc.forward_propagation(2, 4) == 8 and gc.backward_propagation(3, 4) == 3
    assert gc.gradient_check(3, 4, print_msg=True) == pytest.approx(7.814075313343006e-11, rel=COURSE_RTOL)
    assert "Your backward propagation works perfectly fine! difference = 7.814075313343006e-11" in \
        capsys.readouterr().out
    assert gc.gradient_check(2, 4) == pytest.approx(reference.gradient_checking.gradient_check(2, 4),
                                                    rel=COURSE_RTOL)


def _gradient_check_case():
    x, W1, b1, W2, b2, W3, b3 = _course_draws(1, [(4, 3), (5, 4), (5, 1), (3, 5), (3, 1), (1, 3), (1, 1)])
    return x, np.array([1, 1, 0]), {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}


def test_gradient_check_n_passes_the_right_gradients_and_catches_the_courses_planted_mistakes(capsys):
    x, y, parameters = _gradient_check_case()
    cost, cache = gc.forward_propagation_n(x, y, parameters)
    rcost, _ = reference.gradient_checking.forward_propagation_n(x, y.reshape(1, -1), parameters)
    assert cost == pytest.approx(rcost, rel=COURSE_RTOL)
    gradients = gc.backward_propagation_n(x, y, cache)
    # The difference of right gradients is the finite difference's own rounding (J(+eps) - J(-eps) loses
    # seven digits), so two computations of the cost that differ in the last bit give differences
    # agreeing to a few digits: the course's 1.1890913024229996e-07 to 1%.
    difference = gc.gradient_check_n(parameters, gradients, x, y, print_msg=True)
    assert difference < gc.THRESHOLD
    assert difference == pytest.approx(1.1890913024229996e-07, rel=1e-2)
    assert "works perfectly fine" in capsys.readouterr().out
    wrong = dict(gradients)
    wrong["dW2"] = gradients["dW2"] * 2
    wrong["db1"] = gradients["db1"] * 4
    difference = gc.gradient_check_n(parameters, wrong, x, y, print_msg=True)
    assert difference == pytest.approx(0.2850931567761623, rel=1e-7)
    assert "There is a mistake in the backward propagation! difference = 0.28509315" in capsys.readouterr().out


def test_vectors_round_trip_in_the_courses_order():
    _, _, parameters = _gradient_check_case()
    theta, keys = gc.dictionary_to_vector(parameters)
    rtheta, rkeys = reference.gradient_checking.dictionary_to_vector(parameters)
    np.testing.assert_array_equal(theta, rtheta)
    assert keys == rkeys and theta.shape == (47, 1) and keys[:20] == ["W1"] * 20 and keys[-1] == "b3"
    back = gc.vector_to_dictionary(theta)
    for key in parameters:
        np.testing.assert_array_equal(back[key], parameters[key])
    grads = {f"d{k}": a for k, a in parameters.items()}
    grads["dZ3"] = np.ones((1, 3))
    np.testing.assert_array_equal(gc.gradients_to_vector(grads), theta)
    other = _network(np.random.default_rng(2), [2, 3, 1])
    back = gc.vector_to_dictionary(gc.dictionary_to_vector(other)[0], layers_dims=[2, 3, 1])
    for key in other:
        np.testing.assert_array_equal(back[key], other[key])
    with pytest.raises(ValueError, match="47 parameters"):
        gc.vector_to_dictionary(np.zeros((40, 1)))


# ---------------------------------------------------------------- optimization


def _step_case():
    W1, b1, W2, b2, dW1, db1, dW2, db2 = _course_draws(1, [(2, 3), (2, 1), (3, 2), (3, 1)] * 2)
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}


def test_gradient_descent_and_momentum_steps_are_the_courses():
    parameters, grads = _step_case()
    with Unchanged(*parameters.values(), *grads.values()):
        new = opt.update_parameters_with_gd(dict(parameters), grads, 0.01)
        assert_close(new["W1"], [[1.63312395, -0.61217855, -0.5339999], [-1.06196243, 0.85396039, -2.3105546]],
                     rtol=1e-8)
        assert_close(new["b2"], [[1.13773698], [-1.09301954], [-0.16397615]], rtol=1e-8)
        _assert_dicts_close(new, reference.optimization.update_parameters_with_gd(dict(parameters), grads, 0.01))
        v = opt.initialize_velocity(parameters)
        new, v = opt.update_parameters_with_momentum(dict(parameters), grads, v, 0.9, 0.01)
        assert_close(new["b2"], [[1.1341662], [-1.09920409], [-0.171583]], rtol=1e-7)
        assert_close(v["dW2"], [[-0.06837279, -0.01228902], [-0.09357694, -0.02678881], [0.05303555, -0.06916608]],
                     rtol=1e-7)
        rv = reference.optimization.initialize_velocity(parameters)
        rnew, rv = reference.optimization.update_parameters_with_momentum(dict(parameters), grads, rv, 0.9, 0.01)
        _assert_dicts_close(new, rnew)
        _assert_dicts_close(v, rv)


def test_adam_step_is_the_courses_with_five_or_three_values():
    parameters, grads = _step_case()
    v, s = opt.initialize_adam(parameters)
    result = opt.update_parameters_with_adam(dict(parameters), grads, v, s, 2, 0.02, 0.8, 0.888, 1e-2)
    assert len(result) == 5
    new, v, s, v_corrected, s_corrected = result
    assert_close(new["W1"], [[1.63937725, -0.62327448, -0.54308727], [-1.0578897, 0.85032154, -2.31657668]],
                 rtol=1e-7)
    assert_close(new["b2"], [[1.14852557], [-1.08492339], [-0.15740527]], rtol=1e-7)
    assert_close(v["dW1"][0], [-0.17557168, 0.00844275, 0.11656304], rtol=1e-7)
    assert_close(s["dW1"][0], [0.08631117, 0.00019958, 0.03804344], rtol=1e-6)
    rv, rs = reference.optimization.initialize_adam(parameters)
    expected = reference.optimization.update_parameters_with_adam(dict(parameters), grads, rv, rs, 2, 0.02, 0.8,
                                                                  0.888, 1e-2)
    for actual, wanted in zip(result, expected):
        _assert_dicts_close(actual, wanted)
    # The older course's call: three names unpacked, three values returned.
    v, s = opt.initialize_adam(parameters)
    new3, v3, s3 = opt.update_parameters_with_adam(dict(parameters), grads, v, s, 2, 0.02, 0.8, 0.888, 1e-2)
    _assert_dicts_close(new3, new)


def test_mini_batches_are_the_courses():
    X, = _course_draws(1, [(5, 7)])
    Y = np.random.randn(1, 7) < 0.5
    with Unchanged(X, Y):
        batches = opt.random_mini_batches(X, Y, 2)
    assert [b[0].shape for b in batches] == [(5, 2), (5, 2), (5, 2), (5, 1)]
    assert_close(batches[0][0], [[1.74481176, -0.52817175], [-0.38405435, -0.24937038], [-1.10061918, -0.17242821],
                                 [-0.93576943, 0.50249434], [-0.67124613, -0.69166075]], rtol=1e-8)
    assert [b[1].tolist() for b in batches] == [[[True, True]], [[True, False]], [[True, True]], [[False]]]
    expected = reference.optimization.random_mini_batches(X, Y, 2)
    for (x, y), (rx, ry) in zip(batches, expected):
        np.testing.assert_array_equal(x, rx)
        np.testing.assert_array_equal(y, ry)
    # The notebook's check on an F-ordered integer X of the cat images' width.
    nx, m = 12288, 148
    np.random.seed(1)
    X = np.array(range(nx * m)).reshape((m, nx)).T
    Y = np.random.randn(1, m) < 0.5
    batches = opt.random_mini_batches(X, Y, 64)
    assert len(batches) == 3 and batches[2][0].shape == (nx, 20)
    assert list(batches[0][0][0][0:3]) == [294912, 86016, 454656]
    assert list(batches[-1][0][-1][0:3]) == [1425407, 1769471, 897023]
    Xf = np.asfortranarray(X, dtype=np.float64)
    for (x, _), (rx, _) in zip(opt.random_mini_batches(Xf, Y, 64, seed=3),
                               reference.optimization.random_mini_batches(Xf, Y, 64, seed=3)):
        np.testing.assert_array_equal(x, rx)


def test_learning_rate_decays_are_the_courses():
    assert opt.update_lr(0.5, 2, 1) == 0.16666666666666666
    assert opt.schedule_lr_decay(0.5, 100, 1, 100) == 0.25
    assert opt.schedule_lr_decay(0.5, 10, 1, 100) == 0.5
    assert opt.schedule_lr_decay(0.3, 1000, 0.25, 100) == pytest.approx(0.085714285, rel=1e-8)
    assert opt.schedule_lr_decay(0.5, 100, 0.3, 100) == 0.3846153846153846


# ---------------------------------------------------------------- the models


@pytest.fixture(scope="module")
def circles():
    pytest.importorskip("sklearn", reason="the course's circles are drawn with scikit-learn")
    return init.load_dataset()


@pytest.fixture(scope="module")
def moons():
    pytest.importorskip("sklearn", reason="the course's moons are drawn with scikit-learn")
    return opt.load_dataset()


def _accuracy(module, X, Y, parameters, capsys):
    module.predict(X, Y, parameters)
    return capsys.readouterr().out.strip()


def test_initialization_models_reach_the_courses_accuracies(circles, capsys):
    train_X, train_Y, test_X, test_Y = circles
    assert train_X.shape == (2, 300) and test_Y.shape == (1, 100)
    he, costs = init.model(train_X, train_Y, initialization="he", return_costs=True)
    out = capsys.readouterr().out
    assert out.startswith("Cost after iteration 0: 0.88305374634197") and len(costs) == 15
    assert costs[0] == pytest.approx(0.8830537463419761, rel=1e-12)
    assert costs[14] == pytest.approx(0.07357895962677366, rel=1e-9)
    assert _accuracy(init, train_X, train_Y, he, capsys) == "Accuracy: 0.9933333333333333"
    assert _accuracy(init, test_X, test_Y, he, capsys) == "Accuracy: 0.96"
    zeros, costs = init.model(train_X, train_Y, initialization="zeros", print_cost=False, return_costs=True)
    assert costs[0] == pytest.approx(0.6931471805599453, rel=1e-15) and costs[-1] == pytest.approx(costs[0])
    assert _accuracy(init, train_X, train_Y, zeros, capsys) == "Accuracy: 0.5"
    random, costs = init.model(train_X, train_Y, initialization="random", print_cost=False, return_costs=True)
    assert costs[0] == np.inf
    assert _accuracy(init, train_X, train_Y, random, capsys) == "Accuracy: 0.83"
    assert _accuracy(init, test_X, test_Y, random, capsys) == "Accuracy: 0.86"


# The random start's units saturate (sigmoid(z) rounds to 0 or 1): its run is chaotic, and the course's
# own printed costs differ from one machine to the next after a few hundred iterations (0.6237 to 0.6248
# at iteration 1000); its accuracies are checked above, its first steps here.
@pytest.mark.parametrize("initialization,iterations", [("he", 1001), ("zeros", 1001), ("random", 5)])
def test_initialization_model_equals_the_reference(circles, initialization, iterations):
    train_X, train_Y, _, _ = circles
    with np.errstate(all="ignore"):
        p, costs = init.model(train_X, train_Y, num_iterations=iterations, print_cost=False,
                              initialization=initialization, return_costs=True)
        rp, rcosts = reference.initialization.model(train_X, train_Y, num_iterations=iterations, print_cost=False,
                                                    initialization=initialization, return_costs=True)
    assert_close(costs, rcosts, rtol=1e-10)
    _assert_dicts_close(p, rp, rtol=1e-9, whole=True)


@pytest.mark.parametrize("kwargs", [{}, {"lambd": 0.7}, {"keep_prob": 0.86}, {"lambd": 0.1, "keep_prob": 0.9}])
def test_regularization_model_equals_the_reference(kwargs, capsys):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((2, 211))
    Y = (X[0] * X[1] > 0).reshape(1, -1).astype(int)
    p, costs = reg.model(X, Y, num_iterations=2001, return_costs=True, **kwargs)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("Cost after iteration 0: ") and len(costs) == 3
    if "lambd" in kwargs and "keep_prob" in kwargs:
        # The course's model refuses the two together; here the cost keeps its L2 term and falls.
        assert np.all(np.isfinite(costs)) and costs[-1] < costs[0]
        return
    with np.errstate(all="ignore"):
        rp, rcosts = reference.regularization.model(X, Y, num_iterations=2001, print_cost=False, return_costs=True,
                                                    **kwargs)
    assert_close(costs, rcosts, rtol=1e-10)
    _assert_dicts_close(p, rp, rtol=1e-8, whole=True)


def test_regularization_model_draws_dropout_as_the_course_does():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((2, 40))
    Y = (X[0] > 0).reshape(1, -1)
    reg.model(X, Y, num_iterations=3, print_cost=False, keep_prob=0.8)
    after_fast = np.random.get_state()[1].copy()
    reference.regularization.model(X, Y, num_iterations=3, print_cost=False, keep_prob=0.8)
    np.testing.assert_array_equal(np.random.get_state()[1], after_fast)


def test_adam_on_the_moons_reaches_the_courses_accuracy(moons, capsys):
    X, Y = moons
    parameters, costs = opt.model(X, Y, [2, 5, 2, 1], "adam", return_costs=True)
    out = capsys.readouterr().out.splitlines()
    assert out == ["Cost after epoch 0: 0.702166", "Cost after epoch 1000: 0.167845", "Cost after epoch 2000: 0.141316",
                   "Cost after epoch 3000: 0.138788", "Cost after epoch 4000: 0.136066"]
    assert len(costs) == 50
    assert _accuracy(opt, X, Y, parameters, capsys) == "Accuracy: 0.9433333333333334"
    gd = opt.model(X, Y, [2, 5, 2, 1], "gd", print_cost=False)
    assert _accuracy(opt, X, Y, gd, capsys) == "Accuracy: 0.7166666666666667"
    momentum = opt.model(X, Y, [2, 5, 2, 1], "momentum", beta=0.9, print_cost=False)
    assert _accuracy(opt, X, Y, momentum, capsys) == "Accuracy: 0.7166666666666667"


def test_decay_runs_print_the_courses_lines(moons, capsys):
    X, Y = moons
    opt.model(X, Y, [2, 5, 2, 1], "gd", learning_rate=0.1, num_epochs=2001, decay=opt.schedule_lr_decay)
    assert capsys.readouterr().out.splitlines() == [
        "Cost after epoch 0: 0.701091", "learning rate after epoch 0: 0.100000",
        "Cost after epoch 1000: 0.127161", "learning rate after epoch 1000: 0.050000",
        "Cost after epoch 2000: 0.120304", "learning rate after epoch 2000: 0.033333"]


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "adam"])
@pytest.mark.parametrize("decay", [None, "update_lr"])
def test_optimization_model_equals_the_reference(moons, optimizer, decay):
    X, Y = moons
    kwargs = dict(num_epochs=120, print_cost=False, return_costs=True, mini_batch_size=50,
                  decay=None if decay is None else opt.update_lr, decay_rate=0.3, learning_rate=0.01)
    p, costs = opt.model(X, Y, [2, 5, 3, 1], optimizer, **kwargs)
    after_fast = np.random.get_state()[1].copy()
    kwargs["decay"] = None if decay is None else reference.optimization.update_lr
    rp, rcosts = reference.optimization.model(X, Y, [2, 5, 3, 1], optimizer, **kwargs)
    np.testing.assert_array_equal(np.random.get_state()[1], after_fast)
    assert_close(costs, rcosts, rtol=1e-10)
    _assert_dicts_close(p, rp, rtol=1e-8, whole=True)


def test_float32_inputs_train_in_float32(moons):
    X, Y = moons
    p = opt.model(X.astype(np.float32), Y, [2, 5, 2, 1], "adam", num_epochs=50, print_cost=False)
    assert all(a.dtype == np.float32 for a in p.values())
    p64 = opt.model(X.astype(np.float32).astype(np.float64), Y, [2, 5, 2, 1], "adam", num_epochs=50,
                    print_cost=False)
    for key in p:
        assert_close(p[key], p64[key], rtol=1e-4)


# ---------------------------------------------------------------- errors


def test_bad_input_gets_errors_that_name_it():
    X, parameters = _three_layer_case()
    Y = np.array([[1, 1, 0, 1, 0]])
    with pytest.raises(ValueError, match="keep_prob"):
        reg.forward_propagation_with_dropout(X, parameters, keep_prob=0)
    with pytest.raises(ValueError, match="W1 of shape"):
        init.forward_propagation(X[:2], parameters)
    with pytest.raises(ValueError, match="missing"):
        init.forward_propagation(X, {"W1": parameters["W1"]})
    with pytest.raises(ValueError, match="optimizer"):
        opt.model(X, Y, [3, 2, 1], "sgd", num_epochs=1)
    with pytest.raises(ValueError, match="layers_dims"):
        opt.model(X, Y, [4, 2, 1], "adam", num_epochs=1)
    with pytest.raises(ValueError, match="initialization"):
        init.model(X, Y, initialization="xavier")
    v, s = opt.initialize_adam(parameters)
    grads = {f"d{k}": a for k, a in parameters.items()}
    with pytest.raises(ValueError, match="t must"):
        opt.update_parameters_with_adam(dict(parameters), grads, v, s, 0)
    with pytest.raises(ValueError, match="dW2"):
        opt.update_parameters_with_gd(dict(parameters), {"dW1": grads["dW1"], "db1": grads["db1"]}, 0.1)
    with pytest.raises(ValueError, match="non-finite"):
        init.forward_propagation(np.full_like(X, np.nan), parameters)
    with pytest.raises(ValueError, match="probabilities"):
        init.compute_loss(np.array([[1.5, 0.5]]), np.array([[1, 0]]))
    with pytest.raises(ValueError, match="cache"):
        reg.backward_propagation(X, Y, (1, 2, 3))
    with pytest.raises(FileNotFoundError, match="football"):
        reg.load_2D_dataset("no/such/data.mat")


def test_football_data_from_a_users_file(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "data.npz"
    np.savez(path, X=rng.standard_normal((211, 2)), y=rng.integers(0, 2, (211, 1)),
             Xval=rng.standard_normal((200, 2)), yval=rng.integers(0, 2, (200, 1)))
    train_X, train_Y, test_X, test_Y = reg.load_2D_dataset(path)
    assert train_X.shape == (2, 211) and train_Y.shape == (1, 211) and test_X.shape == (2, 200)


def test_reference_namespaces_name_every_assignment():
    for module in ("initialization", "regularization", "gradient_checking", "optimization"):
        namespace = getattr(reference, module)
        assert "forward_propagation" in vars(namespace)


def test_review_findings_stay_fixed():
    # Adam's model refuses beta = 1 as its single step does (the bias correction divides by 1 - beta**t).
    X, parameters = _three_layer_case()
    Y = np.array([[1, 1, 0, 1, 0]])
    with pytest.raises(ValueError, match="beta1 and beta2"):
        opt.model(X, Y, [3, 2, 1], "adam", beta2=1.0, num_epochs=2, print_cost=False)
    # A non-finite dropout mask is named, not turned into NaN gradients.
    _, cache = reg.forward_propagation_with_dropout(X, parameters, 0.6)
    cache = list(cache)
    cache[1] = np.full(cache[1].shape, np.inf)
    with pytest.raises(ValueError, match="D1"):
        reg.backward_propagation_with_dropout(X, Y, tuple(cache), 0.6)
    # A 5-layer dropout cache (24 entries, as a plain 6-layer one) given to the plain backward pass.
    big = _network(np.random.default_rng(3), [3, 4, 4, 4, 4, 1])
    _, cache = reg.forward_propagation_with_dropout(X, big, 0.7)
    assert len(cache) == 24
    with pytest.raises(ValueError, match="cache must be"):
        reg.backward_propagation(X, Y, cache)
    # No iteration, no dropout draw: NumPy's generator is left as the course leaves it.
    np.random.seed(7)
    reg.model(X, Y, num_iterations=0, keep_prob=0.5, print_cost=False)
    after = np.random.get_state()[1].copy()
    reference.regularization.model(X, Y, num_iterations=0, keep_prob=0.5, print_cost=False)
    np.testing.assert_array_equal(np.random.get_state()[1], after)
