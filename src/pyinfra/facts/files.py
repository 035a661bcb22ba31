"""Facts about files, directories, links and their contents on the host.

Every fact here takes the path it describes as its ``path`` argument, which is what
lets operations invalidate exactly the facts about the paths they change. Paths may
start with ``~`` / ``~/`` / ``~user/`` (expanded by the host's shell) and may be
``pathlib`` paths. The commands work on GNU, BusyBox, BSD and macOS userlands (see
:mod:`pyinfra.facts.filecommands`).
"""

from __future__ import annotations

import base64
import re
from typing import Any

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactBase
from pyinfra.facts.filecommands import (
    _KINDS,
    BSD_STAT_FORMAT,
    GNU_STAT_FORMAT,
    hash_file_snippet,
    hash_stdin_snippet,
    parse_digest,
    parse_stat_output,
    shell_path,
    stat_snippet,
)
from pyinfra.facts.parsing import first_line

__all__ = [
    "Block",
    "Directory",
    "File",
    "FileContents",
    "FindDirectories",
    "FindFiles",
    "FindInFile",
    "FindLinks",
    "Flags",
    "Link",
    "Md5File",
    "Sha1File",
    "Sha256File",
    "Sha384File",
    "Socket",
    "MARKER_DEFAULT",
    "MARKER_BEGIN_DEFAULT",
    "MARKER_END_DEFAULT",
]


def parse_stat_line(line: str) -> tuple[str, dict[str, Any]]:
    """``(kind, info)`` from one stat line (kept for callers of the old name)."""
    parsed = parse_stat_output(line)
    if parsed is None:
        raise ValueError(f"unexpected stat output: {line!r}")
    return parsed


# Stat facts -----------------------------------------------------------------------------


class _StatFact(FactBase["dict[str, Any] | None | bool"]):
    """``None`` if the path does not exist, ``False`` if it is another kind of thing."""

    abstract = True
    kind = "file"

    def command(self, path: str) -> StringCommand:
        return stat_snippet(path)

    def process(self, output: list[str]) -> dict[str, Any] | None | bool:
        lines = [line for line in output if line.strip()]
        if not lines:
            return None
        parsed = parse_stat_output(lines[0])
        if parsed is None:
            raise ValueError(f"unexpected stat output: {lines[0]!r}")
        kind, info = parsed
        if kind != self.kind:
            return False
        return info


class File(_StatFact):
    """A regular file: ``{user, group, mode, size, atime, mtime, ctime}``,
    ``None`` if missing, ``False`` if the path is not a regular file."""

    kind = "file"


class Directory(_StatFact):
    """A directory: ``{user, group, mode, size, atime, mtime, ctime}``,
    ``None`` if missing, ``False`` if the path is not a directory."""

    kind = "directory"


class Socket(_StatFact):
    """A unix socket: ``{user, group, mode, size, atime, mtime, ctime}``,
    ``None`` if missing, ``False`` if the path is not a socket."""

    kind = "socket"


class Link(_StatFact):
    """A symbolic link: the stat details plus ``link_target``,
    ``None`` if missing, ``False`` if the path is not a symbolic link."""

    kind = "link"

    def command(self, path: str) -> StringCommand:
        return StringCommand(
            stat_snippet(path), "&&", "{", "[", "!", "-L", shell_path(path), "]", "||",
            "readlink", shell_path(path), "||", "true;", "}",
        )  # fmt: skip

    def process(self, output: list[str]) -> dict[str, Any] | None | bool:
        info = super().process(output)
        if isinstance(info, dict):
            info["link_target"] = output[1] if len(output) > 1 else ""
        return info


class FileInfo(_StatFact):
    """``File`` plus the file's ``sha256``, in one command (what uploads compare)."""

    kind = "file"

    def command(self, path: str) -> StringCommand:
        quoted = shell_path(path)
        return StringCommand(
            stat_snippet(path), "&&", "{", "if", "[", "-f", quoted, "]", "&&",
            "[", "!", "-L", quoted, "];", "then", "(", hash_stdin_snippet("sha256"), ")",
            "<", quoted, ";", "fi;", "}",
        )  # fmt: skip

    def process(self, output: list[str]) -> dict[str, Any] | None | bool:
        info = super().process(output)
        if isinstance(info, dict):
            info["sha256"] = parse_digest("sha256", output[1]) if len(output) > 1 else None
        return info


# Checksums ------------------------------------------------------------------------------


class _HashFact(FactBase["str | None"]):
    """Checksum of a regular file, or ``None`` if it is missing or not a file."""

    abstract = True
    algorithm = "sha256"

    def command(self, path: str) -> StringCommand:
        return hash_file_snippet(self.algorithm, path)

    def process(self, output: list[str]) -> str | None:
        return parse_digest(self.algorithm, output[0]) if output else None


class Md5File(_HashFact):
    """MD5 of a file, or ``None`` if it is missing."""

    algorithm = "md5"


class Sha1File(_HashFact):
    """SHA-1 of a file, or ``None`` if it is missing."""

    algorithm = "sha1"


class Sha256File(_HashFact):
    """SHA-256 of a file, or ``None`` if it is missing."""

    algorithm = "sha256"


class Sha384File(_HashFact):
    """SHA-384 of a file, or ``None`` if it is missing."""

    algorithm = "sha384"


class Inode(FactBase["str | None"]):
    """``device:inode`` of what ``path`` points to (``ls:inode`` on a host without
    ``stat``), or ``None`` if it is missing (two paths with the same value are hard
    links to one file)."""

    def command(self, path: str) -> StringCommand:
        quoted = shell_path(path)
        return StringCommand(
            "if", "[", "-e", quoted, "];", "then", "stat", "-L", "-c", "%d:%i", quoted,
            "2>/dev/null", "||", "stat", "-L", "-f", "%d:%i", quoted, "2>/dev/null", "||",
            "ls", "-Lid", quoted, "|", "awk", "'{print \"ls:\" $1}'", ";", "fi",
        )  # fmt: skip

    def process(self, output: list[str]) -> str | None:
        return output[0].strip() if output and output[0].strip() else None


class FileAge(FactBase["int | None"]):
    """Seconds since ``path`` was last modified, by the host's clock, or ``None`` if
    it does not exist (for ``files.download(cache_time=...)``)."""

    def command(self, path: str) -> StringCommand:
        quoted = shell_path(path)
        return StringCommand(
            "if", "[", "-e", quoted, "];", "then", "date", "+%s", "&&",
            "{", "stat", "-c", "%Y", quoted, "2>/dev/null", "||", "stat", "-f", "%m", quoted,
            ";", "}", ";", "fi",
        )  # fmt: skip

    def process(self, output: list[str]) -> int | None:
        now, mtime = int(output[0]), int(output[1])
        return now - mtime


class UtcOffset(FactBase["int"]):
    """The host's offset from UTC in seconds (``date +%z``), for naive datetimes."""

    stable = True

    def command(self) -> str:
        return "date +%z"

    def process(self, output: list[str]) -> int:
        text = output[0].strip()
        sign = -1 if text.startswith("-") else 1
        digits = text.lstrip("+-")
        return sign * (int(digits[:2]) * 3600 + int(digits[2:4]) * 60)


# Contents -------------------------------------------------------------------------------

_PRESENT = "__pyinfra_present__"
_MISSING = "__pyinfra_missing__"


class FileContents(FactBase["list[str] | None"]):
    """The lines of a text file (``[]`` for an empty file), or ``None`` if it is missing."""

    def command(self, path: str) -> StringCommand:
        quoted = shell_path(path)
        return StringCommand(
            "if", "[", "-f", quoted, "];", "then", "echo", _PRESENT, "&&", "cat", quoted, ";",
            "fi",
        )  # fmt: skip

    def process(self, output: list[str]) -> list[str] | None:
        if not output or output[0] != _PRESENT:
            return None
        return output[1:]


class FileBytes(FactBase["bytes | None"]):
    """The exact bytes of a file (transferred as base64), or ``None`` if it is missing.

    For small files whose exact bytes matter (``server.user``'s authorized keys).
    """

    def command(self, path: str) -> StringCommand:
        quoted = shell_path(path)
        return StringCommand(
            "if", "[", "-f", quoted, "];", "then", "echo", _PRESENT, "&&",
            "{", "base64", "<", quoted, "2>/dev/null", "||", "openssl", "base64", "<", quoted,
            ";", "}", ";", "else", "echo", _MISSING, ";", "fi",
        )  # fmt: skip

    def process(self, output: list[str]) -> bytes | None:
        if not output or output[0].strip() != _PRESENT:
            return None
        return base64.b64decode("".join(line.strip() for line in output[1:]))


def interpolated(pattern: str) -> StringCommand:
    """``pattern`` in double quotes: the host's shell expands ``$VAR`` and ``${VAR}``
    in it (``interpolate_variables=True``), but never runs ``$(...)`` or backticks."""
    escaped = (
        pattern.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$(", "\\$(")
    )
    return StringCommand(f'"{escaped}"')


def grep_pattern(pattern: str, interpolate_variables: bool) -> QuoteString | StringCommand:
    return interpolated(pattern) if interpolate_variables else QuoteString(pattern)


class FindInFile(FactBase["list[str] | None"]):
    """The lines of a file that match a grep pattern (``[]`` if none match), or
    ``None`` if the file does not exist."""

    def command(
        self,
        path: str,
        pattern: str,
        interpolate_variables: bool = False,
        extended_regex: bool = False,
    ) -> StringCommand:
        quoted = shell_path(path)
        grep = ["grep", "-E"] if extended_regex else ["grep"]
        return StringCommand(
            "if", "[", "-f", quoted, "];", "then", "echo", _PRESENT, "&&",
            "{", *grep, "-e", grep_pattern(pattern, interpolate_variables), quoted, "||",
            "[", "$?", "-eq", "1", "];", "}", ";", "fi",
        )  # fmt: skip

    def process(self, output: list[str]) -> list[str] | None:
        if not output or output[0] != _PRESENT:
            return None
        return output[1:]


_EXACT = "__pyinfra_exact__"


class MatchingLines(FactBase["dict[str, Any] | None"]):
    """What ``files.line``/``files.replace`` need, in one grep pass each:
    ``{"lines": [lines matching pattern], "exact": bool}`` (``exact``: the file has a
    line equal to ``exact``), or ``None`` if the file does not exist."""

    def command(
        self,
        path: str,
        pattern: str,
        exact: str | None = None,
        interpolate_variables: bool = False,
        extended_regex: bool = False,
        ignore_case: bool = False,
    ) -> StringCommand:
        quoted = shell_path(path)
        grep = ["grep", *(["-E"] if extended_regex else []), *(["-i"] if ignore_case else [])]
        bits: list[Any] = [
            "if", "[", "-f", quoted, "];", "then", "echo", _PRESENT, "&&",
            "{", *grep, "-e", grep_pattern(pattern, interpolate_variables), quoted, "||",
            "[", "$?", "-eq", "1", "];", "}",
        ]  # fmt: skip
        if exact is not None:
            bits += [
                "&&", "{", "!", "grep", "-qxF", "-e", grep_pattern(exact, interpolate_variables),
                quoted, "||", "echo", _EXACT, ";", "}",
            ]  # fmt: skip
        return StringCommand(*bits, ";", "fi")

    def process(self, output: list[str]) -> dict[str, Any] | None:
        if not output or output[0] != _PRESENT:
            return None
        lines = output[1:]
        exact = bool(lines) and lines[-1] == _EXACT
        return {"lines": lines[:-1] if exact else lines, "exact": exact}


# Blocks between markers -----------------------------------------------------------------

MARKER_DEFAULT = "# {mark} PYINFRA BLOCK"
MARKER_BEGIN_DEFAULT = "BEGIN"
MARKER_END_DEFAULT = "END"


def block_markers(marker: str | None, begin: str | None, end: str | None) -> tuple[str, str]:
    """The begin and end marker lines of a ``files.block``."""
    template = marker or MARKER_DEFAULT
    first = template.format(mark=begin or MARKER_BEGIN_DEFAULT)
    last = template.format(mark=end or MARKER_END_DEFAULT)
    if first == last:
        raise ValueError(f"the begin and end markers must differ, both are {first!r}")
    return first, last


# Prints the lines between the first begin marker and the next end marker, then one
# status line: found (both markers), open (a begin marker without an end) or absent.
_BLOCK_AWK = (
    'index($0, ENVIRON["PYI_E"]) && state == 1 { state = 2; next } '
    "state == 1 { print } "
    'index($0, ENVIRON["PYI_B"]) && state == 0 { state = 1 } '
    'END { print (state == 2 ? "__pyinfra_block_found__" : '
    '(state == 1 ? "__pyinfra_block_open__" : "__pyinfra_block_absent__")) }'
)


def _block_command(path: str, marker: str | None, begin: str | None, end: str | None) -> Any:
    first, last = block_markers(marker, begin, end)
    quoted = shell_path(path)
    return StringCommand(
        "if", "[", "-f", quoted, "];", "then",
        StringCommand("PYI_B=", QuoteString(first), _separator=""),
        StringCommand("PYI_E=", QuoteString(last), _separator=""),
        "awk", QuoteString(_BLOCK_AWK), quoted, ";", "fi",
    )  # fmt: skip


class BlockSection(FactBase["dict[str, Any] | None"]):
    """What ``files.block`` needs: ``{"state": "found"|"open"|"absent", "lines": [...]}``
    (``open``: a begin marker without an end marker), ``None`` if the file is missing."""

    def command(
        self, path: str, marker: str | None = None, begin: str | None = None, end: str | None = None
    ) -> StringCommand:
        return _block_command(path, marker, begin, end)  # type: ignore[no-any-return]

    def process(self, output: list[str]) -> dict[str, Any] | None:
        status = output[-1].removeprefix("__pyinfra_block_").removesuffix("__")
        lines = output[:-1]
        return {"state": status, "lines": lines if status == "found" else []}


class Block(FactBase["list[str] | None"]):
    """The lines between the block markers (``[]`` if the markers are not there),
    or ``None`` if the file does not exist."""

    @staticmethod
    def default() -> list[str] | None:
        return None

    def command(
        self, path: str, marker: str | None = None, begin: str | None = None, end: str | None = None
    ) -> StringCommand:
        return _block_command(path, marker, begin, end)  # type: ignore[no-any-return]

    def process(self, output: list[str]) -> list[str] | None:
        status = output[-1]
        return output[:-1] if status == "__pyinfra_block_found__" else []


# BSD/macOS file flags -------------------------------------------------------------------


class Flags(FactBase["list[str] | None"]):
    """The BSD/macOS file flags of a path (``chflags``: ``["uchg", "hidden"]``), ``[]``
    when none are set; ``None`` if the path is missing or the host has no ``chflags``."""

    def requires_command(self, path: str) -> str:
        return "chflags"

    def command(self, path: str) -> StringCommand:
        quoted = shell_path(path)
        return StringCommand(
            "if", "[", "-e", quoted, "]", "||", "[", "-L", quoted, "];", "then",
            "stat", "-f", "%Sf", quoted, ";", "fi",
        )  # fmt: skip

    def process(self, output: list[str]) -> list[str] | None:
        text = first_line(output)
        return [flag for flag in text.split(",") if flag and flag != "-"]


# find -----------------------------------------------------------------------------------

_SIZE_UNITS = {
    "": 1,
    "B": 1,
    "C": 1,
    "K": 1024,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
}


def parse_size(size: str | int) -> int:
    """Bytes from ``1024``, ``"10KB"`` (10**3), ``"1 GiB"`` (2**30)..."""
    if isinstance(size, int):
        return size
    match = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", size)
    unit = match.group(2).upper() if match else None
    if match is None or unit not in _SIZE_UNITS:
        raise ValueError(f"not a size: {size!r} (use bytes or e.g. 10KB, 1GiB)")
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


class _FindFact(FactBase["list[str]"]):
    abstract = True
    covers_subtree = True
    type_flag = "f"

    @staticmethod
    def default() -> list[str]:
        return []

    def command(
        self,
        path: str,
        size: str | int | None = None,
        min_size: str | int | None = None,
        max_size: str | int | None = None,
        maxdepth: int | None = None,
        fname: str | None = None,
        iname: str | None = None,
        regex: str | None = None,
        path_match: str | None = None,
        args: list[str] | None = None,
        quote_path: bool = True,
    ) -> StringCommand:
        extra = list(args or [])
        start = shell_path(path) if quote_path else path
        bits: list[Any] = ["find", start, "-type", self.type_flag]
        if "-size" not in extra:
            for prefix, value in (("+", min_size), ("-", max_size), ("", size)):
                if value is not None:
                    bits += ["-size", f"{prefix}{parse_size(value)}c"]
        if maxdepth is not None and "-maxdepth" not in extra:
            bits += ["-maxdepth", str(int(maxdepth))]
        for flag, value in (
            ("-name", fname),
            ("-iname", iname),
            ("-regex", regex),
            ("-path", path_match),
        ):
            if value is not None and flag not in extra:
                bits += [flag, QuoteString(str(value))]
        bits += [QuoteString(arg) for arg in extra]
        return StringCommand(*bits, "2>/dev/null", "||", "true")

    def process(self, output: list[str]) -> list[str]:
        return [line for line in output if line]


class FindFiles(_FindFact):
    """Paths of the regular files under ``path`` (``find -type f``)."""

    type_flag = "f"


class FindDirectories(_FindFact):
    """Paths of the directories under ``path`` (``find -type d``)."""

    type_flag = "d"


class FindLinks(_FindFact):
    """Paths of the symbolic links under ``path`` (``find -type l``)."""

    type_flag = "l"


# Whole trees (files.sync) ---------------------------------------------------------------

_TREE_MARK = "--pyinfra-sha256--"
_TREE_STAT = "%F|%a|%U|%G|%n"
_TREE_BSD_STAT = "%HT|%Mp%Lp|%Su|%Sg|%N"


class TreeInfo(FactBase["dict[str, dict[str, Any]] | None"]):
    """Everything under a directory in one command, for ``files.sync``.

    ``{relative_path: {type: "file"|"directory"|"link"|..., mode, user, group,
    sha256 (files)}}`` (the root itself is ``"."``), ``None`` if ``path`` is missing.
    """

    covers_subtree = True

    def command(self, path: str) -> StringCommand:
        quoted = shell_path(path)
        hasher = StringCommand(
            "if", "command", "-v", "sha256sum", ">/dev/null", "2>&1;", "then", "set", "--",
            "sha256sum;", "elif", "command", "-v", "shasum", ">/dev/null", "2>&1;", "then",
            "set", "--", "shasum", "-a", "256;", "elif", "command", "-v", "sha256", ">/dev/null",
            "2>&1;", "then", "set", "--", "sha256", "-r;", "else", "set", "--", "openssl",
            "dgst", "-sha256", "-r;", "fi;",
        )  # fmt: skip
        return StringCommand(
            "if", "[", "-d", quoted, "];", "then", "cd", quoted, "&&",
            "if", "stat", "-c", "%n", ".", ">/dev/null", "2>&1;", "then",
            "find", ".", "-exec", "stat", "-c", QuoteString(_TREE_STAT), "{}", "+;",
            "else", "find", ".", "-exec", "stat", "-f", QuoteString(_TREE_BSD_STAT), "{}", "+;",
            "fi", "&&", "echo", _TREE_MARK, "&&", hasher,
            "find", ".", "-type", "f", "-exec", '"$@"', "{}", "+", ";", "fi",
        )  # fmt: skip

    def process(self, output: list[str]) -> dict[str, dict[str, Any]] | None:
        if not output:
            return None
        tree: dict[str, dict[str, Any]] = {}
        hashing = False
        for line in output:
            if line == _TREE_MARK:
                hashing = True
                continue
            if hashing:
                digest, _, name = line.partition(" ")
                entry = tree.get(_relative(name.lstrip(" *")))
                if entry is not None:
                    entry["sha256"] = digest.lstrip("\\").lower()
                continue
            kind, mode, user, group, name = line.split("|", 4)
            digits = mode.lstrip("0") or "0"
            tree[_relative(name)] = {
                "type": _kind(kind),
                "mode": int(digits) if digits.isdigit() else 0,
                "user": user,
                "group": group,
            }
        return tree


def _relative(name: str) -> str:
    if name == ".":
        return "."
    return name[2:] if name.startswith("./") else name


def _kind(stat_kind: str) -> str:
    return _KINDS.get(stat_kind.strip().lower(), stat_kind.strip().lower())


# Kept importable for code written against the earlier layout of this module.
_STAT_FORMAT = GNU_STAT_FORMAT
_BSD_STAT_FORMAT = BSD_STAT_FORMAT
