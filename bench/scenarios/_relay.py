"""A TCP relay that counts the bytes each way (what a tool really sends over SSH).

``with ByteRelay(host, port) as relay:`` listens on 127.0.0.1 (a port of
BENCH_RELAY_PORTS, default 42250-42299) and forwards every connection to host:port;
``relay.sent``/``relay.received`` are the bytes from the client to the server and back,
over all connections since the last ``relay.reset()``.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Any


def _ports() -> range:
    low, _, high = os.environ.get("BENCH_RELAY_PORTS", "42250-42299").partition("-")
    return range(int(low), int(high or low) + 1)


class ByteRelay:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.sent = 0
        self.received = 0
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        for candidate in _ports():
            try:
                self._listener.bind(("127.0.0.1", candidate))
                break
            except OSError:
                continue
        else:
            raise RuntimeError("no free relay port")
        self.port = self._listener.getsockname()[1]
        self._listener.listen(16)
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> ByteRelay:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._closed = True
        self._listener.close()

    def reset(self) -> None:
        with self._lock:
            self.sent = self.received = 0

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
                with self._lock:
                    if upstream:
                        self.sent += len(data)
                    else:
                        self.received += len(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
