"""Deploy output: a status line per operation and host, live progress, results tables.

Plain lines when the output is not a terminal (or with --json, on stderr); on a
terminal a rich status line also shows how many hosts are still running.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from pyinfra.api.results import OperationMeta
from pyinfra.api.state import BaseStateCallback, State

if TYPE_CHECKING:
    from pyinfra.api.host import Host
    from pyinfra_cli.render import Renderer

_STYLES = {
    "Success": "green",
    "Would change": "yellow",
    "No changes": "dim",
    "Skipped": "dim",
    "Error": "bold red",
    "Error (ignored)": "red",
}
MAX_STDERR_LINES = 20


def status_of(meta: OperationMeta) -> str:
    if meta.success is False:
        return "Error (ignored)" if meta.ignored_error else "Error"
    if meta.skipped:
        return "Skipped"
    if meta.changed:
        return "Would change" if meta.dry else "Success"
    return "No changes"


class DeployView(BaseStateCallback):
    """Prints each finished operation as ``[host] Status  operation name``."""

    def __init__(self, renderer: Renderer, verbosity: int, diff: bool, total_hosts: int) -> None:
        self.renderer = renderer
        self.verbosity = verbosity
        self.diff = diff
        self.total_hosts = total_hosts
        self.done_hosts = 0
        self._lock = threading.Lock()
        self._status: Any = None

    # BaseStateCallback hooks
    def operation_host_success(
        self, state: State, host: Host, op_hash: str, retry_count: int = 0
    ) -> None:
        self._show(host, state.get_op_data_for_host(host, op_hash).operation_meta)

    def operation_host_error(
        self, state: State, host: Host, op_hash: str, retry_count: int = 0, max_retries: int = 0
    ) -> None:
        self._show(host, state.get_op_data_for_host(host, op_hash).operation_meta)

    def host_finished(self) -> None:
        with self._lock:
            self.done_hosts += 1
            if self._status is not None:
                self._status.update(self._progress_text())

    def _progress_text(self) -> str:
        return f"deploying: {self.done_hosts}/{self.total_hosts} hosts finished"

    @contextmanager
    def live(self) -> Iterator[None]:
        console = self.renderer.out
        if not console.is_terminal or self.renderer.json_mode:
            yield
            return
        with console.status(self._progress_text()) as status:
            self._status = status
            try:
                yield
            finally:
                self._status = None

    def _show(self, host: Host, meta: Any) -> None:
        if not isinstance(meta, OperationMeta):
            return
        status = status_of(meta)
        text = Text()
        text.append(f"[{host.name}] ", style="bold")
        text.append(f"{status:<12}", style=_STYLES.get(status, ""))
        text.append(f" {meta.name}")
        if meta.skipped and meta.skip_reason:
            text.append(f" ({meta.skip_reason})", style="dim")
        elif meta.noops and not meta.changed:
            text.append(f" ({'; '.join(meta.noops)})", style="dim")
        lines: list[Text] = [text]
        if meta.success is False and meta.error:
            lines.append(Text(f"    {meta.error}", style="red"))
            stderr = [line for line in meta.stderr_lines if line.strip()]
            for line in stderr[-MAX_STDERR_LINES:]:
                if line.strip() and line not in (meta.error or ""):
                    lines.append(Text(f"    stderr: {line}", style="red"))
        if meta.changed and (meta.dry or self.verbosity >= 1):
            for command in meta.commands:
                lines.append(Text(f"    $ {command.command}", style="cyan"))
        if self.diff:
            for diff in meta.diffs:
                lines.extend(_diff_lines(diff.lines))
        self.renderer.print_lines(lines)


def _diff_lines(lines: list[str]) -> list[Text]:
    out = []
    for line in lines:
        body = line.rstrip("\n")
        style = ""
        if body.startswith("+") and not body.startswith("+++"):
            style = "green"
        elif body.startswith("-") and not body.startswith("---"):
            style = "red"
        elif body.startswith("@@"):
            style = "cyan"
        out.append(Text(f"    {body}", style=style))
    return out


def operations_table(state: State, host_names: list[str], width: int = 100) -> Table | None:
    """One row per operation (in order of first appearance): hosts per outcome."""
    rows: dict[str, dict[str, Any]] = {}
    for name in host_names:
        for meta in state.operation_results(name):
            if not isinstance(meta, OperationMeta):
                continue
            row = rows.setdefault(
                meta.key or meta.name,
                {"name": meta.name, "Hosts": 0, "Changed": 0, "No change": 0, "Skipped": 0,
                 "Error": 0},
            )  # fmt: skip
            row["Hosts"] += 1
            status = status_of(meta)
            if status.startswith("Error"):
                row["Error"] += 1
            elif status == "Skipped":
                row["Skipped"] += 1
            elif meta.changed:
                row["Changed"] += 1
            else:
                row["No change"] += 1
    if not rows:
        return None
    table = Table(show_edge=False, pad_edge=False)
    columns = ["Hosts", "Changed", "No change", "Skipped", "Error"]
    fixed = sum(len(c) + 3 for c in columns)
    table.add_column(
        "Operation", overflow="ellipsis", no_wrap=True, max_width=max(20, width - fixed)
    )
    for column in columns:
        table.add_column(column, justify="right", no_wrap=True, min_width=len(column))
    totals = dict.fromkeys(columns, 0)
    for row in rows.values():
        cells = []
        for column in columns:
            totals[column] += row[column]
            value = row[column]
            style = "red" if column == "Error" and value else ""
            cells.append(Text(str(value) if value else "-", style=style))
        table.add_row(Text(row["name"]), *cells)
    table.add_row(
        Text("Total", style="bold"), *[Text(str(totals[c]), style="bold") for c in columns]
    )
    return table
