#!/usr/bin/env python3
"""files.rsync vs files.sync (1,000 files) and files.line on a 10 MB file over SSH:
ours vs pyinfra 3.10, side by side (wall time and bytes sent/received).

    python3 bench/files_compare.py [--repeat 3] [--json OUT]

Starts its own sshd on 127.0.0.1 (a port of 42200-42249; user ``pyifilesbench`` with a
plain /bin/sh, key login), runs bench/scenarios/ssh_rsync_sync.py and ssh_line_10mb.py
with both interpreters (pyinfra 3.10: /opt/pyinfra310/bin/python or PYINFRA310_PYTHON;
ours: .venv/bin/python or PYINFRA_OURS_PYTHON), alternating which goes first, and
prints medians. Needs root, openssh-server and rsync. The same scenarios also run under
bench/run.py (they are registered there).
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.sshd import SSHServer, ensure_user, generate_client_key  # noqa: E402

SIDES = {
    "ours": Path(os.environ.get("PYINFRA_OURS_PYTHON", ROOT / ".venv" / "bin" / "python")),
    "pyinfra3": Path(os.environ.get("PYINFRA310_PYTHON", "/opt/pyinfra310/bin/python")),
}
SCENARIOS = ("ssh_rsync_sync", "ssh_line_10mb")
USER = "pyifilesbench"


def run_scenario(python: Path, name: str, env: dict[str, str]) -> dict[str, float]:
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run(
        [str(python), str(ROOT / "bench" / "scenarios" / f"{name}.py")],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    data: dict[str, float] = json.loads(lines[-1]) if lines else {"error": proc.stderr[-500:]}
    if "error" in data:
        raise SystemExit(f"{python} {name}: {data['error']}")
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    ensure_user(USER, shell="/bin/sh")
    keys = Path(tempfile.mkdtemp(prefix="pyi-files-benchkey-"))
    key = generate_client_key(keys)
    results: dict[str, dict[str, list[dict[str, float]]]] = {s: {} for s in SCENARIOS}
    for port in range(42200, 42250):
        server = SSHServer(port=port, host_key_types=["ed25519"])
        try:
            server.start()
            break
        except Exception:  # noqa: BLE001 - port taken: try the next one
            server.stop()
    else:
        raise SystemExit("no free port for sshd in 42200-42249")
    try:
        server.authorize_key(USER, key.with_name(key.name + ".pub"))
        key.chmod(0o600)
        env = {
            "BENCH_HOST": "127.0.0.1",
            "BENCH_PORT": str(server.port),
            "BENCH_USER": USER,
            "BENCH_KEY": str(key),
            "BENCH_REMOTE_DIR": "/tmp",
        }
        for name in SCENARIOS:
            for index in range(args.repeat):
                order = list(SIDES) if index % 2 == 0 else list(reversed(SIDES))
                for side in order:
                    data = run_scenario(SIDES[side], name, env)
                    results[name].setdefault(side, []).append(data)
    finally:
        server.stop()
        shutil.rmtree(keys, ignore_errors=True)
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for name, sides in results.items():
        print(f"\n{name} (median of {args.repeat})")
        keys_seen = [k for k in sides["ours"][0] if k != "files" and k != "size_mb"]
        print(f"  {'metric':<28} {'ours':>12} {'pyinfra 3.10':>14}")
        summary[name] = {}
        for metric in keys_seen:
            ours = statistics.median(run[metric] for run in sides["ours"])
            theirs = statistics.median(run[metric] for run in sides["pyinfra3"])
            summary[name][metric] = {"ours": ours, "pyinfra3": theirs}
            print(f"  {metric:<28} {ours:>12.3f} {theirs:>14.3f}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"runs": results, "medians": summary}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
