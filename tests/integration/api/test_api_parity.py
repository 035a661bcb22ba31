"""pyinfra 3.x's programmatic API, as embedding scripts and frameworks call it, against
@local: connect_all/add_op/run_ops, add_deploy, the state's op/host shapes, callback
arguments, host data semantics, context managers and the small API helpers."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pyinfra
from pyinfra.api import (
    BaseStateCallback,
    Config,
    FactNotCollected,
    FactPreconditionError,
    FactProcessError,
    FactTypeError,
    FactValueError,
    HiddenValue,
    Inventory,
    MissingCommandError,
    OperationTypeError,
    OperationValueError,
    State,
)
from pyinfra.api.connect import connect_all, disconnect_all
from pyinfra.api.deploy import add_deploy, deploy
from pyinfra.api.exceptions import (
    ArgumentTypeError,
    ConnectorDataTypeError,
    DeployError,
    FactError,
    InventoryError,
    NestedOperationError,
    NoGroupError,
    NoHostError,
    OperationError,
    PyinfraError,
)
from pyinfra.api.facts import get_fact, get_facts
from pyinfra.api.host import Host
from pyinfra.api.operation import add_op
from pyinfra.api.operations import run_ops
from pyinfra.api.state import StateStage
from pyinfra.api.util import (
    get_file_io,
    get_file_md5,
    get_file_sha1,
    get_file_sha256,
    get_kwargs_str,
    make_hash,
    sha1_hash,
    try_int,
)
from pyinfra.connectors.local import LocalConnector
from pyinfra.context import ctx_config, ctx_host, ctx_inventory, ctx_state
from pyinfra.facts.server import Hostname
from pyinfra.operations import files, server


class Events(BaseStateCallback):
    def __init__(self) -> None:
        self.seen: list[tuple[Any, ...]] = []

    def host_before_connect(self, state: State, host: Host) -> None:
        self.seen.append(("before_connect", host.name))

    def operation_start(self, state: State, op_hash: str) -> None:
        self.seen.append(("start", sorted(state.get_op_meta(op_hash).names)))

    def operation_host_success(
        self, state: State, host: Host, op_hash: str, retry_count: int = 0
    ) -> None:
        meta = state.get_op_data_for_host(host, op_hash).operation_meta
        self.seen.append(("success", host.name, meta.name, retry_count))

    def operation_host_error(
        self, state: State, host: Host, op_hash: str, retry_count: int = 0, max_retries: int = 0
    ) -> None:
        self.seen.append(("error", host.name, retry_count, max_retries))

    def operation_end(self, state: State, op_hash: str) -> None:
        self.seen.append(("end", sorted(state.get_op_meta(op_hash).names)))


@pytest.fixture
def api() -> Iterator[tuple[State, Host, Events]]:
    inventory = Inventory((["@local"], {}))
    state = State(inventory, Config())
    events = Events()
    state.add_callback_handler(events)
    assert state.active_hosts == set()  # pyinfra 3.x: nothing is active before connecting
    connect_all(state)
    host = inventory.get_host("@local")
    try:
        yield state, host, events
    finally:
        disconnect_all(state)


def test_add_op_plans_then_run_ops_executes(api: Any, tmp_path: Path) -> None:
    state, host, events = api
    assert state.active_hosts == {host} and state.activated_hosts == {host}
    target = tmp_path / "made"
    planned = add_op(state, files.directory, path=str(target), name="make it")
    meta = planned[host]
    assert meta.will_change and not meta.is_complete() and not target.exists()
    with pytest.raises(RuntimeError, match="before execution"):
        meta.did_change()
    run_ops(state)
    assert target.is_dir()
    assert meta.did_succeed() and meta.did_change() and meta.will_change
    assert state.current_stage == StateStage.Execute
    assert sorted(state.get_op_meta(meta._hash).names) == ["make it"]
    assert state.get_op_data_for_host(host, meta._hash).operation_meta is meta
    assert state.get_results_for_host(host).success_ops == 1
    assert ("start", ["make it"]) in events.seen and ("end", ["make it"]) in events.seen
    assert events.seen.index(("end", ["make it"])) < len(events.seen)
    assert ("success", "@local", "make it", 0) in events.seen

    again = add_op(state, files.directory, path=str(target))[host]
    assert not again.will_change
    run_ops(state)
    assert again.did_succeed() and not again.did_change()


def test_failed_operation_reports_with_retry_arguments(api: Any) -> None:
    state, host, events = api
    add_op(state, server.shell, commands=["exit 3"], _retries=1, _retry_delay=0)
    with pytest.raises(PyinfraError, match="No hosts remaining!"):  # pyinfra 3.x raises
        run_ops(state)
    assert ("error", "@local", 1, 1) in events.seen
    assert host in state.failed_hosts and host not in state.active_hosts


def test_add_deploy_with_data_defaults_and_global_arguments(api: Any, tmp_path: Path) -> None:
    state, host, _ = api

    @deploy("Make files", data_defaults={"file_name": "default.txt"})
    def make_files() -> None:
        name = pyinfra.host.data.file_name
        files.file(path=str(tmp_path / name))

    add_deploy(state, make_files)
    run_ops(state)
    assert (tmp_path / "default.txt").exists()
    names = [m.name for m in state.operation_results(host)]
    assert names[-1].startswith("Make files | files.file")


def test_host_when_and_arguments(api: Any, tmp_path: Path) -> None:
    state, host, _ = api

    def body() -> None:
        with host.when(lambda: False):
            files.file(path=str(tmp_path / "never"))
        with host.arguments(_chdir=str(tmp_path)):
            server.shell(commands=["touch here"])

    add_deploy(state, body)
    run_ops(state)
    assert not (tmp_path / "never").exists() and (tmp_path / "here").exists()


def test_get_facts_and_get_fact(api: Any) -> None:
    state, host, _ = api
    assert get_facts(state, Hostname) == {host: os.uname().nodename}
    assert get_fact(state, host, Hostname) == os.uname().nodename


def test_stage_cannot_go_back() -> None:
    state = State()
    state.set_stage(StateStage.Execute)
    with pytest.raises(PyinfraError, match="cannot go back"):
        state.set_stage(StateStage.Prepare)


def test_host_data_semantics() -> None:
    inventory = Inventory(
        ([("@local", {"own": 1})], {"shared": ["g"]}),
        web=(["@fake/a", "@fake/b"], {"packages": ["nginx"]}),
    )
    State(inventory, Config())
    a, b = inventory.get_host("@fake/a"), inventory.get_host("@fake/b")
    a.data.packages.append("mutated")  # a copy: never changes b's (or the group's) list
    assert b.data.packages == ["nginx"] and a.data.packages == ["nginx"]
    with pytest.raises(AttributeError):
        _ = a.data.unset_key
    assert getattr(a.data, "unset_key", 7) == 7 and a.data.get("unset_key") is None
    assert inventory.get_host_data("@local") == {"own": 1}
    assert inventory.get_groups_data(["web"]) == {"packages": ["nginx"]}


def test_host_signature_connector_swap_and_temp_dir() -> None:
    inventory = Inventory((["@local"], {}))
    state = State(inventory, Config(TEMP_DIR="/var/tmp"))
    host = Host("@local", inventory, [], LocalConnector)
    host.init(state)
    assert host.data.get("anything") is None and host.groups == []
    assert host.get_temp_dir_config() == "/var/tmp"
    other = LocalConnector(state, host)
    host.connector = other  # a connector may delegate to another one
    assert host.connector is other
    orphan = Host("@local", None, [], LocalConnector)
    with pytest.raises(PyinfraError, match="no state"):
        _ = orphan.connector


def test_context_managers() -> None:
    inventory = Inventory((["@local"], {}))
    state = State(inventory, Config())
    host = inventory.get_host("@local")
    with ctx_state.use(state), ctx_inventory.use(inventory), ctx_host.use(host):
        with ctx_config.use(state.config):
            assert pyinfra.host.name == "@local" and ctx_host.isset()
            assert pyinfra.state is not None and pyinfra.config.SHELL == "sh"
            assert ctx_state.get() is state and ctx_inventory.get() is inventory
    assert ctx_host.get() is None


def test_exceptions_tree() -> None:
    assert issubclass(FactTypeError, FactError) and issubclass(FactTypeError, TypeError)
    assert issubclass(FactValueError, ValueError) and issubclass(FactProcessError, FactError)
    assert issubclass(MissingCommandError, FactNotCollected)
    assert issubclass(FactPreconditionError, FactNotCollected)
    assert issubclass(OperationTypeError, OperationError) and issubclass(
        OperationTypeError, TypeError
    )
    assert issubclass(OperationValueError, ValueError)
    assert issubclass(NestedOperationError, OperationError)
    assert issubclass(NoHostError, KeyError) and issubclass(NoGroupError, InventoryError)
    assert str(NoHostError("no such host: x")) == "no such host: x"  # not KeyError's quotes
    assert issubclass(ConnectorDataTypeError, TypeError) and issubclass(
        ArgumentTypeError, TypeError
    )
    assert issubclass(DeployError, PyinfraError)
    assert MissingCommandError("git").command == "git"


def test_util_helpers(tmp_path: Path) -> None:
    data = tmp_path / "f"
    data.write_bytes(b"abc")
    assert get_file_sha1(str(data)) == "a9993e364706816aba3e25717850c26c9cd0d89d"
    assert get_file_md5(io.BytesIO(b"abc")) == "900150983cd24fb0d6963f7d28e17f72"
    assert get_file_sha256(io.StringIO("abc")).startswith("ba7816bf")
    assert make_hash(["a", {"b": 1}]) == make_hash(["a", {"b": 1}]) != make_hash(["a"])
    assert make_hash(True) == make_hash(None)  # constants may differ per host
    assert sha1_hash("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d"
    assert get_kwargs_str({"b": 2, "a": 1, "host": "x"}) == "a=1, b=2"
    assert try_int("12") == 12 and try_int("x") == "x"
    with get_file_io(io.BytesIO(b"text"), mode="r") as handle:
        assert handle.read() == "text"
    with get_file_io(io.StringIO("text")) as handle:
        assert handle.read() == b"text"
    assert get_file_io(str(data)).cache_key == str(data)
    secret = HiddenValue("s3cret")
    assert (
        str(secret) == "*MASKED*" and repr(secret) == "'*MASKED*'" and secret.unmask() == "s3cret"
    )


def test_cli_adapters(api: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pyinfra_cli.log import setup_logging
    from pyinfra_cli.prints import print_meta, print_results

    state, host, _ = api
    add_op(state, files.directory, path=str(tmp_path / "p"), name="plan me")
    print_meta(state)
    run_ops(state)
    print_results(state)
    out = capsys.readouterr().out
    assert "plan me" in out and "1 (@local)" in out and "Grand total" in out
    logger = logging.getLogger("pyinfra")
    saved = (list(logger.handlers), logger.propagate, logger.level)
    try:
        setup_logging(logging.INFO)
        logger.info("visible message")
        assert "visible message" in capsys.readouterr().out
    finally:
        logger.handlers[:] = saved[0]
        logger.propagate, logger.level = saved[1], saved[2]
