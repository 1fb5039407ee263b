"""Choices measured once a machine and kept (fastdnn.machine_choices): the file, the margin, the overrides."""

import json

import numpy as np
import pytest

import fastdnn
from fastdnn import course, logistic, machine_choices


@pytest.fixture
def choices_file(tmp_path, monkeypatch):
    file = tmp_path / "choices.json"
    monkeypatch.setenv("FASTDNN_MACHINE_CHOICES", str(file))
    machine_choices.forget()
    yield file
    machine_choices.forget()


def test_a_choice_is_measured_once_and_read_back(choices_file):
    calls = []

    def measure():
        calls.append(1)
        return 2.0, 1.0  # the second way twice as fast

    assert machine_choices.prefer("example", measure) is False
    assert machine_choices.prefer("example", measure) is False
    assert len(calls) == 1
    doc = json.loads(choices_file.read_text())
    (entry,) = doc["machines"].values()
    assert entry["example"]["first"] is False and entry["example"]["second_s"] == 1.0
    # A new process (here: the answers forgotten) reads the file and measures nothing.
    machine_choices.forget()
    assert machine_choices.prefer("example", lambda: pytest.fail("measured again")) is False


def test_noise_does_not_move_a_choice(choices_file):
    # Second way 5% faster: within MARGIN, the first way stays.
    assert machine_choices.prefer("close", lambda: (1.05, 1.0)) is True


def test_the_key_names_the_machine(choices_file):
    machine_choices.prefer("example", lambda: (1.0, 3.0))
    machines = json.loads(choices_file.read_text())["machines"]
    assert list(machines) == [machine_choices.machine_key()]
    assert "cores" in machine_choices.machine_key() and "numpy" in machine_choices.machine_key()
    assert "example" in machine_choices.describe()


def test_measure_again_and_off(choices_file, monkeypatch):
    machine_choices.prefer("example", lambda: (1.0, 3.0))
    monkeypatch.setenv("FASTDNN_MACHINE_CHOICES", "off")
    machine_choices.forget()
    assert machine_choices.prefer("example", lambda: pytest.fail("measured while off")) is True
    assert not choices_file.exists() or "example" in choices_file.read_text()


def test_an_unreadable_file_is_measured_over(choices_file):
    choices_file.write_text("not json")
    assert machine_choices.prefer("example", lambda: (3.0, 1.0)) is False
    assert json.loads(choices_file.read_text())["format"] == machine_choices.FORMAT


def test_a_read_only_place_still_answers(tmp_path, monkeypatch):
    (tmp_path / "a file").write_text("")
    monkeypatch.setenv("FASTDNN_MACHINE_CHOICES", str(tmp_path / "a file" / "c.json"))  # no folder can be made
    machine_choices.forget()
    try:
        assert machine_choices.prefer("example", lambda: (3.0, 1.0)) is False
    finally:
        machine_choices.forget()


def test_the_course_routes_follow_the_measured_choice(choices_file, rng):
    # Either answer gives the course's numbers; the choice only moves the time.
    n_x, m = 12288, 9
    X = np.asfortranarray(rng.random((n_x, m)))
    Y = (rng.random((1, m)) < 0.5).astype(float)
    w = rng.standard_normal((n_x, 1)) * 0.01
    results = []
    for skinny in (True, False):
        key = machine_choices.machine_key()
        choices_file.write_text(json.dumps({"format": machine_choices.FORMAT, "machines": {key: {
            "skinny_layer": {"first": skinny, "first_s": 1.0, "second_s": 1.0},
            "logistic_one_pass": {"first": skinny, "first_s": 1.0, "second_s": 1.0}}}}))
        machine_choices.forget()
        assert course.skinny_pays() is skinny and logistic.one_pass_pays() is skinny
        grads, cost = logistic.propagate(w, 0.5, X, Y)
        results.append((grads["dw"], cost))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12, atol=1e-15)
    assert results[0][1] == pytest.approx(results[1][1], rel=1e-13)


def test_user_thresholds_skip_the_measurement(choices_file):
    with fastdnn.options(skinny_min_depth=2048):
        assert course.skinny_pays() is True
        assert logistic.one_pass_pays() is True
    assert not choices_file.exists()


def test_the_measurements_time_both_ways(choices_file):
    for measure in (course._measure_skinny_layer, logistic._measure_one_pass):
        first, second = measure()
        assert first > 0 and second > 0


def test_measuring_leaves_numpy_global_generator_alone(choices_file):
    def measure():
        np.random.seed(1)  # as the course's initialize_parameters does inside the timed loops
        return 1.0, 1.0

    np.random.seed(0)
    expected = np.random.rand()
    np.random.seed(0)
    machine_choices.prefer("example", measure)
    assert np.random.rand() == expected


@pytest.mark.parametrize("entry", [{}, True, [], {"first": "false", "first_s": 1.0, "second_s": 2.0},
                                   {"first": True, "first_s": "x", "second_s": 1.0}])
def test_malformed_entries_are_measured_again(choices_file, entry):
    key = machine_choices.machine_key()
    choices_file.write_text(json.dumps({"format": machine_choices.FORMAT, "machines": {key: {"example": entry}}}))
    assert machine_choices.prefer("example", lambda: (3.0, 1.0)) is False
    assert "example" in machine_choices.describe()
    choices_file.write_text(json.dumps({"format": machine_choices.FORMAT, "machines": {key: ["not", "a", "dict"]}}))
    machine_choices.forget()
    assert machine_choices.prefer("example", lambda: (1.0, 3.0)) is True


def test_answers_assumed_while_measuring_are_the_measuring_thread_s_own(choices_file):
    import threading

    seen = []
    with machine_choices.assumed("example", False):
        assert machine_choices.prefer("example", lambda: pytest.fail("assumed, not measured")) is False
        other = threading.Thread(target=lambda: seen.append(machine_choices.prefer("example", lambda: (1.0, 3.0))))
        other.start()
        other.join(10)
    assert seen == [True]  # the other thread measured (or read) the real answer, not the assumed one


@pytest.mark.parametrize("value", ["OFF", "0", "false"])
def test_off_spelled_any_way(monkeypatch, tmp_path, value):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FASTDNN_MACHINE_CHOICES", value)
    machine_choices.forget()
    assert machine_choices.prefer("example", lambda: pytest.fail("measured while off")) is True
    assert list(tmp_path.iterdir()) == []
