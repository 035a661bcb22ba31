"""cli_startup: wall time of `pyinfra -y @local exec -- true` as a subprocess.

Uses the `pyinfra` console script next to the running interpreter (the venv's
bin/pyinfra). One discarded warm-up run, then BENCH_RUNS (default 10) timed runs;
reports the median. Does not import pyinfra itself.
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

runs = int(os.environ.get("BENCH_RUNS") or 10)
cli = Path(sys.executable).parent / "pyinfra"
argv = [str(cli), "-y", "@local", "exec", "--", "true"]


def run_once(cwd: str) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).decode(errors="replace")[-2000:]
        print(json.dumps({"error": f"{' '.join(argv)} exited {proc.returncode}: {tail}"}))
        sys.exit(2)
    return seconds


if not cli.exists():
    print(json.dumps({"error": f"no console script at {cli}"}))
    sys.exit(2)

# An empty cwd so neither CLI picks up a stray config.py / inventory / group_data.
with tempfile.TemporaryDirectory(prefix="pyinfra-bench-cli-") as workdir:
    run_once(workdir)
    times = [run_once(workdir) for _ in range(runs)]

children = resource.getrusage(resource.RUSAGE_CHILDREN)
print(
    json.dumps(
        {
            "seconds": statistics.median(times),
            "min_seconds": min(times),
            "max_seconds": max(times),
            "runs": runs,
            "child_cpu_seconds": (children.ru_utime + children.ru_stime) / (runs + 1),
        }
    )
)
