"""Operations on files, directories and links.

Every operation reads the facts about the paths it manages, yields only the commands
needed to reach the wanted state (so a second run changes nothing), and then declares
what it changed (``FactChange``) so only the facts about those paths are re-read.
"""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
from collections.abc import Generator
from datetime import datetime
from typing import IO, Any

from pyinfra import context, host
from pyinfra.api.command import (
    FileDownloadCommand,
    FileUploadCommand,
    FunctionCommand,
    QuoteString,
    StringCommand,
)
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.files import (
    Directory,
    File,
    FileBytes,
    FileInfo,
    Inode,
    Link,
    Sha256File,
)
from pyinfra.operations.syncplan import sync_commands
from pyinfra.operations.templating import render_template
from pyinfra.operations.textedit import compile_pattern, ensure_line, line_pattern, replace_text
from pyinfra.operations.util import (
    chain,
    check_path,
    chown,
    deploy_path,
    expected_stat,
    fail,
    ownership_commands,
    parent_dir,
    parse_mode,
    text_diff,
    want_diff,
)

Commands = Generator[Any, Any, None]


def _timestamp() -> str:
    return datetime.now().strftime("%Y-%m-%dT%H%M%S")


def _clear_path(path: str, backup: bool, backup_dir: str | None) -> Commands:
    """Move aside (``backup``) or remove whatever is at ``path`` (for ``force=True``)."""
    if backup:
        name = f"{posixpath.basename(path.rstrip('/'))}.{_timestamp()}"
        target = posixpath.join(backup_dir or parent_dir(path), name)
        yield StringCommand("mv", "--", QuoteString(path), QuoteString(target))
    else:
        if path.rstrip("/") in ("", "/"):
            raise fail("files", "refusing to remove /")
        yield StringCommand("rm", "-rf", "--", QuoteString(path))
    yield FactChange(paths=(path,), recursive=True)


def _ensure_parent(
    op: str,
    path: str,
    create_remote_dir: bool,
    user: str | None = None,
    group: str | None = None,
    argument: str = "path",
) -> Commands:
    """Create the parent directory of ``path`` if it is missing (or fail clearly)."""
    parent = parent_dir(path)
    info = host.get_fact(Directory, path=parent)
    if info is False:
        raise fail(op, f"{parent} is not a directory ({argument}={path})")
    if info is not None:
        return
    if not create_remote_dir:
        raise fail(
            op,
            f"remote directory {parent} does not exist ({argument}={path}): "
            "create it first or pass create_remote_dir=True",
        )
    make = StringCommand("mkdir", "-p", "--", QuoteString(parent))
    yield from chain([make, chown(parent, user, group)] if user or group else [make])
    yield FactChange(
        paths=(parent,),
        expect=((Directory, {"path": parent}, expected_stat(None, user, group, "755")),),
    )


# files.file / files.directory / files.link ------------------------------------------


@operation()
def file(
    path: str,
    present: bool = True,
    user: str | None = None,
    group: str | None = None,
    mode: int | str | None = None,
    touch: bool = False,
    create_remote_dir: bool = True,
    force: bool = False,
    force_backup: bool = True,
    force_backup_dir: str | None = None,
) -> Commands:
    """Add, remove or update a regular file (owner, group, mode)."""
    op = "files.file"
    check_path(op, path)
    octal = parse_mode(op, mode)
    info = host.get_fact(File, path=path)
    if info is False:
        if not force:
            raise fail(
                op, f"{path} exists and is not a regular file: pass force=True to replace it"
            )
        yield from _clear_path(path, force_backup, force_backup_dir)
        info = None
    if not present:
        if info:
            yield StringCommand("rm", "-f", "--", QuoteString(path))
            yield FactChange(paths=(path,), expect=((File, {"path": path}, None),))
        return
    commands: list[StringCommand] = []
    if info is None:
        yield from _ensure_parent(op, path, create_remote_dir, user, group)
        commands.append(StringCommand("touch", "--", QuoteString(path)))
    elif touch:
        commands.append(StringCommand("touch", "--", QuoteString(path)))
    commands += ownership_commands(path, info, user, group, octal)
    if commands:
        yield from chain(commands)
        yield FactChange(
            paths=(path,),
            expect=((File, {"path": path}, expected_stat(info, user, group, octal)),),
        )


@operation()
def directory(
    path: str,
    present: bool = True,
    user: str | None = None,
    group: str | None = None,
    mode: int | str | None = None,
    recursive: bool = False,
    force: bool = False,
    force_backup: bool = True,
    force_backup_dir: str | None = None,
    _no_check_owner_mode: bool = False,
    _no_fail_on_link: bool = False,
) -> Commands:
    """Add, remove or update a directory (``recursive``: apply owner/mode to its tree)."""
    op = "files.directory"
    check_path(op, path)
    octal = parse_mode(op, mode)
    info = host.get_fact(Directory, path=path)
    if info is False:
        if _no_fail_on_link and isinstance(host.get_fact(Link, path=path), dict):
            return
        if not force:
            raise fail(op, f"{path} exists and is not a directory: pass force=True to replace it")
        yield from _clear_path(path, force_backup, force_backup_dir)
        info = None
    if not present:
        if info:
            if path.rstrip("/") in ("", "/"):
                raise fail(op, "refusing to remove /")
            yield StringCommand("rm", "-rf", "--", QuoteString(path))
            yield FactChange(
                paths=(path,), recursive=True, expect=((Directory, {"path": path}, None),)
            )
        return
    commands: list[StringCommand] = []
    if info is None:
        commands.append(StringCommand("mkdir", "-p", "--", QuoteString(path)))
    if info is None or not _no_check_owner_mode:
        commands += ownership_commands(path, info, user, group, octal, recursive)
    if commands:
        yield from chain(commands)
        yield FactChange(
            paths=(path,),
            recursive=recursive,
            expect=((Directory, {"path": path}, expected_stat(info, user, group, octal)),),
        )


@operation()
def link(
    path: str,
    target: str | None = None,
    present: bool = True,
    user: str | None = None,
    group: str | None = None,
    symbolic: bool = True,
    create_remote_dir: bool = True,
    force: bool = False,
    force_backup: bool = True,
    force_backup_dir: str | None = None,
) -> Commands:
    """Add, remove or repoint a symbolic (or hard, ``symbolic=False``) link."""
    op = "files.link"
    check_path(op, path)
    if present and not target:
        raise fail(op, "argument target is required when present=True")
    if not symbolic:
        yield from _hard_link(op, path, target, present, create_remote_dir, force)
        return
    info = host.get_fact(Link, path=path)
    if info is False:
        if not force:
            raise fail(
                op, f"{path} exists and is not a symbolic link: pass force=True to replace it"
            )
        yield from _clear_path(path, force_backup, force_backup_dir)
        info = None
    quoted = QuoteString(path)
    if not present:
        if info:
            yield StringCommand("rm", "-f", "--", quoted)
            yield FactChange(paths=(path,), expect=((Link, {"path": path}, None),))
        return
    assert target is not None
    commands: list[StringCommand] = []
    if info is None:
        yield from _ensure_parent(op, path, create_remote_dir, user, group)
        commands.append(StringCommand("ln", "-s", "--", QuoteString(target), quoted))
    elif info.get("link_target") != target:
        commands.append(
            StringCommand(
                "rm", "-f", "--", quoted, "&&", "ln", "-s", "--", QuoteString(target), quoted
            )
        )
    commands += ownership_commands(path, info, user, group, None, dereference=False)
    if commands:
        yield from chain(commands)
        predicted = {**expected_stat(info, user, group, "777"), "link_target": target}
        yield FactChange(paths=(path,), expect=((Link, {"path": path}, predicted),))


def _hard_link(
    op: str, path: str, target: str | None, present: bool, create_remote_dir: bool, force: bool
) -> Commands:
    inode = host.get_fact(Inode, path=path)
    if not present:
        if inode is not None:
            yield StringCommand("rm", "-f", "--", QuoteString(path))
            yield FactChange(paths=(path,))
        return
    assert target is not None
    target_inode = host.get_fact(Inode, path=target)
    if target_inode is None:
        raise fail(op, f"link target {target} does not exist (hard links need an existing file)")
    if inode == target_inode:
        return
    if inode is None:
        yield from _ensure_parent(op, path, create_remote_dir)
        yield StringCommand("ln", "--", QuoteString(target), QuoteString(path))
    else:
        if not force:
            raise fail(op, f"{path} exists and is not a hard link to {target}: pass force=True")
        yield StringCommand("ln", "-f", "--", QuoteString(target), QuoteString(path))
    yield FactChange(paths=(path,), expect=((Inode, {"path": path}, target_inode),))


# files.put / files.template ------------------------------------------------------------


def _sha256_local(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _upload(
    op: str,
    source: str | bytes,
    dest: str,
    user: str | None,
    group: str | None,
    mode: str | None,
    create_remote_dir: bool,
    force: bool,
    local_name: str | None,
) -> Commands:
    """Upload a local file (``str``: its path) or content (``bytes``) if it differs."""
    local_sha = (
        _sha256_local(source) if isinstance(source, str) else hashlib.sha256(source).hexdigest()
    )
    info = host.get_fact(FileInfo, path=dest)
    if info is False and local_name:
        if isinstance(host.get_fact(Directory, path=dest), dict):
            dest = posixpath.join(dest, local_name)
            info = host.get_fact(FileInfo, path=dest)
    if info is False:
        raise fail(op, f"{dest} exists and is not a regular file (argument dest)")
    if info is None:
        yield from _ensure_parent(op, dest, create_remote_dir, user, group, argument="dest")
    changed = force or not info or info.get("sha256") != local_sha
    commands: list[Any] = []
    if changed:
        if want_diff():
            yield from _diff(dest, info, source)
        data: str | IO[bytes] = source if isinstance(source, str) else io.BytesIO(source)
        commands.append(FileUploadCommand(data, dest))
    commands += ownership_commands(dest, info, user, group, mode)
    if commands:
        yield from chain(commands)
        predicted = {**expected_stat(info, user, group, mode), "sha256": local_sha}
        yield FactChange(paths=(dest,), expect=((FileInfo, {"path": dest}, predicted),))


def _diff(dest: str, info: Any, source: str | bytes) -> Commands:
    if isinstance(source, str):
        if os.path.getsize(source) > 1024 * 1024:
            return
        with open(source, "rb") as handle:
            new = handle.read()
    else:
        new = source
    old = None
    if isinstance(info, dict) and info.get("size", 0) <= 1024 * 1024:
        old = host.get_fact(FileBytes, path=dest)
    diff = text_diff(dest, old, new)
    if diff is not None:
        yield diff


@operation()
def put(
    src: str | IO[Any],
    dest: str,
    user: str | None = None,
    group: str | None = None,
    mode: int | str | bool | None = None,
    add_deploy_dir: bool = True,
    create_remote_dir: bool = True,
    force: bool = False,
    assume_exists: bool = False,
) -> Commands:
    """Upload a local file (or file object) if the remote copy differs (by SHA-256).

    ``src`` is relative to the deploy file's directory; ``mode=True`` copies the local
    file's mode; if ``dest`` is an existing directory the file goes inside it.
    """
    op = "files.put"
    check_path(op, dest, "dest")
    local_name: str | None = None
    source: str | bytes
    if isinstance(src, str):
        local = deploy_path(src, add_deploy_dir)
        if not os.path.isfile(local):
            if not assume_exists:
                raise fail(op, f"local file not found: {local} (argument src)")
            # assumed to appear before this runs (e.g. made by an earlier operation)
            yield FileUploadCommand(local, dest)
            yield FactChange(paths=(dest,))
            return
        source, local_name = local, os.path.basename(local)
        if mode is True:
            mode = oct(os.stat(local).st_mode & 0o7777)[2:]
    else:
        if mode is True:
            raise fail(op, "mode=True needs src to be a local file name, not a file object")
        if hasattr(src, "seek"):
            src.seek(0)
        raw = src.read()
        source = raw.encode() if isinstance(raw, str) else bytes(raw)
    octal = parse_mode(op, mode)
    yield from _upload(op, source, dest, user, group, octal, create_remote_dir, force, local_name)


@operation()
def template(
    src: str | IO[Any],
    dest: str,
    user: str | None = None,
    group: str | None = None,
    mode: int | str | None = None,
    create_remote_dir: bool = True,
    jinja_env_kwargs: dict[str, Any] | None = None,
    **data: Any,
) -> Commands:
    """Render a Jinja2 template locally and upload the result if it differs.

    The template sees ``host``, ``state``, ``inventory`` and the extra keyword arguments;
    undefined variables are errors. ``src`` is relative to the deploy file's directory.
    """
    op = "files.template"
    check_path(op, dest, "dest")
    octal = parse_mode(op, mode)
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
    content = render_template(op, src, variables, jinja_env_kwargs or {})
    yield from _upload(op, content, dest, user, group, octal, create_remote_dir, False, None)


# files.get ------------------------------------------------------------------------------


@operation()
def get(
    src: str,
    dest: str,
    add_deploy_dir: bool = True,
    create_local_dir: bool = False,
    force: bool = False,
) -> Commands:
    """Download a remote file if the local copy is missing or differs (by SHA-256)."""
    op = "files.get"
    check_path(op, src, "src")
    local = deploy_path(dest, add_deploy_dir)
    remote_sha = host.get_fact(Sha256File, path=src)
    if remote_sha is None:
        info = host.get_fact(File, path=src)
        if info is None:
            raise fail(op, f"remote file {src} does not exist (argument src)")
        if info is False:
            raise fail(op, f"remote path {src} is not a regular file (argument src)")
    if os.path.isdir(local):
        local = os.path.join(local, posixpath.basename(src))
    local_dir = os.path.dirname(os.path.abspath(local))
    if not os.path.isdir(local_dir) and not create_local_dir:
        raise fail(
            op,
            f"local directory {local_dir} does not exist (argument dest): "
            "create it or pass create_local_dir=True",
        )
    if not force and os.path.isfile(local) and _sha256_local(local) == remote_sha:
        return
    if not os.path.isdir(local_dir):
        yield FunctionCommand(os.makedirs, [local_dir], {"exist_ok": True})
    yield FileDownloadCommand(src, local)
    yield FactChange()  # nothing changed on the host


# files.line / files.replace ---------------------------------------------------------


def _backup_suffix(backup: bool | str) -> str | None:
    if not backup:
        return None
    return backup if isinstance(backup, str) else datetime.now().isoformat(timespec="seconds")


def _write_text(path: str, old: bytes | None, new: bytes, backup: bool | str) -> Commands:
    suffix = _backup_suffix(backup)
    if suffix and old is not None:
        yield StringCommand("cp", "-p", "--", QuoteString(path), QuoteString(f"{path}.{suffix}"))
    if want_diff():
        diff = text_diff(path, old, new)
        if diff is not None:
            yield diff
    yield FileUploadCommand(io.BytesIO(new), path)
    yield FactChange(paths=(path,), expect=((FileBytes, {"path": path}, new),))


@operation()
def line(
    path: str,
    line: str,
    present: bool = True,
    replace: str | None = None,
    flags: list[str] | None = None,
    backup: bool | str = False,
    interpolate_variables: bool = False,
    escape_regex_characters: bool = False,
    ensure_newline: bool = False,
    extended_regex: bool = False,
) -> Commands:
    """Ensure a line is in (or, ``present=False``, not in) a file.

    ``line`` is a grep regular expression matched anywhere in a line (anchor it with
    ``^``/``$`` to match whole lines); when no line matches, ``replace`` (or ``line``
    without its anchors) is appended; matching lines are replaced by ``replace``.
    A missing file is created when the line has to be added.
    """
    op = "files.line"
    check_path(op, path)
    if interpolate_variables:
        raise fail(op, "interpolate_variables=True is not supported: build the text in Python")
    try:
        pattern = line_pattern(line, escape_regex_characters, extended_regex, flags)
    except Exception as exc:  # noqa: BLE001 - re.error and bad flags
        raise fail(op, f"argument line is not a valid regular expression: {exc}") from exc
    appended = replace if replace is not None else line
    if replace is None and not escape_regex_characters:
        appended = appended.removeprefix("^").removesuffix("$")
    current = host.get_fact(FileBytes, path=path)
    old_text = None if current is None else current.decode("utf-8", "surrogateescape")
    new_text = ensure_line(old_text, line, present, replace, pattern, appended)
    if new_text is None or new_text == old_text:
        return
    if current is None:
        yield from _ensure_parent(op, path, False)
    yield from _write_text(path, current, new_text.encode("utf-8", "surrogateescape"), backup)


@operation()
def replace(
    path: str,
    text: str | None = None,
    replace: str | None = None,
    flags: list[str] | None = None,
    backup: bool | str = False,
    interpolate_variables: bool = False,
    extended_regex: bool = False,
    match: str | None = None,
) -> Commands:
    """Replace ``text`` (a sed regular expression) by ``replace`` in every line of a file
    (in the lines matching ``match`` only, if given); ``flags=["g"]`` replaces every
    occurrence in a line, ``"i"`` ignores case. ``&`` and ``\\1`` work as in sed."""
    op = "files.replace"
    check_path(op, path)
    if text is None or replace is None:
        raise fail(op, "arguments text and replace are required")
    if interpolate_variables:
        raise fail(op, "interpolate_variables=True is not supported: build the text in Python")
    try:
        pattern = compile_pattern(text, extended_regex, flags)
        only = compile_pattern(match, extended_regex, flags) if match else None
    except Exception as exc:  # noqa: BLE001 - re.error and bad flags
        raise fail(op, f"argument text is not a valid regular expression: {exc}") from exc
    current = host.get_fact(FileBytes, path=path)
    if current is None:
        raise fail(op, f"remote file {path} does not exist (argument path)")
    old_text = current.decode("utf-8", "surrogateescape")
    new_text = replace_text(old_text, pattern, replace, "g" in (flags or []), only)
    if new_text != old_text:
        yield from _write_text(path, current, new_text.encode("utf-8", "surrogateescape"), backup)


# files.sync ---------------------------------------------------------------------------


@operation()
def sync(
    src: str,
    dest: str,
    user: str | None = None,
    group: str | None = None,
    mode: int | str | None = None,
    dir_mode: int | str | None = None,
    delete: bool = False,
    exclude: str | list[str] | tuple[str, ...] | None = None,
    exclude_dir: str | list[str] | tuple[str, ...] | None = None,
    add_deploy_dir: bool = True,
) -> Commands:
    """Make a remote directory match a local one: upload new and changed files (by
    SHA-256), create directories, fix owner/mode, and with ``delete`` remove remote
    files and links that are not present locally (extra directories are kept).
    ``exclude`` matches file names, ``exclude_dir`` directory paths relative to ``src``
    (both with ``fnmatch``)."""
    op = "files.sync"
    check_path(op, dest, "dest")
    local = deploy_path(src, add_deploy_dir)
    if not os.path.isdir(local):
        raise fail(op, f"local directory not found: {local} (argument src)")
    octal = parse_mode(op, mode)
    dir_octal = parse_mode(op, dir_mode, "dir_mode") or octal
    excludes = [exclude] if isinstance(exclude, str) else list(exclude or [])
    exclude_dirs = [exclude_dir] if isinstance(exclude_dir, str) else list(exclude_dir or [])
    commands = list(
        sync_commands(local, dest, user, group, octal, dir_octal, delete, excludes, exclude_dirs)
    )
    if commands:
        yield from chain(commands)
        yield FactChange(paths=(dest,), recursive=True)
