"""ssh_exec_fanout: `pyinfra -y INVENTORY exec -- uname -a` on many SSH hosts at once.

The hosts are the distinct loopback addresses in BENCH_FANOUT_ADDRESSES (comma-separated;
`bench/local_sshd.py` listens on 127.0.0.2-127.0.0.51 and exports them), all served by
the sshd at BENCH_PORT (BENCH_USER, BENCH_KEY as for ssh_true). BENCH_FANOUT_N (50) of
them are used. Runs the `pyinfra` console script next to the running interpreter (the
venv's), one discarded warm-up then BENCH_RUNS (3) timed runs; reports the median wall
time (CLI start-up included, as a user sees it) and the CLI's peak RSS.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = Path(sys.executable).parent / "pyinfra"


def fail(message: str) -> None:
    print(json.dumps({"error": message}))
    sys.exit(2)


addresses = [a for a in os.environ.get("BENCH_FANOUT_ADDRESSES", "").split(",") if a]
count = int(os.environ.get("BENCH_FANOUT_N") or 50)
runs = int(os.environ.get("BENCH_RUNS") or 3)
if len(addresses) < count:
    fail(f"BENCH_FANOUT_ADDRESSES has {len(addresses)} addresses, {count} needed")
if not CLI.exists():
    fail(f"no console script at {CLI}")

data = {
    "ssh_port": int(os.environ.get("BENCH_PORT") or 22),
    "ssh_strict_host_key_checking": "off",
    "ssh_known_hosts_file": "/dev/null",
}
if os.environ.get("BENCH_USER"):
    data["ssh_user"] = os.environ["BENCH_USER"]
if os.environ.get("BENCH_KEY"):
    data["ssh_key"] = os.environ["BENCH_KEY"]
hosts = [(address, data) for address in addresses[:count]]


def run_once(workdir: str) -> float:
    argv = [str(CLI), "-y", "inventory.py", "exec", "--", "uname", "-a"]
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True)
    seconds = time.perf_counter() - started
    output = (proc.stdout + proc.stderr).decode(errors="replace")
    if proc.returncode != 0 or output.count("Linux") < count:
        fail(f"{' '.join(argv)} exited {proc.returncode}: {output[-2000:]}")
    return seconds


with tempfile.TemporaryDirectory(prefix="pyinfra-bench-fanout-") as workdir:
    Path(workdir, "inventory.py").write_text(f"hosts = {hosts!r}\n")
    run_once(workdir)
    times = [run_once(workdir) for _ in range(runs)]

children = resource.getrusage(resource.RUSAGE_CHILDREN)
print(
    json.dumps(
        {
            "seconds": statistics.median(times),
            "min_seconds": min(times),
            "max_seconds": max(times),
            "hosts": count,
            "runs": runs,
            "cli_peak_rss_kb": children.ru_maxrss,
        }
    )
)
