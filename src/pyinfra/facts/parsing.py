"""Small parsing helpers shared by the fact modules."""

from __future__ import annotations

import json
from typing import Any


def first_line(output: list[str]) -> str:
    """The first output line without surrounding whitespace (``""`` if none)."""
    return output[0].strip() if output else ""


def parse_json(output: list[str]) -> Any:
    """The value of a command that prints JSON (over one or more lines)."""
    return json.loads("\n".join(output))


def try_int(value: Any) -> Any:
    """``int(value)`` when ``value`` is a whole number, else ``value`` unchanged."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return value
