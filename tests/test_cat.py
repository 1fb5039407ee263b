"""The course's cat/non-cat application on the real data (SPEC section 1).

``L_layer_model`` with ``[12288, 20, 7, 5, 1]``, learning rate 0.0075 and 2500
iterations must reproduce the course's published costs (relative 1e-12, in
float64) and accuracies.  The model is trained once per module (~15 s).
"""

import numpy as np
import pytest

import fastdnn as dnn

LAYERS = [12288, 20, 7, 5, 1]

#: Published costs: iteration -> cost.
PUBLISHED_COSTS = {
    0: 0.7717493284237686,
    100: 0.6720534400822914,
    2400: 0.09287821526472397,
    2499: 0.088439943441702,
}


@pytest.fixture(scope="module")
def cat_data(data_dir):
    train_x_orig, train_y, test_x_orig, test_y, classes = dnn.load_catvnoncat(data_dir)
    # The course's preprocessing: one column per image, scaled to [0, 1].
    train_x = train_x_orig.reshape(train_x_orig.shape[0], -1).T / 255.0
    test_x = test_x_orig.reshape(test_x_orig.shape[0], -1).T / 255.0
    return train_x, train_y, test_x, test_y, classes


@pytest.fixture(scope="module")
def trained(cat_data):
    train_x, train_y, _, _, _ = cat_data
    return dnn.L_layer_model(train_x, train_y, LAYERS, learning_rate=0.0075, num_iterations=2500,
                             return_costs=True)


def test_cat_data_as_the_course_loads_it(cat_data):
    train_x, train_y, test_x, test_y, classes = cat_data
    assert train_x.shape == (12288, 209) and test_x.shape == (12288, 50)
    assert train_y.shape == (1, 209) and test_y.shape == (1, 50)
    assert train_y.dtype.kind == "i"  # the .h5 files store int64 labels
    assert [c.decode() for c in classes] == ["non-cat", "cat"]


def test_cat_costs_match_the_published_ones(trained):
    _, costs = trained
    # One cost every 100 iterations, plus the last (2499).
    assert len(costs) == 26
    recorded = dict(zip(list(range(0, 2500, 100)) + [2499], costs))
    for iteration, published in PUBLISHED_COSTS.items():
        # 5e-15 on the Xeon of engine step 3 (the dual form; 4e-16 without it); another CPU's BLAS
        # kernels sum their products in another order, hence the margin.
        assert recorded[iteration] == pytest.approx(published, rel=1e-12), f"iteration {iteration}"


def test_cat_parameters_are_float64_of_the_course_shapes(trained):
    parameters, _ = trained
    for l in range(1, len(LAYERS)):
        assert parameters[f"W{l}"].shape == (LAYERS[l], LAYERS[l - 1])
        assert parameters[f"b{l}"].shape == (LAYERS[l], 1)
        assert parameters[f"W{l}"].dtype == np.float64


@pytest.mark.parametrize("split, published", [("train", 0.985645933), ("test", 0.8)])
def test_cat_accuracy_matches_the_published_one(trained, cat_data, capsys, split, published):
    parameters, _ = trained
    train_x, train_y, test_x, test_y, _ = cat_data
    X, y = (train_x, train_y) if split == "train" else (test_x, test_y)
    p = dnn.predict(X, y, parameters)
    printed = capsys.readouterr().out
    assert p.shape == y.shape
    assert np.mean(p == y) == pytest.approx(published, abs=1e-9)
    assert printed.startswith("Accuracy: ")
    assert float(printed.split()[1]) == pytest.approx(published, abs=1e-9)


@pytest.fixture(scope="module")
def trained_direct(cat_data):
    train_x, train_y, _, _, _ = cat_data
    return dnn.L_layer_model(train_x, train_y, LAYERS, learning_rate=0.0075, num_iterations=2500,
                             return_costs=True, dual=False)


def test_cat_direct_path_agrees_with_the_dual_form(trained, trained_direct, cat_data):
    # L_layer_model picks the dual form here (209 examples < 12288 features);
    # the direct path must follow the same trajectory (issue 4: within 1e-9
    # relative over the 2500 iterations) and reach the same accuracies.
    (params_dual, costs_dual), (params_direct, costs_direct) = trained, trained_direct
    np.testing.assert_allclose(costs_dual, costs_direct, rtol=1e-9)
    for iteration, published in PUBLISHED_COSTS.items():
        recorded = dict(zip(list(range(0, 2500, 100)) + [2499], costs_direct))
        assert recorded[iteration] == pytest.approx(published, rel=1e-6)
    train_x, train_y, test_x, test_y, _ = cat_data
    for X, y in ((train_x, train_y), (test_x, test_y)):
        p_dual = dnn.predict(X, y, params_dual, verbose=False)
        p_direct = dnn.predict(X, y, params_direct, verbose=False)
        np.testing.assert_array_equal(p_dual, p_direct)
