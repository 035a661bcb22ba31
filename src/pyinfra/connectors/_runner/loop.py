"""The one execution loop every connector uses.

A connector only knows how to start a process on its target and move bytes; it wraps
that in a :class:`~.process.Process`. :func:`run_process` then does everything else, the
same way for every target: reads both output streams concurrently into ordered lines,
answers password prompts from a private channel, feeds stdin, enforces the timeout by
killing the process, and builds the :class:`CommandOutput`.

Bounds the loop keeps, whatever the target does:

* a timeout returns within :data:`KILL_GRACE` seconds of the deadline, whether or not
  the kill reached the target (when it did not, the output says so: the command may
  still be running);
* a command that exits without reading its stdin never waits for the rest of its
  input to be written: once its output has ended, the input is abandoned;
* ``keep_output=False`` streams each line to ``on_line`` and keeps only the last
  :data:`TAIL_LINES` lines (for the failure line), so memory stays bounded whatever
  the command prints.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
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

logger = logging.getLogger("pyinfra")

LineCallback = Callable[[OutputLine], None]
StdinData = bytes | IO[bytes] | None
_STDIN_CHUNK = 1 << 20
# stdin data up to this size is written before waiting (it fits in any pipe or socket
# buffer); larger data is fed from a thread of its own, so an exit never waits for it
_SYNC_STDIN_MAX = 1 << 16
# after a timeout, how long the kill and the command's end may take before returning
KILL_GRACE = 0.8
# lines kept when the output is streamed (keep_output=False), and the longest line held
# back while waiting for its newline (a longer one is passed on in pieces)
TAIL_LINES = 200
_MAX_PENDING = 1 << 20

_live_lock = threading.Lock()
# every running command -> the transfer it belongs to (None: a command of its own)
_live: dict[Process, object | None] = {}
# every transfer in flight -> how to stop it
_transfers: dict[object, Callable[[], None]] = {}
# what Ctrl-C stopped so far (each counted once however often it is killed)
_stopped: dict[int, str] = {}
_stopped_refs: list[object] = []  # keeps the ids above from being reused


def kill_all_processes() -> int:
    """Kill every command running through any connector and stop every transfer in
    flight (Ctrl-C); the number of commands (not part of a transfer) killed now.
    :func:`stopped_counts` tells what all the calls together stopped."""
    with _live_lock:
        procs = list(_live.items())
        transfers = list(_transfers.items())
        fresh = 0
        for item, kind in [(p, "command" if o is None else "") for p, o in procs] + [
            (t, "transfer") for t, _ in transfers
        ]:
            if kind and id(item) not in _stopped:
                _stopped[id(item)] = kind
                _stopped_refs.append(item)
                fresh += kind == "command"
    for _, stop in transfers:
        stop()
    for proc, _ in procs:
        try:
            proc.kill()
        except Exception as exc:  # noqa: BLE001 - a connector's kill: go on with the others
            logger.warning("could not kill a running command: %s", exc)
    return fresh


def stopped_counts() -> tuple[int, int]:
    """``(commands, transfers)`` stopped by :func:`kill_all_processes` so far."""
    with _live_lock:
        kinds = list(_stopped.values())
    return kinds.count("command"), kinds.count("transfer")


@contextlib.contextmanager
def tracked_transfer(stop: Callable[[], None]) -> Iterator[object]:
    """Register a transfer in flight (``stop`` makes it stop); yields its token, to pass
    as ``owner`` to the commands it runs."""
    token = object()
    with _live_lock:
        _transfers[token] = stop
    try:
        yield token
    finally:
        with _live_lock:
            _transfers.pop(token, None)


class _Collector:
    """The lines in arrival order: all of them, or (streaming) only the last few of each
    stream (so the stderr line that explains a failure is kept however much stdout
    came after it)."""

    def __init__(self, on_line: LineCallback | None, keep: bool = True) -> None:
        self.lines: list[OutputLine] | None = [] if keep else None
        self.tails: dict[str, deque[tuple[int, OutputLine]]] = {}
        self.count = 0
        self.lock = threading.Lock()
        self.on_line = on_line

    def add(self, buffer_name: str, raw: bytes) -> None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        line = OutputLine(buffer_name, decode_line(raw), raw)
        with self.lock:
            if self.lines is not None:
                self.lines.append(line)
            else:
                tail = self.tails.get(buffer_name)
                if tail is None:
                    tail = self.tails[buffer_name] = deque(maxlen=TAIL_LINES)
                tail.append((self.count, line))
            self.count += 1
        if self.on_line is not None:
            self.on_line(line)

    def output(self, exit_code: int | None, timed_out: bool) -> CommandOutput:
        with self.lock:
            if self.lines is not None:
                lines = list(self.lines)
            else:
                kept = sorted(item for tail in self.tails.values() for item in tail)
                lines = [line for _, line in kept]
            omitted = self.count - len(lines)
        output = CommandOutput(lines, exit_code=exit_code, timed_out=timed_out)
        output.omitted_lines = omitted
        return output


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
        self.thread: threading.Thread | None = None

    @property
    def small(self) -> bool:
        """Whether the data is written at once (nothing, or a few bytes)."""
        data = self.data
        return data is None or (isinstance(data, bytes) and len(data) <= _SYNC_STDIN_MAX)

    @property
    def busy(self) -> bool:
        """Still writing (from its own thread)."""
        return self.thread is not None and self.thread.is_alive()

    def send_secret(self, secret: str) -> None:
        with self.lock:
            self.process.write_stdin(secret.encode() + b"\n")

    def send_data_soon(self) -> None:
        """``send_data`` now for a few bytes, else from a thread of its own (a command
        may exit without reading its input: nothing may wait for that write)."""
        if self.small:
            self.send_data()
            return
        with self.lock:
            if self.sent or self.thread is not None:
                return
            self.thread = threading.Thread(target=self.send_data, daemon=True, name="pyinfra-stdin")
        self.thread.start()

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
                # the command never started: a process that can stop the escalation
                # tool without escalating again (another refused attempt) does so
                stop = getattr(self.process, "kill_refused", None) or self.process.kill
                stop()
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
    max_pending: int | None = None,
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
        if max_pending is not None and len(pending) > max_pending:
            collector.add(buffer_name, pending)  # a line without end: pass it on in pieces
            pending = b""
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
    keep_output: bool = True,
    owner: object | None = None,
) -> tuple[bool, CommandOutput]:
    """Drive ``process`` to completion and return ``(success, CommandOutput)``.

    ``wait_for_ready``: the command prints :data:`~.markers.READY_MARKER` once
    escalation is done; stdin data is held back until then, so that it can never be
    mistaken for a password (and a password can never reach the command).

    ``keep_output=False``: stream the lines to ``on_line`` without keeping them; the
    output holds the last :data:`TAIL_LINES` (``omitted_lines`` counts the others).

    ``owner``: the transfer this command is part of (from :func:`tracked_transfer`): an
    interrupt counts it as that transfer, not as a command.
    """
    collector = _Collector(on_line, keep_output)
    feeder = _StdinFeeder(process, stdin, wait_for_ready)
    prompts = _Prompts(responders, feeder, process)
    max_pending = None if keep_output else _MAX_PENDING
    with _live_lock:
        _live[process] = owner
    readers: list[threading.Thread] = []
    exit_code: int | None = None
    timed_out = False
    started = time.monotonic()
    try:
        streams: list[tuple[Callable[[], bytes], str]] = [(process.read_stdout, "stdout")]
        if process.has_stderr:
            streams.append((process.read_stderr, "stderr"))
        for read, name in streams:
            sink = stdout_sink if name == "stdout" else None
            thread = threading.Thread(
                target=_reader,
                args=(read, name, collector, prompts, feeder, sink, max_pending),
                daemon=True,
                name=f"pyinfra-{name}",
            )
            thread.start()
            readers.append(thread)
        if not responders and not wait_for_ready:
            feeder.send_data_soon()
        try:
            exit_code = process.wait(timeout)
        except BaseException:
            process.kill()
            raise
        timed_out = exit_code is None
        if timed_out:
            kill_deadline = time.monotonic() + KILL_GRACE
            process.kill()
            exit_code = process.wait(max(0.05, kill_deadline - time.monotonic()))
            deadline = time.monotonic() + 0.1
        else:
            deadline = time.monotonic() + 30.0
        for thread in readers:
            thread.join(max(0.0, deadline - time.monotonic()))
        if exit_code is not None and feeder.busy and not any(t.is_alive() for t in readers):
            # The command has ended, and so has its output, but its input is still being
            # written: it exited without reading it all. Stop writing.
            _abandon_input(process, feeder)
    finally:
        with _live_lock:
            _live.pop(process, None)
        close = getattr(process, "close", None)
        if close is not None and not feeder.busy and all(not t.is_alive() for t in readers):
            close()
    output = collector.output(exit_code, timed_out)
    if timed_out:
        elapsed = time.monotonic() - started
        if exit_code is None:
            note = process_failure(process, output)
            detail = (
                note.message
                if note is not None
                else "it did not end when killed and may still be running"
            )
            output.fail(TIMEOUT, f"command timed out after {_fmt_secs(timeout)} s; {detail}")
        else:
            output.fail(
                TIMEOUT,
                f"command timed out after {_fmt_secs(timeout)} s and was killed "
                f"(ran {elapsed:.1f} s)",
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


def _abandon_input(process: Process, feeder: _StdinFeeder) -> None:
    """Unblock a write to a command that has ended (its streams are released)."""
    close = getattr(process, "close", None)
    if close is not None:
        close()
    if feeder.thread is not None:
        feeder.thread.join(1.0)


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
