#!/usr/bin/env python3
"""100 MB of command output: the CLI (`pyinfra -y TARGET exec -- CMD`) and the API
(`host.run_shell_command(CMD)`), ours and pyinfra 3.10, side by side: wall time of the
whole process and its peak RSS.

    python3 bench/huge_output.py [--size-mb 100] [--repeat 3] [--targets local,ssh]
                                 [--side ours|pyinfra3] [--json OUT]

The command prints ``--size-mb`` MB of 96-byte lines (``yes ... | head -c``). The CLI
writes its output to /dev/null (not a terminal: plain lines); the API keeps it, as its
callers get it. ``ssh`` runs against a throwaway sshd on 127.0.0.1 (a port of
42720-42729, user ``pyi-flt-bench`` with a plain /bin/sh, key login; needs root and
openssh-server). Sides: ``/opt/pyinfra310/bin/python`` (or PYINFRA310_PYTHON) and
``.venv/bin/python`` (or PYINFRA_OURS_PYTHON); PYINFRA_OURS_PATH prepends a source tree
to ours (to measure another checkout with the same venv). Medians are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIDES = {
    "ours": Path(os.environ.get("PYINFRA_OURS_PYTHON", ROOT / ".venv" / "bin" / "python")),
    "pyinfra3": Path(os.environ.get("PYINFRA310_PYTHON", "/opt/pyinfra310/bin/python")),
}
USER = "pyi-flt-bench"
LINE = "0123456789abcdefghijklmnopqrstuvwxyz" * 2 + "0123456789abcdefghijk"  # 95 + \n

API_SCRIPT = """
import json, sys, time
from pyinfra.api import Config, Inventory, State
name, data, command = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
inventory = Inventory(([(name, data)], {}))
state = State(inventory, Config())
host = inventory.get_host(name)
host.connect(raise_exceptions=True)
started = time.monotonic()
ok, output = host.run_shell_command(command)
lines = len(list(output))
seconds = time.monotonic() - started
host.disconnect()
print(json.dumps({"ok": bool(ok), "lines": lines, "command_seconds": seconds}))
"""


def _measure(argv: list[str], env: dict[str, str], quiet: bool) -> dict[str, Any]:
    """Run ``argv``; wall seconds, peak RSS (MB) and its last stdout line (JSON) if any."""
    out = subprocess.DEVNULL if quiet else subprocess.PIPE
    started = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.DEVNULL)
    stdout = b""
    if not quiet:
        assert proc.stdout is not None
        stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - started
    result: dict[str, Any] = {
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "status": os.waitstatus_to_exitcode(status),
    }
    lines = stdout.decode(errors="replace").strip().splitlines()
    if lines:
        result.update(json.loads(lines[-1]))
    return result


def _env(side: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    extra = os.environ.get("PYINFRA_OURS_PATH")
    if side == "ours" and extra:
        env["PYTHONPATH"] = extra
    return env


def _targets(names: list[str], work: Path) -> tuple[dict[str, tuple[str, dict[str, Any]]], Any]:
    targets: dict[str, tuple[str, dict[str, Any]]] = {}
    server = None
    if "local" in names:
        targets["local"] = ("@local", {})
    if "ssh" in names:
        from tests.helpers.sshd import SSHServer, ensure_user, generate_client_key

        ensure_user(USER, shell="/bin/sh")
        key = generate_client_key(work, name="id_ed25519")
        for port in range(42720, 42730):
            server = SSHServer(port=port, host_key_types=["ed25519"])
            try:
                server.start()
                break
            except RuntimeError:
                server.stop()
                server = None
        if server is None:
            raise SystemExit("no free port for sshd in 42720-42729")
        server.authorize_key(USER, key.with_name(key.name + ".pub"))
        targets["ssh"] = (
            "127.0.0.1",
            {
                "ssh_port": server.port,
                "ssh_user": USER,
                "ssh_key": str(key),
                "ssh_known_hosts_file": "/dev/null",
                "ssh_strict_host_key_checking": "off",
                "ssh_allow_agent": False,
                "ssh_look_for_keys": False,
            },
        )
    return targets, server


def _cli_argv(python: Path, name: str, data: dict[str, Any], command: str) -> list[str]:
    argv = [str(python), "-m", "pyinfra", "-y", name]
    for key, value in data.items():
        argv += ["--data", f"{key}={value}"]
    return [*argv, "exec", "--", command]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--targets", default="local,ssh")
    parser.add_argument("--side", choices=sorted(SIDES), action="append")
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    sides = args.side or list(SIDES)
    command = f"yes {LINE} | head -c {args.size_mb * 1000 * 1000}"
    work = Path(tempfile.mkdtemp(prefix="pyi-flt-bench-"))
    targets, server = _targets(args.targets.split(","), work)
    runs: dict[str, list[dict[str, Any]]] = {}
    try:
        for target, (name, data) in targets.items():
            for index in range(args.repeat):
                order = sides if index % 2 == 0 else list(reversed(sides))
                for side in order:
                    python, env = SIDES[side], _env(side)
                    cli = _measure(_cli_argv(python, name, data, command), env, quiet=True)
                    runs.setdefault(f"{target} cli {side}", []).append(cli)
                    api_argv = [str(python), "-c", API_SCRIPT, name, json.dumps(data), command]
                    api = _measure(api_argv, env, quiet=False)
                    runs.setdefault(f"{target} api {side}", []).append(api)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    medians: dict[str, dict[str, float]] = {}
    print(f"\n{args.size_mb} MB of output, median of {args.repeat}")
    print(f"  {'run':<26} {'seconds':>9} {'peak RSS MB':>12} {'exit':>5}")
    for key, values in runs.items():
        seconds = statistics.median(v["seconds"] for v in values)
        rss = statistics.median(v["peak_rss_mb"] for v in values)
        medians[key] = {"seconds": seconds, "peak_rss_mb": rss}
        status = ",".join(sorted({str(v["status"]) for v in values}))
        print(f"  {key:<26} {seconds:>9.2f} {rss:>12.1f} {status:>5}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"runs": runs, "medians": medians}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
