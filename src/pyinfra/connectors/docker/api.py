"""A small Docker Engine API client (HTTP over a unix socket or plain TCP), stdlib only.

Used by the docker and podman connectors (podman serves the same API on its own
socket). Ordinary requests reuse pooled keep-alive connections; ``exec`` streams use
a fresh connection that the engine "hijacks" into a raw bidirectional byte stream.

Errors are translated once, here: a missing socket, a refused connection or a
permission problem become :class:`EngineUnavailable` (a ``ConnectError``) with a
one-line message that says how to fix it; HTTP errors become :class:`EngineError`
carrying the status code and the engine's own message.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from pyinfra.api.exceptions import ConnectError

_TIMEOUT = 60.0


class EngineUnavailable(ConnectError):
    """The engine's API endpoint cannot be reached."""


class EngineError(ConnectError):
    """The engine answered a request with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Endpoint:
    """Where an engine listens: ``unix`` + a socket path, or ``tcp`` + host:port."""

    scheme: str
    address: str
    engine: str = "docker"  # for messages: "docker" or "podman"
    start_hint: str = ""

    def __str__(self) -> str:
        return f"{self.scheme}://{self.address}"


def parse_endpoint(url: str, engine: str = "docker", start_hint: str = "") -> Endpoint:
    """``unix:///path``, ``tcp://host:port`` (or ``http://``) into an :class:`Endpoint`."""
    if url.startswith("unix://"):
        return Endpoint("unix", url[len("unix://") :], engine, start_hint)
    if url.startswith("/"):
        return Endpoint("unix", url, engine, start_hint)
    for prefix in ("tcp://", "http://"):
        if url.startswith(prefix):
            return Endpoint("tcp", url[len(prefix) :].rstrip("/"), engine, start_hint)
    scheme = url.split("://", 1)[0] if "://" in url else url
    raise EngineUnavailable(
        f"{engine} endpoint {url!r}: scheme {scheme!r} is not supported; use unix:///path "
        "or tcp://host:port (for an engine on another machine use @dockerssh/HOST:CONTAINER)"
    )


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def _split_host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host:
        return address, 2375
    return host.strip("[]"), int(port)


class EngineClient:
    """Thread-safe client of one engine endpoint."""

    def __init__(self, endpoint: Endpoint, timeout: float = _TIMEOUT) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._pool: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    # Connections -------------------------------------------------------------

    def _new_connection(self) -> http.client.HTTPConnection:
        if self.endpoint.scheme == "unix":
            return _UnixHTTPConnection(self.endpoint.address, self.timeout)
        host, port = _split_host_port(self.endpoint.address)
        return http.client.HTTPConnection(host, port, timeout=self.timeout)

    def _unavailable(self, exc: OSError) -> EngineUnavailable:
        ep = self.endpoint
        hint = f": {ep.start_hint}" if ep.start_hint else ""
        if isinstance(exc, FileNotFoundError):
            return EngineUnavailable(
                f"{ep.engine} API socket {ep.address} does not exist, the engine is not "
                f"running{hint}"
            )
        if isinstance(exc, PermissionError):
            return EngineUnavailable(
                f"permission denied on {ep.engine} API socket {ep.address}: run as root or "
                f"add your user to the socket's group (ls -l {ep.address})"
            )
        if isinstance(exc, ConnectionRefusedError):
            return EngineUnavailable(
                f"{ep.engine} engine at {ep} refuses connections (stale socket?), is it "
                f"running{hint}"
            )
        reason = exc.strerror or str(exc) or type(exc).__name__
        return EngineUnavailable(f"cannot reach the {ep.engine} engine at {ep}: {reason}")

    @contextlib.contextmanager
    def _connection(self) -> Iterator[http.client.HTTPConnection]:
        with self._lock:
            conn = self._pool.pop() if self._pool else None
        if conn is None:
            conn = self._new_connection()
        ok = False
        try:
            yield conn
            ok = True
        finally:
            if ok:
                with self._lock:
                    self._pool.append(conn)
            else:
                conn.close()

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, []
        for conn in pool:
            conn.close()

    # Requests ----------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
    ) -> tuple[int, bytes]:
        """One request; returns ``(status, body)``. Retries once on a stale keep-alive."""
        url = _url(path, query)
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        for attempt in (0, 1):
            try:
                with self._connection() as conn:
                    conn.request(method, url, body=payload, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                    return response.status, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                if attempt:
                    raise EngineUnavailable(
                        f"the {self.endpoint.engine} engine at {self.endpoint} closed the "
                        "connection"
                    ) from None
            except OSError as exc:
                raise self._unavailable(exc) from exc
        raise AssertionError("unreachable")

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
        ok: tuple[int, ...] = (200, 201, 204, 304),
    ) -> Any:
        """A request whose error status raises :class:`EngineError`; returns decoded JSON."""
        status, data = self.request(method, path, body, query)
        if status not in ok:
            raise EngineError(status, error_message(data, status))
        if not data:
            return None
        try:
            return json.loads(data)
        except ValueError:
            return data.decode(errors="replace")

    def upload(self, path: str, query: dict[str, Any], source: IO[bytes], length: int) -> None:
        """``PUT`` a body of known length from a stream (archive uploads)."""
        url = _url(path, query)
        conn = self._new_connection()
        try:
            conn.putrequest("PUT", url)
            conn.putheader("Content-Type", "application/x-tar")
            conn.putheader("Content-Length", str(length))
            conn.endheaders()
            while chunk := source.read(1 << 20):
                conn.send(chunk)
            response = conn.getresponse()
            data = response.read()
        except OSError as exc:
            raise self._unavailable(exc) from exc
        finally:
            conn.close()
        if response.status not in (200, 201, 204):
            raise EngineError(response.status, error_message(data, response.status))

    def hijack(self, path: str, body: Any) -> tuple[socket.socket, bytes]:
        """``POST`` that upgrades to a raw stream. Returns the socket and any bytes of
        the stream already read together with the response head."""
        payload = json.dumps(body).encode()
        if self.endpoint.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target: Any = self.endpoint.address
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            target = _split_host_port(self.endpoint.address)
        sock.settimeout(self.timeout)
        try:
            sock.connect(target)
            head = (
                f"POST {_url(path, None)} HTTP/1.1\r\nHost: docker\r\n"
                "Content-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n"
            ).encode()
            sock.sendall(head + payload)
            buffer = b""
            while b"\r\n\r\n" not in buffer:
                chunk = sock.recv(65536)
                if not chunk:
                    raise EngineUnavailable(
                        f"the {self.endpoint.engine} engine closed the exec stream early"
                    )
                buffer += chunk
        except OSError as exc:
            sock.close()
            raise self._unavailable(exc) from exc
        except BaseException:
            sock.close()
            raise
        head_bytes, _, rest = buffer.partition(b"\r\n\r\n")
        status_line = head_bytes.split(b"\r\n", 1)[0].decode(errors="replace")
        parts = status_line.split(" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        if status not in (101, 200):
            sock.close()
            raise EngineError(status, error_message(_body_of(head_bytes, rest), status))
        sock.settimeout(None)
        if status == 200 and b"transfer-encoding: chunked" in head_bytes.lower():
            sock.close()
            raise EngineError(status, "the engine did not upgrade the exec stream")
        return sock, rest


def _body_of(head: bytes, rest: bytes) -> bytes:
    if b"transfer-encoding: chunked" in head.lower():
        # the first chunk is enough for an error message
        size_line, _, data = rest.partition(b"\r\n")
        with contextlib.suppress(ValueError):
            return data[: int(size_line, 16)]
    return rest


def _url(path: str, query: dict[str, Any] | None) -> str:
    if not query:
        return path
    clean = {k: v for k, v in query.items() if v is not None}
    return f"{path}?{urllib.parse.urlencode(clean, doseq=True)}"


def error_message(data: bytes, status: int) -> str:
    """The engine's error text from a JSON ``{"message": ...}`` body (one line)."""
    text = data.decode(errors="replace").strip()
    with contextlib.suppress(ValueError):
        decoded = json.loads(text)
        if isinstance(decoded, dict):
            text = str(decoded.get("message") or decoded.get("cause") or text)
    text = " ".join(text.split())
    return text or f"HTTP status {status}"


def quote_path(value: str) -> str:
    """A container name/id/image reference for use inside a URL path."""
    return urllib.parse.quote(value, safe="")


def docker_endpoint() -> Endpoint:
    """The Docker endpoint: ``DOCKER_HOST``, the current docker context, else the default
    socket ``/var/run/docker.sock``."""
    hint = "start it with `dockerd &` (or `systemctl start docker`), or set DOCKER_HOST"
    host = os.environ.get("DOCKER_HOST")
    if host:
        return parse_endpoint(host, "docker", hint)
    context_host = _context_host()
    if context_host:
        return parse_endpoint(context_host, "docker", hint)
    return Endpoint("unix", "/var/run/docker.sock", "docker", hint)


def _context_host() -> str | None:
    """The ``Host`` of the current docker context (``DOCKER_CONTEXT`` or the CLI config)."""
    config_dir = os.environ.get("DOCKER_CONFIG") or os.path.expanduser("~/.docker")
    name = os.environ.get("DOCKER_CONTEXT")
    if not name:
        try:
            with open(os.path.join(config_dir, "config.json")) as handle:
                name = json.load(handle).get("currentContext")
        except (OSError, ValueError, AttributeError):
            return None
    if not name or name == "default":
        return None
    import hashlib

    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = os.path.join(config_dir, "contexts", "meta", digest, "meta.json")
    try:
        with open(meta) as handle:
            host = json.load(handle)["Endpoints"]["docker"]["Host"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EngineUnavailable(
            f"docker context {name!r} is selected but {meta} cannot be read ({exc}): "
            "fix it with `docker context use default`"
        ) from exc
    return str(host) if host else None


def podman_endpoint() -> Endpoint:
    """The podman API endpoint: ``CONTAINER_HOST``, else the root or rootless socket."""
    if os.geteuid() == 0:
        path = "/run/podman/podman.sock"
    else:
        runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.geteuid()}"
        path = f"{runtime}/podman/podman.sock"
    hint = f"start it with `podman system service --time=0 unix://{path} &`"
    host = os.environ.get("CONTAINER_HOST")
    if host:
        return parse_endpoint(host, "podman", hint)
    return Endpoint("unix", path, "podman", hint)


__all__ = [
    "EngineClient",
    "EngineError",
    "EngineUnavailable",
    "Endpoint",
    "docker_endpoint",
    "podman_endpoint",
    "parse_endpoint",
    "quote_path",
]
