"""The one execution loop every connector uses.

A connector only knows how to start a process on its target and move bytes; it wraps
that in a :class:`~.process.Process`. :func:`run_process` then does everything else, the
same way for every target: reads both output streams concurrently into ordered lines,
answers password prompts from a private channel, feeds stdin, enforces the timeout by
killing the process, and builds the :class:`CommandOutput`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import IO, Any

from pyinfra.connectors._runner.markers import READY_MARKER
from pyinfra.connectors._runner.process import Process, Responder, process_failure
from pyinfra.connectors.output import (
    INPUT_FAILED,
    TIMEOUT,
    CommandOutput,
    Failure,
    OutputLine,
    decode_line,
)

LineCallback = Callable[[OutputLine], None]
StdinData = bytes | IO[bytes] | None
_STDIN_CHUNK = 1 << 20

_live_lock = threading.Lock()
_live: set[Process] = set()


def kill_all_processes() -> int:
    """Kill every command currently running through any connector (Ctrl-C)."""
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        try:
            proc.kill()
        except Exception:  # noqa: BLE001 - best effort during interrupt
            pass
    return len(procs)


class _Collector:
    def __init__(self, on_line: LineCallback | None) -> None:
        self.lines: list[OutputLine] = []
        self.lock = threading.Lock()
        self.on_line = on_line

    def add(self, buffer_name: str, raw: bytes) -> None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        line = OutputLine(buffer_name, decode_line(raw), raw)
        with self.lock:
            self.lines.append(line)
        if self.on_line is not None:
            self.on_line(line)


class _StdinFeeder:
    """Writes the password (if prompted) and then the command's stdin data."""

    def __init__(self, process: Process, data: StdinData, wait_for_ready: bool) -> None:
        self.process = process
        self.data = data
        self.lock = threading.Lock()
        self.sent = False
        self.wait_for_ready = wait_for_ready
        self.error: OSError | None = None
        self.source_error: str | None = None

    def send_secret(self, secret: str) -> None:
        with self.lock:
            self.process.write_stdin(secret.encode() + b"\n")

    def send_data_soon(self) -> None:
        """``send_data`` now for bytes, or from its own thread for a stream."""
        if self.data is None or isinstance(self.data, bytes):
            self.send_data()
        else:
            threading.Thread(target=self.send_data, daemon=True, name="pyinfra-stdin").start()

    def send_data(self) -> None:
        with self.lock:
            if self.sent:
                return
            self.sent = True
            try:
                if isinstance(self.data, bytes):
                    if self.data:
                        self.process.write_stdin(self.data)
                elif self.data is not None:
                    while True:
                        try:
                            chunk = self.data.read(_STDIN_CHUNK)
                        except Exception as exc:  # noqa: BLE001 - any source failure
                            # Never close stdin on a broken source: the command would
                            # take the partial input as complete. Kill it instead.
                            self.source_error = f"reading the input failed: {exc}"
                            self.process.kill()
                            return
                        if not chunk:
                            break
                        self.process.write_stdin(chunk)
                self.process.close_stdin()
            except OSError as exc:  # the command exited without reading all its input
                self.error = exc


class _Prompts:
    """Answers password prompts: each responder once; a second prompt is a refusal."""

    def __init__(
        self, responders: Sequence[Responder], feeder: _StdinFeeder, process: Process
    ) -> None:
        self.responders = list(responders)
        self.feeder = feeder
        self.process = process
        self.answered: set[int] = set()
        self.refusals: list[Failure] = []
        self.lock = threading.Lock()

    def answer(self, pending: bytes) -> tuple[bytes, bool]:
        """``pending`` without the prompts it held, and whether one was answered now."""
        answered_now = False
        for index, responder in enumerate(self.responders):
            match = responder.pattern.search(pending)
            if match is None:
                continue
            pending = pending[: match.start()] + pending[match.end() :]
            with self.lock:
                refused = index in self.answered
                self.answered.add(index)
                if refused:
                    self.refusals.append(responder.refused)
            if refused:
                self.process.kill()
                continue
            answered_now = True
            try:
                self.feeder.send_secret(responder.secret)
            except OSError:
                pass
            if not self.feeder.wait_for_ready:
                self.feeder.send_data_soon()
        return pending, answered_now


def _reader(
    read: Callable[[], bytes],
    buffer_name: str,
    collector: _Collector,
    prompts: _Prompts,
    feeder: _StdinFeeder,
    sink: Callable[[bytes], Any] | None = None,
) -> None:
    pending = b""
    swallow_newline = False
    while True:
        try:
            chunk = read()
        except OSError:
            chunk = b""
        if not chunk:
            break
        if sink is not None:
            sink(chunk)
            continue
        pending += chunk
        if prompts.responders:
            pending, answered = prompts.answer(pending)
            swallow_newline = swallow_newline or answered
            if swallow_newline and pending:
                # the newline a terminal prints after a hidden password entry
                swallow_newline = False
                for newline in (b"\r\n", b"\n"):
                    if pending.startswith(newline):
                        pending = pending[len(newline) :]
                        break
        if READY_MARKER in pending:
            pending = (
                pending.replace(READY_MARKER + b"\r\n", b"")
                .replace(READY_MARKER + b"\n", b"")
                .replace(READY_MARKER, b"")
            )
            feeder.send_data_soon()
        if b"\n" in pending:
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                collector.add(buffer_name, raw)
    if pending:
        collector.add(buffer_name, pending)


def run_process(
    process: Process,
    *,
    stdin: StdinData = None,
    timeout: float | None = None,
    success_exit_codes: Sequence[int] | set[int] = (0,),
    on_line: LineCallback | None = None,
    responders: Sequence[Responder] = (),
    wait_for_ready: bool = False,
    stdout_sink: Callable[[bytes], Any] | None = None,
) -> tuple[bool, CommandOutput]:
    """Drive ``process`` to completion and return ``(success, CommandOutput)``.

    ``wait_for_ready``: the command prints :data:`~.markers.READY_MARKER` once
    escalation is done; stdin data is held back until then, so that it can never be
    mistaken for a password (and a password can never reach the command).
    """
    collector = _Collector(on_line)
    feeder = _StdinFeeder(process, stdin, wait_for_ready)
    prompts = _Prompts(responders, feeder, process)
    with _live_lock:
        _live.add(process)
    threads: list[threading.Thread] = []
    try:
        streams: list[tuple[Callable[[], bytes], str]] = [(process.read_stdout, "stdout")]
        if process.has_stderr:
            streams.append((process.read_stderr, "stderr"))
        for read, name in streams:
            sink = stdout_sink if name == "stdout" else None
            thread = threading.Thread(
                target=_reader,
                args=(read, name, collector, prompts, feeder, sink),
                daemon=True,
                name=f"pyinfra-{name}",
            )
            thread.start()
            threads.append(thread)
        if not responders and not wait_for_ready:
            if stdin is None or isinstance(stdin, bytes):
                feeder.send_data()
            else:  # a stream: feed it from its own thread while we read the output
                feeder_thread = threading.Thread(
                    target=feeder.send_data, daemon=True, name="pyinfra-stdin"
                )
                feeder_thread.start()
                threads.append(feeder_thread)
        started = time.monotonic()
        try:
            exit_code = process.wait(timeout)
        except BaseException:
            process.kill()
            raise
        timed_out = exit_code is None
        if timed_out:
            process.kill()
            exit_code = process.wait(5)
        deadline = time.monotonic() + (2.0 if timed_out else 30.0)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
    finally:
        with _live_lock:
            _live.discard(process)
        close = getattr(process, "close", None)
        if close is not None and all(not t.is_alive() for t in threads):
            close()
    output = CommandOutput(collector.lines, exit_code=exit_code, timed_out=timed_out)
    if timed_out:
        elapsed = time.monotonic() - started
        output.fail(
            TIMEOUT,
            f"command timed out after {_fmt_secs(timeout)} s and was killed (ran {elapsed:.1f} s)",
        )
        return False, output
    if prompts.refusals:
        output.failure = prompts.refusals[0]
        return False, output
    if feeder.source_error:
        output.fail(INPUT_FAILED, feeder.source_error)
        return False, output
    ok = exit_code in success_exit_codes
    if not ok:
        output.failure = process_failure(process, output)
    return ok, output


def _fmt_secs(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:g}"


def stdin_bytes(stdin: Any) -> bytes | None:
    """The ``_stdin`` argument as bytes: a string, bytes, a file object (read from where
    it is), or lines (a newline is added to each line that has none)."""
    if stdin is None:
        return None
    if isinstance(stdin, bytes):
        return stdin
    if isinstance(stdin, str):
        return stdin.encode()
    read = getattr(stdin, "read", None)
    if callable(read):
        data = read()
        return data.encode() if isinstance(data, str) else bytes(data)
    lines = [line.encode() if isinstance(line, str) else bytes(line) for line in stdin]
    return b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines)
