"""pyinfra.testing from a connector author's side: a separate connector package
(examples/connector-package) is built and pip-installed into a fresh virtualenv, and
pytest runs pyinfra's contract suite against it through the plugin, with the plugin
named explicitly (``-p pyinfra.testing``, autoload off) and found by its ``pytest11``
entry point."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from pyinfra.testing import ConnectorContract
from tests.helpers.wheels import build_wheel, child_venv, pip_install

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "connector-package"


@pytest.fixture(scope="module")
def author(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the virtualenv's python, a copy of the package's tests outside this repository)."""
    base = tmp_path_factory.mktemp("pyi-conn-author")
    python = child_venv(base / "venv")
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    wheel = build_wheel(
        base / "dist",
        project["name"],
        project["version"],
        {"pyinfra_sandbox.py": (EXAMPLE / "pyinfra_sandbox.py").read_text()},
        project["entry-points"],
    )
    pip_install(python, wheel)
    tests = base / "checkout" / "tests"
    shutil.copytree(EXAMPLE / "tests", tests)
    return python, tests


def run_pytest(python: Path, tests: Path, *args: str, autoload: bool) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    if not autoload:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    result = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, str(tests)],
        capture_output=True,
        text=True,
        cwd=tests.parent,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def _counts(summary: str) -> dict[str, int]:
    return {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|deselected)", summary)}


def _contract_tests(lacking: set[str]) -> int:
    """How many contract tests a target lacking these capabilities gets."""
    count = 0
    for name in dir(ConnectorContract):
        test = getattr(ConnectorContract, name)
        if not name.startswith("test_"):
            continue
        marks = getattr(test, "pytestmark", [])
        needs = {arg for mark in marks if mark.name == "needs" for arg in mark.args}
        params = [len(mark.args[1]) for mark in marks if mark.name == "parametrize"]
        if not needs & lacking:
            count += params[0] if params else 1
    return count


def test_the_example_package_is_not_importable_here() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import pyinfra_sandbox"], capture_output=True, text=True
    )
    assert result.returncode != 0


def test_contract_suite_runs_against_an_installed_package(author: tuple[Path, Path]) -> None:
    python, tests = author
    out = run_pytest(python, tests, "-p", "pyinfra.testing", autoload=False)
    counts = _counts(out)
    assert counts.get("failed", 0) == 0
    assert counts["passed"] == _contract_tests({"pty"}) > 20
    # The tests that need a terminal are left out, not failed or skipped.
    assert counts["deselected"] == _contract_tests(set()) - counts["passed"] > 0


def test_the_plugin_loads_by_its_entry_point(author: tuple[Path, Path]) -> None:
    python, tests = author
    out = run_pytest(python, tests, "-k", "exit_codes or round_trip", autoload=True)
    assert _counts(out).get("passed") == 2


def test_the_connector_is_found_by_its_entry_point(
    author: tuple[Path, Path], tmp_path: Path
) -> None:
    python, _ = author
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    box = tmp_path / "box"
    result = subprocess.run(
        [str(python), "-m", "pyinfra_cli", f"@sandbox/{box}", "exec", "--", "pwd"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert str(box) in result.stdout
