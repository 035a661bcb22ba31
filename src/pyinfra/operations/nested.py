"""Calling an operation from inside another one (its commands become the caller's)."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, cast


def inner(op: Callable[..., Any]) -> Callable[..., Generator[Any, Any, None]]:
    """The generator function behind ``@operation`` ``op``: ``yield from
    inner(files.put)(src=..., dest=...)`` runs it as part of the current operation."""
    return cast("Callable[..., Generator[Any, Any, None]]", op._inner)  # type: ignore[attr-defined]
