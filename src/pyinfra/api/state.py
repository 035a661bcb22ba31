"""State: one run over an inventory: config, active/failed hosts, the operations each
host ran and their results, callbacks, secrets.

The shapes are pyinfra 3.x's, so that scripts and frameworks reading them work
unchanged: ``state.op_meta[op_hash]`` (a :class:`StateOperationMeta`: names, args,
order), ``state.ops[host][op_hash]`` (a :class:`StateOperationHostData` holding the
host's :class:`~pyinfra.api.results.OperationMeta`), ``state.meta[host]`` and
``state.results[host]`` (counters). ``active_hosts`` are the hosts connected during
this run that have not failed; ``activated_hosts`` every host ever connected.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from pyinfra.api.config import Config
from pyinfra.api.exceptions import PyinfraError

if TYPE_CHECKING:
    from pyinfra.api.host import Host
    from pyinfra.api.inventory import Inventory
    from pyinfra.api.results import OperationMeta

logger = logging.getLogger("pyinfra")


class BaseStateCallback:
    """Subclass and override the hooks you need; add with ``state.add_callback_handler``.

    The hooks and their arguments are pyinfra 3.x's; ``op_hash`` identifies one
    operation call across hosts (``state.get_op_meta(op_hash).names``), and the host's
    result is ``state.get_op_data_for_host(host, op_hash).operation_meta``.
    """

    def host_before_connect(self, state: State, host: Host) -> None: ...

    def host_connect(self, state: State, host: Host) -> None: ...

    def host_connect_error(self, state: State, host: Host, error: BaseException) -> None: ...

    def host_disconnect(self, state: State, host: Host) -> None: ...

    def host_failed(self, state: State, host: Host, error: str | None) -> None: ...

    def operation_start(self, state: State, op_hash: str) -> None: ...

    def operation_host_start(self, state: State, host: Host, op_hash: str) -> None: ...

    def operation_host_success(
        self, state: State, host: Host, op_hash: str, retry_count: int = 0
    ) -> None: ...

    def operation_host_error(
        self, state: State, host: Host, op_hash: str, retry_count: int = 0, max_retries: int = 0
    ) -> None: ...

    def operation_host_retry(
        self, state: State, host: Host, op_hash: str, retry_num: int, max_retries: int
    ) -> None: ...

    def operation_end(self, state: State, op_hash: str) -> None: ...


class StateStage(IntEnum):
    """Where a run is: setup, connect, prepare (plan), execute, disconnect."""

    Setup = 1
    Connect = 2
    Prepare = 3
    Execute = 4
    Disconnect = 5


class StateOperationMeta:
    """What every host shares about one operation call: its names, arguments, order."""

    def __init__(self, op_order: tuple[int, ...]) -> None:
        self.op_order = op_order
        self.names: set[str] = set()
        self.args: list[str] = []
        self.global_arguments: dict[str, Any] = {}


@dataclass
class StateOperationHostData:
    """One host's part of an operation call."""

    command_generator: Callable[[], Iterator[Any]]
    global_arguments: dict[str, Any]
    operation_meta: OperationMeta
    parent_op_hash: str | None = None


@dataclass
class StateHostMeta:
    ops: int = 0
    ops_change: int = 0
    ops_no_change: int = 0
    op_hashes: set[str] = field(default_factory=set)


@dataclass
class StateHostResults:
    ops: int = 0
    success_ops: int = 0
    error_ops: int = 0
    ignored_error_ops: int = 0
    partial_ops: int = 0


PasswordPrompter = Callable[[str], "str | None"]


def _no_commands() -> Iterator[Any]:
    return iter(())


class State:
    """Tracks one run. ``State(inventory, config)`` or ``State()`` then ``init(...)``."""

    # pyinfra 3.x's display switches (the CLI sets them from -v)
    print_noop_info = False
    print_fact_info = False
    print_fact_input = False
    print_fact_output = False
    check_for_changes = True

    def __init__(
        self,
        inventory: Inventory | None = None,
        config: Config | None = None,
        check_for_changes: bool = True,
        **kwargs: Any,
    ) -> None:
        self.config: Config = config if config is not None else Config()
        self.inventory: Inventory | None = None
        self.check_for_changes = check_for_changes
        self.current_stage = StateStage.Setup
        self.stage_warnings: dict[StateStage, int] = {}
        self.active_hosts: set[Host] = set()
        self.activated_hosts: set[Host] = set()
        self.failed_hosts: set[Host] = set()
        self.limit_hosts: list[Host] | None = None
        self.host_errors: dict[str, str] = {}
        self.callback_handlers: list[BaseStateCallback] = []
        self.password_prompter: PasswordPrompter | None = None
        self.is_executing = False
        self.dry = False
        self.print_output = False
        self.print_input = False
        self.cwd: str | None = None
        self.op_meta: dict[str, StateOperationMeta] = {}
        self.ops: dict[Host, dict[str, StateOperationHostData]] = {}
        self.meta: dict[Host, StateHostMeta] = {}
        self.results: dict[Host, StateHostResults] = {}
        self._operation_results: dict[str, list[OperationMeta]] = {}
        self._started_ops: list[str] = []
        self._ended_ops: set[str] = set()
        # Operations planned with add_op/add_deploy, waiting for run_ops, per host.
        self.pending_ops: dict[Host, list[Any]] = {}
        self._lock = threading.RLock()
        self._sudo_password: str | None = None
        self._sudo_password_asked = False
        self.initialised = False
        if inventory is not None:
            self.init(inventory, self.config, **kwargs)

    def init(
        self,
        inventory: Inventory,
        config: Config | None = None,
        initial_limit: Iterable[Host] | None = None,
        **kwargs: Any,
    ) -> None:
        if config is not None:
            self.config = config
        self.inventory = inventory
        inventory.state = self
        self.limit_hosts = list(initial_limit) if initial_limit is not None else None
        for host in inventory:
            self.ops.setdefault(host, {})
            self.meta.setdefault(host, StateHostMeta())
            self.results.setdefault(host, StateHostResults())
            host.init(self)
        self.initialised = True

    # Stages --------------------------------------------------------------

    def set_stage(self, stage: StateStage) -> None:
        if stage < self.current_stage:
            raise PyinfraError(
                f"a run cannot go back from stage {self.current_stage.name} to {stage.name}"
            )
        self.current_stage = stage

    def increment_warning_counter(self) -> None:
        with self._lock:
            self.stage_warnings[self.current_stage] = self.get_warning_counter() + 1

    def get_warning_counter(self) -> int:
        return self.stage_warnings.get(self.current_stage, 0)

    def should_check_for_changes(self) -> bool:
        return self.check_for_changes

    # Hosts ---------------------------------------------------------------

    def activate_host(self, host: Host) -> None:
        """A host connected: it is active (until it fails) and counts as activated."""
        with self._lock:
            self.activated_hosts.add(host)
            if host not in self.failed_hosts:
                self.active_hosts.add(host)

    def fail_hosts(
        self,
        hosts_to_fail: Iterable[Host],
        error: str | None = None,
        activated_count: int | None = None,
    ) -> None:
        """Mark hosts failed (the run goes on with the others: see ``FAIL_PERCENT``)."""
        hosts = set(hosts_to_fail)
        with self._lock:
            self.failed_hosts |= hosts
            self.active_hosts -= hosts
            for host in hosts:
                if error:
                    self.host_errors.setdefault(host.name, error)
        for host in hosts:
            self.trigger_callbacks("host_failed", host, error)

    def failed_percent(self) -> float:
        """Failed hosts as a percentage of the hosts this run worked on."""
        with self._lock:
            total = len(self.active_hosts | self.failed_hosts)
            return 100 * len(self.failed_hosts) / total if total else 0.0

    def is_host_in_limit(self, host: Host) -> bool:
        return self.limit_hosts is None or host in self.limit_hosts

    # Operations ----------------------------------------------------------

    def get_op_order(self) -> list[str]:
        """Every operation hash of the run, in the order they were first called."""
        return sorted(self.op_meta, key=lambda op_hash: self.op_meta[op_hash].op_order)

    def get_op_meta(self, op_hash: str) -> StateOperationMeta:
        return self.op_meta[op_hash]

    def get_meta_for_host(self, host: Host) -> StateHostMeta:
        with self._lock:
            return self.meta.setdefault(host, StateHostMeta())

    def get_results_for_host(self, host: Host) -> StateHostResults:
        with self._lock:
            return self.results.setdefault(host, StateHostResults())

    def get_op_data_for_host(self, host: Host, op_hash: str) -> StateOperationHostData:
        return self.ops[host][op_hash]

    def set_op_data_for_host(
        self, host: Host, op_hash: str, op_data: StateOperationHostData
    ) -> None:
        with self._lock:
            self.ops.setdefault(host, {})[op_hash] = op_data

    def register_operation(
        self,
        host: Host,
        meta: OperationMeta,
        global_arguments: dict[str, Any],
        args: list[str],
        command_generator: Callable[[], Iterator[Any]] = _no_commands,
    ) -> None:
        """Record that ``host`` calls the operation ``meta.op_hash``."""
        with self._lock:
            op_meta = self.op_meta.get(meta.op_hash)
            if op_meta is None:
                op_meta = self.op_meta[meta.op_hash] = StateOperationMeta((len(self.op_meta),))
            op_meta.names.add(meta.name)
            for arg in args:
                if arg not in op_meta.args:
                    op_meta.args.append(arg)
            op_meta.global_arguments.update(global_arguments)
            self.ops.setdefault(host, {})[meta.op_hash] = StateOperationHostData(
                command_generator, dict(global_arguments), meta
            )
            self.get_meta_for_host(host).op_hashes.add(meta.op_hash)
            order = host.op_hash_order
            if meta.op_hash not in order:
                order.append(meta.op_hash)

    def mark_operation_started(self, op_hash: str, end_others: bool = False) -> bool:
        """True the first time an operation starts executing in this run (on any host).
        With ``end_others``, the operations started before it end now (``operation_end``):
        hosts move to an operation once they are done with the one before."""
        with self._lock:
            if op_hash in self._started_ops or op_hash in self._ended_ops:
                return False
            ended = self._started_ops if end_others else []
            if end_others:
                self._ended_ops.update(ended)
                self._started_ops = []
            self._started_ops.append(op_hash)
        for previous in ended:
            self.trigger_callbacks("operation_end", previous)
        return True

    def finish_started_operations(self) -> list[str]:
        """The operations started since the last call, in order (for ``operation_end``)."""
        with self._lock:
            started, self._started_ops = self._started_ops, []
            self._ended_ops.clear()
            return started

    def record_result(self, host: Host, meta: OperationMeta) -> None:
        """An operation finished (or was skipped) on ``host``: keep it, count it."""
        with self._lock:
            self._operation_results.setdefault(host.name, []).append(meta)
            host_meta = self.get_meta_for_host(host)
            host_meta.ops += 1
            if meta.changed:
                host_meta.ops_change += 1
            else:
                host_meta.ops_no_change += 1
            results = self.get_results_for_host(host)
            results.ops += 1
            if meta.success is False:
                if meta.ignored_error:
                    results.ignored_error_ops += 1
                else:
                    results.error_ops += 1
            else:
                results.success_ops += 1

    def operation_results(self, host: Host | str) -> list[OperationMeta]:
        """The operations ``host`` ran in this run, in order (with their results)."""
        name = host if isinstance(host, str) else host.name
        with self._lock:
            return list(self._operation_results.get(name, []))

    def clear_operation_results(self) -> None:
        """Forget the recorded operations (a new run on the same state)."""
        with self._lock:
            self._operation_results.clear()
            self.op_meta.clear()
            for host_ops in self.ops.values():
                host_ops.clear()
            for host in list(self.meta):
                self.meta[host] = StateHostMeta()
                self.results[host] = StateHostResults()
            if self.inventory is not None:
                for host in self.inventory:
                    host.op_hash_order.clear()

    # Planned operations (add_op/add_deploy, then run_ops) ---------------------

    def queue_pending(self, host: Host, operation: Any) -> None:
        with self._lock:
            self.pending_ops.setdefault(host, []).append(operation)

    def take_pending(self, host: Host, op_hash: str | None = None) -> list[Any]:
        """Remove and return the host's planned operations (all, or those of one hash)."""
        with self._lock:
            pending = self.pending_ops.get(host, [])
            taken = [op for op in pending if op_hash is None or op.meta.op_hash == op_hash]
            self.pending_ops[host] = [op for op in pending if op not in taken]
            return taken

    def hosts_with_pending(self) -> list[Host]:
        with self._lock:
            return [host for host, pending in self.pending_ops.items() if pending]

    # Callbacks -----------------------------------------------------------

    def add_callback_handler(self, handler: BaseStateCallback) -> None:
        if not isinstance(handler, BaseStateCallback):
            raise TypeError("callback handlers must subclass pyinfra.api.BaseStateCallback")
        self.callback_handlers.append(handler)

    def trigger_callbacks(self, method_name: str, *args: Any, **kwargs: Any) -> None:
        for handler in list(self.callback_handlers):
            method = getattr(handler, method_name, None)
            if method is None:
                continue
            try:
                method(self, *args, **kwargs)
            except Exception:  # noqa: BLE001 - a broken callback never breaks the run
                logger.exception("callback %s.%s failed", type(handler).__name__, method_name)

    # Secrets -------------------------------------------------------------

    def ask_sudo_password(self, host: Host) -> str | None:
        """Ask for the sudo password once per run (all hosts share the answer)."""
        with self._lock:
            if self.config.SUDO_PASSWORD:
                return str(self.config.SUDO_PASSWORD)
            if not self._sudo_password_asked:
                self._sudo_password_asked = True
                if self.password_prompter is not None:
                    self._sudo_password = self.password_prompter(
                        f"sudo password (asked once, used for every host; first: {host.name})"
                    )
            return self._sudo_password

    def known_sudo_password(self) -> str | None:
        """The sudo password of this run if one was given or asked (never asks)."""
        with self._lock:
            return str(self.config.SUDO_PASSWORD) if self.config.SUDO_PASSWORD else (
                self._sudo_password
            )
