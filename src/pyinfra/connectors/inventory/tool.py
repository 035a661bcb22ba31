"""Run a local command-line tool (terraform, vagrant) for an inventory connector.

Inventory connectors only read what a tool prints: the tool is looked up on ``PATH``,
run with a fixed argument list (never through a shell), and its output is returned
decoded. A missing tool or a tool that cannot start raises ``InventoryError`` with the
``missing`` hint given by the caller.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyinfra.api.exceptions import InventoryError


@dataclass(frozen=True)
class ToolResult:
    returncode: int
    stdout: str
    stderr: str

    def last_error_line(self) -> str:
        """The last non-empty line of stderr (or stdout), for one-line error messages."""
        for text in (self.stderr, self.stdout):
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            if lines:
                return lines[-1]
        return f"exit status {self.returncode}"


def find_tool(name: str, missing: str, env: Mapping[str, str] | None = None) -> str:
    """The path of ``name`` on ``PATH`` (of ``env`` if given), or ``InventoryError``."""
    path = (env if env is not None else os.environ).get("PATH", os.defpath)
    found = shutil.which(name, path=path)
    if found is None:
        raise InventoryError(missing)
    return found


def project_dir(data: Mapping[str, Any] | None, key: str, env_var: str, holding: str) -> str:
    """The directory a tool runs in: the ``key`` data of the entry, else the environment
    variable ``env_var``, else the current directory. ``InventoryError`` (saying what the
    directory should hold) when it is not a directory."""
    value = (data or {}).get(key) or os.environ.get(env_var) or "."
    if not isinstance(value, str):
        raise InventoryError(f"{key} must be a string, got {type(value).__name__}")
    directory = os.path.abspath(os.path.expanduser(value))
    if not os.path.isdir(directory):
        raise InventoryError(
            f"{key} {value} is not a directory: set {key} (or {env_var}) to the directory "
            f"holding {holding}"
        )
    return directory


def run_tool(
    argv: Sequence[str],
    *,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300.0,
) -> ToolResult:
    """Run ``argv`` to completion (stdin closed) and capture both streams."""
    try:
        proc = subprocess.run(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise InventoryError(
            f"`{' '.join(argv[:3])}` did not finish within {timeout:.0f} s"
        ) from exc
    except OSError as exc:
        raise InventoryError(f"could not run {argv[0]}: {exc.strerror or exc}") from exc
    return ToolResult(
        proc.returncode,
        proc.stdout.decode("utf-8", errors="replace"),
        proc.stderr.decode("utf-8", errors="replace"),
    )


__all__ = ["ToolResult", "find_tool", "project_dir", "run_tool"]
