"""State: one run over an inventory: config, active/failed hosts, callbacks, secrets."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from pyinfra.api.config import Config

if TYPE_CHECKING:
    from pyinfra.api.host import Host
    from pyinfra.api.inventory import Inventory

logger = logging.getLogger("pyinfra")


class BaseStateCallback:
    """Subclass and override the hooks you need; add with ``state.add_callback_handler``."""

    def host_connect(self, state: State, host: Host) -> None: ...

    def host_connect_error(self, state: State, host: Host, error: BaseException) -> None: ...

    def host_disconnect(self, state: State, host: Host) -> None: ...

    def host_failed(self, state: State, host: Host, error: str | None) -> None: ...

    def operation_start(self, state: State, op_name: str) -> None: ...

    def operation_host_start(self, state: State, host: Host, op_name: str) -> None: ...

    def operation_host_success(
        self, state: State, host: Host, op_name: str, result: Any
    ) -> None: ...

    def operation_host_error(self, state: State, host: Host, op_name: str, result: Any) -> None: ...

    def operation_end(self, state: State, op_name: str) -> None: ...


PasswordPrompter = Callable[[str], "str | None"]


class State:
    """Tracks one run. ``State(inventory, config)`` or ``State()`` then ``init(...)``."""

    def __init__(
        self, inventory: Inventory | None = None, config: Config | None = None, **kwargs: Any
    ) -> None:
        self.config: Config = config if config is not None else Config()
        self.inventory: Inventory | None = None
        self.active_hosts: set[Host] = set()
        self.failed_hosts: set[Host] = set()
        self.host_errors: dict[str, str] = {}
        self.callback_handlers: list[BaseStateCallback] = []
        self.password_prompter: PasswordPrompter | None = None
        self.is_executing = False
        self.dry = False
        self.print_output = False
        self.print_input = False
        self.results: dict[str, list[Any]] = {}
        self._lock = threading.RLock()
        self._sudo_password: str | None = None
        self._sudo_password_asked = False
        self.initialised = False
        if inventory is not None:
            self.init(inventory, self.config)

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
        hosts = list(initial_limit) if initial_limit is not None else list(inventory)
        self.active_hosts = set(hosts)
        for host in inventory:
            host.init(self)
        self.initialised = True

    # Hosts ---------------------------------------------------------------

    def fail_hosts(
        self,
        hosts_to_fail: Iterable[Host],
        error: str | None = None,
        activated_count: int | None = None,
    ) -> None:
        hosts = set(hosts_to_fail)
        with self._lock:
            self.failed_hosts |= hosts
            self.active_hosts -= hosts
            for host in hosts:
                if error:
                    self.host_errors.setdefault(host.name, error)
        for host in hosts:
            self.trigger_callbacks("host_failed", host, error)

    def is_host_in_limit(self, host: Host) -> bool:
        return host in self.active_hosts or host in self.failed_hosts

    def get_results(self) -> dict[str, list[Any]]:
        return self.results

    # Callbacks -----------------------------------------------------------

    def add_callback_handler(self, handler: BaseStateCallback) -> None:
        if not isinstance(handler, BaseStateCallback):
            raise TypeError("callback handlers must subclass pyinfra.api.BaseStateCallback")
        self.callback_handlers.append(handler)

    def trigger_callbacks(self, method_name: str, *args: Any) -> None:
        for handler in list(self.callback_handlers):
            method = getattr(handler, method_name, None)
            if method is None:
                continue
            try:
                method(self, *args)
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
