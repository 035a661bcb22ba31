"""Host: one target, its layered data, its connector and its facts."""

from __future__ import annotations

import copy
import hashlib
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import IO, TYPE_CHECKING, Any, TypeVar

from pyinfra import context
from pyinfra.api.arguments import ARGUMENT_META, ResolvedArguments
from pyinfra.api.cmdqueue import CommandQueue
from pyinfra.api.connectors import describe_connector, get_connector
from pyinfra.api.exceptions import ConnectError, PyinfraError
from pyinfra.api.factbatch import WantedQueries, save_queries
from pyinfra.api.factcache import FactCache

if TYPE_CHECKING:
    from pyinfra.api.facts import FactBase, ShortFactBase
    from pyinfra.api.inventory import Inventory
    from pyinfra.api.state import State
    from pyinfra.connectors.base import BaseConnector
    from pyinfra.connectors.output import CommandOutput

logger = logging.getLogger("pyinfra")
T = TypeVar("T")


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _data_from_inventory(name: str, inventory: Inventory | None, groups: list[str]) -> HostData:
    if inventory is None:
        return HostData(name)
    group_layers = [inventory.get_group_data(group) for group in reversed(groups)]
    return HostData(
        name,
        inventory.get_override_data(),
        inventory.get_host_data(name),
        *group_layers,
        inventory.get_data(),
    )


class HostData:
    """Layered host data: override > host > groups (later wins) > global > the
    ``data_defaults`` of the ``@deploy`` running now.

    Read with attributes (``host.data.ssh_user``; an unset key raises
    ``AttributeError``, so ``getattr(host.data, key, default)`` works) or ``.get(key)``
    (``None`` when unset). Values are shallow copies: mutating the list a host reads
    never changes another host's (or the group's) data; assign to change it.
    """

    def __init__(self, host_name: str, *layers: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_host_name", host_name)
        # highest priority first
        object.__setattr__(self, "_layers", list(layers))
        object.__setattr__(self, "_own", {})
        object.__setattr__(self, "_defaults", _no_defaults)

    def set_defaults_source(self, source: Callable[[], Mapping[str, Any]]) -> None:
        """Where the lowest-priority layer (``@deploy(data_defaults=...)``) comes from."""
        object.__setattr__(self, "_defaults", source)

    def _all_layers(self) -> list[Mapping[str, Any]]:
        return [self._own, *self._layers, self._defaults()]

    def _lookup(self, key: str) -> tuple[bool, Any]:
        for layer in self._all_layers():
            if key in layer:
                return True, layer[key]
        return False, None

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        found, value = self._lookup(key)
        if not found:
            raise AttributeError(f"Host `{self._host_name}` has no data `{key}`")
        return copy.copy(value)

    def __setattr__(self, key: str, value: Any) -> None:
        self._own[key] = value

    def __getitem__(self, key: str) -> Any:
        found, value = self._lookup(key)
        if not found:
            raise KeyError(key)
        return copy.copy(value)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._lookup(key)[0]

    def get(self, key: str, default: Any = None) -> Any:
        found, value = self._lookup(key)
        return copy.copy(value) if found else default

    def dict(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for layer in reversed(self._all_layers()):
            merged.update(layer)
        return merged

    def __iter__(self) -> Iterator[str]:
        return iter(self.dict())

    def __str__(self) -> str:
        return str(self.dict())

    def __repr__(self) -> str:
        return f"HostData({self._host_name!r})"


def _no_defaults() -> Mapping[str, Any]:
    return {}


class Host:
    """A target host: ``Host(name, inventory, groups, connector_cls=None)``.

    Its data comes from the inventory (``data=`` overrides that); its connector is
    created on first use (the host needs a state: ``State(inventory)`` or
    ``host.init(state)``), may be replaced (``host.connector = other``, as connectors
    that delegate to another one do in ``connect``), and connects lazily.
    """

    # pyinfra 3.x's operation/deploy context attributes
    in_op = False
    in_callback_op = False
    in_deploy = False

    def __init__(
        self,
        name: str,
        inventory: Inventory | None,
        groups: list[str] | None = None,
        connector_cls: type[BaseConnector] | None = None,
        *,
        data: HostData | None = None,
    ) -> None:
        self.name = name
        self.inventory = inventory
        self.groups = list(groups or [])
        if connector_cls is None:
            connector_cls = get_connector("ssh")
        self.connector_cls = connector_cls
        if data is None:
            data = _data_from_inventory(name, inventory, self.groups)
        data.set_defaults_source(self.get_deploy_data)
        self.data = data
        self.connector_data: dict[str, Any] = {}
        self.connected = False
        self.state: State | None = None
        self._connector: BaseConnector | None = None
        self._lock = threading.RLock()
        self.fact_cache = FactCache()
        self.fact_queries = WantedQueries()
        self.loop_position: list[int] = []
        self.op_hash_order: list[str] = []
        self.current_op_hash: str | None = None
        self.current_op_global_arguments: dict[str, Any] | None = None
        self.executing_op_hash: str | None = None
        self.nested_executing_op_hash: str | None = None
        self.current_deploy_name: str | None = None
        self.current_deploy_kwargs: dict[str, Any] | None = None
        self.current_deploy_data: dict[str, Any] | None = None
        self.current_op_deploy_data: dict[str, Any] | None = None
        # The result of the operation running on this host now (set by the executor),
        # and the shell commands operations yielded that have not been sent yet.
        self.current_op_meta: Any = None
        self.command_queue = CommandQueue(self)

    def __repr__(self) -> str:
        return f"Host({self.name!r})"

    def __str__(self) -> str:
        return self.name

    def style_print_prefix(self, *args: Any, **kwargs: Any) -> str:
        return f"[{self.name}] "

    @property
    def print_prefix(self) -> str:
        return f"[{self.name}] "

    def log(self, message: str, log_func: Callable[[str], Any] = logger.info) -> None:
        log_func(f"{self.print_prefix}{message}")

    def log_styled(
        self, message: str, log_func: Callable[[str], Any] = logger.info, **kwargs: Any
    ) -> None:
        self.log(message, log_func=log_func)

    # Data ------------------------------------------------------------------

    @property
    def host_data(self) -> dict[str, Any]:
        return self.inventory.get_host_data(self.name) if self.inventory is not None else {}

    @property
    def group_data(self) -> dict[str, Any]:
        if self.inventory is None:
            return {}
        return self.inventory.get_groups_data(self.groups)

    def get_deploy_data(self) -> dict[str, Any]:
        return self.current_op_deploy_data or self.current_deploy_data or {}

    # Deploy context ------------------------------------------------------------

    def loop(self, iterable: Iterable[T]) -> Iterator[T]:
        """Iterate, marking the position so operations called in a loop stay distinct."""
        self.loop_position.append(0)
        try:
            for index, item in enumerate(iterable):
                self.loop_position[-1] = index
                yield item
        finally:
            self.loop_position.pop()

    @contextmanager
    def deploy(
        self,
        name: str,
        kwargs: Mapping[str, Any] | None,
        data: Mapping[str, Any] | None,
        in_deploy: bool = True,
    ) -> Iterator[None]:
        """Operations called inside run as part of the deploy ``name`` with these global
        arguments and data defaults (what ``@deploy`` uses; nests)."""
        saved = (
            self.in_deploy,
            self.current_deploy_name,
            self.current_deploy_kwargs,
            self.current_deploy_data,
        )
        merged = dict(self.current_deploy_kwargs or {})
        for key, value in (kwargs or {}).items():
            if key == "_if" and merged.get("_if") is not None and value is not None:
                value = _as_list(merged["_if"]) + _as_list(value)
            merged[key] = value
        if name:
            self.current_deploy_name = (
                f"{self.current_deploy_name} | {name}" if self.current_deploy_name else name
            )
        self.in_deploy = in_deploy or self.in_deploy
        self.current_deploy_kwargs = merged
        if data:
            self.current_deploy_data = {**(self.current_deploy_data or {}), **data}
        try:
            yield
        finally:
            (
                self.in_deploy,
                self.current_deploy_name,
                self.current_deploy_kwargs,
                self.current_deploy_data,
            ) = saved

    def when(self, condition: Callable[[], bool]) -> AbstractContextManager[None]:
        """``with host.when(lambda: ...):`` operations inside run only if it is true."""
        return self.deploy("", {"_if": [condition]}, {}, in_deploy=False)

    def arguments(self, **arguments: Any) -> AbstractContextManager[None]:
        """``with host.arguments(_sudo=True):`` global arguments for the operations inside."""
        return self.deploy("", arguments, {}, in_deploy=False)

    # Connector -------------------------------------------------------------

    def init(self, state: State) -> None:
        self.state = state

    @property
    def connector(self) -> BaseConnector:
        with self._lock:
            if self._connector is None:
                if self.state is None:
                    raise PyinfraError(
                        f"{self.name}: this host has no state yet: create "
                        "State(inventory) (or call host.init(state)) before using it"
                    )
                self._connector = self.connector_cls(self.state, self)
            return self._connector

    @connector.setter
    def connector(self, connector: BaseConnector) -> None:
        with self._lock:
            self._connector = connector

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
            if self.state is not None:
                self.state.trigger_callbacks("host_before_connect", self)
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
                wrapped = ConnectError(
                    f"{self.name}: connector {describe_connector(self.connector_cls)} raised "
                    f"{type(exc).__name__} in connect: {exc}"
                )
                return self._connect_failed(wrapped, show_errors, raise_exceptions, exc)
            self.connected = True
            if reason:
                logger.debug("connected to %s (%s)", self.name, reason)
            if self.state is not None:
                self.state.activate_host(self)
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
        """Disconnect (safe to call when not connected, or twice). With
        ``FACT_PREFETCH``, the facts this host read are remembered for the next run."""
        state = self.state
        if state is not None and state.config.FACT_PREFETCH and self.fact_queries.used():
            save_queries(state, [self])
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

    def can_batch_shell_commands(self, arguments: dict[str, Any]) -> bool:
        """Whether commands with these arguments may share one shell script: the
        connector runs commands through a POSIX shell, and the run uses one."""
        if not getattr(self.connector, "batches_shell_commands", False):
            return False
        return bool(ResolvedArguments.for_host(self, arguments)["_shell_executable"])

    def resolve_arguments(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """What a command run with ``arguments`` gets from this host (see above)."""
        return self._resolve_arguments(arguments)

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
        self.command_queue.settle_or_raise()  # commands queued earlier run first
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
        self.command_queue.settle_or_raise()
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
        self.command_queue.settle_or_raise()
        connector = self._ensure_connected()
        return connector.get_file(
            remote_filename,
            filename_or_io,
            remote_temp_filename,
            print_output=print_output,
            print_input=print_input,
            **self._resolve_arguments(arguments),
        )

    def get_temp_dir_config(self) -> str:
        """The temp directory the configuration asks for: the deploy's ``config.TEMP_DIR``,
        else the state's, else ``DEFAULT_TEMP_DIR`` (``/tmp``)."""
        candidates = [context.get("config"), self.state.config if self.state else None]
        for config in candidates:
            value = getattr(config, "TEMP_DIR", None) if config is not None else None
            if value:
                return str(value)
        default = getattr(self.state.config, "DEFAULT_TEMP_DIR", None) if self.state else None
        return str(default or "/tmp")

    def check_can_rsync(self) -> None:
        """Raise ``NotImplementedError`` if ``files.rsync`` cannot run on this host."""
        self.connector.check_can_rsync()

    def rsync(self, *args: Any, **kwargs: Any) -> bool:
        """Run the controller's rsync towards this host (``files.rsync``)."""
        return bool(self._ensure_connected().rsync(*args, **kwargs))

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
        directory = temp_directory or self.data.get("_temp_dir") or self.get_temp_dir_config()
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

    def get_fact(
        self,
        fact_cls: type[FactBase[Any]] | type[ShortFactBase[Any]],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """The value of a fact on this host (read once per run, then from the cache)."""
        from pyinfra.api.facts import get_host_fact

        return get_host_fact(self, fact_cls, *args, **kwargs)

    def invalidate_facts(self, fact_cls: type[Any] | None = None) -> None:
        """Drop cached facts (all, or one fact class) so the next read re-runs them."""
        if fact_cls is None:
            self.fact_cache.clear()
        else:
            self.fact_cache.drop(lambda key, entry: key[0] is fact_cls)
