"""``--json`` payloads in pyinfra 3.x's shapes.

Deploys and ``exec``: ``{"plan": [...], "results": {...} | null}`` where each plan entry
is ``{op_hash, name, names, args, hosts_with_change, hosts_with_conditional_change}`` and
``results`` holds ``operations`` (``{op_hash, name, names, args, hosts, success, error,
no_change}``), ``totals`` and ``failed_hosts``. This project adds ``hosts`` (per host:
success, error and every operation with its commands and output) and ``elapsed``.
Facts: ``{"module.Fact": {host: value}}``. ``debug-inventory``: a list of
``{name, groups, data}`` (plus ``connector``).
"""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import PurePath
from typing import Any

from pyinfra.api.host import Host, HostData
from pyinfra.api.results import OperationMeta
from pyinfra.api.state import State


def _metas(state: State, hosts: list[Host], op_hash: str) -> list[tuple[Host, OperationMeta]]:
    out = []
    for host in hosts:
        data = state.ops.get(host, {}).get(op_hash)
        if data is not None:
            out.append((host, data.operation_meta))
    return out


def _describe(
    state: State, op_hash: str, metas: list[tuple[Host, OperationMeta]]
) -> dict[str, Any]:
    meta = state.get_op_meta(op_hash)
    name = metas[0][1].name if metas else sorted(meta.names)[0]
    return {"op_hash": op_hash, "name": name, "names": sorted(meta.names), "args": list(meta.args)}


def plan_json(state: State, hosts: list[Host], planned: bool) -> list[dict[str, Any]]:
    """What each operation would change, per host (empty lists when not planned: -y)."""
    out = []
    for op_hash in state.get_op_order():
        metas = _metas(state, hosts, op_hash)
        changing: list[str] = []
        conditional: list[str] = []
        for host, meta in metas:
            if planned and meta.will_change:
                data = state.get_op_data_for_host(host, op_hash)
                target = conditional if data.global_arguments.get("_if") else changing
                target.append(host.name)
        out.append(
            {
                **_describe(state, op_hash, metas),
                "hosts_with_change": sorted(changing),
                "hosts_with_conditional_change": sorted(conditional),
            }
        )
    return out


def results_json(state: State, hosts: list[Host]) -> dict[str, Any]:
    operations = []
    totals = {"hosts": 0, "success": 0, "error": 0, "no_change": 0}
    for op_hash in state.get_op_order():
        metas = _metas(state, hosts, op_hash)
        success, error, no_change = [], [], []
        for host, meta in metas:
            if meta.success is False and not meta.ignored_error:
                error.append(host.name)
            elif meta.changed:
                success.append(host.name)
            else:
                no_change.append(host.name)
        operations.append(
            {
                **_describe(state, op_hash, metas),
                "hosts": len(metas),
                "success": sorted(success),
                "error": sorted(error),
                "no_change": sorted(no_change),
            }
        )
        totals["hosts"] += len(metas)
        totals["success"] += len(success)
        totals["error"] += len(error)
        totals["no_change"] += len(no_change)
    return {
        "operations": operations,
        "totals": totals,
        "failed_hosts": sorted(host.name for host in state.failed_hosts),
    }


def inventory_json(hosts: list[Host], data: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "name": host.name,
            "groups": list(host.groups),
            "data": data[host.name],
            "connector": host.connector_cls.__name__,
        }
        for host in hosts
    ]


def json_default(value: Any) -> Any:
    """How values that JSON lacks are written (as pyinfra 3.x writes them): sets as
    sorted lists, datetimes in ISO format, bytes decoded, paths and others as text."""
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, HostData):
        return value.dict()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, io.IOBase) and hasattr(value, "name"):
        return f"File: {value.name}"
    to_json = getattr(value, "to_json", None)
    if callable(to_json):
        return to_json()
    return str(value)
