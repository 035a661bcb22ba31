"""An operation's last shell commands wait in the host's queue and go out with the next
thing the host sends (the next operation's fact read, its commands, the end of the
deploy): one round trip where there were two. Same outcome as running them at once:
results in order, the first failure fails the host before any later change, results
read from deploy code are complete, and hosts in lock-step still wait for each other.
Against @local (and @multilocal for several hosts), counting the commands the
connector runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pyinfra import host as current_host
from pyinfra.api import BaseStateCallback, State
from pyinfra.api.host import Host
from pyinfra.api.inventory import Inventory
from pyinfra.operations import files, server
from tests.helpers.deploykit import run, run_many
from tests.helpers.hosts import MakeHost, count_commands


@pytest.fixture
def local(make_host: MakeHost) -> Host:
    return make_host("@local", connect=True)


def test_commands_go_out_with_the_next_operations_fact_read(local: Host, tmp_path: Path) -> None:
    seen = count_commands(local)

    def deploy() -> None:
        server.shell(name="one", commands=[f"touch {tmp_path}/one"])
        files.file(name="two", path=str(tmp_path / "two"))  # reads the file and its dir
        server.shell(name="three", commands=[f"touch {tmp_path}/three"])

    results = run(local, deploy)
    assert [m.name for m in results] == ["one", "two", "three"]
    assert all(m.success and m.changed for m in results)
    assert all((tmp_path / name).exists() for name in ("one", "two", "three"))
    # "one" + the read of "two"; then "two"'s touch + "three" at the end of the deploy
    # (one at a time: 4 commands)
    assert len(seen) == 2, seen


def test_a_deferred_failure_fails_the_host_before_any_later_change(
    local: Host, tmp_path: Path
) -> None:
    seen = count_commands(local)

    def deploy() -> None:
        server.shell(name="breaks", commands=["echo broken >&2; exit 3"])
        files.file(name="never", path=str(tmp_path / "never"))
        server.shell(name="nor this", commands=[f"touch {tmp_path}/nor-this"])

    results = run(local, deploy, expect_success=False)
    assert [m.name for m in results] == ["breaks"]
    meta = results[0]
    assert meta.success is False and "broken" in (meta.error or "")
    assert [c.output.exit_code for c in meta.commands] == [3]
    assert not (tmp_path / "never").exists() and not (tmp_path / "nor-this").exists()
    assert len(seen) == 1, seen  # the failure stopped the fact read sent with it
    state = local.state
    assert state is not None and local in state.failed_hosts


def test_deploy_code_reading_a_result_gets_it_complete(local: Host, tmp_path: Path) -> None:
    seen: list[Any] = []

    def deploy() -> None:
        first = server.shell(name="first", commands=["echo hello"])
        seen.append((first.did_succeed(), first.stdout))
        failing = server.shell(name="failing", commands=["exit 2"], _ignore_errors=True)
        seen.append(failing.did_succeed())
        server.shell(name="after", commands=[f"touch {tmp_path}/after"])

    results = run(local, deploy)
    assert seen == [(True, "hello"), False]
    assert [m.name for m in results] == ["first", "failing", "after"]
    assert (tmp_path / "after").exists()


def test_an_error_in_deploy_code_still_runs_the_operations_before_it(
    local: Host, tmp_path: Path
) -> None:
    def deploy() -> None:
        server.shell(name="before", commands=[f"touch {tmp_path}/before"])
        raise ValueError("deploy bug")

    results = run(local, deploy, expect_success=False)
    assert (tmp_path / "before").exists()
    assert [m.name for m in results] == ["before"] and results[0].success


def test_lockstep_hosts_still_wait_for_each_other(tmp_path: Path) -> None:
    """Step 2 on host b checks what step 1 did on host a (slower): in lock-step, b's
    step 2 runs only once a's step 1 has really run, deferred or not."""
    flag = tmp_path / "a-did-step-1"

    def deploy() -> None:
        first = f"sleep 0.4; touch {flag}" if current_host.name.endswith("/a") else "true"
        server.shell(name="step 1", commands=[first])
        second = f"test -f {flag}" if current_host.name.endswith("/b") else "true"
        server.shell(name="step 2", commands=[second])

    with _multilocal("a", "b") as (state, hosts):
        results = run_many(state, hosts, deploy)
    assert all(result.success for result in results.values()), results


def test_lockstep_hosts_read_ahead_with_their_deferred_commands(tmp_path: Path) -> None:
    """In lock-step, a host whose previous operation is deferred reads its next
    operation's facts together with those commands, before the other hosts finished
    the step (reads change nothing); its changes still wait for its turn."""

    def deploy() -> None:
        me = current_host.name.split("/")[-1]
        for step in range(3):
            files.file(name=f"file {step}", path=str(tmp_path / f"{me}-{step}"))

    with _multilocal("a", "b", "c") as (state, hosts):
        seen = {one.name: count_commands(one) for one in hosts}
        results = run_many(state, hosts, deploy)
    assert all(result.success for result in results.values()), results
    assert len(list(tmp_path.iterdir())) == 9
    for name, commands in seen.items():
        # read 0; touch 0 + read 1; touch 1 + read 2; touch 2 (one at a time: 6)
        assert len(commands) == 4, (name, commands)


@contextmanager
def _multilocal(*names: str) -> Iterator[tuple[State, list[Host]]]:
    """Connected @multilocal hosts of one run (several executing hosts here)."""
    inventory = Inventory(([f"@multilocal/{name}" for name in names], {}))
    state = State(inventory)
    hosts = list(inventory)
    try:
        for one in hosts:
            one.connect(raise_exceptions=True)
        yield state, hosts
    finally:
        for one in hosts:
            one.disconnect()


def test_deferred_operations_before_a_failed_one_are_recorded(local: Host, tmp_path: Path) -> None:
    seen = count_commands(local)

    def deploy() -> None:
        server.shell(name="fine", commands=[f"touch {tmp_path}/fine"])
        server.shell(name="breaks", commands=["exit 3"])
        files.file(name="never", path=str(tmp_path / "never"))

    results = run(local, deploy, expect_success=False)
    assert [(m.name, m.success) for m in results] == [("fine", True), ("breaks", False)]
    assert (tmp_path / "fine").exists() and not (tmp_path / "never").exists()
    assert len(seen) == 1, seen  # both operations and the read: one command


def test_callbacks_keep_pyinfras_order_per_host(local: Host, tmp_path: Path) -> None:
    """Each operation's start comes after the result of the one before it, deferred
    or not (as in pyinfra 3.x)."""
    events: list[tuple[str, str]] = []

    class Recorder(BaseStateCallback):
        def operation_host_start(self, state: State, host: Host, op_hash: str) -> None:
            events.append(("start", state.get_op_data_for_host(host, op_hash).operation_meta.name))

        def operation_host_success(
            self, state: State, host: Host, op_hash: str, retry_count: int = 0
        ) -> None:
            events.append(("end", state.get_op_data_for_host(host, op_hash).operation_meta.name))

    state = local.state
    assert state is not None
    state.add_callback_handler(Recorder())

    def deploy() -> None:
        server.shell(name="one", commands=["true"])
        files.file(name="two", path=str(tmp_path / "two"))
        server.shell(name="three", commands=["true"])

    run(local, deploy)
    names = ["one", "two", "three"]
    assert events == [(kind, name) for name in names for kind in ("start", "end")], events
