"""A deploy without ``-y``: planned on every host first, shown, applied only once a
person at a terminal says yes; errors in deploy code stop it before any change."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT / "src"), COLUMNS="200")


def run(
    *args: str, cwd: Path, stdin: int | None = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyinfra", *args],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=cwd,
        stdin=stdin,
        timeout=120,
    )


def run_at_terminal(*args: str, cwd: Path, answer: bytes) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdin; type ``answer`` at the prompt."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "pyinfra", *args],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=cwd,
    )
    os.close(slave)
    assert process.stderr is not None
    errors = process.stderr.fileno()
    seen = b""
    deadline = time.monotonic() + 60
    answered = False
    while process.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([master, errors], [], [], 0.2)
        if errors in ready:
            seen += os.read(errors, 4096)
        if master in ready:
            try:
                seen += os.read(master, 4096)
            except OSError:
                pass
        if not answered and b"Apply these changes?" in seen:
            os.write(master, answer)
            answered = True
    out, err = process.communicate(timeout=60)
    os.close(master)
    return process.returncode, (out + seen + err).decode(errors="replace")


def _deploy(tmp_path: Path, body: str) -> Path:
    deploy = tmp_path / "deploy.py"
    deploy.write_text("from pyinfra.operations import files, server\n" + body)
    return deploy


def test_without_yes_and_no_terminal_nothing_changes(tmp_path: Path) -> None:
    deploy = _deploy(tmp_path, f"files.directory(path='{tmp_path}/made')\n")
    result = run("@local", str(deploy), cwd=tmp_path)
    assert result.returncode == 1
    assert "Would change" in result.stdout and "files.directory" in result.stdout
    assert "changes not applied: stdin is not a terminal" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "made").exists()


def test_confirm_at_a_terminal_applies(tmp_path: Path) -> None:
    deploy = _deploy(tmp_path, f"files.directory(path='{tmp_path}/made')\n")
    code, output = run_at_terminal("@local", str(deploy), cwd=tmp_path, answer=b"y\n")
    assert code == 0, output
    assert (tmp_path / "made").is_dir()
    assert output.index("Would change") < output.index("Apply these changes?")


def test_answer_no_changes_nothing(tmp_path: Path) -> None:
    deploy = _deploy(tmp_path, f"files.directory(path='{tmp_path}/made')\n")
    code, output = run_at_terminal("@local", str(deploy), cwd=tmp_path, answer=b"n\n")
    assert code == 1 and "changes not applied" in output
    assert not (tmp_path / "made").exists()


def test_no_changes_needs_no_question(tmp_path: Path) -> None:
    (tmp_path / "made").mkdir()
    deploy = _deploy(tmp_path, f"files.directory(path='{tmp_path}/made')\n")
    result = run("@local", str(deploy), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes to apply" in result.stdout


def test_error_in_deploy_code_stops_before_any_change(tmp_path: Path) -> None:
    deploy = _deploy(
        tmp_path,
        f"files.directory(path='{tmp_path}/one')\n"
        f"files.directory(path='{tmp_path}/two')\n"
        f"server.shell(commands=['touch {tmp_path}/three'])\n"
        "files.no_such_operation(path='/tmp/x')\n",
    )
    for extra in ([], ["--dry"]):
        result = run("@local", str(deploy), *extra, cwd=tmp_path)
        assert result.returncode == 1
        output = result.stdout + result.stderr
        assert f"{deploy}, line 5" in output and "no_such_operation" in output
        assert "Traceback" not in output
    assert not any((tmp_path / name).exists() for name in ("one", "two", "three"))


def test_dry_previews_and_exits_zero(tmp_path: Path) -> None:
    deploy = _deploy(tmp_path, f"files.directory(path='{tmp_path}/made')\n")
    result = run("@local", str(deploy), "--dry", cwd=tmp_path)
    assert result.returncode == 0 and "Would change" in result.stdout
    assert not (tmp_path / "made").exists()


def test_yes_from_the_environment(tmp_path: Path) -> None:
    deploy = _deploy(tmp_path, f"files.directory(path='{tmp_path}/made')\n")
    env = dict(_env(), PYINFRA_YES="1")
    result = subprocess.run(
        [sys.executable, "-m", "pyinfra", "@local", str(deploy)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "made").is_dir()


def test_apply_reuses_what_the_plan_read(tmp_path: Path) -> None:
    """The fact about a path no operation changes is read once, by the plan, not again
    when applying; facts about what the apply changes are read again."""
    (tmp_path / "kept").write_text("")
    deploy = _deploy(
        tmp_path,
        f"files.directory(path='{tmp_path}/made')\nfiles.file(path='{tmp_path}/kept')\n",
    )
    code, output = run_at_terminal("@local", str(deploy), "-vv", cwd=tmp_path, answer=b"y\n")
    assert code == 0, output
    reads_of_kept = [line for line in output.splitlines() if "stat" in line and "/kept" in line]
    assert len(reads_of_kept) == 1, output
