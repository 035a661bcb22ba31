"""Inventory: hosts, groups and their data, expanded through connectors."""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pyinfra.api.connectors import describe_connector, get_connector
from pyinfra.api.exceptions import InventoryError, NoGroupError, NoHostError, PyinfraError
from pyinfra.api.host import Host, HostData

NamesData = tuple[Iterable[Any], Mapping[str, Any]]
_MISSING = object()


def parse_inventory_name(name: str) -> tuple[str, str | None]:
    """``"@docker/web"`` -> ``("docker", "web")``; ``"@local"`` -> ``("local", None)``;
    a plain name -> ``("ssh", name)``."""
    if name.startswith("@"):
        connector_name, sep, arg = name[1:].partition("/")
        return connector_name, (arg if sep else None)
    return "ssh", name


def _split_names_data(value: Any, what: str) -> tuple[list[Any], dict[str, Any]]:
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], Mapping):
        names, data = value
    elif isinstance(value, (list, tuple)):
        names, data = value, {}
    else:
        raise InventoryError(
            f"{what} must be a list of hosts or a (hosts, data) tuple, got {type(value).__name__}"
        )
    if isinstance(names, str):
        names = [names]
    return list(names), dict(data)


def _takes_data(function: Any) -> bool:
    """Whether a ``make_names_data`` accepts the ``data`` keyword."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    param = parameters.get("data")
    return param is not None and param.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )


class Inventory:
    """``Inventory((hosts, global_data), override_data=None, **groups)``.

    ``hosts`` holds names or ``(name, data)`` pairs; each group is ``(hosts, data)`` or
    a plain list. Data precedence: override > host > group (later wins) > global.
    """

    def __init__(
        self, names_data: Any, override_data: Mapping[str, Any] | None = None, **groups: Any
    ) -> None:
        names, global_data = _split_names_data(names_data, "inventory hosts")
        self.data: dict[str, Any] = global_data
        self.override_data: dict[str, Any] = dict(override_data or {})
        self.group_data: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, list[Host]] = {}
        self.hosts: dict[str, Host] = {}
        self._host_data: dict[str, dict[str, Any]] = {}
        self.state: Any = None

        # name -> (inventory host data, connector data, connector groups, connector_cls)
        entries: dict[str, dict[str, Any]] = {}
        membership: dict[str, list[str]] = {}

        def add(raw: Any, group: str | None, group_data: Mapping[str, Any]) -> None:
            if isinstance(raw, (tuple, list)) and len(raw) == 2 and isinstance(raw[1], Mapping):
                raw_name, raw_data = raw
            else:
                raw_name, raw_data = raw, {}
            if not isinstance(raw_name, str) or not raw_name:
                raise InventoryError(f"invalid host name {raw_name!r}: must be a non-empty string")
            # The data that applies to this entry, for connectors whose make_names_data
            # takes ``data`` (e.g. terraform_dir for @terraform).
            context = {**self.data, **group_data, **raw_data, **self.override_data}
            for name, connector_data, connector_groups, cls in self._expand(raw_name, context):
                entry = entries.setdefault(name, {"data": {}, "connector_data": {}, "cls": cls})
                entry["connector_data"].update(connector_data)
                entry["data"].update(raw_data)
                member = membership.setdefault(name, [])
                for g in [*connector_groups, *([group] if group else [])]:
                    if g not in member:
                        member.append(g)

        for raw in names:
            add(raw, None, {})
        for group_name, group_value in groups.items():
            group_names, group_data = _split_names_data(group_value, f"group {group_name}")
            self.group_data[group_name] = group_data
            for raw in group_names:
                add(raw, group_name, group_data)

        group_order = list(self.group_data)
        for name, entry in entries.items():
            host_groups = membership.get(name, [])
            ordered = sorted(
                host_groups, key=lambda g: group_order.index(g) if g in group_order else -1
            )
            group_layers = [self.group_data.get(g, {}) for g in reversed(ordered)]
            self._host_data[name] = {**entry["connector_data"], **entry["data"]}
            data = HostData(
                name,
                self.override_data,
                entry["data"],
                entry["connector_data"],
                *group_layers,
                self.data,
            )
            host = Host(name, self, ordered, entry["cls"], data=data)
            self.hosts[name] = host
            for g in ordered:
                self.groups.setdefault(g, []).append(host)
        for group_name in self.group_data:
            self.groups.setdefault(group_name, [])

    @staticmethod
    def _expand(
        raw_name: str, context: Mapping[str, Any] | None = None
    ) -> Iterator[tuple[str, dict[str, Any], list[str], type[Any]]]:
        connector_name, arg = parse_inventory_name(raw_name)
        cls = get_connector(connector_name)
        make = cls.make_names_data
        try:
            if _takes_data(make):
                generated = list(make(arg, data=dict(context or {})))  # type: ignore[arg-type, call-arg]
            else:
                generated = list(make(arg))  # type: ignore[arg-type]
        except PyinfraError:
            raise
        except Exception as exc:  # noqa: BLE001 - plugin code: report, don't traceback
            raise InventoryError(
                f"connector {describe_connector(cls)} raised {type(exc).__name__} while "
                f"generating hosts for {raw_name!r}: {exc}"
            ) from exc
        for item in generated:
            try:
                name, data, host_groups = item
            except (TypeError, ValueError) as exc:
                raise InventoryError(
                    f"connector @{connector_name} yielded {item!r}: expected (name, data, groups)"
                ) from exc
            host_cls = cls
            if not cls.handles_execution:
                host_cls = get_connector("ssh")
            yield str(name), dict(data or {}), list(host_groups or []), host_cls

    # Access ---------------------------------------------------------------

    def __iter__(self) -> Iterator[Host]:
        return iter(list(self.hosts.values()))

    def __len__(self) -> int:
        return len(self.hosts)

    def __contains__(self, name: object) -> bool:
        return name in self.hosts

    def get_host(self, name: str, default: Any = _MISSING) -> Host:
        if name in self.hosts:
            return self.hosts[name]
        if default is not _MISSING:
            return default  # type: ignore[no-any-return]
        raise NoHostError(f"no such host in the inventory: {name}")

    def get_group(self, name: str, default: Any = _MISSING) -> list[Host]:
        if name in self.groups:
            return list(self.groups[name])
        if default is not _MISSING:
            return default  # type: ignore[no-any-return]
        raise NoGroupError(f"no such group in the inventory: {name}")

    def get_groups(self) -> dict[str, list[Host]]:
        return {k: list(v) for k, v in self.groups.items()}

    def get_data(self) -> dict[str, Any]:
        return dict(self.data)

    def get_override_data(self) -> dict[str, Any]:
        return dict(self.override_data)

    def get_group_data(self, group: str) -> dict[str, Any]:
        return dict(self.group_data.get(group, {}))

    def get_host_data(self, hostname: str) -> dict[str, Any]:
        """The data given for this host itself (inventory entry and its connector)."""
        return dict(self._host_data.get(hostname, {}))

    def get_groups_data(self, groups: Iterable[str]) -> dict[str, Any]:
        """The data of these groups merged, later groups winning."""
        merged: dict[str, Any] = {}
        for group in groups:
            merged.update(self.group_data.get(group, {}))
        return merged

    def len_active_hosts(self) -> int:
        return len(self.get_active_hosts())

    def len_activated_hosts(self) -> int:
        return len(list(self.iter_activated_hosts()))

    def get_active_hosts(self) -> list[Host]:
        if self.state is None:
            return list(self.hosts.values())
        return [h for h in self.hosts.values() if h in self.state.active_hosts]

    def iter_activated_hosts(self) -> Iterator[Host]:
        if self.state is None:
            return iter(())
        return iter([h for h in self.hosts.values() if h in self.state.activated_hosts])

    def select(self, patterns: Iterable[str]) -> list[Host]:
        """Hosts whose name matches a glob, or who are in a named group."""
        chosen: dict[str, Host] = {}
        for pattern in patterns:
            if pattern in self.groups:
                for host in self.groups[pattern]:
                    chosen[host.name] = host
                continue
            for name, host in self.hosts.items():
                if fnmatch.fnmatchcase(name, pattern):
                    chosen[name] = host
        return [h for h in self.hosts.values() if h.name in chosen]
