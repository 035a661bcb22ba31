"""Fact reads in one round trip: a run's first miss reads ahead, in the same command,
every fact the previous run read after it; a deploy's fact queries (never values) are
remembered per inventory and prefetched right after connecting. Against @local,
counting the commands that run."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyinfra.api import Config, FactBase, Inventory, State
from pyinfra.api.exceptions import FactError
from pyinfra.api.factbatch import cache_path, load_queries, prefetch, save_queries
from pyinfra.api.host import Host
from pyinfra.facts.files import Directory, File
from pyinfra.facts.server import Command, Hostname

ROOT = Path(__file__).resolve().parents[3]


class Commands:
    """Counts the commands the host's connector runs."""

    def __init__(self, host: Host) -> None:
        self.seen: list[str] = []
        connector = host.connector
        original = connector.run_shell_command

        def spy(command: Any, *args: Any, **kwargs: Any) -> Any:
            self.seen.append(str(command))
            return original(command, *args, **kwargs)

        connector.run_shell_command = spy  # type: ignore[method-assign]


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    inventory = Inventory((["@local"], {}))
    State(inventory, Config(FACT_QUERY_CACHE_DIR=str(tmp_path / "queries")))
    local = inventory.get_host("@local")
    local.connect(raise_exceptions=True)
    try:
        yield local
    finally:
        local.disconnect()


class Broken(FactBase[str]):
    def command(self) -> str:
        return "echo partial; exit 3"


OUTPUTS = {
    "no newline": "printf 'a\\nb'",
    "newline": "printf 'a\\nb\\n'",
    "blank lines": "printf 'a\\n\\n\\nb\\n\\n'",
    "empty": "true",
    "one blank": "printf '\\n'",
    "marker-like": "echo '__pyinfra_fact_0000000000000000__ 0 0'",
}


def test_a_new_run_reads_ahead_in_one_command(host: Host, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    first = {name: host.get_fact(Command, command) for name, command in OUTPUTS.items()}
    assert host.get_fact(File, str(tmp_path / "f")) is not None
    assert host.get_fact(Directory, str(tmp_path)) is not None
    host.invalidate_facts()
    host.fact_queries.restart()  # what a new run does
    commands = Commands(host)
    again = {name: host.get_fact(Command, command) for name, command in OUTPUTS.items()}
    assert host.get_fact(File, str(tmp_path / "f")) is not None
    assert host.get_fact(Directory, str(tmp_path)) is not None
    assert again == first  # the batch parses output exactly as single reads do
    assert len(commands.seen) == 1, commands.seen


def test_a_failing_query_in_a_batch_is_read_again_and_reported(host: Host) -> None:
    host.get_fact(Hostname)
    with pytest.raises(FactError, match="exit status 3"):
        host.get_fact(Broken)
    host.invalidate_facts()
    host.fact_queries.restart()
    commands = Commands(host)
    assert host.get_fact(Hostname) == os.uname().nodename  # batch: Hostname + Broken
    with pytest.raises(FactError, match="exit status 3"):
        host.get_fact(Broken)  # not cached from the batch: read alone, error as usual
    assert len(commands.seen) == 2


def test_queries_saved_then_prefetched_in_one_command(host: Host, tmp_path: Path) -> None:
    state = host.state
    assert state is not None
    host.get_fact(Hostname)
    host.get_fact(File, str(tmp_path))
    save_queries(state, [host])
    document = json.loads(Path(cache_path(state)).read_text())
    assert document["format"] == "pyinfra-fact-queries"
    assert {entry["fact"] for entry in document["hosts"]["@local"]} == {
        "pyinfra.facts.server:Hostname",
        "pyinfra.facts.files:File",
    }
    assert "vm" not in json.dumps(document) or os.uname().nodename != "vm"  # no values
    fresh = Host("@local", host.inventory, [], type(host.connector))
    fresh.init(state)
    fresh.connect(raise_exceptions=True)
    commands = Commands(fresh)
    prefetch(state, [fresh])
    assert fresh.get_fact(Hostname) == os.uname().nodename
    assert fresh.get_fact(File, str(tmp_path)) is False  # a directory, not a file
    assert len(commands.seen) == 1


def test_the_cache_keeps_what_the_last_run_asked_for_only(host: Host, tmp_path: Path) -> None:
    """A remembered query the run did not ask for again is forgotten (the cache does not
    grow with every path a deploy once used); one answered from the prefetch is kept."""
    state = host.state
    assert state is not None
    host.get_fact(File, str(tmp_path / "old"))
    save_queries(state, [host])

    def next_run(path: Path) -> list[str]:
        fresh = Host("@local", host.inventory, [], type(host.connector))
        fresh.init(state)
        fresh.connect(raise_exceptions=True)
        try:
            prefetch(state, [fresh])
            assert fresh.get_fact(File, str(path)) is None
            save_queries(state, [fresh])
        finally:
            fresh.disconnect()
        document = json.loads(Path(cache_path(state)).read_text())
        return [entry["args"]["path"] for entry in document["hosts"]["@local"]]

    assert next_run(tmp_path / "new") == [str(tmp_path / "new")]  # "old" forgotten
    assert next_run(tmp_path / "new") == [str(tmp_path / "new")]  # a prefetch hit: kept


def test_corrupt_or_foreign_cache_files_are_ignored(
    host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    state = host.state
    assert state is not None
    path = Path(cache_path(state))
    path.parent.mkdir(parents=True, exist_ok=True)
    for content in ("{not json", json.dumps({"format": "something-else"})):
        path.write_text(content)
        with caplog.at_level(logging.WARNING, logger="pyinfra"):
            assert load_queries(state) == {}
        assert f"ignoring the fact query cache {path}" in caplog.text
        caplog.clear()
    path.write_text(
        json.dumps(
            {
                "format": "pyinfra-fact-queries",
                "hosts": {"@local": [{"fact": "os:system", "args": {}, "connector": {}}]},
            }
        )
    )
    assert load_queries(state) == {"@local": []}  # nothing outside fact modules is used


def test_cli_second_run_reads_its_facts_in_one_command(tmp_path: Path) -> None:
    (tmp_path / "deploy.py").write_text(
        "from pyinfra.operations import files\n"
        + "".join(f"files.directory(path='{tmp_path}/d{i}')\n" for i in range(5))
    )
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT / "src"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        COLUMNS="300",
    )
    command = [sys.executable, "-m", "pyinfra", "-y", "-vv", "@local", "deploy.py"]
    for _ in range(2):
        result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
    # each echoed command starts with the host's prompt (a batch spans several lines)
    echoed = re.split(r"^\[@local\] \$ ", result.stdout, flags=re.MULTILINE)[1:]
    fact_commands = [command for command in echoed if "stat" in command]
    assert len(fact_commands) == 1, result.stdout
    assert all(f"/d{i}" in fact_commands[0] for i in range(5))


def test_facts_already_passed_are_read_again_alone(host: Host, tmp_path: Path) -> None:
    """In one run, a fact read again after an operation dropped it comes alone: the
    facts between it and the furthest point reached are not read again for nothing."""
    host.get_fact(Hostname)
    host.get_fact(File, str(tmp_path / "a"))
    host.get_fact(File, str(tmp_path / "b"))
    host.invalidate_facts()
    commands = Commands(host)
    host.get_fact(Hostname)
    assert len(commands.seen) == 1 and "/a" not in commands.seen[0]


def test_api_with_fact_prefetch_reads_twenty_facts_in_one_command(tmp_path: Path) -> None:
    """A script that sets FACT_PREFETCH: its next session reads the facts it read last
    time in one command (the remembered queries are saved when the host disconnects)."""
    paths = [str(tmp_path / f"f{i}") for i in range(20)]

    def session() -> list[str]:
        inventory = Inventory((["@local"], {}))
        config = Config(FACT_PREFETCH=True, FACT_QUERY_CACHE_DIR=str(tmp_path / "q"))
        State(inventory, config)
        local = inventory.get_host("@local")
        local.connect(raise_exceptions=True)
        commands = Commands(local)
        for path in paths:
            assert local.get_fact(File, path) is None
        local.disconnect()
        return commands.seen

    assert len(session()) == 20
    assert len(session()) == 1
