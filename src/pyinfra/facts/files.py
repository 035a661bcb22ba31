"""Facts about files, directories and links on the host.

Every fact here takes the path it describes as its ``path`` argument, which is what
lets operations invalidate exactly the facts about the paths they change.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactBase

_STAT_FORMAT = "%F|%a|%U|%G|%s|%X|%Y|%Z"


def _when(value: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC).replace(tzinfo=None)
    except (ValueError, OverflowError, OSError):
        return None


def parse_stat_line(line: str) -> tuple[str, dict[str, Any]]:
    """``(kind, info)`` from one line of ``stat -c _STAT_FORMAT`` output."""
    kind, mode, user, group, size, atime, mtime, ctime = line.strip().split("|")
    return kind, {
        "user": user,
        "group": group,
        "mode": int(mode) if mode.isdigit() else 0,
        "atime": _when(atime),
        "mtime": _when(mtime),
        "ctime": _when(ctime),
        "size": int(size) if size.isdigit() else 0,
    }


def _stat_command(path: str, extra: list[Any] | None = None) -> StringCommand:
    quoted = QuoteString(path)
    return StringCommand(
        "if", "[", "-e", quoted, "]", "||", "[", "-L", quoted, "];", "then",
        "stat", "-c", QuoteString(_STAT_FORMAT), "--", quoted, *(extra or []), ";", "fi",
    )  # fmt: skip


class _StatFact(FactBase["dict[str, Any] | None | bool"]):
    """``None`` if the path does not exist, ``False`` if it is another kind of thing."""

    abstract = True
    kinds: tuple[str, ...] = ()

    def command(self, path: str) -> StringCommand:
        return _stat_command(path)

    def process(self, output: list[str]) -> dict[str, Any] | None | bool:
        lines = [line for line in output if line.strip()]
        if not lines:
            return None
        kind, info = parse_stat_line(lines[0])
        if not any(kind.startswith(k) for k in self.kinds):
            return False
        return info


class File(_StatFact):
    """A regular file: ``{user, group, mode, size, atime, mtime, ctime}``,
    ``None`` if missing, ``False`` if the path is not a regular file."""

    kinds = ("regular",)


class Directory(_StatFact):
    """A directory: ``{user, group, mode, size, atime, mtime, ctime}``,
    ``None`` if missing, ``False`` if the path is not a directory."""

    kinds = ("directory",)


class Link(_StatFact):
    """A symbolic link: the stat details plus ``link_target``,
    ``None`` if missing, ``False`` if the path is not a symbolic link."""

    kinds = ("symbolic link",)

    def command(self, path: str) -> StringCommand:
        return _stat_command(
            path, ["&&", "{", "readlink", "--", QuoteString(path), "||", "true;", "}"]
        )

    def process(self, output: list[str]) -> dict[str, Any] | None | bool:
        info = super().process(output)
        if isinstance(info, dict):
            info["link_target"] = output[1] if len(output) > 1 else ""
        return info


class FileInfo(_StatFact):
    """``File`` plus the file's ``sha256``, in one command (what uploads compare)."""

    kinds = ("regular",)

    def command(self, path: str) -> StringCommand:
        quoted = QuoteString(path)
        return _stat_command(
            path,
            ["&&", "{", "if", "[", "-f", quoted, "]", "&&", "[", "!", "-L", quoted, "];",
             "then", "sha256sum", "--", quoted, ";", "fi;", "}"],
        )  # fmt: skip

    def process(self, output: list[str]) -> dict[str, Any] | None | bool:
        info = super().process(output)
        if isinstance(info, dict):
            digest = output[1].split()[0].lstrip("\\") if len(output) > 1 else None
            info["sha256"] = digest
        return info


class _HashFact(FactBase["str | None"]):
    """Checksum of a regular file, or ``None`` if it is missing or not a file."""

    abstract = True
    tool = "sha256sum"

    def command(self, path: str) -> StringCommand:
        quoted = QuoteString(path)
        return StringCommand(
            "if", "[", "-f", quoted, "];", "then", self.tool, "--", quoted, ";", "fi"
        )  # fmt: skip

    def process(self, output: list[str]) -> str | None:
        if not output or not output[0].strip():
            return None
        return output[0].split()[0].lstrip("\\")


class Sha256File(_HashFact):
    """SHA-256 of a file, or ``None`` if it is missing."""

    tool = "sha256sum"


class Sha1File(_HashFact):
    """SHA-1 of a file, or ``None`` if it is missing."""

    tool = "sha1sum"


class Md5File(_HashFact):
    """MD5 of a file, or ``None`` if it is missing."""

    tool = "md5sum"


class Inode(FactBase["str | None"]):
    """``device:inode`` of what ``path`` points to, or ``None`` if it is missing
    (two paths with the same value are hard links to one file)."""

    def command(self, path: str) -> StringCommand:
        quoted = QuoteString(path)
        return StringCommand(
            "if", "[", "-e", quoted, "];", "then", "stat", "-L", "-c", "%d:%i", "--", quoted,
            ";", "fi",
        )  # fmt: skip

    def process(self, output: list[str]) -> str | None:
        return output[0].strip() if output and output[0].strip() else None


class FileContents(FactBase["list[str] | None"]):
    """The lines of a text file, or ``None`` if it is missing."""

    def command(self, path: str) -> StringCommand:
        quoted = QuoteString(path)
        return StringCommand("if", "[", "-f", quoted, "];", "then", "cat", "--", quoted, ";", "fi")

    def process(self, output: list[str]) -> list[str] | None:
        return output


_MISSING = "pyinfra-missing"
_PRESENT = "pyinfra-present"


class FileBytes(FactBase["bytes | None"]):
    """The exact bytes of a file (transferred as base64), or ``None`` if it is missing.

    Used by operations that edit files (``files.line``, ``files.replace``).
    """

    def command(self, path: str) -> StringCommand:
        quoted = QuoteString(path)
        return StringCommand(
            "if", "[", "-f", quoted, "];", "then", "echo", _PRESENT, "&&", "base64", "<", quoted,
            ";", "else", "echo", _MISSING, ";", "fi",
        )  # fmt: skip

    def process(self, output: list[str]) -> bytes | None:
        if not output or output[0].strip() != _PRESENT:
            return None
        return base64.b64decode("".join(line.strip() for line in output[1:]))


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
        bits: list[Any] = ["find", QuoteString(path) if quote_path else path]
        if maxdepth is not None:
            bits += ["-maxdepth", str(int(maxdepth))]
        bits += ["-type", self.type_flag]
        for flag, value in (
            ("-size", size),
            ("-size", None if min_size is None else f"+{min_size}"),
            ("-size", None if max_size is None else f"-{max_size}"),
            ("-name", fname),
            ("-iname", iname),
            ("-regex", regex),
            ("-path", path_match),
        ):
            if value is not None:
                bits += [flag, QuoteString(str(value))]
        bits += [QuoteString(arg) for arg in args or []]
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


_TREE_MARK = "--pyinfra-sha256--"


class TreeInfo(FactBase["dict[str, dict[str, Any]] | None"]):
    """Everything under a directory in one command, for ``files.sync``.

    ``{relative_path: {type: "file"|"directory"|"link"|..., mode, user, group,
    sha256 (files)}}`` (the root itself is ``"."``), ``None`` if ``path`` is missing.
    """

    covers_subtree = True

    def command(self, path: str) -> StringCommand:
        quoted = QuoteString(path)
        return StringCommand(
            "if", "[", "-d", quoted, "];", "then", "cd", "--", quoted, "&&",
            "find", ".", "-exec", "stat", "-c", QuoteString("%F|%a|%U|%G|%n"), "{}", "+",
            "&&", "echo", _TREE_MARK, "&&",
            "find", ".", "-type", "f", "-exec", "sha256sum", "{}", "+", ";", "fi",
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
                digest, _, name = line.partition("  ")
                entry = tree.get(_relative(name))
                if entry is not None:
                    entry["sha256"] = digest.lstrip("\\")
                continue
            kind, mode, user, group, name = line.split("|", 4)
            tree[_relative(name)] = {
                "type": _kind(kind),
                "mode": int(mode) if mode.isdigit() else 0,
                "user": user,
                "group": group,
            }
        return tree


def _relative(name: str) -> str:
    if name == ".":
        return "."
    return name[2:] if name.startswith("./") else name


def _kind(stat_kind: str) -> str:
    if stat_kind.startswith("regular"):
        return "file"
    if stat_kind == "symbolic link":
        return "link"
    return stat_kind
