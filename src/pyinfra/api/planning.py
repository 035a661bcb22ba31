"""Planning operations from a script, pyinfra 3.x style: ``add_op``/``add_deploy`` read
facts and predict changes on each host now; ``run_ops`` executes what was planned.

While a script plans (inside :func:`plan_on_hosts`), calling an operation does not run
it: it is predicted (a dry run of that one operation) and queued on the state as a
:class:`PendingOperation`, whose :class:`~pyinfra.api.results.OperationMeta` the caller
gets back at once and which ``run_ops`` later fills with the real result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyinfra import context
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.host import Host
from pyinfra.api.opexec import execute_operation, reset_for_execution
from pyinfra.api.state import State, StateStage

if TYPE_CHECKING:
    from pyinfra.api.results import OperationMeta


@dataclass
class PendingOperation:
    """One planned operation on one host."""

    meta: OperationMeta
    key: Any
    make_generator: Callable[[], Any]
    global_kwargs: dict[str, Any]
    call_args: list[str]

    def execute(self, host: Host, state: State) -> OperationMeta:
        """Run it for real; its ``meta`` (the one ``add_op`` returned) gets the result."""
        reset_for_execution(self.meta)
        return execute_operation(
            host,
            state,
            self.meta,
            self.key,
            self.make_generator,
            dict(self.global_kwargs),
            self.call_args,
        )


class Plan:
    """Marks the context as planning; operations queue themselves on ``state``."""

    def __init__(self, state: State) -> None:
        self.state = state

    def add(self, host: Host, pending: PendingOperation) -> None:
        self.state.queue_pending(host, pending)


def _hosts(state: State, hosts: Any) -> list[Host]:
    if hosts is None:
        if state.inventory is None:
            raise PyinfraError("the state has no inventory: call state.init(inventory) first")
        return list(state.inventory.get_active_hosts())
    if isinstance(hosts, Host):
        return [hosts]
    return list(hosts)


def plan_on_hosts(
    state: State, hosts: Host | Iterable[Host] | None, fn: Callable[[], Any]
) -> dict[Host, Any]:
    """Call ``fn`` once per host with that host as the context, in planning mode."""
    if context.get("run") is not None:
        raise PyinfraError(
            "add_op/add_deploy plan operations from a script; inside a deploy, call the "
            "operation directly"
        )
    if state.current_stage < StateStage.Prepare:
        state.set_stage(StateStage.Prepare)
    results: dict[Host, Any] = {}
    plan = Plan(state)
    for host in _hosts(state, hosts):
        with context.use(
            host=host,
            state=state,
            inventory=state.inventory,
            config=state.config,
            planning=plan,
        ):
            results[host] = fn()
    return results
