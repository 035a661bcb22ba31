"""deploy20: a 20-operation deploy (directories, files, lines, templates, links, shell)
run through the CLI twice: first run (everything changes), second run (nothing does).

Uses the `pyinfra` console script next to the running interpreter, so the same file
benchmarks our package and pyinfra 3.x. Targets: `@local` by default; the SSH hosts in
BENCH_HOSTS (comma-separated; BENCH_USER, BENCH_KEY, BENCH_PORT as for ssh_true); or,
with BENCH_HOST and BENCH_FANOUT=N, N inventory hosts that all reach that one sshd
(at the addresses in BENCH_FANOUT_ADDRESSES when set, as bench/local_sshd.py provides;
each host deploys into its own directory: many SSH hosts on one machine).
Reports wall time of each run (CLI start-up included, as a user sees it) and, on
@local, the commands each run executed (counted by an `sh` shim on PATH that logs every
shell started by a shell: the commands the tool ran, for both tools alike).

Environment: BENCH_HOSTS (default @local), BENCH_ROUNDS (1: timed first+second runs
per process; the median is reported).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = Path(sys.executable).parent / "pyinfra"

DEPLOY = """\
import os
from pyinfra.operations import files, server

from pyinfra import host

BASE = os.environ["DEPLOY20_BASE"] + "/" + host.name
SRC = os.environ["DEPLOY20_SRC"]
APP = BASE + "/app"

files.directory(name="app dir", path=APP, mode=755)
files.directory(name="conf dir", path=APP + "/conf.d", mode=750)
files.directory(name="log dir", path=APP + "/log")
for i in range(4):
    files.put(name=f"put {i}", src=f"{SRC}/file{i}.conf", dest=f"{APP}/conf.d/file{i}.conf",
              mode=640)
for i in range(3):
    files.template(name=f"template {i}", src=f"{SRC}/tpl{i}.j2", dest=f"{APP}/tpl{i}.conf",
                   index=i, items=["alpha", "beta", "gamma"])
files.file(name="log file", path=APP + "/log/app.log", mode=644)
files.file(name="settings file", path=APP + "/settings.ini", mode=644)
for i in range(4):
    files.line(name=f"line {i}", path=APP + "/settings.ini", line=f"^key{i}=",
               replace=f"key{i}=value{i}")
files.link(name="current link", path=APP + "/current", target=APP + "/conf.d")
server.shell(name="shell uname", commands=["uname -a > /dev/null"])
server.shell(name="shell echo", commands=["echo deployed > /dev/null"])
files.file(name="marker", path=APP + "/.deployed")
"""

TEMPLATE = """# generated for {{ host.name }} (template {{ index }})
{% for item in items %}
item_{{ loop.index }} = {{ item }}
{% endfor %}
"""

SHIM = """#!/bin/sh
# count shells started by a shell (the tool's commands), then run the real sh
read -r parent < /proc/$PPID/comm
[ "$parent" = sh ] && echo x >> "$DEPLOY20_COUNT"
exec /bin/sh "$@"
"""


def fail(message: str) -> None:
    print(json.dumps({"error": message}))
    sys.exit(2)


def make_sources(src: Path) -> None:
    src.mkdir(parents=True)
    for i in range(4):
        (src / f"file{i}.conf").write_text(f"# file {i}\n" + "setting = value\n" * 50)
    for i in range(3):
        (src / f"tpl{i}.j2").write_text(TEMPLATE)


def fanout_inventory(workdir: Path) -> Path:
    """An inventory file of BENCH_FANOUT aliases of the sshd at BENCH_HOST."""
    data = {
        "ssh_hostname": os.environ["BENCH_HOST"],
        "ssh_port": int(os.environ.get("BENCH_PORT") or 22),
        "ssh_strict_host_key_checking": "off",
        "ssh_known_hosts_file": "/dev/null",
    }
    if os.environ.get("BENCH_USER"):
        data["ssh_user"] = os.environ["BENCH_USER"]
    if os.environ.get("BENCH_KEY"):
        data["ssh_key"] = os.environ["BENCH_KEY"]
    count = int(os.environ["BENCH_FANOUT"])
    # distinct listen addresses of the same sshd when the harness provides them
    addresses = [a for a in os.environ.get("BENCH_FANOUT_ADDRESSES", "").split(",") if a]
    hosts = [
        (f"host{i:02d}", {**data, "ssh_hostname": addresses[i]} if i < len(addresses) else data)
        for i in range(count)
    ]
    path = workdir / "inventory.py"
    path.write_text(f"hosts = {hosts!r}\n")
    return path


def inventory_args(workdir: Path) -> list[str]:
    if os.environ.get("BENCH_FANOUT") and os.environ.get("BENCH_HOST"):
        return [str(fanout_inventory(workdir))]
    hosts = os.environ.get("BENCH_HOSTS", "").strip()
    if not hosts:
        return ["@local"]
    args = [hosts, "--data", "ssh_strict_host_key_checking=off"]
    args += ["--data", "ssh_known_hosts_file=/dev/null"]
    for env, flag in (("BENCH_USER", "--user"), ("BENCH_KEY", "--key"), ("BENCH_PORT", "--port")):
        if os.environ.get(env):
            args += [flag, os.environ[env]]
    return args


def run_cli(workdir: Path, base: str, src: Path, extra_env: dict[str, str]) -> float:
    env = dict(os.environ, DEPLOY20_BASE=base, DEPLOY20_SRC=str(src), **extra_env)
    argv = [str(CLI), "-y", *inventory_args(workdir), str(workdir / "deploy.py")]
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, check=False)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        tail = (proc.stderr + proc.stdout).decode(errors="replace")[-3000:]
        fail(f"{' '.join(argv)} exited {proc.returncode}: {tail}")
    return seconds


def main() -> None:
    if not CLI.exists():
        fail(f"no console script at {CLI}")
    rounds = int(os.environ.get("BENCH_ROUNDS") or 1)
    local = not os.environ.get("BENCH_HOSTS") and not os.environ.get("BENCH_FANOUT")
    firsts: list[float] = []
    seconds: list[float] = []
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="pyinfra-bench-deploy20-") as tmp:
        workdir = Path(tmp)
        (workdir / "deploy.py").write_text(DEPLOY)
        src = workdir / "src"
        make_sources(src)
        for index in range(rounds):
            base = f"/tmp/pyinfra-bench-deploy20-{os.getpid()}-{index}-{os.path.basename(tmp)}"
            try:
                firsts.append(run_cli(workdir, base, src, {}))
                seconds.append(run_cli(workdir, base, src, {}))
            finally:
                if local or os.environ.get("BENCH_HOST", "").startswith("127."):
                    shutil.rmtree(base, ignore_errors=True)
        if local:
            shim_dir = workdir / "shim"
            shim_dir.mkdir()
            (shim_dir / "sh").write_text(SHIM)
            (shim_dir / "sh").chmod(0o755)
            base = f"/tmp/pyinfra-bench-deploy20-{os.getpid()}-count"
            try:
                for label in ("first", "second"):
                    log = workdir / f"count-{label}"
                    log.touch()
                    run_cli(
                        workdir,
                        base,
                        src,
                        {"PATH": f"{shim_dir}:{os.environ['PATH']}", "DEPLOY20_COUNT": str(log)},
                    )
                    counts[label] = len(log.read_text().splitlines())
            finally:
                shutil.rmtree(base, ignore_errors=True)
    result: dict[str, float | int] = {
        "seconds": statistics.median(firsts) + statistics.median(seconds),
        "first_run_seconds": statistics.median(firsts),
        "second_run_seconds": statistics.median(seconds),
        "ops": 20,
        "hosts": int(os.environ.get("BENCH_FANOUT") or 0)
        or len([h for h in os.environ.get("BENCH_HOSTS", "@local").split(",") if h]),
        "runs": rounds,
    }
    if counts:
        result["first_run_commands"] = counts["first"]
        result["second_run_commands"] = counts["second"]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
