"""The contract suite: behaviour every executing connector must have.

:class:`ConnectorContract` holds the tests; a subclass that provides the
``contract_host`` fixture runs them against its connector. Each test is marked with
the capabilities it ``needs`` (see :data:`CAPABILITIES`).
"""

from __future__ import annotations

import contextlib
import io
import os
import pathlib
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pyinfra.api import Config, Inventory, State
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.exceptions import TransferError
from pyinfra.api.host import Host

CAPABILITIES = frozenset({"shell", "timeout", "sudo", "files", "pty"})

ProcessExists = Callable[[str], bool]


@contextlib.contextmanager
def connected_host(
    name: str, data: dict[str, Any] | None = None, config: Config | None = None
) -> Iterator[Host]:
    """A connected host for the inventory name ``name`` (``@box/target``), with host
    ``data``; disconnected afterwards."""
    inventory = Inventory(([(name, dict(data or {}))], {}))
    state = State(inventory, config or Config())
    host = next(iter(inventory))
    host.connect(raise_exceptions=True)
    try:
        yield host
    finally:
        host.disconnect()
        del state


def remote_path(name: str = "file") -> str:
    return f"/tmp/pyinfra-contract-{uuid.uuid4().hex[:12]}-{name}"


def _tag() -> str:
    return f"{31000 + int(uuid.uuid4().int % 900)}"


def _assert_gone(process_exists: ProcessExists, *texts: str) -> None:
    """Every process named by ``texts`` is gone from the target (after a grace period
    for the kill to land)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(process_exists(text) for text in texts):
        time.sleep(0.1)
    for text in texts:
        assert not process_exists(text), f"{text!r} left running on the target"


def _payload() -> bytes:
    return bytes(range(256)) * 1000 + b"\r\n\x00tail\n" + os.urandom(4096)


def _private_dir(host: Host) -> str:
    directory = remote_path("dir")
    ok, out = host.run_shell_command(f"mkdir {directory}")
    assert ok, out.stderr
    return directory


def _listing(host: Host, directory: str) -> list[str]:
    ok, out = host.run_shell_command(f"ls -A {directory}")
    assert ok, out.stderr
    return out.stdout_lines


class _BrokenSource(io.RawIOBase):
    """Gives two chunks, then fails: a put must not replace the target."""

    def __init__(self) -> None:
        self.calls = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.calls += 1
        if self.calls > 2:
            raise OSError("disk went away")
        return b"x" * 1024


class _BrokenSeekableSource(io.BytesIO):
    """A seekable source (its size is known up front) that fails in the middle."""

    def __init__(self) -> None:
        super().__init__(b"y" * (4 << 20))
        self.calls = 0

    def read(self, size: int | None = -1) -> bytes:
        self.calls += 1
        if self.calls > 2:
            raise OSError("disk went away")
        return super().read(size)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
class ConnectorContract:
    """The contract tests; subclass it and provide the ``contract_host`` fixture."""

    # -- commands ------------------------------------------------------------------------

    @pytest.mark.needs("shell")
    def test_exit_codes(self, contract_host: Host) -> None:
        host = contract_host
        ok, out = host.run_shell_command("exit 3")
        assert not ok and out.exit_code == 3
        ok, out = host.run_shell_command("exit 3", _success_exit_codes=[0, 3])
        assert ok and out.exit_code == 3
        ok, out = host.run_shell_command("true")
        assert ok and out.exit_code == 0

    @pytest.mark.needs("shell")
    def test_stdout_stderr_order(self, contract_host: Host) -> None:
        ok, out = contract_host.run_shell_command(
            "echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three; sleep 0.2; echo four >&2"
        )
        assert ok
        assert [(line.buffer_name, line.line) for line in out.combined_lines] == [
            ("stdout", "one"),
            ("stderr", "two"),
            ("stdout", "three"),
            ("stderr", "four"),
        ]
        assert out.stdout_lines == ["one", "three"]
        assert out.stderr_lines == ["two", "four"]
        assert out.stdout == "one\nthree"

    @pytest.mark.needs("shell")
    def test_stdin_forms(self, contract_host: Host) -> None:
        host = contract_host
        ok, out = host.run_shell_command("cat", _stdin="alpha\nbeta\n")
        assert ok and out.stdout_lines == ["alpha", "beta"]
        ok, out = host.run_shell_command("cat", _stdin=["x", "y"])
        assert ok and out.stdout_lines == ["x", "y"]
        ok, out = host.run_shell_command("wc -c", _stdin=b"\x00\x01\x02")
        assert ok and out.stdout.strip() == "3"

    @pytest.mark.needs("shell")
    def test_command_without_stdin_sees_eof(self, contract_host: Host) -> None:
        ok, out = contract_host.run_shell_command("cat; echo done", _timeout=20)
        assert ok and out.stdout_lines == ["done"]

    @pytest.mark.needs("shell")
    def test_env_and_chdir(self, contract_host: Host) -> None:
        value = 'it\'s a $VALUE with `ticks` and "quotes"'
        ok, out = contract_host.run_shell_command(
            'printf "%s\\n" "$PYI_A"; pwd', _env={"PYI_A": value}, _chdir="/"
        )
        assert ok, out.stderr
        assert out.stdout_lines == [value, "/"]

    @pytest.mark.needs("shell")
    def test_shell_injection_in_chdir_is_inert(self, contract_host: Host) -> None:
        marker = remote_path("pwned")
        ok, out = contract_host.run_shell_command("true", _chdir=f"/nonexistent; touch {marker}")
        assert not ok
        ok, out = contract_host.run_shell_command(f"test -e {marker}")
        assert not ok, "the chdir value was executed by the shell"

    @pytest.mark.needs("shell")
    def test_non_utf8_output(self, contract_host: Host) -> None:
        ok, out = contract_host.run_shell_command("printf '\\377\\376ok\\n'; printf '\\377\\n' >&2")
        assert ok
        assert out.stdout_lines[0].endswith("ok")
        assert "\ufffd" in out.stdout_lines[0]
        assert len(out.stderr_lines) == 1

    @pytest.mark.needs("shell")
    def test_command_not_found(self, contract_host: Host) -> None:
        ok, out = contract_host.run_shell_command("pyinfra-no-such-command-xyz --flag")
        assert not ok
        assert out.exit_code == 127
        assert "not found" in out.stderr

    @pytest.mark.needs("shell")
    def test_string_command_objects(self, contract_host: Host) -> None:
        ok, out = contract_host.run_shell_command(StringCommand("echo", QuoteString("a  b; c")))
        assert ok and out.stdout == "a  b; c"

    @pytest.mark.needs("shell")
    def test_shell_executable(self, contract_host: Host) -> None:
        host = contract_host
        ok, out = host.run_shell_command('echo "${BASH_VERSION:+bash}"', _shell_executable="bash")
        assert ok and out.stdout == "bash"
        ok, out = host.run_shell_command("echo plain", _shell_executable=None)
        assert ok and out.stdout == "plain"
        ok, out = host.run_shell_command("pwd", _shell_executable=None, _chdir="/")
        assert ok and out.stdout == "/"

    @pytest.mark.needs("shell", "sudo")
    def test_sudo(self, contract_host: Host, contract_sudo_user: str) -> None:
        ok, out = contract_host.run_shell_command("id -un", _sudo=True)
        assert ok, out.stderr
        assert out.stdout == "root"
        ok, out = contract_host.run_shell_command(
            "id -un", _sudo=True, _sudo_user=contract_sudo_user
        )
        assert ok, out.stderr
        assert out.stdout == contract_sudo_user

    @pytest.mark.needs("shell", "pty")
    def test_pty(self, contract_host: Host) -> None:
        ok, out = contract_host.run_shell_command("tty; echo err >&2", _get_pty=True)
        assert ok, out.output
        assert out.stdout_lines[0].startswith("/dev/")
        assert "err" in out.stdout_lines  # a terminal merges the two streams

    # -- timeouts: the command and everything it started is killed on the target --------

    @pytest.mark.needs("shell", "timeout")
    def test_timeout_kills_the_whole_tree(
        self, contract_host: Host, contract_process_exists: ProcessExists
    ) -> None:
        host, tag = contract_host, _tag()
        started = time.monotonic()
        ok, out = host.run_shell_command(f"sleep {tag}1 & sleep {tag}2; echo never", _timeout=1)
        elapsed = time.monotonic() - started
        assert not ok
        assert out.timed_out
        assert "timed out after 1 s" in out.stderr
        assert "never" not in out.stdout
        assert elapsed < 15, "the timeout did not stop the command"
        _assert_gone(contract_process_exists, f"sleep {tag}1", f"sleep {tag}2")
        # The connection is still usable afterwards.
        ok, out = host.run_shell_command("echo alive")
        assert ok and out.stdout == "alive"

    @pytest.mark.needs("shell", "timeout")
    def test_timeout_kills_a_command_fed_on_stdin(
        self, contract_host: Host, contract_process_exists: ProcessExists
    ) -> None:
        # stdin data may take another way to the target (e.g. an exec of its own); a
        # detached grandchild ``(sleep &)`` is no longer a child of the command, and a
        # background subshell has children of its own.
        tag = _tag()
        ok, out = contract_host.run_shell_command(
            f"sleep {tag}1 & (sleep {tag}2 &) ; (sleep {tag}3; echo) & sleep {tag}4",
            _timeout=1,
            _stdin="x\n",
        )
        assert not ok and out.timed_out
        _assert_gone(contract_process_exists, *(f"sleep {tag}{n}" for n in "1234"))
        assert contract_host.run_shell_command("true")[0]

    @pytest.mark.needs("shell", "timeout", "sudo")
    def test_timeout_kills_an_escalated_command(
        self, contract_host: Host, contract_process_exists: ProcessExists, contract_sudo_user: str
    ) -> None:
        # Its processes belong to root (or another user): the kill must reach them too.
        for user in ("root", contract_sudo_user):
            tag = _tag()
            ok, out = contract_host.run_shell_command(
                f"sleep {tag}1 & sleep {tag}2", _sudo=True, _sudo_user=user, _timeout=1
            )
            assert not ok and out.timed_out
            _assert_gone(contract_process_exists, f"sleep {tag}1", f"sleep {tag}2")

    @pytest.mark.needs("shell", "timeout", "sudo", "pty")
    def test_timeout_kills_an_escalated_command_on_a_pty(
        self, contract_host: Host, contract_process_exists: ProcessExists
    ) -> None:
        # sudo's use_pty puts the command into a session of its own: still found and killed.
        tag = _tag()
        ok, out = contract_host.run_shell_command(
            f"sleep {tag}1 & sleep {tag}2", _sudo=True, _get_pty=True, _timeout=1
        )
        assert not ok and out.timed_out
        _assert_gone(contract_process_exists, f"sleep {tag}1", f"sleep {tag}2")

    # -- connection lifecycle ------------------------------------------------------------

    @pytest.mark.needs("shell")
    def test_disconnect_twice_and_reconnect(self, contract_host: Host) -> None:
        contract_host.disconnect()
        contract_host.disconnect()
        assert not contract_host.connected
        ok, out = contract_host.run_shell_command("echo back")  # reconnects on use
        assert ok and out.stdout == "back"

    # -- files ---------------------------------------------------------------------------

    @pytest.mark.needs("files")
    def test_put_get_round_trip_paths_and_io(self, contract_host: Host, tmp_path: Any) -> None:
        host = contract_host
        data = _payload()
        local_src = pathlib.Path(str(tmp_path)) / "src.bin"
        local_src.write_bytes(data)
        remote = remote_path("bin")
        assert host.put_file(str(local_src), remote) is True
        local_dst = pathlib.Path(str(tmp_path)) / "dst.bin"
        assert host.get_file(remote, str(local_dst)) is True
        assert local_dst.read_bytes() == data
        # IO objects both ways
        remote2 = remote_path("io")
        assert host.put_file(io.BytesIO(data[::-1]), remote2) is True
        buffer = io.BytesIO()
        assert host.get_file(remote2, buffer) is True
        assert buffer.getvalue() == data[::-1]
        # text IO
        remote3 = remote_path("txt")
        assert host.put_file(io.StringIO("héllo\nwörld\n"), remote3) is True
        text = io.StringIO()
        assert host.get_file(remote3, text) is True
        assert text.getvalue() == "héllo\nwörld\n"

    @pytest.mark.needs("files", "shell")
    def test_put_replaces_and_keeps_mode(self, contract_host: Host) -> None:
        host = contract_host
        directory = _private_dir(host)
        remote = f"{directory}/target"
        assert host.put_file(io.BytesIO(b"one"), remote)
        ok, _ = host.run_shell_command(f"chmod 640 {remote}")
        assert ok
        assert host.put_file(io.BytesIO(b"two"), remote)
        ok, out = host.run_shell_command(f"stat -c %a {remote}; cat {remote}")
        assert ok and out.stdout_lines == ["640", "two"]
        assert _listing(host, directory) == ["target"], "a temporary upload file was left behind"

    @pytest.mark.needs("files")
    def test_put_into_missing_directory_fails_cleanly(self, contract_host: Host) -> None:
        with pytest.raises(TransferError) as info:
            contract_host.put_file(io.BytesIO(b"x"), "/nonexistent-pyinfra-dir/file")
        assert contract_host.name in str(info.value)

    @pytest.mark.needs("files")
    def test_get_missing_file_leaves_local_target(self, contract_host: Host, tmp_path: Any) -> None:
        local = pathlib.Path(str(tmp_path)) / "keep.txt"
        local.write_text("precious")
        with pytest.raises(TransferError):
            contract_host.get_file(remote_path("missing"), str(local))
        assert local.read_text() == "precious"
        assert sorted(p.name for p in pathlib.Path(str(tmp_path)).iterdir()) == ["keep.txt"]

    @pytest.mark.needs("files", "sudo")
    def test_put_get_with_sudo(self, contract_host: Host) -> None:
        host = contract_host
        remote = remote_path("sudo")
        assert host.put_file(io.BytesIO(b"as root\n"), remote, _sudo=True)
        ok, out = host.run_shell_command(f"stat -c %U {remote}")
        assert ok and out.stdout == "root"
        buffer = io.BytesIO()
        assert host.get_file(remote, buffer, _sudo=True)
        assert buffer.getvalue() == b"as root\n"

    @pytest.mark.needs("files", "shell")
    @pytest.mark.parametrize("source", [_BrokenSource, _BrokenSeekableSource])
    def test_failed_upload_source_leaves_target_untouched(
        self, contract_host: Host, source: type
    ) -> None:
        host = contract_host
        directory = _private_dir(host)
        remote = f"{directory}/orig"
        assert host.put_file(io.BytesIO(b"original"), remote)
        with pytest.raises((TransferError, OSError)):
            host.put_file(source(), remote, _timeout=60)
        ok, out = host.run_shell_command(f"cat {remote}")
        assert ok and out.stdout == "original"
        assert _listing(host, directory) == ["orig"], "a temporary upload file was left behind"
