"""Facts about the server itself: names, kernel, users and groups, mounts, processes,
ports, sysctl, locales, limits, login records.

Value shapes follow pyinfra 3.x. Commands are POSIX shell and work with GNU, BusyBox
and BSD userlands; where the tool differs per kernel (mounts, ports, uptime...) one
command picks the right tool on the target and tags its output with a ``#fmt``
line, so the fact costs a single round trip.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.exceptions import FactError
from pyinfra.api.facts import FactBase, ShortFactBase
from pyinfra.facts.crontab import Crontab, CrontabDict  # noqa: F401 - 3.x re-exports
from pyinfra.facts.parsing import first_line, try_int

ISO_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
_FMT = "#fmt "
# User names that may follow ``~`` unquoted (tilde expansion needs a bare word).
_TILDE_USER = re.compile(r"^[a-zA-Z0-9._][a-zA-Z0-9._-]*$")


def _tagged(output: list[str]) -> tuple[str, list[str]]:
    """Split the ``#fmt NAME`` line a multi-tool command prints first."""
    if output and output[0].startswith(_FMT):
        return output[0][len(_FMT) :].strip(), output[1:]
    return "", output


def _tilde(user: str) -> str:
    if user and not _TILDE_USER.match(user):
        raise FactError(f"not a valid user name for ~user expansion: {user!r}")
    return f"~{user}"


# Names, kernel, environment ---------------------------------------------------------


class User(FactBase[str]):
    """Name of the user commands run as (``id -un``; works where ``$USER`` is unset,
    e.g. ``docker exec``)."""

    stable = True

    def command(self) -> str:
        return "id -un"

    def process(self, output: list[str]) -> str:
        return first_line(output)


class Home(FactBase["str | None"]):
    """Home directory of ``user`` (default: the user commands run as), or ``None`` when
    the user does not exist."""

    def command(self, user: str = "") -> StringCommand:
        return StringCommand("echo", _tilde(user))

    def process(self, output: list[str]) -> str | None:
        home = first_line(output)
        return None if not home or home.startswith("~") else home


class Path(FactBase[str]):
    """The ``PATH`` of the user commands run as."""

    def command(self) -> str:
        return "echo $PATH"

    def process(self, output: list[str]) -> str:
        return first_line(output)


class TmpDir(FactBase[str]):
    """The temporary directory: the first of ``$TMPDIR``, ``$TMP``, ``$TEMP`` that is a
    writable directory, else ``""``."""

    def command(self) -> str:
        return (
            'for d in "$TMPDIR" "$TMP" "$TEMP"; do '
            'if [ -n "$d" ] && [ -d "$d" ] && [ -w "$d" ]; then echo "$d"; exit 0; fi; '
            "done; echo"
        )

    def process(self, output: list[str]) -> str:
        return first_line(output)


class Hostname(FactBase[str]):
    """The host's name (``uname -n``)."""

    def command(self) -> str:
        return "uname -n"

    def process(self, output: list[str]) -> str:
        return first_line(output)


class Kernel(FactBase[str]):
    """The kernel name (``uname -s``), e.g. ``Linux``, ``FreeBSD``, ``Darwin``."""

    stable = True

    def command(self) -> str:
        return "uname -s"

    def process(self, output: list[str]) -> str:
        return first_line(output)


class KernelVersion(FactBase[str]):
    """The kernel release (``uname -r``)."""

    stable = True

    def command(self) -> str:
        return "uname -r"

    def process(self, output: list[str]) -> str:
        return first_line(output)


class Os(Kernel):
    """The kernel name (``uname -s``); the older name of :class:`Kernel`."""


class OsVersion(KernelVersion):
    """The kernel release (``uname -r``); the older name of :class:`KernelVersion`."""


class Arch(FactBase[str]):
    """The machine architecture (``uname -m``), e.g. ``x86_64``."""

    stable = True

    def command(self) -> str:
        return "uname -m"

    def process(self, output: list[str]) -> str:
        return first_line(output)


class Command(FactBase[str]):
    """The standard output of any shell command (lines joined with newlines)."""

    def command(self, command: str) -> str:
        return command

    def process(self, output: list[str]) -> str:
        return "\n".join(output)


class Which(FactBase["str | None"]):
    """Path of an executable found on the ``PATH`` (``command -v``), or ``None``."""

    def command(self, command: str) -> StringCommand:
        return StringCommand("command", "-v", QuoteString(command), "||", "true")

    def process(self, output: list[str]) -> str | None:
        return first_line(output) or None


class Date(FactBase[datetime]):
    """The current date and time on the host, with its UTC offset."""

    @staticmethod
    def default() -> datetime:
        return datetime.now()

    def command(self) -> str:
        return f"date +'{ISO_DATE_FORMAT}'"

    def process(self, output: list[str]) -> datetime:
        return datetime.strptime(first_line(output), ISO_DATE_FORMAT)


class Uptime(FactBase[int]):
    """Seconds since the host booted (``/proc/uptime``, else ``kern.boottime``)."""

    def command(self) -> str:
        return (
            "if [ -r /proc/uptime ]; then cut -d. -f1 /proc/uptime; "
            "else echo $(( $(date +%s) - "
            "$(sysctl -n kern.boottime | sed 's/^[^0-9]*\\([0-9]*\\).*/\\1/') )); fi"
        )

    def process(self, output: list[str]) -> int:
        return int(first_line(output))


class Timezone(FactBase[str]):
    """The system time zone, e.g. ``Europe/Amsterdam`` (from ``/etc/localtime``)."""

    def command(self) -> str:
        return (
            "if [ -e /etc/localtime ]; then readlink -f /etc/localtime | sed 's|.*/zoneinfo/||'; "
            "elif [ -r /etc/timezone ]; then cat /etc/timezone; fi"
        )

    def process(self, output: list[str]) -> str:
        return output[0].strip()


class LoadAverage(FactBase["dict[str, float]"]):
    """Load averages ``{"1": ..., "5": ..., "15": ...}`` (``/proc/loadavg`` or ``uptime``)."""

    @staticmethod
    def default() -> dict[str, float]:
        return {}

    def command(self) -> str:
        return "cat /proc/loadavg 2>/dev/null || uptime"

    def process(self, output: list[str]) -> dict[str, float]:
        pattern = re.compile(r"load averages?:\s*([0-9.]+)[,\s]+([0-9.]+)[,\s]+([0-9.]+)")
        for line in output:
            tokens = line.split()
            if len(tokens) >= 3:
                try:
                    return {"1": float(tokens[0]), "5": float(tokens[1]), "15": float(tokens[2])}
                except ValueError:
                    pass
            match = pattern.search(line)
            if match:
                return {k: float(v) for k, v in zip(("1", "5", "15"), match.groups(), strict=True)}
        return {}


class RebootRequired(FactBase[bool]):
    """Whether the host waits for a reboot: ``/var/run/reboot-required(.pkgs)`` on Linux,
    a newer installed kernel on Alpine, ``freebsd-version -k`` vs ``-r`` on FreeBSD."""

    def command(self) -> str:
        return (
            'case "$(uname -s)" in '
            "Linux) if [ -f /etc/alpine-release ]; then "
            '[ "$(uname -r)" != "$(ls -1 /lib/modules | sort -V | tail -n 1)" ] && '
            "echo reboot_required; "
            "elif [ -f /var/run/reboot-required ] || [ -f /var/run/reboot-required.pkgs ]; "
            "then echo reboot_required; fi;; "
            'FreeBSD) [ "$(freebsd-version -r)" != "$(freebsd-version -k)" ] && '
            "echo reboot_required;; "
            "esac; echo no_reboot_required"
        )

    def process(self, output: list[str]) -> bool:
        return first_line(output) == "reboot_required"


# Mounts, modules, sysctl ------------------------------------------------------------


def _unescape_octal(text: str) -> str:
    """``\\040`` -> space: how the kernel escapes paths in ``/proc/self/mountinfo``."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


_OPENBSD_MOUNT = re.compile(r"(\S+) (?:\(.*\) )?on (/.*) type (\w+) \((.+)\)")


class Mounts(FactBase["dict[str, dict[str, Any]]"]):
    """Mounted filesystems: ``{path: {"device", "type", "options": [...]}}``.

    Linux: ``/proc/self/mountinfo`` (mount options then superblock options, without a
    second ``rw``/``ro``); FreeBSD: ``mount -p --libxo json``; OpenBSD: ``mount -v``.
    """

    @staticmethod
    def default() -> dict[str, dict[str, Any]]:
        return {}

    def command(self) -> str:
        return (
            'case "$(uname -s)" in '
            "FreeBSD) echo '#fmt freebsd'; mount -p --libxo json;; "
            "OpenBSD) echo '#fmt openbsd'; mount -v;; "
            "*) cat /proc/self/mountinfo;; esac"
        )

    def process(self, output: list[str]) -> dict[str, dict[str, Any]]:
        kind, lines = _tagged(output)
        mounts: dict[str, dict[str, Any]] = {}
        if kind == "freebsd":
            for entry in json.loads("\n".join(lines))["mount"]["fstab"]:
                mounts[entry["mntpoint"]] = {
                    "device": entry["device"],
                    "type": entry["fstype"],
                    "options": [o.strip() for o in entry["opts"].split(",")],
                }
            return mounts
        if kind == "openbsd":
            for line in lines:
                match = _OPENBSD_MOUNT.fullmatch(line)
                if match:
                    options = [o.strip() for o in match[4].split(",") if "ctime=" not in o]
                    mounts[match[2]] = {"device": match[1], "type": match[3], "options": options}
            return mounts
        for line in lines:
            fields = line.split(" ")
            if "-" not in fields[6:]:
                continue
            separator = fields.index("-", 6)
            mount_point, mount_options = fields[4], fields[5]
            fs_type, source = fields[separator + 1], fields[separator + 2]
            super_options = fields[separator + 3] if len(fields) > separator + 3 else ""
            mounts[_unescape_octal(mount_point)] = {
                "device": _unescape_octal(source),
                "type": fs_type,
                "options": mount_options.split(",")
                + [_unescape_octal(o) for o in super_options.split(",") if o not in ("ro", "rw")],
            }
        return mounts


class KernelModules(FactBase["dict[str, dict[str, Any]]"]):
    """Loaded kernel modules: ``{name: {"size", "instances", "state", "depends"?}}``
    (``/proc/modules``); FreeBSD: ``{name: {"id", "refs", "address", "size"}}``."""

    @staticmethod
    def default() -> dict[str, dict[str, Any]]:
        return {}

    def command(self) -> str:
        return (
            "if [ \"$(uname -s)\" = FreeBSD ]; then echo '#fmt kldstat'; "
            "kldstat | tail -n +2; "
            "elif [ -f /proc/modules ]; then cat /proc/modules; fi"
        )

    def process(self, output: list[str]) -> dict[str, dict[str, Any]]:
        kind, lines = _tagged(output)
        modules: dict[str, dict[str, Any]] = {}
        for line in lines:
            if kind == "kldstat":
                ident, refs, address, size, name = line.split(None, 4)
                modules[name] = {"address": address, "id": ident, "refs": refs, "size": size}
                continue
            name, size, instances, depends, state = line.split(" ", 5)[:5]
            module: dict[str, Any] = {"size": size, "instances": int(instances), "state": state}
            if depends != "-":
                module["depends"] = [d for d in depends.split(",") if d]
            modules[name] = module
        return modules


_PLAIN_SYSCTL_VALUE = re.compile(r"^[a-zA-Z0-9_\-.\s]+$")


class Sysctl(FactBase["dict[str, Any]"]):
    """Kernel parameters: ``{key: value}``; numbers become ``int``, whitespace-separated
    values a list (``"fs.inode-state": [44565, 360, ...]``). ``keys`` limits the read
    to those keys (unknown keys are simply absent)."""

    @staticmethod
    def default() -> dict[str, Any]:
        return {}

    def command(self, keys: list[str] | None = None) -> StringCommand:
        if keys is None:
            return StringCommand("sysctl -a 2>/dev/null || true")
        return StringCommand("sysctl", *[QuoteString(k) for k in keys], "2>/dev/null || true")

    def process(self, output: list[str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for line in output:
            if "=" in line:
                key, raw = line.split("=", 1)
            elif ":" in line:
                key, raw = line.split(":", 1)
            else:
                continue
            key, raw = key.strip(), raw.strip()
            if not key:
                continue
            value: Any = raw  # "" for keys without a value (kernel.panic_sys_info = )
            if _PLAIN_SYSCTL_VALUE.match(raw):
                items = [try_int(item) for item in raw.split()]
                value = items[0] if len(items) == 1 else items
            values[key] = value
        return values


# Users and groups -------------------------------------------------------------------


_GROUP_MARK = "#fmt group"
_SHADOW_MARK = "#fmt shadow"
_LASTLOG_MARK = "#fmt lastlog"
_LOGIN_TIME = re.compile(r"[A-Z][a-z]{2} [A-Z][a-z]{2} {1,2}\d+ .+$")
_LOGIN_FORMATS = ("%a %b %d %H:%M:%S %z %Y", "%a %b %d %H:%M:%S %Y", "%a %b %d %H:%M %Y")


def parse_group_file(lines: list[str]) -> list[tuple[str, str, list[str]]]:
    """``/etc/group`` lines -> ``[(name, gid text, members)]`` (file order)."""
    groups = []
    for line in lines:
        if ":" not in line:
            continue
        parts = line.split(":")
        gid = parts[2] if len(parts) > 2 else ""
        members = [m for m in (parts[3].split(",") if len(parts) > 3 else []) if m]
        groups.append((parts[0], gid, members))
    return groups


def _login_time(text: str) -> datetime | None:
    for fmt in _LOGIN_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def _sections(output: list[str], marks: list[str]) -> list[list[str]]:
    sections: list[list[str]] = [[] for _ in range(len(marks) + 1)]
    current = 0
    for line in output:
        if line in marks:
            current = marks.index(line) + 1
        else:
            sections[current].append(line)
    return sections


class Users(FactBase["dict[str, dict[str, Any]]"]):
    """Local users: ``{name: {"home", "comment", "shell", "group", "groups", "uid",
    "gid", "lastlog", "login_time", "password"}}``.

    Empty ``home``/``comment``/``shell`` fields are ``None``; ``groups`` lists the
    secondary groups; ``lastlog`` is the raw last-login time from ``lastlog`` and
    ``login_time`` its ``datetime`` (``None`` if never logged in); ``password`` is the
    hash from ``/etc/shadow`` (``""`` when it cannot be read). One command reads the
    files once instead of running ``id``/``lastlog`` for every user.
    """

    @staticmethod
    def default() -> dict[str, dict[str, Any]]:
        return {}

    def command(self) -> str:
        return (
            f"cat /etc/passwd; echo '{_GROUP_MARK}'; cat /etc/group; "
            f"echo '{_SHADOW_MARK}'; (cat /etc/shadow || cat /etc/master.passwd) 2>/dev/null; "
            f"echo '{_LASTLOG_MARK}'; (lastlog || lastlogin) 2>/dev/null | tr -s ' '; true"
        )

    def process(self, output: list[str]) -> dict[str, dict[str, Any]]:
        marks = [_GROUP_MARK, _SHADOW_MARK, _LASTLOG_MARK]
        passwd, group_lines, shadow, lastlog = _sections(output, marks)
        groups = parse_group_file(group_lines)
        gid_names: dict[str, str] = {}
        for name, gid, _ in groups:
            gid_names.setdefault(gid, name)
        passwords: dict[str, str] = {}
        for line in shadow:
            parts = line.split(":")
            if len(parts) > 1:
                passwords.setdefault(parts[0], parts[1])
        logins: dict[str, str] = {}
        for line in lastlog:
            name = line.split(" ", 1)[0]
            match = _LOGIN_TIME.search(line)
            if name and match and name not in logins:
                logins[name] = match.group()
        users: dict[str, dict[str, Any]] = {}
        for line in passwd:
            parts = line.split(":")
            if len(parts) < 7 or not parts[0]:
                continue
            name = parts[0]
            primary = gid_names.get(parts[3], parts[3])
            secondary: list[str] = []
            for group_name, _, members in groups:
                if name in members and group_name != primary and group_name not in secondary:
                    secondary.append(group_name)
            raw_login = logins.get(name)
            users[name] = {
                "home": parts[5] or None,
                "comment": parts[4] or None,
                "shell": parts[6] or None,
                "group": primary,
                "groups": secondary,
                "uid": int(parts[2]),
                "gid": int(parts[3]),
                "lastlog": raw_login,
                "login_time": _login_time(raw_login) if raw_login else None,
                "password": passwords.get(name, ""),
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
        return [name for name, _, _ in parse_group_file(output)]


class AuthorizedKeys(FactBase["list[str]"]):
    """The keys in a user's ``~/.ssh/authorized_keys`` (or the file ``path``), in file
    order, without blank lines and comments."""

    @staticmethod
    def default() -> list[str]:
        return []

    def command(self, user: str, path: str | None = None) -> StringCommand:
        target: Any = (
            QuoteString(path) if path is not None else f"{_tilde(user)}/.ssh/authorized_keys"
        )
        return StringCommand("cat", target, "2>/dev/null || true")

    def process(self, output: list[str]) -> list[str]:
        keys = [line.strip() for line in output]
        return [key for key in keys if key and not key.startswith("#")]


# Processes and ports ----------------------------------------------------------------

_PS_FIELDS = "pid,user,stat,%cpu,%mem,comm,args"
_BUSYBOX_PS_FIELDS = "pid,user,vsz,stat,args"


class Processes(FactBase["dict[int, dict[str, Any]]"]):
    """Running processes: ``{pid: {"user", "state", "cpu_percent", "mem_percent",
    "command", "args"}}`` (``pid``: only that process). BusyBox ``ps`` has no CPU/memory
    columns: those are ``0.0`` there."""

    @staticmethod
    def default() -> dict[int, dict[str, Any]]:
        return {}

    def command(self, pid: int | None = None) -> StringCommand:
        if pid is not None and not str(pid).isdigit():
            raise FactError(f"server.Processes: pid must be a number, got {pid!r}")
        busybox_filter = f"| awk 'NR==1 || $1=={pid}'" if pid is not None else ""
        # Every process: -e on Linux, -ax on BSD/macOS (where -e adds the environment).
        selection = f"-p {pid}" if pid is not None else '"$all"'
        return StringCommand(
            'case "$(ps --help 2>&1 | head -n 1)" in '
            f"*BusyBox*) echo '#fmt busybox'; LANG=C ps -o {_BUSYBOX_PS_FIELDS} {busybox_filter};; "
            '*) all=-ax; [ "$(uname -s)" = Linux ] && all=-e; '
            f"LANG=C ps {selection} -o {_PS_FIELDS};; esac"
        )

    def process(self, output: list[str]) -> dict[int, dict[str, Any]]:
        kind, lines = _tagged(output)
        processes: dict[int, dict[str, Any]] = {}
        for line in lines:
            parts = line.split(None, 4 if kind == "busybox" else 6)
            if not parts or not parts[0].isdigit():
                continue
            if kind == "busybox":
                if len(parts) < 5:
                    continue
                args = parts[4]
                processes[int(parts[0])] = {
                    "user": parts[1],
                    "state": parts[3],
                    "cpu_percent": 0.0,
                    "mem_percent": 0.0,
                    "command": args.split()[0].rsplit("/", 1)[-1] if args else "",
                    "args": args,
                }
                continue
            if len(parts) < 6:
                continue
            processes[int(parts[0])] = {
                "user": parts[1],
                "state": parts[2],
                "cpu_percent": float(parts[3]),
                "mem_percent": float(parts[4]),
                "command": parts[5],
                "args": parts[6] if len(parts) > 6 else parts[5],
            }
        return processes


def _split_address(address: str) -> tuple[str, int] | None:
    """``0.0.0.0:22``, ``[::]:22``, ``*:53``, ``127.0.0.53%lo:53`` -> ``(ip, port)``."""
    if ":" not in address:
        return None
    ip, _, port = address.rpartition(":")
    if ip.startswith("["):
        ip = ip[1 : ip.index("]")] if "]" in ip else ip[1:]
    ip = ip.split("%", 1)[0]
    try:
        return ip, int(port)
    except ValueError:
        return None


def _ss_process(line: str) -> tuple[str, int] | None:
    if '"' not in line or "pid=" not in line:
        return None
    return line.split('"')[1], int(line.split("pid=")[1].split(",")[0])


def _port_command(listing: str, ss: str, netstat: str) -> str:
    return (
        f"if [ \"$(uname -s)\" = FreeBSD ]; then echo '#fmt sockstat'; {listing}; "
        f"elif command -v ss >/dev/null 2>&1; then echo '#fmt ss'; {ss}; "
        f"else echo '#fmt netstat'; {netstat}; fi"
    )


class Port(FactBase["tuple[str, int] | tuple[None, None] | None"]):
    """The process listening on ``port`` (``protocol`` ``tcp`` or ``udp``):
    ``(name, pid)``, ``(None, None)`` when a listener is there but its process cannot
    be seen (another user's), ``None`` when nothing listens. ``ss``, else ``netstat``;
    ``sockstat`` on FreeBSD."""

    def command(self, port: int, protocol: str = "tcp") -> str:
        if not str(port).isdigit():
            raise FactError(f"server.Port: port must be a number, got {port!r}")
        if protocol not in ("tcp", "udp"):
            raise FactError(f"server.Port: protocol must be tcp or udp, got {protocol!r}")
        flag = protocol[0]
        return _port_command(
            f"sockstat -l -p {port} -P {protocol} | tail -n +2",
            f"ss -lp{flag}n | grep ':{port} ' || true",
            f"netstat -{flag}lnp 2>/dev/null | awk '$4 ~ /:{port}$/'",
        )

    def process(self, output: list[str]) -> tuple[str, int] | tuple[None, None] | None:
        kind, lines = _tagged(output)
        lines = [line.strip() for line in lines if line.strip()]
        if not lines:
            return None
        for line in lines:
            if kind == "ss":
                found = _ss_process(line)
                if found:
                    return found
            elif kind == "netstat":
                for part in line.split():
                    if "/" in part:
                        pid, name = part.split("/", 1)
                        if pid.isdigit():
                            return name, int(pid)
                        break
            elif kind == "sockstat":
                parts = line.split()
                if len(parts) >= 3 and parts[2].isdigit():
                    return parts[1], int(parts[2])
        return None, None


class Ports(FactBase["list[dict[str, Any]]"]):
    """Listening sockets with their process: ``[{"port", "ip", "protocol", "process"}]``
    (sockets whose process cannot be seen are left out)."""

    @staticmethod
    def default() -> list[dict[str, Any]]:
        return []

    def command(self) -> str:
        return _port_command(
            "sockstat -l | tail -n +2", "ss -lpuntn || true", "netstat -tulnp 2>/dev/null || true"
        )

    def process(self, output: list[str]) -> list[dict[str, Any]]:
        kind, lines = _tagged(output)
        ports: list[dict[str, Any]] = []
        for line in lines:
            parts = line.split()
            entry: tuple[str, str, int] | None = None  # (protocol, ip, port) + process
            process_name = ""
            if kind == "ss":
                found = _ss_process(line)
                if not found or len(parts) < 5:
                    continue
                process_name = found[0]
                protocol = "udp" if parts[0] == "udp" or parts[1] == "UNCONN" else "tcp"
                address = _split_address(parts[4])
                entry = (protocol, *address) if address else None
            elif kind == "netstat":
                owner = next((p for p in parts if "/" in p), "")
                pid, _, process_name = owner.partition("/")
                if not pid.isdigit() or len(parts) < 4:
                    continue
                address = _split_address(parts[3])
                protocol = "tcp" if parts[0].startswith("tcp") else "udp"
                entry = (protocol, *address) if address else None
            elif kind == "sockstat" and len(parts) >= 6:
                process_name, local = parts[1], parts[5]
                if local.startswith("*.") and local[2:].isdigit():
                    entry = (parts[4], "*", int(local[2:]))
                else:
                    address = _split_address(local)
                    entry = (parts[4], *address) if address else None
            if entry is not None:
                protocol, ip, port = entry
                ports.append(
                    {"port": port, "ip": ip, "protocol": protocol, "process": process_name}
                )
        return ports


# Configuration files ----------------------------------------------------------------


class Locales(FactBase["list[str]"]):
    """Locales available on the host (``locale -a``), spelled as in ``/etc/locale.gen``
    (``en_US.UTF-8``, not ``en_US.utf8``)."""

    requires_command = "locale"

    @staticmethod
    def default() -> list[str]:
        return []

    def command(self) -> str:
        return "locale -a"

    def process(self, output: list[str]) -> list[str]:
        return [line.replace("utf8", "UTF-8") for line in output]


class SecurityLimits(FactBase["list[dict[str, str]]"]):
    """Entries of ``/etc/security/limits.conf``: ``[{"domain", "limit_type", "item",
    "value"}]``."""

    @staticmethod
    def default() -> list[dict[str, str]]:
        return []

    def command(self) -> str:
        return "! test -e /etc/security/limits.conf || cat /etc/security/limits.conf"

    def process(self, output: list[str]) -> list[dict[str, str]]:
        limits = []
        for line in output:
            fields = line.split("#", 1)[0].split()
            if len(fields) == 4:
                domain, limit_type, item, value = fields
                limits.append(
                    {"domain": domain, "limit_type": limit_type, "item": item, "value": value}
                )
        return limits


class EtcHosts(FactBase["dict[str, list[str]]"]):
    """``/etc/hosts`` (or ``path``) as ``{ip: [hostnames...]}``; names of repeated IPs
    are merged in file order."""

    @staticmethod
    def default() -> dict[str, list[str]]:
        return {}

    def command(self, path: str = "/etc/hosts") -> StringCommand:
        return StringCommand("cat", QuoteString(path), "2>/dev/null || true")

    def process(self, output: list[str]) -> dict[str, list[str]]:
        entries: dict[str, list[str]] = {}
        for line in output:
            fields = line.split("#", 1)[0].split()
            if len(fields) < 2:
                continue
            names = entries.setdefault(fields[0], [])
            names.extend(n for n in fields[1:] if n not in names)
        return entries


class Selinux(FactBase["dict[str, str | None]"]):
    """SELinux status: ``{"mode": "enabled" | "disabled" | None}`` (``sestatus``)."""

    requires_command = "sestatus"

    @staticmethod
    def default() -> dict[str, str | None]:
        return {"mode": None}

    def command(self) -> str:
        return "sestatus"

    def process(self, output: list[str]) -> dict[str, str | None]:
        match = re.match(r"^SELinux status:\s+(\S+)", output[0]) if output else None
        return {"mode": match.group(1) if match else None}


_GUI_SESSIONS = {
    "/usr/bin/gnome-session": "GNOME",
    "/usr/bin/mate-session": "MATE",
    "/usr/bin/lxsession": "LXDE",
    "/usr/bin/plasma_session": "KDE Plasma",
    "/usr/bin/xfce4-session": "XFCE 4",
}


class LinuxGui(FactBase["list[str]"]):
    """Desktop environments installed (from their session programs in ``/usr/bin``)."""

    @staticmethod
    def default() -> list[str]:
        return []

    def command(self) -> str:
        return "ls /usr/bin/*session 2>/dev/null || true"

    def process(self, output: list[str]) -> list[str]:
        return [_GUI_SESSIONS[line] for line in output if line in _GUI_SESSIONS]


class HasGui(ShortFactBase[bool]):
    """Whether a desktop environment is installed (Linux)."""

    fact = LinuxGui

    def process_data(self, data: Any) -> bool:
        return len(data) > 0


# Login records ----------------------------------------------------------------------

_WEEKDAYS = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}


class Last(FactBase["list[dict[str, str]]"]):
    """Login records from ``last``: ``[{"user", "tty", "host", "time"}]``; ``time`` is
    the rest of the line as printed (``"Thu Apr 17 14:00   still logged in"``)."""

    requires_command = "last"

    @staticmethod
    def default() -> list[dict[str, str]]:
        return []

    def command(self) -> str:
        return "last -Fwi 2>/dev/null || last -w 2>/dev/null || last 2>/dev/null || true"

    def process(self, output: list[str]) -> list[dict[str, str]]:
        records = []
        for line in output:
            lower = line.lower()
            if lower.startswith(("wtmp begins", "btmp begins", "user ", "username ")):
                continue
            parts = line.split()
            if len(parts) < 3:
                continue
            if parts[:3] == ["reboot", "system", "boot"]:
                tty, rest = "system boot", parts[3:]
            else:
                tty, rest = parts[1], parts[2:]
            if not rest:
                continue
            host, when = ("", rest) if rest[0] in _WEEKDAYS else (rest[0], rest[1:])
            records.append({"user": parts[0], "tty": tty, "host": host, "time": " ".join(when)})
        return records


class Lastb(Last):
    """Failed login records from ``lastb`` (usually needs root), shaped like
    :class:`Last`."""

    requires_command = "lastb"

    def command(self) -> str:
        return "lastb -Fwi 2>/dev/null || lastb 2>/dev/null || true"


# Used by server operations --------------------------------------------------------


class BootMarker(FactBase[str]):
    """Changes when the host (or container) boots again: the kernel's boot id and the
    start time of PID 1 (a restarted container keeps the host's boot id), or
    ``kern.boottime`` on BSD/macOS."""

    def command(self) -> str:
        return (
            "cat /proc/sys/kernel/random/boot_id 2>/dev/null; "
            "sed 's/.*) //' /proc/1/stat 2>/dev/null | cut -d' ' -f20; "
            "sysctl -n kern.boottime 2>/dev/null; true"
        )

    def process(self, output: list[str]) -> str:
        return " ".join(line.strip() for line in output if line.strip())


_INIT_PROBES = (
    ("systemd", "[ -d /run/systemd/system ] && command -v systemctl"),
    ("openrc", "command -v rc-service"),
    ("upstart", "command -v initctl"),
    ("runit", "command -v sv"),
    (
        "bsdinit",
        "case $(uname -s) in FreeBSD|OpenBSD|NetBSD|DragonFly) [ -d /etc/rc.d ];; *) false;; esac",
    ),
    ("sysvinit", "command -v service || [ -d /etc/init.d ]"),
)


class InitSystem(FactBase["str | None"]):
    """The init system ``server.service`` drives, probed in pyinfra's order in one
    command: ``systemd`` (only when systemd is PID 1), ``openrc``, ``upstart``,
    ``runit``, ``bsdinit`` (BSD with ``/etc/rc.d``), ``sysvinit`` (``service`` or
    ``/etc/init.d``), or ``None``."""

    def command(self) -> str:
        return (
            "".join(
                f"if {{ {probe}; }} >/dev/null 2>&1; then echo {name}; exit 0; fi; "
                for name, probe in _INIT_PROBES
            )
            + "true"
        )

    def process(self, output: list[str]) -> str | None:
        return first_line(output) or None


def _parse_groups(lines: list[str]) -> list[tuple[str, int, list[str]]]:
    """``/etc/group`` lines with a numeric gid -> ``[(name, gid, members)]``."""
    return [
        (name, int(gid), members) for name, gid, members in parse_group_file(lines) if gid.isdigit()
    ]


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
