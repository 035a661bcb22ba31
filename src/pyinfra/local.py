"""Deploy helpers that run on the controller: ``local.include`` and ``local.shell``.

``local.include("tasks/web.py", data={"port": 80})`` runs another deploy file for the
current host, at that point of the deploy; ``data`` gives defaults for ``host.data``
while it runs (inventory data wins, as for pyinfra's deploy data). A relative path is
looked up next to the deploy file (``./x.py``: next to the including file), then in
the current directory.
"""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from types import CodeType
from typing import Any

from pyinfra import context
from pyinfra.api.exceptions import DeployError, PyinfraError
from pyinfra.connectors.util import log_command, run_local_process

_codes: dict[tuple[str, float], CodeType] = {}
_codes_lock = threading.Lock()
_stack = threading.local()


def _including() -> list[str]:
    if not hasattr(_stack, "files"):
        _stack.files = []
    files: list[str] = _stack.files
    return files


def _resolve(filename: str) -> str:
    if os.path.isabs(filename):
        return filename
    stack = _including()
    deploy_dir = context.get("deploy_dir") or os.getcwd()
    if filename.startswith(("./", ".\\")) and stack:
        return os.path.join(os.path.dirname(stack[-1]), filename)
    first = os.path.join(deploy_dir, filename)
    if os.path.exists(first):
        return first
    second = os.path.abspath(filename)
    return second if os.path.exists(second) else first


def _compile(path: str) -> CodeType:
    try:
        stamp = os.stat(path).st_mtime
        with _codes_lock:
            cached = _codes.get((path, stamp))
        if cached is not None:
            return cached
        with open(path, encoding="utf-8") as handle:
            source = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise DeployError(f"local.include: cannot read {path}: {exc}") from exc
    try:
        code = compile(source, path, "exec")
    except SyntaxError as exc:
        raise DeployError(
            f"local.include: syntax error in {exc.filename or path}, line {exc.lineno}: {exc.msg}"
        ) from exc
    with _codes_lock:
        _codes[(path, stamp)] = code
    return code


@contextmanager
def _data_defaults(host: Any, data: dict[str, Any] | None) -> Iterator[None]:
    """``data`` as the lowest-priority layer of ``host.data`` for the block."""
    layers = getattr(getattr(host, "data", None), "_layers", None)
    if not data or not isinstance(layers, list):
        yield
        return
    layer = dict(data)
    layers.append(layer)
    try:
        yield
    finally:
        layers.remove(layer)


def _line_in(exc: BaseException, path: str) -> int | None:
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == path:
            line = lineno
    return line


def include(filename: str | os.PathLike[str], data: dict[str, Any] | None = None) -> None:
    """Run the deploy file ``filename`` for the current host, now (see the module)."""
    host = context.get("host")
    if host is None:
        raise PyinfraError(
            "local.include must be called inside a deploy (a deploy file run by the pyinfra "
            "CLI, or inside pyinfra.context.use(host=..., state=...))"
        )
    if data is not None and not isinstance(data, dict):
        raise PyinfraError(f"local.include: data must be a dict, got {type(data).__name__}")
    requested = os.fspath(filename)
    path = os.path.abspath(_resolve(requested))
    if not os.path.isfile(path):
        raise DeployError(f"local.include: file not found: {path} (from {requested!r})")
    code = _compile(path)
    namespace: dict[str, Any] = {"__name__": "__pyinfra_include__", "__file__": path}
    stack = _including()
    stack.append(path)
    try:
        with _data_defaults(host, data):
            exec(code, namespace)  # noqa: S102 - running the user's deploy file
    except PyinfraError:
        raise
    except Exception as exc:  # noqa: BLE001 - user code: report with its place
        line = _line_in(exc, path)
        where = f"{path}, line {line}" if line else path
        raise DeployError(f"{where}: {type(exc).__name__}: {exc}") from exc
    finally:
        stack.pop()


def shell(
    commands: str | list[str],
    splitlines: bool = False,
    ignore_errors: bool = False,
    print_output: bool = False,
    print_input: bool = False,
) -> str | list[str]:
    """Run shell commands on this machine (``sh -c``) and return their stdout (joined,
    or a list of lines with ``splitlines``); a failing command raises ``PyinfraError``
    with its last error line unless ``ignore_errors``."""
    if isinstance(commands, str):
        commands = [commands]
    state = context.get("state")
    if state is not None:
        print_output = print_output or bool(getattr(state, "print_output", False))
        print_input = print_input or bool(getattr(state, "print_input", False))
    lines: list[str] = []
    for command in commands:
        log_command("localhost", command, print_input)
        code, output = run_local_process(
            command, print_output=print_output, print_prefix="localhost"
        )
        if code != 0 and not ignore_errors:
            errors = [line for line in output.stderr_lines if line.strip()]
            detail = errors[-1] if errors else f"exit status {code}"
            raise PyinfraError(f"local command failed: {command}: {detail}")
        lines.extend(output.stdout_lines)
    return lines if splitlines else "\n".join(lines)


__all__ = ["include", "shell"]
