"""fastdnn.options: every threshold in one place, read from the environment once, overridable in a block."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import fastdnn
from fastdnn import config, tuning
from fastdnn.network import Network

OPTIONS_PAGE = pathlib.Path(__file__).resolve().parent.parent / "docs" / "guide" / "options.md"


def test_defaults_and_the_environment():
    assert tuning.from_environment({}) == {name: option.default for name, option in tuning.OPTIONS.items()}
    values = tuning.from_environment({"FASTDNN_BLOCKED_MIN_FLOPS": "1e9", "FASTDNN_SKINNY_MAX_ROWS": " 4 ",
                                      "FASTDNN_NATIVE_CHUNK_BYTES": ""})
    assert values["blocked_min_flops"] == 1e9 and values["skinny_max_rows"] == 4
    assert values["native_chunk_bytes"] == tuning.OPTIONS["native_chunk_bytes"].default


@pytest.mark.parametrize("variable, text, match", [
    ("FASTDNN_SKINNY_MAX_ROWS", "eight", "FASTDNN_SKINNY_MAX_ROWS must be an integer, got 'eight'"),
    ("FASTDNN_SKINNY_MAX_ROWS", "2.5", "must be an integer"),
    ("FASTDNN_BLOCKED_MIN_FLOPS", "-1", "FASTDNN_BLOCKED_MIN_FLOPS must be a finite number >= 0"),
    ("FASTDNN_BLOCKED_MIN_FLOPS", "nan", "must be a finite number"),
    ("FASTDNN_NATIVE_CHUNK_MIN_COLUMNS", "0", ">= 1"),
])
def test_a_bad_variable_is_named(variable, text, match):
    with pytest.raises(ValueError, match=match):
        tuning.from_environment({variable: text})


def test_a_bad_variable_stops_the_import_with_its_name():
    env = dict(os.environ, FASTDNN_PARALLEL_MIN_ELEMENTS="lots")
    result = subprocess.run([sys.executable, "-c", "import fastdnn"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0
    assert "FASTDNN_PARALLEL_MIN_ELEMENTS must be an integer, got 'lots'" in result.stderr


def test_options_read_and_override_in_a_block():
    assert fastdnn.options.blocked_min_flops == config.BLOCKED_MIN_FLOPS
    assert fastdnn.options.as_dict().keys() == tuning.OPTIONS.keys()
    before = fastdnn.options.as_dict()
    with fastdnn.options(blocked_min_flops=1e12, skinny_max_rows=3) as options:
        assert options.blocked_min_flops == config.BLOCKED_MIN_FLOPS == 1e12 and config.SKINNY_MAX_ROWS == 3
        with fastdnn.options(skinny_max_rows=5):
            assert config.SKINNY_MAX_ROWS == 5
        assert config.SKINNY_MAX_ROWS == 3
    assert fastdnn.options.as_dict() == before
    with pytest.raises(RuntimeError):
        with fastdnn.options(native_chunk_bytes=4096):
            raise RuntimeError("inside")
    assert fastdnn.options.as_dict() == before


def test_bad_overrides_are_named():
    with pytest.raises(TypeError, match="unknown option 'blocked_flops'"):
        with fastdnn.options(blocked_flops=1):
            pass
    with pytest.raises(ValueError, match="skinny_max_rows must be an integer"):
        with fastdnn.options(skinny_max_rows=2.5):
            pass
    with pytest.raises(AttributeError, match="no option 'nope'"):
        fastdnn.options.nope  # noqa: B018


def test_plans_follow_the_options():
    net = Network([64, 100, 10], output="softmax")
    outside = net.plan(200, m=1797, optimizer="adam")
    with fastdnn.options(native_block_min_columns=10_000, blocked_min_flops=1e15):
        inside = net.plan(200, m=1797, optimizer="adam")
        assert inside.route == "plain"
    assert net.plan(200, m=1797, optimizer="adam") == outside
    if outside.route.startswith("native"):
        rng = np.random.default_rng(0)
        X, y = rng.standard_normal((64, 600)), rng.integers(0, 10, 600)
        with fastdnn.options(native_block_min_columns=10_000, blocked_min_flops=1e15):
            net.fit(X, y, batch_size=200, optimizer="adam", progress=False)
            assert net.last_plan.route == "plain"


def test_the_options_page_lists_every_option_with_its_default():
    text = OPTIONS_PAGE.read_text()
    for line in tuning.table().splitlines()[2:]:
        assert line in text, f"docs/guide/options.md lacks the row: {line}"
