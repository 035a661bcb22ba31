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


__all__ = ["ToolResult", "find_tool", "run_tool"]
