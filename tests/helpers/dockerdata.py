"""Real Docker objects for the docker operation tests, without any image registry.

* :func:`make_plugin_dir`: a managed-plugin directory (``config.json`` + a 13 MB
  rootfs holding this machine's ``perl``) whose entrypoint listens on the plugin
  socket, so ``docker plugin create`` / ``enable`` work offline;
* :class:`FakeRegistry`: a registry on 127.0.0.1 (port 42300-42399) that accepts one
  user/password with HTTP basic auth on ``/v2/``: enough for ``docker login``
  (dockerd allows plain HTTP for 127.0.0.0/8 registries).

Every name starts with ``pyi-data``; nothing here touches other objects.
"""

from __future__ import annotations

import base64
import http.server
import json
import shutil
import socket
import threading
from pathlib import Path
from typing import Any

# PID 1 of the plugin: it must handle SIGTERM itself, or disabling waits for a kill.
_PLUGIN_LISTENER = (
    "$SIG{TERM} = sub { exit 0 }; my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), "
    "Local => '/run/docker/plugins/pyi.sock', Listen => 5) or die $!; "
    "while (my $c = $s->accept) { close $c }"
)
_PERL_FILES = (
    "/usr/bin/perl",
    "/lib/x86_64-linux-gnu/libm.so.6",
    "/lib/x86_64-linux-gnu/libc.so.6",
    "/lib/x86_64-linux-gnu/libcrypt.so.1",
    "/lib64/ld-linux-x86-64.so.2",
)


def plugin_unavailable() -> str | None:
    missing = [path for path in _PERL_FILES if not Path(path).exists()]
    if missing or not Path("/usr/lib/x86_64-linux-gnu/perl-base").is_dir():
        return f"a local docker plugin needs this machine's perl-base (missing {missing})"
    return None


def make_plugin_dir(directory: Path) -> Path:
    """Write a plugin directory for ``docker plugin create NAME DIRECTORY``: a log
    driver (dockerd calls it only for containers that use it; a volume driver would
    be asked by every ``docker volume ls`` on this shared daemon) with one settable
    variable ``DEBUG`` (default ``0``)."""
    rootfs = directory / "rootfs"
    for path in _PERL_FILES:
        target = rootfs / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    shutil.copytree(
        "/usr/lib/x86_64-linux-gnu/perl-base",
        rootfs / "usr/lib/x86_64-linux-gnu/perl-base",
        symlinks=True,
    )
    (rootfs / "run/docker/plugins").mkdir(parents=True)
    config: dict[str, Any] = {
        "description": "pyinfra test plugin",
        "documentation": "https://example.invalid/",
        "entrypoint": ["/usr/bin/perl", "-MIO::Socket::UNIX", "-e", _PLUGIN_LISTENER],
        "interface": {"types": ["docker.logdriver/1.0"], "socket": "pyi.sock"},
        "network": {"type": "none"},
        "env": [{"name": "DEBUG", "description": "debug", "settable": ["value"], "value": "0"}],
    }
    (directory / "config.json").write_text(json.dumps(config))
    return directory


def free_port(ports: range = range(42300, 42400), start: int = 0) -> int:
    for offset in range(len(ports)):
        port = ports[(start + offset) % len(ports)]
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 42300-42399")


class FakeRegistry:
    """A registry API root that accepts ``user``/``password`` (basic auth)."""

    def __init__(self, user: str, password: str) -> None:
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.requests: list[str] = []
        requests = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                requests.append(self.path)
                ok = self.headers.get("Authorization", "") == expected
                self.send_response(200 if ok else 401)
                self.send_header("Docker-Distribution-API-Version", "registry/2.0")
                if not ok:
                    self.send_header("WWW-Authenticate", 'Basic realm="pyi-data"')
                body = b"{}" if ok else b""
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.port = free_port(start=17)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> FakeRegistry:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
