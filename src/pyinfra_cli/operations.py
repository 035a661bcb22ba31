"""What the CLI runs: exec, fact, deploy files, single operations."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyinfra.api.deployrunner import DeployCallable, DeployFile, load_deploy_file
from pyinfra.api.exceptions import PyinfraError


class CliError(PyinfraError):
    """A usage error: printed as one line, exit status 1."""


@dataclass
class ExecCommand:
    command: str


@dataclass
class FactCommand:
    facts: list[tuple[type[Any], list[Any], dict[str, Any]]]


@dataclass
class DeployCommand:
    deploys: list[DeployFile | DeployCallable]


@dataclass
class DebugInventoryCommand:
    pass


Parsed = ExecCommand | FactCommand | DeployCommand | DebugInventoryCommand


_PYTHON_WORDS = {"True": True, "False": False, "None": None}


def parse_value(text: str) -> Any:
    """A command-line value: JSON (``22``, ``true``, ``[1, 2]``), Python's ``True`` /
    ``False`` / ``None``, or else the text itself."""
    if text in _PYTHON_WORDS:
        return _PYTHON_WORDS[text]
    try:
        return json.loads(text)
    except ValueError:
        return text


def _split_args(items: list[str]) -> tuple[list[Any], dict[str, Any]]:
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if sep and key.isidentifier():
            kwargs[key] = parse_value(value)
        else:
            args.append(parse_value(item))
    return args, kwargs


def load_fact_class(name: str) -> type[Any]:
    from pyinfra.api.facts import FactBase, ShortFactBase

    module_name, _, class_name = name.rpartition(".")
    if not module_name:
        raise CliError(f"invalid fact name {name!r}: use module.Fact, e.g. server.Hostname")
    for candidate in (f"pyinfra.facts.{module_name}", module_name):
        try:
            module = importlib.import_module(candidate)
        except ImportError:
            continue
        cls = getattr(module, class_name, None)
        if isinstance(cls, type) and issubclass(cls, (FactBase, ShortFactBase)):
            return cls
    raise CliError(
        f"unknown fact {name!r}: no fact class {class_name} in pyinfra.facts.{module_name}"
    )


def load_operation(name: str) -> Callable[..., Any]:
    module_name, _, op_name = name.rpartition(".")
    for candidate in (f"pyinfra.operations.{module_name}", module_name):
        try:
            module = importlib.import_module(candidate)
        except ImportError:
            continue
        op = getattr(module, op_name, None)
        if callable(op) and hasattr(op, "_inner"):
            return op  # type: ignore[no-any-return]
    raise CliError(
        f"unknown operation {name!r}: no operation {op_name} in pyinfra.operations.{module_name}"
    )


def parse_operations(items: list[str]) -> Parsed:
    if not items:
        raise CliError(
            "nothing to run: give deploy files, `exec -- COMMAND`, "
            "`fact server.Hostname` or an operation like `server.shell 'uptime'`"
        )
    first = items[0]
    if first == "exec":
        command = " ".join(items[1:])
        if not command.strip():
            raise CliError("exec needs a command: pyinfra INVENTORY exec -- COMMAND")
        return ExecCommand(command)
    if first == "fact":
        if len(items) < 2:
            raise CliError("fact needs a fact name: pyinfra INVENTORY fact server.Hostname")
        facts: list[tuple[type[Any], list[Any], dict[str, Any]]] = []
        current: list[str] = []
        for item in items[1:] + [""]:
            if item == "" or (
                "." in item
                and "=" not in item
                and item[:1].isalpha()
                and item.split(".")[-1][:1].isupper()
            ):
                if current:
                    args, kwargs = _split_args(current[1:])
                    facts.append((load_fact_class(current[0]), args, kwargs))
                current = [item] if item else []
            else:
                current.append(item)
        return FactCommand(facts)
    if first in ("debug-inventory", "debug_inventory"):
        return DebugInventoryCommand()
    if first.endswith(".py") or "/" in first:
        return DeployCommand([load_deploy_file(path) for path in items])
    if "." in first:
        op = load_operation(first)
        args, kwargs = _split_args(items[1:])

        def call() -> None:
            op(*args, **kwargs)

        return DeployCommand([DeployCallable(first, call)])
    raise CliError(
        f"don't know how to run {first!r}: expected a deploy file (.py), exec, "
        "fact or module.operation"
    )
