"""Resolve a path inside a root directory the way the kernel would after ``chroot``.

Absolute symlinks restart from the root, ``..`` never climbs above it, so a link in
the tree (``etc/x -> /etc/shadow`` or ``../../../etc``) can never lead out of the tree
on the host. The result is a host path inside the root. (Like ``openat2`` with
``RESOLVE_IN_ROOT``, but path based: a tree that someone else changes at the same
moment could still race it, so only use it on trees you control.)
"""

from __future__ import annotations

import errno
import os
import stat

MAX_SYMLINKS = 40


def resolve_in_root(root: str, path: str, follow_last: bool = True) -> str:
    """The host path of ``path`` (as seen inside ``root``), with every symlink resolved
    inside the root. With ``follow_last=False`` a symlink as the last component is
    kept (the result names the link itself). Missing components are kept as they are."""
    root = os.path.realpath(root)
    pending = [p for p in path.split("/") if p not in ("", ".")]
    pending.reverse()  # a stack: next component at the end
    parts: list[str] = []
    hops = 0
    while pending:
        name = pending.pop()
        if name == "..":
            if parts:
                parts.pop()
            continue
        host = os.path.join(root, *parts, name)
        is_last = not pending
        try:
            mode = os.lstat(host).st_mode
        except FileNotFoundError:
            parts.append(name)
            continue
        if stat.S_ISLNK(mode) and (follow_last or not is_last):
            hops += 1
            if hops > MAX_SYMLINKS:
                raise OSError(errno.ELOOP, "too many levels of symbolic links", path)
            target = os.readlink(host)
            if target.startswith("/"):
                parts = []
            pending.extend(reversed([p for p in target.split("/") if p not in ("", ".")]))
            continue
        parts.append(name)
    return os.path.join(root, *parts)
