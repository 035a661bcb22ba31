"""Helpers shared by the built-in operations (argument checks, ownership, diffs)."""

from __future__ import annotations

import difflib
import hashlib
import os
import posixpath
from typing import Any

from pyinfra import context
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.results import OperationDiff

MAX_DIFF_BYTES = 1024 * 1024


def fail(op: str, message: str) -> OperationValueError:
    """An ``OperationValueError`` with the operation's name in front."""
    return OperationValueError(f"{op}: {message}")


def local_sha256(path: str) -> str:
    """The SHA-256 of a file on this machine (read in blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def parse_mode(op: str, mode: Any, argument: str = "mode") -> str | None:
    """``644``, ``"0644"``, ``"u=rw"``... -> the octal digits (``"644"``) or ``None``.

    Integers are read as their decimal digits (``mode=644`` means ``0o644``), as in
    pyinfra; symbolic modes are not accepted (give the octal form).
    """
    if mode is None:
        return None
    if isinstance(mode, bool):
        raise fail(op, f"argument {argument} must be an octal mode like 644, got {mode!r}")
    text = str(mode).strip()
    if text.startswith("0o"):
        text = text[2:]
    digits = text.lstrip("0") or "0"
    if not digits.isdigit() or any(c in "89" for c in digits) or len(digits) > 4:
        raise fail(op, f"argument {argument} must be an octal mode like 644, got {mode!r}")
    return digits


def same_mode(wanted: str | None, current: Any) -> bool:
    if wanted is None:
        return True
    try:
        return int(wanted, 8) == int(str(current), 8)
    except ValueError:
        return False


def check_path(op: str, value: Any, argument: str = "path") -> str:
    if not isinstance(value, str) or not value:
        raise fail(op, f"argument {argument} must be a non-empty string, got {value!r}")
    if "\0" in value or "\n" in value:
        raise fail(op, f"argument {argument} must not contain NUL or newline characters")
    return value


def check_name(op: str, value: Any, argument: str) -> str:
    """User and group names: non-empty, no leading dash, no colon or whitespace."""
    if not isinstance(value, str) or not value:
        raise fail(op, f"argument {argument} must be a non-empty string, got {value!r}")
    if value.startswith("-") or any(c in value for c in ":\n\t ,"):
        raise fail(op, f"argument {argument} is not a valid name: {value!r}")
    return value


def chmod(path: str, mode: str, recursive: bool = False) -> StringCommand:
    return StringCommand("chmod", *(["-R"] if recursive else []), mode, "--", QuoteString(path))


def chown(
    path: str,
    user: str | None,
    group: str | None,
    recursive: bool = False,
    dereference: bool = True,
) -> StringCommand:
    owner = f"{user or ''}:{group}" if group else (user or "")
    flags = (["-R"] if recursive else []) + ([] if dereference else ["-h"])
    return StringCommand("chown", *flags, QuoteString(owner), "--", QuoteString(path))


def ownership_commands(
    path: str,
    info: Any,
    user: str | None,
    group: str | None,
    mode: str | None,
    recursive: bool = False,
    dereference: bool = True,
) -> list[StringCommand]:
    """chmod/chown commands needed for ``path`` (``info``: its stat fact, or None)."""
    commands: list[StringCommand] = []
    current = info if isinstance(info, dict) else {}
    if mode is not None and (not current or not same_mode(mode, current.get("mode"))):
        commands.append(chmod(path, mode, recursive))
    wrong_user = user is not None and current.get("user") != user
    wrong_group = group is not None and current.get("group") != group
    if not current and (user or group) or wrong_user or wrong_group:
        commands.append(chown(path, user, group, recursive, dereference))
    return commands


def chain(commands: list[Any]) -> list[Any]:
    """Consecutive shell commands joined with ``&&`` into one (one round trip instead of
    several; the first failure still stops the rest and its stderr is reported)."""
    out: list[Any] = []
    run: list[StringCommand] = []
    for command in [*commands, None]:
        if isinstance(command, StringCommand) and not command.connector_arguments:
            run.append(command)
            continue
        if run:
            joined: list[Any] = []
            for item in run:
                joined += ["&&", item] if joined else [item]
            out.append(joined[0] if len(run) == 1 else StringCommand(*joined))
            run = []
        if command is not None:
            out.append(command)
    return out


def expected_stat(
    info: Any, user: str | None, group: str | None, mode: str | None
) -> dict[str, Any]:
    """The stat fact a path will have after the ownership commands (dry-run prediction)."""
    base = dict(info) if isinstance(info, dict) else {"size": 0}
    if user is not None:
        base["user"] = user
    if group is not None:
        base["group"] = group
    if mode is not None:
        base["mode"] = int(mode)
    else:
        base.setdefault("mode", 644)
    base.setdefault("user", user or "")
    base.setdefault("group", group or "")
    return base


def parent_dir(path: str) -> str:
    parent = posixpath.dirname(path.rstrip("/")) or "."
    return parent


def deploy_path(src: str, add_deploy_dir: bool = True) -> str:
    """A local path given to an operation, relative to the deploy file's directory."""
    if os.path.isabs(src) or not add_deploy_dir:
        return src
    base = context.get("deploy_dir") or os.getcwd()
    candidate = os.path.join(base, src)
    if os.path.exists(candidate) or not os.path.exists(src):
        return candidate
    return src


def want_diff() -> bool:
    run = context.get("run")
    return bool(run is not None and getattr(run, "diff", False))


def text_diff(path: str, old: bytes | None, new: bytes) -> OperationDiff | None:
    """A unified diff of two versions of a file, ``None`` for binary or huge content."""
    if len(new) > MAX_DIFF_BYTES or (old is not None and len(old) > MAX_DIFF_BYTES):
        return None
    try:
        old_text = (old or b"").decode("utf-8")
        new_text = new.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = list(
        difflib.unified_diff(
            old_text.splitlines(keepends=True),
            new_text.splitlines(keepends=True),
            fromfile=path if old is not None else "/dev/null",
            tofile=path,
        )
    )
    lines = [line if line.endswith("\n") else line + "\n" for line in lines]
    return OperationDiff(path, lines) if lines else None
