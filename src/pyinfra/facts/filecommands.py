"""Portable shell snippets about files, shared by the file facts and operations.

Targets differ: GNU coreutils (``stat -c``), BusyBox (the same ``stat -c`` when built
with it, else only ``ls -ld``), BSD and macOS (``stat -f``, ``sha256 -q``, ``md5``).
Every snippet here tries them in that order inside one command, and the parsers read
whichever answered, so a fact costs one round trip on every kind of target.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pyinfra.api.command import QuoteString, StringCommand

# type|mode|user|group|size|atime|mtime|ctime, the same fields from both stat flavours.
GNU_STAT_FORMAT = "%F|%a|%U|%G|%s|%X|%Y|%Z"
BSD_STAT_FORMAT = "%HT|%Mp%Lp|%Su|%Sg|%z|%a|%m|%c"

_TILDE_USER = re.compile(r"^~[A-Za-z0-9_.][A-Za-z0-9_.-]*$")


def shell_path(path: str) -> QuoteString | StringCommand:
    """``path`` for a shell command: quoted, except a leading ``~`` / ``~/`` /
    ``~user/`` that the shell must expand to a home directory; a relative path that
    starts with ``-`` gets ``./`` so no command takes it for an option."""
    if path == "~" or path.startswith("~/"):
        rest = path[2:]
        return StringCommand("~/", QuoteString(rest), _separator="") if rest else StringCommand("~")
    if path.startswith("~"):
        head, slash, rest = path.partition("/")
        if _TILDE_USER.match(head):
            bits: list[Any] = [head, slash] + ([QuoteString(rest)] if rest else [])
            return StringCommand(*bits, _separator="")
    if path.startswith("-"):
        path = "./" + path
    return QuoteString(path)


def stat_snippet(path: str) -> StringCommand:
    """Print one stat line for ``path`` (nothing if it does not exist): GNU/BusyBox
    ``stat -c``, then BSD/macOS ``stat -f``, then ``ls -ld``."""
    quoted = shell_path(path)
    return StringCommand(
        "if", "[", "-e", quoted, "]", "||", "[", "-L", quoted, "];", "then",
        "stat", "-c", QuoteString(GNU_STAT_FORMAT), quoted, "2>/dev/null", "||",
        "stat", "-f", QuoteString(BSD_STAT_FORMAT), quoted, "2>/dev/null", "||",
        "ls", "-ld", quoted, ";", "fi",
    )  # fmt: skip


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(int(value), tz=UTC).replace(tzinfo=None)
    except (ValueError, OverflowError, OSError):
        return None


_KINDS = {
    "regular file": "file",
    "regular empty file": "file",
    "directory": "directory",
    "symbolic link": "link",
    "socket": "socket",
    "fifo": "fifo",
    "fifo file": "fifo",
    "character special file": "character",
    "character device": "character",
    "block special file": "block",
    "block device": "block",
    "whiteout": "whiteout",
}
_LS_TYPES = {
    "-": "file",
    "d": "directory",
    "l": "link",
    "s": "socket",
    "p": "fifo",
    "c": "character",
    "b": "block",
}
_LS_LINE = re.compile(
    r"^([-dlspcb])([-rwxsStT]{9})[.@+]?\s+\d+\s+(\S+)\s+(\S+)\s+(?:\d+,\s*)?(\d+)\s+"
    r"(\S+)\s+(\S+)\s+(\S+)\s+(.*)$"
)
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
# rwx triplets: bit values for the characters that may appear at each position.
_PERMISSION_BITS = (
    {"r": 0o400},
    {"w": 0o200},
    {"x": 0o100, "s": 0o4100, "S": 0o4000},
    {"r": 0o040},
    {"w": 0o020},
    {"x": 0o010, "s": 0o2010, "S": 0o2000},
    {"r": 0o004},
    {"w": 0o002},
    {"x": 0o001, "t": 0o1001, "T": 0o1000},
)


def symbolic_mode_bits(text: str) -> int:
    """``rwxr-sr-t`` -> the mode bits (``0o3755``)."""
    bits = 0
    for position, char in enumerate(text[:9]):
        bits |= _PERMISSION_BITS[position].get(char, 0)
    return bits


def _ls_time(month: str, day: str, year_or_time: str) -> datetime | None:
    if day.isdigit() and month in _MONTHS:
        pass
    elif month.isdigit() and day in _MONTHS:  # "22 Jun" (some locales)
        month, day = day, month
    else:
        return None
    try:
        if ":" in year_or_time:
            hour, minute = (int(x) for x in year_or_time.split(":", 1))
            return datetime(datetime.now().year, _MONTHS[month], int(day), hour, minute)
        return datetime(int(year_or_time), _MONTHS[month], int(day))
    except ValueError:
        return None


def parse_stat_output(line: str) -> tuple[str, dict[str, Any]] | None:
    """``(kind, info)`` from a line printed by :func:`stat_snippet`, ``None`` if it is
    neither stat flavour nor ``ls -ld``. ``kind``: file, directory, link, socket,
    fifo, character, block; ``info``: user, group, mode (octal digits as an int, like
    ``644``), size, atime, mtime, ctime (naive UTC datetimes; ``ls`` gives only mtime)."""
    text = line.rstrip("\n")
    fields = text.split("|")
    if len(fields) == 8:
        kind, mode, user, group, size, atime, mtime, ctime = fields
        digits = mode.lstrip("0") or "0"
        return _KINDS.get(kind.strip().lower(), kind.strip().lower()), {
            "user": user,
            "group": group,
            "mode": int(digits) if digits.isdigit() else 0,
            "atime": _when(atime),
            "mtime": _when(mtime),
            "ctime": _when(ctime),
            "size": int(size) if size.isdigit() else 0,
        }
    match = _LS_LINE.match(text)
    if match is None:
        return None
    kind, perms, user, group, size, first, second, year_or_time, _name = match.groups()
    return _LS_TYPES[kind], {
        "user": user,
        "group": group,
        "mode": int(oct(symbolic_mode_bits(perms))[2:]),
        "atime": None,
        "mtime": _ls_time(first, second, year_or_time),
        "ctime": None,
        "size": int(size),
    }


# Hashes ---------------------------------------------------------------------------------

# For each algorithm: the programs that print a digest of their standard input, first
# found wins (GNU/BusyBox *sum, perl shasum on macOS, BSD sha256/md5, then openssl).
HASH_TOOLS: dict[str, tuple[tuple[str, str], ...]] = {
    "md5": (("md5sum", "md5sum"), ("md5", "md5 -q"), ("openssl", "openssl dgst -md5 -r")),
    "sha1": (
        ("sha1sum", "sha1sum"),
        ("shasum", "shasum -a 1"),
        ("sha1", "sha1 -q"),
        ("openssl", "openssl dgst -sha1 -r"),
    ),
    "sha256": (
        ("sha256sum", "sha256sum"),
        ("shasum", "shasum -a 256"),
        ("sha256", "sha256 -q"),
        ("openssl", "openssl dgst -sha256 -r"),
    ),
    "sha384": (
        ("sha384sum", "sha384sum"),
        ("shasum", "shasum -a 384"),
        ("sha384", "sha384 -q"),
        ("openssl", "openssl dgst -sha384 -r"),
    ),
}
HASH_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "sha384": 96}


def hash_stdin_snippet(algorithm: str) -> StringCommand:
    """A command that prints the digest of its standard input with the first available
    tool, or fails with a one-line message naming the tools it looked for."""
    tools = HASH_TOOLS[algorithm]
    bits: list[Any] = []
    for index, (program, command) in enumerate(tools):
        bits += ["if" if index == 0 else "elif", "command", "-v", program, ">/dev/null", "2>&1;"]
        bits += ["then", command, ";"]
    names = ", ".join(program for program, _ in tools)
    message = f"no {algorithm} tool found on the host (looked for {names})"
    bits += ["else", "echo", QuoteString(message), ">&2;", "exit", "127;", "fi"]
    return StringCommand(*bits)


def hash_file_snippet(algorithm: str, path: str) -> StringCommand:
    """Print the digest of ``path`` if it is a regular file (nothing otherwise)."""
    quoted = shell_path(path)
    return StringCommand(
        "if", "[", "-f", quoted, "];", "then", "(", hash_stdin_snippet(algorithm), ")",
        "<", quoted, ";", "fi",
    )  # fmt: skip


def parse_digest(algorithm: str, line: str) -> str | None:
    """The hex digest in a ``*sum``/``shasum``/``openssl -r`` line (``HASH  -``), a bare
    BSD ``-q`` line, or a BSD ``SHA256 (file) = HASH`` line; ``None`` if there is none."""
    text = line.strip()
    if " = " in text:
        text = text.rsplit(" = ", 1)[1]
    token = text.split()[0].lstrip("\\") if text else ""
    length = HASH_LENGTHS[algorithm]
    if len(token) == length and all(c in "0123456789abcdefABCDEF" for c in token):
        return token.lower()
    return None
