"""The customer page's words are in gettext catalogs (Babel): every message of the template has
its es_MX translation, the catalogs are in step with the templates and the code, and the page
really speaks through them."""

from __future__ import annotations

import gettext
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from b2bgateway_web import i18n
from tests.support.web import AUTH, new_link

WEB = Path(__file__).resolve().parents[1] / "web"
PACKAGE = WEB / "b2bgateway_web"
POT = PACKAGE / "translations" / "messages.pot"
LOCALES = ("es_MX",)


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as source:
        return read_po(source, locale=locale)


def _ids(catalog: Catalog) -> set[object]:
    return {message.id for message in catalog if message.id}


def _extracted() -> set[object]:
    with (WEB / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: set[object] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(PACKAGE), method_map, options_map
    ):
        found.add(message)
    return found


def test_the_template_holds_the_page_s_words():
    ids = _ids(_read(POT))
    assert "Saldo total" in ids  # the Python tables (account.py)
    assert "Calcular total" in ids  # the templates
    assert "Ya tiene un pago registrado" in ids  # REASONS, marked with N_
    assert ("Factura %(folios)s", "Facturas %(folios)s") in ids  # plurals


def test_the_template_is_in_step_with_the_templates_and_the_code():
    """Run ``pybabel extract`` (see web/babel.cfg) when this fails."""
    assert _extracted() == _ids(_read(POT))


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_has_a_translation(locale):
    """Run ``pybabel update`` and translate what is new when this fails (see web/babel.cfg)."""
    catalog = _read(PACKAGE / "translations" / locale / "LC_MESSAGES" / "messages.po", locale)
    assert _ids(catalog) == _ids(_read(POT)), "the .po is out of date with messages.pot"
    missing = [
        message.id
        for message in catalog
        if message.id
        and (
            message.fuzzy
            or not (all(message.string) if isinstance(message.string, tuple) else message.string)
        )
    ]
    assert missing == []
    assert [m.id for m in catalog.obsolete.values()] == []


def test_python_format_placeholders_survive_translation():
    catalog = _read(PACKAGE / "translations" / "es_MX" / "LC_MESSAGES" / "messages.po", "es_MX")
    for message in catalog:
        if message.id and message.python_format:
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            wanted = sorted(set(_placeholders(ids[-1])))
            for string in strings:
                assert sorted(set(_placeholders(string))) == wanted, message.id


def _placeholders(text: str) -> list[str]:
    import re

    return re.findall(r"%\((\w+)\)", text)


def test_the_page_speaks_through_the_catalog(client, monkeypatch):
    client.put(
        "/v1/customers/C-1",
        json={"name": "Cliente", "active": True, "credit_limit": None, "currency": "MXN"},
        headers=AUTH,
    )
    path = new_link(client)
    catalog = Catalog(locale="es_MX")
    catalog.add("Saldo total", "SALDO TOTAL")
    catalog.add("Estado de cuenta", "ESTADO DE CUENTA")
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    shouting = Translations(compiled)
    monkeypatch.setattr(
        i18n, "translations", lambda locale: shouting if locale == "es_MX" else None
    )
    page = client.get(path).get_data(as_text=True)
    assert "<h1>ESTADO DE CUENTA</h1>" in page  # a template
    assert ">SALDO TOTAL</dt>" in page  # a Python text table
    assert "<p>Pagas en la página segura" in page  # not in this catalog: the source text


def test_without_a_catalog_the_source_text_is_shown():
    assert isinstance(i18n.translations("xx_XX"), gettext.NullTranslations)
    assert i18n.translations("xx_XX").gettext("Saldo total") == "Saldo total"
