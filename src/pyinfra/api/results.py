"""What operations did: :class:`OperationMeta` per operation and host, the commands it
ran and the diffs it showed.

Kept apart from :mod:`pyinfra.api.operation` (which builds operations) and
:mod:`pyinfra.api.opexec` (which runs them) so that both can use it without importing
each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyinfra.api.exceptions import PyinfraError
from pyinfra.connectors.output import CommandOutput, OutputLine


class HostOperationFailed(PyinfraError):
    """An operation failed on the current host: its deploy stops there."""


@dataclass
class CommandResult:
    command: str
    success: bool
    output: CommandOutput
    duration: float
    executed: bool = True


@dataclass
class OperationDiff:
    """Yielded by an operation (when diffs are wanted): how a file's content changes."""

    path: str
    lines: list[str]


@dataclass
class OperationMeta:
    """What one operation did (or, in a dry run or before ``run_ops``, would do) on one
    host. ``success`` is ``None`` until the operation has run."""

    name: str
    host_name: str
    operation: str = ""
    key: str = ""
    location: str = ""
    changed: bool = False
    success: bool | None = None
    skipped: bool = False
    skip_reason: str | None = None
    dry: bool = False
    error: str | None = None
    commands: list[CommandResult] = field(default_factory=list)
    diffs: list[OperationDiff] = field(default_factory=list)
    duration: float = 0.0
    ignored_error: bool = False
    traceback: str | None = None
    noops: list[str] = field(default_factory=list)  # host.noop() descriptions
    op_hash: str = ""
    maybe_change: bool | None = None  # the prediction made before running (add_op)
    retry_attempts: int = 0
    max_retries: int = 0
    # An operation whose last commands still wait in its host's queue (deferred):
    # reading its outcome sends them first (set by the executor).
    settle: Callable[[], Any] | None = field(default=None, repr=False, compare=False)

    # pyinfra 3.x's names ------------------------------------------------------

    @property
    def _hash(self) -> str:
        return self.op_hash

    def is_complete(self) -> bool:
        if self.success is None and self.settle is not None:
            self.settle()
        return self.success is not None

    def _require_complete(self) -> None:
        if not self.is_complete():
            raise RuntimeError("Cannot evaluate operation result before execution")

    def did_succeed(self, _raise_if_not_complete: bool = True) -> bool:
        if _raise_if_not_complete:
            self._require_complete()
        elif self.success is None and self.settle is not None:
            self.settle()
        return self.success is True

    def did_error(self) -> bool:
        self._require_complete()
        return self.success is False

    def did_change(self) -> bool:
        self._require_complete()
        return bool(self.changed and self.success)

    def did_not_change(self) -> bool:
        return not self.did_change()

    @property
    def will_change(self) -> bool:
        return self.changed if self.maybe_change is None else self.maybe_change

    @property
    def executed(self) -> bool:
        return any(command.executed for command in self.commands)

    @property
    def was_retried(self) -> bool:
        return self.retry_attempts > 0

    @property
    def retry_succeeded(self) -> bool | None:
        return bool(self.success) if self.was_retried else None

    def get_retry_info(self) -> dict[str, Any]:
        return {
            "retry_attempts": self.retry_attempts,
            "max_retries": self.max_retries,
            "was_retried": self.was_retried,
            "retry_succeeded": self.retry_succeeded,
        }

    # Output -------------------------------------------------------------------

    def _lines(self) -> list[OutputLine]:
        if self.success is None and self.settle is not None:
            self.settle()
        return [line for c in self.commands for line in c.output.combined_lines]

    @property
    def stdout_lines(self) -> list[str]:
        return [line.line for line in self._lines() if line.buffer_name == "stdout"]

    @property
    def stderr_lines(self) -> list[str]:
        return [line.line for line in self._lines() if line.buffer_name == "stderr"]

    @property
    def stdout(self) -> str:
        return "\n".join(self.stdout_lines)

    @property
    def stderr(self) -> str:
        return "\n".join(self.stderr_lines)

    @property
    def status(self) -> str:
        """``Success``, ``No changes``, ``Skipped`` or ``Error`` (for display)."""
        if self.success is False:
            return "Error"
        if self.skipped:
            return "Skipped"
        return "Success" if self.changed else "No changes"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "operation": self.operation,
            "key": self.key,
            "location": self.location,
            "changed": self.changed,
            "success": self.success,
            "skipped": self.skipped,
            "skip_reason": self.skip_reason,
            "dry": self.dry,
            "error": self.error,
            "ignored_error": self.ignored_error,
            "duration": round(self.duration, 4),
            "stdout": self.stdout,
            "stderr": self.stderr,
            "diffs": {d.path: "".join(d.lines) for d in self.diffs},
            "noops": list(self.noops),
            "commands": [
                {
                    "command": c.command,
                    "executed": c.executed,
                    "success": c.success,
                    "exit_code": c.output.exit_code,
                    "stdout": c.output.stdout,
                    "stderr": c.output.stderr,
                    "duration": round(c.duration, 4),
                }
                for c in self.commands
            ],
        }
