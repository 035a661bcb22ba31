"""Facts about files and directories."""

from __future__ import annotations

from typing import Any

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactBase

_STAT = "%F|%a|%U|%G|%s|%Y"


def _parse_stat(line: str) -> dict[str, Any]:
    kind, mode, user, group, size, mtime = line.rsplit("|", 5)
    return {
        "type": kind,
        "mode": int(mode, 8) if mode else 0,
        "user": user,
        "group": group,
        "size": int(size),
        "mtime": int(mtime),
    }


class _StatFact(FactBase["dict[str, Any] | None | bool"]):
    kinds: tuple[str, ...] = ()

    def command(self, path: str) -> StringCommand:
        return StringCommand(
            "stat", "-c", QuoteString(_STAT), "--", QuoteString(path), "2>/dev/null", "||", "true"
        )

    def process(self, output: list[str]) -> dict[str, Any] | None | bool:
        if not output or not output[0].strip():
            return None
        info = _parse_stat(output[0].strip())
        kind = info.pop("type")
        if self.kinds and not any(kind.startswith(k) for k in self.kinds):
            return False
        info["mode"] = int(oct(info["mode"])[2:])
        return info


class File(_StatFact):
    """``None`` if missing, ``False`` if not a regular file, else mode/user/group/size."""

    kinds = ("regular",)


class Directory(_StatFact):
    """``None`` if missing, ``False`` if not a directory, else mode/user/group/size."""

    kinds = ("directory",)


class Link(_StatFact):
    """``None`` if missing, ``False`` if not a symlink, else its details."""

    kinds = ("symbolic link",)

    def command(self, path: str) -> StringCommand:
        return StringCommand(
            "stat", "-c", QuoteString(_STAT), "--", QuoteString(path), "2>/dev/null", "||", "true"
        )


class _HashFact(FactBase["str | None"]):
    tool = "sha256sum"

    def command(self, path: str) -> StringCommand:
        return StringCommand(
            "test", "-f", QuoteString(path), "&&", self.tool, "--", QuoteString(path), "||", "true"
        )

    def process(self, output: list[str]) -> str | None:
        if not output or not output[0].strip():
            return None
        return output[0].split()[0]


class Sha256File(_HashFact):
    """SHA-256 of a file, or ``None`` if it is missing."""

    tool = "sha256sum"


class Sha1File(_HashFact):
    """SHA-1 of a file, or ``None`` if it is missing."""

    tool = "sha1sum"


class Md5File(_HashFact):
    tool = "md5sum"
