"""Executing planned operations: ``run_ops(state)`` runs what ``add_op``/``add_deploy``
planned, on every host in parallel (lock-step by default, like a CLI deploy).
"""

from __future__ import annotations

from typing import Any

from pyinfra import context
from pyinfra.api.deployrunner import DeployCallable, HostRunResult, run_deploys
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.host import Host
from pyinfra.api.results import HostOperationFailed
from pyinfra.api.state import State, StateStage


def _run_pending(state: State) -> None:
    host: Host = context.get("host")
    for operation in state.take_pending(host):
        operation.execute(host, state)


def run_ops(state: State, serial: bool = False, no_wait: bool = False) -> dict[str, HostRunResult]:
    """Execute every planned operation on its hosts, in the order they were planned.

    A host whose operation fails stops there (the others go on); ``serial`` runs one
    host at a time per operation, ``no_wait`` lets hosts run ahead of each other.
    Returns each host's result (``success``, ``error``); the operations' own results
    are in the metas ``add_op`` returned and in ``state.ops``/``state.results``. As in
    pyinfra 3.x, raises ``PyinfraError`` when no host is left or more than
    ``FAIL_PERCENT`` of them failed.
    """
    if state.current_stage < StateStage.Execute:
        state.set_stage(StateStage.Execute)
    state.is_executing = True
    hosts = state.hosts_with_pending()
    mode = "serial" if serial else ("no_wait" if no_wait else "lockstep")
    try:
        results = run_deploys(
            state, hosts, [DeployCallable("run_ops", lambda: _run_pending(state))], mode=mode
        )
    finally:
        state.is_executing = False
    if hosts and not state.active_hosts:
        raise PyinfraError("No hosts remaining!")
    limit = state.config.FAIL_PERCENT
    if limit is not None and state.failed_percent() > limit:
        raise PyinfraError(f"Over {limit}% of hosts failed ({round(state.failed_percent())}%)")
    return results


def run_host_op(state: State, host: Host, op_hash: str) -> bool:
    """Execute the planned operation ``op_hash`` on ``host`` now; True if it succeeded."""
    chosen = state.take_pending(host, op_hash)
    if not chosen:
        return False
    values: dict[str, Any] = {
        "host": host,
        "state": state,
        "inventory": state.inventory,
        "config": state.config,
    }
    with context.use(**values):
        try:
            meta = chosen[0].execute(host, state)
        except HostOperationFailed:
            return False
    return bool(meta.success)
