"""The ``@vagrant`` inventory connector: the running machines of a Vagrant project.

``@vagrant`` takes every machine, ``@vagrant/web1`` one, ``@vagrant/web1,web2`` several
(the CLI keeps bare names after ``@vagrant/NAME`` in the list). It runs
``vagrant status --machine-readable``, then ``vagrant ssh-config NAME`` for each running
machine in parallel, and yields ``@vagrant/NAME`` hosts reached over SSH with
``ssh_hostname``, ``ssh_port``, ``ssh_user``, ``ssh_key`` and the host-key settings
vagrant gives (``StrictHostKeyChecking`` -> ``ssh_strict_host_key_checking``,
``UserKnownHostsFile`` -> ``ssh_known_hosts_file``).

With ``@vagrant`` machines that are not running are left out and listed in a warning;
naming one that is not running (or does not exist) is an error.

The project directory is the ``vagrant_dir`` data of the entry, else ``VAGRANT_CWD``,
else the current directory (vagrant looks for the Vagrantfile there and in its
parents). An optional ``@vagrant.json`` in that directory adds groups and data::

    {"groups": {"web1": ["web"], "db1": ["db", "backup"]},
     "data": {"web1": {"app_port": 8080}}}
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from typing_extensions import TypedDict

from pyinfra.api.exceptions import InventoryError
from pyinfra.connectors.base import DataMeta
from pyinfra.connectors.inventory.base import InventoryOnlyConnector
from pyinfra.connectors.inventory.tool import find_tool, project_dir, run_tool
from pyinfra.connectors.inventory.vagrantparse import (
    MachineStatus,
    SSHConfigEntry,
    parse_ssh_config,
    parse_status,
)

logger = logging.getLogger("pyinfra")

EXTRA_FILE = "@vagrant.json"
NOT_INSTALLED = (
    "vagrant is not installed (no `vagrant` on PATH): install it "
    "(apt-get install vagrant) to use @vagrant"
)
MAX_PARALLEL = 8


class VagrantConnectorData(TypedDict, total=False):
    vagrant_dir: str


def _vagrant_env(directory: str) -> dict[str, str]:
    env = dict(os.environ)
    env["VAGRANT_CWD"] = directory
    env.setdefault("VAGRANT_CHECKPOINT_DISABLE", "1")
    env["VAGRANT_NO_COLOR"] = "1"
    return env


def resolve_vagrant_dir(data: Mapping[str, Any] | None = None) -> str:
    return project_dir(data, "vagrant_dir", "VAGRANT_CWD", "your Vagrantfile")


def read_status(directory: str, env: dict[str, str], binary: str) -> list[MachineStatus]:
    result = run_tool([binary, "status", "--machine-readable"], cwd=directory, env=env)
    machines, error = parse_status(result.stdout)
    if error is not None and error.kind.endswith("NoEnvironmentError"):
        raise InventoryError(
            f"no Vagrantfile in {directory} or its parents: run from the Vagrant project, "
            "or set vagrant_dir (or VAGRANT_CWD) to it"
        )
    if error is not None:
        raise InventoryError(f"`vagrant status` failed in {directory}: {error.first_line()}")
    if result.returncode != 0:
        raise InventoryError(f"`vagrant status` failed in {directory}: {result.last_error_line()}")
    return machines


def _describe(machines: list[MachineStatus]) -> str:
    return ", ".join(f"{m.name} ({m.state})" for m in machines)


def select_machines(
    machines: list[MachineStatus], names: list[str], directory: str
) -> list[MachineStatus]:
    """The running machines wanted: all of them (``names`` empty) or the named ones."""
    by_name = {m.name: m for m in machines}
    if names:
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise InventoryError(
                f"no vagrant machine named {', '.join(unknown)} in {directory}: machines "
                f"there are {', '.join(by_name) or 'none'}"
            )
        wanted = [by_name[n] for n in dict.fromkeys(names)]
        stopped = [m for m in wanted if not m.running]
        if stopped:
            raise InventoryError(
                f"vagrant machine {_describe(stopped)} is not running: run "
                f"`vagrant up {' '.join(m.name for m in stopped)}` first"
            )
        return wanted
    running = [m for m in machines if m.running]
    stopped = [m for m in machines if not m.running]
    if not running:
        raise InventoryError(
            f"no vagrant machine is running in {directory} "
            f"({_describe(machines) or 'no machines defined'}): run `vagrant up` first"
        )
    if stopped:
        logger.warning(
            "vagrant: %d machine(s) not running, left out of the inventory: %s "
            "(run `vagrant up` to include them)",
            len(stopped),
            _describe(stopped),
        )
    return running


def ssh_data(entry: SSHConfigEntry) -> dict[str, Any]:
    """Connector data for ``@ssh`` from one ``vagrant ssh-config`` block."""
    data: dict[str, Any] = {}
    hostname = entry.first("HostName")
    if hostname:
        data["ssh_hostname"] = hostname
    port = entry.first("Port")
    if port:
        try:
            data["ssh_port"] = int(port)
        except ValueError as exc:
            raise InventoryError(
                f"vagrant ssh-config for {entry.host} gives a bad Port {port!r}"
            ) from exc
    user = entry.first("User")
    if user:
        data["ssh_user"] = user
    keys = entry.all("IdentityFile")
    if keys:
        existing = [k for k in keys if os.path.isfile(os.path.expanduser(k))]
        data["ssh_key"] = (existing or keys)[0]
    strict = entry.first("StrictHostKeyChecking")
    if strict:
        data["ssh_strict_host_key_checking"] = strict.lower()
    known_hosts = entry.first("UserKnownHostsFile")
    if known_hosts:
        data["ssh_known_hosts_file"] = known_hosts.split()[0]
    if (entry.first("IdentitiesOnly") or "").lower() == "yes":
        data["ssh_allow_agent"] = False
        data["ssh_look_for_keys"] = False
    return data


def read_ssh_config(
    machine: str, directory: str, env: dict[str, str], binary: str
) -> dict[str, Any]:
    result = run_tool([binary, "ssh-config", machine], cwd=directory, env=env)
    if result.returncode != 0:
        raise InventoryError(
            f"`vagrant ssh-config {machine}` failed in {directory}: {result.last_error_line()}"
        )
    entries = parse_ssh_config(result.stdout)
    if not entries:
        raise InventoryError(
            f"`vagrant ssh-config {machine}` printed no Host block: is the machine reachable?"
        )
    return ssh_data(entries[0])


def read_extra(directory: str) -> tuple[dict[str, list[str]], dict[str, dict[str, Any]]]:
    """Groups and data per machine from ``@vagrant.json`` (both empty when absent)."""
    path = os.path.join(directory, EXTRA_FILE)
    if not os.path.isfile(path):
        return {}, {}
    try:
        with open(path, encoding="utf-8") as handle:
            extra = json.load(handle)
    except ValueError as exc:
        raise InventoryError(f"{path} is not valid JSON: {exc}") from exc
    except OSError as exc:
        raise InventoryError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not isinstance(extra, dict) or set(extra) - {"groups", "data"}:
        raise InventoryError(
            f'{path} must be an object with "groups" (machine -> list of group names) '
            'and/or "data" (machine -> object)'
        )
    groups = extra.get("groups", {})
    data = extra.get("data", {})
    if not isinstance(groups, dict) or not all(
        isinstance(v, list) and all(isinstance(g, str) for g in v) for v in groups.values()
    ):
        raise InventoryError(f'{path}: "groups" must map machine names to lists of group names')
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise InventoryError(f'{path}: "data" must map machine names to objects')
    return groups, data


def _split_names(name: str | None) -> list[str]:
    if not name:
        return []
    return [n.strip() for n in name.split(",") if n.strip()]


class VagrantInventoryConnector(InventoryOnlyConnector):
    """Generates hosts from a Vagrant project's running machines; they run over SSH."""

    handles_execution = False
    accepts_name_list = True
    data_cls = VagrantConnectorData
    data_meta = {
        "vagrant_dir": DataMeta(
            "The Vagrant project directory (default: $VAGRANT_CWD, else the current directory)"
        ),
    }

    @staticmethod
    def make_names_data(
        name: str | None = None, data: Mapping[str, Any] | None = None
    ) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        directory = resolve_vagrant_dir(data)
        env = _vagrant_env(directory)
        binary = find_tool("vagrant", NOT_INSTALLED, env)
        machines = select_machines(
            read_status(directory, env, binary), _split_names(name), directory
        )
        extra_groups, extra_data = read_extra(directory)
        workers = max(1, min(MAX_PARALLEL, len(machines)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vagrant") as pool:
            configs = list(
                pool.map(lambda m: read_ssh_config(m.name, directory, env, binary), machines)
            )
        for machine, connection in zip(machines, configs, strict=True):
            host_data = {**connection, **extra_data.get(machine.name, {})}
            yield f"@vagrant/{machine.name}", host_data, list(extra_groups.get(machine.name, []))


__all__ = [
    "VagrantConnectorData",
    "VagrantInventoryConnector",
    "read_extra",
    "read_status",
    "resolve_vagrant_dir",
    "select_machines",
    "ssh_data",
]
