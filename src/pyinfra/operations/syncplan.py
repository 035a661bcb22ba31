"""Plan the commands that make a remote directory tree match a local one (files.sync)."""

from __future__ import annotations

import fnmatch
import os
import posixpath
from collections.abc import Iterator
from typing import Any

from pyinfra import host
from pyinfra.api.command import FileUploadCommand, QuoteString, StringCommand
from pyinfra.facts.files import TreeInfo
from pyinfra.operations.util import local_sha256, same_mode

# Paths per chmod/chown/rm command: keeps command lines well under ARG_MAX.
BATCH = 200


def local_tree(
    src: str, excludes: list[str], exclude_dirs: list[str]
) -> tuple[list[str], dict[str, str]]:
    """(directories, {file: local path}) under ``src``, relative, after exclusions."""
    directories = ["."]
    files: dict[str, str] = {}
    for root, dirnames, filenames in os.walk(src):
        rel_root = os.path.relpath(root, src)
        kept = []
        for name in sorted(dirnames):
            rel = os.path.normpath(os.path.join(rel_root, name))
            if any(fnmatch.fnmatch(rel, pattern) for pattern in exclude_dirs):
                continue
            kept.append(name)
            directories.append(rel.replace(os.sep, "/"))
        dirnames[:] = kept
        for name in sorted(filenames):
            if any(fnmatch.fnmatch(name, pattern) for pattern in excludes):
                continue
            rel = os.path.normpath(os.path.join(rel_root, name)).replace(os.sep, "/")
            files[rel] = os.path.join(root, name)
    return directories, files


def _batched(command: list[Any], paths: list[str]) -> Iterator[StringCommand]:
    for start in range(0, len(paths), BATCH):
        chunk = paths[start : start + BATCH]
        yield StringCommand(*command, "--", *[QuoteString(p) for p in chunk])


def _needs(entry: dict[str, Any] | None, user: str | None, group: str | None) -> bool:
    if entry is None:
        return bool(user or group)
    return (user is not None and entry.get("user") != user) or (
        group is not None and entry.get("group") != group
    )


def sync_commands(
    src: str,
    dest: str,
    user: str | None,
    group: str | None,
    mode: str | None,
    dir_mode: str | None,
    delete: bool,
    excludes: list[str],
    exclude_dirs: list[str],
) -> Iterator[Any]:
    directories, files = local_tree(src, excludes, exclude_dirs)
    remote: dict[str, dict[str, Any]] = host.get_fact(TreeInfo, path=dest) or {}

    def full(rel: str) -> str:
        return dest if rel == "." else posixpath.join(dest, rel)

    missing_dirs = [d for d in directories if remote.get(d, {}).get("type") != "directory"]
    if missing_dirs:
        yield from _batched(["mkdir", "-p"], [full(d) for d in missing_dirs])
    for rel, local_path in files.items():
        entry = remote.get(rel)
        if (
            entry is None
            or entry.get("type") != "file"
            or entry.get("sha256") != local_sha256(local_path)
        ):
            yield FileUploadCommand(local_path, full(rel))

    chmod_dirs = [
        full(d)
        for d in directories
        if dir_mode and not same_mode(dir_mode, remote.get(d, {}).get("mode"))
    ]
    chmod_files = [
        full(f) for f in files if mode and not same_mode(mode, remote.get(f, {}).get("mode"))
    ]
    if dir_mode and chmod_dirs:
        yield from _batched(["chmod", dir_mode], chmod_dirs)
    if mode and chmod_files:
        yield from _batched(["chmod", mode], chmod_files)
    owned = [full(p) for p in [*directories, *files] if _needs(remote.get(p), user, group)]
    if owned:
        owner = f"{user or ''}:{group}" if group else str(user)
        yield from _batched(["chown", QuoteString(owner)], owned)

    if delete:
        extra = [
            rel
            for rel, entry in remote.items()
            if entry.get("type") in ("file", "link")
            and rel not in files
            and not _excluded(rel, excludes, exclude_dirs)
        ]
        if extra:
            yield from _batched(["rm", "-f"], [full(rel) for rel in sorted(extra)])


def _excluded(rel: str, excludes: list[str], exclude_dirs: list[str]) -> bool:
    if any(fnmatch.fnmatch(posixpath.basename(rel), p) for p in excludes):
        return True
    parent = posixpath.dirname(rel)
    while parent:
        if any(fnmatch.fnmatch(parent, p) for p in exclude_dirs):
            return True
        parent = posixpath.dirname(parent)
    return False
