"""Facts about the server itself: names, OS, users and groups."""

from __future__ import annotations

from typing import Any

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactBase


def _first_line(output: list[str]) -> str:
    return output[0].strip() if output else ""


class Hostname(FactBase[str]):
    """The host's name (``uname -n``)."""

    def command(self) -> str:
        return "uname -n"

    def process(self, output: list[str]) -> str:
        return _first_line(output)


class Os(FactBase[str]):
    """The operating system name (``uname -s``), e.g. ``Linux``."""

    stable = True

    def command(self) -> str:
        return "uname -s"

    def process(self, output: list[str]) -> str:
        return _first_line(output)


class OsVersion(FactBase[str]):
    """The operating system (kernel) release (``uname -r``)."""

    stable = True

    def command(self) -> str:
        return "uname -r"

    def process(self, output: list[str]) -> str:
        return _first_line(output)


class Kernel(FactBase[str]):
    """The kernel name (``uname -s``), e.g. ``Linux``."""

    stable = True

    def command(self) -> str:
        return "uname -s"

    def process(self, output: list[str]) -> str:
        return _first_line(output)


class KernelVersion(FactBase[str]):
    """The kernel release (``uname -r``)."""

    stable = True

    def command(self) -> str:
        return "uname -r"

    def process(self, output: list[str]) -> str:
        return _first_line(output)


class Arch(FactBase[str]):
    """The machine architecture (``uname -m``), e.g. ``x86_64``."""

    stable = True

    def command(self) -> str:
        return "uname -m"

    def process(self, output: list[str]) -> str:
        return _first_line(output)


class Command(FactBase[str]):
    """The standard output of any shell command (lines joined with newlines)."""

    def command(self, command: str) -> str:
        return command

    def process(self, output: list[str]) -> str:
        return "\n".join(output)


class Which(FactBase["str | None"]):
    """Path of an executable found on the ``PATH``, or ``None``."""

    def command(self, command: str) -> StringCommand:
        return StringCommand("command", "-v", QuoteString(command), "||", "true")

    def process(self, output: list[str]) -> str | None:
        return _first_line(output) or None


class Home(FactBase["str | None"]):
    """Home directory of ``user`` (default: the user commands run as), or ``None``."""

    def command(self, user: str = "") -> StringCommand:
        if user:
            return StringCommand(
                "getent", "passwd", QuoteString(user), "|", "cut", "-d:", "-f6", "||", "true"
            )
        return StringCommand("echo", "$HOME")

    def process(self, output: list[str]) -> str | None:
        return _first_line(output) or None


class User(FactBase[str]):
    """Name of the user commands run as."""

    stable = True

    def command(self) -> str:
        return "id -un"

    def process(self, output: list[str]) -> str:
        return _first_line(output)


_GROUP_MARK = "--pyinfra-group--"
_SHADOW_MARK = "--pyinfra-shadow--"


def _parse_groups(lines: list[str]) -> list[tuple[str, int, list[str]]]:
    groups = []
    for line in lines:
        parts = line.split(":")
        if len(parts) < 3 or not parts[2].lstrip("-").isdigit():
            continue
        members = [m for m in (parts[3].split(",") if len(parts) > 3 else []) if m]
        groups.append((parts[0], int(parts[2]), members))
    return groups


class Users(FactBase["dict[str, dict[str, Any]]"]):
    """Local users: ``{name: {home, comment, shell, group, groups, uid, gid, password...}}``.

    ``password`` is the hash from ``/etc/shadow`` when it is readable, else ``None``.
    """

    @staticmethod
    def default() -> dict[str, dict[str, Any]]:
        return {}

    def command(self) -> str:
        return (
            f"cat /etc/passwd; echo {_GROUP_MARK}; cat /etc/group; "
            f"echo {_SHADOW_MARK}; cat /etc/shadow 2>/dev/null || true"
        )

    def process(self, output: list[str]) -> dict[str, dict[str, Any]]:
        passwd: list[str] = []
        group_lines: list[str] = []
        shadow: list[str] = []
        current = passwd
        for line in output:
            if line == _GROUP_MARK:
                current = group_lines
            elif line == _SHADOW_MARK:
                current = shadow
            else:
                current.append(line)
        groups = _parse_groups(group_lines)
        gid_names = {gid: name for name, gid, _ in groups}
        passwords = {}
        for line in shadow:
            parts = line.split(":")
            if len(parts) > 1:
                passwords[parts[0]] = parts[1]
        users: dict[str, dict[str, Any]] = {}
        for line in passwd:
            parts = line.split(":")
            if len(parts) < 7 or not parts[2].isdigit() or not parts[3].isdigit():
                continue
            name, uid, gid = parts[0], int(parts[2]), int(parts[3])
            users[name] = {
                "home": parts[5],
                "comment": parts[4],
                "shell": parts[6],
                "group": gid_names.get(gid),
                "groups": [g for g, _, members in groups if name in members],
                "uid": uid,
                "gid": gid,
                "lastlog": None,
                "login_time": None,
                "password": passwords.get(name),
            }
        return users


class Groups(FactBase["list[str]"]):
    """Names of the local groups (``/etc/group``)."""

    @staticmethod
    def default() -> list[str]:
        return []

    def command(self) -> str:
        return "cat /etc/group"

    def process(self, output: list[str]) -> list[str]:
        return [name for name, _, _ in _parse_groups(output)]


class GroupIds(FactBase["dict[str, int]"]):
    """Local groups and their ids: ``{name: gid}``."""

    @staticmethod
    def default() -> dict[str, int]:
        return {}

    def command(self) -> str:
        return "cat /etc/group"

    def process(self, output: list[str]) -> dict[str, int]:
        return {name: gid for name, gid, _ in _parse_groups(output)}
