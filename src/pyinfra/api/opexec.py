"""Run one operation on one host: wait for its turn, build and execute its commands.

The operation's generator is driven here: every command it yields is executed at once
(unless the run is dry) with the operation's connector arguments and retries; the
:class:`~pyinfra.api.facts.FactChange` objects it yields update the fact cache, and
the :class:`~pyinfra.api.operation.OperationDiff` objects are kept for display.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Generator, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from pyinfra import context
from pyinfra.api.arguments import ARGUMENT_META, RETRY_ARGUMENT_KEYS
from pyinfra.api.cmdbatch import can_batch, new_token, part_output, script, split
from pyinfra.api.command import (
    FileDownloadCommand,
    FileUploadCommand,
    FunctionCommand,
    PyinfraCommand,
    StringCommand,
)
from pyinfra.api.exceptions import OperationError, PyinfraError
from pyinfra.api.facts import (
    FactChange,
    apply_fact_change,
    inherit_fact_arguments,
    invalidate_volatile_facts,
)
from pyinfra.api.results import (
    CommandResult,
    HostOperationFailed,
    OperationDiff,
    OperationMeta,
)
from pyinfra.api.scheduler import Scheduler, Turn
from pyinfra.connectors.output import CommandOutput, OutputLine

if TYPE_CHECKING:
    from pyinfra.api.host import Host
    from pyinfra.api.state import State

_nesting = threading.local()


class PendingCommandFailed(PyinfraError):
    """A command the operation yielded failed when it ran (before a fact read)."""


def _depth() -> int:
    return int(getattr(_nesting, "depth", 0))


def execute_operation(
    host: Host,
    state: State | None,
    meta: OperationMeta,
    key: Any,
    make_generator: Callable[[], Any],
    global_kwargs: dict[str, Any],
    call_args: list[str] | None = None,
) -> OperationMeta:
    """Run an operation on ``host`` now (after waiting for its turn in the run)."""
    run: Scheduler | None = context.get("run")
    if run is not None and _depth() > 0:
        run = None  # an operation called from inside another one runs inline
    if run is not None and host in run.failed:
        raise HostOperationFailed(f"{host.name} already failed: {meta.name} not run")
    meta.dry = bool(state is not None and state.dry)
    ignore = global_kwargs.get("_ignore_errors")
    if ignore is None and state is not None:
        ignore = state.config.IGNORE_ERRORS

    if run is not None:
        run.wait_turn(host)
    try:
        _register(state, host, meta, global_kwargs, call_args or [])
        condition = global_kwargs.pop("_if", None)
        if condition is not None and not _evaluate_if(condition, meta.operation):
            return _skip(state, host, meta, "condition (_if) not met")
        holder: AbstractContextManager[Turn] = nullcontext(Turn())
        if run is not None:
            holder = run.hold(
                host,
                key,
                serial=bool(global_kwargs.get("_serial")),
                parallel=global_kwargs.get("_parallel"),
                run_once=bool(global_kwargs.get("_run_once")),
            )
        with holder as turn:
            if not turn.run:
                return _skip(state, host, meta, f"run once, on {turn.run_once_owner}")
            _nesting.depth = _depth() + 1
            try:
                _run(host, state, meta, make_generator, global_kwargs, bool(ignore))
            finally:
                _nesting.depth = _depth() - 1
        if meta.success is False and not meta.ignored_error:
            message = host_error_message(meta)
            if run is not None:
                run.host_failed(host, message)  # before other hosts may move on
            raise HostOperationFailed(message)
    finally:
        if run is not None:
            run.finish_step(host)
    return meta


def in_operation() -> bool:
    """Whether this thread is inside an operation's generator (nested calls run inline)."""
    return _depth() > 0


def plan_operation(
    host: Host,
    state: State,
    meta: OperationMeta,
    make_generator: Callable[[], Any],
    global_kwargs: dict[str, Any],
    call_args: list[str] | None = None,
) -> OperationMeta:
    """Predict what an operation would change on ``host`` (facts are read, nothing runs):
    ``meta.will_change``/``meta.changed`` hold the prediction and ``meta`` stays
    incomplete (``success`` is ``None``) until it is executed. Errors in the operation
    (bad arguments, a failing fact) are raised to the caller."""
    meta.dry = True
    _register(state, host, meta, global_kwargs, call_args or [], announce=False)
    connector_kwargs = _connector_kwargs(global_kwargs)
    executor = _Executor(host, state, meta, connector_kwargs, global_kwargs)
    _nesting.depth = _depth() + 1
    try:
        _drive(host, meta, executor, make_generator)
    finally:
        _nesting.depth = _depth() - 1
    meta.changed = executor.changed
    meta.maybe_change = executor.changed
    meta.dry = False
    return meta


def reset_for_execution(meta: OperationMeta) -> None:
    """Clear what planning left in ``meta`` (its prediction stays in ``maybe_change``)."""
    meta.changed = False
    meta.success = None
    meta.skipped = False
    meta.skip_reason = None
    meta.error = None
    meta.commands.clear()
    meta.diffs.clear()
    meta.noops.clear()


def host_error_message(meta: OperationMeta) -> str:
    """One line for a failed operation: where it was called, which one, what failed."""
    error = meta.error or "failed"
    text = error if error.startswith(meta.operation + ":") else f"{meta.name}: {error}"
    return f"{meta.location}: {text}" if meta.location else text


def _register(
    state: State | None,
    host: Host,
    meta: OperationMeta,
    global_kwargs: dict[str, Any],
    call_args: list[str],
    announce: bool = True,
) -> None:
    if state is None:
        return

    def commands() -> Iterator[Any]:
        return iter([command.command for command in meta.commands])

    state.register_operation(host, meta, global_kwargs, call_args, commands)
    if announce and state.mark_operation_started(meta.op_hash, end_others=True):
        state.trigger_callbacks("operation_start", meta.op_hash)


def _record(state: State | None, host: Host, meta: OperationMeta) -> None:
    if state is None:
        return
    state.record_result(host, meta)
    if meta.success is False:
        state.trigger_callbacks(
            "operation_host_error", host, meta.op_hash, meta.retry_attempts, meta.max_retries
        )
    else:
        state.trigger_callbacks("operation_host_success", host, meta.op_hash, meta.retry_attempts)


def _skip(state: State | None, host: Host, meta: OperationMeta, reason: str) -> OperationMeta:
    meta.success = True
    meta.skipped = True
    meta.skip_reason = reason
    _record(state, host, meta)
    return meta


def _evaluate_if(condition: Any, op_label: str) -> bool:
    items = condition if isinstance(condition, (list, tuple)) else [condition]
    for item in items:
        if isinstance(item, OperationMeta):
            value: Any = item.changed
        elif callable(item):
            try:
                value = item()
            except PyinfraError:
                raise
            except Exception as exc:  # noqa: BLE001 - user callable
                raise OperationError(
                    f"{op_label}: the _if callable raised {type(exc).__name__}: {exc}"
                ) from exc
        else:
            value = item
        if not value:
            return False
    return True


def _run(
    host: Host,
    state: State | None,
    meta: OperationMeta,
    make_generator: Callable[[], Any],
    global_kwargs: dict[str, Any],
    ignore_errors: bool,
) -> None:
    started = time.monotonic()
    if state is not None:
        state.trigger_callbacks("operation_host_start", host, meta.op_hash)
    connector_kwargs = _connector_kwargs(global_kwargs)
    executor = _Executor(host, state, meta, connector_kwargs, global_kwargs)
    try:
        _drive(host, meta, executor, make_generator)
    except PyinfraError as exc:
        meta.success = False
        meta.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - a bug in an operation fails that operation
        meta.success = False
        where = f" ({meta.location})" if meta.location else ""
        meta.error = f"{type(exc).__name__}: {exc}{where}"
        meta.traceback = "".join(traceback.format_exception(exc))
    else:
        meta.success = executor.failed is None
        if executor.failed is not None:
            meta.error = executor.failed
    meta.changed = executor.changed
    meta.ignored_error = meta.success is False and ignore_errors
    executor.finish()
    meta.duration = time.monotonic() - started
    _record(state, host, meta)


def _connector_kwargs(global_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The global arguments that reach the connector (not retries: the engine's)."""
    return {
        k: v
        for k, v in global_kwargs.items()
        if k in ARGUMENT_META and k not in RETRY_ARGUMENT_KEYS
    }


def _drive(
    host: Host, meta: OperationMeta, executor: _Executor, make_generator: Callable[[], Any]
) -> None:
    """Run the operation's generator through ``executor``, with the operation as the
    host's current one and its privilege arguments inherited by the facts it reads."""
    outer_meta, host.current_op_meta = host.current_op_meta, meta
    try:
        with inherit_fact_arguments(executor.connector_kwargs):
            generator = make_generator()
            if not isinstance(generator, Generator):
                raise OperationError(
                    f"{meta.operation} must be a generator function (use `yield` for commands)"
                )
            executor.drive(generator)
    finally:
        host.current_op_meta = outer_meta


class _Executor:
    """Drives one operation generator, executing what it yields."""

    def __init__(
        self,
        host: Host,
        state: State | None,
        meta: OperationMeta,
        connector_kwargs: dict[str, Any],
        global_kwargs: dict[str, Any],
    ) -> None:
        self.host = host
        self.state = state
        self.meta = meta
        self.dry = meta.dry
        self.connector_kwargs = connector_kwargs
        config = state.config if state is not None else None
        retries = global_kwargs.get("_retries")
        delay = global_kwargs.get("_retry_delay")
        self.retries = int(retries if retries is not None else getattr(config, "RETRY", 0) or 0)
        self.retry_delay = float(
            delay if delay is not None else getattr(config, "RETRY_DELAY", 0) or 0
        )
        self.retry_until = global_kwargs.get("_retry_until")
        self.continue_on_error = bool(global_kwargs.get("_continue_on_error"))
        self.print_output = bool(state is not None and state.print_output)
        self.print_input = bool(state is not None and state.print_input)
        self.changed = False
        self.declared = False
        self.executed_unknown = False
        self.failed: str | None = None
        # Consecutive shell commands wait here and go out together (one round trip)
        # when something else comes, when the operation reads a fact the cache lacks,
        # or at its end. Not with retries, continue-on-error or command echo (-v).
        self.pending: list[StringCommand] = []
        self.shell_batching: bool | None = None  # asked of the host on first use
        self.batching = not (
            self.retries
            or self.retry_until is not None
            or self.continue_on_error
            or self.print_output
            or self.print_input
        )

    def drive(self, generator: Generator[Any, Any, Any]) -> None:
        previous = self.host.flush_pending_commands
        self.host.flush_pending_commands = self._flush_before_fact
        try:
            self._drive(generator)
        finally:
            self.host.flush_pending_commands = previous

    def _drive(self, generator: Generator[Any, Any, Any]) -> None:
        for item in generator:
            if isinstance(item, FactChange):
                if not self._flush():
                    return
                self.declared = True
                apply_fact_change(self.host, item, self.dry)
                continue
            if isinstance(item, OperationDiff):
                self.meta.diffs.append(item)
                continue
            if not isinstance(item, (str, PyinfraCommand)):
                raise OperationError(
                    f"{self.meta.operation} yielded {type(item).__name__} ({item!r}): "
                    "operations yield commands (str, StringCommand, FileUploadCommand...)"
                )
            self.changed = True
            if self.dry:
                self.meta.commands.append(
                    CommandResult(_describe(item), True, CommandOutput([], 0), 0.0, False)
                )
                continue
            if isinstance(item, str):
                item = StringCommand(item)
            if not isinstance(item, FileDownloadCommand):
                self.executed_unknown = True
            if self.batching and self._can_batch(item):
                self.pending.append(item)
                continue
            if not self._flush():
                return
            ok = self._execute_with_retries(item)
            if not ok and not self.continue_on_error:
                return
        self._flush()

    def _can_batch(self, command: Any) -> bool:
        if not can_batch(command, self.connector_kwargs):
            return False
        if self.shell_batching is None:
            self.shell_batching = self.host.can_batch_shell_commands(self.connector_kwargs)
        return self.shell_batching

    def _flush_before_fact(self) -> None:
        """The operation reads a fact the cache lacks: its commands so far run first."""
        if not self._flush():
            raise PendingCommandFailed(self.failed or f"{self.meta.operation} failed")

    def _flush(self) -> bool:
        """Run the waiting commands; False if one failed."""
        commands, self.pending = self.pending, []
        if not commands:
            return True
        if len(commands) == 1:
            return self._execute_with_retries(commands[0])
        token = new_token()
        started = time.monotonic()
        _ok, output = self.host.run_shell_command(script(commands, token), **self.connector_kwargs)
        share = (time.monotonic() - started) / len(commands)
        parts = split(output, token, len(commands))
        for command, part in zip(commands, parts, strict=False):
            ok = part.exit_code == 0
            result = CommandResult(_describe(command), ok, part_output(part, output), share)
            self.meta.commands.append(result)
            if not ok and self.failed is None:
                self.failed = f"{result.command}: {result.output.failure_line()}"
        return len(parts) == len(commands) and all(p.exit_code == 0 for p in parts)

    def finish(self) -> None:
        """Invalidate facts the operation's commands may have changed."""
        if self.dry or not self.executed_unknown:
            return
        if self.failed is not None or self.meta.success is False or not self.declared:
            invalidate_volatile_facts(self.host)

    def _execute_with_retries(self, command: Any) -> bool:
        attempt = 0
        self.meta.max_retries = self.retries
        while True:
            started = time.monotonic()
            ok, output = self._execute(command)
            result = CommandResult(_describe(command), ok, output, time.monotonic() - started)
            again = not ok
            if ok and self.retry_until is not None:
                again = bool(self._retry_until(output))
            if not again or attempt >= self.retries:
                break
            attempt += 1
            self.meta.retry_attempts = max(self.meta.retry_attempts, attempt)
            if self.state is not None:
                self.state.trigger_callbacks(
                    "operation_host_retry", self.host, self.meta.op_hash, attempt, self.retries
                )
            time.sleep(self.retry_delay)
        self.meta.commands.append(result)
        if not ok and self.failed is None:
            self.failed = f"{result.command}: {output.failure_line()}"
        return ok

    def _retry_until(self, output: CommandOutput) -> Any:
        data = {
            "stdout_lines": output.stdout_lines,
            "stderr_lines": output.stderr_lines,
            "exit_code": output.exit_code,
            "host": self.host.name,
            "op_name": self.meta.name,
        }
        try:
            assert self.retry_until is not None
            return self.retry_until(data)
        except Exception as exc:  # noqa: BLE001 - user callable
            raise OperationError(
                f"{self.meta.operation}: _retry_until raised {type(exc).__name__}: {exc}"
            ) from exc

    def _execute(self, command: Any) -> tuple[bool, CommandOutput]:
        host = self.host
        if isinstance(command, str):
            command = StringCommand(command)
        kwargs = {**self.connector_kwargs, **command.connector_arguments}
        if isinstance(command, StringCommand):
            return host.run_shell_command(
                command, print_output=self.print_output, print_input=self.print_input, **kwargs
            )
        if isinstance(command, (FileUploadCommand, FileDownloadCommand)):
            try:
                if isinstance(command, FileUploadCommand):
                    ok = host.put_file(
                        command.src,
                        command.dest,
                        command.remote_temp_filename,
                        print_output=self.print_output,
                        print_input=self.print_input,
                        **kwargs,
                    )
                else:
                    ok = host.get_file(
                        command.src,
                        command.dest,
                        command.remote_temp_filename,
                        print_output=self.print_output,
                        print_input=self.print_input,
                        **kwargs,
                    )
            except PyinfraError as exc:
                return False, CommandOutput([OutputLine("stderr", str(exc))], exit_code=1)
            except OSError as exc:
                return False, CommandOutput([OutputLine("stderr", f"{exc}")], exit_code=1)
            return bool(ok), CommandOutput([], exit_code=0 if ok else 1)
        if isinstance(command, FunctionCommand):
            try:
                result = command.function(*command.args, **command.kwargs)
            except PyinfraError as exc:
                return False, CommandOutput([OutputLine("stderr", str(exc))], exit_code=1)
            except Exception as exc:  # noqa: BLE001 - user function
                text = f"{type(exc).__name__}: {exc}"
                return False, CommandOutput([OutputLine("stderr", text)], exit_code=1)
            ok = result is not False
            return ok, CommandOutput([], exit_code=0 if ok else 1)
        # RsyncCommand and commands of plugins: they run themselves (pyinfra 3.x protocol).
        for key in ("_success_exit_codes", "_stdin", "_get_pty"):
            kwargs.pop(key, None)
        try:
            result = command.execute(self.state, host, kwargs)
        except (PyinfraError, OSError, NotImplementedError) as exc:
            return False, CommandOutput([OutputLine("stderr", str(exc))], exit_code=1)
        ok = result is not False
        return ok, CommandOutput([], exit_code=0 if ok else 1)


def _describe(command: Any) -> str:
    if isinstance(command, StringCommand):
        return command.get_masked_value()
    if isinstance(command, FileUploadCommand):
        src = command.src if isinstance(command.src, str) else "<data>"
        return f"upload {src} -> {command.dest}"
    if isinstance(command, FileDownloadCommand):
        dest = command.dest if isinstance(command.dest, str) else "<data>"
        return f"download {command.src} -> {dest}"
    if isinstance(command, FunctionCommand):
        return f"python {getattr(command.function, '__name__', command.function)}()"
    return str(command)
