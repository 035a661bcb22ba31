"""Time the issue 14 acceptance deploy (bench/sys/deploy.py) with pyinfra 3.10's CLI and
with ours, over @docker and @ssh, on fresh systemd containers: the first run (every
operation changes something) and the second (nothing to do).

    python bench/compare_sys_deploy.py [--repeat 3]

Each run is a whole CLI process (start-up, connect, facts, commands). Prints a
Markdown table of median wall times. Containers are named pyi-sys-bench-* and removed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.syskit import systemd_box  # noqa: E402

CLIS = {"pyinfra 3.10": "/opt/pyinfra310/bin/pyinfra", "ours": str(ROOT / ".venv/bin/pyinfra")}
DEPLOY = ROOT / "bench" / "sys" / "deploy.py"


def inventory(box: object, via: str, directory: Path) -> str:
    if via == "docker":
        return f"@docker/{box.name}"  # type: ignore[attr-defined]
    data = box.ssh_data()  # type: ignore[attr-defined]
    path = directory / "inventory.py"
    path.write_text(f"hosts = [('127.0.0.1', {data!r})]\n")
    return str(path)


def timed(cli: str, target: str) -> float:
    started = time.monotonic()
    result = subprocess.run(
        [cli, "-y", target, str(DEPLOY)], capture_output=True, text=True, cwd=ROOT, check=False
    )
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"{cli} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    times: dict[tuple[str, str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="pyi-sys-bench-") as tmp:
        for _ in range(args.repeat):
            for via in ("docker", "ssh"):
                for side, cli in CLIS.items():
                    with systemd_box(ssh=True) as box:
                        target = inventory(box, via, Path(tmp))
                        times.setdefault((via, side, "first"), []).append(timed(cli, target))
                        times.setdefault((via, side, "second"), []).append(timed(cli, target))
    print("| connector | run | pyinfra 3.10 (s) | ours (s) | ours faster by |")
    print("|---|---|---|---|---|")
    for via in ("docker", "ssh"):
        for run in ("first", "second"):
            theirs = statistics.median(times[(via, "pyinfra 3.10", run)])
            ours = statistics.median(times[(via, "ours", run)])
            print(f"| @{via} | {run} | {theirs:.2f} | {ours:.2f} | {theirs / ours:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
