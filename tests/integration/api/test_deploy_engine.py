"""The deploy engine: lock-step / serial / no-wait runs over several real local hosts
(@multilocal/NAME: the local connector under several names), global arguments,
failures and FAIL_PERCENT."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyinfra import host as current_host
from pyinfra.api import BaseStateCallback, Config, Inventory, State
from pyinfra.api.command import FunctionCommand
from pyinfra.api.deploy import deploy
from pyinfra.api.exceptions import OperationError
from pyinfra.api.host import Host
from pyinfra.api.operation import OperationMeta, operation
from pyinfra.api.parallel import connect_all, disconnect_all
from pyinfra.operations import files, server
from tests.helpers.deploykit import run, run_many
from tests.helpers.hosts import MakeHost


class Recorder(BaseStateCallback):
    """Records operation start/end events in the order they happened."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()

    def _add(self, kind: str, state: State, host: Host, op_hash: str) -> None:
        name = state.get_op_data_for_host(host, op_hash).operation_meta.name
        with self.lock:
            self.events.append((kind, host.name.split("/")[-1], name))

    def operation_host_start(self, state: State, host: Host, op_hash: str) -> None:
        self._add("start", state, host, op_hash)

    def operation_host_success(
        self, state: State, host: Host, op_hash: str, retry_count: int = 0
    ) -> None:
        self._add("end", state, host, op_hash)

    def operation_host_error(
        self, state: State, host: Host, op_hash: str, retry_count: int = 0, max_retries: int = 0
    ) -> None:
        self._add("end", state, host, op_hash)

    def index(self, kind: str, host: str, name: str) -> int:
        return self.events.index((kind, host, name))


@pytest.fixture
def cluster() -> Iterator[tuple[State, list[Host], Recorder]]:
    inventory = Inventory((["@multilocal/a,b,c"], {}))
    state = State(inventory, Config())
    recorder = Recorder()
    state.add_callback_handler(recorder)
    hosts = connect_all(state)
    assert [h.name for h in hosts] == ["@multilocal/a", "@multilocal/b", "@multilocal/c"]
    try:
        yield state, hosts, recorder
    finally:
        disconnect_all(state)


@pytest.fixture
def local(make_host: MakeHost) -> Host:
    return make_host("@local", connect=True)


def _me() -> str:
    return str(current_host.name).split("/")[-1]


def _steps() -> None:
    # host a is slow at step 1: without lock-step, b and c would run ahead
    server.shell(name="step1", commands=["sleep 0.3" if _me() == "a" else "true"])
    server.shell(name="step2", commands=["true"])
    server.shell(name="step3", commands=["true"])


def test_lockstep_each_operation_finishes_everywhere_first(cluster: Any) -> None:
    state, hosts, rec = cluster
    results = run_many(state, hosts, _steps)
    assert all(r.success for r in results.values())
    for step, following in (("step1", "step2"), ("step2", "step3")):
        last_end = max(rec.index("end", h, step) for h in "abc")
        first_start = min(rec.index("start", h, following) for h in "abc")
        assert last_end < first_start, rec.events


def test_serial_runs_hosts_one_at_a_time_in_order(cluster: Any) -> None:
    state, hosts, rec = cluster
    results = run_many(state, hosts, _steps, mode="serial")
    assert all(r.success for r in results.values())
    order = [(kind, h, name) for kind, h, name in rec.events]
    expected = [
        (kind, h, step) for step in ("step1", "step2", "step3") for h in "abc"
        for kind in ("start", "end")
    ]  # fmt: skip
    assert order == expected


def test_no_wait_lets_hosts_run_ahead(cluster: Any) -> None:
    state, hosts, _ = cluster
    b_done = threading.Event()
    waited: dict[str, bool] = {}

    @operation()
    def wait_for_b() -> Any:
        yield FunctionCommand(lambda: waited.setdefault(_me(), b_done.wait(10)), (), {})

    @operation()
    def mark_b_done() -> Any:
        yield FunctionCommand(b_done.set, (), {})

    def deploy_fn() -> None:
        if _me() == "a":
            wait_for_b()  # only finishes once b has finished its whole deploy
        server.shell(commands=["true"])
        if _me() == "b":
            mark_b_done()

    results = run_many(state, hosts, deploy_fn, mode="no_wait")
    assert all(r.success for r in results.values())
    assert waited == {"a": True}


def _concurrency_probe() -> tuple[Any, dict[str, int]]:
    seen = {"now": 0, "max": 0}
    lock = threading.Lock()
    release = threading.Event()

    def probe() -> bool:
        with lock:
            seen["now"] += 1
            seen["max"] = max(seen["max"], seen["now"])
        release.wait(0.2)  # give other hosts the chance to overlap
        with lock:
            seen["now"] -= 1
        return True

    @operation()
    def concurrent() -> Any:
        yield FunctionCommand(probe, (), {})

    return concurrent, seen


@pytest.mark.parametrize(
    ("kwargs", "parallel", "limit"),
    [({"_serial": True}, 0, 1), ({"_parallel": 2}, 0, 2), ({}, 1, 1)],
    ids=["_serial", "_parallel=2", "PARALLEL=1"],
)
def test_concurrency_bounds(
    cluster: Any, kwargs: dict[str, Any], parallel: int, limit: int
) -> None:
    state, hosts, _ = cluster
    state.config.PARALLEL = parallel
    concurrent, seen = _concurrency_probe()
    results = run_many(state, hosts, lambda: concurrent(**kwargs), mode="no_wait")
    assert all(r.success for r in results.values())
    assert 1 <= seen["max"] <= limit


def test_unbounded_operations_overlap(cluster: Any) -> None:
    """The probe used above can see overlap (so the bound tests can fail)."""
    state, hosts, _ = cluster
    concurrent, seen = _concurrency_probe()
    run_many(state, hosts, concurrent, mode="no_wait")
    assert seen["max"] > 1


def test_run_once(cluster: Any, tmp_path: Path) -> None:
    state, hosts, _ = cluster
    marker = tmp_path / "once"
    results = run_many(
        state, hosts, lambda: server.shell(commands=[f"echo x >> {marker}"], _run_once=True)
    )
    assert all(r.success for r in results.values())
    assert marker.read_text() == "x\n"
    metas = [m for r in results.values() for m in r.operations]
    assert sorted(m.skipped for m in metas) == [False, True, True]
    assert all("run once, on @multilocal/" in (m.skip_reason or "") for m in metas if m.skipped)


def test_failed_host_stops_its_own_operations_only(cluster: Any, tmp_path: Path) -> None:
    state, hosts, _ = cluster

    def deploy_fn() -> None:
        server.shell(commands=["exit 3" if _me() == "b" else "true"])
        server.shell(commands=[f"touch {tmp_path}/{_me()}"])

    results = run_many(state, hosts, deploy_fn)
    assert [results[h.name].success for h in hosts] == [True, False, True]
    assert "exit status 3" in (results["@multilocal/b"].error or "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "c"]
    assert {h.name for h in state.failed_hosts} == {"@multilocal/b"}


def test_fail_percent_stops_the_run(cluster: Any, tmp_path: Path) -> None:
    state, hosts, _ = cluster
    state.config.FAIL_PERCENT = 20

    def deploy_fn() -> None:
        server.shell(commands=["false" if _me() == "b" else "true"])
        server.shell(commands=[f"touch {tmp_path}/{_me()}"])

    results = run_many(state, hosts, deploy_fn)
    assert list(tmp_path.iterdir()) == []
    assert results["@multilocal/a"].stopped and results["@multilocal/c"].stopped
    assert "more than FAIL_PERCENT (20%)" in (results["@multilocal/a"].error or "")


# Global arguments on one host ---------------------------------------------------------


def test_if_condition(local: Host, tmp_path: Path) -> None:
    path = str(tmp_path / "f")

    def deploy_fn() -> None:
        made = files.file(path=path)
        again = files.file(path=path)
        server.shell(name="if-false", commands=["true"], _if=False)
        server.shell(name="if-made", commands=["true"], _if=made)
        server.shell(name="if-again", commands=["true"], _if=again.did_change)
        server.shell(name="if-list", commands=["true"], _if=[lambda: True, made.did_change])

    results = {m.name: m for m in run(local, deploy_fn)}
    assert results["if-false"].skipped and results["if-again"].skipped
    assert not results["if-made"].skipped and results["if-made"].changed
    assert not results["if-list"].skipped


def test_ignore_errors_and_continue_on_error(local: Host, tmp_path: Path) -> None:
    def deploy_fn() -> None:
        server.shell(name="ignored", commands=["echo oops >&2; exit 4"], _ignore_errors=True)
        server.shell(
            name="continued",
            commands=["false", f"touch {tmp_path}/after"],
            _continue_on_error=True,
            _ignore_errors=True,
        )
        server.shell(name="last", commands=[f"touch {tmp_path}/last"])

    results = {m.name: m for m in run(local, deploy_fn)}
    assert results["ignored"].success is False and results["ignored"].ignored_error
    assert "oops" in (results["ignored"].error or "")
    assert (tmp_path / "after").exists() and results["continued"].success is False
    assert (tmp_path / "last").exists()


def test_continue_on_error_still_fails_the_host(local: Host, tmp_path: Path) -> None:
    def deploy_fn() -> None:
        server.shell(commands=["false", f"touch {tmp_path}/after"], _continue_on_error=True)
        server.shell(commands=[f"touch {tmp_path}/never"])

    run(local, deploy_fn, expect_success=False)
    assert (tmp_path / "after").exists() and not (tmp_path / "never").exists()


_COUNTER = "n=$(cat {f} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {f}; echo $n"


def test_retries(local: Host, tmp_path: Path) -> None:
    counter = tmp_path / "n"
    command = _COUNTER.format(f=counter) + "; [ $n -ge 3 ]"
    ok = run(local, lambda: server.shell(commands=[command], _retries=2, _retry_delay=0))
    assert ok[0].success and counter.read_text() == "3\n"
    counter.unlink()
    failed = run(
        local,
        lambda: server.shell(commands=[command], _retries=1, _retry_delay=0),
        expect_success=False,
    )
    assert failed[0].success is False and counter.read_text() == "2\n"


def test_retry_until(local: Host, tmp_path: Path) -> None:
    counter = tmp_path / "n"
    command = _COUNTER.format(f=counter)
    results = run(
        local,
        lambda: server.shell(
            commands=[command],
            _retries=5,
            _retry_delay=0,
            _retry_until=lambda out: out["stdout_lines"][-1] != "3",  # True: retry again
        ),
    )
    assert results[0].success and counter.read_text() == "3\n"


def test_timeout_kills_the_command(local: Host) -> None:
    results = run(
        local, lambda: server.shell(commands=["sleep 30"], _timeout=0.5), False, "lockstep", False
    )
    assert results[0].success is False and "timed out" in (results[0].error or "")


def test_connector_arguments_pass_through(local: Host, tmp_path: Path) -> None:
    results = run(
        local,
        lambda: server.shell(
            name="env", commands=['echo "$GREETING"; pwd'], _env={"GREETING": "hi there"},
            _chdir=str(tmp_path),
        ),
    )  # fmt: skip
    assert results[0].name == "env"
    assert results[0].stdout_lines == ["hi there", str(tmp_path)]


@pytest.mark.skipif(shutil.which("sudo") is None, reason="sudo is not installed")
def test_sudo_applies_to_commands_and_facts(local: Host, tmp_path: Path) -> None:
    from pyinfra.facts.server import User

    seen: list[str] = []

    @operation()
    def whoami() -> Any:
        seen.append(current_host.get_fact(User))
        yield "id -un"

    results = run(local, lambda: whoami(_sudo=True, _sudo_user="nobody"))
    assert results[0].stdout == "nobody" and seen == ["nobody"]


def test_deploy_decorator_arguments_apply_inside(local: Host, tmp_path: Path) -> None:
    @deploy("grouped")
    def grouped() -> OperationMeta:
        return server.shell(commands=["pwd"])

    results = run(local, lambda: grouped(_chdir=str(tmp_path)))
    assert results[0].stdout == str(tmp_path)


def test_bad_global_arguments(local: Host) -> None:
    messages = []
    choices: list[dict[str, object]] = [
        {"_timeout": "soon"}, {"_serial": "yes"}, {"_parallel": 0}, {"_bogus": 1}
    ]  # fmt: skip
    for kwargs in choices:

        def deploy(k: dict[str, object] = kwargs) -> object:
            return server.shell(commands=["true"], **k)

        results = run(local, deploy, False, "lockstep", False)
        assert results == []
        messages.append(local.state.host_errors.pop(local.name) if local.state else "")
    assert "server.shell: argument _timeout must be int or float" in messages[0]
    assert "server.shell: argument _serial must be bool, got str" in messages[1]
    assert "_parallel must be at least 1" in messages[2]
    assert "unknown global argument _bogus" in messages[3]


def test_operation_outside_a_deploy_is_a_clear_error() -> None:
    with pytest.raises(OperationError, match="called outside a deploy"):
        server.shell(commands=["true"])
