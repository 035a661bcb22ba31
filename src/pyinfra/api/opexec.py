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
from pyinfra.api.arguments import ARGUMENT_META, RETRY_ARGUMENT_KEYS, ResolvedArguments
from pyinfra.api.cmdbatch import Part, can_batch, part_output
from pyinfra.api.cmdqueue import CommandQueue, EarlierOperationFailed, QueuedUpload
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
from pyinfra.connectors._runner.transfer import (
    known_size,
    new_upload_token,
    open_sized_upload_source,
    upload_command,
)
from pyinfra.connectors.output import CommandOutput, OutputLine

if TYPE_CHECKING:
    from pyinfra.api.host import Host
    from pyinfra.api.state import State

_nesting = threading.local()


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

    queue = host.command_queue
    if run is not None:
        if _may_read_ahead(run, queue, global_kwargs):
            if not run.try_turn(host):
                queue.set_gate(lambda: run.wait_turn(host), meta)  # taken before any change
        else:
            run.wait_turn(host, settle=queue.settle)
    try:
        deferred = _execute_in_turn(
            host, state, run, meta, key, make_generator, global_kwargs, call_args, ignore
        )
    except BaseException:
        turn_taken = not queue.gate_pending()
        queue.drop_gate()
        if run is not None and turn_taken:
            run.finish_step(host)
        raise
    queue.pass_gate()
    if run is not None and not deferred:
        run.finish_step(host)
    return meta


def _may_read_ahead(run: Scheduler, queue: CommandQueue, global_kwargs: dict[str, Any]) -> bool:
    """Whether the operation may start before its turn, reading only (see cmdqueue)."""
    return run.reads_ahead and queue.deferred() and not _holds_run(global_kwargs)


def _execute_in_turn(
    host: Host,
    state: State | None,
    run: Scheduler | None,
    meta: OperationMeta,
    key: Any,
    make_generator: Callable[[], Any],
    global_kwargs: dict[str, Any],
    call_args: list[str] | None,
    ignore: Any,
) -> bool:
    """The operation once it may start; True if it ended deferred."""
    queue = host.command_queue
    _register(state, host, meta, global_kwargs, call_args or [])
    condition = global_kwargs.pop("_if", None)
    if condition is not None:
        queue.settle()  # the condition may look at earlier results
        if not _evaluate_if(condition, meta.operation):
            _skip(state, host, meta, "condition (_if) not met")
            return False
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
            _skip(state, host, meta, f"run once, on {turn.run_once_owner}")
            return False
        _nesting.depth = _depth() + 1
        try:
            may_defer = (
                run is not None and _depth() == 1 and not ignore and not _holds_run(global_kwargs)
            )
            deferred = _run(
                host, state, meta, make_generator, global_kwargs, bool(ignore), may_defer
            )
        finally:
            _nesting.depth = _depth() - 1
    if not deferred:
        _fail_host(host, run, meta)
    return deferred


# Operations that hold something of the run while they execute (a lock, a bound, a
# run-once claim) complete before they return: their commands are not deferred.
_ALONE_IN_RUN = ("_serial", "_parallel", "_run_once")


def _holds_run(global_kwargs: dict[str, Any]) -> bool:
    return any(global_kwargs.get(k) for k in _ALONE_IN_RUN)


def _fail_host(host: Host, run: Scheduler | None, meta: OperationMeta) -> None:
    """Raise :class:`HostOperationFailed` if ``meta`` failed (and was not ignored)."""
    if meta.success is False and not meta.ignored_error:
        message = host_error_message(meta)
        if run is not None:
            run.host_failed(host, message)  # before other hosts may move on
        raise HostOperationFailed(message)


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
    if not announce:
        return

    def start() -> None:
        if state.mark_operation_started(meta.op_hash, end_others=True):
            state.trigger_callbacks("operation_start", meta.op_hash)

    queue = host.command_queue
    queue.after_deferred(lambda: queue.on_turn(start))


def _record(state: State | None, host: Host, meta: OperationMeta) -> None:
    if state is None:
        return
    queue = host.command_queue
    queue.settle()  # earlier operations' results are recorded first
    if queue.gate_pending(meta):
        queue.pass_gate()  # an operation ends in its turn
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
    may_defer: bool = False,
) -> bool:
    """Execute the operation; True if it ended with its last commands still queued
    (deferred: it completes when they have run, see :mod:`pyinfra.api.cmdqueue`)."""
    started = time.monotonic()
    if state is not None:
        queue = host.command_queue

        def host_start() -> None:
            state.trigger_callbacks("operation_host_start", host, meta.op_hash)

        queue.after_deferred(lambda: queue.on_turn(host_start))
    connector_kwargs = _connector_kwargs(global_kwargs)
    executor = _Executor(host, state, meta, connector_kwargs, global_kwargs)
    executor.may_defer = may_defer and executor.batching and not executor.dry
    error: tuple[str, str | None] | None = None
    try:
        _drive(host, meta, executor, make_generator)
    except EarlierOperationFailed:
        raise  # an earlier operation failed: this one never started its changes
    except PyinfraError as exc:
        error = (str(exc), None)
    except Exception as exc:  # noqa: BLE001 - a bug in an operation fails that operation
        where = f" ({meta.location})" if meta.location else ""
        error = (f"{type(exc).__name__}: {exc}{where}", "".join(traceback.format_exception(exc)))
    meta.changed = executor.changed

    def complete(deferred: bool = False) -> None:
        if error is not None:
            meta.success = False
            meta.error, meta.traceback = error[0], error[1] or meta.traceback
        else:
            meta.success = executor.failed is None
            if executor.failed is not None:
                meta.error = executor.failed
        meta.ignored_error = meta.success is False and ignore_errors
        if not deferred or meta.success is False:
            executor.finish()
        meta.duration = time.monotonic() - started
        _record(state, host, meta)

    queue = host.command_queue
    if error is None and executor.may_defer and queue.holds(executor):
        run: Scheduler | None = context.get("run")
        executor.finish_deferred()

        def done() -> str | None:
            complete(deferred=True)
            if run is not None:
                run.finish_step(host)
            if meta.success is False:
                message = host_error_message(meta)
                if run is not None:
                    run.host_failed(host, message)
                return message
            return None

        queue.defer(executor, done)
        meta.settle = queue.settle
        return True
    if queue.holds(executor):
        queue.settle()
    complete()
    return False


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
        # Consecutive shell commands wait in the host's command queue and go out
        # together (one round trip) when something else comes, with the next fact read
        # the cache lacks, or at the operation's end (or later, when ``may_defer``: see
        # cmdqueue). Not with retries, continue-on-error or command echo (-v).
        self.queue: CommandQueue = host.command_queue
        self.may_defer = False
        self.shell_batching: bool | None = None  # asked of the host on first use
        self.batching = not (
            self.retries
            or self.retry_until is not None
            or self.continue_on_error
            or self.print_output
            or self.print_input
        )

    def drive(self, generator: Generator[Any, Any, Any]) -> None:
        for item in generator:
            if isinstance(item, FactChange):
                # What the commands will change: applied now when they cannot fail
                # unnoticed (a failure of a deferred operation fails the host).
                if not self.may_defer and not self._flush():
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
                self.queue.add(self, item, self.connector_kwargs)
                continue
            if self.batching and isinstance(item, FileUploadCommand):
                upload = self._batched_upload(item)
                if upload is not None:
                    self.queue.add(self, upload, self.connector_kwargs)
                    continue
            if not self._flush():
                return
            ok = self._execute_with_retries(item)
            if not ok and not self.continue_on_error:
                return
        if not self.may_defer:
            self._flush()

    def _can_batch(self, command: Any) -> bool:
        if not can_batch(command, self.connector_kwargs):
            return False
        if self.shell_batching is None:
            self.shell_batching = self.host.can_batch_shell_commands(self.connector_kwargs)
        return self.shell_batching

    def _batched_upload(self, command: FileUploadCommand) -> QueuedUpload | None:
        """``command`` as a command of the host's batch, if the connector sends such
        uploads that way (a small file to a far host) and it runs as the login user."""
        if command.connector_arguments or not self._can_batch(StringCommand(":")):
            return None
        connector = self.host.connector
        size = known_size(command.src)
        batches = getattr(connector, "batches_upload", None)
        if size is None or not callable(batches) or not batches(size):
            return None
        if ResolvedArguments.for_host(self.host, self.connector_kwargs).escalates:
            return None
        try:
            with open_sized_upload_source(command.src) as (source, _size):
                data = source.read()
        except OSError:
            return None  # put_file reports the unreadable source
        script = upload_command(command.dest, len(data), new_upload_token())
        return QueuedUpload(command, data, script)

    def _flush(self) -> bool:
        """Run what the host's queue holds (this operation's commands and earlier
        deferred ones); False if one of this operation's failed."""
        return self.queue.settle()

    def take_result(self, command: StringCommand, part: Part, whole: Any, share: float) -> None:
        """One of this operation's queued commands ran (cmdqueue's sink protocol)."""
        ok = part.exit_code == 0
        result = CommandResult(_describe(command), ok, part_output(part, whole), share)
        self.meta.commands.append(result)
        if not ok and self.failed is None:
            self.failed = f"{result.command}: {result.output.failure_line()}"

    def finish_deferred(self) -> None:
        """The operation ended with its commands queued: the facts they may change are
        dropped now, as if they had run (the next read goes out after them)."""
        if self.executed_unknown and not self.declared:
            invalidate_volatile_facts(self.host)

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
