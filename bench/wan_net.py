"""The WAN benchmark's network: SSH hosts in network namespaces, a fixed user-space delay.

    root namespace                          namespace pyi-wan-hN (N = 1..5)
    10.232.0.1 on bridge pyi-wan-br  ---  veth pyi-wan-hN | eth0 10.232.0.1N, sshd :42522

Every host is a network namespace with its own sshd (own host key, one authorized client
key, user `pyi-wan` whose login shell is plain /bin/sh), joined to a bridge in the root
namespace by a veth pair. Latency is added on the receiving side of the link: an
iptables rule `-j NFQUEUE` in each host namespace (packets arriving on eth0) and one in
the root namespace (packets arriving on the bridge) hands packets to `nfq_delay.py`, one
daemon per namespace, which accepts each packet `delay` ms after it arrived. A packet
crosses one receiving side each way, so RTT = 2 x delay. The daemons also run at delay
0 (the "RTT 0" measurements), so both measurements take the same path.

Everything created is named with the prefix `pyi-wan` and recorded under STATE_DIR
(pid files); `teardown()` removes it all and is safe to call at any time (also from
`python3 bench/wan.py cleanup` after a crash). Needs root, iproute2, iptables and an
OpenSSH server. Standard library only.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "pyi-wan"
USER = "pyi-wan"
BRIDGE = f"{PREFIX}-br"
SUBNET = "10.232.0"  # inside 10.232.0.0/16, this benchmark's range
GATEWAY = f"{SUBNET}.1"
SSH_PORT = 42522
ROOT_QUEUE = 42500  # NFQUEUE number in the root namespace (queues are per namespace)
HOST_QUEUE = 0
RULE_COMMENT = f"{PREFIX}-bench"
MAX_HOSTS = 5
TEMP_ROOT = Path("/tmp")
STATE_DIR = TEMP_ROOT / f"{PREFIX}-bench"
RUN_PREFIX = f"{PREFIX}-run-"  # bench/wan.py's work directory (inventories, deploy files)
DEPLOY_PREFIX = f"{PREFIX}-deploy-"  # where the hosts deploy (one per deploy round)
SSHD = "/usr/sbin/sshd"
SFTP_SERVER = "/usr/lib/openssh/sftp-server"
NFQ_DELAY = Path(__file__).resolve().parent / "nfq_delay.py"


class NetError(RuntimeError):
    pass


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise NetError(f"`{' '.join(argv)}` failed: {detail}")
    return proc


def host_name(index: int) -> str:
    return f"wan{index}"


def netns_name(index: int) -> str:
    return f"{PREFIX}-h{index}"


def host_address(index: int) -> str:
    return f"{SUBNET}.{10 + index}"


def root_rule() -> list[str]:
    """The root namespace's iptables rule (without -I/-D)."""
    return [
        "INPUT",
        "-i",
        BRIDGE,
        "-m",
        "comment",
        "--comment",
        RULE_COMMENT,
        "-j",
        "NFQUEUE",
        "--queue-num",
        str(ROOT_QUEUE),
    ]


def host_rule() -> list[str]:
    return ["INPUT", "-i", "eth0", "-j", "NFQUEUE", "--queue-num", str(HOST_QUEUE)]


# ------------------------------------------------------------------------ processes


def _pid_file(role: str) -> Path:
    return STATE_DIR / "pids" / f"{role}.pid"


def _running(pid: int, marker: str) -> bool:
    """Whether `pid` is a live (not zombie) process whose command line contains `marker`."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X") and marker in cmdline


def _stop_pid(pid: int, marker: str, timeout: float = 5.0) -> None:
    """SIGTERM (then SIGKILL) the process `pid` if its command line contains `marker`."""
    if not _running(pid, marker):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
        if not _running(pid, marker):
            return
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


@dataclass
class Daemon:
    """A process this module started (sshd or nfq_delay), stopped by its pid only."""

    role: str  # e.g. "sshd-wan1", "delay-root"
    proc: subprocess.Popen[bytes]
    marker: str  # a string its command line contains (checked before any signal)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            _stop_pid(self.proc.pid, self.marker)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=1)
        _pid_file(self.role).unlink(missing_ok=True)


def _spawn(role: str, argv: list[str], marker: str, log: Path) -> Daemon:
    _pid_file(role).parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=out,
            start_new_session=True,
        )
    _pid_file(role).write_text(f"{proc.pid} {marker}\n")
    return Daemon(role, proc, marker)


# ------------------------------------------------------------------------- cgroups

CPUACCT = Path("/sys/fs/cgroup/cpuacct")  # cgroup v1, as on this machine kind


def _cpu_cgroup(name: str, pid: int) -> Path | None:
    """Put `pid` (an sshd that has not forked yet) into a cpuacct cgroup of its own, so
    the CPU time of everything it starts can be read; None where that is impossible."""
    cgroup = CPUACCT / f"{PREFIX}-{name}"
    try:
        cgroup.mkdir(exist_ok=True)
        (cgroup / "cgroup.procs").write_text(f"{pid}\n")
    except OSError:
        return None
    return cgroup


def _remove_cgroups() -> list[str]:
    removed = []
    if CPUACCT.is_dir():
        for cgroup in CPUACCT.glob(f"{PREFIX}-*"):
            with contextlib.suppress(OSError):
                cgroup.rmdir()  # only succeeds once no process is left in it
                removed.append(f"cgroup {cgroup}")
    return removed


# -------------------------------------------------------------------------- network


@dataclass
class Host:
    index: int
    name: str
    netns: str
    address: str
    port: int
    sshd_log: Path  # sshd at LogLevel VERBOSE: logins, exec and subsystem requests
    sftp_log: Path  # sftp-server at DEBUG3: one "request N: ..." line per sftp request
    cgroup: Path | None = None  # cpuacct cgroup of its sshd and everything sshd starts

    def cpu_seconds(self) -> float | None:
        """CPU time used so far by this host's sshd and all its sessions and commands."""
        if self.cgroup is None:
            return None
        try:
            return int((self.cgroup / "cpuacct.usage").read_text()) / 1e9
        except (OSError, ValueError):
            return None


@dataclass
class Network:
    """The namespaces, sshds and delay daemons of one benchmark run."""

    count: int
    client_key: Path = STATE_DIR / "client_ed25519"
    hosts: list[Host] = field(default_factory=list)
    sshds: list[Daemon] = field(default_factory=list)
    delays: list[Daemon] = field(default_factory=list)
    delay_ms: float | None = None
    lock: int | None = None  # fd holding STATE_DIR/lock while the network is up

    # ---- setup

    def up(self) -> None:
        """Build everything; on any failure, undo what was built and raise NetError."""
        check_requirements()
        self._lock()
        teardown(quiet=True)  # leftovers of an interrupted run
        try:
            self._keys_and_user()
            self._links()
            self.set_delay(0)
            self._sshds()
        except BaseException:
            self.down()
            raise

    def _lock(self) -> None:
        """One benchmark network at a time (they would share names and addresses)."""
        STATE_DIR.mkdir(mode=0o755, exist_ok=True)
        STATE_DIR.chmod(0o755)  # sshd reads the authorized keys as the user
        fd = os.open(STATE_DIR / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise NetError(f"another WAN benchmark is running (pid {holder or '?'})") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.lock = fd

    def _keys_and_user(self) -> None:
        (STATE_DIR / "logs").mkdir(exist_ok=True)
        keys = [
            self.client_key,
            *(STATE_DIR / f"host_{host_name(i)}_ed25519" for i in range(1, self.count + 1)),
        ]
        for key in keys:
            if not key.exists():
                _run(
                    "ssh-keygen",
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    f"{PREFIX}-bench",
                    "-f",
                    str(key),
                )
        try:
            pwd.getpwnam(USER)
        except KeyError:
            _run("useradd", "--create-home", "--shell", "/bin/sh", USER)
        _run("usermod", "--shell", "/bin/sh", "--password", "*", USER)  # key logins only
        authorized = STATE_DIR / "authorized_keys"
        authorized.mkdir(mode=0o755, exist_ok=True)
        (authorized / USER).write_text(Path(f"{self.client_key}.pub").read_text())
        (authorized / USER).chmod(0o644)

    def _links(self) -> None:
        _run("ip", "link", "add", BRIDGE, "type", "bridge")
        _run("ip", "addr", "add", f"{GATEWAY}/24", "dev", BRIDGE)
        _run("ip", "link", "set", BRIDGE, "up")
        for index in range(1, self.count + 1):
            netns = netns_name(index)
            _run("ip", "netns", "add", netns)
            _run("ip", "-n", netns, "link", "set", "lo", "up")
            _run("ip", "link", "add", netns, "type", "veth", "peer", "name", "eth0", "netns", netns)
            _run("ip", "link", "set", netns, "master", BRIDGE)
            _run("ip", "link", "set", netns, "up")
            _run("ip", "-n", netns, "addr", "add", f"{host_address(index)}/24", "dev", "eth0")
            _run("ip", "-n", netns, "link", "set", "eth0", "up")
            _run("ip", "-n", netns, "route", "add", "default", "via", GATEWAY)
            _run("ip", "netns", "exec", netns, "iptables", "-w", "-I", *host_rule())
            self.hosts.append(
                Host(
                    index,
                    host_name(index),
                    netns,
                    host_address(index),
                    SSH_PORT,
                    STATE_DIR / "logs" / f"sshd-{host_name(index)}.log",
                    STATE_DIR / "logs" / f"sftp-{host_name(index)}.log",
                )
            )
        _run("iptables", "-w", "-I", *root_rule())

    def _sshds(self) -> None:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
        user = pwd.getpwnam(USER)
        for host in self.hosts:
            # sftp-server run by the user, its log (-e: to stderr) appended to a file
            host.sftp_log.write_text("")
            os.chown(host.sftp_log, user.pw_uid, user.pw_gid)
            sftp = STATE_DIR / f"sftp-server-{host.name}"
            sftp.write_text(f"#!/bin/sh\nexec {SFTP_SERVER} -e -l DEBUG3 2>>{host.sftp_log}\n")
            sftp.chmod(0o755)
            config = STATE_DIR / f"sshd_config_{host.name}"
            config.write_text(
                "\n".join(
                    [
                        f"ListenAddress {host.address}:{host.port}",
                        f"HostKey {STATE_DIR / f'host_{host.name}_ed25519'}",
                        f"PidFile {STATE_DIR / f'sshd-{host.name}.pid'}",
                        f"AuthorizedKeysFile {STATE_DIR / 'authorized_keys'}/%u",
                        f"AllowUsers {USER}",
                        "StrictModes no",
                        "PubkeyAuthentication yes",
                        "PasswordAuthentication no",
                        "KbdInteractiveAuthentication no",
                        "UsePAM no",
                        "UseDNS no",
                        "PrintMotd no",
                        "PrintLastLog no",
                        "MaxSessions 100",
                        "MaxStartups 100",
                        # VERBOSE logs one line per login and per exec/subsystem
                        # request: the benchmark counts them.
                        "LogLevel VERBOSE",
                        f"Subsystem sftp {sftp}",
                        "",
                    ]
                )
            )
            host.sshd_log.write_text("")
            argv = [
                "ip",
                "netns",
                "exec",
                host.netns,
                SSHD,
                "-D",
                "-f",
                str(config),
                "-E",
                str(host.sshd_log),
            ]
            daemon = _spawn(
                f"sshd-{host.name}", argv, str(config), STATE_DIR / "logs" / "daemons.log"
            )
            self.sshds.append(daemon)
            host.cgroup = _cpu_cgroup(host.name, daemon.proc.pid)
        deadline = time.monotonic() + 15
        for host, daemon in zip(self.hosts, self.sshds, strict=True):
            while True:
                if not daemon.alive():
                    raise NetError(f"sshd for {host.name} exited: see {host.sshd_log}")
                try:
                    with socket.create_connection((host.address, host.port), timeout=2) as sock:
                        if sock.recv(64).startswith(b"SSH-"):
                            break
                except OSError as error:
                    if time.monotonic() > deadline:
                        raise NetError(f"sshd for {host.name} not reachable: {error}") from None
                time.sleep(0.05)

    # ---- delay

    def set_delay(self, delay_ms: float) -> None:
        """(Re)start the delay daemons: every packet waits `delay_ms` on its receiving side."""
        if self.delay_ms == delay_ms and all(d.alive() for d in self.delays):
            return
        for daemon in self.delays:
            daemon.stop()
        self.delays.clear()
        self.delay_ms = None
        places: list[tuple[str, list[str], int]] = [("root", [], ROOT_QUEUE)] + [
            (host.name, ["ip", "netns", "exec", host.netns], HOST_QUEUE) for host in self.hosts
        ]
        for where, prefix, queue in places:
            argv = [
                *prefix,
                sys.executable,
                str(NFQ_DELAY),
                "--queue",
                str(queue),
                "--delay-ms",
                f"{delay_ms:g}",
            ]
            daemon = _spawn(
                f"delay-{where}", argv, str(NFQ_DELAY), STATE_DIR / "logs" / "daemons.log"
            )
            self.delays.append(daemon)
            assert daemon.proc.stdout is not None
            line = daemon.proc.stdout.readline().decode(errors="replace").strip()
            if not line.startswith("ready"):
                raise NetError(
                    f"delay daemon for {where} did not start"
                    f" (see {STATE_DIR / 'logs' / 'daemons.log'})"
                )
        self.delay_ms = delay_ms

    def check_alive(self) -> None:
        for daemon in [*self.delays, *self.sshds]:
            if not daemon.alive():
                raise NetError(f"{daemon.role} (pid {daemon.proc.pid}) died")

    def measure_rtt(self, samples: int = 10) -> dict[str, dict[str, float]]:
        """TCP connect time (SYN -> SYN/ACK: one round trip) to each host's sshd, in ms."""
        result: dict[str, dict[str, float]] = {}
        for host in self.hosts:
            times: list[float] = []
            for _ in range(samples):
                started = time.perf_counter()
                with socket.create_connection((host.address, host.port), timeout=5) as sock:
                    times.append((time.perf_counter() - started) * 1000)
                    sock.recv(64)  # the banner: let sshd see a complete, harmless visit
            result[host.name] = {
                "median_ms": statistics.median(times),
                "min_ms": min(times),
                "max_ms": max(times),
                "stdev_ms": statistics.pstdev(times),
            }
        return result

    # ---- teardown

    def down(self) -> None:
        """Stop and remove everything up() built (nothing if this run never got the lock)."""
        if self.lock is None:
            return
        for daemon in self.sshds:
            daemon.stop()
        self.sshds.clear()
        teardown(quiet=True, daemons=self.delays)
        self.delays.clear()
        self.hosts.clear()
        self.delay_ms = None
        if self.lock is not None:
            os.close(self.lock)  # releases the flock
            self.lock = None


def check_requirements() -> None:
    if os.geteuid() != 0:
        raise NetError("needs root (network namespaces, iptables, a user, sshd)")
    for tool, package in (
        ("ip", "iproute2"),
        ("iptables", "iptables"),
        ("ssh-keygen", "openssh-client"),
    ):
        if shutil.which(tool) is None:
            raise NetError(f"{tool} is missing (apt-get install -y {package})")
    for path in (SSHD, SFTP_SERVER):
        if not os.access(path, os.X_OK):
            raise NetError(f"{path} is missing (apt-get install -y openssh-server)")
    probe = _run("ip", "netns", "list", check=False)
    if probe.returncode != 0:
        raise NetError(f"cannot use network namespaces here: {probe.stderr.strip()}")


def teardown(quiet: bool = False, daemons: list[Daemon] | None = None) -> list[str]:
    """Remove everything this module may have created; return what was removed.

    Order: processes (the given daemons, then every pid file, then whatever still runs
    inside our namespaces), the root namespace's iptables rule (so no packet waits for
    a daemon that is gone), veths, namespaces, bridge.
    """
    done: list[str] = []
    for daemon in daemons or []:
        daemon.stop()
    pid_dir = STATE_DIR / "pids"
    if pid_dir.is_dir():
        for pid_file in sorted(pid_dir.glob("*.pid")):
            with contextlib.suppress(OSError, ValueError):
                pid_text, marker = pid_file.read_text().strip().split(" ", 1)
                if _running(int(pid_text), marker):
                    _stop_pid(int(pid_text), marker)
                    done.append(f"process {pid_text} ({pid_file.stem})")
            pid_file.unlink(missing_ok=True)
    # The CLIs of a run killed before it could stop them (and their ssh masters): each
    # names its run directory, /tmp/pyi-wan-run-*, on its command line.
    marker = str(TEMP_ROOT / RUN_PREFIX)
    for proc in Path("/proc").iterdir():
        if (
            proc.name.isdigit()
            and int(proc.name) != os.getpid()
            and _running(int(proc.name), marker)
        ):
            _stop_pid(int(proc.name), marker)
            done.append(f"process {proc.name} (a tool run)")
    while _run("iptables", "-w", "-D", *root_rule(), check=False).returncode == 0:
        done.append(f"iptables rule {RULE_COMMENT}")
    namespaces = [
        line.split()[0]
        for line in _run("ip", "netns", "list", check=False).stdout.splitlines()
        if line.startswith(f"{PREFIX}-h")
    ]
    for netns in namespaces:
        pids = _run("ip", "netns", "pids", netns, check=False).stdout.split()
        for pid in pids:  # only processes inside our own namespaces
            _stop_pid(int(pid), "")
            done.append(f"process {pid} (in {netns})")
        if _run("ip", "link", "delete", netns, check=False).returncode == 0:
            done.append(f"veth {netns}")
        _run("ip", "netns", "delete", netns, check=False)
        done.append(f"netns {netns}")
    if _run("ip", "link", "delete", BRIDGE, check=False).returncode == 0:
        done.append(f"bridge {BRIDGE}")
    done += _remove_cgroups()
    for pattern in (f"{RUN_PREFIX}*", f"{DEPLOY_PREFIX}*"):
        for directory in TEMP_ROOT.glob(pattern):
            shutil.rmtree(directory, ignore_errors=True)
            done.append(f"directory {directory}")
    if not quiet:
        for item in done:
            print(f"removed {item}", file=sys.stderr)
    return done


def cleanup(purge_all: bool = False) -> list[str]:
    """teardown() (or purge()) for the `cleanup` command, refused while a run is active."""
    holder = Network(0)
    holder._lock()
    try:
        return purge() if purge_all else teardown()
    finally:
        if holder.lock is not None:
            os.close(holder.lock)


def purge() -> list[str]:
    """teardown() plus the cached keys, the state directory and the user."""
    done = teardown()
    if STATE_DIR.exists():
        shutil.rmtree(STATE_DIR)
        done.append(f"directory {STATE_DIR}")
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return done
    _run("userdel", "--force", "--remove", USER, check=False)
    done.append(f"user {USER}")
    return done
