"""Every operation and fact of the issue 14 modules exists with pyinfra 3.10's
parameters (names, order, defaults) and kind (a fact with a command, or one derived
from another fact)."""

from __future__ import annotations

import ast
import importlib
import inspect
from typing import Any

import pytest

from pyinfra.api.facts import FactBase, ShortFactBase
from tests.unit.sys_api310 import FACTS, OPERATIONS


def _lookup(kind: str, dotted: str) -> Any:
    module, name = dotted.rsplit(".", 1)
    return getattr(importlib.import_module(f"pyinfra.{kind}.{module}"), name)


def _check(parameters: list[inspect.Parameter], expected: list[tuple[str, str | None]]) -> None:
    for index, (name, default) in enumerate(expected):
        if name.startswith("**"):
            assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters), name
            continue
        assert index < len(parameters), f"missing parameter {name}"
        param = parameters[index]
        assert param.name == name, f"parameter {index}: {param.name} instead of {name}"
        if default is None:
            assert param.default is inspect.Parameter.empty, f"{name} should be required"
        else:
            assert param.default == ast.literal_eval(default), f"{name} default"
    extra = [p for p in parameters[len(expected) :] if p.kind is not inspect.Parameter.VAR_KEYWORD]
    assert all(p.default is not inspect.Parameter.empty for p in extra), extra


@pytest.mark.parametrize("dotted", sorted(OPERATIONS))
def test_operation_signature(dotted: str) -> None:
    op = _lookup("operations", dotted)
    assert hasattr(op, "_inner"), f"{dotted} is not an @operation"
    parameters = list(inspect.signature(op._inner).parameters.values())
    _check(parameters, OPERATIONS[dotted])


@pytest.mark.parametrize("dotted", sorted(FACTS))
def test_fact_signature(dotted: str) -> None:
    fact = _lookup("facts", dotted)
    expected = FACTS[dotted]
    if expected is None:
        assert issubclass(fact, ShortFactBase)
        return
    assert issubclass(fact, FactBase) and not fact.abstract
    parameters = list(inspect.signature(fact.command).parameters.values())[1:]
    _check(parameters, expected)
    assert fact.name() in (dotted, f"{dotted.split('.')[0]}.Zfs{dotted.split('.')[1]}")


def test_module_aliases() -> None:
    from pyinfra.operations import crontab, files, runit, server

    assert server.crontab is crontab.crontab
    assert runit.file is files.file and runit.link is files.link
