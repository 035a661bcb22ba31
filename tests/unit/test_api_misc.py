"""Smaller public API pieces: helpers, fake connector, parallel connect, context."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import pyinfra
from pyinfra import context
from pyinfra.api import Config, Inventory, State
from pyinfra.api.arguments import CONNECTOR_ARGUMENT_KEYS, get_execution_kwarg_keys
from pyinfra.api.connectors import register_connector, unregister_connector
from pyinfra.api.exceptions import ConnectError
from pyinfra.api.parallel import connect_all, disconnect_all
from pyinfra.api.util import get_file_io, memoize
from pyinfra.connectors.fake import FakeConnector
from pyinfra.connectors.util import (
    CommandOutput,
    OutputLine,
    extract_control_arguments,
    run_local_process,
    split_combined_output,
)
from pyinfra.progress import progress_spinner


def test_connector_argument_keys() -> None:
    for key in (
        "_sudo",
        "_sudo_user",
        "_use_sudo_login",
        "_sudo_password",
        "_preserve_sudo_env",
        "_su_user",
        "_use_su_login",
        "_preserve_su_env",
        "_su_shell",
        "_su_password",
        "_doas",
        "_doas_user",
        "_shell_executable",
        "_chdir",
        "_env",
        "_temp_dir",
        "_success_exit_codes",
        "_timeout",
        "_get_pty",
        "_stdin",
        "_retries",
        "_retry_delay",
        "_retry_until",
    ):
        assert key in CONNECTOR_ARGUMENT_KEYS
    assert get_execution_kwarg_keys() == list(CONNECTOR_ARGUMENT_KEYS)


def test_extract_control_arguments() -> None:
    args: dict[str, Any] = {
        "_sudo": True,
        "_timeout": 3,
        "_stdin": "x",
        "_get_pty": False,
        "_success_exit_codes": [0, 1],
    }
    control = extract_control_arguments(args)
    assert control == {
        "_timeout": 3,
        "_stdin": "x",
        "_get_pty": False,
        "_success_exit_codes": [0, 1],
    }
    assert args == {"_sudo": True}


def test_command_output_and_split() -> None:
    out = CommandOutput(
        [OutputLine("stdout", "a"), OutputLine("stderr", "b"), OutputLine("stdout", "c")]
    )
    assert out.output_lines == ["a", "b", "c"]
    assert split_combined_output(out) == (["a", "c"], ["b"])
    with pytest.raises(ValueError):
        split_combined_output([OutputLine("bogus", "x")])
    buffer, line = OutputLine("stdout", "x")
    assert (buffer, line) == ("stdout", "x")


def test_run_local_process() -> None:
    code, out = run_local_process("echo out; echo err >&2; exit 4")
    assert code == 4
    assert out.stdout_lines == ["out"] and out.stderr_lines == ["err"]
    code, out = run_local_process(["cat"], stdin="piped")
    assert code == 0 and out.stdout == "piped"
    code, out = run_local_process("sleep 20", timeout=0.5)
    assert code == -9 and out.timed_out


def test_get_file_io(tmp_path: Any) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"data")
    with get_file_io(str(path)) as handle:
        assert handle.read() == b"data"
    buffer = io.BytesIO(b"io")
    buffer.read()
    with get_file_io(buffer) as handle:
        assert handle.read() == b"io"
    assert not buffer.closed
    with get_file_io(io.StringIO("text")) as handle:
        assert handle.read() == b"text"


def test_memoize() -> None:
    calls: list[int] = []

    @memoize
    def square(x: int) -> int:
        calls.append(x)
        return x * x

    assert square(3) == 9 and square(3) == 9 and square(4) == 16
    assert calls == [3, 4]


def test_config_defaults() -> None:
    config = Config(SUDO=True, CUSTOM="x")
    assert config.CONNECT_TIMEOUT == 10 and config.PARALLEL == 0 and config.SHELL == "sh"
    assert config.SUDO is True and config.CUSTOM == "x"  # type: ignore[attr-defined]


def test_logger_and_no_monkey_patching() -> None:
    import logging
    import socket

    assert isinstance(pyinfra.logger, logging.Logger) and pyinfra.logger.name == "pyinfra"
    assert socket.socket.__module__ == "socket"
    assert threading.Thread.__module__ == "threading"


def test_context_proxies_are_thread_local() -> None:
    inventory = Inventory((["@fake/a", "@fake/b"], {}))
    state = State(inventory, Config())
    seen: dict[str, str] = {}

    def worker(name: str) -> None:
        host = inventory.get_host(name)
        with context.use(host=host, state=state):
            threading.Event().wait(0.05)
            seen[name] = pyinfra.host.name
            assert pyinfra.state.config is state.config

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("@fake/a", "@fake/b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"@fake/a": "@fake/a", "@fake/b": "@fake/b"}
    with pytest.raises(AttributeError, match="only available inside a deploy"):
        pyinfra.host.name  # noqa: B018


def test_progress_spinner_renders_nothing_by_default() -> None:
    with progress_spinner([1, 2]) as progress:
        progress(1)
        progress(2)


def test_temp_filenames() -> None:
    inventory = Inventory((["@fake/a"], {}))
    State(inventory, Config(TEMP_DIR="/var/tmp"))
    host = inventory.get_host("@fake/a")
    one, two = host.get_temp_filename(), host.get_temp_filename()
    assert one != two and one.startswith("/var/tmp/pyinfra-")
    assert host.get_temp_filename("key") == host.get_temp_filename("key")


@pytest.fixture
def fake() -> Iterator[type[FakeConnector]]:
    FakeConnector.reset()
    yield FakeConnector
    FakeConnector.reset()


def test_fake_records_and_scripts(fake: type[FakeConnector]) -> None:
    fake.script("uname -n", stdout="web1\n")
    fake.script(re.compile(r"^apt-get"), exit_code=100, stderr="E: locked")
    fake.script("hostname", stdout="db9\n", host="@fake/db")
    inventory = Inventory((["@fake/web,db"], {}))
    State(inventory, Config())
    web, db = inventory.get_host("@fake/web"), inventory.get_host("@fake/db")
    ok, out = web.run_shell_command("uname -n", _sudo=True)
    assert ok and out.stdout == "web1"
    ok, out = web.run_shell_command("apt-get install x")
    assert not ok and out.exit_code == 100 and out.stderr == "E: locked"
    ok, out = web.run_shell_command("hostname")
    assert ok and out.stdout == ""
    ok, out = db.run_shell_command("hostname")
    assert out.stdout == "db9"
    calls = fake.commands_for("@fake/web")
    assert [c.command for c in calls] == ["uname -n", "apt-get install x", "hostname"]
    assert calls[0].full_command.startswith("sudo -H -n")
    assert fake.connects == ["@fake/web", "@fake/db"]


def test_fake_timeout_and_success_codes(fake: type[FakeConnector]) -> None:
    fake.script("slow", delay=5)
    fake.script("three", exit_code=3)
    inventory = Inventory((["@fake/x"], {}))
    State(inventory, Config())
    host = inventory.get_host("@fake/x")
    ok, out = host.run_shell_command("slow", _timeout=0.1)
    assert not ok and out.timed_out
    ok, _ = host.run_shell_command("three", _success_exit_codes=[3])
    assert ok


class FlakyConnector(FakeConnector):
    """Fails to connect for names containing 'bad'."""

    @staticmethod
    def make_names_data(name: str | None = None) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        for part in (name or "").split(","):
            yield f"@flaky/{part}", {}, []

    def connect(self) -> None:
        if "bad" in self.host.name:
            raise ConnectError("refused by test")
        threading.Event().wait(0.01)


def test_parallel_connect_isolates_failures() -> None:
    register_connector("flaky", FlakyConnector)
    try:
        names = ",".join([f"ok{i}" for i in range(40)] + ["bad1", "bad2"])
        inventory = Inventory(([f"@flaky/{names}"], {}))
        state = State(inventory, Config(PARALLEL=8))
        connected = connect_all(state)
        assert len(connected) == 40
        assert {h.name for h in state.failed_hosts} == {"@flaky/bad1", "@flaky/bad2"}
        for name in ("@flaky/bad1", "@flaky/bad2"):
            assert name in state.host_errors[name]
            assert "refused by test" in state.host_errors[name]
        disconnect_all(state)
        assert not any(h.connected for h in inventory)
        with pytest.raises(ConnectError, match="@flaky/bad1"):
            inventory.get_host("@flaky/bad1").connect(raise_exceptions=True)
    finally:
        unregister_connector("flaky")
