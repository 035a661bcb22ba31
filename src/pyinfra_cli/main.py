"""The click command. Parses flags, builds the state, runs, renders, sets the exit status."""

from __future__ import annotations

import json
import sys
import time
import traceback
from typing import Any

import click

from pyinfra.api.config import Config
from pyinfra.api.deployrunner import HostRunResult, run_deploys
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.facts import get_host_fact
from pyinfra.api.host import Host
from pyinfra.api.parallel import connect_all, disconnect_all, run_on_hosts
from pyinfra.api.state import State
from pyinfra.connectors.util import kill_all_processes
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


def _parse_data(items: tuple[str, ...]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"--data expects key=value, got {item!r}")
        data[key] = parse_value(value)
    return data


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("inventory")
@click.argument("operations", nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Don't ask for confirmation.")
@click.option("--dry", is_flag=True, help="Show what would change, change nothing.")
@click.option("--diff", is_flag=True, help="Show a diff of the file contents that change.")
@click.option(
    "--serial", is_flag=True, help="Run each operation on one host at a time, in order."
)
@click.option(
    "--no-wait", "no_wait", is_flag=True, help="Don't wait for all hosts between operations."
)
@click.option("-v", "verbosity", count=True, help="-v output, -vv commands, -vvv more.")
@click.option("--limit", multiple=True, help="Only hosts matching this glob or group.")
@click.option("--data", "data_items", multiple=True, help="Override data: key=value.")
@click.option("--sudo", is_flag=True, default=False, help="Run with sudo.")
@click.option("--sudo-user", help="sudo to this user.")
@click.option(
    "--use-sudo-password", is_flag=True, help="Ask for the sudo password once, before connecting."
)
@click.option("--su-user", help="su to this user.")
@click.option("--user", "ssh_user", help="SSH user.")
@click.option("--port", "ssh_port", type=int, help="SSH port.")
@click.option("--key", "ssh_key", help="SSH private key file.")
@click.option(
    "--key-password",
    "ssh_key_password",
    is_flag=False,
    flag_value="?",
    default=None,
    help="Passphrase of the key (no value: ask for it).",
)
@click.option(
    "--password",
    "ssh_password",
    is_flag=False,
    flag_value="?",
    default=None,
    help="SSH password (no value: ask for it; a value is visible in `ps`).",
)
@click.option("--parallel", type=int, default=0, help="Hosts at once (0 = automatic).")
@click.option(
    "--fail-percent",
    type=int,
    default=None,
    help="Stop when more than this percentage of hosts failed.",
)
@click.option("--connect-timeout", type=float, default=None, help="Seconds to connect.")
@click.option("--shell-executable", default=None, help="Shell to run commands with.")
@click.option("--json", "json_mode", is_flag=True, help="Print results as JSON.")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
def cli(
    inventory: str,
    operations: tuple[str, ...],
    yes: bool,
    dry: bool,
    diff: bool,
    serial: bool,
    no_wait: bool,
    verbosity: int,
    limit: tuple[str, ...],
    data_items: tuple[str, ...],
    sudo: bool,
    sudo_user: str | None,
    use_sudo_password: bool,
    su_user: str | None,
    ssh_user: str | None,
    ssh_port: int | None,
    ssh_key: str | None,
    ssh_key_password: str | None,
    ssh_password: str | None,
    parallel: int,
    fail_percent: int | None,
    connect_timeout: float | None,
    shell_executable: str | None,
    json_mode: bool,
    debug: bool,
) -> None:
    """Run OPERATIONS on the hosts of INVENTORY.

    \b
    INVENTORY: an inventory.py file, @connector/target strings, or host1,host2.
    OPERATIONS: deploy.py files | exec -- COMMAND | fact server.Hostname |
                module.operation args k=v | debug-inventory
    """
    renderer = Renderer(verbosity, json_mode)
    install_logging(renderer, verbosity, debug)
    ctx = click.get_current_context()
    ctx.obj = {"debug": debug, "renderer": renderer}

    parsed = parse_operations(list(operations))
    if serial and no_wait:
        raise CliError("--serial and --no-wait cannot be used together")

    override: dict[str, Any] = _parse_data(data_items)
    for key, value in (("ssh_user", ssh_user), ("ssh_port", ssh_port), ("ssh_key", ssh_key)):
        if value is not None:
            override[key] = value
    if ssh_password == "?":
        ssh_password = click.prompt("SSH password", hide_input=True, err=True)
    if ssh_password is not None:
        override["ssh_password"] = ssh_password
    if ssh_key_password == "?":
        ssh_key_password = click.prompt("SSH key passphrase", hide_input=True, err=True)
    if ssh_key_password is not None:
        override["ssh_key_password"] = ssh_key_password

    config = Config(PARALLEL=parallel, FAIL_PERCENT=fail_percent)
    if connect_timeout is not None:
        config.CONNECT_TIMEOUT = connect_timeout
    if sudo or sudo_user:
        config.SUDO = True
        config.SUDO_USER = sudo_user
    if su_user:
        config.SU_USER = su_user
    if shell_executable:
        config.SHELL = shell_executable
    if use_sudo_password:
        config.SUDO_PASSWORD = click.prompt("sudo password", hide_input=True, err=True)

    inv = make_inventory(inventory, override)
    hosts = select_hosts(inv, limit)
    if not hosts:
        raise CliError(f"--limit {', '.join(limit)} matches no host of the inventory")
    state = State()
    state.init(inv, config, initial_limit=hosts)
    state.dry = dry
    state.print_output = verbosity >= 1
    state.print_input = verbosity >= 2
    if sys.stdin.isatty():
        state.password_prompter = lambda message: click.prompt(message, hide_input=True, err=True)

    if isinstance(parsed, DebugInventoryCommand):
        _debug_inventory(renderer, hosts, json_mode)
        return

    started = time.monotonic()
    connected = connect_all(state, hosts)
    for host in hosts:
        if host not in connected:
            renderer.error(state.host_errors.get(host.name, f"{host.name}: could not connect"))
    _check_fail_percent(state, hosts, fail_percent)

    results: dict[str, HostRunResult] = {}
    facts_out: dict[str, Any] = {}
    try:
        if isinstance(parsed, ExecCommand):
            results = _run_exec(state, connected, parsed.command, renderer)
        elif isinstance(parsed, FactCommand):
            results, facts_out = _run_facts(state, connected, parsed)
        elif isinstance(parsed, DeployCommand):
            view = DeployView(renderer, verbosity, diff, len(connected))
            state.add_callback_handler(view)
            mode = "serial" if serial else ("no_wait" if no_wait else "lockstep")
            with view.live():
                results = run_deploys(
                    state,
                    connected,
                    parsed.deploys,
                    on_done=lambda _result: view.host_finished(),
                    mode=mode,
                    diff=diff,
                )
    finally:
        disconnect_all(state, hosts)
    elapsed = time.monotonic() - started

    failed = _report(renderer, state, hosts, results, json_mode, facts_out, debug, elapsed)
    if failed:
        ctx.exit(1)


def _run_exec(
    state: State, hosts: list[Host], command: str, renderer: Renderer
) -> dict[str, HostRunResult]:
    def run(host: Host) -> HostRunResult:
        ok, output = host.run_shell_command(
            command, print_output=True, print_input=state.print_input
        )
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


def _report(
    renderer: Renderer,
    state: State,
    hosts: list[Host],
    results: dict[str, HostRunResult],
    json_mode: bool,
    facts: dict[str, Any],
    debug: bool,
    elapsed: float,
) -> bool:
    rows: list[tuple[str, str, str]] = []
    payload: dict[str, Any] = {"hosts": {}, "elapsed": round(elapsed, 3)}
    any_failed = False
    for host in hosts:
        result = results.get(host.name)
        ops = state.results.get(host.name, [])
        if result is None or not result.success:
            any_failed = True
            error = (
                result.error
                if result is not None and result.error
                else state.host_errors.get(host.name, "not run")
            )
            if result is not None and result.traceback and debug:
                renderer.error(result.traceback)
            rows.append((host.name, "Error", error or ""))
            if result is not None and result.error and not json_mode:
                renderer.error(f"{host.name}: {error}")
        else:
            changed = sum(1 for op in ops if op.changed)
            status = "Success" if (changed or not ops) else "No changes"
            detail = f"{len(ops)} operations, {changed} changed" if ops else ""
            if state.dry and ops:
                status = "Would change" if changed else status
                detail = f"{len(ops)} operations, {changed} would change (dry run)"
            rows.append((host.name, status, detail))
        payload["hosts"][host.name] = {
            "success": bool(result and result.success),
            "dry": state.dry,
            "error": (result.error if result else state.host_errors.get(host.name)),
            "operations": [op.to_dict() for op in ops],
        }
        if host.name in facts:
            payload["hosts"][host.name]["facts"] = facts[host.name]
    if json_mode:
        click.echo(json.dumps(payload, indent=2, default=str))
        return any_failed
    if facts:
        for host_name, values in facts.items():
            for fact_name, value in values.items():
                renderer.info(f"[{host_name}] {fact_name}: {json.dumps(value, default=str)}")
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
        click.echo(json.dumps(data, indent=2, default=str))
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
            json.dumps(item["data"], default=str, sort_keys=True),
        )
    renderer.out.print(table)


def main(argv: list[str] | None = None) -> None:
    debug = "--debug" in (argv if argv is not None else sys.argv)
    try:
        code = cli.main(args=argv, prog_name="pyinfra", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):  # click turns Ctrl-C into Abort
        killed = kill_all_processes()
        click.echo(f"pyinfra: interrupted, {killed} running command(s) killed", err=True)
        sys.exit(130)
    except PyinfraError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"pyinfra: error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - unexpected: one line unless --debug
        if debug:
            traceback.print_exc()
        else:
            click.echo(
                f"pyinfra: internal error: {type(exc).__name__}: {exc} "
                "(run with --debug for the traceback)",
                err=True,
            )
        sys.exit(2)
