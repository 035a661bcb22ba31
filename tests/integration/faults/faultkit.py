"""A fault-injection lab: real SSH servers and a container, and the faults to inject.

:class:`FaultLab` starts, for one test module:

* ``ssh1``: a container of the sshd image (OpenSSH's default ``MaxSessions 10``) with
  no network of its own but a veth pair of ours (10.233.N.0/24), so that its link can
  be slowed with ``tc``; users ``pyi-flt`` (NOPASSWD sudo) and ``pyi-flt-pw`` (sudo
  asks for :data:`SUDO_PASSWORD`; sudo logs every attempt to :data:`SUDO_LOG`), and a
  1 MiB tmpfs at ``/full`` (a full disk);
* ``ssh2``: this machine's sshd in a network namespace of ours (10.233.N+1.0/24, port
  22), logging in the local user ``pyi-flt-key`` (NOPASSWD sudo);
* ``box``: a container of the base image for ``@docker``, with the same ``/full``.

Every process of the three is visible from here (shared kernel), so the faults are
plain signals: SIGSTOP/SIGCONT/SIGKILL of an sshd's session processes or of its
listener, of a command, of a ``cat`` receiving an upload. "Leaves no temp file" is
checked with ``docker diff`` in the containers (every file written since they started,
anywhere) and, for ``ssh2``, by a scan of the places a transfer writes to, limited to
files modified since a given time and never following symlinks.

Names: containers, users, namespaces and veths start with ``pyi-flt``/``pyiflt``; the
subnet is 10.233.0.0/16. Everything is removed by :meth:`FaultLab.stop`.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from tests.helpers import engines
from tests.helpers.sshd import (
    SSHServer,
    ensure_user,
    generate_client_key,
    remove_user,
    require_root,
    require_sshd,
)

CONTAINER_USER = "pyi-flt"
PASSWORD_USER = "pyi-flt-pw"
SUDO_PASSWORD = "right horse battery"
SUDO_LOG = "/var/log/pyi-flt-sudo.log"
LOCAL_USER = "pyi-flt-key"
TEMP_NAMES = re.compile(r"pyinfra-upload|pyinfra-download")

_CONTAINER_SETUP = r"""set -e
for u in pyi-flt pyi-flt-pw; do
  id -u "$u" >/dev/null 2>&1 || useradd -m -s /bin/sh "$u"
  mkdir -p "/home/$u/.ssh"
  cp /tmp/pyi-flt-key.pub "/home/$u/.ssh/authorized_keys"
  chown -R "$u:" "/home/$u/.ssh"
  chmod 700 "/home/$u/.ssh"
done
rm -f /tmp/pyi-flt-key.pub
printf '%s:%s\n' pyi-flt-pw "$1" | chpasswd
printf '%s\n' 'pyi-flt ALL=(ALL:ALL) NOPASSWD: ALL' > /etc/sudoers.d/pyi-flt
printf '%s\n' 'Defaults:pyi-flt-pw logfile=/var/log/pyi-flt-sudo.log' \
  'pyi-flt-pw ALL=(ALL:ALL) ALL' > /etc/sudoers.d/pyi-flt-pw
chmod 440 /etc/sudoers.d/pyi-flt /etc/sudoers.d/pyi-flt-pw
"""


def _run(*argv: str, check: bool = True, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(argv), capture_output=True, text=True, check=False, **kwargs)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {result.stderr.strip() or result.stdout.strip()}")
    return result


def unavailable() -> str | None:
    """Why the lab cannot run here (None: it can)."""
    if os.geteuid() != 0:
        return "the fault lab needs root (users, network namespaces, signals to sshd)"
    for tool in ("ip", "tc", "nsenter"):
        if shutil.which(tool) is None:
            return f"{tool} is missing (apt-get install iproute2 util-linux)"
    if not os.access("/usr/sbin/sshd", os.X_OK):
        return "/usr/sbin/sshd is missing (apt-get install openssh-server)"
    return engines.ensure_sshd_image()


# -- processes ------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int] | None:
    """``(state, ppid)`` of a process, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rpartition(")")[2].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None and stat[1] == pid:
                found.append(int(entry))
    return found


def descendants(pid: int) -> list[int]:
    """Every process under ``pid`` (fast: the kernel's children lists, no /proc scan)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            with open(f"/proc/{parent}/task/{parent}/children") as handle:
                kids = [int(word) for word in handle.read().split()]
        except OSError:
            continue
        found += kids
        todo += kids
    return found


def comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def processes_with(text: str) -> list[int]:
    """Live (not zombie) processes of this machine, containers included, whose command
    line contains ``text``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        stat = _stat(int(entry))
        if stat is not None and stat[0] != "Z" and text in _cmdline(int(entry)):
            found.append(int(entry))
    return found


def namespaces_with(text: str) -> set[tuple[str, str]]:
    """The (pid, network) namespaces of the processes :func:`processes_with` finds: one
    per target (each container has its own, ssh2 its own network namespace)."""
    found = set()
    for pid in processes_with(text):
        with contextlib.suppress(OSError):
            found.add((os.readlink(f"/proc/{pid}/ns/pid"), os.readlink(f"/proc/{pid}/ns/net")))
    return found


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(step)


def signal_all(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


@contextlib.contextmanager
def frozen(pids: Iterable[int]) -> Iterator[list[int]]:
    """SIGSTOP the processes for the block (SIGCONT after, whatever happens)."""
    stopped = list(pids)
    signal_all(stopped, signal.SIGSTOP)
    try:
        yield stopped
    finally:
        signal_all(stopped, signal.SIGCONT)


def kill_processes_with(text: str) -> None:
    """End what a test left running (processes named by its own unique token)."""
    signal_all(processes_with(text), signal.SIGKILL)


# -- temp files -----------------------------------------------------------------------------


def written_since(
    roots: Iterable[str | Path], since: float, depth: int | None = None, uid: int | None = None
) -> list[str]:
    """Files and links under ``roots`` modified at or after ``since`` (a ``time.time()``),
    whose name looks like one of our temp files (and owned by ``uid`` when given: other
    tests on this machine may have theirs in flight). Symlinks are never followed;
    ``depth`` limits how deep (1: the roots' own entries)."""
    found: list[str] = []
    for root in roots:
        base = str(root)
        if not os.path.isdir(base):
            continue
        for directory, dirs, files in os.walk(base, followlinks=False):
            level = directory[len(base) :].count(os.sep)
            if depth is not None and level + 1 >= depth:
                dirs.clear()
            for name in [*files, *dirs]:
                path = os.path.join(directory, name)
                try:
                    stat = os.lstat(path)
                except OSError:
                    continue
                if uid is not None and stat.st_uid != uid:
                    continue
                if stat.st_mtime >= since - 1 and TEMP_NAMES.search(name):
                    found.append(path)
    return sorted(found)


def docker_diff(container: str) -> list[str]:
    """Paths added or changed in ``container`` since it started that look like our
    temp files (``docker diff``: every file written, anywhere)."""
    out = engines.cli("docker", "diff", container).stdout
    return sorted(
        line.split(" ", 1)[1]
        for line in out.splitlines()
        if line[:2] in ("A ", "C ") and TEMP_NAMES.search(line.rsplit("/", 1)[-1])
    )


# -- the lab --------------------------------------------------------------------------------


class FaultLab:
    """The three targets (see the module docstring) and their faults."""

    def __init__(self) -> None:
        self.tag = secrets.token_hex(3)
        self.work = Path(f"/tmp/pyi-flt-{self.tag}")
        self.octet = 2 + 2 * (os.getpid() % 120)  # two /24 of 10.233 per test process
        self.ssh1 = f"pyi-flt-sshd-{self.tag}"
        self.box = f"pyi-flt-box-{self.tag}"
        self.netns = f"pyi-flt-{self.tag}"
        self.veths: list[str] = []
        self.server: SSHServer | None = None
        self.containers: list[str] = []
        self.key = self.work / "id_ed25519"
        self.known_hosts = self.work / "known_hosts"
        self.ssh1_address = f"10.233.{self.octet}.2"
        self.ssh2_address = f"10.233.{self.octet + 1}.2"

    # -- setup ----------------------------------------------------------------------------

    def start(self) -> FaultLab:
        require_root()
        require_sshd()
        self.work.mkdir(mode=0o755)
        generate_client_key(self.work, name=self.key.name)
        try:
            self._start_ssh1()
            self._start_ssh2()
            self._start_box()
        except BaseException:
            self.stop()
            raise
        return self

    def _veth(self, index: int, netns_args: list[str]) -> tuple[str, str]:
        """A veth pair: our end (10.233.X.1) here, the other (10.233.X.2) in the target
        namespace given by ``netns_args`` (``netns NAME`` or ``netns PID``)."""
        octet = self.octet + index
        ours, theirs = f"pyiflt{self.tag}{index}a", f"pyiflt{self.tag}{index}b"
        _run("ip", "link", "add", ours, "type", "veth", "peer", "name", theirs, *netns_args)
        self.veths.append(ours)
        _run("ip", "addr", "add", f"10.233.{octet}.1/24", "dev", ours)
        _run("ip", "link", "set", ours, "up")
        return ours, theirs

    def _start_ssh1(self) -> None:
        engines.run_container(
            "docker",
            engines.SSHD_IMAGE,
            name=self.ssh1,
            command=(),
            extra=("--network", "none", "--tmpfs", "/full:size=1m,mode=1777"),
        )
        self.containers.append(self.ssh1)
        pid = self.container_pid(self.ssh1)
        _, theirs = self._veth(0, ["netns", str(pid)])
        enter = ["nsenter", "-t", str(pid), "-n", "ip"]
        _run(*enter, "addr", "add", f"{self.ssh1_address}/24", "dev", theirs)
        _run(*enter, "link", "set", theirs, "up")
        _run(*enter, "link", "set", "lo", "up")
        engines.cli("docker", "cp", str(self.key) + ".pub", f"{self.ssh1}:/tmp/pyi-flt-key.pub")
        engines.cli(
            "docker", "exec", self.ssh1, "sh", "-c", _CONTAINER_SETUP, "setup", SUDO_PASSWORD
        )
        host_key = ""
        if not wait_for(lambda: bool(self._container_host_key()), 30, 0.2):
            raise RuntimeError(f"{self.ssh1}: sshd has no host key")
        host_key = self._container_host_key()
        with open(self.known_hosts, "a") as handle:
            handle.write(f"{self.ssh1_address} {host_key}\n")

    def _container_host_key(self) -> str:
        result = engines.cli(
            "docker", "exec", self.ssh1, "cat", "/etc/ssh/ssh_host_ed25519_key.pub", check=False
        )
        return " ".join(result.stdout.split()[:2]) if result.returncode == 0 else ""

    def _start_ssh2(self) -> None:
        ensure_user(LOCAL_USER, shell="/bin/sh", sudo="nopasswd")
        _run("ip", "netns", "add", self.netns)
        _run("ip", "-n", self.netns, "link", "set", "lo", "up")
        _, theirs = self._veth(1, ["netns", self.netns])
        _run("ip", "-n", self.netns, "addr", "add", f"{self.ssh2_address}/24", "dev", theirs)
        _run("ip", "-n", self.netns, "link", "set", theirs, "up")
        self.server = SSHServer(
            self.work / "sshd",
            netns=self.netns,
            listen_address=self.ssh2_address,
            port=22,
            host_key_types=["ed25519"],
        ).start()
        self.server.authorize_key(LOCAL_USER, self.key.with_name(self.key.name + ".pub"))
        with open(self.known_hosts, "a") as handle:
            handle.write(f"{self.ssh2_address} {self.server.host_public_key()}\n")

    def _start_box(self) -> None:
        engines.run_container("docker", name=self.box, extra=("--tmpfs", "/full:size=1m,mode=1777"))
        self.containers.append(self.box)

    def stop(self) -> None:
        for name in self.containers:
            engines.remove_container("docker", name)
        if self.server is not None:
            self.server.stop()
            self.server = None
        for veth in self.veths:
            _run("ip", "link", "delete", veth, check=False)
        _run("ip", "netns", "delete", self.netns, check=False)
        remove_user(LOCAL_USER)
        shutil.rmtree(self.work, ignore_errors=True)

    # -- hosts ----------------------------------------------------------------------------

    def ssh_data(self, target: str, **extra: Any) -> dict[str, Any]:
        """Inventory data for ``ssh1`` or ``ssh2`` (strict host key checking)."""
        data: dict[str, Any] = {
            "ssh_user": CONTAINER_USER if target == "ssh1" else LOCAL_USER,
            "ssh_key": str(self.key),
            "ssh_known_hosts_file": str(self.known_hosts),
            "ssh_strict_host_key_checking": "yes",
            "ssh_allow_agent": False,
            "ssh_look_for_keys": False,
        }
        data.update(extra)
        return data

    def address(self, target: str) -> str:
        return self.ssh1_address if target == "ssh1" else self.ssh2_address

    # -- processes ------------------------------------------------------------------------

    @staticmethod
    def container_pid(name: str) -> int:
        return int(engines.cli("docker", "inspect", "-f", "{{.State.Pid}}", name).stdout)

    def listener(self, target: str) -> int:
        """The PID of the target's sshd listener (seen from here)."""
        if target == "ssh1":
            return self.container_pid(self.ssh1)  # sshd is the container's first process
        assert self.server is not None and self.server.pid is not None
        # ``ip netns exec`` execs sshd: the PID is sshd's own
        return self.server.pid

    def sessions(self, target: str, user: str | None = None) -> list[int]:
        """The sshd processes serving connections (privileged monitor and network
        child, for ``user`` when given)."""
        found: list[int] = []
        for pid in children(self.listener(target)):
            line = _cmdline(pid)
            if user is not None and user not in line:
                continue
            if "sshd" in line:
                found.append(pid)
                found += [child for child in children(pid) if "sshd" in _cmdline(child)]
        return found

    # -- links ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def slow_links(self, rate: str = "40mbit") -> Iterator[None]:
        """Limit what we send to ssh1 and ssh2 to ``rate`` (a token bucket on our ends of
        the veths) for the block."""
        links = self.veths[:2]
        for link in links:
            _run("tc", "qdisc", "replace", "dev", link, "root", "tbf", "rate", rate,
                 "burst", "32kbit", "latency", "400ms")  # fmt: skip
        try:
            yield
        finally:
            for link in links:
                _run("tc", "qdisc", "delete", "dev", link, "root", check=False)

    # -- leftovers ------------------------------------------------------------------------

    def temp_files(
        self,
        since: float,
        *extra_local: str | Path,
        targets: Iterable[str] = ("ssh1", "ssh2", "box"),
    ) -> dict[str, list[str]]:
        """Our temp files, per target: anywhere in the containers (written since they
        started); on this machine (ssh2), written since ``since`` in /tmp and /var/tmp
        (their own entries, owned by the login user), the login user's home and
        ``extra_local`` directories."""
        found: dict[str, list[str]] = {}
        for target in targets:
            if target == "ssh2":
                user = pwd.getpwnam(LOCAL_USER)
                home = user.pw_dir
                local = written_since(["/tmp", "/var/tmp"], since, depth=1, uid=user.pw_uid)
                local += written_since([home, *extra_local], since)
                found[target] = sorted(set(local))
            else:
                found[target] = docker_diff(self.ssh1 if target == "ssh1" else self.box)
        return found


def lab_or_skip() -> FaultLab:
    """A started lab; skips (fails under CI=true) when a component is missing."""
    engines.require(unavailable())
    return FaultLab().start()
