"""sudo/su with passwords on @local, run as an unprivileged user (root never gets asked).

The library is run by the system python as a test user whose sudo rule requires a
password; we check the command runs escalated and that the password never shows in
the process list or the output.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.sshd import ensure_user, remove_user

ROOT = Path(__file__).resolve().parents[3]
SYSTEM_PYTHON = "/usr/bin/python3"
USER = "pyisudopw"
SU_TARGET = "pyisutarget"


def _system_python_ready() -> str | None:
    if os.geteuid() != 0:
        return "needs root to create test users"
    if not shutil.which("sudo") or not shutil.which("runuser"):
        return "sudo/runuser not installed"
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import typing_extensions"], capture_output=True)
    if probe.returncode != 0:
        return "system python3 lacks typing_extensions (apt-get install python3-typing-extensions)"
    return None


@pytest.fixture(scope="module")
def users() -> Iterator[dict[str, str]]:
    reason = _system_python_ready()
    if reason:
        pytest.skip(reason)
    password = "pw-" + secrets.token_hex(8)
    su_password = "su-" + secrets.token_hex(8)
    ensure_user(USER, password=password, sudo="password")
    ensure_user(SU_TARGET, password=su_password)
    yield {"password": password, "su_password": su_password}
    remove_user(USER)
    remove_user(SU_TARGET)


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A work dir the test user can read (pytest's own tmp_path is under a 0700 dir)."""
    directory = Path(tempfile.mkdtemp(prefix="pyi-escalation-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def run_as_user(
    code: str,
    tmp_path: Path,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(code))
    script.chmod(0o644)
    full_env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "PYTHONPATH": str(ROOT / "src"),
        "HOME": f"/home/{USER}",
        **(env or {}),
    }
    return subprocess.run(
        ["runuser", "-u", USER, "--", SYSTEM_PYTHON, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        env=full_env,
        cwd=str(tmp_path),
    )


PRELUDE = """
import os, sys
from pyinfra.api import Inventory, State, Config
inventory = Inventory((["@local"], {}))
state = State(inventory, Config())
host = inventory.get_host("@local")
host.connect(raise_exceptions=True)
PW = os.environ["PYI_PW"]
"""


def test_sudo_with_password(users: dict[str, str], tmp_path: Path) -> None:
    result = run_as_user(
        PRELUDE
        + """
ok, out = host.run_shell_command("id -un", _sudo=True, _sudo_password=PW)
print("ID", ok, out.stdout, out.stderr)
ok, out = host.run_shell_command("cat", _sudo=True, _sudo_password=PW, _stdin="data-only\\n")
print("CAT", ok, repr(out.stdout), repr(out.stderr))
ok, out = host.run_shell_command("id -un", _sudo=True, _sudo_password=PW,
                                 _sudo_user="nobody")
print("NOBODY", ok, out.stdout)
""",
        tmp_path,
        env={"PYI_PW": users["password"]},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "ID True root " in lines
    assert "CAT True 'data-only' ''" in lines
    assert "NOBODY True nobody" in lines
    assert users["password"] not in result.stdout + result.stderr


def test_sudo_password_not_in_process_list(users: dict[str, str], tmp_path: Path) -> None:
    seen: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
            seen.append(ps)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = run_as_user(
            PRELUDE
            + """
ok, out = host.run_shell_command("sleep 1; id -un", _sudo=True, _sudo_password=PW)
print("ID", ok, out.stdout)
""",
            tmp_path,
            env={"PYI_PW": users["password"]},
        )
    finally:
        stop.set()
        watcher.join()
    assert "ID True root" in result.stdout, result.stderr
    assert any("sudo" in snapshot and "sleep 1" in snapshot for snapshot in seen), (
        "the watcher never saw the command (test would prove nothing)"
    )
    assert not any(users["password"] in snapshot for snapshot in seen)


def test_wrong_sudo_password_fails_fast(users: dict[str, str], tmp_path: Path) -> None:
    result = run_as_user(
        PRELUDE
        + """
ok, out = host.run_shell_command("id -un", _sudo=True, _sudo_password="wrong-password",
                                 _timeout=60)
print("RESULT", ok, out.stdout_lines, out.stderr_lines)
""",
        tmp_path,
        env={"PYI_PW": users["password"]},
    )
    assert result.returncode == 0, result.stderr
    assert "RESULT False []" in result.stdout
    assert "sudo refused the password" in result.stdout


def test_sudo_without_password_explains(users: dict[str, str], tmp_path: Path) -> None:
    result = run_as_user(
        PRELUDE
        + """
ok, out = host.run_shell_command("id -un", _sudo=True)
print("RESULT", ok, out.stderr_lines[-1])
""",
        tmp_path,
        env={"PYI_PW": users["password"]},
    )
    assert result.returncode == 0, result.stderr
    assert "RESULT False pyinfra: sudo needs a password" in result.stdout


def test_put_and_get_with_sudo_password(users: dict[str, str], tmp_path: Path) -> None:
    target_dir = tmp_path / "rootonly"
    target_dir.mkdir(mode=0o700)
    result = run_as_user(
        PRELUDE
        + f'''
import io
ok = host.put_file(io.BytesIO(b"secret-content"), "{target_dir}/f", _sudo=True,
                   _sudo_password=PW)
buf = io.BytesIO()
ok2 = host.get_file("{target_dir}/f", buf, _sudo=True, _sudo_password=PW)
print("PUTGET", ok, ok2, buf.getvalue())
''',
        tmp_path,
        env={"PYI_PW": users["password"]},
    )
    assert result.returncode == 0, result.stderr
    assert "PUTGET True True b'secret-content'" in result.stdout
    assert (target_dir / "f").read_bytes() == b"secret-content"
    assert (target_dir / "f").stat().st_uid == 0


def test_su_with_password(users: dict[str, str], tmp_path: Path) -> None:
    result = run_as_user(
        PRELUDE
        + """
ok, out = host.run_shell_command("id -un", _su_user="pyisutarget",
                                 _su_password=os.environ["PYI_SU_PW"], _timeout=60)
print("SU", ok, out.stdout_lines)
ok, out = host.run_shell_command("id -un", _su_user="pyisutarget",
                                 _su_password="wrong", _timeout=60)
print("SUWRONG", ok)
""",
        tmp_path,
        env={"PYI_PW": users["password"], "PYI_SU_PW": users["su_password"]},
    )
    assert result.returncode == 0, result.stderr
    assert "SU True ['pyisutarget']" in result.stdout, result.stdout
    assert "SUWRONG False" in result.stdout
    assert users["su_password"] not in result.stdout
