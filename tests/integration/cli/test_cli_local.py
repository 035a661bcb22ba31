"""The CLI end to end against @local and @fake (real subprocesses of `python -m pyinfra`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def pyinfra(
    *args: str,
    cwd: Path | None = None,
    timeout: float = 120,
    yes: bool = True,
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run(
        [sys.executable, "-m", "pyinfra", *(["-y"] if yes else []), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
    )


def test_exec_uname() -> None:
    result = pyinfra("@local", "exec", "--", "uname", "-a")
    assert result.returncode == 0, result.stderr
    kernel = os.uname()
    assert f"[@local] {kernel.sysname} {kernel.nodename}" in result.stdout


def test_exec_false_exits_1() -> None:
    result = pyinfra("@local", "exec", "--", "false")
    assert result.returncode == 1
    assert "@local" in result.stdout + result.stderr


def test_unknown_connector() -> None:
    result = pyinfra("@nope/x", "exec", "--", "true")
    assert result.returncode == 1
    assert "unknown connector @nope" in result.stderr
    assert "@local" in result.stderr and "@fake" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_local_with_argument() -> None:
    result = pyinfra("@local/x", "exec", "--", "true")
    assert result.returncode == 1
    assert "@local takes no argument" in result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_connector_data_type(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.py"
    inventory.write_text(
        "from pyinfra.api.connectors import register_connector\n"
        "from tests_typed_connector import TypedLocal\n"
        "register_connector('typedlocal', TypedLocal)\n"
        "web = ['@typedlocal']\n"
    )
    (tmp_path / "tests_typed_connector.py").write_text(
        "from typing import TypedDict\n"
        "from pyinfra.connectors.base import DataMeta\n"
        "from pyinfra.connectors.local import LocalConnector\n"
        "class Data(TypedDict, total=False):\n"
        "    typed_port: int\n"
        "class TypedLocal(LocalConnector):\n"
        "    data_cls = Data\n"
        "    data_meta = {'typed_port': DataMeta('port', 22)}\n"
        "    @staticmethod\n"
        "    def make_names_data(name=None):\n"
        "        yield '@typedlocal', {}, []\n"
    )
    env_path = f"{tmp_path}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pyinfra",
            str(inventory),
            "--data",
            "typed_port=abc",
            "exec",
            "--",
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}:{env_path}"),
    )
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "@typedlocal" in output and "typed_port" in output
    assert "must be int" in output and "got str" in output
    assert "Traceback" not in output


def test_missing_deploy_file(tmp_path: Path) -> None:
    result = pyinfra("@local", str(tmp_path / "nope.py"))
    assert result.returncode == 1
    assert "deploy file not found" in result.stderr and "nope.py" in result.stderr


def test_deploy_syntax_error(tmp_path: Path) -> None:
    deploy = tmp_path / "deploy.py"
    deploy.write_text("from pyinfra.operations import server\n\nserver.shell(\n")
    result = pyinfra("@local", str(deploy))
    assert result.returncode == 1
    assert f"syntax error in {deploy}, line 3" in result.stderr
    assert "Traceback" not in result.stderr


def test_command_not_found_shows_stderr() -> None:
    result = pyinfra("@local", "exec", "--", "pyinfra-no-such-command")
    assert result.returncode == 1
    assert "not found" in result.stdout + result.stderr


def test_inventory_with_no_host(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.py"
    inventory.write_text("web = []\n")
    result = pyinfra(str(inventory), "exec", "--", "true")
    assert result.returncode == 1
    assert "resolves to no host" in result.stderr
    result = pyinfra("@local", "--limit", "nomatch*", "exec", "--", "true")
    assert result.returncode == 1
    assert "matches no host" in result.stderr


def test_deploy_with_shell_timeout_sudo_env(tmp_path: Path) -> None:
    deploy = tmp_path / "deploy.py"
    marker = tmp_path / "marker"
    deploy.write_text(
        "from pyinfra.operations import server\n"
        f"server.shell(name='env', commands=['echo \"$GREETING\" > {marker}'],\n"
        "             _env={'GREETING': 'hello world'})\n"
        "server.shell(name='who', commands=['id -un'], _sudo=True, _sudo_user='nobody')\n"
        "server.shell(name='slow', commands=['sleep 20'], _timeout=1)\n"
        f"server.shell(name='never', commands=['touch {marker}.never'])\n"
    )
    result = pyinfra("@local", str(deploy), "-v")
    assert marker.read_text() == "hello world\n"
    assert "[@local] nobody" in result.stdout
    assert result.returncode == 1
    assert "timed out after 1 s" in result.stdout + result.stderr
    assert not Path(f"{marker}.never").exists(), "a failed host must stop its deploy"


def test_inventory_file_groups_data_limit(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.py"
    inventory.write_text(
        "all = {'greeting': 'global'}\n"
        "web = (['@fake/web1', '@fake/web2'], {'role': 'web'})\n"
        "db = ['@local']\n"
    )
    (tmp_path / "group_data").mkdir()
    (tmp_path / "group_data" / "db.py").write_text("role = 'database'\n")
    deploy = tmp_path / "deploy.py"
    out = tmp_path / "out"
    deploy.write_text(
        "from pyinfra import host\n"
        "from pyinfra.operations import server\n"
        f"server.shell(commands=['echo ' + host.data.role + ' ' + host.data.greeting"
        f" + ' ' + host.data.extra + ' >> {out}'])\n"
    )
    result = pyinfra(str(inventory), str(deploy), "--limit", "db", "--data", "extra=x1")
    assert result.returncode == 0, result.stderr + result.stdout
    assert out.read_text() == "database global x1\n"


def test_fact_command_json() -> None:
    result = pyinfra("@local", "fact", "server.Hostname", "server.Arch", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)  # pyinfra 3.x's shape: {fact: {host: value}}
    assert payload == {
        "server.Hostname": {"@local": os.uname().nodename},
        "server.Arch": {"@local": os.uname().machine},
    }


def test_unknown_fact() -> None:
    result = pyinfra("@local", "fact", "server.NoSuchFact")
    assert result.returncode == 1
    assert "unknown fact" in result.stderr


def test_many_hosts_in_parallel_with_one_failure() -> None:
    hosts = ",".join(f"@fake/h{i}" for i in range(30))
    result = pyinfra(f"{hosts},@local", "exec", "--", "echo", "hi")
    assert result.returncode == 0, result.stderr
    assert "[@local] hi" in result.stdout
    assert result.stdout.count("Success") == 31


def test_sudo_flag() -> None:
    result = pyinfra("@local", "exec", "--sudo", "--sudo-user", "nobody", "--", "id", "-un")
    assert result.returncode == 0, result.stderr
    assert "[@local] nobody" in result.stdout


def test_ctrl_c_kills_running_commands() -> None:
    base = 40000 + uuid.uuid4().int % 9000
    tag = f"{base + 1}"  # the command line says $((base+1)): pgrep only finds the sleep
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyinfra", "@local", "exec", "--", f"sleep $(({base}+1))"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if subprocess.run(["pgrep", "-f", f"sleep {tag}"], capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    else:
        proc.kill()
        raise AssertionError("the command never started")
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    time.sleep(0.2)
    assert subprocess.run(["pgrep", "-f", f"sleep {tag}"], capture_output=True).returncode != 0, (
        "command left running"
    )


def test_python_dash_m_and_console_script_agree() -> None:
    result = pyinfra("--help")
    assert result.returncode == 0
    assert "INVENTORY" in result.stdout


def test_data_values_are_typed(tmp_path: Path) -> None:
    deploy = tmp_path / "deploy.py"
    out = tmp_path / "types"
    deploy.write_text(
        "from pyinfra import host\n"
        "from pyinfra.operations import server\n"
        "kinds = [type(host.data.get(k)).__name__ for k in ('a', 'b', 'c', 'd', 'e')]\n"
        f"server.shell(commands=['echo ' + ' '.join(kinds) + ' > {out}'])\n")
    result = pyinfra("@local", "--data", "a=False", "--data", "b=22", "--data", "c=true",
                     "--data", "d=text", "--data", "e=None", str(deploy))
    assert result.returncode == 0, result.stderr
    assert out.read_text() == "bool int bool str NoneType\n"
