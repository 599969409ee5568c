"""docs/plugins.md stays true to the code (as datasette's tests/test_docs.py keeps its hook docs).

Every hook specification has a section headed by its exact signature, no section documents a hook
that does not exist, and the worked example is the code tested in test_docs_example_plugin.py.
"""

import inspect
import itertools
import re
from pathlib import Path

import pytest

from b2bgateway import hookspecs
from b2bgateway_web import hookspecs as web_hookspecs

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "plugins.md"
EXAMPLE = ROOT / "tests" / "test_docs_example_plugin.py"
EXAMPLE_TAG = "<!-- docs example: tests/test_docs_example_plugin.py -->"
HOOK_HEADING = re.compile(r"^### `(?P<name>\w+)\((?P<args>[^)]*)\)`$")

SPECS = {
    name: function
    for module in (hookspecs, web_hookspecs)  # the core's hooks, and the web's (pages)
    for name, function in vars(module).items()
    if inspect.isfunction(function) and hasattr(function, f"{module.PROJECT}_spec")
}


def markdown_lines(text):
    """The lines of a Markdown document outside fenced code blocks (a ``#`` comment in a code
    block is not a heading)."""
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            yield line


@pytest.fixture(scope="module")
def guide():
    return GUIDE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def hook_headings(guide):
    """Every heading that names a hook."""
    return [
        line
        for line in markdown_lines(guide)
        if line.startswith("#") and f"`{hookspecs.PROJECT}_" in line
    ]


@pytest.fixture(scope="module")
def documented(hook_headings):
    """``{hook name: [argument list of each of its headings]}``."""
    hooks = {}
    for match in filter(None, map(HOOK_HEADING.match, hook_headings)):
        args = [arg.strip() for arg in match["args"].split(",") if arg.strip()]
        hooks.setdefault(match["name"], []).append(args)
    return hooks


def test_hook_headings_are_signatures(hook_headings):
    malformed = [line for line in hook_headings if not HOOK_HEADING.match(line)]
    assert malformed == [], "a hook's heading reads ### `hook(arg, ...)`"


def test_hookspecs_are_found():
    assert "b2bgateway_create_charge" in SPECS
    assert "b2bgateway_payment_status_changed" in SPECS


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_hook_is_documented_with_its_signature(name, documented):
    expected = list(inspect.signature(SPECS[name]).parameters)
    assert name in documented, f"docs/plugins.md has no section ### `{name}(...)`"
    assert documented[name] == [expected], (
        f"docs/plugins.md documents {name} as {documented[name]}, the spec takes {expected}"
    )


def test_no_documented_hook_is_missing_from_the_specs(documented):
    assert sorted(set(documented) - set(SPECS)) == []


def code_between_markers(source):
    start = source.index("# -- docs example start --\n") + len("# -- docs example start --\n")
    end = source.index("# -- docs example end --")
    return source[start:end].strip("\n")


def test_worked_example_is_the_tested_plugin(guide):
    assert EXAMPLE_TAG in guide, "the worked example's code block must follow its tag"
    after_tag = guide.split(EXAMPLE_TAG, 1)[1].lstrip("\n")
    assert after_tag.startswith("```python\n")
    block = after_tag.removeprefix("```python\n").split("\n```", 1)[0].strip("\n")

    tested = code_between_markers(EXAMPLE.read_text(encoding="utf-8"))

    assert block == tested, (
        "the worked example in docs/plugins.md differs from the code between the markers in "
        "tests/test_docs_example_plugin.py; copy one to the other"
    )


def _interface_types():
    import dataclasses

    from b2bgateway import interface

    for name in interface.__all__:
        obj = getattr(interface, name)
        if dataclasses.is_dataclass(obj):
            yield name, [field.name for field in dataclasses.fields(obj)]


@pytest.mark.parametrize(("type_name", "fields"), list(_interface_types()))
def test_every_field_of_every_interface_type_is_documented(guide, type_name, fields):
    """The guide names each type in bold and each of its fields in backticks: a field added to
    the contract without a word for plugin authors fails here."""
    assert f"**`{type_name}`**" in guide, f"{type_name} has no entry in docs/plugins.md"
    entry = guide.split(f"**`{type_name}`**", 1)[1].split("\n**`", 1)[0]
    missing = [field for field in fields if f"`{field}" not in entry]
    assert not missing, f"{type_name}: fields not documented in its entry: {missing}"


def _table_after(guide, heading):
    """The first column (its first code span) and second column of the table under heading."""
    lines = guide.split(heading + "\n", 1)[1].lstrip("\n").splitlines()
    rows = list(itertools.takewhile(lambda line: line.startswith("|"), lines))[2:]
    return {
        re.findall(r"`([^`]+)`", row.split("|")[1])[0]: row.split("|")[2].strip() for row in rows
    }


def test_the_guide_says_which_processor_hooks_are_required(guide):
    from b2bgateway.plugins import PROCESSOR_HOOKS
    from b2bgateway.testing import REQUIRED_HOOKS

    table = _table_after(guide, "### Which hooks a processor implements")
    assert set(table) == set(PROCESSOR_HOOKS), "the table lists every processor hook"
    required = {hook for hook, cell in table.items() if cell == "yes"}
    assert required == set(REQUIRED_HOOKS), f"the guide says {required} are required"


def test_the_processor_table_has_a_method_for_every_processor_hook(guide):
    from b2bgateway.plugins import PROCESSOR_HOOKS, Processor

    section = guide.split("## How dispatch works", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `.")]
    hooks = {re.findall(r"`(b2bgateway_\w+)`", row)[0] for row in rows}
    assert hooks == set(PROCESSOR_HOOKS)
    for row in rows:
        method = re.match(r"\| `\.(\w+)", row)[1]
        assert hasattr(Processor, method) or method == "info", f"Processor has no .{method}"


def test_every_error_a_processor_raises_is_in_the_guides_table(guide):
    """The errors the processor plugins (and the sandbox) raise on purpose, found in their code."""
    from b2bgateway import errors

    names = {cls.__name__ for cls in vars(errors).values() if isinstance(cls, type)}
    raised = set()
    for path in [
        *(ROOT / "plugins").glob("*_plugin/b2bgateway_*/*.py"),
        *(ROOT / "b2bgateway" / "sandbox").glob("*.py"),
    ]:
        raised |= set(re.findall(r"raise (\w+)\(", path.read_text(encoding="utf-8"))) & names
    section = guide.split("The errors a processor plugin raises", 1)[1].split("\n\n", 2)[1]
    tabled = set(re.findall(r"^\| `(\w+)` \|", section, re.M))
    assert raised - tabled == set(), "docs/plugins.md's table of errors a processor raises"
