"""The click command: parses the flags and hands them to :mod:`pyinfra_cli.runner`."""

from __future__ import annotations

import sys
import traceback
from typing import Any

import click

from pyinfra import __version__
from pyinfra.api.config import PYINFRA_API_VERSION
from pyinfra.api.exceptions import PyinfraError
from pyinfra.connectors.util import kill_all_processes, stopped_counts
from pyinfra_cli.runner import CliOptions, run_cli
from pyinfra_cli.support import support_text


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"pyinfra: v{__version__} (implements pyinfra {PYINFRA_API_VERSION})")
        ctx.exit(0)


def _show_support(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(support_text())
        ctx.exit(0)


_SECRET_FLAG = {"is_flag": False, "flag_value": "?", "default": None}


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("inventory")
@click.argument("operations", nargs=-1, required=True)
@click.option(
    "-y",
    "--yes",
    is_flag=True,
    envvar="PYINFRA_YES",
    help="Apply without showing the changes and asking first. [env var: PYINFRA_YES]",
)
@click.option("--dry", is_flag=True, help="Show what would change, change nothing.")
@click.option("--diff", is_flag=True, help="Show a diff of the file contents that change.")
@click.option("--serial", is_flag=True, help="Run each operation on one host at a time, in order.")
@click.option(
    "--no-wait", "no_wait", is_flag=True, help="Don't wait for all hosts between operations."
)
@click.option("-v", "verbosity", count=True, help="-v output, -vv commands, -vvv more.")
@click.option("--limit", multiple=True, help="Only hosts matching this glob or group.")
@click.option("--exclude", multiple=True, help="Leave out hosts matching this glob or group.")
@click.option("--data", "data_items", multiple=True, help="Override data: key=value.")
@click.option(
    "--group-data",
    "group_data",
    multiple=True,
    help="A directory of GROUP.py data files to load (overrides matching keys).",
)
@click.option("--config", "config_file", default=None, help="Config file (default: config.py).")
@click.option("--chdir", default=None, help="Change to this directory first.")
@click.option("--sudo", is_flag=True, default=False, help="Run with sudo.")
@click.option("--sudo-user", help="sudo to this user.")
@click.option(
    "--use-sudo-password", is_flag=True, help="Ask for the sudo password once, before connecting."
)
@click.option("--use-sudo-login", is_flag=True, help="Use a login shell with sudo.")
@click.option(
    "--same-sudo-password",
    is_flag=True,
    help="Every host has the same sudo password: ask once (this tool always asks once).",
)
@click.option("--su-user", help="su to this user.")
@click.option("--dzdo", is_flag=True, default=False, help="Run with dzdo.")
@click.option("--dzdo-user", help="dzdo to this user.")
@click.option("--ssh-user", "--user", "ssh_user", help="SSH user.")
@click.option("--ssh-port", "--port", "ssh_port", type=int, help="SSH port.")
@click.option("--ssh-key", "--key", "ssh_key", help="SSH private key file.")
@click.option(
    "--ssh-key-password",
    "--key-password",
    "ssh_key_password",
    help="Passphrase of the key (no value: ask for it).",
    **_SECRET_FLAG,  # type: ignore[arg-type]
)
@click.option(
    "--ssh-password",
    "--password",
    "ssh_password",
    help="SSH password (no value: ask for it; a value is visible in `ps`).",
    **_SECRET_FLAG,  # type: ignore[arg-type]
)
@click.option("--ssh-password-prompt", is_flag=True, help="Ask for the SSH password.")
@click.option("--parallel", type=int, default=0, help="Hosts at once (0 = automatic).")
@click.option(
    "--fail-percent",
    type=int,
    default=None,
    help="Stop when more than this percentage of hosts failed.",
)
@click.option("--connect-timeout", type=float, default=None, help="Seconds to connect.")
@click.option("--shell-executable", default=None, help="Shell to run commands with.")
@click.option("--retry", type=int, default=None, help="Retry failed operations this many times.")
@click.option("--retry-delay", type=float, default=None, help="Seconds between retries.")
@click.option("--json", "json_mode", is_flag=True, help="Print results as JSON on stdout.")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option("--debug-all", is_flag=True, help="Debug logs of every library too.")
@click.option("--debug-facts", is_flag=True, help="Show the facts a deploy reads, then stop.")
@click.option(
    "--debug-operations", is_flag=True, help="Show the operations a deploy plans, then stop."
)
@click.option(
    "--support",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_support,
    help="Print information for a bug report and exit.",
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version and exit.",
)
def cli(inventory: str, operations: tuple[str, ...], **flags: Any) -> None:
    """Run OPERATIONS on the hosts of INVENTORY.

    \b
    INVENTORY: an inventory.py file, @connector/target strings, or host1,host2.
    OPERATIONS: deploy.py files | exec -- COMMAND | fact server.Hostname |
                module.operation args k=v | debug-inventory

    Without -y a deploy is first planned on every host; the changes are shown and
    applied only once you confirm.
    """
    options = CliOptions(inventory=inventory, operations=operations, **flags)
    ctx = click.get_current_context()
    code = run_cli(options, ctx)
    if code:
        ctx.exit(code)


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
        kill_all_processes()  # whatever is still running (the hosts' threads did most)
        commands, transfers = stopped_counts()
        stopped = f", {transfers} transfer(s) stopped" if transfers else ""
        click.echo(f"pyinfra: interrupted, {commands} running command(s) killed{stopped}", err=True)
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
