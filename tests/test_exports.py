"""The top-level package is the plugin author's API: guard ``b2bgateway.__all__``
(as stripe-python's tests/test_exports.py does)."""

import pytest

import b2bgateway
from b2bgateway import errors, interface


def test_all_is_sorted_and_unique():
    assert b2bgateway.__all__ == sorted(set(b2bgateway.__all__))


@pytest.mark.parametrize("name", b2bgateway.__all__)
def test_every_exported_name_is_importable(name):
    assert getattr(b2bgateway, name) is not None


def test_exports_what_a_plugin_needs():
    exported = set(b2bgateway.__all__)
    assert {"hookimpl", "Money"} <= exported
    assert b2bgateway.hookimpl is b2bgateway.hookspecs.hookimpl


@pytest.mark.parametrize("name", interface.__all__)
def test_every_interface_type_is_exported(name):
    assert name in b2bgateway.__all__
    assert getattr(b2bgateway, name) is getattr(interface, name)


@pytest.mark.parametrize("name", errors.__all__)
def test_every_error_is_exported(name):
    assert name in b2bgateway.__all__
    assert getattr(b2bgateway, name) is getattr(errors, name)
