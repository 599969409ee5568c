"""Check Stripe requests and answers against the installed SDK's generated types.

stripe-python generates, from Stripe's OpenAPI spec, a ``TypedDict`` per request's parameters
(``stripe.params``) and a class per object with every field annotated (``stripe.PaymentIntent``,
its nested ``StripeObject`` classes, ``Literal`` enums). :func:`check_params` walks a form-encoded
request (as the SDK encodes it: ``a[b][0][c]=v``) through the parameters' ``TypedDict``;
:func:`check_object` walks a JSON answer through the object's class. Each returns the problems
found (a field the type does not have, a value outside its ``Literal``, a wrong shape), so a
hand-written cassette with an invented field fails.
"""

from __future__ import annotations

import sys
import types
import typing
from collections.abc import Mapping
from typing import (
    Any,
    ClassVar,
    ForwardRef,
    Literal,
    NotRequired,
    Required,
    Union,
    get_args,
    get_origin,
)
from urllib.parse import parse_qsl

import stripe
from stripe._expandable_field import ExpandableField  # noqa: F401  (resolves "ExpandableField")
from stripe._list_object import ListObject
from stripe._search_result_object import SearchResultObject
from stripe._stripe_object import StripeObject, UntypedStripeObject
from typing_extensions import is_typeddict

__all__ = ["check_answer", "check_object", "check_params", "form"]

_NONE = type(None)


def form(body: str) -> dict[str, Any]:
    """A form-encoded body (or query) as the nested dicts and lists the SDK encoded."""
    tree: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        head, *rest = key.replace("]", "").split("[")
        node = tree
        path = [head, *rest]
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return _lists(tree)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    items = {key: _lists(value) for key, value in node.items()}
    if items and all(key.isdigit() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


# -- request parameters (TypedDicts; every value arrives as a string) ------------------------------
def check_params(params: Mapping[str, Any], typed: type, path: str = "") -> list[str]:
    """Every key of ``params`` is a parameter of the ``typed`` TypedDict, of its type."""
    hints = typed.__annotations__
    problems = []
    for key, value in params.items():
        where = f"{path}{key}"
        if key not in hints:
            problems.append(f"{where}: not a parameter of {typed.__name__}")
            continue
        problems += _param(value, _unwrap(hints[key], typed), where)
    return problems


def _unwrap(hint: Any, owner: type) -> Any:
    """A parameter's type without ``NotRequired``, its names resolved in the owner's module."""
    namespace = vars(sys.modules[owner.__module__])
    if isinstance(hint, str):
        hint = ForwardRef(hint)
    if isinstance(hint, ForwardRef):
        hint = eval(hint.__forward_arg__, namespace)  # noqa: S307  (the SDK's own annotation)
    if get_origin(hint) in (NotRequired, Required):
        return _unwrap(get_args(hint)[0], owner)
    args = get_args(hint)
    if get_origin(hint) in (Union, types.UnionType, list, dict):
        resolved = tuple(_unwrap(arg, owner) for arg in args)
        origin = get_origin(hint)
        if origin in (Union, types.UnionType):
            return Union[resolved]  # noqa: UP007
        return origin[resolved] if origin is dict else list[resolved[0]]  # type: ignore[index]
    return hint


def _param(value: Any, hint: Any, where: str) -> list[str]:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        found = [_param(value, arg, where) for arg in args if arg is not _NONE]
        return [] if any(not p for p in found) else min(found, key=len)
    if origin is Literal:
        if isinstance(value, str) and value in {
            str(a).lower() if isinstance(a, bool) else str(a) for a in args
        }:
            return []
        return [f"{where}: {value!r} is not one of {list(args)}"]
    if origin in (list, typing.List):  # noqa: UP006
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        return [p for i, item in enumerate(value) for p in _param(item, args[0], f"{where}[{i}]")]
    if origin in (dict, typing.Dict):  # noqa: UP006
        if not isinstance(value, dict):
            return [f"{where}: not a map"]
        return [p for k, v in value.items() for p in _param(v, args[1], f"{where}[{k}]")]
    if is_typeddict(hint):
        if not isinstance(value, dict):
            return [f"{where}: not a {hint.__name__}"]
        return check_params(value, hint, f"{where}.")
    if hint is Any:
        return []
    if isinstance(value, dict | list):
        return [f"{where}: {type(value).__name__} where {hint} is expected"]
    if hint is bool:
        return [] if value in ("true", "false") else [f"{where}: {value!r} is not a boolean"]
    if hint is int:
        return [] if value.lstrip("-").isdigit() else [f"{where}: {value!r} is not an integer"]
    if hint is float:
        try:
            float(value)
        except ValueError:
            return [f"{where}: {value!r} is not a number"]
        return []
    if hint is str:
        return []
    return [f"{where}: unexpected parameter type {hint}"]


# -- answers (StripeObject classes) ----------------------------------------------------------------
def _resolve(hint: Any, owner: type) -> Any:
    if isinstance(hint, str):
        hint = ForwardRef(hint)
    if isinstance(hint, ForwardRef):
        name = hint.__forward_arg__
        found = getattr(stripe, name, None) or vars(sys.modules[owner.__module__]).get(name)
        if found is None:
            for module_name, module in list(sys.modules.items()):
                if module_name.startswith("stripe.") and isinstance(
                    getattr(module, name, None), type
                ):
                    found = getattr(module, name)
                    break
        if found is None:
            raise LookupError(f"cannot resolve {name} (in {owner.__qualname__})")
        return found
    return hint


def _hints(cls: type) -> dict[str, Any]:
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        hints.update(getattr(klass, "__annotations__", {}))
    return {
        k: v for k, v in hints.items() if not k.startswith("_") and get_origin(v) is not ClassVar
    }


def _is_object(hint: Any) -> bool:
    origin = get_origin(hint) or hint
    return origin in (dict, typing.Dict, Any) or (  # noqa: UP006
        isinstance(origin, type) and issubclass(origin, StripeObject)
    )


def check_answer(value: Any, hint: Any) -> list[str]:
    """An answer (an object, a list or search result of objects) against its type."""
    return _field(value, hint, StripeObject, "")


def check_object(value: Mapping[str, Any], cls: type, path: str = "") -> list[str]:
    """Every field of ``value`` is a field of ``cls``, of its type."""
    hints = _hints(cls)
    problems = []
    for key, item in value.items():
        where = f"{path}{key}"
        if key not in hints:
            problems.append(f"{where}: not a field of {cls.__qualname__}")
            continue
        problems += _field(item, hints[key], cls, where)
    return problems


def _field(value: Any, hint: Any, owner: type, where: str) -> list[str]:
    hint = _resolve(hint, owner)
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None:
            return [] if _NONE in args else [f"{where}: null where {hint} is expected"]
        arms = [_resolve(arg, owner) for arg in args if arg is not _NONE]
        # An object is read against the union's object types, an id against its strings.
        shaped = [arm for arm in arms if _is_object(arm) == isinstance(value, dict)]
        found = [_field(value, arm, owner, where) for arm in shaped or arms]
        return [] if any(not p for p in found) else min(found, key=len)
    if value is None:
        return [f"{where}: null where {hint} is expected"]
    if origin is Literal:
        return (
            []
            if isinstance(value, str | int) and value in args
            else [f"{where}: {value!r} is not one of {list(args)}"]
        )
    if origin in (list, typing.List):  # noqa: UP006
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        return [
            p for i, item in enumerate(value) for p in _field(item, args[0], owner, f"{where}[{i}]")
        ]
    if origin in (dict, typing.Dict) or origin is UntypedStripeObject:  # noqa: UP006
        if not isinstance(value, dict):
            return [f"{where}: not a map"]
        inner = args[-1] if args else Any
        return [p for k, v in value.items() for p in _field(v, inner, owner, f"{where}[{k}]")]
    if origin in (ListObject, SearchResultObject):
        if not isinstance(value, dict):
            return [f"{where}: not a list object"]
        # The envelope's ``object``, ``url`` and a null ``next_page`` (the last page) are in
        # Stripe's API reference, not in the SDK's class.
        envelope = {
            k: v
            for k, v in value.items()
            if k not in ("data", "object", "url") and not (k == "next_page" and v is None)
        }
        problems = check_object(envelope, origin, where + ".")
        if value.get("object") not in ("list", "search_result"):
            problems.append(f"{where}.object: {value.get('object')!r} is not a list's")
        return problems + [
            p
            for i, item in enumerate(value.get("data") or [])
            for p in _field(item, args[0], owner, f"{where}.data[{i}]")
        ]
    if hint is Any:
        return []
    if isinstance(hint, type) and issubclass(hint, StripeObject):
        if not isinstance(value, dict):
            return [f"{where}: {value!r} where a {hint.__qualname__} is expected"]
        return check_object(value, hint, f"{where}." if where else "")
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint in (str, bool):
        ok = isinstance(value, hint)
    else:
        return [f"{where}: unexpected field type {hint}"]
    return [] if ok else [f"{where}: {value!r} is not a {hint.__name__}"]
