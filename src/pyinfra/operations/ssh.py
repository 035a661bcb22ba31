"""Run commands and copy files from the host to other servers over SSH
(``controller -> host -> other server``), with the host's own ssh, scp and keys.

Every ssh/scp runs with ``BatchMode=yes``: a missing key or an unknown host key is a
one-line error, never a prompt that hangs the deploy.
"""

from __future__ import annotations

import posixpath
from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactBase, FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.filecommands import shell_path
from pyinfra.facts.files import File, Sha256File
from pyinfra.facts.server import Home
from pyinfra.operations import files
from pyinfra.operations.util import check_path, fail

Commands = Generator[Any, Any, None]


def _known_hosts_name(hostname: str, port: int) -> str:
    return hostname if int(port) == 22 else f"[{hostname}]:{int(port)}"


class KnownHost(FactBase[bool]):
    """Whether ``known_hosts`` has a key for ``hostname``:``port`` (hashed entries too)."""

    requires_command = "ssh-keygen"

    @staticmethod
    def default() -> bool:
        return False

    def command(self, path: str, hostname: str, port: int = 22) -> StringCommand:
        return StringCommand(
            "if", "[", "-f", shell_path(path), "]", "&&", "ssh-keygen", "-F",
            QuoteString(_known_hosts_name(hostname, port)), "-f", shell_path(path),
            ">/dev/null", "2>&1;", "then", "echo", "yes;", "fi",
        )  # fmt: skip

    def process(self, output: list[str]) -> bool:
        return bool(output) and output[0].strip() == "yes"


class RemoteSha256(FactBase["str | None"]):
    """SHA-256 of a file on another server, read from the host over SSH (``None`` if
    it is missing there or the server cannot be reached)."""

    def command(self, hostname: str, path: str, port: int = 22, user: str | None = None) -> Any:
        remote = StringCommand(
            "if", "[", "-f", QuoteString(path), "];", "then", "sha256sum", "<", QuoteString(path),
            ";", "fi",
        )  # fmt: skip
        # unreachable, unknown host key...: None, and scp then says what is wrong
        return StringCommand(
            *_ssh_base(hostname, port, user), QuoteString(remote), "2>/dev/null", "||", "true"
        )

    def process(self, output: list[str]) -> str | None:
        token = output[0].split()[0] if output and output[0].split() else ""
        return token if len(token) == 64 else None


def _check_host(op: str, hostname: Any) -> str:
    if not isinstance(hostname, str) or not hostname or hostname.startswith("-"):
        raise fail(op, f"argument hostname must be a host name, got {hostname!r}")
    return hostname


def _target(hostname: str, user: str | None) -> str:
    return f"{user}@{hostname}" if user else hostname


def _ssh_base(hostname: str, port: int, user: str | None) -> list[Any]:
    return [
        "ssh",
        "-o",
        "BatchMode=yes",
        "-p",
        str(int(port)),
        QuoteString(_target(hostname, user)),
    ]


def _scp_remote(hostname: str, user: str | None, path: str) -> StringCommand:
    return StringCommand(
        QuoteString(_target(hostname, user)), ":", QuoteString(path), _separator=""
    )


def _known_hosts_file() -> str:
    home = host.get_fact(Home)
    if not home:
        raise fail("ssh.keyscan", "cannot find the home directory of the host's user")
    return posixpath.join(home, ".ssh", "known_hosts")


@operation()
def keyscan(hostname: str, force: bool = False, port: int = 22) -> Commands:
    """Add ``hostname``'s SSH host keys (``ssh-keyscan``) to ``~/.ssh/known_hosts`` of
    the host's user if it has none yet (``force``: replace the ones it has)."""
    op = "ssh.keyscan"
    _check_host(op, hostname)
    known_hosts = _known_hosts_file()
    yield from files.directory._inner(path=posixpath.dirname(known_hosts), mode=700)
    present = host.get_fact(KnownHost, path=known_hosts, hostname=hostname, port=port)
    if present and not force:
        host.noop(f"host key for {_known_hosts_name(hostname, port)} already known")
        return
    name = _known_hosts_name(hostname, port)
    quoted = shell_path(known_hosts)
    commands: list[Any] = []
    if present:
        commands += ["ssh-keygen", "-R", QuoteString(name), "-f", quoted, ">/dev/null", "2>&1;"]
    message = QuoteString(f"ssh-keyscan found no host key for {hostname} port {port}")
    commands += [
        "keys=$(ssh-keyscan", "-p", str(int(port)), QuoteString(hostname), "2>/dev/null)", "&&",
        "[", "-n", '"$keys"', "]", "||", "{", "echo", message, ">&2;", "exit", "1;", "};",
        "printf", "'%s\\n'", '"$keys"', ">>", quoted,
    ]  # fmt: skip
    yield StringCommand("(", *commands, ")")
    yield FactChange(
        paths=(known_hosts,),
        known=((KnownHost, {"path": known_hosts, "hostname": hostname, "port": port}, True),),
    )


@operation(is_idempotent=False)
def command(hostname: str, command: str, user: str | None = None, port: int = 22) -> Commands:
    """Run ``command`` on another server over SSH, from the host (always runs)."""
    op = "ssh.command"
    _check_host(op, hostname)
    if not isinstance(command, str) or not command.strip():
        raise fail(op, f"argument command must be a non-empty string, got {command!r}")
    yield StringCommand(*_ssh_base(hostname, port, user), QuoteString(command))


@operation()
def upload(
    hostname: str,
    filename: str,
    remote_filename: str | None = None,
    port: int = 22,
    user: str | None = None,
    use_remote_sudo: bool = False,
    ssh_keyscan: bool = False,
) -> Commands:
    """Copy ``filename`` from the host to ``remote_filename`` (default: the same path)
    on another server with ``scp``, unless the copy there already has the same
    SHA-256; ``use_remote_sudo`` moves it into place with ``sudo`` there."""
    op = "ssh.upload"
    _check_host(op, hostname)
    check_path(op, filename, "filename")
    remote_filename = remote_filename or filename
    if ssh_keyscan:
        yield from keyscan._inner(hostname=hostname, port=port)
    local_sha = host.get_fact(Sha256File, path=filename)
    if local_sha is None:
        raise fail(op, f"{filename} does not exist on the host (argument filename)")
    remote = host.get_fact(
        RemoteSha256, hostname=hostname, path=remote_filename, port=port, user=user
    )
    if remote == local_sha:
        host.noop(f"{remote_filename} on {hostname} is already up to date")
        return
    scp = ["scp", "-q", "-o", "BatchMode=yes", "-P", str(int(port))]
    if not use_remote_sudo:
        yield StringCommand(
            *scp, shell_path(filename), _scp_remote(hostname, user, remote_filename)
        )
    else:
        temp = f"/tmp/pyinfra-upload-{local_sha[:16]}"
        yield StringCommand(*scp, shell_path(filename), _scp_remote(hostname, user, temp))
        move = StringCommand("sudo", "-n", "mv", QuoteString(temp), QuoteString(remote_filename))
        yield StringCommand(*_ssh_base(hostname, port, user), QuoteString(move))
    yield FactChange(
        known=((RemoteSha256, {"hostname": hostname, "path": remote_filename, "port": port,
                               "user": user}, local_sha),)
    )  # fmt: skip


@operation()
def download(
    hostname: str,
    filename: str,
    local_filename: str | None = None,
    force: bool = False,
    port: int = 22,
    user: str | None = None,
    ssh_keyscan: bool = False,
) -> Commands:
    """Copy ``filename`` from another server to ``local_filename`` (default: the same
    path) on the host with ``scp``, unless it is already there (``force``: always)."""
    op = "ssh.download"
    _check_host(op, hostname)
    local_filename = local_filename or filename
    check_path(op, local_filename, "local_filename")
    info = host.get_fact(File, path=local_filename)
    if info is False:
        raise fail(op, f"{local_filename} exists on the host and is not a regular file")
    if info and not force:
        host.noop(f"{local_filename} is already downloaded")
        return
    if ssh_keyscan:
        yield from keyscan._inner(hostname=hostname, port=port)
    yield StringCommand(
        "scp", "-q", "-o", "BatchMode=yes", "-P", str(int(port)),
        _scp_remote(hostname, user, filename), shell_path(local_filename),
    )  # fmt: skip
    yield FactChange(paths=(local_filename,))
