"""Build the final shell command for a target: environment, directory, shell, sudo/su/doas.

Every value that comes from a user (paths, users, environment, shell) is shell-quoted.
Passwords are never part of the command: :class:`Escalation` carries them next to the
command, to be answered on the process's stdin when the prompt appears.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyinfra.api.command import MaskString, QuoteString, StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.connectors._runner.markers import READY_MARKER, SUDO_PROMPT_PREFIX
from pyinfra.connectors._runner.process import Responder
from pyinfra.connectors.output import PASSWORD_REFUSED, Failure

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SUDO_REFUSED = Failure(PASSWORD_REFUSED, "sudo refused the password (wrong sudo password?)")
SU_REFUSED = Failure(PASSWORD_REFUSED, "su refused the password (wrong su password?)")
_SU_PROMPT = re.compile(rb"(?:^|\n)[^\n]*[Pp]assword: ?$")


@dataclass(frozen=True)
class Escalation:
    """A built command plus its secret channel: the answers to give on its stdin
    (never in the argv), whether stdin must wait for :data:`READY_MARKER`, and whether
    it needs a terminal (``su`` reads its password from one)."""

    command: StringCommand
    responders: tuple[Responder, ...] = ()
    wait_for_ready: bool = False
    needs_pty: bool = False


def _get(arguments: Mapping[str, Any], name: str, default: Any = None) -> Any:
    if f"_{name}" in arguments:
        return arguments[f"_{name}"]
    return arguments.get(name, default)


def _as_command(command: str | StringCommand) -> StringCommand:
    if isinstance(command, StringCommand):
        return command
    return StringCommand(command)


def build_unix_command(command: str | StringCommand, **arguments: Any) -> Escalation:
    """The full command and its prompt answers. Accepts ``_sudo`` or ``sudo`` style keys."""
    env: dict[str, Any] = _get(arguments, "env") or {}
    chdir: str | None = _get(arguments, "chdir")
    shell_executable: str | None = _get(arguments, "shell_executable", "sh")
    sudo: bool = bool(_get(arguments, "sudo", False))
    sudo_user: str | None = _get(arguments, "sudo_user")
    use_sudo_login: bool = bool(_get(arguments, "use_sudo_login", False))
    sudo_password: str | None = _get(arguments, "sudo_password") or None
    preserve_sudo_env: bool = bool(_get(arguments, "preserve_sudo_env", False))
    su_user: str | None = _get(arguments, "su_user")
    use_su_login: bool = bool(_get(arguments, "use_su_login", False))
    preserve_su_env: bool = bool(_get(arguments, "preserve_su_env", False))
    su_shell: str | None = _get(arguments, "su_shell")
    su_password: str | None = _get(arguments, "su_password") or None
    doas: bool = bool(_get(arguments, "doas", False))
    doas_user: str | None = _get(arguments, "doas_user")
    dzdo: bool = bool(_get(arguments, "dzdo", False))
    dzdo_user: str | None = _get(arguments, "dzdo_user")
    if isinstance(sudo_password, bool):  # pyinfra 3.x passes True/False here
        sudo_password = None
    users = (
        ("sudo_user", sudo_user),
        ("su_user", su_user),
        ("doas_user", doas_user),
        ("dzdo_user", dzdo_user),
    )
    for label, user in users:
        if user is not None and (not str(user) or str(user).startswith("-")):
            raise OperationValueError(
                f"invalid {label} {user!r}: a user name cannot be empty or start with '-'"
            )

    cmd = _as_command(command)
    prefix: list[Any] = []
    if chdir:
        prefix += ["cd", QuoteString(chdir), "&&"]
    if env:
        exports: list[Any] = []
        for key, value in env.items():
            if not _ENV_NAME.match(str(key)):
                raise OperationValueError(f"invalid environment variable name: {key!r}")
            bit = MaskString(str(value)) if isinstance(value, MaskString) else str(value)
            exports.append(StringCommand(key, "=", QuoteString(bit), _separator=""))
        prefix += ["export", *exports, "&&"]

    escalating = sudo or bool(su_user) or doas or dzdo
    wait_for_ready = bool(sudo and sudo_password) or bool(su_user and su_password)
    if wait_for_ready and shell_executable:
        ready = READY_MARKER.decode()
        prefix = [StringCommand("printf", QuoteString(ready + r"\n"), ">&2;"), *prefix]

    if shell_executable:
        inner = StringCommand(*prefix, cmd)
        full = StringCommand(shell_executable, "-c", QuoteString(inner))
    else:
        if chdir or env:
            bits: list[Any] = ["env"]
            if chdir:
                bits += ["-C", QuoteString(chdir)]
            for key, value in env.items():
                if not _ENV_NAME.match(str(key)):
                    raise OperationValueError(f"invalid environment variable name: {key!r}")
                bits.append(QuoteString(f"{key}={value}"))
            full = StringCommand(*bits, cmd)
        else:
            full = cmd
        wait_for_ready = False

    responders: list[Responder] = []
    needs_pty = False
    if su_user:
        su_bits: list[Any] = ["su"]
        if use_su_login:
            su_bits.append("-l")
        if preserve_su_env:
            su_bits.append("-m")
        if su_shell:
            # su wants an absolute path: the target resolves the name (``bash``)
            resolved = StringCommand("$(command -v ", QuoteString(su_shell), ")", _separator="")
            su_bits += ["-s", StringCommand('"', resolved, '"', _separator="")]
        su_bits += [QuoteString(su_user), "-c", QuoteString(full)]
        full = StringCommand(*su_bits)
        if su_password:
            needs_pty = True
            responders.append(Responder(_SU_PROMPT, su_password, SU_REFUSED))
    if sudo:
        sudo_bits: list[Any] = ["sudo", "-H"]
        if sudo_password:
            marker = f"{SUDO_PROMPT_PREFIX}{secrets.token_hex(8)}]"
            sudo_bits += ["-S", "-p", QuoteString(marker)]
            responders.append(
                Responder(re.compile(re.escape(marker.encode())), sudo_password, SUDO_REFUSED)
            )
        else:
            sudo_bits.append("-n")
        if use_sudo_login:
            sudo_bits.append("-i")
        if preserve_sudo_env:
            sudo_bits.append("-E")
        if sudo_user:
            sudo_bits += ["-u", QuoteString(sudo_user)]
        full = StringCommand(*sudo_bits, full)
    elif doas:
        doas_bits: list[Any] = ["doas", "-n"]
        if doas_user:
            doas_bits += ["-u", QuoteString(doas_user)]
        full = StringCommand(*doas_bits, full)
    elif dzdo:
        dzdo_bits: list[Any] = ["dzdo", "-H", "-n"]
        if dzdo_user:
            dzdo_bits += ["-u", QuoteString(dzdo_user)]
        full = StringCommand(*dzdo_bits, full)
    if not escalating:
        wait_for_ready = False
    return Escalation(full, tuple(responders), wait_for_ready and bool(responders), needs_pty)


def make_unix_command(command: str | StringCommand, **arguments: Any) -> StringCommand:
    """The command as the target's shell will run it (passwords are not included)."""
    return build_unix_command(command, **arguments).command
