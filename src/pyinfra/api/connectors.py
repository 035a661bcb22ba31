"""The connector registry: built-ins and plugins by entry point, plus run-time registration.

Entry points in the group ``pyinfra.connectors`` (``name = "pkg.module:Class"``) are
read once per process; a class is imported only when its name is first used.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

from pyinfra.api.exceptions import (
    ConnectorRegistrationError,
    NoConnectorError,
    PyinfraError,
)

if TYPE_CHECKING:
    from pyinfra.connectors.base import BaseConnector

ENTRY_POINT_GROUP = "pyinfra.connectors"

# Used when the package metadata is not installed (running from a source tree).
_BUILTINS: dict[str, str] = {
    "local": "pyinfra.connectors.local:LocalConnector",
    "fake": "pyinfra.connectors.fake:FakeConnector",
    "ssh": "pyinfra.connectors.ssh:SSHConnector",
    "docker": "pyinfra.connectors.docker:DockerConnector",
    "podman": "pyinfra.connectors.docker:PodmanConnector",
    "dockerssh": "pyinfra.connectors.dockerssh:DockerSSHConnector",
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
            eps: list[EntryPoint] = list(entry_points(group=ENTRY_POINT_GROUP))
            for ep in eps:
                package = ep.dist.name if ep.dist is not None else ep.value.split(".")[0]
                if ep.name in specs and package == "pyinfra":
                    continue
                specs[ep.name] = (ep.value, package)
            _specs = specs
        return _specs


def _import(name: str, target: str, package: str) -> type[BaseConnector]:
    from pyinfra.connectors.base import BaseConnector

    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, attr) if attr else module
    except Exception as exc:  # noqa: BLE001 - any plugin import failure is reported
        raise PyinfraError(
            f"connector {name!r} from package {package!r} failed to import "
            f"({target}): {type(exc).__name__}: {exc}"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, BaseConnector)):
        raise PyinfraError(
            f"connector {name!r} from package {package!r} ({target}) is not a "
            "BaseConnector subclass"
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


def register_connector(name: str, cls: type[BaseConnector], replace: bool = False) -> None:
    """Register ``cls`` under ``@name`` for this process.

    Refuses a class that is not a ``BaseConnector`` subclass, and a name that another
    class already uses unless ``replace=True``.
    """
    from pyinfra.connectors.base import BaseConnector

    if not isinstance(name, str) or not name or "/" in name or name.startswith("@"):
        raise ConnectorRegistrationError(
            f"invalid connector name {name!r}: use a plain word like 'mycustom'"
        )
    if not (isinstance(cls, type) and issubclass(cls, BaseConnector)):
        raise ConnectorRegistrationError(
            f"cannot register {cls!r} as connector @{name}: it is not a subclass of "
            "pyinfra.connectors.base.BaseConnector"
        )
    with _lock:
        existing = _registered.get(name) or _loaded.get(name)
        if existing is None and name in _load_specs() and not replace:
            try:
                existing = get_connector(name)
            except PyinfraError:
                existing = None
        if existing is not None and existing is not cls and not replace:
            raise ConnectorRegistrationError(
                f"connector name @{name} is already taken by "
                f"{existing.__module__}.{existing.__qualname__}; pass replace=True to override"
            )
        _registered[name] = cls


def unregister_connector(name: str) -> None:
    with _lock:
        _registered.pop(name, None)


__all__ = [
    "get_all_connectors",
    "get_execution_connectors",
    "get_execution_connector",
    "get_connector",
    "get_connector_names",
    "register_connector",
    "unregister_connector",
]
