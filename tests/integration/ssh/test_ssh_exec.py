"""Running commands over SSH against a real sshd: timeouts that really kill, pty, stdin,
env, chdir, sudo/su passwords that never leak, concurrency, lost connections."""

from __future__ import annotations

import os
import stat
import threading
import time
import uuid
from pathlib import Path

from pyinfra.api import Config
from pyinfra.api.host import Host
from pyinfra.api.parallel import run_on_hosts
from pyinfra.connectors.output import CommandOutput
from pyinfra.connectors.ssh import SSHConnector
from tests.helpers.sshenv import (
    KEY_USER,
    PASSWORD,
    PASSWORD_USER,
    SSHEnv,
    make_ssh_env_fixture,
    pids_matching,
    wait_until,
)

env = make_ssh_env_fixture()


def _tag() -> str:
    return str(40000 + uuid.uuid4().int % 9000)


def _assert_nothing_left(*needles: str) -> None:
    wait_until(lambda: not any(pids_matching(n) for n in needles), timeout=5)
    for needle in needles:
        assert not pids_matching(needle), f"{needle!r} still running on the target"


def test_timeout_kills_command_under_sudo_password(env: SSHEnv) -> None:
    tag = _tag()
    with env.host(ssh_user=PASSWORD_USER) as host:
        ok, out = host.run_shell_command(
            f"sleep {tag}1 & sleep {tag}2", _sudo=True, _sudo_password=PASSWORD, _timeout=2
        )
        assert not ok and out.timed_out
        _assert_nothing_left(f"sleep {tag}1", f"sleep {tag}2")


def test_pty(env: SSHEnv) -> None:
    with env.host() as host:
        ok, out = host.run_shell_command("tty; echo err >&2", _get_pty=True)
        assert ok, out.output
        assert out.stdout_lines[0].startswith("/dev/pts/")
        assert "err" in out.stdout_lines
        ok, out = host.run_shell_command("tty", _get_pty=False)
        assert not ok and "not a tty" in out.stdout


def test_pty_stdin_is_not_echoed(env: SSHEnv) -> None:
    with env.host() as host:
        ok, out = host.run_shell_command("read a; echo got:$a", _get_pty=True, _stdin="secret\n")
        assert ok, out.output
        assert out.stdout_lines == ["got:secret"]


def test_stdin_env_chdir(env: SSHEnv) -> None:
    with env.host() as host:
        data = bytes(range(256)) * 300
        ok, out = host.run_shell_command("sha256sum", _stdin=data)
        import hashlib

        assert ok and out.stdout.split()[0] == hashlib.sha256(data).hexdigest()
        ok, out = host.run_shell_command(
            'echo "$PYI_X|$PYI_Y"; pwd', _env={"PYI_X": "a b", "PYI_Y": "$HOME"}, _chdir="/usr"
        )
        assert ok and out.stdout_lines == ["a b|$HOME", "/usr"]


def test_marker_is_removed_and_exit_codes(env: SSHEnv) -> None:
    with env.host() as host:
        ok, out = host.run_shell_command("echo out; echo err >&2; exit 7", _success_exit_codes=[7])
        assert ok and out.exit_code == 7
        assert out.stdout_lines == ["out"] and out.stderr_lines == ["err"]
        ok, out = host.run_shell_command("true")
        assert ok and out.combined_lines == []


def _files_written_since(since: float, roots: tuple[str, ...]) -> list[str]:
    """Regular files under ``roots`` modified after ``since`` (symlinks never followed,
    so chroot/rootfs trees under /tmp cannot send the walk in circles)."""
    found: list[str] = []
    for root in roots:
        for directory, _dirs, files in os.walk(root, followlinks=False):
            for name in files:
                path = os.path.join(directory, name)
                try:
                    if os.lstat(path).st_mtime >= since:
                        found.append(path)
                except OSError:
                    continue
    return found


def test_sudo_password_never_leaks(env: SSHEnv) -> None:
    """Poll the target's process list during a sudo-with-password command, then search the
    sshd log and every file under /tmp and /var/log another user could read."""
    seen: list[str] = []
    stop = threading.Event()
    started = time.time() - 1

    def watch() -> None:
        while not stop.is_set():
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    try:
                        cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                        environ = Path(f"/proc/{entry}/environ").read_bytes()
                    except OSError:
                        continue
                    if PASSWORD.encode() in cmdline or PASSWORD.encode() in environ:
                        seen.append(cmdline.decode(errors="replace"))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with env.host(ssh_user=PASSWORD_USER, ssh_password=PASSWORD, ssh_key=None) as host:
            ok, out = host.run_shell_command(
                "sleep 1; id -u", _sudo=True, _sudo_password=PASSWORD, print_input=True
            )
            assert ok, out.output
            assert out.stdout == "0"
            assert PASSWORD not in out.output
            ok, out = host.run_shell_command(
                "cat", _sudo=True, _sudo_password=PASSWORD, _stdin="data\n"
            )
            assert ok and out.stdout_lines == ["data"]
    finally:
        stop.set()
        watcher.join()
    assert not seen, f"password visible in the process list: {seen[:1]}"
    assert PASSWORD not in env.server.read_log()
    for path in _files_written_since(started, ("/tmp", "/var/log")):
        try:
            st = os.lstat(path)
            if not stat.S_ISREG(st.st_mode) or not st.st_mode & 0o004:
                continue
            if st.st_size > 10_000_000:
                continue
            assert PASSWORD.encode() not in Path(path).read_bytes(), f"password in {path}"
        except OSError:
            continue


def test_wrong_sudo_password(env: SSHEnv) -> None:
    with env.host(ssh_user=PASSWORD_USER) as host:
        ok, out = host.run_shell_command("id -u", _sudo=True, _sudo_password="wrong")
        assert not ok
        assert "wrong sudo password" in out.stderr


def test_sudo_password_asked_once_for_all_hosts(env: SSHEnv) -> None:
    hosts = [
        (name, env.data(ssh_user=PASSWORD_USER, ssh_hostname="127.0.0.1"))
        for name in ("first", "second")
    ]
    inventory, state = env.inventory(hosts)
    asked: list[str] = []

    def prompter(message: str) -> str:
        asked.append(message)
        return PASSWORD

    state.password_prompter = prompter
    try:
        results = run_on_hosts(
            state, list(inventory), lambda h: h.run_shell_command("id -u", _sudo=True)
        )
        for host, result in results.items():
            assert not isinstance(result, BaseException), result
            ok, out = result
            assert ok and out.stdout == "0", (host, out.output)
        assert len(asked) == 1
    finally:
        for host in inventory:
            host.disconnect()


def test_su_with_password(env: SSHEnv) -> None:
    with env.host() as host:
        ok, out = host.run_shell_command(
            "id -un", _su_user=PASSWORD_USER, _su_password=PASSWORD, _timeout=20
        )
        assert ok, out.output
        assert out.stdout_lines[-1] == PASSWORD_USER


def test_concurrent_commands_on_one_transport(env: SSHEnv) -> None:
    with env.host() as host:
        connector = host.connector
        assert isinstance(connector, SSHConnector)
        transport = connector.transport
        errors: list[str] = []

        def worker(index: int) -> None:
            for round_ in range(15):
                token = f"{index}-{round_}"
                ok, out = host.run_shell_command(f"echo {token}; echo {token} >&2")
                if not ok or out.stdout != token or out.stderr != token:
                    errors.append(f"{token}: {out.output!r}")

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        assert connector.transport is transport  # still the one transport


def test_next_channel_is_opened_ahead(env: SSHEnv) -> None:
    """Each command takes the channel opened while the previous one ran (so its ``exec``
    goes out at once), and a server refusal of sessions turns that off."""
    with env.host() as host:
        connector = host.connector
        assert isinstance(connector, SSHConnector)
        connection = connector.connection
        wait_until(lambda: connection._spare is not None and connection._spare.done.is_set())
        spare = connection._spare
        assert spare is not None and spare.channel is not None
        ahead = spare.channel
        assert connection.round_trip is not None and connection.round_trip > 0
        ok, out = host.run_shell_command("echo one")
        assert ok and out.stdout == "one"
        assert ahead.closed  # the command ran on it (and its channel is closed now)
        assert connection._spare is not None and connection._spare is not spare
        # stdin after a pipelined exec: goes out once the server opens the window
        ok, out = host.run_shell_command("cat", _stdin="two\n")
        assert ok and out.stdout == "two"
        # once the server refused a session, channels are opened on demand only
        connection._stop_spares()
        assert connection._spare is None and not connection.spares
        ok, out = host.run_shell_command("echo three")
        assert ok and out.stdout == "three" and connection._spare is None


def test_sshd_killed_during_a_command(env: SSHEnv) -> None:
    """One host's sshd dies mid-command: that host fails with a one-line message, the
    other host (its own sshd) finishes."""
    from tests.helpers.sshd import SSHServer

    other = SSHServer(host_key_types=["ed25519"])
    other.start()
    try:
        other.authorize_key(KEY_USER, env.key.with_name(env.key.name + ".pub"))
        known = env.work / "known_hosts_two"
        known.write_text(env.server.known_hosts_lines() + other.known_hosts_lines())
        hosts = [
            ("good", env.data(ssh_hostname="127.0.0.1", ssh_known_hosts_file=str(known))),
            (
                "doomed",
                env.data(
                    ssh_hostname="127.0.0.1", ssh_port=other.port, ssh_known_hosts_file=str(known)
                ),
            ),
        ]
        inventory, state = env.inventory(hosts, Config())
        for host in inventory:
            host.connect(raise_exceptions=True)

        def run(host: Host) -> tuple[bool, CommandOutput]:
            return host.run_shell_command("sleep 3; echo finished")

        killer = threading.Timer(1.0, other.stop)
        killer.start()
        results = run_on_hosts(state, list(inventory), run)
        killer.join()
        good = results[inventory.get_host("good")]
        doomed = results[inventory.get_host("doomed")]
        assert not isinstance(good, BaseException) and good[0] and good[1].stdout == "finished"
        assert not isinstance(doomed, BaseException)
        ok, out = doomed
        assert not ok
        assert "SSH connection to doomed was lost" in out.stderr
        for host in inventory:
            host.disconnect()
    finally:
        other.stop()


def test_sh_login_shell_runs_sh_scripts_itself(env: SSHEnv) -> None:
    """With /bin/sh as login shell, ``sh -c SCRIPT`` runs SCRIPT in the login shell (one
    process less); any other login shell gets the command unchanged."""
    from tests.helpers.sshd import ensure_user

    with env.host() as host:
        first = host.run_shell_command("ps -o args= -p $$")[1].stdout
        second = host.run_shell_command("ps -o args= -p $$")[1].stdout
        assert "pyinfra-pid" not in first  # not known yet: a child sh ran it
        assert "pyinfra-pid" in second  # the login shell itself
        ok, out = host.run_shell_command("echo $0; exit 4", _success_exit_codes=[4])
        assert ok and out.stdout == "sh"
    ensure_user("pyisshbash", shell="/bin/bash")
    env.server.authorize_key("pyisshbash", env.key.with_name(env.key.name + ".pub"))
    with env.host(ssh_user="pyisshbash") as host:
        for _ in range(2):
            ok, out = host.run_shell_command("echo $0; ps -o args= -p $$")
            assert ok and out.stdout_lines[0] == "sh"
            assert "pyinfra-pid" not in out.stdout_lines[1]
