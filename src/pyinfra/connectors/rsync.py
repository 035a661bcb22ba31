"""``files.rsync``: run the controller's ``rsync`` towards a target.

The SSH connector runs ``rsync -e "ssh ..."`` with the host's resolved settings (port,
user, key, known_hosts file, host key policy, ssh_config file, ProxyJump/Command) and
``BatchMode=yes`` (never a prompt); the local connector runs ``rsync SRC DEST``.
Everything is an argument list, never a shell string. ``_sudo``/``_sudo_user`` run
the receiving rsync through ``sudo -n``.

:func:`pending_changes` runs the same transfer with ``--dry-run`` and returns the items
rsync would change, which is how ``files.rsync`` knows that a second run changes
nothing (and what a ``--dry`` run would do).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pyinfra.api.exceptions import TransferError
from pyinfra.connectors.output import OutputLine
from pyinfra.connectors.util import log_command, make_line_logger

if TYPE_CHECKING:
    from pyinfra.api.host import Host
    from pyinfra.connectors.base import BaseConnector
    from pyinfra.connectors.local import LocalConnector
    from pyinfra.connectors.ssh import SSHConnector

_ITEM_PREFIX = "__pyinfra_rsync__ "
_TIMEOUT = 3600.0


def _require_local_rsync() -> str:
    found = shutil.which("rsync")
    if found is None:
        raise NotImplementedError(
            "rsync is not installed on this machine (the controller): "
            "install it (e.g. apt-get install rsync) to use files.rsync"
        )
    return found


def _remote_rsync(arguments: dict[str, Any]) -> list[str]:
    if not arguments.get("_sudo"):
        return ["rsync"]
    user = arguments.get("_sudo_user")
    return ["sudo", "-n", *(["-u", str(user)] if user else []), "rsync"]


# SSH -------------------------------------------------------------------------------------


def check_ssh(connector: SSHConnector) -> None:
    """Raise ``NotImplementedError`` (with what to do) when rsync cannot run."""
    _require_local_rsync()
    data = connector.data
    if data.get("ssh_password"):
        raise NotImplementedError(
            f"{connector.host.name}: files.rsync runs OpenSSH, which cannot use ssh_password: "
            "use a key (ssh_key) for this host"
        )
    if data.get("ssh_key_password"):
        raise NotImplementedError(
            f"{connector.host.name}: files.rsync runs OpenSSH, which cannot use "
            "ssh_key_password: load the key into an ssh-agent or use a key without a passphrase"
        )


def ssh_command(connector: SSHConnector) -> tuple[list[str], str]:
    """(the ``ssh`` argv rsync uses, ``user@host``) for ``connector``'s host."""
    settings = connector.settings()
    argv = ["ssh", "-o", "BatchMode=yes", "-p", str(settings.port)]
    argv += ["-o", f"ConnectTimeout={int(settings.connect_timeout) or 10}"]
    for key in settings.key_filenames:
        argv += ["-i", key]
    if settings.known_hosts_files:
        argv += ["-o", "UserKnownHostsFile=" + " ".join(settings.known_hosts_files)]
    policy = {"off": "no"}.get(settings.strict_host_key_checking, settings.strict_host_key_checking)
    argv += ["-o", f"StrictHostKeyChecking={policy}"]
    if settings.config_file:
        argv += ["-F", settings.config_file]
    if settings.proxy_command:
        argv += ["-o", f"ProxyCommand={settings.proxy_command}"]
    elif settings.proxy_jump:
        argv += ["-J", ",".join(str(hop) for hop in settings.proxy_jump)]
    host = f"[{settings.hostname}]" if ":" in settings.hostname else settings.hostname
    return argv, f"{settings.user}@{host}"


def ssh_argv(
    connector: SSHConnector, src: str, dest: str, flags: Sequence[str], arguments: dict[str, Any]
) -> list[str]:
    ssh, target = ssh_command(connector)
    rsh = " ".join(shlex.quote(part) for part in ssh)
    remote = " ".join(shlex.quote(part) for part in _remote_rsync(arguments))
    return [
        _require_local_rsync(), *flags, "--rsh", rsh, "--rsync-path", remote, "--", src,
        f"{target}:{dest}",
    ]  # fmt: skip


# Local -----------------------------------------------------------------------------------


def check_local(connector: LocalConnector) -> None:
    _require_local_rsync()


def local_argv(
    connector: LocalConnector, src: str, dest: str, flags: Sequence[str], arguments: dict[str, Any]
) -> list[str]:
    rsync = _require_local_rsync()
    prefix = _remote_rsync(arguments)[:-1]
    return [*prefix, rsync, *flags, "--", src, dest]


# Running ---------------------------------------------------------------------------------


def _missing_remote(stderr: str) -> bool:
    text = stderr.lower()
    return "rsync: command not found" in text or "rsync: not found" in text


def transfer(
    connector: BaseConnector,
    src: str,
    dest: str,
    flags: Sequence[str],
    print_output: bool,
    print_input: bool,
    arguments: dict[str, Any],
) -> bool:
    """``connector.rsync(...)`` of the built-in connectors: run it, ``True`` or raise."""
    argv = argv_for(connector, src, dest, flags, arguments)
    if argv is None:
        raise NotImplementedError(f"the {type(connector).__name__} connector cannot run rsync")
    run(connector.host, argv, print_output, print_input)
    return True


def run(
    host: Host,
    argv: list[str],
    print_output: bool = False,
    print_input: bool = False,
) -> list[str]:
    """Run rsync; its stdout lines, or ``TransferError`` with rsync's last error line."""
    log_command(host.name, shlex.join(argv), print_input)
    try:
        proc = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise TransferError(f"{host.name}: rsync did not finish within {_TIMEOUT:.0f} s") from exc
    except OSError as exc:
        raise TransferError(f"{host.name}: could not run rsync: {exc.strerror or exc}") from exc
    stdout = proc.stdout.decode("utf-8", errors="replace").splitlines()
    stderr = proc.stderr.decode("utf-8", errors="replace")
    logger = make_line_logger(host.name, print_output)
    if logger is not None:
        for line in stdout:
            logger(OutputLine("stdout", line))
        for line in stderr.splitlines():
            logger(OutputLine("stderr", line))
    if proc.returncode != 0:
        if _missing_remote(stderr):
            raise TransferError(
                f"{host.name}: rsync is not installed on the target host: install it there"
            )
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        detail = lines[0] if lines else f"exit status {proc.returncode}"
        raise TransferError(f"{host.name}: rsync failed: {detail}")
    return stdout


def argv_for(
    connector: BaseConnector, src: str, dest: str, flags: Sequence[str], arguments: dict[str, Any]
) -> list[str] | None:
    """The rsync argv for the built-in ssh and local connectors (their ``rsync_argv``),
    ``None`` for any other connector (or a subclass with its own ``rsync``)."""
    make = getattr(connector, "rsync_argv", None)
    return make(src, dest, flags, arguments) if callable(make) else None


def pending_changes(
    host: Host, src: str, dest: str, flags: Sequence[str], arguments: dict[str, Any]
) -> list[str] | None:
    """The items ``rsync`` would change (``[]``: in sync), or ``None`` when the host's
    connector is not one whose rsync command is known here (a plugin's own rsync)."""
    preview = [*flags, "--dry-run", f"--out-format={_ITEM_PREFIX}%i %n%L"]
    argv = argv_for(host.connector, src, dest, preview, arguments)
    if argv is None:
        return None
    changes = []
    for line in run(host, argv):
        if not line.startswith(_ITEM_PREFIX):
            continue
        item = line[len(_ITEM_PREFIX) :]
        flags_field = item.split(" ", 1)[0]
        # ".f          name": listed but unchanged (-ii); anything else is a change.
        if flags_field.startswith(".") and set(flags_field[2:]) <= {".", " ", ""}:
            continue
        changes.append(item)
    return changes


class RsyncMixin:
    """``check_can_rsync``/``rsync``/``rsync_argv`` for a connector whose rsync runs on
    this machine: ``rsync_kind`` ``"ssh"`` (OpenSSH to the host) or ``"local"``."""

    rsync_kind = "local"

    def check_can_rsync(self) -> None:
        if self.rsync_kind == "ssh":
            check_ssh(self)  # type: ignore[arg-type]
        else:
            check_local(self)  # type: ignore[arg-type]

    def rsync(
        self,
        src: str,
        dest: str,
        flags: Any,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Any,
    ) -> bool:
        return transfer(self, src, dest, list(flags), print_output, print_input, arguments)  # type: ignore[arg-type]

    def rsync_argv(
        self, src: str, dest: str, flags: Any, arguments: dict[str, Any]
    ) -> list[str] | None:
        """The rsync command line ``files.rsync`` previews with (``None`` when a
        subclass moves files its own way)."""
        if type(self).rsync is not RsyncMixin.rsync:
            return None
        make = ssh_argv if self.rsync_kind == "ssh" else local_argv
        return make(self, src, dest, list(flags), arguments)  # type: ignore[arg-type]
