"""ssh_facts: 20 different facts read one after another on an open SSH connection.

Connects to BENCH_HOST (BENCH_PORT, BENCH_USER, BENCH_KEY as for ssh_true), then times
20 `host.get_fact(...)` calls, each a different fact or argument (so no fact cache can
answer one from another). `seconds` covers only those 20 reads; `connect_seconds` the
connect before them. Part of the WAN benchmark (bench/wan.py), which runs it at RTT 0
and at RTT 50 ms; it works against any SSH host as well.

BENCH_COUNT_LOGS (optional, comma-separated paths): the size of each file just before
and just after the timed reads is reported in `log_offsets`, so the caller can count
what the server logged during the 20 reads only (bench/wan.py counts sshd's lines).
"""

from __future__ import annotations

import os
import time
from typing import Any

from _common import emit, env_str, fail, ssh_host

from pyinfra.facts import files, server

FACTS: list[tuple[Any, dict[str, Any]]] = [
    (server.Hostname, {}),
    (server.Os, {}),
    (server.OsVersion, {}),
    (server.Kernel, {}),
    (server.KernelVersion, {}),
    (server.Arch, {}),
    (server.User, {}),
    (server.Home, {}),
    (server.Which, {"command": "sh"}),
    (server.Which, {"command": "python3"}),
    (server.Command, {"command": "echo wan"}),
    (server.Groups, {}),
    (files.File, {"path": "/etc/hostname"}),
    (files.File, {"path": "/etc/passwd"}),
    (files.Directory, {"path": "/tmp"}),
    (files.Directory, {"path": "/etc"}),
    (files.Link, {"path": "/bin"}),
    (files.Sha1File, {"path": "/etc/passwd"}),
    (files.Sha256File, {"path": "/etc/passwd"}),
    (files.FileContents, {"path": "/etc/hostname"}),
]


def log_sizes(paths: list[str]) -> list[int]:
    return [os.path.getsize(path) if os.path.exists(path) else 0 for path in paths]


def main() -> None:
    logs = [p for p in os.environ.get("BENCH_COUNT_LOGS", "").split(",") if p]
    host, connect_seconds = ssh_host()
    before = log_sizes(logs)
    cpu = time.process_time()
    started = time.perf_counter()
    values = [host.get_fact(fact, **kwargs) for fact, kwargs in FACTS]
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu
    after = log_sizes(logs)
    host.disconnect()
    # A fact whose command failed comes back as its default: check a few known values.
    user = os.environ.get("BENCH_USER") or ""
    if user and values[6] != user:
        fail(f"server.User returned {values[6]!r}, expected {user!r}")
    if values[10] != "wan" or not values[8] or not values[14] or not values[18]:
        fail(f"unexpected fact values: {values!r}")
    emit(
        {
            "seconds": seconds,
            "ops": len(FACTS),
            "connect_seconds": connect_seconds,
            "cpu_seconds": cpu_seconds,
            "host": env_str("BENCH_HOST"),
            "log_offsets": {path: [a, b] for path, a, b in zip(logs, before, after, strict=True)},
        }
    )


if __name__ == "__main__":
    main()
