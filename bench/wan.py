#!/usr/bin/env python3
"""WAN benchmark: ours vs pyinfra 3.10 vs ansible-core, SSH hosts one RTT away.

    python3 bench/wan.py [run] [--repeat 3] [--rtt 50] [--json OUT] [--scenario ...]
    python3 bench/wan.py verify            # build the network, check the RTT, tear down
    python3 bench/wan.py up                # build it and wait (Ctrl-C tears it down)
    python3 bench/wan.py cleanup [--purge] # remove whatever an interrupted run left

Needs root. The hosts are sshds in network namespaces behind a bridge, with a fixed
delay added in user space (bench/wan_net.py, bench/nfq_delay.py). Every scenario runs
at RTT 0 and at RTT --rtt on the same hosts; round trips per host are
(wall time at RTT - wall time at 0) / RTT. Commands, sftp sessions and sftp requests
are counted on the server side, from each host's sshd and sftp-server logs.
See bench/README.md ("WAN benchmark"). Standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import run as harness  # bench/run.py: venvs and environment shared with the other benches
import wan_net

SCENARIO_DIR = harness.SCENARIO_DIR
sys.path.insert(0, str(SCENARIO_DIR))
import deploy20  # noqa: E402  (bench/scenarios/deploy20.py: the same deploy and sources)

ANSIBLE_SPEC = "ansible-core==2.19.14"
SIDE_LABELS = {
    "ours": "this project",
    "pyinfra3": "pyinfra 3.10",
    "ansible": "ansible-core (pipelining)",
}
RUN_TIMEOUT = 900.0
# A run whose client and servers together keep more than this many cores busy at RTT 0
# waits for CPU there (2 cores here, shared with other work) and, at RTT 50, overlaps
# that CPU work with network waits: its round trips are then less reliable (flagged).
CPU_BOUND = 1.0
DEFAULT_JSON = harness.BENCH_DIR / "results" / "wan.json"


def log(message: str) -> None:
    harness.log(message)


# ------------------------------------------------------------------ server-side counts


@dataclass
class Counts:
    """What one host's server saw during one measured run."""

    connections: int = 0  # accepted logins
    commands: int = 0  # exec (or shell) session requests
    sftp_sessions: int = 0
    sftp_requests: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


def astuple(counts: Counts) -> tuple[int, int, int, int]:
    return (counts.connections, counts.commands, counts.sftp_sessions, counts.sftp_requests)


LogOffsets = dict[str, int]
SFTP_REQUEST = re.compile(r"^debug\d: request \d+: (?!sent )", re.MULTILINE)


def log_offsets(hosts: list[wan_net.Host]) -> LogOffsets:
    return {
        str(path): path.stat().st_size if path.exists() else 0
        for host in hosts
        for path in (host.sshd_log, host.sftp_log)
    }


def _read_between(path: Path, start: int, end: int) -> str:
    with path.open("rb") as handle:
        handle.seek(start)
        return handle.read(max(0, end - start)).decode(errors="replace")


def count_between(host: wan_net.Host, before: LogOffsets, after: LogOffsets) -> Counts:
    sshd_key, sftp_key = str(host.sshd_log), str(host.sftp_log)
    sshd = _read_between(host.sshd_log, before[sshd_key], after[sshd_key])
    sftp = _read_between(host.sftp_log, before[sftp_key], after[sftp_key])
    sessions = re.findall(r"^Starting session: (\S+)", sshd, re.MULTILINE)
    return Counts(
        connections=len(re.findall(r"^Accepted publickey for ", sshd, re.MULTILINE)),
        commands=sum(1 for kind in sessions if kind != "subsystem"),
        sftp_sessions=sessions.count("subsystem"),
        sftp_requests=len(SFTP_REQUEST.findall(sftp)),
    )


# ----------------------------------------------------------------------------- sides


@dataclass
class Tool:
    """One side of the comparison: a venv with a CLI (and, for pyinfra, an API)."""

    name: str  # ours | pyinfra3 | ansible
    venv_bin: Path | None = None
    version: str = ""
    reason: str = ""

    @property
    def available(self) -> bool:
        return self.venv_bin is not None


def ensure_tools(wanted: list[str], reinstall: bool) -> dict[str, Tool]:
    harness.VENV_ROOT.mkdir(parents=True, exist_ok=True)
    tools: dict[str, Tool] = {}
    for name in ("ours", "pyinfra3"):
        if name not in wanted:
            tools[name] = Tool(name, reason="not selected (--side)")
            continue
        side = harness.ensure_side(name, reinstall)
        tools[name] = Tool(
            name,
            side.python.parent if side.python else None,
            f"pyinfra {side.version}" if side.version else "",
            side.reason,
        )
    tools["ansible"] = (
        ensure_ansible(reinstall)
        if "ansible" in wanted
        else Tool("ansible", reason="not selected (--side)")
    )
    for tool in tools.values():
        log(f"[{tool.name}] {tool.version if tool.available else 'unavailable: ' + tool.reason}")
    return tools


def ensure_ansible(reinstall: bool) -> Tool:
    """bench/.venvs/ansible with ANSIBLE_SPEC from PyPI; unavailable (with the reason)
    when it cannot be installed here."""
    venv = harness.VENV_ROOT / "ansible"
    marker = venv / ".bench-installed"
    tool = Tool("ansible")
    if reinstall and venv.exists():
        shutil.rmtree(venv)
    if not (venv / "bin" / "python").exists():
        log(f"[ansible] creating venv {venv}")
        made = harness._call([sys.executable, "-m", "venv", str(venv)])
        if made.returncode != 0:
            tool.reason = f"venv creation failed: {harness._tail(made.stderr, 2)}"
            return tool
    if not (marker.exists() and marker.read_text() == ANSIBLE_SPEC):
        log(f"[ansible] pip install {ANSIBLE_SPEC}")
        pip = harness._call(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", ANSIBLE_SPEC]
        )
        if pip.returncode != 0:
            tool.reason = f"pip install {ANSIBLE_SPEC} failed: {harness._pip_error(pip.stderr)}"
            return tool
        marker.write_text(ANSIBLE_SPEC)
    probe = harness._call([str(venv / "bin" / "ansible"), "--version"], timeout=120)
    first = (probe.stdout.splitlines() or [""])[0]
    match = re.search(r"core ([\d.]+)", first)
    if probe.returncode != 0 or not match:
        tool.reason = f"`ansible --version` failed: {harness._tail(probe.stderr, 1)}"
        return tool
    tool.venv_bin, tool.version = venv / "bin", f"ansible-core {match.group(1)}"
    return tool


# ------------------------------------------------------------------------- workspace


class RunError(RuntimeError):
    def __init__(self, summary: str, detail: str = "") -> None:
        super().__init__(summary)
        self.detail = detail


@dataclass
class Workspace:
    """Inventories, deploy files and sources for every tool, in a private temp dir."""

    root: Path
    hosts: list[wan_net.Host]
    client_key: Path

    def pyinfra_inventory(self, count: int) -> Path:
        path = self.root / f"inventory_{count}.py"
        if not path.exists():
            hosts = [
                (
                    host.name,
                    {
                        "ssh_hostname": host.address,
                        "ssh_port": host.port,
                        "ssh_user": wan_net.USER,
                        "ssh_key": str(self.client_key),
                        "ssh_strict_host_key_checking": "off",
                        "ssh_known_hosts_file": "/dev/null",
                    },
                )
                for host in self.hosts[:count]
            ]
            path.write_text(f"hosts = {hosts!r}\n")
        return path

    def ansible_inventory(self, count: int) -> Path:
        path = self.root / f"inventory_{count}.json"  # JSON is YAML for Ansible
        if not path.exists():
            hosts = {
                host.name: {
                    "ansible_host": host.address,
                    "ansible_port": host.port,
                    "ansible_user": wan_net.USER,
                    "ansible_ssh_private_key_file": str(self.client_key),
                    "ansible_python_interpreter": "/usr/bin/python3",
                }
                for host in self.hosts[:count]
            }
            path.write_text(json.dumps({"all": {"hosts": hosts}}, indent=1))
        return path

    @property
    def sources(self) -> Path:
        return self.root / "src"

    @property
    def control_dir(self) -> Path:
        return self.root / "cp"

    def prepare(self) -> None:
        deploy20.make_sources(self.sources)
        (self.root / "deploy.py").write_text(deploy20.DEPLOY)
        (self.root / "playbook.json").write_text(json.dumps(ansible_playbook(), indent=1))
        self.control_dir.mkdir()
        (self.root / "ansible-local").mkdir()
        (self.root / "ansible.cfg").write_text(
            "\n".join(
                [
                    "[defaults]",
                    "host_key_checking = False",
                    "gathering = explicit",
                    "retry_files_enabled = False",
                    "interpreter_python = /usr/bin/python3",
                    "forks = 10",
                    "nocows = 1",
                    f"home = {self.root / 'ansible-home'}",
                    f"local_tmp = {self.root / 'ansible-local'}",
                    "[ssh_connection]",
                    "pipelining = True",
                    # Ansible's default ssh_args plus no known_hosts file.
                    "ssh_args = -C -o ControlMaster=auto -o ControlPersist=60s"
                    " -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no",
                    f"control_path_dir = {self.control_dir}",
                    "",
                ]
            )
        )

    def stop_control_masters(self) -> None:
        """End the ssh ControlPersist masters an ansible run left (each by its socket,
        then any survivor by its pid): every run starts from cold connections."""
        if not self.control_dir.is_dir():
            return
        for socket_path in self.control_dir.iterdir():
            subprocess.run(
                ["ssh", "-o", f"ControlPath={socket_path}", "-O", "exit", "x"],
                capture_output=True,
                check=False,
                timeout=30,
            )
        marker = str(self.control_dir) + "/"
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                with contextlib.suppress(OSError):
                    if marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                        wan_net._stop_pid(int(proc.name), marker)


def ansible_playbook() -> list[dict[str, Any]]:
    """deploy20's 20 operations as Ansible tasks, one task per pyinfra operation."""
    app = "{{ app }}"
    tasks: list[dict[str, Any]] = [
        {"name": "app dir", "file": {"path": app, "state": "directory", "mode": "0755"}},
        {
            "name": "conf dir",
            "file": {"path": f"{app}/conf.d", "state": "directory", "mode": "0750"},
        },
        {"name": "log dir", "file": {"path": f"{app}/log", "state": "directory"}},
    ]
    for i in range(4):
        tasks.append(
            {
                "name": f"put {i}",
                "copy": {
                    "src": f"{{{{ src }}}}/file{i}.conf",
                    "dest": f"{app}/conf.d/file{i}.conf",
                    "mode": "0640",
                },
            }
        )
    for i in range(3):
        tasks.append(
            {
                "name": f"template {i}",
                "template": {"src": f"{{{{ src }}}}/tpl{i}.j2", "dest": f"{app}/tpl{i}.conf"},
                "vars": {
                    "index": i,
                    "items": ["alpha", "beta", "gamma"],
                    "host": {"name": "{{ inventory_hostname }}"},
                },
            }
        )
    # state=touch without changing times: creates the file, then reports no change.
    touch = {"state": "touch", "modification_time": "preserve", "access_time": "preserve"}
    tasks += [
        {"name": "log file", "file": {"path": f"{app}/log/app.log", "mode": "0644", **touch}},
        {"name": "settings file", "file": {"path": f"{app}/settings.ini", "mode": "0644", **touch}},
    ]
    for i in range(4):
        tasks.append(
            {
                "name": f"line {i}",
                "lineinfile": {
                    "path": f"{app}/settings.ini",
                    "regexp": f"^key{i}=",
                    "line": f"key{i}=value{i}",
                },
            }
        )
    tasks += [
        {
            "name": "current link",
            "file": {"path": f"{app}/current", "src": f"{app}/conf.d", "state": "link"},
        },
        {"name": "shell uname", "shell": "uname -a > /dev/null"},
        {"name": "shell echo", "shell": "echo deployed > /dev/null"},
        {"name": "marker", "file": {"path": f"{app}/.deployed", **touch}},
    ]
    assert len(tasks) == 20
    return [
        {
            "hosts": "all",
            "gather_facts": False,
            "vars": {
                "base": "{{ lookup('env', 'DEPLOY20_BASE') }}/{{ inventory_hostname }}",
                "app": "{{ base }}/app",
                "src": "{{ lookup('env', 'DEPLOY20_SRC') }}",
            },
            "tasks": tasks,
        }
    ]


# -------------------------------------------------------------------------- scenarios


@dataclass
class Sample:
    """One measured run at one RTT."""

    seconds: float
    counts: dict[str, Counts]  # per host
    load1: float  # 1-minute load average when the run started
    cpu_seconds: float | None = None  # the CLI's CPU time (user + sys, waited-for children)
    server_cpu_seconds: float | None = None  # the hosts' sshds and all they started


@dataclass(frozen=True)
class Case:
    """One row of the result table."""

    key: str
    label: str
    hosts: int


CASES = {
    c.key: c
    for c in (
        Case("exec", "`exec -- true` (CLI)", 1),
        Case("facts20", "20 facts on an open connection (API)", 1),
        Case("connect", "connect + login (API, before the 20 facts)", 1),
        Case("nochange_1", "deploy20 no-change run (CLI)", 1),
        Case("first_1", "deploy20 first run (CLI)", 1),
        Case("nochange_5", "deploy20 no-change run (CLI)", 5),
        Case("first_5", "deploy20 first run (CLI)", 5),
    )
}
# Runs per tool, RTT and --repeat: the short scenarios run more often, as the start-up
# time of a CLI varies by a few round trips on a busy machine.
RUNS_PER_REPEAT = {"exec": 3, "facts": 3}
# --scenario choices -> the cases each produces
SCENARIOS = {
    "exec": ["exec"],
    "facts": ["facts20", "connect"],
    "deploy1": ["first_1", "nochange_1"],
    "deploy5": ["first_5", "nochange_5"],
}


def server_cpu(hosts: list[wan_net.Host]) -> float | None:
    """CPU seconds used so far by these hosts' sshds and everything they started."""
    values = [host.cpu_seconds() for host in hosts]
    return None if None in values else sum(v for v in values if v is not None)


def _group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group `pgid`."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
                members.append(int(entry.name))
    return members


def _kill_group(pgid: int, timeout: float = 3.0) -> None:
    """SIGKILL the process group `pgid` (a CLI started with start_new_session) and wait
    (up to `timeout`) until none of its processes is left running."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + timeout
    while _group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.01)


class Bench:
    def __init__(self, net: wan_net.Network, work: Workspace, tools: dict[str, Tool]) -> None:
        self.net = net
        self.work = work
        self.tools = tools
        self.probes: list[dict[str, Any]] = []  # RTT checks made before each batch of runs

    @property
    def hosts(self) -> list[wan_net.Host]:
        return self.net.hosts

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = harness.clean_env(extra)
        env["ANSIBLE_CONFIG"] = str(self.work.root / "ansible.cfg")
        env["ANSIBLE_NOCOLOR"] = "1"
        return env

    def run_cli(
        self, tool: Tool, argv: list[str], hosts: int, extra_env: dict[str, str] | None = None
    ) -> Sample:
        """Run one CLI process to completion: its wall time, its CPU time (with the
        children it waited for, from wait4) and what the servers saw meanwhile."""
        load1 = os.getloadavg()[0]
        before = log_offsets(self.hosts)
        server_before = server_cpu(self.hosts[:hosts])
        with tempfile.TemporaryFile() as output:
            started = time.perf_counter()
            try:
                # Its own process group: on a timeout, an error or Ctrl-C the whole
                # tree (Ansible's forks and ssh clients too) is killed by that group id.
                proc = subprocess.Popen(
                    argv,
                    cwd=self.work.root,
                    env=self.env(extra_env),
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                # Wait on a pidfd (no timer thread): the main thread stays the one a
                # signal interrupts, and the wait ends the moment the CLI exits.
                pidfd = os.pidfd_open(proc.pid)
                try:
                    if not select.select([pidfd], [], [], RUN_TIMEOUT)[0]:
                        _kill_group(proc.pid)  # timed out
                    _, status, usage = os.wait4(proc.pid, 0)
                except BaseException:
                    _kill_group(proc.pid)
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(proc.pid, 0)
                    raise
                finally:
                    os.close(pidfd)
                seconds = time.perf_counter() - started
            finally:
                if tool.name == "ansible":
                    self.work.stop_control_masters()
            _kill_group(proc.pid)  # anything else the CLI left running in its group
            code = os.waitstatus_to_exitcode(status)
            proc.returncode = code
            output.seek(0)
            text = output.read().decode(errors="replace")
        after = log_offsets(self.hosts)
        server_after = server_cpu(self.hosts[:hosts])
        if code != 0:
            reason = f"killed by signal {-code}" if code < 0 else f"exited {code}"
            raise RunError(
                f"{Path(argv[0]).name} {reason}: {harness._summarize(text)}", text[-4000:]
            )
        counts = {h.name: count_between(h, before, after) for h in self.hosts[:hosts]}
        server = None
        if server_before is not None and server_after is not None:
            server = server_after - server_before
        return Sample(seconds, counts, load1, usage.ru_utime + usage.ru_stime, server)

    # ---- the scenarios: each returns {case key: Sample}

    def exec_true(self, tool: Tool) -> dict[str, Sample]:
        assert tool.venv_bin is not None
        if tool.name == "ansible":
            argv = [
                str(tool.venv_bin / "ansible"),
                "wan1",
                "-i",
                str(self.work.ansible_inventory(1)),
                "-m",
                "command",
                "-a",
                "true",
            ]
        else:
            argv = [
                str(tool.venv_bin / "pyinfra"),
                "-y",
                str(self.work.pyinfra_inventory(1)),
                "exec",
                "--",
                "true",
            ]
        return {"exec": self.run_cli(tool, argv, 1)}

    def facts(self, tool: Tool) -> dict[str, Sample]:
        assert tool.venv_bin is not None
        host = self.hosts[0]
        extra = {
            "BENCH_HOST": host.address,
            "BENCH_PORT": str(host.port),
            "BENCH_USER": wan_net.USER,
            "BENCH_KEY": str(self.work.client_key),
            "BENCH_COUNT_LOGS": f"{host.sshd_log},{host.sftp_log}",
        }
        # A script that reads facts regularly: FACT_PREFETCH remembers which facts it
        # read (never the values) in a query cache; one unmeasured run fills it.
        queries = self.work.root / f"fact-queries-{tool.name}"
        extra["BENCH_CONFIG"] = json.dumps(
            {"FACT_PREFETCH": True, "FACT_QUERY_CACHE_DIR": str(queries)}
        )
        if not queries.exists():
            subprocess.run(
                [str(tool.venv_bin / "python"), str(SCENARIO_DIR / "ssh_facts.py")],
                cwd=SCENARIO_DIR,
                env=self.env(extra),
                capture_output=True,
                timeout=RUN_TIMEOUT,
                check=False,
            )
        load1 = os.getloadavg()[0]
        before = log_offsets(self.hosts)
        proc = subprocess.run(
            [str(tool.venv_bin / "python"), str(SCENARIO_DIR / "ssh_facts.py")],
            cwd=SCENARIO_DIR,
            env=self.env(extra),
            capture_output=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        after = log_offsets(self.hosts)
        lines = proc.stdout.decode(errors="replace").strip().splitlines()
        try:
            result = json.loads(lines[-1]) if lines else {}
        except json.JSONDecodeError:
            result = {}
        if proc.returncode != 0 or "error" in result or "seconds" not in result:
            text = str(result.get("error") or proc.stderr.decode(errors="replace"))
            raise RunError(
                f"ssh_facts.py exited {proc.returncode}: {harness._summarize(text)}", text[-4000:]
            )
        offsets = result["log_offsets"]
        timed_before = {path: offsets[path][0] for path in offsets}
        timed_after = {path: offsets[path][1] for path in offsets}
        # The 20 reads alone; everything else the process did counts as its connect.
        timed = count_between(host, {**before, **timed_before}, {**after, **timed_after})
        whole = count_between(host, before, after)
        connect = Counts(*(a - b for a, b in zip(astuple(whole), astuple(timed), strict=True)))
        return {
            "facts20": Sample(
                result["seconds"], {host.name: timed}, load1, result.get("cpu_seconds")
            ),
            "connect": Sample(result["connect_seconds"], {host.name: connect}, load1),
        }

    def deploy(self, tool: Tool, hosts: int) -> dict[str, Sample]:
        """deploy20 into a fresh directory: the first run, then the no-change run."""
        assert tool.venv_bin is not None
        base = Path(tempfile.mkdtemp(prefix=wan_net.DEPLOY_PREFIX, dir=wan_net.TEMP_ROOT))
        base.chmod(0o777)  # the hosts' user creates its directories in here
        extra = {"DEPLOY20_BASE": str(base), "DEPLOY20_SRC": str(self.work.sources)}
        if tool.name == "ansible":
            argv = [
                str(tool.venv_bin / "ansible-playbook"),
                "-i",
                str(self.work.ansible_inventory(hosts)),
                str(self.work.root / "playbook.json"),
            ]
        else:
            argv = [
                str(tool.venv_bin / "pyinfra"),
                "-y",
                str(self.work.pyinfra_inventory(hosts)),
                str(self.work.root / "deploy.py"),
            ]
        try:
            first = self.run_cli(tool, argv, hosts, extra)
            missing = [
                h.name
                for h in self.hosts[:hosts]
                if not (base / h.name / "app" / ".deployed").exists()
            ]
            if missing:
                raise RunError(f"the first run left no marker file on {', '.join(missing)}")
            second = self.run_cli(tool, argv, hosts, extra)
        finally:
            shutil.rmtree(base, ignore_errors=True)
        return {f"first_{hosts}": first, f"nochange_{hosts}": second}

    def runner(self, scenario: str) -> tuple[Callable[[Tool], dict[str, Sample]], list[str]]:
        """The function measuring `scenario` and the tools it applies to."""
        if scenario == "exec":
            return self.exec_true, ["ours", "pyinfra3", "ansible"]
        if scenario == "facts":
            return self.facts, ["ours", "pyinfra3"]  # no equivalent API in Ansible
        hosts = 1 if scenario == "deploy1" else wan_net.MAX_HOSTS
        return (lambda tool: self.deploy(tool, hosts)), ["ours", "pyinfra3", "ansible"]


# ------------------------------------------------------------------------ measurement


@dataclass
class CaseResult:
    """All samples of one case on one tool."""

    status: str = "ok"  # ok | error | unavailable | n/a
    reason: str = ""
    detail: str = ""
    samples: dict[int, list[Sample]] = field(default_factory=dict)  # rtt_ms -> runs

    def wall(self, rtt: int) -> float | None:
        runs = self.samples.get(rtt) or []
        return statistics.median(s.seconds for s in runs) if runs else None

    def per_host(self, rtt: int) -> Counts | None:
        """Median over the runs at `rtt` of the counts averaged over the hosts."""
        runs = self.samples.get(rtt) or []
        if not runs:
            return None
        means = []
        for sample in runs:
            total = Counts()
            for counts in sample.counts.values():
                total = total + counts
            means.append([value / len(sample.counts) for value in astuple(total)])
        return Counts(*(statistics.median(column) for column in zip(*means, strict=True)))

    def cpu(self, rtt: int, server: bool = False) -> float | None:
        """Median CPU seconds of the client (or, with `server`, of all the servers)."""
        runs = self.samples.get(rtt) or []
        values = [s.server_cpu_seconds if server else s.cpu_seconds for s in runs]
        known = [v for v in values if v is not None]
        return statistics.median(known) if known else None

    def pair_round_trips(self, rtt: int) -> list[float]:
        """Round trips from each pair of runs made back to back (run i at 0 and at rtt)."""
        pairs = zip(self.samples.get(0) or [], self.samples.get(rtt) or [], strict=False)
        return [(slow.seconds - fast.seconds) / (rtt / 1000) for fast, slow in pairs]

    def cpu_bound(self) -> bool:
        """Whether client and servers together kept more than CPU_BOUND cores busy at
        RTT 0 (see CPU_BOUND)."""
        client, server, wall = self.cpu(0), self.cpu(0, server=True), self.wall(0)
        if client is None or wall is None:
            return False
        return client + (server or 0.0) > CPU_BOUND * wall


def measure(
    bench: Bench, scenarios: list[str], repeat: int, rtt: int
) -> dict[str, dict[str, CaseResult]]:
    results: dict[str, dict[str, CaseResult]] = {
        case: {name: CaseResult() for name in bench.tools}
        for s in scenarios
        for case in SCENARIOS[s]
    }
    for scenario in scenarios:
        function, applies = bench.runner(scenario)
        for name, tool in bench.tools.items():
            for case in SCENARIOS[scenario]:
                if name not in applies:
                    results[case][name] = CaseResult("n/a", "no equivalent")
                elif not tool.available:
                    results[case][name] = CaseResult("unavailable", tool.reason)
        for index in range(repeat):
            # Alternate the order of RTTs and of tools so drift hits every side alike.
            rtts = [0, rtt] if index % 2 == 0 else [rtt, 0]
            names = list(bench.tools) if index % 2 == 0 else list(reversed(bench.tools))
            for current in rtts:
                bench.net.set_delay(current / 2)
                probe = bench.net.measure_rtt(samples=5)
                bench.probes.append({"rtt_ms": current, "hosts": probe})
                for name in names:
                    tool = bench.tools[name]
                    cases = SCENARIOS[scenario]
                    if any(results[case][name].status != "ok" for case in cases):
                        continue
                    for _ in range(RUNS_PER_REPEAT.get(scenario, 1)):
                        try:
                            samples = function(tool)
                        except (RunError, subprocess.TimeoutExpired, OSError) as error:
                            detail = getattr(error, "detail", "")
                            for case in cases:
                                results[case][name] = CaseResult("error", str(error), detail)
                            log(f"[{name}] {scenario} rtt {current}: ERROR {error}")
                            break
                        finally:
                            bench.net.check_alive()
                        for case, sample in samples.items():
                            results[case][name].samples.setdefault(current, []).append(sample)
                            log(
                                f"[{name}] {case} rtt {current} ms, repeat {index + 1}/{repeat}:"
                                f" {sample.seconds:.3f}s, load {sample.load1:.1f}"
                            )
    return results


# --------------------------------------------------------------------------- reporting


def round_trips(result: CaseResult, rtt: int) -> float | None:
    slow, fast = result.wall(rtt), result.wall(0)
    if slow is None or fast is None:
        return None
    return (slow - fast) / (rtt / 1000)


def _cell(result: CaseResult, rtt: int) -> str:
    if result.status != "ok":
        return result.status if result.status == "n/a" else f"{result.status}"
    trips, slow = round_trips(result, rtt), result.wall(rtt)
    if trips is None or slow is None:
        return "-"
    return f"{trips:.1f} ({slow:.2f} s)" + (" †" if result.cpu_bound() else "")


def header(tool: Tool) -> str:
    """Column title: `this project`, `pyinfra 3.10.0`, `ansible-core 2.19.14 (pipelining)`."""
    if tool.name == "ours" or not tool.version:
        return SIDE_LABELS[tool.name]
    return tool.version + (" (pipelining)" if tool.name == "ansible" else "")


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown(
    results: dict[str, dict[str, CaseResult]],
    tools: dict[str, Tool],
    rtt: int,
    meta: dict[str, Any],
) -> str:
    names = list(tools)
    heads = [header(tools[n]) for n in names]
    lines = [
        f"Round trips per host = (wall time at RTT {rtt} ms - wall time at RTT 0) / {rtt} ms;"
        f" wall time at RTT {rtt} ms in parentheses; median of {meta['repeat']} runs"
        f" ({meta['repeat'] * RUNS_PER_REPEAT['exec']} for the exec, facts and connect rows).",
        "",
        f"| per host, RTT {rtt} ms | " + " | ".join(heads) + " |",
        "|---|" + "---|" * len(names),
    ]
    for key, case in CASES.items():
        if key in results:
            row = [_cell(results[key][n], rtt) for n in names]
            lines.append(
                f"| {case.label}, {case.hosts} host{'s' if case.hosts > 1 else ''} | "
                + " | ".join(row)
                + " |"
            )
    lines += [
        "",
        "† CPU-bound: client and servers together kept more than one core busy at RTT 0"
        " (CPU columns below); on this machine's shared cores such a run waits for CPU at"
        " RTT 0 and overlaps CPU work with network waits at RTT 50, so its round trips are"
        " less reliable (see the per-pair range).",
        "",
        "Details: round trips from the medians and, in brackets, from each pair of runs"
        " made back to back (min-max); CPU time at RTT 0 of the client (the CLI process and"
        " the children it waited for; for the facts row, the timed reads only) and of all"
        " the servers (each host's sshd and everything it started, from cgroup cpuacct);"
        " logins, commands, sftp sessions and sftp requests per host, counted by the"
        f" servers (median of the runs at RTT {rtt} ms).",
        "",
        f"| case | tool | wall RTT 0 | wall RTT {rtt} | round trips | client CPU | server CPU"
        " | logins | commands | sftp sessions | sftp requests |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, case in CASES.items():
        if key not in results:
            continue
        for name in names:
            result = results[key][name]
            if result.status != "ok":
                if result.status != "n/a":
                    reason = result.reason.replace("|", "/")
                    lines.append(f"| {key} | {name} | {result.status}: {reason} |" + " |" * 8)
                continue
            counts = result.per_host(rtt)
            numbers = [_fmt(v, 1) for v in astuple(counts)] if counts else ["-"] * 4
            pairs = result.pair_round_trips(rtt)
            spread = f" [{min(pairs):.1f}-{max(pairs):.1f}]" if len(pairs) > 1 else ""
            cpu = [result.cpu(0), result.cpu(0, server=True)]
            lines.append(
                f"| {key} ({case.hosts}h) | {name} | {_fmt(result.wall(0))} s"
                f" | {_fmt(result.wall(rtt))} s | {_fmt(round_trips(result, rtt), 1)}{spread}"
                + "".join(f" | {_fmt(c)}{' s' if c is not None else ''}" for c in cpu)
                + " | "
                + " | ".join(numbers)
                + " |"
            )
    load = meta["load1"]
    probe = meta["measured_rtt_ms"]
    lines += [
        "",
        f"Measured RTT (TCP connect to each sshd, median): {_fmt(probe.get('0'))} ms at"
        f" RTT 0, {_fmt(probe.get(str(rtt)))} ms at RTT {rtt}."
        f" 1-minute load average during the runs: {_fmt(load['min'], 1)}-{_fmt(load['max'], 1)}"
        f" (median {_fmt(load['median'], 1)}) on {meta['cpus']} CPUs."
        f" Commit {meta['commit']}, {meta['timestamp']}.",
    ]
    return "\n".join(lines) + "\n"


def to_json(
    results: dict[str, dict[str, CaseResult]],
    tools: dict[str, Tool],
    rtt: int,
    meta: dict[str, Any],
    probes: list[dict[str, Any]],
) -> dict[str, Any]:
    cases: dict[str, Any] = {}
    for key, by_tool in results.items():
        cases[key] = {"label": CASES[key].label, "hosts": CASES[key].hosts, "tools": {}}
        for name, result in by_tool.items():
            counts = result.per_host(rtt)
            cases[key]["tools"][name] = {
                "status": result.status,
                "reason": result.reason,
                "detail": result.detail,
                "wall_seconds": {"0": result.wall(0), str(rtt): result.wall(rtt)},
                "round_trips_per_host": round_trips(result, rtt),
                "round_trips_per_run_pair": result.pair_round_trips(rtt),
                "cpu_seconds_at_0": result.cpu(0),
                "server_cpu_seconds_at_0": result.cpu(0, server=True),
                "cpu_bound": result.cpu_bound(),
                "per_host_counts": asdict(counts) if counts else None,
                "runs": {
                    str(r): [
                        {
                            "seconds": s.seconds,
                            "cpu_seconds": s.cpu_seconds,
                            "server_cpu_seconds": s.server_cpu_seconds,
                            "load1": s.load1,
                            "counts": {h: asdict(c) for h, c in s.counts.items()},
                        }
                        for s in runs
                    ]
                    for r, runs in result.samples.items()
                },
            }
    return {
        "meta": {
            **meta,
            "tools": {
                n: {"available": t.available, "version": t.version, "reason": t.reason}
                for n, t in tools.items()
            },
        },
        "rtt_probes": probes,
        "cases": cases,
    }


def git_commit() -> str:
    head = subprocess.run(
        ["git", "-C", str(harness.REPO_ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(harness.REPO_ROOT), "status", "--porcelain", "src"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return (head or "unknown") + ("+dirty src" if dirty else "")


# ------------------------------------------------------------------------------- main


@contextlib.contextmanager
def network(count: int) -> Iterator[wan_net.Network]:
    """The benchmark network, torn down on exit, on errors, on Ctrl-C and on SIGTERM."""

    def terminate(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminate)
    net = wan_net.Network(count)
    try:
        log(f"[net] building {count} hosts in namespaces {wan_net.netns_name(1)}..")
        net.up()
        yield net
    finally:
        log("[net] tearing down")
        net.down()
        signal.signal(signal.SIGTERM, previous)


def verify(net: wan_net.Network, rtt: int, samples: int = 20) -> dict[str, dict[str, Any]]:
    """Measure the RTT at delay 0 and at `rtt`; raise NetError if it is far off."""
    report: dict[str, dict[str, Any]] = {}
    for current in (0, rtt):
        net.set_delay(current / 2)
        probe = net.measure_rtt(samples)
        report[str(current)] = probe
        for host, stats in probe.items():
            log(
                f"[verify] RTT {current:>3} ms target, {host}: median {stats['median_ms']:.2f} ms"
                f" (min {stats['min_ms']:.2f}, max {stats['max_ms']:.2f},"
                f" stdev {stats['stdev_ms']:.2f})"
            )
        medians = [stats["median_ms"] for stats in probe.values()]
        if current and not rtt * 0.9 <= statistics.median(medians) <= rtt * 1.2 + 2:
            raise wan_net.NetError(
                f"measured RTT {statistics.median(medians):.1f} ms, expected {rtt} ms"
            )
    return report


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "command", nargs="?", default="run", choices=["run", "verify", "up", "cleanup"]
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per RTT and tool (3)")
    parser.add_argument("--rtt", type=int, default=50, help="round-trip time in ms (50)")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=list(SCENARIOS),
        help="run only this scenario (repeatable; default: all)",
    )
    parser.add_argument(
        "--side",
        action="append",
        choices=list(SIDE_LABELS),
        help="run only this tool (repeatable; default: all)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=DEFAULT_JSON,
        help=f"results file (default {DEFAULT_JSON}; markdown next to it)",
    )
    parser.add_argument("--reinstall", action="store_true", help="recreate the venvs")
    parser.add_argument(
        "--purge", action="store_true", help="cleanup: also remove the cached keys and the user"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.rtt < 1:
        parser.error("--repeat and --rtt must be >= 1")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.command == "cleanup":
        try:
            removed = wan_net.cleanup(args.purge)
        except wan_net.NetError as error:
            log(f"wan: {error}")
            return 2
        log(f"cleanup: {len(removed)} item(s) removed")
        return 0
    try:
        wan_net.check_requirements()
    except wan_net.NetError as error:
        log(f"wan: {error}")
        return 2
    scenarios = args.scenario or list(SCENARIOS)
    hosts = wan_net.MAX_HOSTS if "deploy5" in scenarios or args.command != "run" else 1
    try:
        with network(hosts) as net:
            probes = verify(net, args.rtt)
            if args.command == "verify":
                return 0
            if args.command == "up":
                log(
                    f"[net] up: {', '.join(f'{h.name}={h.address}:{h.port}' for h in net.hosts)}"
                    f" user {wan_net.USER} key {net.client_key}; Ctrl-C to tear down"
                )
                while True:
                    time.sleep(3600)
            return run_benchmark(args, net, scenarios, probes)
    except wan_net.NetError as error:
        log(f"wan: {error}")
        return 2
    except KeyboardInterrupt:
        log("wan: interrupted, everything stopped and removed")
        return 130


def run_benchmark(
    args: argparse.Namespace, net: wan_net.Network, scenarios: list[str], probes: dict[str, Any]
) -> int:
    tools = ensure_tools(args.side or list(SIDE_LABELS), args.reinstall)
    root = Path(tempfile.mkdtemp(prefix=wan_net.RUN_PREFIX, dir=wan_net.TEMP_ROOT))
    work = Workspace(root, net.hosts, net.client_key)
    try:
        work.prepare()
        bench = Bench(net, work, tools)
        started = time.monotonic()
        results = measure(bench, scenarios, args.repeat, args.rtt)
        elapsed = time.monotonic() - started
        loads = [
            s.load1
            for by_tool in results.values()
            for r in by_tool.values()
            for runs in r.samples.values()
            for s in runs
        ]
        all_probes = [{"rtt_ms": int(k), "hosts": v} for k, v in probes.items()]
        all_probes += bench.probes
        measured = {
            str(r): statistics.median(
                stats["median_ms"]
                for p in all_probes
                if p["rtt_ms"] == r
                for stats in p["hosts"].values()
            )
            for r in (0, args.rtt)
        }
        meta = {
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": git_commit(),
            "host": platform.node(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "repeat": args.repeat,
            "rtt_ms": args.rtt,
            "hosts": [h.name for h in net.hosts],
            "measured_rtt_ms": measured,
            "load1": {
                "min": min(loads, default=0.0),
                "max": max(loads, default=0.0),
                "median": statistics.median(loads) if loads else 0.0,
            },
            "elapsed_seconds": elapsed,
            "round_trips": "(wall at rtt_ms - wall at 0) / rtt_ms, medians",
        }
    finally:
        work.stop_control_masters()
        shutil.rmtree(root, ignore_errors=True)
    table = markdown(results, tools, args.rtt, meta)
    print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(to_json(results, tools, args.rtt, meta, all_probes), indent=1) + "\n"
    )
    args.json.with_suffix(".md").write_text(table)
    log(f"results written to {args.json} and {args.json.with_suffix('.md')}")
    failed = any(r.status == "error" for by_tool in results.values() for r in by_tool.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
