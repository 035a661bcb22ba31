"""pyinfra 3.10's CLI flags: --version, --support, --chdir, --config (REQUIRE_*),
--group-data, --exclude, --retry/--retry-delay, --ssh-* spellings, --use-sudo-login,
--dzdo, --debug-operations/--debug-facts; each bad value is one line naming it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def pyinfra(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "pyinfra", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def one_line_error(result: subprocess.CompletedProcess[str], *texts: str) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for text in texts:
        assert text in lines[0], lines[0]
    return lines[0]


def test_version_and_support() -> None:
    version = pyinfra("--version")
    assert version.returncode == 0 and version.stdout.startswith("pyinfra: v3.")
    assert "pyinfra 3.10" in version.stdout
    support = pyinfra("--support")
    assert support.returncode == 0 and "paramiko:" in support.stdout
    assert "Python:" in support.stdout


def test_help_lists_the_flags() -> None:
    text = pyinfra("--help").stdout
    for flag in (
        "--chdir", "--config", "--group-data", "--exclude", "--retry", "--retry-delay",
        "--dzdo", "--dzdo-user", "--use-sudo-login", "--same-sudo-password", "--ssh-user",
        "--ssh-port", "--ssh-key", "--ssh-key-password", "--ssh-password",
        "--ssh-password-prompt", "--debug-facts", "--debug-operations", "--debug-all",
        "--support", "--version",
    ):  # fmt: skip
        assert flag in text, flag


def test_chdir(tmp_path: Path) -> None:
    (tmp_path / "deploy.py").write_text(
        "from pyinfra.operations import server\nserver.shell(commands=['pwd > where'])\n"
    )
    result = pyinfra("-y", "--chdir", str(tmp_path), "@local", "deploy.py")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "where").exists()
    one_line_error(pyinfra("--chdir", str(tmp_path / "nope"), "@local", "exec", "--", "true"),
                   "--chdir", str(tmp_path / "nope"))  # fmt: skip


def test_config_file_settings_and_requirements(tmp_path: Path) -> None:
    (tmp_path / "config.py").write_text(
        "from pyinfra import config\nconfig.SHELL = 'bash'\n"
        "config.REQUIRE_PYINFRA_VERSION = '>=3'\n"
    )
    (tmp_path / "deploy.py").write_text(
        "from pyinfra.operations import server\nserver.shell(commands=['echo $0 > shell'])\n"
    )
    result = pyinfra("-y", "@local", "deploy.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "shell").read_text().strip() == "bash"

    (tmp_path / "old.py").write_text(
        "from pyinfra import config\nconfig.REQUIRE_PYINFRA_VERSION = '<3.5'\n"
    )
    line = one_line_error(
        pyinfra("--config", "old.py", "@local", "exec", "--", "true", cwd=tmp_path),
        "old.py, line 2", "<3.5", "3.10.0",
    )
    assert "running 3." in line

    (tmp_path / "pkgs.py").write_text(
        "from pyinfra import config\n"
        "config.REQUIRE_PACKAGES = ['paramiko>=1', 'pyinfra-no-such-package-xyz>=1']\n"
    )
    one_line_error(
        pyinfra("--config", "pkgs.py", "@local", "exec", "--", "true", cwd=tmp_path),
        "pyinfra-no-such-package-xyz", "not installed",
    )
    (tmp_path / "boom.py").write_text("x = 1\nraise RuntimeError('bad config')\n")
    one_line_error(
        pyinfra("--config", "boom.py", "@local", "exec", "--", "true", cwd=tmp_path),
        "boom.py, line 2", "RuntimeError", "bad config",
    )
    one_line_error(
        pyinfra("--config", "missing.py", "@local", "exec", "--", "true", cwd=tmp_path),
        "missing.py",
    )


def test_group_data_and_exclude(tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "web.py").write_text("colour = 'blue'\nport = 8080\n")
    (tmp_path / "inventory.py").write_text(
        "web = ['@fake/w1', '@fake/w2']\ndb = (['@fake/d1'], {'port': 5432})\n"
    )
    result = pyinfra(
        "inventory.py", "debug-inventory", "--json", "--group-data", str(extra),
        "--exclude", "@fake/w2", "--ssh-user", "deployer", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    hosts = {entry["name"]: entry for entry in json.loads(result.stdout)}
    assert sorted(hosts) == ["@fake/d1", "@fake/w1"]
    assert hosts["@fake/w1"]["data"]["colour"] == "blue"
    assert hosts["@fake/d1"]["data"]["port"] == 5432
    assert hosts["@fake/w1"]["data"]["ssh_user"] == "deployer"
    file_instead = tmp_path / "web.py"
    file_instead.write_text("x = 1\n")
    one_line_error(
        pyinfra("inventory.py", "debug-inventory", "--group-data", str(file_instead), cwd=tmp_path),
        "--group-data", str(file_instead), "not a directory",
    )
    one_line_error(
        pyinfra("inventory.py", "--exclude", "web,db", "exec", "--", "true", cwd=tmp_path),
        "--exclude",
    )


def test_retry_flags(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    (tmp_path / "deploy.py").write_text(
        "from pyinfra.operations import server\n"
        f"server.shell(commands=['echo x >> {counter}; test $(wc -l < {counter}) -ge 3'])\n"
    )
    result = pyinfra("-y", "@local", "deploy.py", "--retry", "2", "--retry-delay", "0",
                     cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert counter.read_text().count("x") == 3
    counter.unlink()
    failed = pyinfra("-y", "@local", "deploy.py", "--retry", "1", "--retry-delay", "0",
                     cwd=tmp_path)  # fmt: skip
    assert failed.returncode == 1 and counter.read_text().count("x") == 2


def test_debug_operations_and_facts_change_nothing(tmp_path: Path) -> None:
    (tmp_path / "deploy.py").write_text(
        "from pyinfra.operations import files\n"
        f"files.directory(path='{tmp_path}/made', name='make it')\n"
    )
    result = pyinfra("@local", "deploy.py", "--debug-operations", "--debug-facts", "--json",
                     cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)["@local"]
    assert payload["operations"][0]["name"] == "make it"
    assert payload["operations"][0]["will_change"] is True
    assert any(name.startswith("files.Directory") for name in payload["facts"])
    assert not (tmp_path / "made").exists()


def test_sudo_login_and_dzdo_reach_the_config(tmp_path: Path) -> None:
    (tmp_path / "deploy.py").write_text(
        "from pyinfra import config\nfrom pyinfra.operations import server\n"
        "server.shell(commands=[f'echo {config.USE_SUDO_LOGIN} {config.DZDO} "
        "{config.DZDO_USER} > flags'])\n"
    )
    result = pyinfra("-y", "@local", "deploy.py", "--use-sudo-login", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "flags").read_text().split() == ["True", "False", "None"]
