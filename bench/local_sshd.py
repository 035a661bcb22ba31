"""Start/stop a throwaway sshd on 127.0.0.1 for the SSH benchmark scenarios.

    python bench/local_sshd.py start   # prints `export BENCH_HOST=... BENCH_PORT=...` lines
    python bench/local_sshd.py stop

Needs root (it creates the user `pyibench` with a plain /bin/sh login shell, so no
shell rc file slows every command down) and an installed OpenSSH server
(`apt-get install -y openssh-server`). The daemon gets its own host key, config and
pid file in a private temp directory and is stopped by that pid only.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

USER = "pyibench"
# Extra loopback addresses served too (many "hosts" on one machine). sshd listens on at
# most 16 addresses (MAX_LISTEN_SOCKS), so these are split over helper daemons with the
# same config, port and keys, each with its own pid file.
FANOUT_ADDRESSES = [f"127.0.0.{i}" for i in range(2, 52)]
_GROUP = 16
STATE_DIR = Path(tempfile.gettempdir()) / "pyinfra-bench-sshd"
PID_FILE = STATE_DIR / "sshd.pid"
ENV_FILE = STATE_DIR / "env.json"


class SshdError(RuntimeError):
    pass


def _run(*argv: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SshdError(f"{' '.join(argv)} failed: {proc.stderr.strip() or proc.stdout.strip()}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _running_pid() -> int | None:
    try:
        pid = int(PID_FILE.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _pid_alive(pid) else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ensure_user() -> pwd.struct_passwd:
    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        _run("useradd", "--create-home", "--shell", "/bin/sh", USER)
        entry = pwd.getpwnam(USER)
    # A fresh account has a locked ("!") password, which sshd refuses without PAM.
    _run("usermod", "--password", "*", USER)
    return entry


def _install_key(entry: pwd.struct_passwd, public_key: str) -> None:
    ssh_dir = Path(entry.pw_dir) / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    keys = ssh_dir / "authorized_keys"
    keys.write_text(public_key)
    for path in (ssh_dir, keys):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    keys.chmod(0o600)


def start() -> dict[str, str]:
    """Start (or reuse) the daemon and return the BENCH_* variables pointing at it."""
    if _running_pid() is not None and ENV_FILE.exists():
        env: dict[str, str] = json.loads(ENV_FILE.read_text())
        return env
    if os.geteuid() != 0:
        raise SshdError("needs root (creates a user and runs sshd); set BENCH_HOST etc. instead")
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not Path(sshd).exists():
        raise SshdError("no sshd found: apt-get install -y openssh-server")

    STATE_DIR.mkdir(mode=0o700, exist_ok=True)
    host_key = STATE_DIR / "host_ed25519"
    client_key = STATE_DIR / "client_ed25519"
    for key in (host_key, client_key):
        if not key.exists():
            _run(
                "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pyinfra-bench", "-f", str(key)
            )
    entry = _ensure_user()
    _install_key(entry, Path(f"{client_key}.pub").read_text())

    port = _free_port()
    addresses = ["127.0.0.1", *FANOUT_ADDRESSES]
    groups = [addresses[i : i + _GROUP] for i in range(0, len(addresses), _GROUP)]
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
    for index, group in enumerate(groups):
        pid_file = PID_FILE if index == 0 else STATE_DIR / f"sshd-fanout{index}.pid"
        config = STATE_DIR / ("sshd_config" if index == 0 else f"sshd_config_fanout{index}")
        config.write_text(
            "\n".join(
                [
                    f"Port {port}",
                    *(f"ListenAddress {address}" for address in group),
                    f"HostKey {host_key}",
                    f"PidFile {pid_file}",
                    f"AllowUsers {USER}",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "UseDNS no",
                    "PrintMotd no",
                    "MaxSessions 100",
                    "MaxStartups 200",
                    "Subsystem sftp internal-sftp",
                    "LogLevel ERROR",
                    "",
                ]
            )
        )
        pid_file.unlink(missing_ok=True)
        _run(sshd, "-f", str(config))  # daemonises; the listener writes its pid file

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _running_pid() is not None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                pass
        time.sleep(0.05)
    else:
        raise SshdError(f"sshd did not come up on 127.0.0.1:{port}")

    env = {
        "BENCH_HOST": "127.0.0.1",
        "BENCH_PORT": str(port),
        "BENCH_USER": USER,
        "BENCH_KEY": str(client_key),
        "BENCH_FANOUT_ADDRESSES": ",".join(FANOUT_ADDRESSES),
    }
    ENV_FILE.write_text(json.dumps(env))
    return env


def stop() -> bool:
    """Stop the daemon started by `start` (by its pid file). Returns whether one ran."""
    pid = _running_pid()
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
    PID_FILE.unlink(missing_ok=True)
    for helper in STATE_DIR.glob("sshd-fanout*.pid"):
        try:
            helper_pid = int(helper.read_text().strip())
            if _pid_alive(helper_pid):
                os.kill(helper_pid, signal.SIGTERM)
        except (OSError, ValueError):
            pass
        helper.unlink(missing_ok=True)
    ENV_FILE.unlink(missing_ok=True)
    return pid is not None


def main(argv: list[str]) -> int:
    if argv == ["start"]:
        try:
            env = start()
        except SshdError as error:
            print(f"local_sshd: {error}", file=sys.stderr)
            return 1
        for key, value in env.items():
            print(f"export {key}={value}")
        return 0
    if argv == ["stop"]:
        print("stopped" if stop() else "not running")
        return 0
    print("usage: local_sshd.py start|stop", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
