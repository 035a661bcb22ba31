"""Rendering: command output lines with host prefixes, log messages, summaries."""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

_lock = threading.Lock()


def lock() -> threading.Lock:
    """The lock every print to the consoles takes (keeps lines of threads apart)."""
    return _lock


class Renderer:
    def __init__(self, verbosity: int, json_mode: bool = False) -> None:
        self.verbosity = verbosity
        self.json_mode = json_mode
        self.out = Console(
            file=sys.stderr if json_mode else sys.stdout,
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
        self.err = Console(file=sys.stderr, highlight=False, soft_wrap=True, markup=False)
        self.plain = not self.out.is_terminal  # asked once: rich takes ~15 us to tell

    def line(self, host: str, text: str, buffer: str = "stdout") -> None:
        if self.plain:
            # Plain text (a pipe, a file): no styling, one write per line, no rich work
            # (command output can be millions of lines).
            with _lock:
                self.out.file.write(f"[{host}] {text}\n")
            return
        message = Text()
        message.append(f"[{host}] ", style="bold")
        style = {"stderr": "red", "input": "cyan"}.get(buffer, "")
        message.append(text, style=style)
        with _lock:
            self.out.print(message)

    def print_lines(self, lines: list[Text]) -> None:
        """Print several lines at once (they stay together between threads)."""
        with _lock:
            for line in lines:
                self.out.print(line)

    def info(self, text: str, style: str = "") -> None:
        with _lock:
            self.out.print(Text(text, style=style))

    def error(self, text: str) -> None:
        with _lock:
            self.err.print(Text(text, style="bold red"))

    def warning(self, text: str) -> None:
        with _lock:
            self.err.print(Text(text, style="yellow"))

    def summary(self, rows: list[tuple[str, str, str]]) -> None:
        table = Table(title=None, show_edge=False, pad_edge=False)
        table.add_column("Host")
        table.add_column("Result")
        table.add_column("Details", overflow="fold")
        for host, status, detail in rows:
            style = {"Success": "green", "Error": "red", "Would change": "yellow"}.get(status, "")
            table.add_row(Text(host), Text(status, style=style), Text(detail))
        with _lock:
            self.out.print(table)


class OutputHandler(logging.Handler):
    """Renders ``pyinfra.output`` records (command lines) with the host prefix."""

    def __init__(self, renderer: Renderer) -> None:
        super().__init__()
        self.renderer = renderer

    def emit(self, record: logging.LogRecord) -> None:
        host: Any = getattr(record, "host", "?")
        buffer: Any = getattr(record, "buffer", "stdout")
        self.renderer.line(str(host), record.getMessage(), str(buffer))


class MessageHandler(logging.Handler):
    """Renders library log messages (warnings, errors, -v info)."""

    def __init__(self, renderer: Renderer) -> None:
        super().__init__()
        self.renderer = renderer

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("pyinfra.output"):
            return
        text = record.getMessage()
        if record.exc_info and self.renderer.verbosity >= 3:
            text += "\n" + (self.format(record) if self.formatter else "")
        if record.levelno >= logging.ERROR:
            self.renderer.error(text)
        elif record.levelno >= logging.WARNING:
            self.renderer.warning(f"warning: {text}")
        else:
            self.renderer.info(text, style="dim")


def install_logging(renderer: Renderer, verbosity: int, debug: bool) -> None:
    root = logging.getLogger("pyinfra")
    root.propagate = False
    for handler in list(root.handlers):
        root.removeHandler(handler)
    message_handler = MessageHandler(renderer)
    message_handler.setLevel(
        logging.DEBUG if debug else (logging.INFO if verbosity >= 2 else logging.WARNING)
    )
    root.addHandler(message_handler)
    root.setLevel(logging.DEBUG)
    output = logging.getLogger("pyinfra.output")
    output.propagate = False
    for handler in list(output.handlers):
        output.removeHandler(handler)
    output.addHandler(OutputHandler(renderer))
    output.setLevel(logging.INFO)
    # paramiko logs its own transport errors; keep them out of the way unless debugging
    logging.getLogger("paramiko").setLevel(logging.DEBUG if debug else logging.CRITICAL)
