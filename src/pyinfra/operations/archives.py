"""Archive formats for ``files.unarchive``, and what a local archive would extract.

The extraction itself runs on the host (``tar`` or ``unzip``). For an archive on this
machine the member list and each file's SHA-256 are read here (``tarfile``/``zipfile``)
so the operation can compare them with the destination tree and skip an extraction
that would change nothing.
"""

from __future__ import annotations

import hashlib
import posixpath
import tarfile
import zipfile
from typing import Any

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.facts.filecommands import shell_path

_TAR_FLAGS = {
    ".tar": ["-x"],
    ".tar.gz": ["-xz"],
    ".tgz": ["-xz"],
    ".tar.bz2": ["-xj"],
    ".tbz2": ["-xj"],
    ".tar.xz": ["-xJ"],
    ".txz": ["-xJ"],
    ".tar.zst": ["-x", "--zstd"],
}
SUPPORTED = (*_TAR_FLAGS, ".zip")


def archive_format(name: str) -> tuple[str, list[str]] | None:
    """``("tar", flags)`` or ``("unzip", ["-o"])`` from the file name, ``None`` if unknown."""
    lower = name.lower()
    for suffix, flags in sorted(_TAR_FLAGS.items(), key=lambda item: -len(item[0])):
        if lower.endswith(suffix):
            return "tar", flags
    if lower.endswith(".zip"):
        return "unzip", ["-o"]
    return None


def extract_command(
    tool: str, flags: list[str], archive: str, dest: str, extra: list[str]
) -> StringCommand:
    extras = [QuoteString(option) for option in extra]
    if tool == "tar":
        return StringCommand(
            "tar", *flags, *extras, "-f", shell_path(archive), "-C", shell_path(dest)
        )
    return StringCommand(
        "unzip", "-q", *flags, *extras, shell_path(archive), "-d", shell_path(dest)
    )


def _normal(name: str) -> str | None:
    path = posixpath.normpath(name.lstrip("/"))
    if path in (".", "") or path.startswith("../"):
        return None
    return path


def local_members(path: str, tool: str) -> dict[str, dict[str, Any]] | None:
    """``{relative path: {"type": "file"|"directory"|"link", "sha256"?}}`` of a local
    archive, ``None`` when it cannot be read here (the operation then always extracts)."""
    members: dict[str, dict[str, Any]] = {}
    try:
        if tool == "unzip":
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    name = _normal(info.filename)
                    if name is None:
                        continue
                    if info.is_dir():
                        members[name] = {"type": "directory"}
                    else:
                        digest = hashlib.sha256(archive.read(info)).hexdigest()
                        members[name] = {"type": "file", "sha256": digest}
            return members
        with tarfile.open(path) as archive:
            for member in archive.getmembers():
                name = _normal(member.name)
                if name is None:
                    continue
                if member.isdir():
                    members[name] = {"type": "directory"}
                elif member.issym():
                    members[name] = {"type": "link"}
                elif member.isfile():
                    handle = archive.extractfile(member)
                    if handle is None:
                        return None
                    digest = hashlib.sha256(handle.read()).hexdigest()
                    members[name] = {"type": "file", "sha256": digest}
                else:
                    return None
        return members
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError):
        return None


def already_extracted(
    members: dict[str, dict[str, Any]], tree: dict[str, dict[str, Any]] | None
) -> bool:
    """Every member is in ``tree`` (a ``TreeInfo`` of the destination) as the same
    kind of entry, files with the same SHA-256."""
    if tree is None:
        return False
    for name, wanted in members.items():
        entry = tree.get(name)
        if entry is None or entry.get("type") != wanted["type"]:
            return False
        if wanted["type"] == "file" and entry.get("sha256") != wanted["sha256"]:
            return False
    return True
