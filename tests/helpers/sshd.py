"""A real OpenSSH server for tests (no mocks).

``SSHServer`` runs ``/usr/sbin/sshd -D -f CONF -E LOG`` with its own host keys and
config on a free port of 127.0.0.1 (or inside a network namespace), and ``stop()``
ends exactly the processes it started (the listener and its session children).

Wiring it into pytest, e.g. in a ``conftest.py``::

    from tests.helpers.sshd import ensure_user, generate_client_key, make_sshd_fixture

    sshd = make_sshd_fixture()  # session-scoped fixture named "sshd"

    def test_it(sshd, tmp_path):
        ensure_user("pyidemo", password="pw")  # needs root; names must start with "pyi"
        key = generate_client_key(tmp_path)
        sshd.authorize_key("pyidemo", key.with_suffix(".pub"))
        client.connect(sshd.address, sshd.port, username="pyidemo", key_filename=str(key))

Notes for this machine kind (Debian 12, root, no systemd):

* ``UsePAM yes`` (the default here) makes password logins work for users created with
  ``useradd`` + ``chpasswd``; key logins work for any user. With ``use_pam=False`` sshd
  refuses *every* login of a user whose shadow password is locked (``!``), so
  :func:`ensure_user` sets the password field to ``*`` for users without a password.
* ``/run/sshd`` (the privilege-separation directory) must exist; ``start()`` creates it.
* sshd reads ``AuthorizedKeysFile`` as the target user, so the directory holding the
  authorized keys must be traversable by that user: keep ``work_dir`` out of pytest's
  ``tmp_path`` (``/tmp/pytest-of-root`` is mode 700). With ``work_dir=None`` (the
  default) a fresh ``/tmp/pyi-sshd-*`` directory (mode 755) is used and removed on stop.
* Everything skips (``pytest.skip`` with the reason) when ``/usr/sbin/sshd`` or
  ``ssh-keygen`` is missing (``apt-get install openssh-server``), and user helpers skip
  when not root; sudo helpers skip when sudo is missing (``apt-get install sudo``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import pytest

SSHD = "/usr/sbin/sshd"
SFTP_SERVER = "/usr/lib/openssh/sftp-server"
SUDOERS_DIR = Path("/etc/sudoers.d")
USER_PREFIX = "pyi"

SudoMode = Literal["nopasswd", "password"]
Scope = Literal["session", "package", "module", "class", "function"]

_USER_RE = re.compile(r"pyi[a-z0-9_-]{0,29}")


# -- availability --------------------------------------------------------------------------


def require_sshd() -> None:
    """Skip the calling test when OpenSSH's server or ssh-keygen is missing."""
    if not os.access(SSHD, os.X_OK):
        pytest.skip(f"{SSHD} is missing (apt-get install openssh-server)")
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is missing (apt-get install openssh-client)")


def require_root() -> None:
    """Skip the calling test unless running as root (needed to create users)."""
    if os.geteuid() != 0:
        pytest.skip("creating test users needs root")


def require_sudo() -> None:
    if shutil.which("sudo") is None or shutil.which("visudo") is None:
        pytest.skip("sudo is missing (apt-get install sudo)")


def sshd_version() -> tuple[int, int]:
    """``(major, minor)`` of the installed sshd, e.g. ``(9, 2)``; ``(0, 0)`` if unknown."""
    result = subprocess.run([SSHD, "-V"], capture_output=True, text=True, check=False)
    match = re.search(r"OpenSSH_(\d+)\.(\d+)", result.stdout + result.stderr)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def free_port(address: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``address`` a moment ago (bind to port 0)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        port: int = sock.getsockname()[1]
        return port


def _run(args: Sequence[str], stdin: str | None = None) -> None:
    result = subprocess.run(list(args), input=stdin, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} failed with status {result.returncode}: {result.stderr.strip()}"
        )


# -- users and keys ------------------------------------------------------------------------


def _check_user_name(name: str) -> None:
    if not _USER_RE.fullmatch(name):
        raise ValueError(
            f"test user names must match {_USER_RE.pattern} (start with {USER_PREFIX!r}),"
            f" got {name!r}"
        )


def sudoers_path(name: str) -> Path:
    return SUDOERS_DIR / f"pyinfra-test-{name}"


def ensure_user(
    name: str,
    password: str | None = None,
    shell: str = "/bin/sh",
    sudo: SudoMode | None = None,
) -> pwd.struct_passwd:
    """Create (or update) the local user ``name`` (must start with ``pyi``).

    ``password`` None leaves no usable password (shadow field ``*``: key logins only);
    ``sudo`` is None (no sudo rule), ``"nopasswd"`` or ``"password"``; the rule is
    written to ``/etc/sudoers.d/pyinfra-test-NAME`` with mode 440.
    """
    _check_user_name(name)
    require_root()
    if password is not None and ("\n" in password or "\r" in password):
        raise ValueError("passwords cannot contain newlines")
    if sudo not in (None, "nopasswd", "password"):
        raise ValueError(f"sudo must be None, 'nopasswd' or 'password', got {sudo!r}")
    try:
        pwd.getpwnam(name)
    except KeyError:
        _run(["useradd", "--create-home", "--shell", shell, name])
    else:
        _run(["usermod", "--shell", shell, name])
    if password is not None:
        _run(["chpasswd"], stdin=f"{name}:{password}\n")
    else:
        _run(["usermod", "--password", "*", name])
    _write_sudoers(name, sudo)
    return pwd.getpwnam(name)


def _write_sudoers(name: str, sudo: SudoMode | None) -> None:
    path = sudoers_path(name)
    if sudo is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    require_sudo()
    tag = "NOPASSWD: " if sudo == "nopasswd" else ""
    rule = f"Defaults:{name} !lecture\n{name} ALL=(ALL:ALL) {tag}ALL\n"
    SUDOERS_DIR.mkdir(mode=0o750, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".pyinfra-test-", dir=SUDOERS_DIR)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(rule)
        os.chmod(temp, 0o440)
        _run(["visudo", "-c", "-q", "-f", temp])
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def remove_user(name: str) -> None:
    """Delete a test user (and its home and sudo rule); missing users are fine."""
    _check_user_name(name)
    require_root()
    with contextlib.suppress(FileNotFoundError):
        sudoers_path(name).unlink()
    try:
        pwd.getpwnam(name)
    except KeyError:
        return
    subprocess.run(["userdel", "--force", "--remove", name], capture_output=True, check=False)


def generate_client_key(
    directory: str | os.PathLike[str],
    kind: str = "ed25519",
    passphrase: str | None = None,
    *,
    name: str | None = None,
    pem: bool = False,
) -> Path:
    """Generate a client key pair with ssh-keygen; returns the private key path (the
    public key is next to it with ``.pub``). ``kind``: ed25519, ecdsa or rsa; ``pem``
    writes the legacy PEM format instead of the OpenSSH one."""
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is missing (apt-get install openssh-client)")
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    base = name or f"id_{kind}"
    path = folder / base
    counter = 1
    while name is None and (path.exists() or path.with_name(path.name + ".pub").exists()):
        counter += 1
        path = folder / f"{base}_{counter}"
    args = ["ssh-keygen", "-q", "-t", kind, "-N", passphrase or "", "-C", f"pyinfra-test-{kind}"]
    if kind == "rsa":
        args += ["-b", "2048"]
    if pem:
        args += ["-m", "PEM"]
    _run([*args, "-f", str(path)])
    return path


def authorize_key(
    user: str, pubkey_path: str | os.PathLike[str], keys_dir: str | os.PathLike[str]
) -> Path:
    """Append a public key to ``KEYS_DIR/USER`` (the server's ``AuthorizedKeysFile``)."""
    folder = Path(keys_dir)
    folder.mkdir(mode=0o755, parents=True, exist_ok=True)
    target = folder / user
    key = Path(pubkey_path).read_text().strip()
    with open(target, "a") as handle:
        handle.write(key + "\n")
    target.chmod(0o644)
    return target


# -- the server ----------------------------------------------------------------------------


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def _descendants(pid: int) -> list[int]:
    children = _children_map()
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class SSHServer:
    """One sshd with its own host keys, config, authorized keys and log.

    ``work_dir`` None creates (and on ``stop()`` removes) ``/tmp/pyi-sshd-*``. ``port``
    None picks a free port (retrying if another process takes it first). ``netns`` runs
    sshd under ``ip netns exec NETNS`` (pass the namespace's ``listen_address`` and a
    ``port``). ``extra_config`` lines are appended to sshd_config.
    """

    def __init__(
        self,
        work_dir: str | os.PathLike[str] | None = None,
        *,
        port: int | None = None,
        listen_address: str = "127.0.0.1",
        netns: str | None = None,
        sftp: bool = True,
        use_pam: bool = True,
        host_key_types: Sequence[str] = ("ed25519", "ecdsa", "rsa"),
        extra_config: Sequence[str] = (),
    ) -> None:
        self._own_dir = work_dir is None
        if work_dir is None:
            work_dir = tempfile.mkdtemp(prefix="pyi-sshd-", dir="/tmp")
        self.work_dir = Path(work_dir).absolute()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        if self._own_dir:
            self.work_dir.chmod(0o755)
        self.address = listen_address
        self.netns = netns
        self.sftp = sftp
        self.use_pam = use_pam
        self.host_key_types = tuple(host_key_types)
        self.extra_config = tuple(extra_config)
        self._fixed_port = port
        self.port = port or 0
        self.config_path = self.work_dir / "sshd_config"
        self.log_path = self.work_dir / "sshd.log"
        self.pid_path = self.work_dir / "sshd.pid"
        self.authorized_keys_dir = self.work_dir / "authorized_keys"
        self.host_keys: dict[str, Path] = {}
        self._process: subprocess.Popen[bytes] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 15.0) -> SSHServer:
        """Generate keys, write the config, start sshd and wait until it listens."""
        if self.running:
            return self
        try:
            require_sshd()
            Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
            self._generate_host_keys()
            self.authorized_keys_dir.mkdir(mode=0o755, exist_ok=True)
            self.authorized_keys_dir.chmod(0o755)
            attempts = 1 if self._fixed_port else 5
            for attempt in range(attempts):
                if not self._fixed_port:
                    self.port = free_port(self.address)
                self._write_config()
                error = self._launch(timeout)
                if error is None:
                    return self
                if "Address already in use" not in error or attempt == attempts - 1:
                    raise RuntimeError(f"sshd did not start: {error}")
        except BaseException:
            self.stop()  # also removes a work_dir this server created
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self) -> None:
        """Terminate sshd and its session processes (only processes it started)."""
        process, self._process = self._process, None
        if process is not None:
            sessions = _descendants(process.pid)
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
            for pid in sessions:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGTERM)
        if self._own_dir and self.work_dir.exists():
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> SSHServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _generate_host_keys(self) -> None:
        for kind in self.host_key_types:
            path = self.work_dir / f"ssh_host_{kind}_key"
            if not path.exists():
                args = ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", f"pyinfra-test-host-{kind}"]
                if kind == "rsa":
                    args += ["-b", "2048"]
                _run([*args, "-f", str(path)])
            self.host_keys[kind] = path

    def _write_config(self) -> None:
        listen = f"[{self.address}]" if ":" in self.address else self.address
        lines = [f"ListenAddress {listen}:{self.port}"]
        lines += [f"HostKey {path}" for path in self.host_keys.values()]
        lines += [
            f"PidFile {self.pid_path}",
            f"AuthorizedKeysFile {self.authorized_keys_dir}/%u",
            "StrictModes no",
            "PubkeyAuthentication yes",
            "PasswordAuthentication yes",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin yes",
            f"UsePAM {'yes' if self.use_pam else 'no'}",
            "AcceptEnv *",
            "AllowAgentForwarding yes",
            "AllowTcpForwarding yes",
            "X11Forwarding no",
            "PrintMotd no",
            "PrintLastLog no",
            "UseDNS no",
            "MaxSessions 100",
            "MaxStartups 200",
            "MaxAuthTries 20",
            "LogLevel VERBOSE",
        ]
        if sshd_version() >= (9, 8):
            lines.append("PerSourcePenalties no")  # failed-auth tests must not lock us out
        if self.sftp:
            lines.append(f"Subsystem sftp {SFTP_SERVER}")
        lines += self.extra_config
        self.config_path.write_text("\n".join(lines) + "\n")

    def _launch(self, timeout: float) -> str | None:
        """Start sshd; None once it listens, else the reason it did not."""
        with contextlib.suppress(FileNotFoundError):
            self.log_path.unlink()
        command = [SSHD, "-D", "-f", str(self.config_path), "-E", str(self.log_path)]
        if self.netns is not None:
            command = ["ip", "netns", "exec", self.netns, *command]
        stderr_path = self.work_dir / "sshd.stderr"
        with open(stderr_path, "wb") as stderr:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.read_log()
            if self._process.poll() is not None:
                self._process = None
                return (log + stderr_path.read_text(errors="replace")).strip() or "sshd exited"
            if "Server listening on" in log and self._accepts():
                return None
            time.sleep(0.02)
        return f"sshd did not listen on {self.address}:{self.port} within {timeout} s"

    def _accepts(self) -> bool:
        if self.netns is not None:
            return True  # not reachable from this namespace; the log line is enough
        try:
            with socket.create_connection((self.address, self.port), timeout=1):
                return True
        except OSError:
            return False

    # -- helpers for tests -----------------------------------------------------------------

    def read_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def authorize_key(self, user: str, pubkey_path: str | os.PathLike[str]) -> Path:
        """Allow ``user`` to log in with this public key."""
        return authorize_key(user, pubkey_path, self.authorized_keys_dir)

    def host_public_key(self, kind: str = "ed25519") -> str:
        """``TYPE BASE64`` of one host key (``kind``: ed25519, ecdsa, rsa)."""
        text = self.host_keys[kind].with_name(self.host_keys[kind].name + ".pub").read_text()
        key_type, blob = text.split()[:2]
        return f"{key_type} {blob}"

    @property
    def known_hosts_name(self) -> str:
        """How paramiko/OpenSSH name this server in known_hosts."""
        return self.address if self.port == 22 else f"[{self.address}]:{self.port}"

    def known_hosts_lines(self, kinds: Sequence[str] | None = None) -> str:
        """known_hosts lines for this server's host keys (all kinds by default)."""
        chosen = kinds if kinds is not None else list(self.host_keys)
        return "".join(f"{self.known_hosts_name} {self.host_public_key(k)}\n" for k in chosen)

    def write_known_hosts(
        self, path: str | os.PathLike[str], kinds: Sequence[str] | None = None
    ) -> Path:
        target = Path(path)
        target.write_text(self.known_hosts_lines(kinds))
        return target


def make_sshd_fixture(*, name: str = "sshd", scope: Scope = "session", **server_kwargs: Any) -> Any:
    """A pytest fixture (assign it to a name in a conftest/test module) yielding a
    started :class:`SSHServer`; skips when sshd is missing. ``server_kwargs`` go to
    ``SSHServer``."""

    @pytest.fixture(scope=scope, name=name)
    def _sshd_fixture() -> Iterator[SSHServer]:
        require_sshd()
        with SSHServer(**server_kwargs) as server:
            yield server

    return _sshd_fixture
