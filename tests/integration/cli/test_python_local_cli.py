"""python.call / python.raise_exception and ``from pyinfra import local`` through the
CLI (``pyinfra @local deploy.py`` and ``@docker/...``), as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers.fileskit import TARGETS

PYINFRA = [sys.executable, "-m", "pyinfra_cli"]


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    return subprocess.run(
        [*PYINFRA, "-y", *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env
    )


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


DEPLOY = """\
    import os
    from pyinfra import host, local
    from pyinfra.operations import files, python

    OUT = os.environ["PYI_OUT"]

    def record(word):
        # runs when the deploy reaches this step, with the host in context; an operation
        # called here runs at once on that host
        files.line(path=OUT + "/log", line=f"call {host.name} {word}")
        return "ignored"

    python.call(name="record a word", function=record, word="hello")
    local.include("tasks/web.py", data={"port": 8080, "role": "default"})
    local.include("tasks/web.py", data={"port": 9090})
    files.line(path=OUT + "/log", line="shell " + local.shell("echo from-controller"))
"""

WEB = """\
    import os
    from pyinfra import host
    from pyinfra.operations import files

    line = f"web port={host.data.port} role={host.data.role}"
    files.line(path=os.environ["PYI_OUT"] + "/log", line=line)
"""


def _target_names() -> list[str]:
    return [t.id for t in TARGETS if t.id in ("local", "docker")]


@pytest.mark.parametrize("target_id", _target_names())
def test_call_and_include_through_the_cli(tmp_path: Path, target_id: str) -> None:
    target = next(t for t in TARGETS if t.id == target_id)
    reason = target.unavailable()
    if reason:
        pytest.skip(f"{target_id}: {reason}")
    target.prepare()
    _write(tmp_path / "deploy.py", DEPLOY)
    _write(tmp_path / "tasks" / "web.py", WEB)
    out = "/tmp/pyi-files-cli-" + tmp_path.name
    os.environ["PYI_OUT"] = out
    subprocess.run(["sh", "-c", f"rm -rf {out}"], check=True)
    try:
        inventory = target.inventory_name
        mkdir = _cli(tmp_path, inventory, "exec", "--", f"mkdir -p {out}")
        assert mkdir.returncode == 0, mkdir.stderr
        first = _cli(tmp_path, inventory, "deploy.py", "--data", "role=web")
        assert first.returncode == 0, first.stdout + first.stderr
        log = _cli(tmp_path, inventory, "exec", "--", f"cat {out}/log")
        lines = [line.split("] ", 1)[-1] for line in log.stdout.splitlines() if "] " in line]
        assert [line for line in lines if line.startswith(("call", "web", "shell"))] == [
            f"call {inventory} hello",
            "web port=8080 role=web",  # include data are defaults: --data wins
            "web port=9090 role=web",
            "shell from-controller",
        ]
        dry = _cli(tmp_path, inventory, "--dry", "deploy.py", "--data", "role=web", "--json")
        assert dry.returncode == 0, dry.stderr
    finally:
        os.environ.pop("PYI_OUT", None)
        if target_id == "local":
            subprocess.run(["rm", "-rf", out], check=False)


def test_errors_are_one_line(tmp_path: Path) -> None:
    _write(
        tmp_path / "missing.py",
        """\
        from pyinfra import local
        local.include("tasks/nope.py")
        """,
    )
    _write(
        tmp_path / "raises.py",
        """\
        from pyinfra.operations import python

        def check_disk():
            raise ValueError("disk is full")

        python.call(function=check_disk)
        """,
    )
    _write(
        tmp_path / "explicit.py",
        """\
        from pyinfra.operations import python
        python.raise_exception(NotImplementedError, "not on this host")
        """,
    )
    missing = _cli(tmp_path, "@local", "missing.py")
    assert missing.returncode != 0
    assert (
        f"local.include: file not found: {tmp_path}/tasks/nope.py"
        in missing.stdout + missing.stderr
    )
    raised = _cli(tmp_path, "@local", "raises.py")
    text = raised.stdout + raised.stderr
    assert raised.returncode != 0
    assert "raised ValueError: disk is full (" in text and "raises.py, line 4)" in text
    explicit = _cli(tmp_path, "@local", "explicit.py")
    assert explicit.returncode != 0
    assert "NotImplementedError: not on this host" in explicit.stdout + explicit.stderr


def test_call_results_in_json(tmp_path: Path) -> None:
    """A dry run does not call the function; a real run does and reports the step."""
    marker = tmp_path / "called"
    _write(
        tmp_path / "deploy.py",
        f"""\
        from pathlib import Path
        from pyinfra.operations import python

        python.call(name="touch marker", function=lambda: Path({str(marker)!r}).touch())
        """,
    )
    dry = _cli(tmp_path, "@local", "--dry", "--json", "deploy.py")
    assert dry.returncode == 0 and not marker.exists()
    real = _cli(tmp_path, "@local", "--json", "deploy.py")
    assert real.returncode == 0 and marker.exists()
    report = json.loads(real.stdout[real.stdout.index("{") :])
    assert "touch marker" in json.dumps(report)
