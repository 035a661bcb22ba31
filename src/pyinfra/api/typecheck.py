"""Check operation arguments against their annotations (a small, forgiving checker).

Understands classes, ``None``, unions, ``Any``, ``list[X]``, ``tuple[X, ...]``,
``dict[K, V]``, ``set[X]``, ``Literal``, ``Callable`` and ``IO``. Anything else is
accepted: the goal is a clear one-line error for the common mistakes, not a type system.
"""

from __future__ import annotations

import collections.abc
import types
import typing
from collections.abc import Callable
from typing import IO, Any

_hints_cache: dict[Any, dict[str, Any]] = {}


def resolved_hints(func: Callable[..., Any]) -> dict[str, Any]:
    """``typing.get_type_hints(func)`` (cached); ``{}`` when they cannot be resolved."""
    if func in _hints_cache:
        return _hints_cache[func]
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # noqa: BLE001 - unresolvable annotations: no checking
        hints = {}
    hints.pop("return", None)
    _hints_cache[func] = hints
    return hints


def check_value(value: Any, hint: Any) -> bool:
    if hint is Any or hint is object:
        return True
    if hint is None or hint is type(None):
        return value is None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        return any(check_value(value, arg) for arg in args)
    if origin is typing.Literal:
        return value in args
    if hint is IO or origin is IO or hint is typing.IO:
        return hasattr(value, "read") or hasattr(value, "write")
    if origin is collections.abc.Callable or hint is collections.abc.Callable:
        return callable(value)
    if origin in (list, set, frozenset):
        if not isinstance(value, origin):
            return False
        return not args or all(check_value(item, args[0]) for item in value)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(check_value(item, args[0]) for item in value)
        return not args or (
            len(args) == len(value)
            and all(check_value(v, a) for v, a in zip(value, args, strict=True))
        )
    if origin is dict:
        if not isinstance(value, dict):
            return False
        if len(args) != 2:
            return True
        return all(check_value(k, args[0]) and check_value(v, args[1]) for k, v in value.items())
    if origin is not None:
        return isinstance(value, origin) if isinstance(origin, type) else True
    if isinstance(hint, type):
        if hint is int and isinstance(value, bool):
            return False
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            return True
        return isinstance(value, hint)
    return True


def describe_type(hint: Any) -> str:
    """A readable name for an annotation: ``int or str or None``."""
    if hint is None or hint is type(None):
        return "None"
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return " or ".join(describe_type(arg) for arg in typing.get_args(hint))
    if origin is typing.Literal:
        return " or ".join(repr(arg) for arg in typing.get_args(hint))
    if hint is IO or origin is IO:
        return "a file object"
    if origin is not None:
        args = ", ".join(describe_type(arg) for arg in typing.get_args(hint) if arg is not Ellipsis)
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{args}]" if args else name
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "")
