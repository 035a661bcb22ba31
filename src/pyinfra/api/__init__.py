"""The public pyinfra API."""

from pyinfra.api.command import (
    FileDownloadCommand,
    FileUploadCommand,
    FunctionCommand,
    MaskString,
    QuoteString,
    StringCommand,
)
from pyinfra.api.config import Config
from pyinfra.api.deploy import deploy
from pyinfra.api.exceptions import (
    ConnectError,
    DeployError,
    FactError,
    FactNotCollected,
    FactPreconditionError,
    FactProcessError,
    FactTypeError,
    FactValueError,
    InventoryError,
    MissingCommandError,
    OperationError,
    OperationTypeError,
    OperationValueError,
    PyinfraError,
)
from pyinfra.api.facts import FactBase, ShortFactBase
from pyinfra.api.hiddenvalue import HiddenValue
from pyinfra.api.host import Host
from pyinfra.api.inventory import Inventory
from pyinfra.api.operation import OperationMeta, operation
from pyinfra.api.state import BaseStateCallback, State

__all__ = [
    "Config",
    "Inventory",
    "Host",
    "State",
    "BaseStateCallback",
    "StringCommand",
    "QuoteString",
    "MaskString",
    "FileUploadCommand",
    "FileDownloadCommand",
    "FunctionCommand",
    "FactBase",
    "ShortFactBase",
    "OperationMeta",
    "HiddenValue",
    "operation",
    "deploy",
    "PyinfraError",
    "ConnectError",
    "InventoryError",
    "OperationError",
    "FactError",
    "FactNotCollected",
    "FactPreconditionError",
    "FactProcessError",
    "FactTypeError",
    "FactValueError",
    "MissingCommandError",
    "OperationTypeError",
    "OperationValueError",
    "DeployError",
]
