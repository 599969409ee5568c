"""Translations (gettext, with Babel): the pages' words live in ``translations/<locale>/LC_MESSAGES/
messages.po``, extracted from the templates and the code by ``pybabel extract -F babel.cfg``.

Message ids are the Spanish (es-MX) source text; ``es_MX`` is the first catalog. The ``.po`` is
compiled in memory the first time a locale is used (no ``.mo`` to keep in step). Without a
catalog for a locale, the source text is shown. Templates get ``_``, ``gettext`` and ``ngettext``
(Jinja's i18n extension, new style: ``{{ _("Hola %(name)s", name=x) }}`` escapes ``x``).
"""

from __future__ import annotations

import functools
import gettext as _gettext
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from flask import Flask, g, has_request_context

__all__ = [
    "DEFAULT_LOCALE",
    "N_",
    "TRANSLATIONS",
    "gettext",
    "init_app",
    "ngettext",
    "translations",
]

TRANSLATIONS = Path(__file__).parent / "translations"
DEFAULT_LOCALE = "es_MX"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated where it is shown."""
    return message


@functools.cache
def translations(locale: str) -> _gettext.NullTranslations:
    """The compiled catalog of ``locale`` (``es_MX``), or the source text when there is none."""
    po = TRANSLATIONS / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.is_file():
        return _gettext.NullTranslations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=locale, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def current_locale() -> str:
    """The request's locale (the portal session's), else :data:`DEFAULT_LOCALE`."""
    locale = g.get("locale") if has_request_context() else None
    return locale or DEFAULT_LOCALE


def gettext(message: str) -> str:
    return translations(current_locale()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_locale()).ngettext(singular, plural, n)


def init_app(app: Flask) -> None:
    """Give the app's templates ``_``, ``gettext`` and ``ngettext``."""
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext, ngettext, newstyle=True
    )
