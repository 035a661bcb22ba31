"""Turn a host list read from a tool (e.g. a terraform output) into inventory entries.

Three shapes are accepted:

* a list of host names: ``["web1", "10.0.0.2"]``;
* a list of objects, each with ``name`` and/or ``ssh_hostname`` and any other data,
  including ``groups`` (a list of group names, or one name);
* an object mapping a group name to a list of either of the above.

Every entry gets ``ssh_hostname`` (the name when not given), since the hosts of an
inventory-only connector are reached over SSH.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pyinfra.api.exceptions import InventoryError

Entry = tuple[str, dict[str, Any], list[str]]

SHAPES = (
    "a list of host names, a list of objects with `name` and/or `ssh_hostname`, "
    "or an object of group name -> list"
)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def _groups_of(item: Mapping[str, Any], where: str) -> list[str]:
    raw = item.get("groups", [])
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(g, str) and g for g in raw):
        raise InventoryError(
            f"{where}: `groups` must be a list of group names, got {_kind(raw)} ({raw!r})"
        )
    return list(raw)


def _entry(item: Any, prefix: str, where: str, extra_groups: list[str]) -> Entry:
    if isinstance(item, str):
        if not item:
            raise InventoryError(f"{where}: empty host name")
        return f"{prefix}{item}", {"ssh_hostname": item}, list(extra_groups)
    if isinstance(item, Mapping):
        name = item.get("name")
        hostname = item.get("ssh_hostname")
        for key, value in (("name", name), ("ssh_hostname", hostname)):
            if value is not None and (not isinstance(value, str) or not value):
                raise InventoryError(
                    f"{where}: `{key}` must be a non-empty string, got {_kind(value)} ({value!r})"
                )
        if name is None and hostname is None:
            raise InventoryError(
                f"{where}: host object without `name` or `ssh_hostname` "
                f"(keys: {', '.join(sorted(map(str, item))) or 'none'})"
            )
        data = {k: v for k, v in item.items() if k not in ("name", "groups")}
        data["ssh_hostname"] = hostname if hostname is not None else name
        groups = [*extra_groups, *_groups_of(item, where)]
        return f"{prefix}{name if name is not None else hostname}", data, groups
    raise InventoryError(f"{where}: a host must be a name or an object, got {_kind(item)}")


def _from_list(items: list[Any], prefix: str, where: str, groups: list[str]) -> Iterator[Entry]:
    for index, item in enumerate(items):
        yield _entry(item, prefix, f"{where}[{index}]", groups)


def entries_from_value(value: Any, prefix: str, where: str) -> list[Entry]:
    """Inventory entries ``(name, data, groups)`` from one of the accepted shapes.

    ``prefix`` is put before every host name (e.g. ``"@terraform/"``); ``where`` names
    the source in error messages.
    """
    if isinstance(value, list):
        return list(_from_list(value, prefix, where, []))
    if isinstance(value, Mapping):
        out: list[Entry] = []
        for group, items in value.items():
            if not isinstance(items, list):
                raise InventoryError(
                    f"{where} must be {SHAPES}; group {group!r} holds {_kind(items)}, not a list"
                )
            out.extend(_from_list(items, prefix, f"{where}.{group}", [str(group)]))
        return out
    raise InventoryError(f"{where} must be {SHAPES}; got {_kind(value)}")


__all__ = ["SHAPES", "entries_from_value"]
