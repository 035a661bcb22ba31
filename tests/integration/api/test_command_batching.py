"""An operation's consecutive shell commands go out in one round trip: each in a
subshell of its own, stopping at the first failure, each with its own output and exit
status; a fact read between them sees what the earlier ones did. Against @local,
counting the commands the connector runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pyinfra import host as current_host
from pyinfra.api import StringCommand, operation
from pyinfra.api.host import Host
from pyinfra.facts.files import File
from pyinfra.facts.server import Command
from tests.helpers.deploykit import run
from tests.helpers.hosts import MakeHost, count_commands


@pytest.fixture
def local(make_host: MakeHost) -> Host:
    return make_host("@local", connect=True)


@operation()
def several(commands: list[str]) -> Any:
    for command in commands:
        yield StringCommand(command)


@operation()
def yield_then_read(path: str) -> Any:
    yield StringCommand("touch", path)
    if current_host.get_fact(File, path) is None:  # sees the touch: it ran first
        yield StringCommand("echo", "not", "there")
    yield StringCommand("echo", "after", "read")


def test_commands_share_one_round_trip_with_their_own_results(local: Host) -> None:
    seen = count_commands(local)
    results = run(
        local,
        lambda: several(
            commands=["echo one", "printf 'two-no-newline'", "echo err >&2; echo three", "true"]
        ),
    )
    assert len(seen) == 1
    commands = results[0].commands
    assert [c.output.stdout for c in commands] == ["one", "two-no-newline", "three", ""]
    assert [c.output.stderr for c in commands] == ["", "", "err", ""]
    assert [c.output.exit_code for c in commands] == [0, 0, 0, 0]
    assert results[0].stdout == "one\ntwo-no-newline\nthree"


def test_first_failure_stops_the_rest(local: Host, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    results = run(
        local,
        lambda: several(commands=["echo ok", "echo broken >&2; exit 4", f"touch {marker}"]),
        expect_success=False,
    )
    meta = results[0]
    assert meta.success is False and not marker.exists()
    assert [c.output.exit_code for c in meta.commands] == [0, 4]
    assert meta.error is not None and "exit 4" in meta.error and "broken" in meta.error


def test_each_command_runs_in_its_own_subshell(local: Host, tmp_path: Path) -> None:
    results = run(
        local,
        lambda: several(
            commands=[f"cd {tmp_path} && X=set && export X", 'pwd; echo "[$X]"', "exit 0"]
        ),
    )
    second = results[0].commands[1].output.stdout_lines
    assert second[0] != str(tmp_path) and second[1] == "[]"
    assert results[0].success


def test_a_fact_read_runs_the_waiting_commands_first(local: Host, tmp_path: Path) -> None:
    seen = count_commands(local)
    path = str(tmp_path / "touched")
    results = run(local, lambda: yield_then_read(path=path))
    assert [c.output.stdout for c in results[0].commands] == ["", "after read"]
    assert len(seen) == 2  # touch and the fact read in one command; the last echo


def test_marker_lookalikes_and_retries(local: Host) -> None:
    fake = "__pyinfra_cmd_0000000000000000__ 0 0"
    results = run(local, lambda: several(commands=[f"echo '{fake}'", "echo next"]))
    assert [c.output.stdout for c in results[0].commands] == [fake, "next"]
    seen = count_commands(local)
    run(local, lambda: several(commands=["true", "true"], _retries=1, _retry_delay=0))
    assert len(seen) == 2  # with retries each command runs (and is retried) alone
    assert local.get_fact(Command, "echo still-works") == "still-works"


def test_a_command_ending_in_a_comment_keeps_the_rest_of_the_batch(local: Host) -> None:
    results = run(local, lambda: several(commands=["echo one # a comment", "echo two"]))
    assert [c.output.stdout for c in results[0].commands] == ["one", "two"]
    assert local.get_fact(Command, "echo fact # with a comment") == "fact"
