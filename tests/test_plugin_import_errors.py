"""An installed plugin that fails to import names its entry point and says how to disable it,
instead of a traceback from every command (issue 15). The plugin is a real distribution on
``sys.path`` (a ``.dist-info`` with its entry point), so discovery is the one serve uses."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from b2bgateway.errors import ConfigurationError, PluginImportError
from b2bgateway.plugins import get_plugin_manager
from b2bgateway_web.cli import main

ENTRY_POINT = "b2bgateway_brokenpay.hooks"


@pytest.fixture
def broken_plugin(tmp_path, monkeypatch):
    """``b2bgateway-brokenpay``, installed, whose hooks import an SDK that is not installed."""
    package = tmp_path / "b2bgateway_brokenpay"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "hooks.py").write_text("import brokenpay_sdk_not_installed  # noqa: F401\n")
    info = tmp_path / "b2bgateway_brokenpay-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: b2bgateway-brokenpay\nVersion: 0.1.0\n"
    )
    (info / "entry_points.txt").write_text(f"[b2bgateway]\nbrokenpay = {ENTRY_POINT}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return "brokenpay"


def test_the_error_names_the_entry_point_and_how_to_disable_it(broken_plugin):
    with pytest.raises(PluginImportError) as raised:
        get_plugin_manager()

    message = str(raised.value)
    assert f"plugin 'brokenpay' (entry point brokenpay = {ENTRY_POINT}) failed to import" in message
    assert "ModuleNotFoundError: No module named 'brokenpay_sdk_not_installed'" in message
    assert 'disabled_plugins = ["brokenpay"]' in message
    assert """B2BGATEWAY_DISABLED_PLUGINS='["brokenpay"]'""" in message
    assert isinstance(raised.value, ConfigurationError)  # commands already report those


def test_a_disabled_plugin_is_not_imported(broken_plugin):
    pm = get_plugin_manager(blocked=["brokenpay"])

    assert pm.is_blocked("brokenpay")
    assert pm.has_plugin("sandbox")


@pytest.mark.parametrize("command", [["db", "upgrade"], ["plugins"], ["--help"], ["sandbox"]])
def test_every_command_says_it_in_one_message(broken_plugin, command, monkeypatch, database_url):
    monkeypatch.setenv("B2BGATEWAY_DATABASE_URL", database_url)
    result = CliRunner().invoke(main, command)

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.output.startswith("Error: plugin 'brokenpay'"), result.output
    assert 'disabled_plugins = ["brokenpay"]' in result.output


def test_disabling_it_in_the_environment_lets_the_commands_run(broken_plugin, monkeypatch):
    monkeypatch.setenv("B2BGATEWAY_DISABLED_PLUGINS", '["brokenpay"]')
    result = CliRunner().invoke(main, ["plugins", "--json"])

    assert result.exit_code == 0, result.output
    names = {row["name"] for row in json.loads(result.output)}
    assert "sandbox" in names
    assert "brokenpay" not in names
