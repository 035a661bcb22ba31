"""Run deploy files on hosts: each host runs the deploy in its own thread, in parallel.

The deploy file's code is compiled once; each host executes it with the context
(``pyinfra.host``...) set to itself, so operations run at once on that host.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import CodeType
from typing import TYPE_CHECKING, Any

from pyinfra import context
from pyinfra.api.exceptions import DeployError, PyinfraError
from pyinfra.api.operation import HostOperationFailed
from pyinfra.api.parallel import run_on_hosts

if TYPE_CHECKING:
    from pyinfra.api.host import Host
    from pyinfra.api.state import State

logger = logging.getLogger("pyinfra")


@dataclass
class DeployFile:
    path: str
    code: CodeType


@dataclass
class HostRunResult:
    host: str
    success: bool
    error: str | None = None
    traceback: str | None = None
    operations: list[Any] = field(default_factory=list)


def load_deploy_file(path: str) -> DeployFile:
    """Read and compile a deploy file; a missing file or a syntax error is a DeployError."""
    if not os.path.exists(path):
        raise DeployError(f"deploy file not found: {path}")
    if os.path.isdir(path):
        raise DeployError(f"deploy file is a directory: {path}")
    try:
        with open(path, encoding="utf-8") as handle:
            source = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise DeployError(f"cannot read deploy file {path}: {exc}") from exc
    try:
        code = compile(source, path, "exec")
    except SyntaxError as exc:
        raise DeployError(
            f"syntax error in {exc.filename or path}, line {exc.lineno}: {exc.msg}"
        ) from exc
    return DeployFile(path, code)


def _user_frame(exc: BaseException, path: str) -> int | None:
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if os.path.abspath(frame.f_code.co_filename) == os.path.abspath(path):
            line = lineno
    return line


@dataclass
class DeployCallable:
    """A Python callable run as a deploy (used for single operations from the CLI)."""

    label: str
    function: Callable[[], Any]


def run_deploy_on_host(
    state: State,
    host: Host,
    deploys: list[DeployFile | DeployCallable],
    extra_globals: dict[str, Any] | None = None,
) -> HostRunResult:
    with context.use(host=host, state=state, inventory=state.inventory, config=state.config):
        for deploy in deploys:
            if isinstance(deploy, DeployCallable):
                try:
                    deploy.function()
                except HostOperationFailed as exc:
                    return HostRunResult(host.name, False, str(exc))
                except PyinfraError as exc:
                    return HostRunResult(host.name, False, str(exc))
                except Exception as exc:  # noqa: BLE001
                    return HostRunResult(
                        host.name,
                        False,
                        f"{deploy.label}: {type(exc).__name__}: {exc}",
                        traceback="".join(traceback.format_exception(exc)),
                    )
                continue
            namespace: dict[str, Any] = {
                "__name__": "__pyinfra_deploy__",
                "__file__": os.path.abspath(deploy.path),
            }
            namespace.update(extra_globals or {})
            try:
                exec(deploy.code, namespace)  # noqa: S102 - running the user's deploy
            except HostOperationFailed as exc:
                return HostRunResult(host.name, False, str(exc))
            except PyinfraError as exc:
                line = _user_frame(exc, deploy.path)
                where = f" ({deploy.path}, line {line})" if line else ""
                return HostRunResult(host.name, False, f"{exc}{where}")
            except Exception as exc:  # noqa: BLE001 - user code: report with place
                line = _user_frame(exc, deploy.path)
                where = f"{deploy.path}, line {line}" if line else deploy.path
                return HostRunResult(
                    host.name,
                    False,
                    f"{where}: {type(exc).__name__}: {exc}",
                    traceback="".join(traceback.format_exception(exc)),
                )
    return HostRunResult(host.name, True)


def run_deploys(
    state: State,
    hosts: Iterable[Host],
    deploys: list[DeployFile | DeployCallable],
    on_done: Callable[[HostRunResult], None] | None = None,
) -> dict[str, HostRunResult]:
    """Run the deploys on every host in parallel; failed hosts are marked in ``state``."""

    def run(host: Host) -> HostRunResult:
        result = run_deploy_on_host(state, host, deploys)
        result.operations = list(state.results.get(host.name, []))
        if not result.success:
            state.fail_hosts({host}, error=result.error)
        if on_done is not None:
            on_done(result)
        return result

    results: dict[str, HostRunResult] = {}
    for host, value in run_on_hosts(state, list(hosts), run).items():
        if isinstance(value, BaseException):
            state.fail_hosts({host}, error=str(value))
            results[host.name] = HostRunResult(host.name, False, str(value))
        else:
            results[host.name] = value
    return results
