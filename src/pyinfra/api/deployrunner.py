"""Run deploy files on hosts: each host runs the deploy in its own thread.

The deploy file's code is compiled once; each host executes it with the context
(``pyinfra.host``...) set to itself, so operations run at once on that host. A
:class:`~pyinfra.api.scheduler.Scheduler` keeps the hosts in lock-step (or serial, or
not waiting: ``mode``) and bounds how many operations execute at the same time.
A host whose operation fails stops its own deploy; the others continue unless more
than ``FAIL_PERCENT`` of the hosts have failed, which stops the run.
"""

from __future__ import annotations

import logging
import os
import threading
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import CodeType
from typing import TYPE_CHECKING, Any

from pyinfra import context
from pyinfra.api.exceptions import DeployError, PyinfraError
from pyinfra.api.factbatch import prefetch, save_queries
from pyinfra.api.operation import register_stop_frame
from pyinfra.api.parallel import pool_size
from pyinfra.api.results import HostOperationFailed
from pyinfra.api.scheduler import RunStopped, Scheduler
from pyinfra.connectors.util import kill_all_processes

if TYPE_CHECKING:
    from pyinfra.api.host import Host
    from pyinfra.api.state import State

logger = logging.getLogger("pyinfra")


@dataclass
class DeployFile:
    path: str
    code: CodeType


@dataclass
class DeployCallable:
    """A Python callable run as a deploy (used for single operations from the CLI)."""

    label: str
    function: Callable[[], Any]


@dataclass
class HostRunResult:
    host: str
    success: bool
    error: str | None = None
    traceback: str | None = None
    operations: list[Any] = field(default_factory=list)
    stopped: bool = False


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


def _user_line(exc: BaseException, path: str) -> int | None:
    """The last line of ``path`` in the exception's traceback."""
    line = None
    target = os.path.abspath(path)
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if os.path.abspath(frame.f_code.co_filename) == target:
            line = lineno
    return line


def _exec_deploy(deploy: DeployFile | DeployCallable, namespace: dict[str, Any]) -> None:
    if isinstance(deploy, DeployCallable):
        deploy.function()
    else:
        exec(deploy.code, namespace)  # noqa: S102 - running the user's deploy


register_stop_frame(_exec_deploy.__code__)


def _error_result(
    host: Host, deploy: DeployFile | DeployCallable, exc: BaseException
) -> HostRunResult:
    if isinstance(exc, RunStopped):
        return HostRunResult(host.name, False, str(exc), stopped=True)
    if isinstance(exc, HostOperationFailed):
        return HostRunResult(host.name, False, str(exc))
    if isinstance(deploy, DeployFile):
        line = _user_line(exc, deploy.path)
        where = f"{deploy.path}, line {line}" if line else deploy.path
    else:
        where = deploy.label
    if isinstance(exc, PyinfraError):
        if isinstance(deploy, DeployCallable) and str(exc).startswith(deploy.label):
            return HostRunResult(host.name, False, str(exc))
        return HostRunResult(host.name, False, f"{where}, host {host.name}: {exc}")
    return HostRunResult(
        host.name,
        False,
        f"{where}, host {host.name}: {type(exc).__name__}: {exc}",
        traceback="".join(traceback.format_exception(exc)),
    )


def run_deploy_on_host(
    state: State,
    host: Host,
    deploys: list[DeployFile | DeployCallable],
    extra_globals: dict[str, Any] | None = None,
    run: Scheduler | None = None,
) -> HostRunResult:
    """Run every deploy on ``host`` in this thread; stops at the first failure."""
    values: dict[str, Any] = {
        "host": host,
        "state": state,
        "inventory": state.inventory,
        "config": state.config,
    }
    if run is not None:
        values["run"] = run
    with context.use(**values):
        for deploy in deploys:
            namespace: dict[str, Any] = {"__name__": "__pyinfra_deploy__"}
            deploy_dir = os.getcwd()
            if isinstance(deploy, DeployFile):
                namespace["__file__"] = os.path.abspath(deploy.path)
                deploy_dir = os.path.dirname(os.path.abspath(deploy.path))
            namespace.update(extra_globals or {})
            try:
                with context.use(deploy_dir=deploy_dir):
                    _exec_deploy(deploy, namespace)
                    host.command_queue.settle_or_raise()  # deferred operations complete
            except Exception as exc:  # noqa: BLE001 - user code: report with its place
                return _error_result(host, deploy, _settled(host, exc))
            except BaseException:
                host.command_queue.discard()
                raise
    return HostRunResult(host.name, True)


def _settled(host: Host, exc: Exception) -> Exception:
    """After an error in deploy code, the operations before it complete (their commands
    ran before the error in pyinfra's order); an earlier failure is the host's error."""
    if isinstance(exc, (RunStopped, HostOperationFailed)):
        host.command_queue.discard()  # the host stops here: nothing queued may run
        return exc
    try:
        host.command_queue.settle_or_raise()
    except HostOperationFailed as earlier:
        return earlier
    except Exception:  # noqa: BLE001 - the deploy's own error is the one to report
        host.command_queue.discard()
    return exc


def _fail_percent_exceeded(state: State) -> str | None:
    limit = state.config.FAIL_PERCENT
    if limit is None:
        return None
    percent = state.failed_percent()
    if percent > limit:
        return f"{percent:.0f}% of hosts failed, more than FAIL_PERCENT ({limit}%)"
    return None


def run_deploys(
    state: State,
    hosts: Iterable[Host],
    deploys: list[DeployFile | DeployCallable],
    on_done: Callable[[HostRunResult], None] | None = None,
    mode: str = "lockstep",
    diff: bool = False,
    reuse_facts: bool = False,
) -> dict[str, HostRunResult]:
    """Run the deploys on every host, one thread per host; failed hosts are marked in
    ``state``. ``mode``: ``lockstep`` (default), ``serial`` or ``no_wait``.

    Facts are cached for one run; ``reuse_facts`` (applying right after a dry run that
    planned the same deploys) keeps the values the plan read from the hosts, so the
    apply reads again only what its operations change."""
    host_list = list(hosts)
    for host in host_list:
        host.fact_queries.restart()
        if reuse_facts:
            host.fact_cache.drop_predictions()
        else:
            host.invalidate_facts()
    remember = bool(getattr(state.config, "FACT_PREFETCH", False))
    deploy_key = "\0".join(
        os.path.abspath(d.path) if isinstance(d, DeployFile) else d.label for d in deploys
    )
    if remember:
        prefetch(state, host_list, deploy_key)
    run = Scheduler(
        host_list, mode=mode, parallel=pool_size(state, max(1, len(host_list))), diff=diff
    )
    results: dict[str, HostRunResult] = {}
    lock = threading.Lock()

    def failed(host: Host, error: str) -> None:
        state.fail_hosts({host}, error=error)
        reason = _fail_percent_exceeded(state)
        if reason:
            run.stop(reason)

    run.on_failure = failed

    def work(host: Host) -> None:
        try:
            result = run_deploy_on_host(state, host, deploys, run=run)
        except BaseException as exc:  # noqa: BLE001 - never lose a host's thread silently
            result = HostRunResult(host.name, False, f"{type(exc).__name__}: {exc}")
        if not result.success and not result.stopped:
            run.host_failed(host, result.error or "failed")
        run.host_done(host)
        result.operations = list(state.operation_results(host))
        with lock:
            results[host.name] = result
        if on_done is not None:
            on_done(result)

    threads = [
        threading.Thread(target=work, args=(host,), name=f"pyinfra-{host.name}", daemon=True)
        for host in host_list
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)
    except KeyboardInterrupt:
        run.stop("interrupted")
        kill_all_processes()
        raise
    for op_hash in state.finish_started_operations():
        state.trigger_callbacks("operation_end", op_hash)
    if remember:
        save_queries(state, host_list, deploy_key)
    return {host.name: results[host.name] for host in host_list if host.name in results}
