"""Helpers shared by the benchmark scenarios.

Every scenario runs unchanged under both interpreters (our package and the real
pyinfra 3.x), so this module only touches the public API both of them share:

    Inventory((names, data)), State(inventory, Config()), inventory.get_host(name),
    host.connect(), host.run_shell_command(cmd) -> (ok, output),
    host.put_file(src, dest), host.get_file(src, dest), host.disconnect().

A scenario prints exactly one JSON object on its last stdout line. Time spent
importing pyinfra and connecting is reported separately from the timed work.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

_T0 = time.perf_counter()
from pyinfra.api import Config, Inventory, State  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - _T0
CHUNK = 1024 * 1024


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value == "":
        fail(f"environment variable {name} is required")
    return value


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def fail(message: str) -> NoReturn:
    print(json.dumps({"error": message}))
    sys.exit(2)


def emit(result: dict[str, Any]) -> None:
    """Print the scenario's measurements as one JSON line and exit."""
    result.setdefault("import_seconds", IMPORT_SECONDS)
    print(json.dumps(result))
    sys.stdout.flush()


def connected_host(name: str, data: dict[str, Any] | None = None) -> tuple[Any, float]:
    """Build a one-host inventory, connect it and return (host, connect_seconds)."""
    names: list[Any] = [(name, data)] if data else [name]
    inventory = Inventory((names, {}))
    # BENCH_CONFIG: Config settings as JSON, e.g. '{"FACT_PREFETCH": true}' (a setting
    # pyinfra 3.x does not know is kept on its Config and ignored).
    settings = json.loads(os.environ.get("BENCH_CONFIG") or "{}")
    State(inventory, Config(**settings))
    host = inventory.get_host(name)
    started = time.perf_counter()
    host.connect(raise_exceptions=True)
    return host, time.perf_counter() - started


def run_ok(host: Any, command: str) -> Any:
    ok, output = host.run_shell_command(command)
    if not ok:
        fail(f"command failed: {command!r}: {getattr(output, 'stderr', output)!r}")
    return output


def time_true_loop(host: Any, count: int) -> dict[str, Any]:
    """Run `true` `count` times sequentially (after one warm-up) and time it."""
    run_ok(host, "true")
    cpu = time.process_time()
    started = time.perf_counter()
    for _ in range(count):
        run_ok(host, "true")
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "ops": count,
        "per_sec": count / seconds,
        # CPU burnt by this Python process itself (not by the `true`s or the remote side).
        "cpu_seconds": time.process_time() - cpu,
    }


def make_file(size_mb: int) -> tuple[Path, str]:
    """Write a temp file of random bytes; return (path, sha256)."""
    digest = hashlib.sha256()
    fd, name = tempfile.mkstemp(prefix="pyinfra-bench-src-")
    with os.fdopen(fd, "wb") as handle:
        for _ in range(size_mb):
            block = os.urandom(CHUNK)  # incompressible, so SSH compression can't cheat
            digest.update(block)
            handle.write(block)
    return Path(name), digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def time_put_get(host: Any, size_mb: int, remote_dir: str) -> dict[str, Any]:
    """Upload then download a `size_mb` file by path and check it round-trips intact."""
    source, source_sha = make_file(size_mb)
    remote = f"{remote_dir.rstrip('/')}/pyinfra-bench-{os.getpid()}.bin"
    fd, back_name = tempfile.mkstemp(prefix="pyinfra-bench-back-")
    os.close(fd)
    back = Path(back_name)
    cpu = time.process_time()
    try:
        put_seconds = _timed(lambda: host.put_file(str(source), remote), "put_file")
        get_seconds = _timed(lambda: host.get_file(remote, str(back)), "get_file")
        cpu_seconds = time.process_time() - cpu
        size = back.stat().st_size
        if size != size_mb * CHUNK or sha256_of(back) != source_sha:
            fail(f"round-trip mismatch: got {size} bytes, expected {size_mb * CHUNK}")
    finally:
        host.run_shell_command(f"rm -f {shlex.quote(remote)}")
        source.unlink(missing_ok=True)
        back.unlink(missing_ok=True)
    return {
        "seconds": put_seconds + get_seconds,
        "size_mb": size_mb,
        "put_seconds": put_seconds,
        "get_seconds": get_seconds,
        "put_mb_s": size_mb / put_seconds,
        "get_mb_s": size_mb / get_seconds,
        "cpu_seconds": cpu_seconds,
    }


def time_openssh_scp(size_mb: int, remote_dir: str) -> dict[str, Any]:
    """OpenSSH's own `scp` upload and download of a `size_mb` file to BENCH_HOST (the
    reference the SSH connector's throughput is compared with); {} without `scp`."""
    import shutil
    import subprocess

    if shutil.which("scp") is None or not os.environ.get("BENCH_HOST"):
        return {}
    source, source_sha = make_file(size_mb)
    remote = f"{remote_dir.rstrip('/')}/pyinfra-bench-scp-{os.getpid()}.bin"
    back = source.with_name(source.name + ".back")
    user = os.environ.get("BENCH_USER")
    target = f"{user}@{os.environ['BENCH_HOST']}" if user else os.environ["BENCH_HOST"]
    options = ["-q", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
               "-o", "BatchMode=yes", "-P", str(env_int("BENCH_PORT", 22))]  # fmt: skip
    if os.environ.get("BENCH_KEY"):
        options += ["-i", os.environ["BENCH_KEY"]]

    def scp(*args: str) -> None:
        subprocess.run(["scp", *options, *args], check=True, capture_output=True)

    try:
        put_seconds = _timed(lambda: scp(str(source), f"{target}:{remote}"), "scp put")
        get_seconds = _timed(lambda: scp(f"{target}:{remote}", str(back)), "scp get")
        if sha256_of(back) != source_sha:
            fail("scp round-trip mismatch")
    finally:
        source.unlink(missing_ok=True)
        back.unlink(missing_ok=True)
        ssh_options = [o if o != "-P" else "-p" for o in options if o != "-q"]
        subprocess.run(["ssh", *ssh_options, target, "rm", "-f", shlex.quote(remote)],
                       capture_output=True, check=False)  # fmt: skip
    return {"scp_put_mb_s": size_mb / put_seconds, "scp_get_mb_s": size_mb / get_seconds}


def _timed(action: Callable[[], Any], what: str) -> float:
    started = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - started
    if result is False:
        fail(f"{what} returned False")
    return seconds


def ssh_host() -> tuple[Any, float]:
    """Connect to BENCH_HOST over SSH without touching any known_hosts file."""
    data: dict[str, Any] = {
        "ssh_port": env_int("BENCH_PORT", 22),
        "ssh_strict_host_key_checking": "off",
        "ssh_known_hosts_file": "/dev/null",
    }
    if os.environ.get("BENCH_USER"):
        data["ssh_user"] = os.environ["BENCH_USER"]
    if os.environ.get("BENCH_KEY"):
        data["ssh_key"] = os.environ["BENCH_KEY"]
    return connected_host(env_str("BENCH_HOST"), data)


def docker_host() -> tuple[Any, float]:
    """Connect to the running container BENCH_CONTAINER via `@docker/NAME`."""
    return connected_host(f"@docker/{env_str('BENCH_CONTAINER')}")
