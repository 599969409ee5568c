"""axe-core (Deque's accessibility engine, from the npm registry: ``tests/axe/package.json``,
installed by ``make browser``) injected into the page a browser test is on.

:func:`serious_violations` runs it on the whole page and returns what it calls ``serious`` or
``critical``; tests assert there are none on every page of the customer page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

AXE = Path(__file__).resolve().parents[1] / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


def _source() -> str:
    if not AXE.exists():
        pytest.fail(
            f"axe-core is missing ({AXE}): run `make browser` (npm ci in tests/axe) first",
            pytrace=False,
        )
    return AXE.read_text(encoding="utf-8")


def serious_violations(driver: Any) -> list[str]:
    """axe-core's serious and critical violations on the current page (WCAG 2.x A and AA and
    best practices), one line each: rule, impact, the first offending elements."""
    driver.execute_script(_source())
    result = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {resultTypes: ["violations"]})
          .then(r => done(r.violations.map(v => ({
              id: v.id, impact: v.impact,
              nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}))))
          .catch(e => done([{id: "axe-error", impact: "critical", nodes: [String(e)]}]));
        """
    )
    return [
        f"{v['id']} ({v['impact']}): {', '.join(v['nodes'])}"
        for v in result
        if v["impact"] in SERIOUS
    ]


def assert_accessible(driver: Any, page: str) -> None:
    found = serious_violations(driver)
    assert not found, f"axe-core on {page}: " + "; ".join(found)
