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


class NoConnectorError(InventoryError, ValueError):
    """An ``@name`` connector that is not registered."""


class NoHostError(InventoryError, KeyError):
    """A host name that is not in the inventory."""

    __str__ = Exception.__str__  # not KeyError's quoted repr


class NoGroupError(InventoryError, KeyError):
    """A group name that is not in the inventory."""

    __str__ = Exception.__str__


class ConnectorDataTypeError(PyinfraError, TypeError):
    """A connector data value has the wrong type."""


class ConnectorRegistrationError(PyinfraError, TypeError):
    """``register_connector`` was given something that is not a connector."""


class TransferError(PyinfraError):
    """A file upload or download failed; the target file is untouched."""


class OperationError(PyinfraError):
    """An operation was given bad arguments or could not be built."""


class OperationTypeError(OperationError, TypeError):
    """An operation argument has the wrong type."""


class OperationValueError(OperationError, ValueError):
    """An operation argument has a bad value."""


class NestedOperationError(OperationError):
    """An operation was called from inside another operation's generator."""


class FactError(PyinfraError):
    """A fact command failed or its output could not be parsed."""


class FactTypeError(FactError, TypeError):
    """A fact was given an argument of the wrong type."""


class FactValueError(FactError, ValueError):
    """A fact was given an argument with a bad value."""


class FactProcessError(FactError, RuntimeError):
    """A fact's output could not be parsed."""


class FactNotCollected(FactError):
    """A fact was not collected (its program is missing, or a precondition failed)."""


class MissingCommandError(FactNotCollected):
    """The program a fact ``requires_command`` is not installed on the host."""

    def __init__(self, command: str) -> None:
        self.command = command
        super().__init__(f"Command not found on remote host: {command}")


class FactPreconditionError(FactNotCollected):
    """A fact's ``check_preconditions`` returned a reason not to run it."""

    def __init__(self, fact_cls: type, reason: str) -> None:
        self.fact_cls = fact_cls
        self.reason = reason
        super().__init__(f"Fact precondition not satisfied ({fact_cls.__name__}): {reason}")


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
    "TransferError",
    "OperationError",
    "OperationTypeError",
    "OperationValueError",
    "NestedOperationError",
    "FactError",
    "FactTypeError",
    "FactValueError",
    "FactProcessError",
    "FactNotCollected",
    "MissingCommandError",
    "FactPreconditionError",
    "DeployError",
    "ArgumentTypeError",
]
