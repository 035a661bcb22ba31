"""The fact protocol third-party facts rely on (pyinfra 3.x): ``requires_command`` as a
string or as a method taking the fact's arguments, one round trip for the guard and the
fact, ``default()`` for empty output, ``check_preconditions``; and ``host.noop``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pyinfra.api import Config, Inventory, State
from pyinfra.api.exceptions import FactPreconditionError, FactProcessError
from pyinfra.api.facts import FactBase, fact_fetch_counts
from pyinfra.api.host import Host
from pyinfra.api.operation import operation
from tests.helpers.deploykit import run
from tests.helpers.hosts import count_commands


@pytest.fixture
def host() -> Iterator[Host]:
    inventory = Inventory((["@local"], {}))
    State(inventory, Config())
    local = inventory.get_host("@local")
    local.connect(raise_exceptions=True)
    try:
        yield local
    finally:
        local.disconnect()


class Processed(Exception):
    """Raised by ``process`` to prove it was (or was not) called."""


class NeedsString(FactBase[list[str]]):
    requires_command = "no-such-program-pyinfra-test"

    @staticmethod
    def default() -> list[str]:
        return ["default"]

    def command(self) -> str:
        return "echo ran"

    def process(self, output: list[str]) -> list[str]:
        raise Processed(output)


class NeedsMethod(FactBase[str]):
    def requires_command(self, program: str) -> str:
        return program

    def command(self, program: str) -> str:
        return f"echo found {program}"

    def process(self, output: list[str]) -> str:
        return output[0]


class PrintsNothing(FactBase[dict[str, Any]]):
    @staticmethod
    def default() -> dict[str, Any]:
        return {"empty": True}

    def command(self) -> str:
        return "true"

    def process(self, output: list[str]) -> dict[str, Any]:
        raise Processed(output)


class BadOutput(FactBase[int]):
    def command(self) -> str:
        return "echo not-a-number"

    def process(self, output: list[str]) -> int:
        return int(output[0])


class Precondition(FactBase[str]):
    def check_preconditions(self, state: Any, host: Any) -> str | None:
        return "the module is not loaded"

    def command(self) -> str:
        return "echo never"


def test_requires_command_string_missing_gives_default_without_process(host: Host) -> None:
    assert host.get_fact(NeedsString) == ["default"]


def test_requires_command_method_gets_the_fact_arguments(host: Host) -> None:
    assert host.get_fact(NeedsMethod, "sh") == "found sh"
    assert host.get_fact(NeedsMethod, program="no-such-program-xyz") is None


def test_requires_command_costs_no_extra_command(host: Host) -> None:
    commands = count_commands(host)
    host.get_fact(NeedsMethod, "sh")
    assert len(commands) == 1 and "command -v" in commands[0]
    assert any(name.endswith("NeedsMethod") for name in fact_fetch_counts(host))


def test_empty_output_gives_default_without_process(host: Host) -> None:
    assert host.get_fact(PrintsNothing) == {"empty": True}


def test_parse_error_is_a_fact_process_error(host: Host) -> None:
    with pytest.raises(FactProcessError, match="BadOutput.*ValueError"):
        host.get_fact(BadOutput)


def test_check_preconditions(host: Host) -> None:
    with pytest.raises(FactPreconditionError, match="the module is not loaded"):
        host.get_fact(Precondition)


@operation()
def _nothing_to_do(path: str) -> Any:
    host = __import__("pyinfra").host
    host.noop(f"{path} is already fine")
    return
    yield  # a generator that yields nothing


def test_host_noop_is_recorded_on_the_operation(host: Host) -> None:
    results = run(host, lambda: _nothing_to_do("/etc/x"))
    assert len(results) == 1
    assert results[0].noops == ["/etc/x is already fine"] and not results[0].changed
    assert results[0].to_dict()["noops"] == ["/etc/x is already fine"]


def test_host_noop_outside_an_operation_only_logs(host: Host) -> None:
    host.noop("nothing here")  # no operation running: must not fail
    assert host.current_op_meta is None
