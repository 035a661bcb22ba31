"""Turn the INVENTORY argument into an Inventory: a file, @connector strings or a list."""

from __future__ import annotations

import os
import runpy
from collections.abc import Mapping
from typing import Any

from pyinfra.api.connectors import get_connector
from pyinfra.api.exceptions import InventoryError, PyinfraError
from pyinfra.api.inventory import Inventory, parse_inventory_name


def split_inventory_string(value: str) -> list[str]:
    """Split ``a,b,@docker/x`` on commas; for connectors that take a comma list
    (``accepts_name_list``), bare names after ``@name/arg`` stay in its argument."""
    items: list[str] = []
    for piece in (p.strip() for p in value.split(",")):
        if not piece:
            continue
        if items and not piece.startswith("@") and items[-1].startswith("@"):
            name, arg = parse_inventory_name(items[-1])
            try:
                joins = arg is not None and getattr(get_connector(name), "accepts_name_list", False)
            except PyinfraError:
                joins = False
            if joins:
                items[-1] = f"{items[-1]},{piece}"
                continue
        items.append(piece)
    return items


def _is_group_value(value: Any) -> bool:
    if isinstance(value, list):
        return all(isinstance(v, (str, tuple)) for v in value)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], Mapping):
        return isinstance(value[0], (list, tuple))
    return False


def load_inventory_file(path: str, override_data: dict[str, Any]) -> Inventory:
    try:
        namespace = runpy.run_path(path, run_name="__pyinfra_inventory__")
    except SyntaxError as exc:
        raise InventoryError(
            f"syntax error in inventory {exc.filename}, line {exc.lineno}: {exc.msg}"
        ) from exc
    except PyinfraError:
        raise
    except Exception as exc:  # noqa: BLE001 - user file: report
        raise InventoryError(f"inventory file {path} raised {type(exc).__name__}: {exc}") from exc
    global_data: dict[str, Any] = {}
    groups: dict[str, Any] = {}
    for name, value in namespace.items():
        if name.startswith("_"):
            continue
        if name == "all" and isinstance(value, Mapping):
            global_data.update(value)
            continue
        if _is_group_value(value):
            groups[name] = value
    global_data.update(_load_group_data(os.path.dirname(os.path.abspath(path)), "all"))
    for group in list(groups):
        extra = _load_group_data(os.path.dirname(os.path.abspath(path)), group)
        if extra:
            hosts, data = groups[group] if isinstance(groups[group], tuple) else (groups[group], {})
            groups[group] = (hosts, {**extra, **data})
    if not groups:
        raise InventoryError(
            f"inventory file {path} defines no groups of hosts "
            '(top-level lists like `web = ["host1"]`)'
        )
    names: list[Any] = []
    seen: set[str] = set()
    for value in groups.values():
        hosts = value[0] if isinstance(value, tuple) else value
        for item in hosts:
            key = item if isinstance(item, str) else item[0]
            if key not in seen:
                seen.add(key)
    return Inventory((names, global_data), override_data, **groups)


def _load_group_data(directory: str, group: str) -> dict[str, Any]:
    path = os.path.join(directory, "group_data", f"{group}.py")
    if not os.path.exists(path):
        return {}
    namespace = runpy.run_path(path)
    return {
        k: v
        for k, v in namespace.items()
        if not k.startswith("_") and not callable(v) and not isinstance(v, type(os))
    }


def make_inventory(value: str, override_data: dict[str, Any]) -> Inventory:
    if value.endswith(".py") or os.path.isfile(value):
        if not os.path.isfile(value):
            raise InventoryError(f"inventory file not found: {value}")
        inventory = load_inventory_file(value, override_data)
    else:
        inventory = Inventory((split_inventory_string(value), {}), override_data)
    if len(inventory) == 0:
        raise InventoryError(f"inventory {value!r} resolves to no host")
    return inventory
