"""A host's shell commands that have not been sent yet, across operations.

An operation's shell commands wait here instead of going out when the operation ends
(see :mod:`pyinfra.api.cmdbatch` for the script that runs them). They go out together
with the next thing the host has to send: the next fact read (prepended to it, so the
commands and the read cost one round trip), or, at the latest, before anything that
needs them to have run: a command that cannot be batched, an upload, a result being
recorded or read, the host waiting for other hosts, the end of its deploy.

Same semantics as running them one by one: in order, each in its own subshell, the
first failure stops everything after it (the fact read included). An operation whose
commands are still here is *deferred*: its result is recorded, in order, when they
have run, and if one of them failed the host fails with that operation's error
(:class:`EarlierOperationFailed` is raised wherever the host was when it learned it).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pyinfra.api.cmdbatch import Part, new_token, script, split_with_rest
from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.results import HostOperationFailed
from pyinfra.connectors.output import CommandOutput, OutputLine

if TYPE_CHECKING:
    from pyinfra.api.host import Host


class EarlierOperationFailed(HostOperationFailed):
    """A deferred operation's command failed when its batch finally ran: the host fails
    with that operation's error (the operation running now never started its changes)."""


class Sink(Protocol):
    """Where one operation's command results go (its executor)."""

    failed: str | None

    def take_result(self, command: Any, part: Part, whole: CommandOutput, share: float) -> None: ...


@dataclass
class QueuedUpload:
    """A small upload waiting in the queue: a command of the batch that writes the
    batch's stdin (its data) to the destination, atomically (``upload.sh``)."""

    command: Any  # the operation's FileUploadCommand (what its result names)
    data: bytes
    script: StringCommand


@dataclass
class _Entry:
    sink: Sink
    commands: list[StringCommand | QueuedUpload] = field(default_factory=list)
    # Set when its operation ended with the commands still here: records its result
    # once they ran; returns the host's error when the operation failed.
    done: Callable[[], str | None] | None = None
    # Queued by an operation that started ahead of its turn (see ``set_gate``).
    gated: bool = False
    # What waits for this operation's result (the next operation's start callbacks).
    then: list[Callable[[], None]] = field(default_factory=list)


@dataclass
class Prefix:
    """Queued commands sent in front of another command (a fact read)."""

    script: StringCommand
    consume: Callable[[CommandOutput, float], CommandOutput]
    stdin: bytes | None = None  # the data of the upload among them

    def lost(self, exc: BaseException) -> None:
        """The command carrying them raised: the first of them failed with that error
        (its operation's result says so); the rest never ran."""
        failed = CommandOutput([OutputLine("stderr", str(exc) or type(exc).__name__)], 1)
        with contextlib.suppress(PyinfraError):
            self.consume(failed, 0.0)


class CommandQueue:
    """Owned by the thread running the host's deploy: from any other thread (a deploy
    reading another host's facts) the queue looks empty and is left alone."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self._entries: list[_Entry] = []
        self._arguments: dict[str, Any] | None = None
        self._resolved: dict[str, Any] | None = None
        self._owner: int | None = None
        self._gate: Callable[[], None] | None = None
        self._gate_owner: object = None
        self._after_gate: list[Callable[[], None]] = []
        self.sending = False

    def _mine(self) -> bool:
        return bool(self._entries) and self._owner == threading.get_ident() and not self.sending

    def __bool__(self) -> bool:
        return self._mine()

    def add(
        self, sink: Sink, command: StringCommand | QueuedUpload, arguments: dict[str, Any]
    ) -> None:
        """Queue ``command`` (run with the connector ``arguments``) for ``sink``. A batch
        carries one upload (its data is the batch's stdin): a second one sends the first."""
        resolved = self._resolve(arguments)
        if self._entries and resolved != self._resolved:
            self.settle_or_raise()  # other privileges or shell: the queue goes out first
        if isinstance(command, QueuedUpload) and self._upload() is not None:
            self.settle_or_raise()
        self._arguments, self._resolved = dict(arguments), resolved
        self._owner = threading.get_ident()
        last = self._entries[-1] if self._entries else None
        if last is None or last.sink is not sink or last.done is not None:
            last = _Entry(sink, gated=self._gate is not None)
            self._entries.append(last)
        last.commands.append(command)

    def _resolve(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The host's resolution of ``arguments`` (the last one again when unchanged:
        the commands of one operation share theirs)."""
        if arguments == self._arguments and self._resolved is not None:
            return self._resolved
        return self.host.resolve_arguments(arguments)

    def _upload(self) -> QueuedUpload | None:
        for entry in self._entries:
            for item in entry.commands:
                if isinstance(item, QueuedUpload):
                    return item
        return None

    def holds(self, sink: Sink) -> bool:
        return any(entry.sink is sink and entry.done is None for entry in self._entries)

    def defer(self, sink: Sink, done: Callable[[], str | None]) -> None:
        """``sink``'s operation ended with commands queued: ``done`` completes it later."""
        for entry in self._entries:
            if entry.sink is sink and entry.done is None:
                entry.done = done

    def discard(self) -> None:
        """Forget everything queued (the run was stopped or interrupted)."""
        self._entries.clear()
        self._gate = None

    def deferred(self) -> bool:
        """Whether operations that ended are waiting for their commands here."""
        return self._mine() and any(entry.done is not None for entry in self._entries)

    def after_deferred(self, action: Callable[[], None]) -> None:
        """``action`` now, or once the deferred operations completed (the next
        operation's start callbacks come after the results of the ones before it)."""
        closed = [entry for entry in self._entries if entry.done is not None]
        if closed and self._mine():
            closed[-1].then.append(action)
        else:
            action()

    # Reading ahead of the turn (lock-step runs) ------------------------------------------
    # A host whose last operation is deferred, and whose next one may not start yet
    # (other hosts have not finished the previous step), starts it anyway up to its
    # first change: its fact reads go out with the deferred commands (one round trip),
    # and ``gate`` (waiting for the turn) is passed before anything it queued or runs
    # is sent, and at its end. Reads change nothing, so the other hosts see the same
    # order of changes as in strict lock-step.

    def set_gate(self, gate: Callable[[], None], owner: object) -> None:
        """``owner`` (the operation's result) starts before its turn; ``gate`` waits
        for the turn."""
        self._gate, self._gate_owner, self._after_gate = gate, owner, []

    def gate_pending(self, owner: object = None) -> bool:
        return self._gate is not None and (owner is None or owner is self._gate_owner)

    def on_turn(self, action: Callable[[], None]) -> None:
        """``action`` now, or once the pending turn is taken (what other hosts would
        see of the operation: its start callbacks)."""
        if self._gate is None:
            action()
        else:
            self._after_gate.append(action)

    def drop_gate(self) -> None:
        self._gate, self._gate_owner, self._after_gate = None, None, []

    def pass_gate(self) -> None:
        """Send what was queued before the gate (other hosts may be waiting for it),
        then wait for the turn."""
        if self._gate is None:
            return
        first = next((i for i, e in enumerate(self._entries) if e.gated), len(self._entries))
        if first and self._owner == threading.get_ident() and not self.sending:
            rest, self._entries = self._entries[first:], self._entries[:first]
            try:
                self._settle_now()  # the turn is still pending: start callbacks wait
            finally:
                self._entries += rest
        gate, after = self._gate, self._after_gate
        self._gate, self._gate_owner, self._after_gate = None, None, []
        gate()
        for entry in self._entries:
            entry.gated = False
        for action in after:
            action()

    def _gate_before_sending(self) -> None:
        if self._gate is not None and any(entry.gated for entry in self._entries):
            self.pass_gate()

    def settle(self) -> bool:
        """Run everything queued now, in one command. False if a command of an operation
        still running failed; an earlier (deferred) operation's failure raises
        :class:`EarlierOperationFailed`."""
        if not self._mine():
            return True
        self._gate_before_sending()
        return self._settle_now()

    def _settle_now(self) -> bool:
        if not self._entries:
            return True
        prefix = self._take()
        started = time.monotonic()
        try:
            _ok, output = self._send(prefix.script, prefix.stdin)
        except Exception as exc:
            prefix.lost(exc)
            raise
        try:
            prefix.consume(output, time.monotonic() - started)
        except _OpenFailed:
            return False
        return True

    def prefix(self, arguments: dict[str, Any]) -> Prefix | None:
        """The queued commands as a prefix for a command run with ``arguments`` (None:
        nothing queued; queued with other arguments: those are sent on their own first).
        The prefix's ``consume`` raises :class:`PrefixFailed` (or
        :class:`EarlierOperationFailed`) when a queued command failed."""
        if not self._mine():
            return None
        if self._resolve(arguments) != self._resolved:
            self.settle_or_raise()
            return None
        self._gate_before_sending()
        return self._take() if self._entries else None

    def settle_or_raise(self) -> None:
        """:meth:`settle`, raising :class:`PrefixFailed` if a queued command failed."""
        if not self.settle():
            raise PrefixFailed(self._failure or "a queued command failed")

    _failure: str | None = None

    def _send(self, command: StringCommand, stdin: bytes | None) -> tuple[bool, CommandOutput]:
        self.sending = True
        extra: dict[str, Any] = {"_stdin": stdin} if stdin is not None else {}
        try:
            return self.host.run_shell_command(command, **(self._arguments or {}), **extra)
        finally:
            self.sending = False

    def _take(self) -> Prefix:
        entries, self._entries = self._entries, []
        commands = [command for entry in entries for command in entry.commands]
        token = new_token()
        upload = next((i for i, c in enumerate(commands) if isinstance(c, QueuedUpload)), None)
        scripts = [c.script if isinstance(c, QueuedUpload) else c for c in commands]

        def consume(output: CommandOutput, elapsed: float) -> CommandOutput:
            parts, rest = split_with_rest(output, token, len(commands))
            share = elapsed / max(1, len(commands) + (1 if rest.stdout_lines else 0))
            index = 0
            failed_entry: _Entry | None = None
            for entry in entries:
                for command in entry.commands:
                    if index < len(parts):
                        result = command.command if isinstance(command, QueuedUpload) else command
                        entry.sink.take_result(result, parts[index], output, share)
                        if parts[index].exit_code != 0 and failed_entry is None:
                            failed_entry = entry
                    index += 1
                if failed_entry is not None:
                    break
            for entry in entries:  # deferred operations complete, in order, to the failure
                if entry.done is not None:
                    error = entry.done()
                    if error is not None:
                        raise EarlierOperationFailed(error)
                    for action in entry.then:
                        action()
                if entry is failed_entry:
                    break
            if failed_entry is not None:
                self._failure = failed_entry.sink.failed
                raise _OpenFailed(failed_entry.sink.failed or "a queued command failed")
            return rest

        data = commands[upload].data if upload is not None else None  # type: ignore[union-attr]
        return Prefix(script(scripts, token, stdin_for=upload), consume, data)


class PrefixFailed(PyinfraError):
    """A command queued by the operation running now failed (before its fact read)."""


class _OpenFailed(PrefixFailed):
    pass
