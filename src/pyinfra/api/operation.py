"""The ``@operation`` decorator and the results of operations.

Operations are generator functions that yield commands. Called inside a deploy, an
operation runs at once on the current host (each host runs its deploy in its own
thread): its commands are built (reading facts), executed unless ``--dry``, and an
:class:`OperationMeta` is returned that later code can inspect.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, overload

from pyinfra import context
from pyinfra.api.arguments import ARGUMENT_META, RETRY_ARGUMENT_KEYS, check_argument_type
from pyinfra.api.command import (
    FileDownloadCommand,
    FileUploadCommand,
    FunctionCommand,
    StringCommand,
)
from pyinfra.api.exceptions import OperationError, PyinfraError
from pyinfra.connectors.output import CommandOutput, OutputLine

if TYPE_CHECKING:
    from pyinfra.api.host import Host
    from pyinfra.api.state import State

F = TypeVar("F", bound=Callable[..., Any])

# Global arguments every operation accepts besides the connector arguments.
OPERATION_ONLY_ARGUMENTS = {
    "name": (str,),
    "_ignore_errors": (bool,),
    "_continue_on_error": (bool,),
    "_if": (object,),
    "_serial": (bool,),
    "_run_once": (bool,),
    "_parallel": (int,),
    "_on_success": (object,),
    "_on_error": (object,),
}
ALL_GLOBAL_ARGUMENTS = set(ARGUMENT_META) | set(OPERATION_ONLY_ARGUMENTS)


class HostOperationFailed(PyinfraError):
    """Stops the current host's deploy after an operation failed."""


@dataclass
class CommandResult:
    command: str
    success: bool
    output: CommandOutput
    duration: float


@dataclass
class OperationMeta:
    """What one operation did on one host."""

    name: str
    host_name: str
    changed: bool = False
    success: bool | None = None
    skipped: bool = False
    dry: bool = False
    error: str | None = None
    commands: list[CommandResult] = field(default_factory=list)
    duration: float = 0.0
    ignored_error: bool = False

    def did_succeed(self) -> bool:
        return bool(self.success)

    def did_error(self) -> bool:
        return self.success is False

    def did_change(self) -> bool:
        return self.changed

    def did_not_change(self) -> bool:
        return not self.changed

    @property
    def will_change(self) -> bool:
        return self.changed

    def _lines(self) -> list[OutputLine]:
        return [line for c in self.commands for line in c.output.combined_lines]

    @property
    def stdout_lines(self) -> list[str]:
        return [line.line for line in self._lines() if line.buffer_name == "stdout"]

    @property
    def stderr_lines(self) -> list[str]:
        return [line.line for line in self._lines() if line.buffer_name == "stderr"]

    @property
    def stdout(self) -> str:
        return "\n".join(self.stdout_lines)

    @property
    def stderr(self) -> str:
        return "\n".join(self.stderr_lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "changed": self.changed,
            "success": self.success,
            "skipped": self.skipped,
            "error": self.error,
            "duration": round(self.duration, 4),
            "commands": [
                {
                    "command": c.command,
                    "success": c.success,
                    "exit_code": c.output.exit_code,
                    "stdout": c.output.stdout,
                    "stderr": c.output.stderr,
                    "duration": round(c.duration, 4),
                }
                for c in self.commands
            ],
        }


_deploy_stack = threading.local()


def _deploy_kwargs() -> dict[str, Any]:
    stack: list[dict[str, Any]] = getattr(_deploy_stack, "stack", [])
    merged: dict[str, Any] = {}
    for kwargs in stack:
        merged.update(kwargs)
    return merged


def push_deploy_kwargs(kwargs: dict[str, Any]) -> None:
    if not hasattr(_deploy_stack, "stack"):
        _deploy_stack.stack = []
    _deploy_stack.stack.append(kwargs)


def pop_deploy_kwargs() -> None:
    _deploy_stack.stack.pop()


def _check_global(key: str, value: Any, op_name: str) -> None:
    if key in ARGUMENT_META:
        try:
            check_argument_type(key, value)
        except PyinfraError as exc:
            raise OperationError(f"operation {op_name}: {exc}") from exc
        return
    types = OPERATION_ONLY_ARGUMENTS[key]
    if value is not None and types != (object,) and not isinstance(value, types):
        raise OperationError(
            f"operation {op_name}: argument {key} must be "
            f"{types[0].__name__}, got {type(value).__name__}"
        )


def _evaluate_if(condition: Any) -> bool:
    items = condition if isinstance(condition, (list, tuple)) else [condition]
    for item in items:
        value = item() if callable(item) else item
        if isinstance(value, OperationMeta):
            value = value.changed
        if not value:
            return False
    return True


def _execute_command(
    host: Host,
    command: Any,
    connector_kwargs: dict[str, Any],
    print_output: bool,
    print_input: bool,
) -> tuple[bool, CommandOutput]:
    if isinstance(command, str):
        command = StringCommand(command)
    if isinstance(command, StringCommand):
        kwargs = {**connector_kwargs, **command.connector_arguments}
        return host.run_shell_command(
            command, print_output=print_output, print_input=print_input, **kwargs
        )
    if isinstance(command, (FileUploadCommand, FileDownloadCommand)):
        kwargs = {**connector_kwargs, **command.connector_arguments}
        for key in ("_success_exit_codes", "_stdin", "_get_pty", "_retry_until"):
            kwargs.pop(key, None)
        try:
            if isinstance(command, FileUploadCommand):
                ok = host.put_file(
                    command.src,
                    command.dest,
                    command.remote_temp_filename,
                    print_output=print_output,
                    print_input=print_input,
                    **kwargs,
                )
            else:
                ok = host.get_file(
                    command.src,
                    command.dest,
                    command.remote_temp_filename,
                    print_output=print_output,
                    print_input=print_input,
                    **kwargs,
                )
        except PyinfraError as exc:
            return False, CommandOutput([OutputLine("stderr", str(exc))], exit_code=1)
        return bool(ok), CommandOutput([], exit_code=0 if ok else 1)
    if isinstance(command, FunctionCommand):
        try:
            result = command.function(*command.args, **command.kwargs)
        except PyinfraError as exc:
            return False, CommandOutput([OutputLine("stderr", str(exc))], exit_code=1)
        ok = result is not False
        return ok, CommandOutput([], exit_code=0 if ok else 1)
    raise OperationError(f"operation yielded an unsupported command: {command!r}")


def _describe(command: Any) -> str:
    if isinstance(command, StringCommand):
        return command.get_masked_value()
    return str(command) if isinstance(command, str) else repr(command)


def run_operation(
    host: Host,
    state: State | None,
    op_name: str,
    generator: Generator[Any, Any, Any],
    global_kwargs: dict[str, Any],
) -> OperationMeta:
    """Build and (unless dry) execute one operation's commands on ``host``."""
    started = time.monotonic()
    meta = OperationMeta(name=op_name, host_name=host.name)
    dry = bool(state.dry) if state is not None else False
    print_output = bool(state.print_output) if state is not None else False
    print_input = bool(state.print_input) if state is not None else False
    connector_kwargs = {
        k: v
        for k, v in global_kwargs.items()
        if k in ARGUMENT_META and k not in RETRY_ARGUMENT_KEYS
    }
    retries = int(global_kwargs.get("_retries") or 0)
    retry_delay = float(global_kwargs.get("_retry_delay") or 0)
    retry_until = global_kwargs.get("_retry_until")
    ignore_errors = bool(global_kwargs.get("_ignore_errors"))
    if state is not None:
        state.trigger_callbacks("operation_host_start", host, op_name)

    try:
        commands: list[Any] = []
        sent: Any = None
        while True:
            try:
                command = generator.send(sent)
            except StopIteration:
                break
            sent = None
            commands.append(command)
            if dry:
                continue
            for attempt in range(retries + 1):
                t0 = time.monotonic()
                ok, output = _execute_command(
                    host, command, connector_kwargs, print_output, print_input
                )
                result = CommandResult(_describe(command), ok, output, time.monotonic() - t0)
                if retry_until is not None and ok:
                    ok = not retry_until(
                        {"stdout_lines": output.stdout_lines, "stderr_lines": output.stderr_lines}
                    )
                if ok or attempt == retries:
                    break
                time.sleep(retry_delay)
            meta.commands.append(result)
            if isinstance(command, (StringCommand, str, FileUploadCommand, FunctionCommand)):
                host.invalidate_facts()
            if not ok:
                last = output.stderr_lines or output.stdout_lines
                detail = last[-1] if last else f"exit status {output.exit_code}"
                raise HostOperationFailed(f"{_describe(command)}: {detail}")
    except HostOperationFailed as exc:
        meta.success = False
        meta.error = str(exc)
        meta.changed = True
    except PyinfraError as exc:
        meta.success = False
        meta.error = str(exc)
    else:
        meta.success = True
        meta.changed = bool(commands)
        meta.dry = dry
    meta.duration = time.monotonic() - started
    if state is not None:
        state.results.setdefault(host.name, []).append(meta)
        hook = "operation_host_success" if meta.success else "operation_host_error"
        state.trigger_callbacks(hook, host, op_name, meta)
    if not meta.success:
        if ignore_errors or global_kwargs.get("_continue_on_error"):
            meta.ignored_error = True
        else:
            raise HostOperationFailed(f"{op_name}: {meta.error}")
    return meta


@overload
def operation(func: F) -> F: ...


@overload
def operation(func: None = None, **options: Any) -> Callable[[F], F]: ...


def operation(func: Any = None, **options: Any) -> Any:
    """Decorate a generator function as an operation (``@operation`` or ``@operation()``)."""

    def decorator(op_func: F) -> F:
        module = op_func.__module__.replace("pyinfra.operations.", "")
        op_label = f"{module}.{op_func.__name__}"
        signature = inspect.signature(op_func)

        @functools.wraps(op_func)
        def wrapper(*args: Any, **kwargs: Any) -> OperationMeta:
            host = kwargs.pop("host", None) or context.get("host")
            state = kwargs.pop("state", None) or context.get("state")
            if host is None:
                raise OperationError(
                    f"operation {op_label} was called outside a deploy: run it with the "
                    "pyinfra CLI or inside `with pyinfra.context.use(host=..., state=...)`"
                )
            global_kwargs = _deploy_kwargs()
            for key in list(kwargs):
                if key in ALL_GLOBAL_ARGUMENTS:
                    global_kwargs[key] = kwargs.pop(key)
            name = global_kwargs.pop("name", None) or op_label
            for key, value in global_kwargs.items():
                _check_global(key, value, op_label)
            try:
                signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise OperationError(f"operation {op_label}: {exc}") from exc
            condition = global_kwargs.pop("_if", None)
            if condition is not None and not _evaluate_if(condition):
                meta = OperationMeta(name=name, host_name=host.name, success=True, skipped=True)
                if state is not None:
                    state.results.setdefault(host.name, []).append(meta)
                return meta
            generator = op_func(*args, **kwargs)
            if not inspect.isgenerator(generator):
                raise OperationError(
                    f"operation {op_label} must be a generator function "
                    "(use `yield` for its commands)"
                )
            return run_operation(host, state, name, generator, global_kwargs)

        wrapper._pyinfra_op = op_func  # type: ignore[attr-defined]
        wrapper._pyinfra_op_options = options  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    if func is not None and callable(func):
        return decorator(func)
    return decorator


def deploy(
    name: str | None = None,
    data_defaults: dict[str, Any] | None = None,
) -> Callable[[F], F]:
    """Group operations into a named deploy; global arguments given to the call
    (``_sudo=True``...) apply to every operation inside."""

    def decorator(func: F) -> F:
        deploy_name = name or func.__name__

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            global_kwargs = {
                k: kwargs.pop(k) for k in list(kwargs) if k in ALL_GLOBAL_ARGUMENTS and k != "name"
            }
            host = context.get("host")
            previous = host.current_deploy_name if host is not None else None
            if host is not None:
                host.current_deploy_name = deploy_name
            push_deploy_kwargs(global_kwargs)
            try:
                return func(*args, **kwargs)
            finally:
                pop_deploy_kwargs()
                if host is not None:
                    host.current_deploy_name = previous

        return wrapper  # type: ignore[return-value]

    return decorator


def iter_commands(commands: Iterable[Any]) -> Generator[Any, Any, None]:
    yield from commands
