"""Local port forwarding over a host's SSH transport (like ``ssh -L``).

``PortForward`` listens on a local address; each accepted connection gets its own
``direct-tcpip`` channel to ``remote_host:remote_port`` as seen from the target, and two
threads copy bytes both ways. ``close()`` (or leaving the ``with`` block, or the
connector's ``disconnect()``) stops listening and closes every forwarded connection.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

import paramiko

from pyinfra.api.exceptions import ConnectError
from pyinfra.connectors.ssh.process import send_eof

logger = logging.getLogger("pyinfra")
_CHUNK = 65536


class PortForward:
    """A running local port forward; ``local_host``/``local_port`` say where it listens."""

    def __init__(
        self,
        transport: paramiko.Transport,
        remote_host: str,
        remote_port: int,
        *,
        local_host: str = "127.0.0.1",
        local_port: int = 0,
        name: str = "",
        on_close: Callable[[PortForward], None] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.remote_host = remote_host
        self.remote_port = int(remote_port)
        self.name = name
        self._transport = transport
        self._on_close = on_close
        self._timeout = timeout
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._open: set[Any] = set()
        try:
            self._server = socket.create_server((local_host, local_port))
        except OSError as exc:
            raise ConnectError(
                f"{name}: cannot listen on {local_host}:{local_port} for port forwarding: "
                f"{exc.strerror or exc}"
            ) from None
        self._server.settimeout(0.5)
        address = self._server.getsockname()
        self.local_host: str = address[0]
        self.local_port: int = address[1]
        self._thread = threading.Thread(
            target=self._accept_loop, daemon=True, name=f"pyinfra-forward-{self.local_port}"
        )
        self._thread.start()

    def __repr__(self) -> str:
        return (
            f"PortForward({self.local_host}:{self.local_port} -> "
            f"{self.remote_host}:{self.remote_port} via {self.name})"
        )

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def __enter__(self) -> PortForward:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop listening and close every forwarded connection. Safe to call twice."""
        if self._closed.is_set():
            return
        self._closed.set()
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._server.close()
        with self._lock:
            endpoints, self._open = list(self._open), set()
        for endpoint in endpoints:
            if isinstance(endpoint, socket.socket):  # wakes the thread blocked in recv()
                with contextlib.suppress(OSError):
                    endpoint.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(Exception):
                endpoint.close()
        if self._thread is not threading.current_thread():
            self._thread.join(2.0)
        if self._on_close is not None:
            self._on_close(self)

    # -- internals -----------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, peer = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            try:
                channel = self._transport.open_channel(
                    "direct-tcpip",
                    (self.remote_host, self.remote_port),
                    peer[:2],
                    timeout=self._timeout,
                )
            except (paramiko.SSHException, OSError, EOFError) as exc:
                logger.warning(
                    "%s: port forward to %s:%s failed: %s",
                    self.name,
                    self.remote_host,
                    self.remote_port,
                    exc or type(exc).__name__,
                )
                client.close()
                if not self._transport.is_active():
                    break
                continue
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._closed.is_set():
                    client.close()
                    channel.close()
                    break
                self._open.update((client, channel))
            for source, sink in ((client, channel), (channel, client)):
                threading.Thread(
                    target=self._pump, args=(source, sink, client, channel), daemon=True
                ).start()

    def _pump(self, source: Any, sink: Any, client: socket.socket, channel: Any) -> None:
        try:
            while True:
                data = source.recv(_CHUNK)
                if not data:
                    break
                sink.sendall(data)
        except (OSError, EOFError, paramiko.SSHException):
            pass
        finally:
            # One direction ended: pass the EOF on; when both ended, release the pair.
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                if sink is channel:
                    send_eof(channel)
                else:
                    client.shutdown(socket.SHUT_WR)
            if channel.closed or channel.eof_received and channel.eof_sent:
                with self._lock:
                    self._open.discard(client)
                    self._open.discard(channel)
                with contextlib.suppress(OSError):
                    client.close()
                channel.close()
