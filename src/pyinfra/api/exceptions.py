"""The single exception tree of pyinfra.

Every expected failure (bad inventory, unreachable host, wrong password, missing
container, timeouts...) is raised as one of these classes, with a one-line message
that says what happened and what to do. The CLI prints ``str(exc)``; only
``--debug`` shows a traceback.
"""

from __future__ import annotations


class PyinfraError(Exception):
    """Base class of every error pyinfra raises on purpose."""


class ConnectError(PyinfraError):
    """A host could not be connected to (network, auth, host key, missing target)."""


class AuthenticationError(ConnectError):
    """Credentials were refused. Never retried."""


class HostKeyError(ConnectError):
    """The target's host key is unknown (under a strict policy) or has changed. Never retried."""


class InventoryError(PyinfraError):
    """The inventory is invalid or resolves to nothing."""


class NoConnectorError(InventoryError):
    """An ``@name`` connector that is not registered."""


class NoHostError(InventoryError):
    """A host name that is not in the inventory."""


class NoGroupError(InventoryError):
    """A group name that is not in the inventory."""


class ConnectorDataTypeError(PyinfraError, TypeError):
    """A connector data value has the wrong type."""


class ConnectorRegistrationError(PyinfraError, TypeError):
    """``register_connector`` was given something that is not a connector."""


class CommandTimeoutError(PyinfraError):
    """A command ran longer than its ``_timeout``."""


class TransferError(PyinfraError):
    """A file upload or download failed; the target file is untouched."""


class OperationError(PyinfraError):
    """An operation was given bad arguments or could not be built."""


class OperationValueError(OperationError, ValueError):
    """An operation argument has a bad value."""


class FactError(PyinfraError):
    """A fact command failed or its output could not be parsed."""


class DeployError(PyinfraError):
    """A deploy file could not be loaded or raised while running."""


class ArgumentTypeError(PyinfraError, TypeError):
    """A global (``_``-prefixed) argument has the wrong type."""


__all__ = [
    "PyinfraError",
    "ConnectError",
    "AuthenticationError",
    "HostKeyError",
    "InventoryError",
    "NoConnectorError",
    "NoHostError",
    "NoGroupError",
    "ConnectorDataTypeError",
    "ConnectorRegistrationError",
    "CommandTimeoutError",
    "TransferError",
    "OperationError",
    "OperationValueError",
    "FactError",
    "DeployError",
    "ArgumentTypeError",
]
