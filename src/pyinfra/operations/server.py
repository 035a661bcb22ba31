"""Operations on the server as a whole: shell commands and scripts, services, host name,
time zone, locale, kernel parameters and modules, mounts, cron, reboots, users and
groups."""

from __future__ import annotations

import io
import os
import posixpath
import re
from collections.abc import Generator
from dataclasses import dataclass
from typing import IO, Any

from pyinfra import context, host
from pyinfra.api.command import (
    FileUploadCommand,
    FunctionCommand,
    MaskString,
    QuoteString,
    StringCommand,
)
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.files import Directory, File, FileBytes
from pyinfra.facts.parsing import try_int
from pyinfra.facts.server import (
    BootMarker,
    EtcHosts,
    GroupIds,
    Groups,
    Home,
    Hostname,
    InitSystem,
    KernelModules,
    Locales,
    Mounts,
    Os,
    Sysctl,
    Timezone,
    Users,
    Which,
)
from pyinfra.operations import crontab as _crontab
from pyinfra.operations import files
from pyinfra.operations.nested import inner
from pyinfra.operations.rebootwait import wait_for_reboot
from pyinfra.operations.templating import render_template
from pyinfra.operations.util import (
    chain,
    check_name,
    check_path,
    deploy_path,
    expected_stat,
    fail,
    ownership_commands,
)

Commands = Generator[Any, Any, None]

# ``server.crontab`` is ``crontab.crontab`` (as in pyinfra).
crontab = _crontab.crontab


def ere_escape(text: str) -> str:
    """``text`` matched literally inside an extended regular expression."""
    return re.sub(r"([.\[\]()*+?{}|^$\\])", r"\\\1", text)


def _check_word(op: str, value: Any, argument: str, pattern: str = r"[A-Za-z0-9_.:@+-]+") -> str:
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise fail(op, f"argument {argument} is not valid: {value!r}")
    return value


# Commands and scripts ---------------------------------------------------------------


@operation(is_idempotent=False)
def shell(commands: str | list[str]) -> Commands:
    """Run one or more shell commands (always reports a change)."""
    if isinstance(commands, str):
        commands = [commands]
    for command in commands:
        if not isinstance(command, str) or not command.strip():
            raise fail("server.shell", f"commands must be non-empty strings, got {command!r}")
    yield from commands


def _run_script(source: str | IO[Any], args: tuple[str, ...] | list[str]) -> Commands:
    temp = host.get_temp_filename()
    yield FileUploadCommand(source, temp)
    quoted = QuoteString(temp)
    yield StringCommand(
        "chmod", "700", quoted, "&&", quoted, *[QuoteString(str(a)) for a in args],
        ";", "rc=$?;", "rm", "-f", quoted, ";", "exit", "$rc",
    )  # fmt: skip


@operation(is_idempotent=False)
def script(src: str | IO[Any], args: tuple[str, ...] | list[str] = ()) -> Commands:
    """Upload a local script to a private temp file on the host, run it, then remove it.

    ``src`` is relative to the deploy file's directory; ``args`` are shell-quoted.
    """
    if isinstance(src, str):
        src = deploy_path(src)
        if not os.path.isfile(src):
            raise fail("server.script", f"local file not found: {src} (argument src)")
    yield from _run_script(src, args)


@operation(is_idempotent=False)
def script_template(
    src: str | IO[Any], args: tuple[str, ...] | list[str] = (), **data: Any
) -> Commands:
    """Render a local Jinja2 script template (it sees ``host``, ``state``, ``inventory``
    and the keyword arguments), upload it to a private temp file, run it, remove it."""
    op = "server.script_template"
    if isinstance(src, str):
        src = deploy_path(src)
        if not os.path.isfile(src):
            raise fail(op, f"template file not found: {src} (argument src)")
    variables = {
        "host": context.get("host"),
        "state": context.get("state"),
        "inventory": context.get("inventory"),
        **data,
    }
    content = render_template(op, src, variables, {})
    yield from _run_script(io.BytesIO(content), args)


@operation(is_idempotent=False)
def kill(pid: int, signal: str = "TERM") -> Commands:
    """Send ``signal`` (default ``TERM``) to the process ``pid``."""
    op = "server.kill"
    if isinstance(pid, bool) or not str(pid).isdigit():
        raise fail(op, f"argument pid must be a process id, got {pid!r}")
    _check_word(op, signal, "signal", r"[A-Za-z0-9+]+")
    yield StringCommand("kill", f"-{signal}", str(pid))


@operation(is_idempotent=False)
def wait(port: int) -> Commands:
    """Wait until something listens on TCP ``port`` on the host (checked every second
    with ``ss``, else ``netstat``; bound it with ``_timeout``)."""
    if isinstance(port, bool) or not str(port).isdigit() or not 0 < int(port) < 65536:
        raise fail("server.wait", f"argument port must be a port number, got {port!r}")
    listening = f"grep LISTEN | grep -q -E '[:.]{int(port)}[[:space:]]'"
    yield StringCommand(
        f"while ! {{ ss -ltn 2>/dev/null || netstat -an 2>/dev/null; }} | {listening}; do "
        f"echo 'waiting for port {int(port)}...'; sleep 1; done"
    )


@operation(is_idempotent=False)
def reboot(
    delay: int | float = 10, interval: int | float = 1, reboot_timeout: int | float = 300
) -> Commands:
    """Reboot the host and wait until it is back.

    + delay: seconds to wait before the first reconnection attempt
    + interval: seconds between reconnection attempts
    + reboot_timeout: give up (the operation fails) this many seconds after the reboot

    The host is back when it boots again (boot id / PID 1 start time changed), not
    merely when it answers: a host still shutting down is not mistaken for a new boot.
    Every fact is read again afterwards.
    """
    op = "server.reboot"
    for name, value in (
        ("delay", delay),
        ("interval", interval),
        ("reboot_timeout", reboot_timeout),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise fail(op, f"argument {name} must be a number of seconds, got {value!r}")
    if interval <= 0:
        raise fail(op, f"argument interval must be more than 0, got {interval!r}")
    before = host.get_fact(BootMarker)
    # Detached, so the command returns before the connection drops.
    yield StringCommand(
        "command -v reboot >/dev/null 2>&1 || { echo 'reboot: command not found' >&2; exit 127; };"
        " ( sleep 1 && reboot ) </dev/null >/dev/null 2>&1 &"
    )
    yield FunctionCommand(
        wait_for_reboot, (host, before, float(delay), float(interval), float(reboot_timeout)), {}
    )


# Services ---------------------------------------------------------------------------


@operation()
def service(
    service: str,
    running: bool | None = True,
    restarted: bool = False,
    reloaded: bool = False,
    command: str | None = None,
    enabled: bool | None = None,
) -> Commands:
    """Manage a service with the host's init system: systemd (when it runs as PID 1),
    OpenRC, upstart, runit, BSD rc.d or SysV init scripts, probed in that order in one
    command. Arguments as in :func:`pyinfra.operations.systemd.service`."""
    from pyinfra.operations import bsdinit, openrc, runit, systemd, sysvinit, upstart

    kind = host.get_fact(InitSystem)
    modules = {
        "systemd": systemd,
        "openrc": openrc,
        "upstart": upstart,
        "runit": runit,
        "bsdinit": bsdinit,
        "sysvinit": sysvinit,
    }
    if kind not in modules:
        raise fail(
            "server.service",
            "no init system found (no running systemd, rc-service, initctl, sv, "
            "/etc/rc.d or /etc/init.d)",
        )
    yield from inner(modules[kind].service)(
        service=service,
        running=running,
        restarted=restarted,
        reloaded=reloaded,
        command=command,
        enabled=enabled,
    )


# Host name, time zone, locale -------------------------------------------------------

_HOSTNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@operation()
def hostname(hostname: str, hostname_file: str | None = None) -> Commands:
    """Set the host name: ``hostnamectl set-hostname`` where systemd runs, else
    ``hostname NAME`` and the file that keeps it across reboots (``/etc/hostname`` on
    Linux, ``/etc/myname`` on OpenBSD, or ``hostname_file``; ``False``: no file)."""
    op = "server.hostname"
    if not isinstance(hostname, str) or not _HOSTNAME.fullmatch(hostname):
        raise fail(
            op,
            f"argument hostname must be 1-64 letters, digits, dots, dashes or underscores, "
            f"got {hostname!r}",
        )
    current = host.get_fact(Hostname)
    if host.get_fact(InitSystem) == "systemd" and host.get_fact(Which, command="hostnamectl"):
        if current == hostname:
            host.noop("hostname is set")
            return
        yield StringCommand("hostnamectl", "set-hostname", QuoteString(hostname))
        yield FactChange(facts=(Hostname,), expect=((Hostname, {}, hostname),))
        return
    if hostname_file is None:
        hostname_file = {"Linux": "/etc/hostname", "OpenBSD": "/etc/myname"}.get(host.get_fact(Os))
    if current != hostname:
        yield StringCommand("hostname", QuoteString(hostname))
        yield FactChange(facts=(Hostname,), expect=((Hostname, {}, hostname),))
    else:
        host.noop("hostname is set")
    if hostname_file:
        check_path(op, hostname_file, "hostname_file")
        yield from inner(files.put)(src=io.BytesIO(f"{hostname}\n".encode()), dest=hostname_file)


_TIMEZONE = re.compile(r"[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*")


@operation()
def timezone(timezone: str) -> Commands:
    """Set the system time zone (``Europe/Amsterdam``, ``UTC``...): ``timedatectl``
    where systemd runs, else ``/etc/localtime`` -> ``/usr/share/zoneinfo/ZONE`` and
    ``/etc/timezone``. An unknown zone is refused by the host."""
    op = "server.timezone"
    if not isinstance(timezone, str) or not _TIMEZONE.fullmatch(timezone) or ".." in timezone:
        raise fail(op, f"argument timezone is not a time zone name: {timezone!r}")
    if host.get_fact(Timezone) == timezone:
        host.noop("timezone is set")
        return
    if host.get_fact(InitSystem) == "systemd" and host.get_fact(Which, command="timedatectl"):
        yield StringCommand("timedatectl", "set-timezone", QuoteString(timezone))
    else:
        zone = QuoteString(f"/usr/share/zoneinfo/{timezone}")
        yield StringCommand(
            "if", "[", "!", "-f", zone, "];", "then",
            "echo", QuoteString(f"unknown time zone {timezone}: no {zone.obj}"), ">&2;",
            "exit", "1;", "fi;",
            "ln", "-sf", zone, "/etc/localtime", "&&",
            "echo", QuoteString(timezone), ">", "/etc/timezone",
        )  # fmt: skip
    yield FactChange(
        paths=("/etc/localtime", "/etc/timezone"),
        facts=(Timezone,),
        expect=((Timezone, {}, timezone),),
    )


def _locale_line(text: str, locale: str) -> list[int]:
    """Indexes of the ``/etc/locale.gen`` lines (commented or not) defining ``locale``."""
    found = []
    for index, line in enumerate(text.splitlines()):
        fields = line.lstrip("#").split()
        if len(fields) >= 2 and fields[0] == locale:
            found.append(index)
    return found


@operation()
def locale(locale: str, present: bool = True) -> Commands:
    """Enable (or disable) a locale in ``/etc/locale.gen`` and run ``locale-gen``."""
    op = "server.locale"
    _check_word(op, locale, "locale", r"[A-Za-z0-9_.@-]+")
    path = "/etc/locale.gen"
    enabled = locale in host.get_fact(Locales)
    if enabled == present:
        host.noop(f"locale {locale} is {'enabled' if present else 'disabled'}")
        return
    content = host.get_fact(FileBytes, path=path)
    text = (content or b"").decode("utf-8", "surrogateescape")
    matches = _locale_line(text, locale)
    if not matches:
        raise fail(op, f"locale {locale} not found in {path}")
    if len(matches) > 1:
        raise fail(op, f"locale {locale} is defined on several lines of {path}")
    lines = text.splitlines(keepends=True)
    line = lines[matches[0]]
    bare = line.lstrip("#").lstrip(" \t")
    lines[matches[0]] = bare if present else f"# {bare}"
    new = "".join(lines).encode("utf-8", "surrogateescape")
    if new != content:
        yield FileUploadCommand(io.BytesIO(new), path)
    yield StringCommand("locale-gen")
    yield FactChange(paths=(path,), facts=(Locales,))


# Kernel: sysctl, modules, mounts ----------------------------------------------------


def _sysctl_value(value: Any) -> tuple[str, Any]:
    """The text to write and the value the Sysctl fact will show."""
    if isinstance(value, list):
        text = " ".join(str(v) for v in value)
        parsed = [try_int(v) for v in value]
        return text, parsed[0] if len(parsed) == 1 else parsed
    text = str(value)
    parts = text.split()
    if len(parts) > 1:
        return text, [try_int(v) for v in parts]
    return text, try_int(value)


@operation()
def sysctl(
    key: str,
    value: str | int | list[str | int],
    persist: bool = False,
    persist_file: str = "/etc/sysctl.conf",
) -> Commands:
    """Set a kernel parameter now, and with ``persist`` in ``persist_file`` too (the
    key's existing line there is replaced, else one is added). An unknown key is
    refused by the host (``sysctl: cannot stat /proc/sys/...``)."""
    op = "server.sysctl"
    _check_word(op, key, "key", r"[A-Za-z0-9_.:/@*-]+")
    text, wanted = _sysctl_value(value)
    if not text.strip() or "\n" in text:
        raise fail(op, f"argument value must be a non-empty single line, got {value!r}")
    current = host.get_fact(Sysctl, keys=[key]).get(key)
    if current != wanted:
        yield StringCommand(
            "sysctl", StringCommand(QuoteString(key), "=", QuoteString(text), _separator="")
        )
        yield FactChange(facts=(Sysctl,), expect=((Sysctl, {"keys": [key]}, {key: wanted}),))
    else:
        host.noop(f"sysctl {key} is set to {text}")
    if persist:
        check_path(op, persist_file, "persist_file")
        yield from inner(files.line)(
            path=persist_file,
            line=rf"^[[:space:]]*{ere_escape(key)}[[:space:]]*=",
            replace=f"{key} = {text}",
            extended_regex=True,
        )


@operation()
def modprobe(module: str | list[str], present: bool = True, force: bool = False) -> Commands:
    """Load (or unload) kernel modules (``modprobe -a`` / ``modprobe -r -a``)."""
    op = "server.modprobe"
    names = [module] if isinstance(module, str) else list(module)
    if not names:
        raise fail(op, "argument module must name at least one module")
    for name in names:
        _check_word(op, name, "module", r"[A-Za-z0-9_-]+")
    loaded = host.get_fact(KernelModules)
    # The kernel lists modules with underscores (modprobe accepts both spellings).
    is_loaded = {n: n.replace("-", "_") in loaded or n in loaded for n in names}
    todo = [n for n in names if is_loaded[n] != present]
    if not todo:
        many = len(names) > 1
        host.noop(
            f"{'modules' if many else 'module'} {'/'.join(names)} {'are' if many else 'is'} "
            f"{'loaded' if present else 'not loaded'}"
        )
        return
    flags = ["-f"] if force else []
    yield StringCommand(
        "modprobe", *flags, *([] if present else ["-r"]), "-a", *[QuoteString(n) for n in todo]
    )
    yield FactChange(facts=(KernelModules,))


@operation()
def mount(
    path: str,
    mounted: bool = True,
    options: list[str] | None = None,
    device: str | None = None,
    fs_type: str | None = None,
) -> Commands:
    """Mount (or unmount) a filesystem; a mounted one missing some of ``options`` is
    remounted with them (options are compared as the kernel lists them: ``size=1024k``,
    not ``size=1m``). ``/etc/fstab`` is not changed (use ``files.line``)."""
    op = "server.mount"
    check_path(op, path)
    options = list(options or [])
    for option in options:
        if not isinstance(option, str) or not option or "," in option or option.isspace():
            raise fail(op, f"argument options must be single mount options, got {option!r}")
    mounts = host.get_fact(Mounts)
    normal = posixpath.normpath(path)
    mount_point = path if path in mounts else normal if normal in mounts else None
    if mount_point is None and device and device.startswith("/"):
        # The device may be mounted under another spelling of the path. Only real
        # devices: "tmpfs", "proc"... are mounted in many places.
        mount_point = next((p for p, i in mounts.items() if i.get("device") == device), None)

    if mounted and mount_point is None:
        bits: list[Any] = ["mount"]
        if fs_type:
            bits += ["-t", QuoteString(fs_type)]
        if options:
            bits += ["-o", QuoteString(",".join(options))]
        if device:
            bits.append(QuoteString(device))
        bits.append(QuoteString(path))
        yield StringCommand(*bits)
        predicted = {"device": device or "", "type": fs_type or "", "options": options}
        yield FactChange(facts=(Mounts,), expect=((Mounts, {}, {**mounts, path: predicted}),))
    elif not mounted and mount_point is not None:
        yield StringCommand("umount", QuoteString(mount_point))
        remaining = {p: i for p, i in mounts.items() if p != mount_point}
        yield FactChange(facts=(Mounts,), expect=((Mounts, {}, remaining),))
    elif mounted and mount_point is not None and options:
        info = mounts[mount_point]
        missing = [o for o in options if o not in info["options"]]
        if not missing:
            host.noop(f"filesystem {path} is mounted")
            return
        if "BSD" in host.get_fact(Os):
            yield StringCommand(
                "mount", "-u", "-o", QuoteString(",".join(options)), "-t",
                QuoteString(info["type"]), QuoteString(info["device"]), QuoteString(mount_point),
            )  # fmt: skip
        else:
            yield StringCommand(
                "mount", "-o", QuoteString("remount," + ",".join(options)), QuoteString(mount_point)
            )
        updated = {**info, "options": [*info["options"], *missing]}
        yield FactChange(facts=(Mounts,), expect=((Mounts, {}, {**mounts, mount_point: updated}),))
    else:
        host.noop(f"filesystem {path} is {'mounted' if mounted else 'not mounted'}")


# Configuration files ----------------------------------------------------------------


@operation()
def etc_hosts(
    ip: str,
    hostnames: str | list[str] | None = None,
    present: bool = True,
    path: str = "/etc/hosts",
) -> Commands:
    """Make the line of ``ip`` in ``/etc/hosts`` (or ``path``) list exactly
    ``hostnames`` (added if missing). With ``present=False``: remove ``hostnames``
    from that line (the whole line when none are left, or none were given). Other lines
    and comments are kept."""
    op = "server.etc_hosts"
    check_path(op, path)
    _check_word(op, ip, "ip", r"[0-9A-Fa-f.:%a-zA-Z]+")
    if isinstance(hostnames, str):
        names = hostnames.split()
    else:
        names = list(hostnames or [])
    for name in names:
        _check_word(op, name, "hostnames", r"[A-Za-z0-9._-]+")
    if present and not names:
        raise fail(op, "argument hostnames is required when present=True")
    current = host.get_fact(EtcHosts, path=path).get(ip)
    if present and current == names:
        host.noop(f"{ip} -> {' '.join(names)} already present in {path}")
        return
    if not present and (current is None or (names and not set(names) & set(current))):
        host.noop(f"{ip} is not in {path}" if current is None else f"{ip} has none of {names}")
        return
    old = host.get_fact(FileBytes, path=path) or b""
    lines = old.decode("utf-8", "surrogateescape").splitlines()
    out: list[str] = []
    found = False
    for line in lines:
        fields = line.split("#", 1)[0].split()
        if not fields or fields[0] != ip:
            out.append(line)
            continue
        if present:
            if not found:
                out.append(f"{ip} {' '.join(names)}")
        elif names:
            remaining = [n for n in fields[1:] if n not in names]
            if remaining:
                out.append(f"{ip} {' '.join(remaining)}")
        found = True
    if present and not found:
        out.append(f"{ip} {' '.join(names)}")
    new = ("\n".join(out) + "\n" if out else "").encode("utf-8", "surrogateescape")
    yield from inner(files.put)(src=io.BytesIO(new), dest=path)
    yield FactChange(paths=(path,))


@operation()
def security_limit(domain: str, limit_type: str, item: str, value: int | str) -> Commands:
    """Set a limit in ``/etc/security/limits.conf`` (``domain`` ``limit_type``
    ``item`` ``value``), replacing the line of the same domain/type/item."""
    op = "server.security_limit"
    _check_word(op, domain, "domain", r"[A-Za-z0-9_.@%:*-]+")
    if limit_type not in ("hard", "soft", "-"):
        raise fail(op, f"argument limit_type must be hard, soft or -, got {limit_type!r}")
    _check_word(op, item, "item", r"[a-z_]+")
    _check_word(op, str(value), "value", r"-?[A-Za-z0-9]+")
    yield from inner(files.line)(
        path="/etc/security/limits.conf",
        line=rf"^{ere_escape(domain)}[[:space:]]+{ere_escape(limit_type)}[[:space:]]+{item}[[:space:]]",
        replace=f"{domain}\t{limit_type}\t{item}\t{value}",
        extended_regex=True,
    )


# Groups -----------------------------------------------------------------------------


@operation()
def group(
    group: str, present: bool = True, system: bool = False, gid: int | str | None = None
) -> Commands:
    """Add, change the id of, or remove a group (``pw`` on FreeBSD; ``system`` is
    ignored on BSD)."""
    op = "server.group"
    check_name(op, group, "group")
    if gid is not None and not str(gid).isdigit():
        raise fail(op, f"argument gid must be a number, got {gid!r}")
    groups = host.get_fact(Groups)
    exists = group in groups
    freebsd = host.get_fact(Os) == "FreeBSD"
    pw = ["pw"] if freebsd else []
    name_flag = ["-n"] if freebsd else []
    if not present:
        if exists:
            yield StringCommand(*pw, "groupdel", *name_flag, QuoteString(group))
            yield FactChange(
                facts=(Groups, GroupIds, Users),
                expect=((Groups, {}, [g for g in groups if g != group]),),
            )
        else:
            host.noop(f"group {group} does not exist")
        return
    if not exists:
        yield StringCommand(
            *pw, "groupadd",
            *(["-r"] if system and "BSD" not in host.get_fact(Os) else []),
            *name_flag, QuoteString(group),
            *(["-g", str(gid)] if gid is not None else []),
        )  # fmt: skip
        yield FactChange(facts=(Groups, GroupIds, Users), expect=((Groups, {}, [*groups, group]),))
        return
    if gid is not None and host.get_fact(GroupIds).get(group) != int(gid):
        yield StringCommand(*pw, "groupmod", *name_flag, QuoteString(group), "-g", str(gid))
        yield FactChange(facts=(Groups, GroupIds, Users))
    else:
        host.noop(f"group {group} exists")


# Users ------------------------------------------------------------------------------


def _require_tool(op: str, tool: str) -> None:
    if host.get_fact(Os) == "Linux" and not host.get_fact(Which, command=tool):
        raise fail(op, f"{tool} is not installed on the host (Alpine: install the shadow package)")


def _group_list(groups: list[str]) -> QuoteString:
    return QuoteString(",".join(groups))


@dataclass(frozen=True)
class _WantedUser:
    """The account ``server.user`` asks for (its settings besides the name)."""

    home: str
    shell: str | None
    group: str | None
    groups: list[str]
    append: bool
    uid: int | None
    comment: str | None
    unique: bool


def _useradd(
    user: str, wanted: _WantedUser, create_home: bool, system: bool, os_name: str
) -> StringCommand:
    freebsd = os_name == "FreeBSD"
    bits: list[Any] = ["pw", "useradd", "-n", QuoteString(user)] if freebsd else ["useradd"]
    bits += ["-d", QuoteString(wanted.home)]
    if wanted.shell:
        bits += ["-s", QuoteString(wanted.shell)]
    if wanted.group:
        bits += ["-g", QuoteString(wanted.group)]
    if wanted.groups:
        bits += ["-G", _group_list(wanted.groups)]
    if system and "BSD" not in os_name:
        bits.append("-r")
    if wanted.uid is not None:
        bits += ["-u", str(wanted.uid)]
    if wanted.comment:
        bits += ["-c", QuoteString(wanted.comment)]
    if not wanted.unique:
        bits.append("-o")
    if create_home:
        bits.append("-m")
    elif os_name not in ("FreeBSD", "OpenBSD"):
        bits.append("-M")
    if not freebsd:
        bits.append(QuoteString(user))
    return StringCommand(*bits)


def _usermod_flags(existing: dict[str, Any], wanted: _WantedUser) -> list[Any]:
    bits: list[Any] = []
    if wanted.home and existing.get("home") != wanted.home:
        bits += ["-d", QuoteString(wanted.home)]
    if wanted.shell and existing.get("shell") != wanted.shell:
        bits += ["-s", QuoteString(wanted.shell)]
    if wanted.group and existing.get("group") != wanted.group:
        bits += ["-g", QuoteString(wanted.group)]
    if wanted.groups:
        current = set(existing.get("groups") or [])
        if wanted.append:
            if not set(wanted.groups) <= current:
                bits += ["-a", "-G", _group_list(wanted.groups)]
        elif set(wanted.groups) != current:
            bits += ["-G", _group_list(wanted.groups)]
    if wanted.uid is not None and existing.get("uid") != wanted.uid:
        bits += ["-u", str(wanted.uid)] + ([] if wanted.unique else ["-o"])
    if wanted.comment and existing.get("comment") != wanted.comment:
        bits += ["-c", QuoteString(wanted.comment)]
    return bits


def _predicted_user(
    user: str, existing: dict[str, Any] | None, wanted: _WantedUser, password: str | None
) -> dict[str, Any]:
    new = dict(
        existing
        or {"shell": None, "comment": None, "uid": None, "gid": None, "groups": [],
            "lastlog": None, "login_time": None, "password": ""}
    )  # fmt: skip
    new["home"] = wanted.home
    new["group"] = wanted.group or new.get("group") or user
    if wanted.shell:
        new["shell"] = wanted.shell
    if wanted.comment:
        new["comment"] = wanted.comment
    if wanted.uid is not None:
        new["uid"] = wanted.uid
    if wanted.groups:
        old = list(new.get("groups") or [])
        added = [g for g in wanted.groups if g not in old]
        new["groups"] = old + added if wanted.append else list(wanted.groups)
    if password is not None:
        new["password"] = password
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
    """Add, change or remove a user (``useradd``/``usermod``/``userdel``; ``pw`` on
    FreeBSD).

    + home: home directory (default ``/home/USER``, or the existing user's)
    + group / groups: primary group / secondary groups (``append``: add to ``groups``
      without leaving the others)
    + ensure_home: create the home directory if missing and give it to the user
    + create_home: populate a new user's home from the skeleton (``useradd -m``)
    + system, uid, comment, unique (``False``: allow a duplicate uid), shell
    + password: an already *hashed* password, set with ``chpasswd -e`` through
      standard input (never on a command line)
    + public_keys / delete_keys: see :func:`user_authorized_keys`
    """
    op = "server.user"
    check_name(op, user, "user")
    group_list = list(groups or [])
    for name in [group, *group_list]:
        if name is not None:
            check_name(op, name, "group" if name == group else "groups")
    if uid is not None and (isinstance(uid, bool) or not str(uid).isdigit()):
        raise fail(op, f"argument uid must be a number, got {uid!r}")
    if home is not None:
        check_path(op, home, "home")
    users = host.get_fact(Users)
    existing = users.get(user)
    os_name = host.get_fact(Os)
    freebsd = os_name == "FreeBSD"
    touched = (Users, Groups, GroupIds, Home)

    if not present:
        if existing is not None:
            if not freebsd:
                _require_tool(op, "userdel")
            yield StringCommand(
                *(["pw", "userdel", "-n"] if freebsd else ["userdel"]), QuoteString(user)
            )
            remaining = {k: v for k, v in users.items() if k != user}
            yield FactChange(facts=touched, expect=((Users, {}, remaining),))
        else:
            host.noop(f"user {user} does not exist")
        return

    home_dir = home or (existing or {}).get("home") or f"/home/{user}"
    if existing is None:
        if not freebsd:
            _require_tool(op, "useradd")
        if not group and user in host.get_fact(Groups):
            group = user  # a group of that name exists: useradd must be told to use it
    wanted = _WantedUser(home_dir, shell, group, group_list, append, uid, comment, unique)
    commands: list[StringCommand] = []
    if existing is None:
        commands.append(_useradd(user, wanted, create_home, system, os_name))
    else:
        flags = _usermod_flags(existing, wanted)
        if flags:
            if not freebsd:
                _require_tool(op, "usermod")
            prefix = ["pw", "usermod", "-n", QuoteString(user)] if freebsd else ["usermod"]
            commands.append(
                StringCommand(*prefix, *flags, *([] if freebsd else [QuoteString(user)]))
            )
    if password is not None and (existing is None or existing.get("password") != password):
        if freebsd:
            commands.append(
                StringCommand("pw", "usermod", "-n", QuoteString(user), "-H", "0",
                              _stdin=MaskString(f"{password}\n"))
            )  # fmt: skip
        else:
            commands.append(
                StringCommand("chpasswd", "-e", _stdin=MaskString(f"{user}:{password}\n"))
            )
    if commands:
        yield from commands
        predicted = _predicted_user(user, existing, wanted, password)
        yield FactChange(facts=touched, expect=((Users, {}, {**users, user: predicted}),))
    elif existing is not None:
        host.noop(f"user {user} exists")

    if ensure_home:
        yield from _ensure_home(user, home_dir, group, existing is None and create_home)
    if public_keys is not None:
        keys = _read_keys([public_keys] if isinstance(public_keys, str) else list(public_keys))
        yield from _authorized_keys(
            user, f"{home_dir.rstrip('/')}/.ssh", "authorized_keys", group, keys, delete_keys
        )


def _owner(user: str, group: str | None) -> StringCommand:
    """``user:group``, or ``'user':"$(id -gn 'user')"`` (its primary group) for chown."""
    if group:
        return StringCommand(QuoteString(f"{user}:{group}"))
    return StringCommand(QuoteString(user), ':"$(id -gn ', QuoteString(user), ')"', _separator="")


def _ensure_home(user: str, home: str, group: str | None, created: bool) -> Commands:
    info = host.get_fact(Directory, path=home)
    if info is None and not created:
        yield StringCommand("mkdir", "-p", "--", QuoteString(home))
        yield StringCommand("chown", _owner(user, group), "--", QuoteString(home))
        yield FactChange(
            paths=(home,),
            expect=((Directory, {"path": home}, expected_stat(None, user, group, "755")),),
        )
    elif isinstance(info, dict):
        commands = ownership_commands(home, info, user, group, None)
        yield from commands
        if commands:
            yield FactChange(paths=(home,))


def _read_keys(keys: list[str]) -> list[str]:
    """Public keys given as text, or as paths of local key files (read here)."""
    out: list[str] = []
    for key in keys:
        if not isinstance(key, str):
            raise fail("server.user_authorized_keys", f"public keys must be strings, got {key!r}")
        candidate = deploy_path(key) if "\n" not in key and len(key) < 4096 else ""
        if candidate and os.path.isfile(candidate):
            with open(candidate, encoding="utf-8") as handle:
                out += [line.strip() for line in handle if line.strip()]
        elif key.strip():
            out.append(key.strip())
    return out


@operation()
def user_authorized_keys(
    user: str,
    public_keys: str | list[str],
    group: str | None = None,
    delete_keys: bool = False,
    authorized_key_directory: str | None = None,
    authorized_key_filename: str | None = None,
) -> Commands:
    """Add public keys to a user's ``~/.ssh/authorized_keys`` (with ``delete_keys``:
    make it hold exactly those keys). Keys are key text or paths of local key files.
    The directory is mode 700 and the file 600, both owned by the user (and ``group``,
    else the user's primary group)."""
    op = "server.user_authorized_keys"
    check_name(op, user, "user")
    if group is not None:
        check_name(op, group, "group")
    keys = _read_keys([public_keys] if isinstance(public_keys, str) else list(public_keys))
    directory = authorized_key_directory
    if not directory:
        home = host.get_fact(Home, user=user)
        if not home:
            raise fail(op, f"user {user} does not exist (no home directory found)")
        directory = f"{home.rstrip('/')}/.ssh"
    check_path(op, directory, "authorized_key_directory")
    filename = authorized_key_filename or "authorized_keys"
    if "/" in filename:
        raise fail(op, f"argument authorized_key_filename must be a file name, got {filename!r}")
    yield from _authorized_keys(
        user, directory.rstrip("/") or "/", filename, group, keys, delete_keys
    )


def _authorized_keys(
    user: str, ssh_dir: str, filename: str, group: str | None, keys: list[str], delete_keys: bool
) -> Commands:
    path = f"{ssh_dir}/{filename}"
    dir_info = host.get_fact(Directory, path=ssh_dir)
    dir_commands: list[Any] = []
    if dir_info is None:
        dir_commands += [
            StringCommand("mkdir", "-p", "--", QuoteString(ssh_dir)),
            StringCommand("chmod", "700", "--", QuoteString(ssh_dir)),
            StringCommand("chown", _owner(user, group), "--", QuoteString(ssh_dir)),
        ]
    else:
        dir_commands += ownership_commands(ssh_dir, dir_info, user, group, "700")
    current = host.get_fact(FileBytes, path=path) if dir_info is not None else None
    lines = (current or b"").decode("utf-8", "replace").splitlines()
    if delete_keys:
        new_lines = keys
    else:
        present = {line.strip() for line in lines}
        new_lines = lines + [k for k in dict.fromkeys(keys) if k not in present]
    new = ("\n".join(new_lines) + "\n").encode() if new_lines else b""
    file_commands: list[Any] = []
    if current != new:
        file_commands.append(FileUploadCommand(io.BytesIO(new), path))
    file_info = host.get_fact(File, path=path) if current is not None else None
    if file_info is None:
        file_commands += [
            StringCommand("chmod", "600", "--", QuoteString(path)),
            StringCommand("chown", _owner(user, group), "--", QuoteString(path)),
        ]
    else:
        file_commands += ownership_commands(path, file_info, user, group, "600")
    commands = chain([*dir_commands, *file_commands])
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
