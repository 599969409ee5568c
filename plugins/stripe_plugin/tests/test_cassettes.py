"""The cassettes themselves: no credentials in them, each one used by a test, each replayable."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml
from conftest import CASSETTES

FILES = sorted(CASSETTES.glob("*/*.yaml"))
#: A Stripe secret or restricted key, or a webhook signing secret, that is not a masked one.
REAL_LOOKING = re.compile(r"\b(?:sk|rk)_(?:test|live)_[A-Za-z0-9]{10,}|\bwhsec_[A-Za-z0-9]{10,}")


def test_there_are_cassettes():
    assert len(FILES) > 30


@pytest.mark.parametrize("path", FILES, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_no_credentials(path: Path):
    text = path.read_text()
    assert not REAL_LOOKING.search(text)
    assert "bearer " not in text.lower()
    for interaction in yaml.safe_load(text)["interactions"]:
        assert "authorization" not in {name.lower() for name in interaction["request"]["headers"]}


@pytest.mark.parametrize("path", FILES, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_form_bodies_match_in_any_order(path: Path):
    """vcr compares parsed form bodies only when the recorded request says it is a form."""
    for interaction in yaml.safe_load(path.read_text())["interactions"]:
        request = interaction["request"]
        if request["body"]:
            assert request["headers"]["Content-Type"] == ["application/x-www-form-urlencoded"]


def test_every_cassette_belongs_to_a_test():
    tests = {}
    for module in Path(__file__).parent.glob("test_*.py"):
        tree = ast.parse(module.read_text())
        names = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        tests[module.stem] = names
    orphans = [path for path in FILES if path.stem not in tests.get(path.parent.name, ())]
    assert orphans == []


def test_the_scan_would_see_a_real_key():
    assert REAL_LOOKING.search("Authorization: Bearer sk_test_51Nx4cQJYhT0kAbCdEfGh")
    assert not REAL_LOOKING.search("Invalid API Key provided: sk_test_****fake")
