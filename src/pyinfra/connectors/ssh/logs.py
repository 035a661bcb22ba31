"""paramiko's log records, routed under pyinfra's logger and silent unless asked for.

paramiko logs its transport's troubles itself, at WARNING/ERROR, sometimes with a
traceback ("Socket exception: Connection reset by peer", "Success for unrequested
channel!"). The SSH connector translates every failure into its own one-line error, so
for a program using pyinfra those records are noise, and with no logging configured
Python's last-resort handler prints them on stderr.

:func:`route_paramiko_logs` (called when the SSH connector is first used, not at
``import pyinfra``) stops them from reaching the root logger and passes each one on to
``pyinfra.ssh.paramiko`` at DEBUG, its own level and text kept in the message: they
show where pyinfra's debug logs are shown (``pyinfra --debug``, or
``logging.getLogger("pyinfra").setLevel(logging.DEBUG)`` with a handler) and nowhere
else. A program that configured the ``paramiko`` logger itself (a handler or a level
of its own) is left alone.
"""

from __future__ import annotations

import logging
import threading

TARGET = "pyinfra.ssh.paramiko"

_lock = threading.Lock()
_routed = False


class _ToPyinfra(logging.Handler):
    """Re-logs a paramiko record under :data:`TARGET`, at DEBUG."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.target = logging.getLogger(TARGET)

    def emit(self, record: logging.LogRecord) -> None:
        if not self.target.isEnabledFor(logging.DEBUG):
            return
        message = record.getMessage()
        if record.exc_info and record.exc_info[0] is not None:
            message += " (" + logging.Formatter().formatException(record.exc_info) + ")"
        self.target.debug("%s: %s [%s]", record.name, message, record.levelname)


def route_paramiko_logs() -> None:
    """Route ``paramiko``'s records under pyinfra's logger (once, idempotent)."""
    global _routed
    with _lock:
        if _routed:
            return
        _routed = True
        paramiko_logger = logging.getLogger("paramiko")
        if paramiko_logger.handlers or paramiko_logger.level != logging.NOTSET:
            return  # configured by the program: its choice
        paramiko_logger.addHandler(_ToPyinfra())
        paramiko_logger.propagate = False
