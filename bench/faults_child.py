"""One fault scenario, run by bench/faults_compare.py with the interpreter under test.

    python faults_child.py SCENARIO NAME DATA_JSON [ARG]   (stall/dead_peer: PYI_FLT_TOKEN)

Uses only the API pyinfra 3.10 shares with ours. Prints ``READY`` (flushed) when the
parent should inject its fault (for the scenarios that have one), then one JSON line
with what happened: ``seconds`` of the call under test, ``ok``, ``message`` (the
failure line, or the exception) and scenario extras.
"""

from __future__ import annotations

import io
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pyinfra.api import Config, Inventory, State

MB = 1 << 20


def _host(name: str, data: dict[str, Any], config: Config | None = None) -> Any:
    inventory = Inventory(([(name, data)], {}))
    State(inventory, config or Config())
    return inventory.get_host(name)


def _line(output: Any) -> str:
    line = getattr(output, "failure_line", None)
    if line is not None:
        return str(line())
    stderr = getattr(output, "stderr_lines", None) or []
    return str(stderr[-1] if stderr else output)


def _ready() -> None:
    print("READY", flush=True)


class _Stalling(io.RawIOBase):
    """12 MB that stop after 4 MB until the parent says go (a line on stdin)."""

    def __init__(self) -> None:
        self.pos, self.size, self.told = 0, 12 * MB, False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = {0: 0, 1: self.pos, 2: self.size}[whence] + offset
        return self.pos

    def readinto(self, buffer: Any) -> int:
        if self.pos >= 4 * MB and not self.told:
            self.told = True
            _ready()
            sys.stdin.readline()
        count = min(len(buffer), self.size - self.pos, MB)
        buffer[:count] = b"x" * count
        self.pos += count
        return count


def main() -> None:
    scenario, name, data = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    arg = sys.argv[4] if len(sys.argv) > 4 else ""
    result: dict[str, Any] = {}
    config = Config(CONNECT_TIMEOUT=5) if scenario == "frozen_listener" else None
    host = _host(name, data, config)
    if scenario == "frozen_listener":
        _ready()
        sys.stdin.readline()  # the parent froze the listener
        started = time.monotonic()
        try:
            host.connect(raise_exceptions=True)
            result["ok"] = True
        except Exception as exc:  # noqa: BLE001 - the outcome is what we measure
            result.update(ok=False, message=f"{type(exc).__name__}: {exc}")
        result["seconds"] = time.monotonic() - started
        print(json.dumps(result), flush=True)
        return
    host.connect(raise_exceptions=True)
    host.run_shell_command("true")
    started = time.monotonic()
    try:
        if scenario in ("stall", "dead_peer"):
            _ready()
            timeout = {"_timeout": 5} if scenario == "stall" else {}
            token = os.environ["PYI_FLT_TOKEN"]
            ok, output = host.run_shell_command(f"sleep 60 # {token}", **timeout)
            result.update(ok=ok, message=_line(output))
        elif scenario == "wrong_sudo":
            ok, output = host.run_shell_command("id -u", _sudo=True, _sudo_password="wrong")
            result.update(ok=ok, message=_line(output))
        elif scenario == "docker_stdin":
            ok, output = host.run_shell_command("echo done", _stdin="x" * MB)
            result.update(ok=ok, message=_line(output))
        elif scenario == "docker_missing_dir":
            host.put_file(io.BytesIO(b"y" * 20 * MB), "/missing/file.bin")
            result["ok"] = True
        elif scenario == "burst":
            count = int(arg or 200)
            with ThreadPoolExecutor(count) as pool:
                outcomes = list(pool.map(lambda i: _one(host, i), range(count)))
            result.update(
                ok=all(o == "ok" for o in outcomes),
                succeeded=outcomes.count("ok"),
                total=count,
                message=next((o for o in outcomes if o != "ok"), ""),
            )
        elif scenario == "lost_upload":
            try:
                host.put_file(io.BufferedReader(_Stalling()), arg)
                result["ok"] = True
            finally:  # the next connection of the same run
                host.disconnect()
                host.connect(raise_exceptions=True)
        else:
            raise SystemExit(f"unknown scenario {scenario}")
    except Exception as exc:  # noqa: BLE001 - the outcome is what we measure
        result.update(ok=False, message=f"{type(exc).__name__}: {exc}")
    result["seconds"] = time.monotonic() - started
    print(json.dumps(result), flush=True)
    if scenario in ("stall", "dead_peer"):
        sys.stdin.readline()  # the run goes on (connected) until the parent has looked
    threading.Thread(target=host.disconnect, daemon=True).start()
    time.sleep(0.5)


def _one(host: Any, index: int) -> str:
    try:
        ok, output = host.run_shell_command(f"echo {index}")
    except Exception as exc:  # noqa: BLE001 - counted
        return f"{type(exc).__name__}: {exc}"
    return "ok" if ok else _line(output)


if __name__ == "__main__":
    main()
