"""The documentation site (mkdocs.yml) builds with warnings as errors, and every page is in its navigation."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _nav_pages(entries):
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        if isinstance(value, list):
            yield from _nav_pages(value)
        else:
            yield value


def test_every_page_of_docs_is_in_the_navigation():
    yaml = pytest.importorskip("yaml", reason="PyYAML comes with the docs extra (mkdocs)")
    # mkdocs.yml holds no custom tags: the safe loader reads it.
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    pages = {str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.md")}
    listed = set(_nav_pages(config["nav"]))
    assert listed <= pages, f"the navigation lists missing pages: {sorted(listed - pages)}"
    assert pages <= listed, f"pages left out of the navigation: {sorted(pages - listed)}"


def test_the_site_builds_with_warnings_as_errors(tmp_path):
    pytest.importorskip("mkdocs", reason="the docs extra (pip install -e '.[docs]') is not installed")
    pytest.importorskip("mkdocstrings", reason="the docs extra (pip install -e '.[docs]') is not installed")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    api = (tmp_path / "site" / "api" / "network" / "index.html").read_text()
    # The reference is read from the docstrings: a method of Network and its parameters are there.
    assert "fastdnn.network.Network.fit" in api and "batch_size" in api
    assert (tmp_path / "site" / "guide" / "first-run" / "index.html").exists()
