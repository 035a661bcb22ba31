"""Helpers for the operation/deploy tests: targets, running ops, looking at the target.

The operation tests run against every contract target that really executes commands
and moves files (``shell`` + ``files`` capabilities, see tests/contract/targets_*.py):
@local today; docker/ssh targets join automatically when their modules declare them.
Everything is checked *through the host* (commands on the target), so the same test
body works whatever the connector is.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from pyinfra.api.connectors import register_connector
from pyinfra.api.deployrunner import DeployCallable, HostRunResult, run_deploys
from pyinfra.api.host import Host
from pyinfra.api.operation import OperationMeta
from pyinfra.connectors.local import LocalConnector
from tests.contract.conftest import TARGETS
from tests.contract.targets import ContractTarget

DEPLOY_TARGETS = [t for t in TARGETS if t.deploys and {"shell", "files"} <= t.capabilities]


def target_params() -> list[Any]:
    return [pytest.param(t, id=t.id) for t in DEPLOY_TARGETS]


@contextmanager
def open_target(target: ContractTarget) -> Iterator[Host]:
    """A connected host of ``target`` (its one-time setup done on first use)."""
    reason = target.unavailable()
    if reason:
        pytest.skip(f"{target.id}: {reason}")
    target.prepare()
    with target.host() as host:
        yield host


def sh(host: Host, command: str, ok: bool = True, sudo: bool = False) -> str:
    """Run a command on the target (outside any deploy) and return its stdout."""
    success, output = host.run_shell_command(command, **({"_sudo": True} if sudo else {}))
    if ok:
        assert success, f"{command!r} failed: {output.stderr}"
    return output.stdout


@contextmanager
def remote_dir(host: Host) -> Iterator[str]:
    """A fresh private directory on the target, removed afterwards."""
    path = sh(host, "mktemp -d /tmp/pyinfra-optest.XXXXXXXX").strip()
    try:
        yield path
    finally:
        remove = f"rm -rf {shlex.quote(path)}"
        ok, _ = host.run_shell_command(remove)
        if not ok:  # files made for other users (server.user tests): remove as root
            host.run_shell_command(remove, _sudo=True)


def snapshot(host: Host, path: str, sudo: bool = False) -> str:
    """Everything observable under ``path`` on the target: names, types, modes,
    owners, sizes, contents, link targets (to prove a dry run changed nothing)."""
    q = shlex.quote(path)
    return sh(
        host,
        f"cd {q} && find . -exec stat -c '%n|%F|%a|%U|%G|%s' {{}} + | sort && "
        f"find . -type f -exec sha256sum {{}} + | sort && "
        f'find . -type l | sort | while read -r l; do echo "$l -> $(readlink "$l")"; done',
        sudo=sudo,
    )


def run(
    host: Host,
    deploy: Callable[[], Any],
    dry: bool = False,
    mode: str = "lockstep",
    expect_success: bool = True,
) -> list[OperationMeta]:
    """Run ``deploy`` on ``host`` as a fresh run (new fact cache) and return its results."""
    state = host.state
    assert state is not None
    state.dry = dry
    state.clear_operation_results()
    state.failed_hosts.clear()
    state.active_hosts.add(host)
    results = run_deploys(state, [host], [DeployCallable("test", deploy)], mode=mode)
    result = results[host.name]
    if expect_success:
        assert result.success, result.error
    return state.operation_results(host)


def run_many(
    state: Any,
    hosts: list[Host],
    deploy: Callable[[], Any],
    mode: str = "lockstep",
    dry: bool = False,
) -> dict[str, HostRunResult]:
    state.dry = dry
    state.clear_operation_results()
    return run_deploys(state, hosts, [DeployCallable("test", deploy)], mode=mode)


class MultiLocal(LocalConnector):
    """@multilocal/NAME: the local connector under many names (several executing hosts
    on this machine, for the scheduling tests)."""

    @staticmethod
    def make_names_data(name: str | None = None) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        for part in (name or "").split(","):
            if part:
                yield f"@multilocal/{part}", {}, []


register_connector("multilocal", MultiLocal)
