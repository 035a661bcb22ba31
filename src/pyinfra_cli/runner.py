"""One CLI run: config, inventory, connect, then exec / facts / deploys, then the report.

A deploy without ``-y`` is planned first on every host (a dry run: facts are read,
changes predicted, deploy-code errors raised); the changes are shown and applied only
when the user confirms at a terminal. Any error while planning stops the run before a
single host is changed.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import click

from pyinfra import context
from pyinfra.api.config import Config
from pyinfra.api.deployrunner import DeployCallable, DeployFile, HostRunResult, run_deploys
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.facts import get_host_fact
from pyinfra.api.host import Host
from pyinfra.api.parallel import connect_all, disconnect_all, run_on_hosts
from pyinfra.api.state import State, StateStage
from pyinfra.api.util import make_hash
from pyinfra.connectors.execution import run_streamed
from pyinfra.connectors.output import OutputLine
from pyinfra_cli import jsonout
from pyinfra_cli.configfile import load_config_file
from pyinfra_cli.deployview import DeployView, operations_table
from pyinfra_cli.inventory import make_inventory, select_hosts
from pyinfra_cli.operations import (
    CliError,
    DebugInventoryCommand,
    DeployCommand,
    ExecCommand,
    FactCommand,
    parse_operations,
    parse_value,
)
from pyinfra_cli.render import Renderer, install_logging
from pyinfra_cli.render import lock as renderer_lock

Deploys = list[DeployFile | DeployCallable]


@dataclass
class CliOptions:
    inventory: str
    operations: tuple[str, ...]
    yes: bool = False
    dry: bool = False
    diff: bool = False
    serial: bool = False
    no_wait: bool = False
    verbosity: int = 0
    limit: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    data_items: tuple[str, ...] = ()
    group_data: tuple[str, ...] = ()
    config_file: str | None = None
    chdir: str | None = None
    sudo: bool = False
    sudo_user: str | None = None
    use_sudo_password: bool = False
    use_sudo_login: bool = False
    same_sudo_password: bool = False
    su_user: str | None = None
    dzdo: bool = False
    dzdo_user: str | None = None
    ssh_user: str | None = None
    ssh_port: int | None = None
    ssh_key: str | None = None
    ssh_key_password: str | None = None
    ssh_password: str | None = None
    ssh_password_prompt: bool = False
    parallel: int = 0
    fail_percent: int | None = None
    connect_timeout: float | None = None
    shell_executable: str | None = None
    retry: int | None = None
    retry_delay: float | None = None
    json_mode: bool = False
    debug: bool = False
    debug_all: bool = False
    debug_facts: bool = False
    debug_operations: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _parse_data(items: tuple[str, ...]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"--data expects key=value, got {item!r}")
        data[key] = parse_value(value)
    return data


def _ask_secret(prompt: str) -> str:
    return str(click.prompt(prompt, hide_input=True, err=True))


def _override_data(opts: CliOptions) -> dict[str, Any]:
    override: dict[str, Any] = _parse_data(opts.data_items)
    for key, value in (
        ("ssh_user", opts.ssh_user),
        ("ssh_port", opts.ssh_port),
        ("ssh_key", opts.ssh_key),
    ):
        if value is not None:
            override[key] = value
    password = opts.ssh_password
    if password == "?" or opts.ssh_password_prompt:
        password = _ask_secret("SSH password")
    if password is not None:
        override["ssh_password"] = password
    key_password = opts.ssh_key_password
    if key_password == "?":
        key_password = _ask_secret("SSH key passphrase")
    if key_password is not None:
        override["ssh_key_password"] = key_password
    return override


def _make_config(opts: CliOptions) -> Config:
    config = Config()
    load_config_file(config, opts.config_file)
    if opts.parallel:
        config.PARALLEL = opts.parallel
    if opts.fail_percent is not None:
        config.FAIL_PERCENT = opts.fail_percent
    if opts.connect_timeout is not None:
        config.CONNECT_TIMEOUT = opts.connect_timeout
    if opts.sudo or opts.sudo_user:
        config.SUDO = True
        config.SUDO_USER = opts.sudo_user or config.SUDO_USER
    if opts.use_sudo_login:
        config.USE_SUDO_LOGIN = True
    if opts.su_user:
        config.SU_USER = opts.su_user
    if opts.dzdo or opts.dzdo_user:
        config.DZDO = True
        config.DZDO_USER = opts.dzdo_user or config.DZDO_USER
    if opts.shell_executable:
        config.SHELL = None if opts.shell_executable in ("None", "null") else opts.shell_executable
    if opts.retry is not None:
        config.RETRY = opts.retry
    if opts.retry_delay is not None:
        config.RETRY_DELAY = opts.retry_delay
    if opts.diff:
        config.DIFF = True
    if config.FACT_PREFETCH is None:
        config.FACT_PREFETCH = True
    if opts.use_sudo_password or opts.same_sudo_password:
        config.SUDO_PASSWORD = _ask_secret("sudo password")
    return config


def _setup_logging(renderer: Renderer, opts: CliOptions) -> None:
    install_logging(renderer, opts.verbosity, opts.debug or opts.debug_all)
    if opts.debug_all:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)


def run_cli(opts: CliOptions, ctx: click.Context) -> int:
    """Everything after flag parsing; returns the exit status."""
    renderer = Renderer(opts.verbosity, opts.json_mode)
    _setup_logging(renderer, opts)
    ctx.obj = {"debug": opts.debug, "renderer": renderer}
    if opts.chdir:
        if not os.path.isdir(opts.chdir):
            raise CliError(f"--chdir {opts.chdir}: no such directory")
        os.chdir(opts.chdir)
    parsed = parse_operations(list(opts.operations))
    if opts.serial and opts.no_wait:
        raise CliError("--serial and --no-wait cannot be used together")

    config = _make_config(opts)
    override = _override_data(opts)
    inv = make_inventory(opts.inventory, override, list(opts.group_data))
    hosts = select_hosts(inv, opts.limit, opts.exclude)
    if not hosts:
        if opts.exclude:
            raise CliError(
                f"--exclude {', '.join(opts.exclude)} leaves no host of the inventory"
                + (f" within --limit {', '.join(opts.limit)}" if opts.limit else "")
            )
        raise CliError(f"--limit {', '.join(opts.limit)} matches no host of the inventory")
    state = State()
    state.init(inv, config, initial_limit=hosts)
    state.cwd = os.getcwd()
    context.set_global("state", state)
    context.set_global("inventory", inv)
    context.set_global("config", config)
    state.print_output = opts.verbosity >= 1
    state.print_input = opts.verbosity >= 2
    state.print_noop_info = opts.verbosity >= 1
    if sys.stdin.isatty():
        state.password_prompter = _ask_secret

    if isinstance(parsed, DebugInventoryCommand):
        _debug_inventory(renderer, hosts, opts.json_mode)
        return 0

    started = time.monotonic()
    state.set_stage(StateStage.Connect)
    connected = connect_all(state, hosts)
    for host in hosts:
        if host not in connected:
            renderer.error(state.host_errors.get(host.name, f"{host.name}: could not connect"))
    _check_fail_percent(state, hosts, opts.fail_percent)

    outcome = RunOutcome()
    try:
        _quiet_on_interrupt(state)
        if isinstance(parsed, ExecCommand):
            outcome.results = _run_exec(state, connected, parsed.command, renderer)
            outcome.exec_command = parsed.command
        elif isinstance(parsed, FactCommand):
            outcome.results, outcome.facts = _run_facts(state, connected, parsed)
        elif isinstance(parsed, DeployCommand):
            _run_deploy(opts, state, connected, parsed.deploys, renderer, outcome)
    finally:
        state.set_stage(StateStage.Disconnect)
        disconnect_all(state, hosts)
    if outcome.stop_code is not None:
        return outcome.stop_code
    elapsed = time.monotonic() - started
    failed = _report(renderer, state, hosts, outcome, opts, elapsed)
    return 1 if failed else 0


def _quiet_on_interrupt(state: State) -> None:
    """On Ctrl-C, stop showing operation results before the commands and transfers in
    flight are stopped: what they then report is the interrupt, not host errors (main
    says what was stopped)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def interrupted(signum: int, frame: Any) -> None:
        state.callback_handlers.clear()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupted)


@dataclass
class RunOutcome:
    results: dict[str, HostRunResult] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    exec_command: str | None = None
    planned: bool = False
    applied: bool = True
    stop_code: int | None = None


# Deploys: plan, confirm, apply ---------------------------------------------------------


def _mode(opts: CliOptions) -> str:
    return "serial" if opts.serial else ("no_wait" if opts.no_wait else "lockstep")


def _deploy_pass(
    opts: CliOptions,
    state: State,
    hosts: list[Host],
    deploys: Deploys,
    renderer: Renderer,
    dry: bool,
    show: bool = True,
    reuse_facts: bool = False,
) -> dict[str, HostRunResult]:
    state.dry = dry
    state.clear_operation_results()
    view = DeployView(renderer, opts.verbosity, opts.diff, len(hosts))
    if show:
        state.add_callback_handler(view)
    try:
        with view.live():
            return run_deploys(
                state,
                hosts,
                deploys,
                on_done=lambda _result: view.host_finished(),
                mode=_mode(opts),
                diff=opts.diff,
                reuse_facts=reuse_facts,
            )
    finally:
        if show and view in state.callback_handlers:  # Ctrl-C took it away already
            state.callback_handlers.remove(view)


def _run_deploy(
    opts: CliOptions,
    state: State,
    hosts: list[Host],
    deploys: Deploys,
    renderer: Renderer,
    outcome: RunOutcome,
) -> None:
    debugging = opts.debug_facts or opts.debug_operations
    if opts.yes and not (opts.dry or debugging):
        state.set_stage(StateStage.Execute)
        outcome.results = _deploy_pass(opts, state, hosts, deploys, renderer, dry=False)
        return
    state.set_stage(StateStage.Prepare)
    plan = _deploy_pass(opts, state, hosts, deploys, renderer, dry=True, show=not debugging)
    outcome.results = plan
    outcome.planned = True
    if debugging:
        _print_debug(renderer, state, hosts, opts)
        outcome.applied = False
        outcome.stop_code = 0
        return
    if opts.dry:
        outcome.applied = False
        return
    failures = [result for result in plan.values() if not result.success]
    if failures:
        outcome.applied = False
        renderer.error("errors while planning: nothing was changed on any host")
        return
    if not any(op.changed for host in hosts for op in state.operation_results(host)):
        renderer.info("No changes to apply.", style="green")
        outcome.applied = False
        return
    if not _confirmed(opts, renderer, state, hosts):
        outcome.applied = False
        outcome.stop_code = 1
        return
    state.set_stage(StateStage.Execute)
    outcome.planned = False
    outcome.results = _deploy_pass(
        opts, state, hosts, deploys, renderer, dry=False, reuse_facts=True
    )


def _confirmed(opts: CliOptions, renderer: Renderer, state: State, hosts: list[Host]) -> bool:
    if opts.json_mode:
        click.echo(json.dumps({"plan": jsonout.plan_json(state, hosts, True), "results": None}))
        renderer.error("changes not applied: --json without -y only shows the plan")
        return False
    if not sys.stdin.isatty():
        renderer.error(
            "changes not applied: stdin is not a terminal, so nobody can confirm them; "
            "run with -y to apply without asking (or --dry to only preview)"
        )
        return False
    try:
        answer = click.confirm("Apply these changes?", default=False, err=True)
    except click.exceptions.Abort:
        answer = False
    if not answer:
        renderer.error("changes not applied")
    return bool(answer)


def _print_debug(renderer: Renderer, state: State, hosts: list[Host], opts: CliOptions) -> None:
    payload: dict[str, Any] = {}
    for host in hosts:
        entry: dict[str, Any] = {}
        if opts.debug_operations:
            entry["operations"] = [
                {
                    "name": op.name,
                    "operation": op.operation,
                    "will_change": op.will_change,
                    "commands": [c.command for c in op.commands],
                }
                for op in state.operation_results(host)
            ]
        if opts.debug_facts:
            entry["facts"] = {
                f"{key[0].name()}({_fact_args(entry_value.kwargs)})": entry_value.value
                for key, entry_value in host.fact_cache.items()
            }
        payload[host.name] = entry
    text = json.dumps(payload, indent=None if opts.json_mode else 2, default=jsonout.json_default)
    if opts.json_mode:
        click.echo(text)
    else:
        renderer.info(text)


def _fact_args(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


# exec and facts ---------------------------------------------------------------------


def _run_exec(
    state: State, hosts: list[Host], command: str, renderer: Renderer
) -> dict[str, HostRunResult]:
    def run(host: Host) -> HostRunResult:
        # streamed: each line is printed as it comes and not kept (any size of output)
        def print_line(line: OutputLine) -> None:
            renderer.line(host.name, line.line, line.buffer_name)

        ok, output = run_streamed(host, command, print_line, print_input=state.print_input)
        if ok:
            return HostRunResult(host.name, True)
        detail = output.stderr_lines[-1] if output.stderr_lines else ""
        error = f"exit status {output.exit_code}" if output.exit_code is not None else "failed"
        if detail:
            error += f": {detail}"
        state.fail_hosts({host}, error=error)
        return HostRunResult(host.name, False, error)

    return _collect(state, hosts, run)


def _run_facts(
    state: State,
    hosts: list[Host],
    parsed: FactCommand,
) -> tuple[dict[str, HostRunResult], dict[str, Any]]:
    values: dict[str, Any] = {}

    def run(host: Host) -> HostRunResult:
        host_values: dict[str, Any] = {}
        try:
            for cls, args, kwargs in parsed.facts:
                host_values[cls.name()] = get_host_fact(host, cls, *args, **kwargs)
        except PyinfraError as exc:
            state.fail_hosts({host}, error=str(exc))
            return HostRunResult(host.name, False, str(exc))
        values[host.name] = host_values
        return HostRunResult(host.name, True)

    return _collect(state, hosts, run), values


def _collect(state: State, hosts: list[Host], fn: Any) -> dict[str, HostRunResult]:
    out: dict[str, HostRunResult] = {}
    for host, value in run_on_hosts(state, hosts, fn).items():
        if isinstance(value, BaseException):
            state.fail_hosts({host}, error=str(value))
            out[host.name] = HostRunResult(host.name, False, f"{value}")
        else:
            out[host.name] = value
    return out


def _check_fail_percent(state: State, hosts: list[Host], fail_percent: int | None) -> None:
    if fail_percent is None or not hosts:
        return
    percent = 100 * len([h for h in hosts if h in state.failed_hosts]) / len(hosts)
    if percent > fail_percent:
        raise CliError(
            f"{percent:.0f}% of hosts failed to connect, more than "
            f"--fail-percent {fail_percent}: stopping"
        )


def _exec_json(command: str, hosts: list[Host], results: dict[str, HostRunResult]) -> Any:
    """``exec`` in pyinfra 3.x's plan/results shape (one ``server.shell`` operation)."""
    names = [h.name for h in hosts if h.name in results]
    describe = {
        "op_hash": make_hash(["exec", command]),
        "name": f"server.shell ({command})",
        "names": ["server.shell"],
        "args": [command],
    }
    ok = sorted(n for n in names if results[n].success)
    bad = sorted(n for n in names if not results[n].success)
    return {
        "plan": [
            {**describe, "hosts_with_change": sorted(names), "hosts_with_conditional_change": []}
        ],
        "results": {
            "operations": [
                {**describe, "hosts": len(names), "success": ok, "error": bad, "no_change": []}
            ],
            "totals": {"hosts": len(names), "success": len(ok), "error": len(bad), "no_change": 0},
            "failed_hosts": bad,
        },
    }


def _json_payload(
    state: State,
    hosts: list[Host],
    outcome: RunOutcome,
    host_entries: dict[str, Any],
    elapsed: float,
) -> Any:
    if outcome.facts or (outcome.results and not state.op_meta and outcome.exec_command is None):
        by_fact: dict[str, dict[str, Any]] = {}
        for host_name, values in outcome.facts.items():
            for fact_name, value in values.items():
                by_fact.setdefault(fact_name, {})[host_name] = value
        return by_fact
    if outcome.exec_command is not None:
        payload = _exec_json(outcome.exec_command, hosts, outcome.results)
    else:
        payload = {
            "plan": jsonout.plan_json(state, hosts, outcome.planned),
            "results": None if outcome.planned else jsonout.results_json(state, hosts),
        }
    payload["hosts"] = host_entries
    payload["elapsed"] = round(elapsed, 3)
    return payload


def _report(
    renderer: Renderer,
    state: State,
    hosts: list[Host],
    outcome: RunOutcome,
    opts: CliOptions,
    elapsed: float,
) -> bool:
    rows: list[tuple[str, str, str]] = []
    host_entries: dict[str, Any] = {}
    any_failed = False
    planned = outcome.planned
    for host in hosts:
        result = outcome.results.get(host.name)
        ops = state.operation_results(host)
        if result is None or not result.success:
            any_failed = True
            error = (
                result.error
                if result is not None and result.error
                else state.host_errors.get(host.name, "not run")
            )
            if result is not None and result.traceback and opts.debug:
                renderer.error(result.traceback)
            rows.append((host.name, "Error", error or ""))
            if result is not None and result.error and not opts.json_mode:
                renderer.error(f"{host.name}: {error}")
        else:
            changed = sum(1 for op in ops if op.changed)
            status = "Success" if (changed or not ops) else "No changes"
            detail = f"{len(ops)} operations, {changed} changed" if ops else ""
            if planned and ops:
                status = "Would change" if changed else status
                why = "dry run" if opts.dry else "not applied"
                detail = f"{len(ops)} operations, {changed} would change ({why})"
            rows.append((host.name, status, detail))
        host_entries[host.name] = {
            "success": bool(result and result.success),
            "dry": planned,
            "error": (result.error if result else state.host_errors.get(host.name)),
            "operations": [op.to_dict() for op in ops],
        }
    if opts.json_mode:
        payload = _json_payload(state, hosts, outcome, host_entries, elapsed)
        click.echo(json.dumps(payload, indent=2, default=jsonout.json_default))
        return any_failed
    for host_name, values in outcome.facts.items():
        for fact_name, value in values.items():
            text = json.dumps(value, default=jsonout.json_default)
            renderer.info(f"[{host_name}] {fact_name}: {text}")
    table = operations_table(state, [host.name for host in hosts], renderer.out.width)
    if table is not None:
        renderer.info("")
        with renderer_lock():
            renderer.out.print(table)
        renderer.info("")
    renderer.summary(rows)
    return any_failed


_SECRET_WORDS = ("password", "passphrase", "secret", "token")


def _mask_secrets(data: dict[str, Any]) -> dict[str, Any]:
    return {
        key: ("***" if value and any(w in key.lower() for w in _SECRET_WORDS) else value)
        for key, value in data.items()
    }


def _debug_inventory(renderer: Renderer, hosts: list[Host], json_mode: bool) -> None:
    data = {
        h.name: {
            "groups": h.groups,
            "connector": h.connector_cls.__name__,
            "data": _mask_secrets(h.data.dict()),
        }
        for h in hosts
    }
    if json_mode:
        masked = {h.name: _mask_secrets(h.data.dict()) for h in hosts}
        listed = jsonout.inventory_json(hosts, masked)
        click.echo(json.dumps(listed, indent=2, default=jsonout.json_default))
        return
    from rich.table import Table

    table = Table()
    table.add_column("Host")
    table.add_column("Connector")
    table.add_column("Groups")
    table.add_column("Data", overflow="fold")
    for name, item in data.items():
        table.add_row(
            name,
            str(item["connector"]),
            ", ".join(list(item["groups"])),
            json.dumps(item["data"], default=jsonout.json_default, sort_keys=True),
        )
    renderer.out.print(table)
