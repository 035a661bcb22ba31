"""Run a deploy with the ``pyinfra`` CLI of the running interpreter against one SSH host
reached through a :class:`ByteRelay`, and measure wall time and bytes each way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _relay import ByteRelay

CLI = Path(sys.executable).parent / "pyinfra"


def fail(message: str) -> None:
    print(json.dumps({"error": message}))
    sys.exit(2)


def write_inventory(workdir: Path, relay: ByteRelay) -> Path:
    data: dict[str, Any] = {
        "ssh_hostname": "127.0.0.1",
        "ssh_port": relay.port,
        "ssh_strict_host_key_checking": "off",
        "ssh_known_hosts_file": "/dev/null",
    }
    if os.environ.get("BENCH_USER"):
        data["ssh_user"] = os.environ["BENCH_USER"]
    if os.environ.get("BENCH_KEY"):
        data["ssh_key"] = os.environ["BENCH_KEY"]
    path = workdir / "inventory.py"
    path.write_text(f"hosts = [('bench', {data!r})]\n")
    return path


def run_deploy(
    workdir: Path, relay: ByteRelay, deploy: str, env: dict[str, str]
) -> dict[str, float]:
    """One CLI run of ``deploy``: seconds, sent_kb, received_kb."""
    (workdir / "deploy.py").write_text(deploy)
    inventory = write_inventory(workdir, relay)
    relay.reset()
    started = time.perf_counter()
    proc = subprocess.run(
        [str(CLI), "-y", str(inventory), "deploy.py"],
        cwd=workdir,
        env={**os.environ, **env},
        capture_output=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        fail(f"pyinfra exited {proc.returncode}: {(proc.stdout + proc.stderr).decode()[-2000:]}")
    time.sleep(0.05)  # let the relay threads count the last bytes
    return {"seconds": seconds, "sent_kb": relay.sent / 1024, "received_kb": relay.received / 1024}
