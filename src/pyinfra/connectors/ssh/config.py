"""OpenSSH client configuration (``ssh_config(5)``) lookup.

A self-contained reader for the options the SSH connector uses; it does not use
``paramiko.SSHConfig``. Semantics follow OpenSSH:

* keywords are case-insensitive; ``Key value``, ``Key=value`` and ``Key = value`` are
  accepted; arguments may be quoted (``"a b"`` / ``'a b'``) and a ``#`` starting an
  argument starts a comment;
* for each option the first value obtained wins, except ``IdentityFile`` and
  ``CertificateFile``, which accumulate (duplicates are dropped);
* ``ProxyJump`` and ``ProxyCommand`` compete: whichever is set first wins;
* ``Host PATTERN...``: ``*`` and ``?`` wildcards, several patterns per line, ``!pattern``
  excludes the block when it matches; matching is case-insensitive;
* ``Match``: ``all``, ``host`` (against ``HostName`` if already set, else the name
  looked up), ``originalhost`` and ``localuser`` are supported, each optionally negated
  with ``!``. Every other criterion (``exec``, ``user``, ``canonical``, ``final``,
  ``localnetwork``, ``tagged``...) is treated as NOT matching, even when negated, so a
  block using one never applies;
* ``Include`` takes globs; relative paths are resolved against ``~/.ssh``; an
  ``Include`` inside a ``Host``/``Match`` block only applies when that block matches; a
  file already being read is not read again (cycles stop) and nesting stops after 16
  levels;
* values are validated on every line read (as ``ssh`` does); a bad value raises
  :class:`~pyinfra.api.exceptions.InventoryError` naming the file and line.

Tokens: ``HostName`` expands ``%h``; ``ProxyCommand`` and ``ProxyJump`` expand ``%h %n
%p %r``; ``IdentityFile``, ``CertificateFile`` and ``UserKnownHostsFile`` expand ``~``,
``${ENV}`` and ``%C %d %h %i %k %L %l %n %p %r %u``. ``%%`` is a literal ``%``; an
unknown token is left as written.
"""

from __future__ import annotations

import functools
import getpass
import glob
import hashlib
import os
import re
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pyinfra.api.exceptions import InventoryError
from pyinfra.connectors.ssh.hostkeys import POLICY_NAMES, HostKeyPolicyName

__all__ = [
    "MAX_INCLUDE_DEPTH",
    "JumpHost",
    "SSHHostConfig",
    "StrictHostKeyChecking",
    "lookup_ssh_config",
    "parse_proxy_jump",
]

StrictHostKeyChecking = HostKeyPolicyName

#: Maximum nesting of ``Include`` directives (as OpenSSH's ``READCONF_MAX_DEPTH``).
MAX_INCLUDE_DEPTH = 16

DEFAULT_CONFIG_FILE = "~/.ssh/config"


@dataclass(frozen=True)
class JumpHost:
    """One hop of a ``ProxyJump`` chain; ``None`` means "not given" (use the defaults)."""

    user: str | None
    host: str
    port: int | None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        text = f"{self.user}@{host}" if self.user is not None else host
        return f"{text}:{self.port}" if self.port is not None else text


@dataclass(frozen=True)
class SSHHostConfig:
    """The ssh_config options that apply to one host; ``None`` means "not set".

    For ``proxy_jump`` and ``user_known_hosts_file`` an empty list means the config said
    ``none`` explicitly (which also stops later blocks from setting them).
    """

    host: str = ""
    hostname: str | None = None
    user: str | None = None
    port: int | None = None
    identity_files: list[str] | None = None
    identities_only: bool | None = None
    proxy_jump: list[JumpHost] | None = None
    proxy_command: str | None = None
    connect_timeout: float | None = None
    server_alive_interval: int | None = None
    server_alive_count_max: int | None = None
    strict_host_key_checking: StrictHostKeyChecking | None = None
    user_known_hosts_file: list[str] | None = None
    forward_agent: bool | None = None
    certificate_files: list[str] | None = None
    raw: dict[str, list[str]] = field(default_factory=dict)

    @property
    def certificate_file(self) -> str | None:
        """The first ``CertificateFile`` (``ssh`` tries all of them)."""
        return self.certificate_files[0] if self.certificate_files else None


# --------------------------------------------------------------------------------------
# Lexing
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    file: str
    lineno: int
    keyword: str  # lower case
    args: tuple[str, ...]
    rest: str  # the value exactly as written (for ProxyCommand)

    def error(self, message: str) -> InventoryError:
        return InventoryError(f"{self.file} line {self.lineno}: {message}")

    @property
    def value(self) -> str:
        if self.keyword == "proxycommand":
            return self.rest
        return " ".join(self.args)


_KEYWORD_RE = re.compile(r"\s*([^\s=]+)(.*)", re.DOTALL)


def _split_args(text: str) -> list[str]:
    """Split like OpenSSH's ``argv_split``: quotes, backslash escapes, ``#`` comments."""
    args: list[str] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n or text[i] == "#":
            return args
        buf: list[str] = []
        quote = ""
        while i < n:
            char = text[i]
            nxt = text[i + 1] if i + 1 < n else ""
            if char == "\\" and (nxt in ("'", '"', "\\") or (not quote and nxt == " ")):
                buf.append(nxt)
                i += 2
                continue
            if quote:
                if char == quote:
                    quote = ""
                else:
                    buf.append(char)
                i += 1
                continue
            if char.isspace():
                break
            if char in ("'", '"'):
                quote = char
            else:
                buf.append(char)
            i += 1
        if quote:
            raise ValueError("unterminated quoted argument")
        args.append("".join(buf))


def _lex(file: str, text: str) -> list[_Line]:
    lines: list[_Line] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _KEYWORD_RE.fullmatch(stripped)
        if match is None:
            raise InventoryError(f"{file} line {lineno}: no keyword in {stripped!r}")
        keyword, rest = match.group(1), match.group(2).lstrip()
        if rest.startswith("="):
            rest = rest[1:].lstrip()
        try:
            args = _split_args(rest)
        except ValueError as exc:
            raise InventoryError(f"{file} line {lineno}: {keyword}: {exc}") from None
        parsed = _Line(file, lineno, keyword.lower(), tuple(args), rest)
        _check(parsed)
        lines.append(parsed)
    return lines


# --------------------------------------------------------------------------------------
# Value conversion (used both to validate every line and to build the result)
# --------------------------------------------------------------------------------------

_TIME_RE = re.compile(r"(?:\d+[smhdw]?)+", re.IGNORECASE)
_TIME_PART_RE = re.compile(r"(\d+)([smhdw]?)", re.IGNORECASE)
_TIME_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_FLOAT_RE = re.compile(r"\d+\.\d*|\.\d+")


def _parse_time(value: str) -> float:
    """``ConnectTimeout 10`` / ``1m30s`` / ``2.5`` -> seconds."""
    if _FLOAT_RE.fullmatch(value):
        return float(value)
    if not _TIME_RE.fullmatch(value):
        raise ValueError
    return float(
        sum(int(num) * _TIME_UNITS[unit.lower()] for num, unit in _TIME_PART_RE.findall(value))
    )


def _parse_port(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise ValueError
    return int(value)


def _parse_count(value: str) -> int:
    if not value.isdigit():
        raise ValueError
    return int(value)


def _parse_bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("yes", "true"):
        return True
    if lowered in ("no", "false"):
        return False
    raise ValueError


def _parse_forward_agent(value: str) -> bool:
    try:
        return _parse_bool(value)
    except ValueError:
        # ``ForwardAgent /path/to/socket`` or ``ForwardAgent $SOCK``: forwarding is on.
        return True


def _parse_strict(value: str) -> StrictHostKeyChecking:
    try:
        return POLICY_NAMES[value.lower()]
    except KeyError:
        raise ValueError from None


def parse_proxy_jump(value: str) -> list[JumpHost]:
    """Parse a ``ProxyJump`` value: ``[user@]host[:port]`` or ``ssh://[user@]host[:port]``
    hops separated by commas; ``none`` gives ``[]``. Raises ``ValueError`` when invalid."""
    if value.strip().lower() == "none":
        return []
    return [_parse_jump_host(hop) for hop in value.split(",")]


def _parse_jump_host(spec: str) -> JumpHost:
    text = spec.strip()
    if text.lower().startswith("ssh://"):
        text = text[len("ssh://") :]
        if text.endswith("/"):
            text = text[:-1]
        if "/" in text:
            raise ValueError(f"invalid jump host {spec.strip()!r}")
    user: str | None = None
    if "@" in text:
        user, text = text.rsplit("@", 1)
        if not user:
            raise ValueError(f"empty user name in jump host {spec.strip()!r}")
    port_text: str | None = None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"unbalanced '[' in jump host {spec.strip()!r}")
        host, after = text[1:end], text[end + 1 :]
        if after:
            if not after.startswith(":"):
                raise ValueError(f"invalid jump host {spec.strip()!r}")
            port_text = after[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:  # plain name, or a bare IPv6 address without a port
        host = text
    if not host or any(char.isspace() for char in host):
        raise ValueError(f"invalid jump host {spec.strip()!r}")
    port: int | None = None
    if port_text is not None:
        try:
            port = _parse_port(port_text)
        except ValueError:
            raise ValueError(f"invalid port {port_text!r} in jump host {spec.strip()!r}") from None
    return JumpHost(user=user, host=host, port=port)


_NO_ARG_CRITERIA = frozenset({"all", "canonical", "final"})


def _match_criteria(line: _Line) -> list[tuple[bool, str, str]]:
    """``Match`` arguments as ``(negated, criterion, argument)`` triples."""
    criteria: list[tuple[bool, str, str]] = []
    args = list(line.args)
    while args:
        word = args.pop(0)
        negated = word.startswith("!")
        name = word[1:].lower() if negated else word.lower()
        if not name:
            raise line.error("Match: empty criterion")
        if name in _NO_ARG_CRITERIA:
            criteria.append((negated, name, ""))
            continue
        if not args:
            raise line.error(f"Match: {name} requires an argument")
        criteria.append((negated, name, args.pop(0)))
    names = [name for _, name, _ in criteria]
    if not names:
        raise line.error("Match: missing criteria (use 'Match all' to match everything)")
    if "all" in names and any(name not in _NO_ARG_CRITERIA for name in names):
        raise line.error("Match: 'all' cannot be combined with other criteria")
    return criteria


_SINGLE_ARG = frozenset(
    {
        "hostname",
        "user",
        "port",
        "identityfile",
        "certificatefile",
        "identitiesonly",
        "proxyjump",
        "connecttimeout",
        "serveraliveinterval",
        "serveralivecountmax",
        "stricthostkeychecking",
        "forwardagent",
        "hostkeyalias",
    }
)
_MULTI_ARG = frozenset({"host", "match", "include", "userknownhostsfile"})

_CONVERTERS: dict[str, tuple[Callable[[str], object], str]] = {
    "port": (_parse_port, "expected a number from 1 to 65535"),
    "connecttimeout": (
        lambda v: None if v.lower() == "none" else _parse_time(v),
        "expected seconds such as 10, 2.5 or 1m30s",
    ),
    "serveraliveinterval": (_parse_time, "expected seconds such as 30 or 1m"),
    "serveralivecountmax": (_parse_count, "expected a number such as 3"),
    "identitiesonly": (_parse_bool, "expected yes or no"),
    "forwardagent": (_parse_forward_agent, "expected yes, no or an agent socket"),
    "stricthostkeychecking": (_parse_strict, "expected yes, accept-new, no, off or ask"),
}


def _check(line: _Line) -> None:
    """Validate one line, whether or not it applies to the host looked up."""
    keyword = line.keyword
    if keyword == "proxycommand":
        if not line.rest:
            raise line.error("ProxyCommand: missing argument")
        return
    if keyword not in _SINGLE_ARG and keyword not in _MULTI_ARG:
        return  # keywords we do not interpret are kept in ``raw`` only
    if not line.args:
        raise line.error(f"{keyword}: missing argument")
    if keyword in _SINGLE_ARG and len(line.args) > 1:
        raise line.error(f"{keyword}: expected one value, got {len(line.args)}: {line.value!r}")
    if keyword == "match":
        _match_criteria(line)
    elif keyword == "proxyjump":
        # Tokens (%h, %p...) are expanded later; check the syntax with them neutralised.
        try:
            parse_proxy_jump(re.sub(r"%[%hnpr]", "1", line.args[0]))
        except ValueError as exc:
            raise line.error(f"ProxyJump: {exc}") from None
    elif keyword in _CONVERTERS:
        _convert(line, keyword)


def _convert(line: _Line, keyword: str) -> object:
    converter, expected = _CONVERTERS[keyword]
    try:
        return converter(line.args[0])
    except ValueError:
        raise line.error(f"invalid {keyword} value {line.args[0]!r} ({expected})") from None


# --------------------------------------------------------------------------------------
# Reading files (lexed files are cached by path, inode, size and mtime)
# --------------------------------------------------------------------------------------

_cache_lock = threading.Lock()
_cache: dict[str, tuple[tuple[int, int, int], list[_Line]]] = {}


def _load(path: str) -> list[_Line]:
    """Lex one file; ``OSError`` propagates (callers decide what a missing file means)."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        stat = os.fstat(handle.fileno())
        stamp = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        with _cache_lock:
            cached = _cache.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        lines = _lex(path, handle.read())
    with _cache_lock:
        _cache[path] = (stamp, lines)
    return lines


@functools.lru_cache(maxsize=1024)
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _match_pattern(name: str, pattern: str) -> bool:
    return _pattern_regex(pattern).fullmatch(name) is not None


def _match_pattern_list(name: str, patterns: list[str]) -> bool:
    """True when a positive pattern matches and no negated (``!``) pattern does."""
    matched = False
    for pattern in patterns:
        if pattern.startswith("!"):
            if _match_pattern(name, pattern[1:]):
                return False
        elif _match_pattern(name, pattern):
            matched = True
    return matched


def _expand(value: str, tokens: Mapping[str, Callable[[], str]]) -> str:
    """Replace ``%x`` tokens; ``%%`` is ``%``; unknown tokens are kept as written."""
    out: list[str] = []
    i = 0
    while i < len(value):
        char = value[i]
        if char == "%" and i + 1 < len(value):
            key = value[i + 1]
            if key == "%":
                out.append("%")
                i += 2
                continue
            if key in tokens:
                out.append(tokens[key]())
                i += 2
                continue
        out.append(char)
        i += 1
    return "".join(out)


_ENV_RE = re.compile(r"\$\{([^}]*)\}")


def _expand_env(line: _Line, value: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise line.error(f"environment variable ${{{name}}} in {value!r} is not set")
        return os.environ[name]

    return _ENV_RE.sub(replace, value)


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no $USER and no passwd entry
        return str(os.getuid())


class _Lookup:
    """The state of one lookup: first-wins values, accumulated values, ``raw``."""

    ACCUMULATE = ("identityfile", "certificatefile")

    def __init__(self, host: str) -> None:
        self.host = host
        self.first: dict[str, _Line] = {}
        self.many: dict[str, list[_Line]] = {"identityfile": [], "certificatefile": []}
        self.raw: dict[str, list[str]] = {}
        self.reading: list[str] = []

    # -- walking -----------------------------------------------------------------------

    def read(self, path: str, depth: int, never_match: bool) -> None:
        real = os.path.realpath(path)
        if real in self.reading or depth > MAX_INCLUDE_DEPTH:
            return  # an Include cycle or too deep: stop quietly
        lines = _load(path)
        self.reading.append(real)
        try:
            self._walk(lines, depth, never_match)
        finally:
            self.reading.pop()

    def _walk(self, lines: list[_Line], depth: int, never_match: bool) -> None:
        active = not never_match
        for line in lines:
            keyword = line.keyword
            if keyword == "host":
                active = not never_match and _match_pattern_list(self.host, list(line.args))
            elif keyword == "match":
                active = not never_match and self._match(line)
            elif keyword == "include":
                self._include(line, depth, never_match=not active)
            elif active:
                self._apply(line)

    def _include(self, line: _Line, depth: int, never_match: bool) -> None:
        for arg in line.args:
            pattern = os.path.expanduser(arg)
            if not os.path.isabs(pattern):
                pattern = os.path.join(os.path.expanduser("~/.ssh"), pattern)
            for path in sorted(glob.glob(pattern)):
                try:
                    self.read(path, depth + 1, never_match)
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    raise line.error(f"cannot read included file {path}: {exc.strerror}") from None

    def _match(self, line: _Line) -> bool:
        result = True
        for negated, name, arg in _match_criteria(line):
            if name == "all":
                hit = True
            elif name == "host":
                hit = _match_pattern_list(self.current_hostname(), arg.split(","))
            elif name == "originalhost":
                hit = _match_pattern_list(self.host, arg.split(","))
            elif name == "localuser":
                hit = _match_pattern_list(_local_user(), arg.split(","))
            else:
                return False  # unsupported criteria never match (see the module doc)
            if hit == negated:
                result = False
        return result

    def _apply(self, line: _Line) -> None:
        keyword = line.keyword
        self.raw.setdefault(keyword, []).append(line.value)
        if keyword in self.ACCUMULATE:
            self.many[keyword].append(line)
        elif keyword in ("proxyjump", "proxycommand"):
            if "proxyjump" not in self.first and "proxycommand" not in self.first:
                self.first[keyword] = line
        else:
            self.first.setdefault(keyword, line)

    # -- building the result -----------------------------------------------------------

    def arg(self, keyword: str) -> str | None:
        line = self.first.get(keyword)
        return line.args[0] if line is not None else None

    def current_hostname(self) -> str:
        hostname = self.arg("hostname")
        if hostname is None:
            return self.host
        return _expand(hostname, {"h": lambda: self.host})

    def build(self) -> SSHHostConfig:
        hostname = self.current_hostname() if "hostname" in self.first else None
        user = self.arg("user")
        port_line = self.first.get("port")
        port = _parse_port(port_line.args[0]) if port_line is not None else None

        remote_host = hostname or self.host
        remote_user = user if user is not None else _local_user()
        remote_port = str(port or 22)

        proxy_tokens: dict[str, Callable[[], str]] = {
            "h": lambda: remote_host,
            "n": lambda: self.host,
            "p": lambda: remote_port,
            "r": lambda: remote_user,
        }

        @functools.cache
        def local_fqdn() -> str:
            return socket.gethostname()

        file_tokens: dict[str, Callable[[], str]] = {
            **proxy_tokens,
            "C": lambda: hashlib.sha1(
                f"{local_fqdn()}{remote_host}{remote_port}{remote_user}".encode()
            ).hexdigest(),
            "d": lambda: os.path.expanduser("~"),
            "i": lambda: str(os.getuid()),
            "k": lambda: self.arg("hostkeyalias") or self.host,
            "L": lambda: local_fqdn().split(".", 1)[0],
            "l": local_fqdn,
            "u": _local_user,
        }

        def path(line: _Line, value: str) -> str:
            return _expand_env(line, _expand(os.path.expanduser(value), file_tokens))

        def paths(keyword: str) -> list[str] | None:
            lines = self.many[keyword]
            if not lines:
                return None
            result: list[str] = []
            for line in lines:
                expanded = path(line, line.args[0])
                if expanded not in result:
                    result.append(expanded)
            return result

        proxy_jump: list[JumpHost] | None = None
        jump_line = self.first.get("proxyjump")
        if jump_line is not None:
            try:
                proxy_jump = parse_proxy_jump(_expand(jump_line.args[0], proxy_tokens))
            except ValueError as exc:
                raise jump_line.error(f"ProxyJump: {exc}") from None

        proxy_command: str | None = None
        command_line = self.first.get("proxycommand")
        if command_line is not None and command_line.rest.lower() != "none":
            proxy_command = _expand(command_line.rest, proxy_tokens)

        known_hosts: list[str] | None = None
        known_line = self.first.get("userknownhostsfile")
        if known_line is not None:
            if [arg.lower() for arg in known_line.args] == ["none"]:
                known_hosts = []
            else:
                known_hosts = [path(known_line, arg) for arg in known_line.args]

        def typed(keyword: str) -> object:
            line = self.first.get(keyword)
            return _convert(line, keyword) if line is not None else None

        timeout = typed("connecttimeout")
        alive = typed("serveraliveinterval")
        alive_max = typed("serveralivecountmax")
        identities_only = typed("identitiesonly")
        forward_agent = typed("forwardagent")
        strict = self.arg("stricthostkeychecking")
        return SSHHostConfig(
            host=self.host,
            hostname=hostname,
            user=user,
            port=port,
            identity_files=paths("identityfile"),
            identities_only=identities_only if isinstance(identities_only, bool) else None,
            proxy_jump=proxy_jump,
            proxy_command=proxy_command,
            connect_timeout=timeout if isinstance(timeout, float) else None,
            server_alive_interval=int(alive) if isinstance(alive, float) else None,
            server_alive_count_max=alive_max if isinstance(alive_max, int) else None,
            strict_host_key_checking=_parse_strict(strict) if strict is not None else None,
            user_known_hosts_file=known_hosts,
            forward_agent=forward_agent if isinstance(forward_agent, bool) else None,
            certificate_files=paths("certificatefile"),
            raw=self.raw,
        )


def lookup_ssh_config(host: str, config_file: str | None = None) -> SSHHostConfig:
    """The ssh_config options for ``host`` (the name as given, before ``HostName``).

    ``config_file`` None reads ``~/.ssh/config`` (a missing file gives an empty result);
    an explicit file that cannot be read raises ``InventoryError``, as does any invalid
    value (the message names the file and line).
    """
    lookup = _Lookup(host)
    path = os.path.expanduser(config_file if config_file is not None else DEFAULT_CONFIG_FILE)
    try:
        lookup.read(path, depth=0, never_match=False)
    except FileNotFoundError:
        if config_file is not None:
            raise InventoryError(
                f"SSH config file {config_file} does not exist: fix ssh_config_file"
            ) from None
    except OSError as exc:
        raise InventoryError(f"cannot read SSH config file {path}: {exc.strerror}") from None
    return lookup.build()
