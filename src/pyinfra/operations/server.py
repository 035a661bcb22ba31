"""Operations on the server as a whole: shell commands, scripts, users and groups."""

from __future__ import annotations

import io
import os
from collections.abc import Generator
from typing import IO, Any

from pyinfra import host
from pyinfra.api.command import FileUploadCommand, MaskString, QuoteString, StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.files import Directory, File, FileBytes
from pyinfra.facts.server import GroupIds, Groups, Home, Users
from pyinfra.operations.util import (
    check_name,
    deploy_path,
    expected_stat,
    fail,
    ownership_commands,
)

Commands = Generator[Any, Any, None]


@operation(is_idempotent=False)
def shell(commands: str | list[str]) -> Commands:
    """Run one or more shell commands (always reports a change)."""
    if isinstance(commands, str):
        commands = [commands]
    for command in commands:
        if not isinstance(command, str) or not command.strip():
            raise fail("server.shell", f"commands must be non-empty strings, got {command!r}")
    yield from commands


@operation(is_idempotent=False)
def script(src: str | IO[Any], args: tuple[str, ...] | list[str] = ()) -> Commands:
    """Upload a local script to a private temp file on the host, run it, then remove it.

    ``src`` is relative to the deploy file's directory; ``args`` are shell-quoted.
    """
    if isinstance(src, str):
        src = deploy_path(src)
        if not os.path.isfile(src):
            raise fail("server.script", f"local file not found: {src} (argument src)")
    temp = host.get_temp_filename()
    yield FileUploadCommand(src, temp)
    quoted = QuoteString(temp)
    yield StringCommand(
        "chmod", "700", quoted, "&&", quoted, *[QuoteString(str(a)) for a in args],
        ";", "rc=$?;", "rm", "-f", quoted, ";", "exit", "$rc",
    )  # fmt: skip


# Groups ----------------------------------------------------------------------------


@operation()
def group(
    group: str, present: bool = True, system: bool = False, gid: int | str | None = None
) -> Commands:
    """Add, change the id of, or remove a group."""
    check_name("server.group", group, "group")
    if gid is not None and not str(gid).isdigit():
        raise fail("server.group", f"argument gid must be a number, got {gid!r}")
    groups = host.get_fact(Groups)
    exists = group in groups
    if not present:
        if exists:
            yield StringCommand("groupdel", QuoteString(group))
            yield FactChange(
                facts=(Groups, GroupIds, Users),
                expect=((Groups, {}, [g for g in groups if g != group]),),
            )
        return
    if not exists:
        yield StringCommand(
            "groupadd",
            *(["-r"] if system else []),
            *(["-g", str(gid)] if gid is not None else []),
            QuoteString(group),
        )
        yield FactChange(facts=(Groups, GroupIds, Users), expect=((Groups, {}, [*groups, group]),))
        return
    if gid is not None and host.get_fact(GroupIds).get(group) != int(gid):
        yield StringCommand("groupmod", "-g", str(gid), QuoteString(group))
        yield FactChange(facts=(Groups, GroupIds, Users))


# Users -----------------------------------------------------------------------------


def _useradd(
    user: str,
    home: str | None,
    shell: str | None,
    group: str | None,
    groups: list[str] | None,
    create_home: bool,
    system: bool,
    uid: int | None,
    comment: str | None,
    unique: bool,
) -> StringCommand:
    bits: list[Any] = ["useradd"]
    if home:
        bits += ["-d", QuoteString(home)]
    if shell:
        bits += ["-s", QuoteString(shell)]
    if group:
        bits += ["-g", QuoteString(group)]
    if groups:
        bits += ["-G", QuoteString(",".join(groups))]
    if system:
        bits.append("-r")
    if uid is not None:
        bits += ["-u", str(uid)]
        if not unique:
            bits.append("-o")
    if comment is not None:
        bits += ["-c", QuoteString(comment)]
    bits.append("-m" if create_home else "-M")
    bits.append(QuoteString(user))
    return StringCommand(*bits)


def _usermod_flags(
    existing: dict[str, Any],
    home: str | None,
    shell: str | None,
    group: str | None,
    groups: list[str] | None,
    append: bool,
    uid: int | None,
    comment: str | None,
    unique: bool,
) -> list[Any]:
    bits: list[Any] = []
    if home and existing.get("home") != home:
        bits += ["-d", QuoteString(home)]
    if shell and existing.get("shell") != shell:
        bits += ["-s", QuoteString(shell)]
    if group and existing.get("group") != group:
        bits += ["-g", QuoteString(group)]
    if groups is not None:
        current = set(existing.get("groups") or [])
        if append:
            missing = [g for g in groups if g not in current]
            if missing:
                bits += ["-a", "-G", QuoteString(",".join(missing))]
        elif set(groups) != current:
            bits += ["-G", QuoteString(",".join(groups))]
    if uid is not None and existing.get("uid") != uid:
        bits += ["-u", str(uid)] + ([] if unique else ["-o"])
    if comment is not None and existing.get("comment") != comment:
        bits += ["-c", QuoteString(comment)]
    return bits


def _predicted_user(
    user: str,
    existing: dict[str, Any] | None,
    home: str,
    shell: str | None,
    group: str | None,
    groups: list[str] | None,
    append: bool,
    uid: int | None,
    comment: str | None,
) -> dict[str, Any]:
    new = dict(existing or {"shell": "", "comment": "", "uid": None, "gid": None, "groups": []})
    new["home"] = home
    new["group"] = group or new.get("group") or user
    if shell:
        new["shell"] = shell
    if comment is not None:
        new["comment"] = comment
    if uid is not None:
        new["uid"] = uid
    if groups is not None:
        new["groups"] = sorted(set(new.get("groups") or []) | set(groups)) if append else groups
    return new


@operation()
def user(
    user: str,
    present: bool = True,
    home: str | None = None,
    shell: str | None = None,
    group: str | None = None,
    groups: list[str] | None = None,
    append: bool = False,
    public_keys: str | list[str] | None = None,
    delete_keys: bool = False,
    ensure_home: bool = True,
    create_home: bool = False,
    system: bool = False,
    uid: int | None = None,
    comment: str | None = None,
    unique: bool = True,
    password: str | None = None,
) -> Commands:
    """Add, change or remove a user (``useradd``/``usermod``/``userdel``).

    ``password`` is an already *hashed* password; it is set through ``chpasswd -e`` on
    standard input, never on a command line. ``ensure_home`` creates the home
    directory (owned by the user) if it is missing; ``public_keys`` go into
    ``~/.ssh/authorized_keys`` (all other keys removed with ``delete_keys``).
    """
    op = "server.user"
    check_name(op, user, "user")
    for name in [group, *(groups or [])]:
        if name is not None:
            check_name(op, name, "group" if name == group else "groups")
    users = host.get_fact(Users)
    existing = users.get(user)
    touched = (Users, Groups, GroupIds, Home)

    if not present:
        if existing is not None:
            yield StringCommand("userdel", QuoteString(user))
            remaining = {k: v for k, v in users.items() if k != user}
            yield FactChange(facts=touched, expect=((Users, {}, remaining),))
        return

    commands: list[StringCommand] = []
    if existing is None:
        commands.append(
            _useradd(user, home, shell, group, groups, create_home, system, uid, comment, unique)
        )
    else:
        flags = _usermod_flags(existing, home, shell, group, groups, append, uid, comment, unique)
        if flags:
            commands.append(StringCommand("usermod", *flags, QuoteString(user)))
    home_dir = home or (existing or {}).get("home") or f"/home/{user}"
    if password is not None and (existing is None or existing.get("password") != password):
        line = MaskString(f"{user}:{password}\n")
        commands.append(StringCommand("chpasswd", "-e", _stdin=line))
    if commands:
        yield from commands
        predicted = _predicted_user(
            user, existing, home_dir, shell, group, groups, append, uid, comment
        )
        yield FactChange(facts=touched, expect=((Users, {}, {**users, user: predicted}),))

    if ensure_home or create_home:
        yield from _ensure_home(user, home_dir, group, existing is None and create_home)
    if public_keys is not None:
        keys = [public_keys] if isinstance(public_keys, str) else list(public_keys)
        yield from _authorized_keys(user, home_dir, group, keys, delete_keys)


def _owner(user: str) -> StringCommand:
    """``'user':"$(id -gn 'user')"``: the user and its primary group, for chown."""
    return StringCommand(QuoteString(user), ':"$(id -gn ', QuoteString(user), ')"', _separator="")


def _ensure_home(user: str, home: str, group: str | None, created: bool) -> Commands:
    info = host.get_fact(Directory, path=home)
    if info is None and not created:
        yield StringCommand("mkdir", "-p", "--", QuoteString(home))
        owner = StringCommand(QuoteString(f"{user}:{group}")) if group else _owner(user)
        yield StringCommand("chown", owner, "--", QuoteString(home))
        yield FactChange(
            paths=(home,),
            expect=((Directory, {"path": home}, expected_stat(None, user, group, "755")),),
        )
    elif isinstance(info, dict):
        commands = ownership_commands(home, info, user, group, None)
        yield from commands
        if commands:
            yield FactChange(paths=(home,))


def _authorized_keys(
    user: str, home: str, group: str | None, keys: list[str], delete_keys: bool
) -> Commands:
    ssh_dir = f"{home.rstrip('/')}/.ssh"
    path = f"{ssh_dir}/authorized_keys"
    dir_info = host.get_fact(Directory, path=ssh_dir)
    if dir_info is None:
        yield StringCommand("mkdir", "-p", "--", QuoteString(ssh_dir))
        yield FactChange(paths=(ssh_dir,))
    dir_commands = ownership_commands(ssh_dir, dir_info, user, group, "700")
    if dir_info is None:
        dir_commands = [
            StringCommand("chmod", "700", "--", QuoteString(ssh_dir)),
            StringCommand(
                "chown",
                _owner(user) if not group else QuoteString(f"{user}:{group}"),
                "--",
                QuoteString(ssh_dir),
            ),
        ]
    yield from dir_commands
    current = host.get_fact(FileBytes, path=path) if dir_info is not None else None
    lines = (current or b"").decode("utf-8", "replace").splitlines()
    wanted = [k.strip() for k in keys if k.strip()]
    if delete_keys:
        new_lines = wanted
    else:
        new_lines = lines + [k for k in wanted if k not in lines]
    new = ("\n".join(new_lines) + "\n").encode() if new_lines else b""
    if current != new:
        yield FileUploadCommand(io.BytesIO(new), path)
    file_info = host.get_fact(File, path=path) if current is not None else None
    if file_info is None:
        owner = _owner(user) if not group else QuoteString(f"{user}:{group}")
        commands = [
            StringCommand("chmod", "600", "--", QuoteString(path)),
            StringCommand("chown", owner, "--", QuoteString(path)),
        ]
    else:
        commands = ownership_commands(path, file_info, user, group, "600")
    yield from commands
    if dir_commands or current != new or commands:
        yield FactChange(paths=(ssh_dir,), recursive=True)


# --- packages (issue 10) ---


@operation()
def packages(packages: str | list[str], present: bool = True) -> Commands:
    """Add or remove system packages with the host's package manager: the first present
    of apk, apt, brew, dnf, pacman, pkg, xbps, yum and zypper (one read finds it)."""
    import importlib

    from pyinfra.facts.server import SystemPackageManagers

    found = host.get_fact(SystemPackageManagers)
    if not found:
        raise fail(
            "server.packages",
            "No system package manager found (no apk, apt, brew, dnf, pacman, pkg, xbps, "
            f"yum or zypper found on {host.name})",
        )
    module = importlib.import_module(f"pyinfra.operations.{found[0]}")
    yield from module.packages._inner(packages=packages, present=present)
