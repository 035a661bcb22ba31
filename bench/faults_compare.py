#!/usr/bin/env python3
"""Faults, side by side: pyinfra 3.10, ours before issue 15 (optional) and ours.

    python3 bench/faults_compare.py [--before-src DIR] [--side NAME ...] [--json OUT]
                                    [--only SCENARIO ...]

Starts the fault lab of tests/integration/faults (an sshd container with MaxSessions
10, this machine's sshd in a network namespace, a container for @docker; needs root,
dockerd, iproute2) and runs each scenario of bench/faults_child.py with each
interpreter, injecting the fault from here:

* ``stall``: ``sleep 60`` with ``_timeout=5``; its sshd session is SIGSTOPped once the
  command runs, SIGCONTed when the call returned. Time to return, the message, and
  whether the command still runs 3 s after the recovery.
* ``dead_peer``: the same without ``_timeout`` (ours: keepalive 5 s x 2); a call that has
  not returned after 75 s is reported as blocked.
* ``frozen_listener``: connect (CONNECT_TIMEOUT=5) to a SIGSTOPped sshd listener.
* ``wrong_sudo``: ``_sudo_password="wrong"``: time, message, sudo runs (sudo's log).
* ``burst``: 200 concurrent ``echo`` on one host of MaxSessions 10: how many succeed.
* ``lost_upload``: sftp upload whose sshd session is SIGKILLed after 4 MB: the
  exception, and the temp files left on the target (after a reconnect, for ours).
* ``docker_stdin``: ``echo`` fed 1 MB it never reads; ``docker_missing_dir``: a 20 MB
  upload into a missing directory.
* ``ctrl_c_command`` / ``ctrl_c_upload``: the CLI on the three targets, SIGINT while
  ``sleep 60`` runs / while a 24 MB upload is under way (SSH links at 40 Mbit/s, the
  container's ``cat`` stopped): what it says, and what is left running or lying around.

``--before-src``: a source tree of ours to run as "before" (``git archive REV src``),
with our venv. Interpreters: /opt/pyinfra310/bin/python (PYINFRA310_PYTHON),
.venv/bin/python (PYINFRA_OURS_PYTHON).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import engines  # noqa: E402
from tests.integration.faults.faultkit import (  # noqa: E402
    CONTAINER_USER,
    PASSWORD_USER,
    SUDO_LOG,
    FaultLab,
    comm,
    descendants,
    docker_diff,
    kill_processes_with,
    processes_with,
    signal_all,
    wait_for,
)

CHILD = ROOT / "bench" / "faults_child.py"
PYTHONS = {
    "pyinfra3": Path(os.environ.get("PYINFRA310_PYTHON", "/opt/pyinfra310/bin/python")),
    "before": Path(os.environ.get("PYINFRA_OURS_PYTHON", ROOT / ".venv" / "bin" / "python")),
    "ours": Path(os.environ.get("PYINFRA_OURS_PYTHON", ROOT / ".venv" / "bin" / "python")),
}
SCENARIOS = (
    "stall", "dead_peer", "frozen_listener", "wrong_sudo", "burst", "lost_upload",
    "docker_stdin", "docker_missing_dir", "ctrl_c_command", "ctrl_c_upload",
)  # fmt: skip


def _env(side: str, before_src: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    if side == "before" and before_src:
        env["PYTHONPATH"] = before_src
    return env


class Child:
    """A faults_child.py process: read its lines, answer on its stdin."""

    def __init__(self, side: str, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [str(PYTHONS[side]), str(CHILD), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.done = threading.Event()
        self.stderr = ""
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.strip()
            if line == "READY":
                self.ready.set()
            elif line.startswith("{"):
                self.lines.append(line)
                self.done.set()
        self.done.set()

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        self.stderr = self.proc.stderr.read()

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def wait_result(self, timeout: float) -> dict[str, Any]:
        """The result line, without waiting for the process to end."""
        if not self.done.wait(timeout) or not self.lines:
            self.proc.kill()
            self.proc.wait()
            return {"blocked": f"no answer within {timeout:g} s"}
        return dict(json.loads(self.lines[-1]))

    def result(self, timeout: float) -> dict[str, Any]:
        if not self.done.wait(timeout) or not self.lines:
            self.proc.kill()
            self.proc.wait()
            return {"blocked": f"no answer within {timeout:g} s"}
        with_result: dict[str, Any] = json.loads(self.lines[-1])
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if self.stderr.strip():
            with_result["stderr_lines"] = len(self.stderr.strip().splitlines())
        return with_result


def run(lab: FaultLab, scenario: str, side: str, env: dict[str, str]) -> dict[str, Any]:
    ssh1 = lab.ssh1_address
    data = lab.ssh_data("ssh1")
    token = f"pyi-flt-bench-{uuid.uuid4().hex[:8]}"
    if scenario in ("stall", "dead_peer"):
        if side == "ours":
            data.update(ssh_server_alive_interval=5, ssh_server_alive_count_max=2)
        # the token travels in the environment: the child's own argv must not match it
        child = Child(side, {**env, "PYI_FLT_TOKEN": token}, scenario, ssh1, json.dumps(data))
        stopped: list[int] = []
        if child.ready.wait(60) and wait_for(lambda: bool(processes_with(token)), 20):
            stopped = lab.sessions("ssh1", CONTAINER_USER)
            signal_all(stopped, signal.SIGSTOP)
        result = child.wait_result(75)
        signal_all(stopped, signal.SIGCONT)
        time.sleep(3)
        result["still_running_3s_after_recovery"] = bool(processes_with(token))
        if child.proc.poll() is None:
            child.go()
        child.result(30)
        kill_processes_with(token)
        return result
    if scenario == "frozen_listener":
        child = Child(side, env, scenario, ssh1, json.dumps(data))
        child.ready.wait(60)
        listener = lab.listener("ssh1")
        os.kill(listener, signal.SIGSTOP)
        try:
            child.go()
            return child.result(60)
        finally:
            os.kill(listener, signal.SIGCONT)
    if scenario == "wrong_sudo":

        def entries() -> int:
            log = engines.cli("docker", "exec", lab.ssh1, "cat", SUDO_LOG, check=False).stdout
            return log.count(f" : {PASSWORD_USER} : ")

        before = entries()
        data["ssh_user"] = PASSWORD_USER
        result = Child(side, env, scenario, ssh1, json.dumps(data)).result(90)
        result["sudo_runs"] = entries() - before
        return result
    if scenario == "burst":
        return Child(side, env, scenario, ssh1, json.dumps(data), "200").result(180)
    if scenario == "lost_upload":
        target = f"/tmp/{token}.bin"
        before_temps = set(docker_diff(lab.ssh1))
        child = Child(side, env, scenario, ssh1, json.dumps(data), target)
        if child.ready.wait(60):
            signal_all(lab.sessions("ssh1", CONTAINER_USER), signal.SIGKILL)
            time.sleep(0.3)
            child.go()
        result = child.result(60)  # it connects again after the failure
        result["temp_files_left"] = sorted(set(docker_diff(lab.ssh1)) - before_temps)
        return result
    if scenario in ("docker_stdin", "docker_missing_dir"):
        result = Child(side, env, scenario, f"@docker/{lab.box}", "{}").result(300)
        return result
    if scenario.startswith("ctrl_c"):
        return _ctrl_c(lab, scenario, side, env, token)
    raise SystemExit(f"unknown scenario {scenario}")


def _ctrl_c(
    lab: FaultLab, scenario: str, side: str, env: dict[str, str], token: str
) -> dict[str, Any]:
    work = lab.work / f"cli-{token}"
    work.mkdir()
    hosts = [
        (lab.ssh1_address, lab.ssh_data("ssh1")),
        (lab.ssh2_address, lab.ssh_data("ssh2")),
        f"@docker/{lab.box}",
    ]
    (work / "inventory.py").write_text(f"hosts = {hosts!r}\n")
    dest = f"/tmp/{token}"
    before = {"ssh1": set(docker_diff(lab.ssh1)), "box": set(docker_diff(lab.box))}
    if scenario == "ctrl_c_upload":
        for container in (lab.ssh1, lab.box):
            engines.cli("docker", "exec", container, "install", "-d", "-m", "1777", dest)
        os.mkdir(dest)
        os.chmod(dest, 0o1777)
        (work / "payload.bin").write_bytes(os.urandom(24 << 20))
        deploy = f'files.put(name="payload", src="payload.bin", dest="{dest}/payload.bin")'
        module = "files"
    else:
        deploy = f'server.shell(name="long", commands=["sleep 60 # {token}"])'
        module = "server"
    (work / "deploy.py").write_text(
        textwrap.dedent(f"from pyinfra.operations import {module}\n{deploy}\n")
    )
    stalled: list[int] = []
    shim = int(
        Path(f"/proc/{lab.container_pid(lab.box)}/stat").read_text().rsplit(")")[1].split()[1]
    )
    watching = threading.Event()
    watching.set()

    def stall() -> None:
        while watching.is_set() and not stalled and scenario == "ctrl_c_upload":
            for pid in descendants(shim):
                if comm(pid) == "cat":
                    os.kill(pid, signal.SIGSTOP)
                    stalled.append(pid)

    def listing(target: str) -> list[str]:
        if target == "ssh2":
            return os.listdir(dest) if os.path.isdir(dest) else []
        container = lab.ssh1 if target == "ssh1" else lab.box
        return engines.cli(
            "docker", "exec", container, "ls", "-A", dest, check=False
        ).stdout.split()

    def under_way() -> bool:
        if scenario == "ctrl_c_command":
            return len({os.readlink(f"/proc/{p}/ns/net") for p in processes_with(token)}) >= 3
        return bool(stalled) and all(
            any("pyinfra" in name for name in listing(t)) for t in ("ssh1", "ssh2", "box")
        )

    watcher = threading.Thread(target=stall, daemon=True)
    watcher.start()
    result: dict[str, Any] = {}
    with lab.slow_links("40mbit"):
        started = time.monotonic()
        cli = subprocess.Popen(
            [str(PYTHONS[side]), "-m", "pyinfra", "-y", "inventory.py", "deploy.py"],
            cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        result["under_way"] = wait_for(under_way, 30)
        cli.send_signal(signal.SIGINT)
        sigint = time.monotonic()
        try:
            stdout, stderr = cli.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            cli.kill()
            stdout, stderr = cli.communicate()
        result["seconds_after_sigint"] = round(time.monotonic() - sigint, 2)
        result["seconds"] = round(sigint - started, 2)
    watching.clear()
    signal_all(stalled, signal.SIGCONT)
    lines = [line for line in (stderr + stdout).splitlines() if line.strip()]
    result["message"] = next((line for line in lines if "nterrupt" in line), lines[-1:])
    result["error_lines"] = sum("Error" in line or "error" in line for line in stdout.splitlines())
    time.sleep(2)
    result["still_running"] = len(processes_with(token))
    if scenario == "ctrl_c_upload":
        result["temp_files_left"] = {
            "ssh1": sorted(set(docker_diff(lab.ssh1)) - before["ssh1"]),
            "box": sorted(set(docker_diff(lab.box)) - before["box"]),
            "ssh2": [n for n in listing("ssh2") if "pyinfra" in n],
        }
        subprocess.run(["rm", "-rf", dest], check=False)
    kill_processes_with(token)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--before-src")
    parser.add_argument("--side", action="append", choices=sorted(PYTHONS))
    parser.add_argument("--only", action="append", choices=SCENARIOS)
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    sides = args.side or (
        ["pyinfra3", "before", "ours"] if args.before_src else ["pyinfra3", "ours"]
    )
    lab = FaultLab().start()
    results: dict[str, dict[str, Any]] = {}
    try:
        for scenario in args.only or SCENARIOS:
            for side in sides:
                outcome = run(lab, scenario, side, _env(side, args.before_src))
                results.setdefault(scenario, {})[side] = outcome
                print(f"{scenario:<20} {side:<9} {json.dumps(outcome)[:400]}", flush=True)
    finally:
        lab.stop()
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
