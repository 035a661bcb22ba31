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


# --- packages (issue 10) ---
# (imports here keep this block apart from the rest of the module)
import re  # noqa: E402

from pyinfra.api.facts import ShortFactBase  # noqa: E402

_RELEASE_FILE_MARK = "--pyinfra-release-file--"
# os-release IDs whose distribution pyinfra names differently from NAME.
_DISTRIBUTION_IDS = {
    "ubuntu": "Ubuntu",
    "debian": "Debian",
    "centos": "CentOS",
    "fedora": "Fedora",
    "alpine": "Alpine",
    "gentoo": "Gentoo",
    "opensuse": "openSUSE",
    "opensuse-leap": "openSUSE",
    "rhel": "RedHat",
}
# Release files whose distribution name is not the text before the version.
_RELEASE_FILE_NAMES = {
    "centos-release": "CentOS",
    "redhat-release": "RedHat",
    "fedora-release": "Fedora",
    "gentoo-release": "Gentoo",
    "alpine-release": "Alpine",
}
_RELEASE_LINE = re.compile(r"^(?P<name>.+?)\s*(?:release\s*)?(?P<major>\d+)(?:\.(?P<minor>\d+))?")
_VERSION_ID = re.compile(r"^(?P<major>\d+)(?:\.(?P<minor>\d+))?")


def parse_env_file(lines: list[str]) -> dict[str, str]:
    """``KEY=value`` lines (os-release style): double quotes around values removed."""
    values: dict[str, str] = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _version_numbers(match: re.Match[str] | None) -> tuple[int | None, int | None]:
    if match is None:
        return None, None
    minor = match.group("minor")
    return int(match.group("major")), int(minor) if minor is not None else None


class LinuxDistribution(FactBase["dict[str, Any]"]):
    """The Linux distribution: ``{"name": "Debian", "major": 12, "minor": None,
    "release_meta": {...os-release values..., "CODENAME": ...}}``.

    ``major``/``minor`` come from the most precise source: a distribution release file
    (``/etc/redhat-release``: ``... release 7.9``) wins over ``VERSION_ID``.
    """

    stable = True

    @staticmethod
    def default() -> dict[str, Any]:
        return {"name": None, "major": None, "minor": None, "release_meta": {}}

    def command(self) -> str:
        return (
            "for f in /etc/*-release; do if [ -f \"$f\" ]; then "
            f'echo "{_RELEASE_FILE_MARK} $f"; cat "$f"; echo; fi; done'
        )

    def process(self, output: list[str]) -> dict[str, Any]:
        files: list[tuple[str, list[str]]] = []
        for line in output:
            if line.startswith(_RELEASE_FILE_MARK):
                files.append((line[len(_RELEASE_FILE_MARK) :].strip().rsplit("/", 1)[-1], []))
            elif files:
                files[-1][1].append(line)
        result = self.default()
        file_name: str | None = None
        file_version: tuple[int | None, int | None] | None = None
        for name, lines in files:
            if name == "os-release":
                meta = parse_env_file(lines)
                version = meta.get("VERSION", "")
                if "(" in version and ")" in version:
                    meta["CODENAME"] = version[version.index("(") + 1 : version.rindex(")")]
                result["release_meta"] = meta
                continue
            text = next((line.strip() for line in lines if line.strip()), "")
            match = _RELEASE_LINE.match(text)
            if match is None:
                continue
            file_name = _RELEASE_FILE_NAMES.get(name, match.group("name"))
            file_version = _version_numbers(match)
        meta = result["release_meta"]
        result["name"] = (
            _DISTRIBUTION_IDS.get(meta.get("ID", ""))
            or file_name
            or meta.get("NAME")
            or (None if not files else "")
        )
        if file_version is not None:
            result["major"], result["minor"] = file_version
        else:
            result["major"], result["minor"] = _version_numbers(
                _VERSION_ID.match(meta.get("VERSION_ID", ""))
            )
        return result


class LinuxName(ShortFactBase["str | None"]):
    """The Linux distribution's name (``LinuxDistribution``'s ``name``)."""

    fact = LinuxDistribution

    def process_data(self, data: Any) -> str | None:
        return data["name"]  # type: ignore[no-any-return]


_LSB_KEYS = {
    "Distributor ID": "id",
    "Description": "description",
    "Release": "release",
    "Codename": "codename",
}


class LsbRelease(FactBase["dict[str, str] | None"]):
    """``lsb_release -ca`` as ``{"id", "description", "release", "codename"}``."""

    requires_command = "lsb_release"
    stable = True

    def command(self) -> str:
        return "lsb_release -ca"

    def process(self, output: list[str]) -> dict[str, str] | None:
        info: dict[str, str] = {}
        for line in output:
            key, sep, value = line.partition(":")
            if sep and key.strip() in _LSB_KEYS:
                info[_LSB_KEYS[key.strip()]] = value.strip()
        return info


class OsRelease(FactBase["dict[str, str] | None"]):
    """``/etc/os-release`` with lower-case keys: ``{"id": "debian", "version_id": "12"...}``."""

    stable = True

    def command(self) -> str:
        return "cat /etc/os-release"

    def process(self, output: list[str]) -> dict[str, str] | None:
        return {key.lower(): value for key, value in parse_env_file(output).items()}


class MacosVersion(FactBase["str | None"]):
    """The macOS version (``sw_vers -productVersion``), ``None`` elsewhere."""

    requires_command = "sw_vers"
    stable = True

    def command(self) -> str:
        return "sw_vers -productVersion"

    def process(self, output: list[str]) -> str | None:
        return output[0].strip() if output else None


# Program names whose presence selects server.packages' manager, in pyinfra's order.
SYSTEM_PACKAGE_MANAGERS = (
    ("apk", ("apk",)),
    ("apt", ("apt-get",)),
    ("brew", ("brew",)),
    ("dnf", ("dnf",)),
    ("pacman", ("pacman",)),
    ("pkg", ("pkg", "pkg_add")),
    ("xbps", ("xbps-install",)),
    ("yum", ("yum",)),
    ("zypper", ("zypper",)),
)


class SystemPackageManagers(FactBase["list[str]"]):
    """The system package managers present, in the order ``server.packages`` prefers
    them: ``["apt"]`` (from ``apk apt brew dnf pacman pkg xbps yum zypper``). One read."""

    stable = True

    @staticmethod
    def default() -> list[str]:
        return []

    def command(self) -> str:
        checks = " ".join(
            f"command -v {program} >/dev/null 2>&1 && echo {name};"
            for name, programs in SYSTEM_PACKAGE_MANAGERS
            for program in programs
        )
        return checks + " true"

    def process(self, output: list[str]) -> list[str]:
        found = {line.strip() for line in output}
        return [name for name, _ in SYSTEM_PACKAGE_MANAGERS if name in found]
