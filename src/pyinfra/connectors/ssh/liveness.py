"""Dead-peer detection for one SSH transport (``ServerAliveInterval``/``CountMax``).

TCP alone never notices a server that stopped answering while its kernel still
acknowledges (a frozen sshd, a hung machine behind a live NAT), and paramiko's own
keepalive asks for no reply, so it never notices either. :class:`Liveness` does what
OpenSSH's client does: it notes when the server last sent anything; after ``interval``
seconds of silence it sends a request that must be answered
(``keepalive@openssh.com``, ``want_reply``), and another after each further interval;
once ``count_max`` of them went unanswered it declares the connection dead, which
closes the transport: every command, transfer and channel waiting on it ends at once
with "connection lost: no answer for N s".

Sends never block the monitor: a probe is written by a short-lived thread (a frozen
server's full socket buffer can make a write wait), and silence is measured on what
arrives, not on what was sent.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import paramiko
from paramiko.common import cMSG_GLOBAL_REQUEST

_PROBE = "keepalive@openssh.com"


class Liveness:
    """Watches one transport; ``on_dead(reason)`` is called once when it stops answering.

    ``interval`` <= 0 turns the probes off (the transport is then only watched for what
    TCP itself reports)."""

    def __init__(
        self,
        transport: paramiko.Transport,
        interval: float,
        count_max: int,
        on_dead: Callable[[str], None],
    ) -> None:
        self.transport = transport
        self.interval = float(interval)
        self.count_max = max(1, int(count_max))
        self.on_dead = on_dead
        self.last_received = time.monotonic()
        self._stop = threading.Event()
        self._probe: threading.Thread | None = None
        self._thread: threading.Thread | None = None

    @property
    def limit(self) -> float:
        """Seconds of silence after which the connection counts as dead."""
        return self.interval * (self.count_max + 1)

    def start(self) -> None:
        """Start counting what arrives, and the monitor thread when probes are on."""
        packetizer: Any = self.transport.packetizer
        read_message = packetizer.read_message

        def counted_read_message() -> Any:
            message = read_message()
            self.last_received = time.monotonic()
            return message

        packetizer.read_message = counted_read_message
        if self.interval <= 0:
            return
        self._thread = threading.Thread(
            target=self._watch, daemon=True, name="pyinfra-ssh-keepalive"
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def silence(self) -> float:
        return time.monotonic() - self.last_received

    def _watch(self) -> None:
        tick = min(1.0, self.interval / 4)
        sent = 0
        heard = self.last_received
        while not self._stop.wait(tick):
            if not self.transport.is_active():
                return
            if self.last_received != heard:
                heard, sent = self.last_received, 0
            silence = self.silence()
            due = int(silence // self.interval)
            if due > self.count_max:
                self._stop.set()
                self.on_dead(f"connection lost: no answer for {silence:.0f} s")
                return
            if due > sent:
                sent = due
                self._send_probe()

    def _send_probe(self) -> None:
        if self._probe is not None and self._probe.is_alive():
            return  # the last one is still stuck in a full socket: that says enough
        self._probe = threading.Thread(target=self._probe_once, daemon=True)
        self._probe.start()

    def _probe_once(self) -> None:
        message = paramiko.Message()
        message.add_byte(cMSG_GLOBAL_REQUEST)
        message.add_string(_PROBE)
        message.add_boolean(True)  # want a reply: any reply proves the server is there
        sender: Any = self.transport
        # a dead transport fails the send: the monitor decides from the silence
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            sender._send_user_message(message)
