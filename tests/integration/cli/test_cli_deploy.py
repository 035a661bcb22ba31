"""Deploys through the CLI (real `python -m pyinfra` subprocesses against @local):
status lines, results table, --dry/--diff, --json, the single-operation form, run
modes, and a one-line error for each kind of bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def pyinfra(
    *args: str, cwd: Path | None = None, yes: bool = True
) -> subprocess.CompletedProcess[str]:
    """The CLI under test; ``-y`` unless ``yes=False`` (the preview/confirm tests)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "pyinfra", *(["-y"] if yes else []), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def _write_deploy(tmp_path: Path) -> Path:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "motd.j2").write_text("hello {{ who }}\n")
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "app.conf").write_text("port=80\n")
    out = tmp_path / "out"
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from pyinfra.operations import files, server\n"
        f"files.directory(path='{out}', mode=755)\n"
        f"files.put(name='app config', src='files/app.conf', dest='{out}/app.conf', mode=640)\n"
        f"files.template(src='templates/motd.j2', dest='{out}/motd', who='world')\n"
        f"files.line(path='{out}/extra.conf', line='^user=', replace='user=web')\n"
    )
    return deploy


def _single_line_error(result: subprocess.CompletedProcess[str], text: str) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if text in line]
    assert lines, output
    return lines[0]


def test_deploy_first_run_then_no_changes(tmp_path: Path) -> None:
    deploy = _write_deploy(tmp_path)
    first = pyinfra("@local", str(deploy), cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "[@local] Success      files.directory (path=" in first.stdout
    assert "[@local] Success      app config" in first.stdout
    assert (tmp_path / "out" / "motd").read_text() == "hello world\n"
    assert (tmp_path / "out" / "app.conf").read_text() == "port=80\n"
    assert (tmp_path / "out" / "extra.conf").read_text() == "user=web\n"
    assert "Operation" in first.stdout and "Total" in first.stdout

    second = pyinfra("@local", str(deploy), cwd=tmp_path)
    assert second.returncode == 0
    assert second.stdout.count("[@local] No changes   ") == 4
    assert "Success" not in second.stdout.replace("@local │ No changes", "")


def test_dry_run_with_diff_changes_nothing(tmp_path: Path) -> None:
    deploy = _write_deploy(tmp_path)
    result = pyinfra("@local", str(deploy), "--dry", "--diff", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (tmp_path / "out").exists()
    assert "[@local] Would change" in result.stdout
    assert "    +hello world" in result.stdout  # the template's diff
    assert "    +user=web" in result.stdout  # files.line predicted on the new file
    assert "$ mkdir -p -- " in result.stdout  # dry runs list the commands


def test_diff_of_a_changed_file(tmp_path: Path) -> None:
    target = tmp_path / "cfg"
    target.write_text("a=1\nb=2\n")
    result = pyinfra("@local", "files.line", f"path={target}", "line=^b=", "replace=b=3", "--diff")
    assert result.returncode == 0, result.stderr
    assert "    -b=2" in result.stdout and "    +b=3" in result.stdout
    assert target.read_text() == "a=1\nb=3\n"


def test_json_output(tmp_path: Path) -> None:
    deploy = _write_deploy(tmp_path)
    result = pyinfra("@local", str(deploy), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    ops = data["hosts"]["@local"]["operations"]
    assert [op["changed"] for op in ops] == [True, True, True, True]
    assert all(op["success"] for op in ops)
    directory = ops[0]
    assert directory["commands"][0]["command"].startswith("mkdir -p -- ")
    assert {"stdout", "stderr", "duration", "exit_code"} <= set(directory["commands"][0])
    assert {"stdout", "stderr", "duration", "name", "changed", "success"} <= set(directory)
    assert "[@local]" in result.stderr  # human output goes to stderr with --json
    # pyinfra 3.x's structure: plan and results per operation
    assert [op["names"] for op in data["results"]["operations"]][1] == ["app config"]
    assert data["results"]["totals"] == {"hosts": 4, "success": 4, "error": 0, "no_change": 0}
    assert data["results"]["failed_hosts"] == []
    assert all(set(op) >= {"op_hash", "name", "names", "args"} for op in data["plan"])


def test_json_shell_output(tmp_path: Path) -> None:
    result = pyinfra("@local", "server.shell", "echo out; echo err >&2", "--json")
    op = json.loads(result.stdout)["hosts"]["@local"]["operations"][0]
    assert (op["stdout"], op["stderr"], op["changed"]) == ("out", "err", True)


def test_single_operation_form(tmp_path: Path) -> None:
    path = tmp_path / "x"
    first = pyinfra("@local", "files.file", f"path={path}", "mode=644")
    assert first.returncode == 0, first.stderr
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    second = pyinfra("@local", "files.file", f"path={path}", "mode=644")
    assert "[@local] No changes   files.file" in second.stdout


def test_serial_and_no_wait_modes(tmp_path: Path) -> None:
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from pyinfra.operations import server\n"
        "server.shell(name='one', commands=['true'])\n"
        "server.shell(name='two', commands=['true'])\n"
    )
    for flag in ("--serial", "--no-wait"):
        result = pyinfra("@local,@fake/other", str(deploy), flag, cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.count("Success      two") == 2
    both = pyinfra("@local", str(deploy), "--serial", "--no-wait", cwd=tmp_path)
    _single_line_error(both, "--serial and --no-wait cannot be used together")


def test_fail_percent_stops_other_hosts(tmp_path: Path) -> None:
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from pyinfra.operations import server\n"
        "server.shell(commands=['test -e /nonexistent-pyinfra-path'])\n"
        "server.shell(commands=['echo second'])\n"
    )
    result = pyinfra("@local,@fake/other", str(deploy), "--fail-percent", "0", "--json")
    assert result.returncode == 1
    payload = json.loads(result.stdout)
    assert payload["results"]["failed_hosts"] == ["@local"]  # the other one was stopped
    hosts = payload["hosts"]
    assert len(hosts["@fake/other"]["operations"]) == 1
    assert "FAIL_PERCENT" in hosts["@fake/other"]["error"]
    assert "exit status 1" in hosts["@local"]["error"]


# Bad input: one line each -----------------------------------------------------------


def test_unknown_operation() -> None:
    line = _single_line_error(pyinfra("@local", "files.nope", "path=/tmp/x"), "files.nope")
    assert "unknown operation 'files.nope'" in line


def test_unknown_fact() -> None:
    line = _single_line_error(pyinfra("@local", "fact", "server.Nope"), "server.Nope")
    assert "unknown fact 'server.Nope'" in line


def test_wrong_argument_type(tmp_path: Path) -> None:
    result = pyinfra("@local", "files.file", f"path={tmp_path}/x", "mode=[1]")
    line = _single_line_error(result, "argument mode")
    assert "files.file: argument mode must be int or str or None, got list" in line


def test_wrong_argument_value(tmp_path: Path) -> None:
    result = pyinfra("@local", "files.file", f"path={tmp_path}/x", "mode=abc")
    line = _single_line_error(result, "argument mode")
    assert "files.file: argument mode must be an octal mode like 644, got 'abc'" in line
    assert not (tmp_path / "x").exists()


def test_template_syntax_error(tmp_path: Path) -> None:
    template = tmp_path / "bad.j2"
    template.write_text("fine\n{{ 1 + }}\nmore\n")
    result = pyinfra("@local", "files.template", f"src={template}", f"dest={tmp_path}/out")
    line = _single_line_error(result, "template syntax error")
    assert f"template syntax error in {template}, line 2" in line


def test_template_undefined_variable(tmp_path: Path) -> None:
    template = tmp_path / "t.j2"
    template.write_text("a\nb {{ missing }}\n")
    result = pyinfra("@local", "files.template", f"src={template}", f"dest={tmp_path}/out")
    line = _single_line_error(result, "error rendering template")
    assert f"{template}, line 2" in line and "'missing' is undefined" in line


def test_missing_local_file(tmp_path: Path) -> None:
    result = pyinfra("@local", "files.put", f"src={tmp_path}/nope.txt", f"dest={tmp_path}/x")
    line = _single_line_error(result, "local file not found")
    assert f"files.put: local file not found: {tmp_path}/nope.txt (argument src)" in line


def test_remote_parent_missing(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    dest = tmp_path / "missing" / "dir" / "a.txt"
    result = pyinfra(
        "@local", "files.put", f"src={tmp_path}/a.txt", f"dest={dest}", "create_remote_dir=false"
    )
    line = _single_line_error(result, "does not exist")
    assert f"remote directory {dest.parent} does not exist" in line
    assert "create_remote_dir=True" in line
    ok = pyinfra("@local", "files.put", f"src={tmp_path}/a.txt", f"dest={dest}")
    assert ok.returncode == 0 and dest.read_text() == "a"


def test_operation_raising_in_deploy_file(tmp_path: Path) -> None:
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from pyinfra.operations import server\n"
        "server.shell(commands=['true'])\n"
        "raise ValueError('boom')\n"
    )
    line = _single_line_error(pyinfra("@local", str(deploy)), "boom")
    assert f"{deploy}, line 3, host @local: ValueError: boom" in line


def test_bad_operation_call_in_deploy_file_names_the_line(tmp_path: Path) -> None:
    deploy = tmp_path / "deploy.py"
    deploy.write_text("from pyinfra.operations import files\n\nfiles.directory(path=3)\n")
    line = _single_line_error(pyinfra("@local", str(deploy)), "argument path")
    assert f"{deploy}, line 3, host @local: files.directory: argument path must be str" in line


def test_brackets_in_names_are_shown_as_written(tmp_path: Path) -> None:
    result = pyinfra("@local", "server.shell", "echo '[signed-by=/k.gpg] x'", "--dry")
    assert result.returncode == 0, result.stderr
    assert "[signed-by=/k.gpg]" in result.stdout
