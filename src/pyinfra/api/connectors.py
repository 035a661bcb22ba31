"""The connector registry: built-ins and plugins by entry point, plus run-time registration.

Entry points in the group ``pyinfra.connectors`` (``name = "pkg.module:Class"``) are
read once per process; a class is imported only when its name is first used.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import re
import threading
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from pyinfra.api.exceptions import (
    ConnectorRegistrationError,
    NoConnectorError,
    PyinfraError,
)

if TYPE_CHECKING:
    from pyinfra.connectors.base import BaseConnector

ENTRY_POINT_GROUP = "pyinfra.connectors"
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")

logger = logging.getLogger("pyinfra")

# Used when the package metadata is not installed (running from a source tree).
_BUILTINS: dict[str, str] = {
    "local": "pyinfra.connectors.local:LocalConnector",
    "fake": "pyinfra.connectors.fake:FakeConnector",
    "ssh": "pyinfra.connectors.ssh:SSHConnector",
    "docker": "pyinfra.connectors.docker:DockerConnector",
    "podman": "pyinfra.connectors.docker:PodmanConnector",
    "dockerssh": "pyinfra.connectors.dockerssh:DockerSSHConnector",
    "podmanssh": "pyinfra.connectors.dockerssh:PodmanSSHConnector",
    "chroot": "pyinfra.connectors.chroot:ChrootConnector",
    "terraform": "pyinfra.connectors.terraform:TerraformInventoryConnector",
    "vagrant": "pyinfra.connectors.vagrant:VagrantInventoryConnector",
}

_lock = threading.RLock()
_specs: dict[str, tuple[str, str]] | None = None  # name -> ("module:attr", package)
_loaded: dict[str, type[BaseConnector]] = {}
_registered: dict[str, type[BaseConnector]] = {}


def _module_exists(target: str) -> bool:
    module = target.split(":", 1)[0]
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _load_specs() -> dict[str, tuple[str, str]]:
    global _specs
    with _lock:
        if _specs is None:
            specs: dict[str, tuple[str, str]] = {
                name: (target, "pyinfra")
                for name, target in _BUILTINS.items()
                if _module_exists(target)
            }
            try:
                eps: list[EntryPoint] = list(entry_points(group=ENTRY_POINT_GROUP))
            except Exception as exc:  # noqa: BLE001 - broken metadata must not break us
                logger.warning("could not read %s entry points: %s", ENTRY_POINT_GROUP, exc)
                eps = []
            for ep in eps:
                package = _package_of(ep)
                if ep.name in specs:
                    if specs[ep.name] != (ep.value, package) and package != "pyinfra":
                        logger.warning(
                            "connector @%s from package %s (%s) ignored: the name is taken "
                            "by %s from package %s",
                            ep.name,
                            package,
                            ep.value,
                            specs[ep.name][0],
                            specs[ep.name][1],
                        )
                    continue
                specs[ep.name] = (ep.value, package)
            _specs = specs
        return _specs


def _package_of(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    name = getattr(dist, "name", None) if dist is not None else None
    return str(name) if name else ep.value.split(":", 1)[0].split(".", 1)[0]


def reload_entry_points() -> None:
    """Forget the entry points read so far (they are read again on next use)."""
    global _specs
    with _lock:
        _specs = None
        _loaded.clear()


def _import(name: str, target: str, package: str) -> type[BaseConnector]:
    from pyinfra.connectors.base import BaseConnector

    module_name, _, attr = target.partition(":")
    try:
        cls: Any = importlib.import_module(module_name.strip())
        for part in attr.strip().split(".") if attr.strip() else []:
            cls = getattr(cls, part)
    except Exception as exc:  # noqa: BLE001 - any plugin import failure is reported
        raise PyinfraError(
            f"connector @{name} from package {package} failed to import ({target}): "
            f"{type(exc).__name__}: {exc}; fix or reinstall {package}, or uninstall it"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, BaseConnector)):
        raise PyinfraError(
            f"connector @{name} from package {package} ({target}) is not a subclass of "
            f"pyinfra.connectors.base.BaseConnector: fix the entry point in {package}"
        )
    return cls


def get_connector_names() -> list[str]:
    with _lock:
        return sorted(set(_load_specs()) | set(_registered))


def get_connector(name: str) -> type[BaseConnector]:
    """The connector class registered as ``name`` (``NoConnectorError`` if none)."""
    with _lock:
        if name in _registered:
            return _registered[name]
        if name in _loaded:
            return _loaded[name]
        specs = _load_specs()
        if name not in specs:
            available = ", ".join(f"@{n}" for n in get_connector_names())
            raise NoConnectorError(
                f"unknown connector @{name}: available connectors are {available}"
            )
        target, package = specs[name]
        cls = _import(name, target, package)
        _loaded[name] = cls
        return cls


def get_all_connectors() -> dict[str, type[BaseConnector]]:
    """Every connector, by name. Plugins that fail to import are left out."""
    out: dict[str, type[BaseConnector]] = {}
    for name in get_connector_names():
        try:
            out[name] = get_connector(name)
        except PyinfraError:
            continue
    return out


def get_execution_connectors() -> dict[str, type[BaseConnector]]:
    return {n: c for n, c in get_all_connectors().items() if c.handles_execution}


def get_execution_connector(name: str) -> type[BaseConnector]:
    cls = get_connector(name)
    if not cls.handles_execution:
        raise NoConnectorError(
            f"connector @{name} generates inventory only; it does not execute commands"
        )
    return cls


def register_connector(name: str, cls: type, replace: bool = False) -> None:
    """Register ``cls`` under ``@name`` for this process.

    Refuses a class that is not a ``BaseConnector`` subclass, an executing connector
    that leaves abstract methods unimplemented, and a name that a built-in, an installed
    plugin or an earlier registration already uses (unless ``replace=True``).
    Registering the same class under the same name again is a no-op.
    """
    from pyinfra.connectors.base import BaseConnector

    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ConnectorRegistrationError(
            f"invalid connector name {name!r}: use a plain word like 'mycustom' "
            "(letters, digits, _ and -; no @, / or commas)"
        )
    if not (isinstance(cls, type) and issubclass(cls, BaseConnector)):
        raise ConnectorRegistrationError(
            f"cannot register {cls!r} as connector @{name}: it is not a subclass of "
            "pyinfra.connectors.base.BaseConnector"
        )
    if cls.handles_execution and inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        raise ConnectorRegistrationError(
            f"cannot register {_class_path(cls)} as connector @{name}: it sets "
            f"handles_execution = True but does not implement {missing}"
        )
    with _lock:
        taken_by: str | None = None
        if name in _registered:
            if _registered[name] is not cls:
                taken_by = _class_path(_registered[name])
        elif name in _loaded:
            if _loaded[name] is not cls:
                target, package = _load_specs().get(name, ("", "pyinfra"))
                taken_by = f"{_class_path(_loaded[name])} from package {package}"
        elif name in _load_specs():
            target, package = _load_specs()[name]
            if _entry_point_class(name, target, package) is not cls:
                taken_by = f"{target.replace(' ', '').replace(':', '.')} from package {package}"
        if taken_by is not None and not replace:
            raise ConnectorRegistrationError(
                f"connector name @{name} is already taken by {taken_by}: choose another "
                "name, or pass replace=True to override it"
            )
        _registered[name] = cls


def _entry_point_class(name: str, target: str, package: str) -> type[BaseConnector] | None:
    """The class an entry point names (None when it cannot be imported): classes are
    compared, not their dotted paths, since a class may be re-exported elsewhere."""
    try:
        cls = _import(name, target, package)
    except PyinfraError:
        return None
    _loaded[name] = cls
    return cls


def _class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def describe_connector(cls: type) -> str:
    """``@name (module.Class)`` for a known connector class, else ``module.Class``."""
    with _lock:
        for table in (_registered, _loaded):
            for name, known in table.items():
                if known is cls:
                    return f"@{name} ({_class_path(cls)})"
    return _class_path(cls)


def unregister_connector(name: str) -> None:
    with _lock:
        _registered.pop(name, None)


__all__ = [
    "get_all_connectors",
    "get_execution_connectors",
    "get_execution_connector",
    "get_connector",
    "get_connector_names",
    "describe_connector",
    "register_connector",
    "reload_entry_points",
    "unregister_connector",
]
