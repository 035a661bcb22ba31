"""Fault injection against real targets (issue 15): stalled and dead peers, frozen and
killed sshd processes, full disks, interrupted transfers, busy servers, Ctrl-C.

The lab (:mod:`.faultkit`): ``ssh1`` an sshd container (MaxSessions 10, a 1 MiB tmpfs
at /full), ``ssh2`` this machine's sshd in a network namespace, ``box`` a container for
``@docker``. Faults are signals to their processes (all visible from here). Time bounds
are asserted only where the bound is the behaviour, with a margin for a loaded machine.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from pyinfra.api import Config
from pyinfra.api.exceptions import ConnectError, TransferError
from pyinfra.api.host import Host
from tests.helpers import engines
from tests.helpers.hosts import new_host
from tests.integration.faults.faultkit import (
    CONTAINER_USER,
    PASSWORD_USER,
    SUDO_LOG,
    FaultLab,
    comm,
    descendants,
    frozen,
    kill_processes_with,
    lab_or_skip,
    namespaces_with,
    processes_with,
    signal_all,
    wait_for,
)

MB = 1 << 20
MARGIN = 0.6  # scheduling slack on a loaded machine, on top of a bound under test


@pytest.fixture(scope="module")
def lab() -> Iterator[FaultLab]:
    lab = lab_or_skip()
    try:
        yield lab
    finally:
        lab.stop()


def _token(kind: str) -> str:
    return f"pyi-flt-{kind}-{uuid.uuid4().hex[:10]}"


def _host(lab: FaultLab, target: str, config: Config | None = None, **data: Any) -> Host:
    return new_host(lab.address(target), lab.ssh_data(target, **data), config)


def _connected(lab: FaultLab, target: str, **data: Any) -> Host:
    host = _host(lab, target, **data)
    host.connect(raise_exceptions=True)
    ok, output = host.run_shell_command("true")  # the sshd session processes exist now
    assert ok, output.stderr
    return host


def _freeze_when_running(lab: FaultLab, target: str, user: str, token: str) -> list[int]:
    """Wait (in the background) for the command named by ``token`` to run, then SIGSTOP
    the sshd processes serving ``user``; the list fills in when they are stopped."""
    stopped: list[int] = []

    def freeze() -> None:
        if wait_for(lambda: bool(processes_with(token)), 10):
            pids = lab.sessions(target, user)
            signal_all(pids, signal.SIGSTOP)
            stopped.extend(pids)

    threading.Thread(target=freeze, daemon=True).start()
    return stopped


# -- 1. _timeout during a stall; 2. a dead peer ---------------------------------------------


def test_timeout_during_a_stall_returns_in_time_and_the_kill_lands_on_recovery(
    lab: FaultLab,
) -> None:
    token = _token("stall")
    host = _connected(lab, "ssh1")
    try:
        stopped = _freeze_when_running(lab, "ssh1", CONTAINER_USER, token)
        started = time.monotonic()
        ok, output = host.run_shell_command(f"sleep 60 # {token}", _timeout=2)
        elapsed = time.monotonic() - started
        try:
            assert stopped, "the sshd session was not frozen"
            assert not ok
            assert elapsed < 2 + 1 + MARGIN  # the bound: the timeout + 1 s
            line = output.failure_line()
            assert "timed out after 2 s" in line and "did not answer" in line, line
            assert "may still be running" in line
            assert processes_with(token), "the command ended while its sshd was frozen"
        finally:
            signal_all(stopped, signal.SIGCONT)
        # the kill was waiting for the host: it lands once the host answers again
        assert wait_for(lambda: not processes_with(token), 10), "still running after recovery"
        assert host.run_shell_command("true")[0]
    finally:
        host.disconnect()
        kill_processes_with(token)


def test_timeout_during_a_stall_then_disconnect_kills_at_the_next_connection(
    lab: FaultLab,
) -> None:
    token = _token("stall-close")
    host = _connected(lab, "ssh1")
    try:
        stopped = _freeze_when_running(lab, "ssh1", CONTAINER_USER, token)
        ok, output = host.run_shell_command(f"sleep 60 # {token}", _timeout=1)
        assert not ok and stopped, output.failure_line()
        started = time.monotonic()
        host.disconnect()  # the host does not answer: the kill is kept for next time
        assert time.monotonic() - started < 3
        signal_all(stopped, signal.SIGCONT)
        assert processes_with(token)
        host.connect(raise_exceptions=True)
        assert wait_for(lambda: not processes_with(token), 10), "not killed at reconnect"
    finally:
        host.disconnect()
        kill_processes_with(token)


def test_dead_peer_fails_its_host_and_the_others_go_on(lab: FaultLab) -> None:
    token = _token("dead")
    keepalive = {"ssh_server_alive_interval": 1, "ssh_server_alive_count_max": 2}
    frozen_host = _connected(lab, "ssh1", **keepalive)
    other = _connected(lab, "ssh2", **keepalive)
    results: dict[str, Any] = {}

    def run_other() -> None:
        results["other"] = other.run_shell_command("sleep 4; echo still here")

    try:
        stopped = _freeze_when_running(lab, "ssh1", CONTAINER_USER, token)
        thread = threading.Thread(target=run_other)
        thread.start()
        started = time.monotonic()
        ok, output = frozen_host.run_shell_command(f"sleep 60 # {token}")  # no _timeout
        elapsed = time.monotonic() - started
        thread.join(30)
        try:
            assert stopped
            assert not ok
            line = output.failure_line()
            assert "connection lost: no answer for" in line, line
            # 1 s interval, 2 unanswered probes: dead after ~3 s of silence
            assert elapsed < 3 + 2 + MARGIN
            other_ok, other_output = results["other"]
            assert other_ok and other_output.stdout == "still here"
        finally:
            signal_all(stopped, signal.SIGCONT)
        with pytest.raises(ConnectError, match="connection lost: no answer"):
            frozen_host.run_shell_command("true")
        # the abandoned command is killed by the next connection to the host
        frozen_host.disconnect()
        frozen_host.connect(raise_exceptions=True)
        assert wait_for(lambda: not processes_with(token), 10)
    finally:
        frozen_host.disconnect()
        other.disconnect()
        kill_processes_with(token)


def test_a_host_frozen_mid_batch_fails_naming_the_command_in_flight(lab: FaultLab) -> None:
    """Queued commands (one operation's, and the next operation's fact read) go out as
    one batch; the host stops answering while its second command runs: that host fails
    with that command named, the other host finishes its deploy."""
    from pyinfra import host as current
    from pyinfra.api import Inventory, State
    from pyinfra.operations import files, server
    from tests.helpers.deploykit import run_many

    token = _token("batch")
    keepalive = {"ssh_server_alive_interval": 1, "ssh_server_alive_count_max": 2}
    inventory = Inventory(
        ([(lab.address(t), lab.ssh_data(t, **keepalive)) for t in ("ssh1", "ssh2")], {})
    )
    state = State(inventory, Config())
    hosts = list(inventory)
    frozen_name = lab.address("ssh1")
    marker = f"/tmp/{token}-done"

    def deploy() -> None:
        frozen = current.name == frozen_name
        middle = f"sleep 60 # {token}" if frozen else "sleep 1"
        server.shell(name="batch", commands=["echo first", middle, "echo last"])
        files.file(name="after", path=marker)

    try:
        for one in hosts:
            one.connect(raise_exceptions=True)
        stopped = _freeze_when_running(lab, "ssh1", CONTAINER_USER, token)
        started = time.monotonic()
        results = run_many(state, hosts, deploy, mode="no_wait")
        elapsed = time.monotonic() - started
        try:
            assert stopped, "the sshd session was not frozen"
            assert elapsed < 1 + 3 + 2 + 5 * MARGIN  # dead after ~3 s of silence
            failed, other = results[frozen_name], results[lab.address("ssh2")]
            assert not failed.success
            error = failed.error or ""
            assert f"sleep 60 # {token}" in error and "connection lost" in error, error
            assert "\n" not in error
            assert other.success, other.error
            [batch] = [m for m in failed.operations if m.name == "batch"]
            assert [c.output.exit_code == 0 for c in batch.commands] == [True, False]
            assert "after" not in [m.name for m in failed.operations]
            assert [m.name for m in other.operations if m.success] == ["batch", "after"]
            assert os.path.exists(marker)  # ssh2 is this machine's sshd
        finally:
            signal_all(stopped, signal.SIGCONT)
    finally:
        for one in hosts:
            one.disconnect()
        kill_processes_with(token)
        subprocess.run(["rm", "-f", marker], check=False)


def test_killed_session_process_fails_the_command_at_once(lab: FaultLab) -> None:
    token = _token("killed")
    host = _connected(lab, "ssh2")
    try:
        sessions = lab.sessions("ssh2", "pyi-flt-key")

        def kill_soon() -> None:
            if wait_for(lambda: bool(processes_with(token)), 10):
                signal_all(sessions, signal.SIGKILL)

        threading.Thread(target=kill_soon, daemon=True).start()
        started = time.monotonic()
        ok, output = host.run_shell_command(f"sleep 30 # {token}")
        assert not ok
        assert time.monotonic() - started < 5
        assert "lost" in output.failure_line()
    finally:
        host.disconnect()
        kill_processes_with(token)


# -- 3. connecting to a frozen or dead server -----------------------------------------------


def test_connect_to_a_frozen_server_times_out_in_the_handshake(lab: FaultLab) -> None:
    host = _host(lab, "ssh1", Config(CONNECT_TIMEOUT=1))
    with frozen([lab.listener("ssh1")]):
        started = time.monotonic()
        with pytest.raises(ConnectError) as info:
            host.connect(raise_exceptions=True)
        elapsed = time.monotonic() - started
    message = str(info.value)
    assert "timed out after 1 s during the SSH handshake" in message, message
    assert "\n" not in message
    assert elapsed < 1 + 1 + MARGIN
    host.connect(raise_exceptions=True)  # thawed: fine again
    host.disconnect()


def test_killed_listener_refuses_new_connections_and_keeps_the_open_one(lab: FaultLab) -> None:
    host = _connected(lab, "ssh2")
    server = lab.server
    assert server is not None and server.pid is not None
    try:
        os.kill(server.pid, signal.SIGKILL)
        assert wait_for(lambda: not server.running, 5)
        other = _host(lab, "ssh2")
        started = time.monotonic()
        with pytest.raises(ConnectError, match="refused: is sshd running on port 22"):
            other.connect(raise_exceptions=True)
        assert time.monotonic() - started < 2
        ok, output = host.run_shell_command("echo alive")
        assert ok and output.stdout == "alive"
    finally:
        host.disconnect()
        server.stop()
        server.start()


# -- 4. more concurrent commands than MaxSessions -------------------------------------------


def test_a_burst_beyond_max_sessions_all_succeeds(lab: FaultLab) -> None:
    settings = engines.cli("docker", "exec", lab.ssh1, "sshd", "-T").stdout
    assert "maxsessions 10" in settings.splitlines()
    host = _connected(lab, "ssh1")
    try:
        with ThreadPoolExecutor(200) as pool:
            results = list(pool.map(lambda i: host.run_shell_command(f"echo {i}"), range(200)))
        failures = [out.failure_line() for ok, out in results if not ok]
        assert not failures, failures[:3]
        assert [out.stdout for _, out in results] == [str(i) for i in range(200)]
    finally:
        host.disconnect()


# -- 5. connection lost mid-upload; 8. full disks -------------------------------------------


class _StallingSource(io.RawIOBase):
    """``size`` bytes that stop coming after ``stall_at`` until :attr:`go` is set
    (:attr:`midway` tells the test the transfer is under way)."""

    def __init__(self, size: int = 12 * MB, stall_at: int = 4 * MB) -> None:
        self.size, self.stall_at, self.pos = size, stall_at, 0
        self.midway, self.go = threading.Event(), threading.Event()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.size}[whence]
        self.pos = base + offset
        return self.pos

    def readinto(self, buffer: Any) -> int:
        if self.pos >= self.stall_at and not self.go.is_set():
            self.midway.set()
            self.go.wait(20)
        count = min(len(buffer), self.size - self.pos, MB)
        buffer[:count] = b"x" * count
        self.pos += count
        return count


@pytest.mark.parametrize(
    ("way", "data", "arguments"),
    [
        ("sftp", {}, {}),
        ("scp", {"ssh_file_transfer_protocol": "scp"}, {}),
        ("sudo-staged", {}, {"_sudo": True}),
        ("sudo-streamed", {}, {"_sudo": True, "_sudo_user": "nobody"}),
    ],
)
def test_connection_lost_mid_upload_one_line_and_no_temp_left(
    lab: FaultLab, way: str, data: dict[str, Any], arguments: dict[str, Any]
) -> None:
    target = f"/tmp/pyi-flt-{uuid.uuid4().hex[:8]}-{way}"
    host = _connected(lab, "ssh1", **data)
    try:
        sessions = lab.sessions("ssh1", CONTAINER_USER)
        source = _StallingSource()

        def kill_midway() -> None:
            if source.midway.wait(20):
                signal_all(sessions, signal.SIGKILL)
                time.sleep(0.3)
            source.go.set()

        threading.Thread(target=kill_midway, daemon=True).start()
        with pytest.raises(TransferError) as info:
            host.put_file(io.BufferedReader(source), target, **arguments)
        message = str(info.value)
        assert "\n" not in message and message.startswith(f"{lab.ssh1_address}: ")
        assert "lost" in message and "target left unchanged" in message, message
        host.disconnect()
        host.connect(raise_exceptions=True)  # removes what the lost one left behind
        ok, output = host.run_shell_command(f"test ! -e {target}")
        assert ok, f"{target} was created"
        assert lab.temp_files(0, targets=["ssh1"]) == {"ssh1": []}
    finally:
        host.disconnect()


@pytest.mark.parametrize(
    ("target", "data", "arguments"),
    [
        ("ssh1", {}, {}),
        ("ssh1", {"ssh_file_transfer_protocol": "scp"}, {}),
        ("ssh1", {}, {"_sudo": True}),
        ("box", {}, {}),
    ],
)
def test_upload_to_a_full_disk_fails_in_time_and_leaves_nothing(
    lab: FaultLab, target: str, data: dict[str, Any], arguments: dict[str, Any]
) -> None:
    name = f"@docker/{lab.box}" if target == "box" else lab.ssh1_address
    host = new_host(name, {} if target == "box" else lab.ssh_data(target, **data))
    host.connect(raise_exceptions=True)
    try:
        started = time.monotonic()
        with pytest.raises(TransferError) as info:
            host.put_file(io.BytesIO(b"x" * 4 * MB), "/full/big.bin", **arguments)
        elapsed = time.monotonic() - started
        message = str(info.value)
        assert "\n" not in message
        assert "space" in message or "full" in message, message
        if target == "box":
            assert elapsed < 1 + MARGIN  # the write fails at once: within 1 s of that
        ok, output = host.run_shell_command("ls -A /full")
        assert ok and output.stdout_lines == [], output.stdout_lines
        assert lab.temp_files(0, targets=[target]) == {target: []}
    finally:
        host.disconnect()


# -- 7. a wrong sudo password ----------------------------------------------------------------


def test_wrong_sudo_password_fails_fast_with_one_sudo(lab: FaultLab) -> None:
    token = _token("sudo")
    host = _connected(lab, "ssh1", ssh_user=PASSWORD_USER)

    def sudo_log() -> list[str]:
        log = engines.cli("docker", "exec", lab.ssh1, "cat", SUDO_LOG, check=False).stdout
        return log.split(f" : {PASSWORD_USER} : ")[1:]  # one entry per sudo run

    try:
        before = len(sudo_log())
        started = time.monotonic()
        ok, output = host.run_shell_command(f"id -u # {token}", _sudo=True, _sudo_password="no")
        elapsed = time.monotonic() - started
        assert not ok
        assert "refused the password" in output.failure_line()
        assert elapsed < 6  # the bound asked for (sudo's own delay is ~2 s)
        entries = sudo_log()[before:]
        assert len(entries) == 1 and token in entries[0], entries
    finally:
        host.disconnect()


# -- 8. docker: a command that does not read its stdin --------------------------------------


def test_docker_command_ignoring_its_stdin_returns_at_once(lab: FaultLab) -> None:
    host = new_host(f"@docker/{lab.box}")
    host.connect(raise_exceptions=True)
    try:
        started = time.monotonic()
        ok, output = host.run_shell_command("echo done", _stdin=b"x" * MB)
        assert ok and output.stdout == "done"
        assert time.monotonic() - started < 1 + MARGIN
        started = time.monotonic()
        with pytest.raises(TransferError, match="directory /missing does not exist"):
            host.put_file(io.BytesIO(b"y" * 20 * MB), "/missing/file.bin")
        assert time.monotonic() - started < 1 + MARGIN
    finally:
        host.disconnect()
    assert lab.temp_files(0, targets=["box"]) == {"box": []}


# -- 6. Ctrl-C: mid-upload and mid-command, two SSH hosts and a container -------------------


def _inventory(lab: FaultLab, directory: Path) -> Path:
    hosts = [
        (lab.ssh1_address, lab.ssh_data("ssh1")),
        (lab.ssh2_address, lab.ssh_data("ssh2")),
        f"@docker/{lab.box}",
    ]
    path = directory / "inventory.py"
    path.write_text(f"hosts = {hosts!r}\n")
    return path


def _cli(directory: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pyinfra", "-y", *args],
        cwd=directory,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _parent_cmdline(pid: int) -> str:
    try:
        parent = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1]
        return Path(f"/proc/{parent}/cmdline").read_bytes().decode(errors="replace")
    except (OSError, IndexError):
        return ""


def _remote_listing(lab: FaultLab, target: str, directory: str) -> list[str]:
    if target == "ssh2":
        return os.listdir(directory) if os.path.isdir(directory) else []
    container = lab.ssh1 if target == "ssh1" else lab.box
    result = engines.cli("docker", "exec", container, "ls", "-A", directory, check=False)
    return result.stdout.split()


def test_ctrl_c_mid_upload_removes_every_temp_and_counts_right(
    lab: FaultLab, tmp_path: Path
) -> None:
    since = time.time()
    dest = f"/tmp/pyi-flt-dest-{uuid.uuid4().hex[:8]}"
    for container in (lab.ssh1, lab.box):
        engines.cli("docker", "exec", container, "install", "-d", "-m", "1777", dest)
    os.mkdir(dest)
    os.chmod(dest, 0o1777)
    try:
        (tmp_path / "payload.bin").write_bytes(os.urandom(24 * MB))
        (tmp_path / "deploy.py").write_text(
            textwrap.dedent(f"""
            from pyinfra.operations import files
            files.put(name="payload", src="payload.bin", dest="{dest}/payload.bin")
            """)
        )
        inventory = _inventory(lab, tmp_path)
        stalled: list[int] = []
        watching = threading.Event()
        watching.set()

        # an exec's processes are children of the container's shim, not of its first process
        shim = int(
            Path(f"/proc/{lab.container_pid(lab.box)}/stat")
            .read_text()
            .rpartition(")")[2]
            .split()[1]
        )

        def stall_the_container_upload() -> None:
            # the container's upload is local and fast: freeze its cat as soon as it runs
            while watching.is_set() and not stalled:
                for pid in descendants(shim):
                    if comm(pid) == "cat" and f"{dest}/payload.bin" in _parent_cmdline(pid):
                        os.kill(pid, signal.SIGSTOP)
                        stalled.append(pid)

        def under_way() -> bool:
            return bool(stalled) and all(
                any(".pyinfra-upload" in name for name in _remote_listing(lab, target, dest))
                for target in ("ssh1", "ssh2", "box")
            )

        watcher = threading.Thread(target=stall_the_container_upload, daemon=True)
        watcher.start()
        try:
            with lab.slow_links("40mbit"):  # the SSH uploads take a few seconds
                cli = _cli(tmp_path, str(inventory), "deploy.py")
                if not wait_for(under_way, 20):
                    cli.kill()
                    output = cli.communicate()
                    listings = {t: _remote_listing(lab, t, dest) for t in ("ssh1", "ssh2", "box")}
                    raise AssertionError(
                        f"the uploads did not start: {listings} {stalled} {output}"
                    )
                cli.send_signal(signal.SIGINT)
                stdout, stderr = cli.communicate(timeout=30)
        finally:
            watching.clear()
            watcher.join(5)
            signal_all(stalled, signal.SIGCONT)
        listings = {
            target: _remote_listing(lab, target, dest) for target in ("ssh1", "ssh2", "box")
        }
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    assert cli.returncode == 130, stderr
    assert "interrupted, 0 running command(s) killed, 3 transfer(s) stopped" in stderr, stderr
    assert "Error" not in stdout, stdout
    assert lab.temp_files(since, tmp_path) == {"ssh1": [], "ssh2": [], "box": []}
    assert listings == {"ssh1": [], "ssh2": [], "box": []}


def test_ctrl_c_mid_command_kills_every_command_and_counts_right(
    lab: FaultLab, tmp_path: Path
) -> None:
    token = _token("ctrl-c")
    (tmp_path / "deploy.py").write_text(
        textwrap.dedent(f"""
        from pyinfra.operations import server
        server.shell(name="long", commands=["sleep 60 # {token}"])
        """)
    )
    inventory = _inventory(lab, tmp_path)
    try:
        cli = _cli(tmp_path, str(inventory), "deploy.py")
        # the command runs on the three targets (each has namespaces of its own)
        assert wait_for(lambda: len(namespaces_with(token)) == 3, 20), processes_with(token)
        cli.send_signal(signal.SIGINT)
        stdout, stderr = cli.communicate(timeout=30)
        assert cli.returncode == 130, stderr
        assert "interrupted, 3 running command(s) killed" in stderr, stderr
        assert "Error" not in stdout, stdout
        assert wait_for(lambda: not processes_with(token), 10), processes_with(token)
    finally:
        kill_processes_with(token)


# -- 10. paramiko's logs ---------------------------------------------------------------------

_NOISY_SCRIPT = """
import logging, os, signal, sys, json
from concurrent.futures import ThreadPoolExecutor
import pyinfra
from pyinfra.api import Config, Inventory, State
from pyinfra.api.exceptions import ConnectError
if sys.argv[1] == "debug":
    logging.basicConfig(level=logging.DEBUG)
assert logging.getLogger("paramiko").handlers == []  # import pyinfra: untouched
name, data, listener = sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
inventory = Inventory(([(name, data)], {}))
state = State(inventory, Config(CONNECT_TIMEOUT=1))
host = inventory.get_host(name)
host.connect(raise_exceptions=True)
# more channels than MaxSessions: paramiko logs every refused one
with ThreadPoolExecutor(40) as pool:
    assert all(ok for ok, _ in pool.map(lambda i: host.run_shell_command("true"), range(40)))
host.disconnect()
# a frozen server: paramiko logs the banner timeout with a traceback
os.kill(listener, signal.SIGSTOP)
try:
    host.connect(raise_exceptions=True)
except ConnectError:
    pass
finally:
    os.kill(listener, signal.SIGCONT)
"""


def test_paramiko_is_silent_for_api_users_unless_asked(lab: FaultLab) -> None:
    import json

    args = [lab.ssh1_address, json.dumps(lab.ssh_data("ssh1")), str(lab.listener("ssh1"))]
    quiet = subprocess.run(
        [sys.executable, "-c", _NOISY_SCRIPT, "quiet", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    asked = subprocess.run(
        [sys.executable, "-c", _NOISY_SCRIPT, "debug", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert asked.returncode == 0, asked.stderr[-2000:]
    assert "pyinfra.ssh.paramiko" in asked.stderr
