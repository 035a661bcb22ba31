"""Turn the INVENTORY argument into an Inventory: a file, @connector strings or a list.

An inventory file is Python. Its top-level names become:

* ``name = ["host1", ("host2", {"key": "value"}), "@docker/web"]``: a group of hosts;
* ``name = (["host1", ...], {"key": "value"})``: a group with group data;
* ``all = {"key": "value"}``: data for every host (``all = (hosts, data)`` also adds
  hosts that are in no group).

Names starting with ``_`` and anything that is not such a list or tuple (imports,
functions, classes, other values) are ignored, so a file may call
``register_connector(...)`` before listing ``@mycustom/...`` hosts.

Group data files: ``group_data/GROUP.py`` (top-level names are the data) next to the
inventory file, or in the current directory when the inventory is given on the command
line; ``group_data/all.py`` applies to every host. Data written in the inventory file
wins over a group data file; ``--data`` wins over everything.
"""

from __future__ import annotations

import glob
import os
import runpy
import types
from collections.abc import Mapping
from typing import Any

from pyinfra.api.connectors import get_connector
from pyinfra.api.exceptions import InventoryError, PyinfraError
from pyinfra.api.host import Host
from pyinfra.api.inventory import Inventory, parse_inventory_name

GLOBAL_GROUP = "all"


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


def _is_host(item: Any) -> bool:
    if isinstance(item, str):
        return True
    return (
        isinstance(item, tuple)
        and len(item) == 2
        and isinstance(item[0], str)
        and isinstance(item[1], Mapping)
    )


def _is_host_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(_is_host(v) for v in value)


def _group_value(value: Any) -> tuple[list[Any], dict[str, Any]] | None:
    """``(hosts, data)`` if ``value`` is a group: a host list, ``(hosts, data)``, or one
    ``("host", {data})`` pair (a group of that one host). ``None`` otherwise."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], Mapping):
        if _is_host_list(value[0]):
            return list(value[0]), dict(value[1])
        if isinstance(value[0], str):
            return [value], {}
        return None
    if _is_host_list(value):
        return list(value), {}
    return None


def _run_python(path: str, what: str) -> dict[str, Any]:
    try:
        return runpy.run_path(path, run_name="__pyinfra_inventory__")
    except SyntaxError as exc:
        raise InventoryError(
            f"syntax error in {what} {exc.filename}, line {exc.lineno}: {exc.msg}"
        ) from exc
    except PyinfraError:
        raise
    except Exception as exc:  # noqa: BLE001 - user file: one line, not a traceback
        raise InventoryError(f"{what} {path} raised {type(exc).__name__}: {exc}") from exc


def load_group_data(directory: str, subdirectory: str = "group_data") -> dict[str, dict[str, Any]]:
    """``{group: data}`` from ``DIRECTORY/group_data/*.py`` (empty if there is none)."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(glob.glob(os.path.join(directory, subdirectory, "*.py"))):
        group = os.path.splitext(os.path.basename(path))[0]
        if group.startswith("_"):
            continue
        namespace = _run_python(path, "group data file")
        out[group] = {
            key: value
            for key, value in namespace.items()
            if not key.startswith("_")
            and not isinstance(value, (types.ModuleType, types.FunctionType, type))
        }
    return out


def load_extra_group_data(directories: list[str]) -> dict[str, dict[str, Any]]:
    """``--group-data DIR``: ``DIR/GROUP.py`` files, later directories winning."""
    merged: dict[str, dict[str, Any]] = {}
    for directory in directories:
        if not os.path.exists(directory):
            raise InventoryError(f"--group-data {directory}: no such directory")
        if not os.path.isdir(directory):
            raise InventoryError(
                f"--group-data {directory}: not a directory (give a directory of GROUP.py files)"
            )
        for group, data in load_group_data(directory, "").items():
            merged.setdefault(group, {}).update(data)
    return merged


def load_inventory_file(
    path: str, override_data: Mapping[str, Any], extra_group_data: Mapping[str, Any] | None = None
) -> Inventory:
    namespace = _run_python(path, "inventory file")
    global_data: dict[str, Any] = {}
    ungrouped: list[Any] = []
    groups: dict[str, tuple[list[Any], dict[str, Any]]] = {}
    for name, value in namespace.items():
        if name.startswith("_"):
            continue
        if name == GLOBAL_GROUP:
            if isinstance(value, Mapping):
                global_data.update(value)
                continue
            parsed = _group_value(value)
            if parsed is None:
                raise InventoryError(
                    f"inventory file {path}: `all` must be a dict of global data, a list of "
                    f"hosts or a (hosts, data) tuple, got {type(value).__name__}"
                )
            ungrouped.extend(parsed[0])
            global_data.update(parsed[1])
            continue
        parsed = _group_value(value)
        if parsed is not None:
            groups[name] = parsed
    if not groups and not ungrouped:
        raise InventoryError(
            f"inventory file {path} defines no hosts: add top-level lists like "
            '`web = ["host1", "host2"]`'
        )
    directory = os.path.dirname(os.path.abspath(path))
    return build_inventory(
        ungrouped, global_data, groups, override_data, directory, extra_group_data
    )


def build_inventory(
    hosts: list[Any],
    global_data: Mapping[str, Any],
    groups: Mapping[str, tuple[list[Any], dict[str, Any]]],
    override_data: Mapping[str, Any],
    group_data_dir: str | None,
    extra_group_data: Mapping[str, Any] | None = None,
) -> Inventory:
    """An Inventory with the ``group_data`` files of ``group_data_dir`` applied (and
    ``--group-data`` directories over them); group data files of groups the inventory
    does not list still apply to hosts that a connector puts in those groups."""
    files = load_group_data(group_data_dir) if group_data_dir else {}
    for group, data in (extra_group_data or {}).items():
        files[group] = {**files.get(group, {}), **data}
    merged_global = {**files.pop(GLOBAL_GROUP, {}), **global_data}
    all_groups: dict[str, tuple[list[Any], dict[str, Any]]] = {}
    for name, (members, data) in groups.items():
        all_groups[name] = (members, {**files.pop(name, {}), **data})
    for name, data in files.items():
        all_groups[name] = ([], data)
    return Inventory((hosts, merged_global), dict(override_data), **all_groups)


def make_inventory(
    value: str, override_data: Mapping[str, Any], group_data_dirs: list[str] | None = None
) -> Inventory:
    extra = load_extra_group_data(list(group_data_dirs or []))
    if value.endswith(".py") or os.path.isfile(value):
        if not os.path.isfile(value):
            raise InventoryError(f"inventory file not found: {value}")
        inventory = load_inventory_file(value, override_data, extra)
    else:
        inventory = build_inventory(
            split_inventory_string(value), {}, {}, override_data, os.getcwd(), extra
        )
    if len(inventory) == 0:
        raise InventoryError(f"inventory {value!r} resolves to no host")
    return inventory


def _patterns(items: tuple[str, ...] | list[str]) -> list[str]:
    return [p.strip() for item in items for p in item.split(",") if p.strip()]


def select_hosts(
    inventory: Inventory,
    limits: tuple[str, ...] | list[str],
    excludes: tuple[str, ...] | list[str] = (),
) -> list[Host]:
    """The hosts matching any ``--limit`` (host-name glob or group; commas allowed),
    minus those matching any ``--exclude``."""
    patterns = _patterns(limits)
    hosts = inventory.select(patterns) if patterns else list(inventory)
    excluded = _patterns(excludes)
    if excluded:
        dropped = set(inventory.select(excluded))
        hosts = [host for host in hosts if host not in dropped]
    return hosts


__all__ = [
    "build_inventory",
    "load_group_data",
    "load_inventory_file",
    "make_inventory",
    "select_hosts",
    "split_inventory_string",
]
