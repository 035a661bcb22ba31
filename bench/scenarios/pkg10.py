"""pkg10: a deploy of 10 package operations on packages that are already installed
(apt, apt.deb, apt.update with cache_time, pip in a virtualenv), run through the CLI
on a prepared container: wall time (median of BENCH_RUNS, default 3) and the commands
the tool executed, counted in one more run with ``-vvv``, where both tools print each
command they run on the host (``[host] >>> cmd`` in pyinfra 3.x, ``[host] $ cmd`` here).

Needs BENCH_PKG_CONTAINER: a running container made by ``bench/pkg_container.py start``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = Path(sys.executable).parent / "pyinfra"

DEPLOY = """\
from pyinfra.operations import apt, pip

apt.update(name="apt update (cached)", cache_time=3600)
apt.packages(name="tree", packages=["tree"])
apt.packages(name="pinned", packages=["pyi-hello=2.0"])
apt.packages(name="with dependency", packages=["pyi-tool", "pyi-dep"])
apt.packages(name="no recommends", packages=["pyi-other"], no_recommends=True)
apt.packages(name="absent", packages=["hello"], present=False)
apt.deb(name="deb file", src="/srv/pyi/debs/pyi-local_1.0_all.deb")
pip.packages(name="pip pinned", packages=["six==1.16.0"], virtualenv="/opt/venv")
pip.packages(name="pip", packages=["toml"], virtualenv="/opt/venv")
apt.packages(name="dependency alone", packages=["pyi-dep"])
"""


def fail(message: str) -> None:
    print(json.dumps({"error": message}))
    sys.exit(2)


def run_cli(argv: list[str], cwd: str) -> str:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        fail(f"{' '.join(argv)} exited {proc.returncode}: {(proc.stderr + proc.stdout)[-2000:]}")
    return proc.stdout + proc.stderr


def main() -> None:
    container = os.environ.get("BENCH_PKG_CONTAINER")
    if not container:
        fail("BENCH_PKG_CONTAINER is not set (bench/pkg_container.py start)")
    runs = int(os.environ.get("BENCH_RUNS") or 3)
    seconds: list[float] = []
    commands: list[int] = []
    with tempfile.TemporaryDirectory(prefix="pyi-pkg-bench-") as tmp:
        deploy = Path(tmp) / "deploy.py"
        deploy.write_text(DEPLOY)
        argv = [str(CLI), "-y", f"@docker/{container}", str(deploy)]
        for _ in range(runs):
            started = time.perf_counter()
            run_cli(argv, tmp)
            seconds.append(time.perf_counter() - started)
        output = run_cli([*argv[:2], "-vvv", *argv[2:]], tmp)
        commands.append(
            sum(
                1
                for line in output.splitlines()
                if line.startswith("[") and ("] >>> " in line or "] $ " in line)
            )
        )
    result = {
        "seconds": statistics.median(seconds),
        "commands_executed": statistics.median(commands),
        "ops": 10,
        "runs": runs,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
