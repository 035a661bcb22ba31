"""The README's example deploy: changes on the first run, none on the second."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def run(base: Path, *extra: str) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pyinfra",
            "@local",
            str(ROOT / "examples" / "local_deploy.py"),
            "--data",
            f"base={base}",
            "--json",
            "-y",
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    payload: dict[str, object] = json.loads(result.stdout)
    return payload


def changed(payload: dict[str, object]) -> list[bool]:
    hosts = payload["hosts"]
    assert isinstance(hosts, dict)
    return [bool(op["changed"]) for op in hosts["@local"]["operations"]]


def test_example_deploy_is_idempotent(tmp_path: Path) -> None:
    base = tmp_path / "site-root"
    dry = run(base, "--dry")
    assert all(changed(dry)) and not base.exists()
    first = run(base)
    assert all(changed(first)) and len(changed(first)) == 6
    assert (base / "site" / "index.html").read_text() == "<h1>Hello from pyinfra</h1>\n"
    assert "workers = 2" in (base / "app.conf").read_text()
    assert (base / "allow.list").read_text() == "127.0.0.1\n"
    assert os.readlink(base / "current") == str(base / "site")
    second = run(base)
    assert not any(changed(second))
