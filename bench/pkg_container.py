#!/usr/bin/env python3
"""A container for the ``pkg10`` scenario: the packages it manages already installed.

    python3 bench/pkg_container.py start     # prints: export BENCH_PKG_CONTAINER=...
    python3 bench/pkg_container.py stop NAME

Needs root, dockerd and the image of scripts/setup-pkg.sh (built if missing).
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "pyi-pkg-target:bookworm"
STATE = r"""set -e
gpg --batch --yes --dearmor -o /etc/apt/keyrings/pyi.gpg /srv/pyi/keys/pyi-repo.asc
echo 'deb [signed-by=/etc/apt/keyrings/pyi.gpg] file:/srv/pyi/apt ./' \
  > /etc/apt/sources.list.d/pyi.list
apt-get update -qq
mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/update-success-stamp
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tree pyi-hello pyi-tool pyi-other \
  /srv/pyi/debs/pyi-local_1.0_all.deb >/dev/null
python3 -m venv /opt/venv && /opt/venv/bin/pip install -q six==1.16.0 toml
"""


def start() -> str:
    if subprocess.run(["bash", str(ROOT / "scripts" / "setup-pkg.sh")], check=False).returncode:
        raise SystemExit("scripts/setup-pkg.sh failed")
    name = f"pyi-pkg-bench-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "run", "-d", "--name", name, IMAGE], check=True, capture_output=True)
    prepared = subprocess.run(
        ["docker", "exec", "-i", name, "bash", "-c", STATE],
        capture_output=True,
        text=True,
        check=False,
    )
    if prepared.returncode != 0:
        stop(name)
        raise SystemExit(f"preparing {name} failed: {prepared.stderr.strip()}")
    return name


def stop(name: str) -> None:
    subprocess.run(["docker", "rm", "-f", name], check=False, capture_output=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["start"]:
        print(f"export BENCH_PKG_CONTAINER={start()}")
    elif sys.argv[1:2] == ["stop"] and len(sys.argv) == 3:
        stop(sys.argv[2])
    else:
        raise SystemExit(__doc__)
