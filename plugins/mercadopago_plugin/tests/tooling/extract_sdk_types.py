"""Extract the field lists of Mercado Pago's official Node SDK request/response types into
``sdk_types.json``, which ``tests/test_cassette_fields.py`` checks every cassette against.

Usage (from the plugin folder), with a clone of https://github.com/mercadopago/sdk-nodejs::

    python tests/tooling/extract_sdk_types.py /path/to/sdk-nodejs [commit]

It reads the files of :data:`FILES` at ``commit`` (default ``HEAD``) with ``git show`` and writes,
for every ``type``/``interface`` they declare (and the object literals of :data:`LITERALS`), its
fields and each field's TypeScript type, keyed ``<path>#<Name>``. A field's type names another
entry when it is a type declared in the same file or imported by it (``Array<X>`` and ``X[]``
too); ``extends`` lists the entries an interface extends; ``open`` is true for a type with an
index signature (``[key: string]: unknown``), which takes any further field. Nothing here is
hand-written: re-run it to follow a newer SDK.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path, PurePosixPath

REPOSITORY = "https://github.com/mercadopago/sdk-nodejs"
FILES = (
    "src/types.ts",
    "src/clients/commonTypes.ts",
    "src/clients/payment/commonTypes.ts",
    "src/clients/payment/create/types.ts",
    "src/clients/payment/search/types.ts",
    "src/clients/paymentRefund/commonTypes.ts",
    "src/clients/paymentRefund/create/types.ts",
    "src/clients/preference/commonTypes.ts",
    "src/clients/preference/search/types.ts",
    "src/clients/chargeback/commonTypes.ts",
    "src/utils/errors/index.ts",
)
#: Request bodies the SDK builds inline instead of declaring a type: (file, constant name).
LITERALS = (("src/clients/payment/cancel/index.ts", "cancelBody"),)
OUTPUT = Path(__file__).with_name("sdk_types.json")

_DECL = re.compile(
    r"^(?:export\s+)?(?:declare\s+)?(type|interface)\s+(\w+)(?:<[^>]*>)?"
    r"(?:\s+extends\s+([\w\s,<>]+?))?\s*=?\s*\{",
    re.M,
)
_FIELD = re.compile(r"^\s*(\w+)(\?)?\s*:\s*(.+?)\s*[;,]?\s*$")
_INDEX = re.compile(r"^\s*\[\s*\w+\s*:\s*string\s*\]\s*:")
_IMPORT = re.compile(r"import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+'([^']+)'")


def _git(sdk: Path, *args: str) -> str:
    """``git -C sdk args...`` (git from PATH: a developer's tool run by hand)."""
    command = ["git", "-C", str(sdk), *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout  # noqa: S603


def _show(sdk: Path, commit: str, path: str) -> str:
    return _git(sdk, "show", f"{commit}:{path}")


def _module_path(current: str, spec: str) -> str | None:
    if spec.startswith("@src/"):
        return f"src/{spec[5:]}.ts"
    if spec.startswith("."):
        return str(PurePosixPath(current).parent.joinpath(spec + ".ts")).replace("/./", "/")
    return None


def _normalize(path: str) -> str:
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def _body(text: str, start: int) -> str:
    """The text between the ``{`` at ``start`` and its matching ``}``."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : index]
    raise ValueError("unbalanced braces")


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def _top_level_lines(body: str) -> list[str]:
    """The body's lines at depth 0 (nested inline objects are kept as one ``{...}`` type)."""
    lines, depth, current = [], 0, ""
    for char in body:
        if char in "{<(":
            depth += 1
        elif char in "}>)":
            depth -= 1
        if char in ";\n," and depth == 0:
            if current.strip():
                lines.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        lines.append(current.strip())
    return lines


def _fields(body: str) -> tuple[dict[str, str], bool]:
    fields: dict[str, str] = {}
    is_open = False
    for line in _top_level_lines(body):
        if _INDEX.match(line):
            is_open = True
            continue
        found = _FIELD.match(line)
        if found:
            fields[found.group(1)] = found.group(3).strip()
    return fields, is_open


def _literal_fields(body: str) -> dict[str, str]:
    fields = {}
    for line in _top_level_lines(body):
        key, _, value = line.partition(":")
        value = value.strip()
        kind = "string" if value[:1] in "'\"`" else "number" if value[:1].isdigit() else "any"
        fields[key.strip()] = kind
    return fields


def _refs(expression: str) -> list[str]:
    return re.findall(r"\b([A-Z]\w*)\b", expression)


def extract(sdk: Path, commit: str) -> dict[str, object]:
    sha = _git(sdk, "rev-parse", commit).strip()
    declared: dict[str, dict[str, object]] = {}
    scopes: dict[str, dict[str, str]] = {}  # file -> local name -> entry key
    sources = {path: _strip_comments(_show(sdk, sha, path)) for path in FILES}
    for path, text in sources.items():
        scope = scopes.setdefault(path, {})
        for match in _DECL.finditer(text):
            kind, name, extends = match.groups()
            fields, is_open = _fields(_body(text, match.end() - 1))
            key = f"{path}#{name}"
            scope[name] = key
            declared[key] = {
                "kind": kind,
                "fields": fields,
                "extends": [e.strip() for e in (extends or "").split(",") if e.strip()],
                "open": is_open,
            }
    for path, name in LITERALS:
        text = _strip_comments(_show(sdk, sha, path))
        match = re.search(rf"const\s+{name}\s*=\s*\{{", text)
        if match is None:
            raise SystemExit(f"{path}: no object literal {name}")
        key = f"{path}#{name}"
        fields = _literal_fields(_body(text, match.end() - 1))
        declared[key] = {"kind": "literal", "fields": fields, "extends": [], "open": False}
    for path, text in sources.items():  # imported names resolve to the declaring file's entry
        scope = scopes[path]
        for names, spec in _IMPORT.findall(text):
            module = _module_path(path, spec)
            if module is None:
                continue
            module = _normalize(module)
            for imported in names.split(","):
                imported = imported.strip()
                if imported and f"{module}#{imported}" in declared:
                    scope.setdefault(imported, f"{module}#{imported}")
    for key, entry in declared.items():
        path = key.split("#", 1)[0]
        scope = scopes.get(path, {})
        fields = entry["fields"]
        assert isinstance(fields, dict)
        entry["refs"] = {
            field: [scope[ref] for ref in _refs(expression) if ref in scope]
            for field, expression in fields.items()
        }
        extends = entry["extends"]
        assert isinstance(extends, list)
        entry["extends"] = [scope.get(_refs(e)[0], e) for e in extends if _refs(e)]
    return {
        "source": {
            "repository": REPOSITORY,
            "commit": sha,
            "files": [*FILES, *(p for p, _ in LITERALS)],
        },
        "generated_by": "tests/tooling/extract_sdk_types.py",
        "types": dict(sorted(declared.items())),
    }


def main() -> None:
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    sdk = Path(sys.argv[1])
    commit = sys.argv[2] if len(sys.argv) == 3 else "HEAD"
    OUTPUT.write_text(json.dumps(extract(sdk, commit), indent=1, sort_keys=False) + "\n")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
