"""Host: one target, its layered data, its connector and its facts."""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from collections.abc import Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any

from pyinfra.api.arguments import ARGUMENT_META, ResolvedArguments
from pyinfra.api.exceptions import ConnectError, PyinfraError

if TYPE_CHECKING:
    from pyinfra.api.facts import FactBase
    from pyinfra.api.inventory import Inventory
    from pyinfra.api.state import State
    from pyinfra.connectors.base import BaseConnector
    from pyinfra.connectors.output import CommandOutput

logger = logging.getLogger("pyinfra")


class HostData:
    """Layered host data: override > host > groups (later wins) > global.

    Read with attributes (``host.data.ssh_user``, ``None`` when unset) or ``.get``.
    """

    def __init__(self, host_name: str, *layers: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_host_name", host_name)
        # highest priority first
        object.__setattr__(self, "_layers", list(layers))
        object.__setattr__(self, "_own", {})

    def _lookup(self, key: str) -> tuple[bool, Any]:
        own: dict[str, Any] = self._own
        if key in own:
            return True, own[key]
        for layer in self._layers:
            if key in layer:
                return True, layer[key]
        return False, None

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        return self._lookup(key)[1]

    def __setattr__(self, key: str, value: Any) -> None:
        self._own[key] = value

    def __getitem__(self, key: str) -> Any:
        found, value = self._lookup(key)
        if not found:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._lookup(key)[0]

    def get(self, key: str, default: Any = None) -> Any:
        found, value = self._lookup(key)
        return value if found else default

    def dict(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for layer in reversed(self._layers):
            merged.update(layer)
        merged.update(self._own)
        return merged

    def __iter__(self) -> Iterator[str]:
        return iter(self.dict())

    def __repr__(self) -> str:
        return f"HostData({self._host_name!r})"


class Host:
    """A target host. Its connector is created on first use and connected lazily."""

    def __init__(
        self,
        name: str,
        inventory: Inventory | None,
        groups: list[str],
        data: HostData,
        connector_cls: type[BaseConnector],
    ) -> None:
        self.name = name
        self.inventory = inventory
        self.groups = groups
        self.data = data
        self.connector_cls = connector_cls
        self.connector_data: dict[str, Any] = {}
        self.connected = False
        self.state: State | None = None
        self._connector: BaseConnector | None = None
        self._lock = threading.RLock()
        self._fact_cache: dict[Any, Any] = {}
        self._fact_lock = threading.Lock()
        self.current_op_hash: str | None = None
        self.current_deploy_name: str | None = None
        # The result of the operation running on this host now (set by the executor).
        self.current_op_meta: Any = None

    def __repr__(self) -> str:
        return f"Host({self.name!r})"

    def __str__(self) -> str:
        return self.name

    def style_print_prefix(self, *args: Any, **kwargs: Any) -> str:
        return f"[{self.name}]"

    @property
    def print_prefix(self) -> str:
        return f"[{self.name}] "

    # Connector -------------------------------------------------------------

    def init(self, state: State) -> None:
        self.state = state

    @property
    def connector(self) -> BaseConnector:
        with self._lock:
            if self._connector is None:
                if self.state is None:
                    from pyinfra.api.state import State

                    State(self.inventory, None)  # binds this host to a default state
                assert self.state is not None
                self._connector = self.connector_cls(self.state, self)
            return self._connector

    @property
    def executor(self) -> BaseConnector:
        return self.connector

    def connect(
        self, reason: str | None = None, show_errors: bool = True, raise_exceptions: bool = False
    ) -> bool:
        """Connect if not yet connected. Returns True when connected.

        On failure: raises ``ConnectError`` if ``raise_exceptions``, otherwise logs it
        (if ``show_errors``), marks the host failed in its state and returns False.
        """
        with self._lock:
            if self.connected:
                return True
            try:
                connector = self.connector
                connector.connect()
            except ConnectError as exc:
                message = str(exc)
                if self.name not in message:
                    exc = type(exc)(f"{self.name}: {message}")
                return self._connect_failed(exc, show_errors, raise_exceptions)
            except PyinfraError as exc:
                wrapped = ConnectError(f"{self.name}: {exc}")
                return self._connect_failed(wrapped, show_errors, raise_exceptions, exc)
            except OSError as exc:
                wrapped = ConnectError(f"{self.name}: could not connect: {exc}")
                return self._connect_failed(wrapped, show_errors, raise_exceptions, exc)
            except Exception as exc:  # noqa: BLE001 - connector (plugin) bug: name it
                from pyinfra.api.connectors import describe_connector

                wrapped = ConnectError(
                    f"{self.name}: connector {describe_connector(self.connector_cls)} raised "
                    f"{type(exc).__name__} in connect: {exc}"
                )
                return self._connect_failed(wrapped, show_errors, raise_exceptions, exc)
            self.connected = True
            if reason:
                logger.debug("connected to %s (%s)", self.name, reason)
            if self.state is not None:
                self.state.trigger_callbacks("host_connect", self)
            return True

    def _connect_failed(
        self,
        exc: ConnectError,
        show_errors: bool,
        raise_exceptions: bool,
        cause: BaseException | None = None,
    ) -> bool:
        if self.state is not None:
            self.state.fail_hosts({self}, error=str(exc))
            self.state.trigger_callbacks("host_connect_error", self, exc)
        if raise_exceptions:
            if cause is not None:
                raise exc from cause
            raise exc
        if show_errors:
            logger.error("%s", exc)
        return False

    def disconnect(self) -> None:
        """Disconnect (safe to call when not connected, or twice)."""
        with self._lock:
            connector = self._connector
            if connector is not None:
                try:
                    connector.disconnect()
                finally:
                    self.connected = False
                    if self.state is not None:
                        self.state.trigger_callbacks("host_disconnect", self)
            self.connected = False

    def _ensure_connected(self) -> BaseConnector:
        if not self.connected:
            self.connect(raise_exceptions=True)
        return self.connector

    # Pass-throughs ---------------------------------------------------------
    # The operation layer's way to the connector: the arguments of the call are resolved
    # here (the call's, then this host's data, then the run's Config: --sudo...), so a
    # connector builds exactly from what it receives.

    def _resolve_arguments(self, arguments: dict[str, Any]) -> dict[str, Any]:
        others = {k: v for k, v in arguments.items() if k not in ARGUMENT_META}
        return {**others, **ResolvedArguments.for_host(self, arguments)}

    def run_shell_command(
        self,
        command: Any,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Any,
    ) -> tuple[bool, CommandOutput]:
        connector = self._ensure_connected()
        return connector.run_shell_command(
            command,
            print_output=print_output,
            print_input=print_input,
            **self._resolve_arguments(arguments),
        )

    def put_file(
        self,
        filename_or_io: str | IO[Any],
        remote_filename: str,
        remote_temp_filename: str | None = None,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Any,
    ) -> bool:
        connector = self._ensure_connected()
        return connector.put_file(
            filename_or_io,
            remote_filename,
            remote_temp_filename,
            print_output=print_output,
            print_input=print_input,
            **self._resolve_arguments(arguments),
        )

    def get_file(
        self,
        remote_filename: str,
        filename_or_io: str | IO[Any],
        remote_temp_filename: str | None = None,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Any,
    ) -> bool:
        connector = self._ensure_connected()
        return connector.get_file(
            remote_filename,
            filename_or_io,
            remote_temp_filename,
            print_output=print_output,
            print_input=print_input,
            **self._resolve_arguments(arguments),
        )

    def get_temp_filename(
        self,
        hash_key: str | None = None,
        hash_filename: bool = True,
        *,
        temp_directory: str | None = None,
    ) -> str:
        """A path in the host's temp directory.

        With ``hash_key``, the same key gives the same name (for idempotent uploads);
        without, the name is random and unpredictable.
        """
        directory = temp_directory or self.data.get("_temp_dir")
        if not directory and self.state is not None:
            directory = self.state.config.TEMP_DIR
        directory = directory or "/tmp"
        if hash_key is None:
            name = secrets.token_hex(16)
        elif hash_filename:
            name = hashlib.sha1(hash_key.encode()).hexdigest()
        else:
            name = hash_key
        return f"{directory.rstrip('/')}/pyinfra-{name}"

    def noop(self, description: str) -> None:
        """Record that the current operation has nothing to do on this host, and why
        (shown beside the operation's status; logged at debug level outside one)."""
        meta = self.current_op_meta
        if meta is not None:
            meta.noops.append(str(description))
        logger.debug("%snoop: %s", self.print_prefix, description)

    # Facts -----------------------------------------------------------------

    def get_fact(self, fact_cls: type[FactBase[Any]], *args: Any, **kwargs: Any) -> Any:
        from pyinfra.api.facts import get_host_fact

        return get_host_fact(self, fact_cls, *args, **kwargs)

    def invalidate_facts(self, fact_cls: type[Any] | None = None) -> None:
        """Drop cached facts (all, or one fact class) so the next read re-runs them."""
        with self._fact_lock:
            if fact_cls is None:
                self._fact_cache.clear()
                return
            for key in [k for k in self._fact_cache if k[0] is fact_cls]:
                del self._fact_cache[key]
