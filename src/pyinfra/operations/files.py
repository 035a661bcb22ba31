"""Operations on files, directories and links.

Every operation reads the facts about the paths it manages, yields only the commands
needed to reach the wanted state (so a second run changes nothing), and then declares
what it changed (``FactChange``) so only the facts about those paths are re-read.
Paths may be ``pathlib`` paths and may start with ``~``; modes may be octal (``644``)
or symbolic (``u+x``, ``go-w``).
"""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import secrets
from collections.abc import Generator
from datetime import datetime
from typing import IO, Any

from pyinfra import context, host
from pyinfra.api.command import (
    FileDownloadCommand,
    FileUploadCommand,
    FunctionCommand,
    QuoteString,
    RsyncCommand,
    StringCommand,
)
from pyinfra.api.facts import FactChange, inherited_arguments, read_together
from pyinfra.api.operation import OperationDiff, operation
from pyinfra.facts.filecommands import shell_path
from pyinfra.facts.files import (
    BlockSection,
    Directory,
    File,
    FileAge,
    FileBytes,
    FileInfo,
    Flags,
    Inode,
    Link,
    MatchingLines,
    Md5File,
    Sha1File,
    Sha256File,
    Sha384File,
    TreeInfo,
    UtcOffset,
    block_markers,
)
from pyinfra.facts.server import Home, Which
from pyinfra.operations import archives, filetimes, textedit
from pyinfra.operations.fetchcommand import DownloadOptions, check_extra_args, download_command
from pyinfra.operations.filemodes import FileMode, mode_digits, mode_text, parse_file_mode
from pyinfra.operations.syncplan import sync_commands
from pyinfra.operations.templating import render_template
from pyinfra.operations.util import (
    chain,
    check_path,
    deploy_path,
    expected_stat,
    fail,
    local_sha256,
    parent_dir,
    text_diff,
    want_diff,
)

Commands = Generator[Any, Any, None]
StrPath = str | os.PathLike[str]


def _path(op: str, value: Any, argument: str = "path") -> str:
    """A path argument (``str`` or ``os.PathLike``) as a checked string."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    return check_path(op, value, argument)


def _transfer_path(op: str, path: str) -> str:
    """``path`` with a leading ``~``/``~user`` replaced by that home directory (files
    are moved by the connector, not by a shell that would expand it)."""
    if not path.startswith("~"):
        return path
    head, slash, rest = path.partition("/")
    home = host.get_fact(Home, user=head[1:]) if head != "~" else host.get_fact(Home)
    if not home:
        raise fail(op, f"cannot find the home directory for {head} (path {path})")
    return posixpath.join(home, rest) if slash and rest else home


def _timestamp() -> str:
    return datetime.now().strftime("%Y-%m-%dT%H%M%S")


# Owner, group and mode ------------------------------------------------------------------


def _chmod(path: str, mode: str, recursive: bool = False) -> StringCommand:
    return StringCommand("chmod", *(["-R"] if recursive else []), mode, "--", shell_path(path))


def _chown(
    path: str, user: str | None, group: str | None, recursive: bool = False, deref: bool = True
) -> StringCommand:
    owner = f"{user or ''}:{group}" if group else (user or "")
    flags = (["-R"] if recursive else []) + ([] if deref else ["-h"])
    return StringCommand("chown", *flags, QuoteString(owner), "--", shell_path(path))


def _ownership(
    path: str,
    info: Any,
    user: str | None,
    group: str | None,
    mode: FileMode | None,
    is_dir: bool = False,
    recursive: bool = False,
    dereference: bool = True,
) -> tuple[list[StringCommand], str | None]:
    """The chmod/chown commands ``path`` needs, and the octal mode it will have."""
    commands: list[StringCommand] = []
    current = info if isinstance(info, dict) else {}
    wanted: str | None = None
    if mode is not None:
        wanted = mode_digits(mode, current.get("mode"), is_dir)
        differs = not current or int(wanted, 8) != int(str(current.get("mode")), 8)
        if differs or recursive and not current:
            exact = bool(current) and not recursive
            commands.append(_chmod(path, wanted if exact else mode_text(mode), recursive))
    wrong_user = user is not None and current.get("user") != user
    wrong_group = group is not None and current.get("group") != group
    if (not current and (user or group)) or wrong_user or wrong_group:
        commands.append(_chown(path, user, group, recursive, dereference))
    return commands, wanted


def _clear_path(path: str, backup: bool, backup_dir: str | None) -> Commands:
    """Move aside (``backup``) or remove whatever is at ``path`` (for ``force=True``)."""
    if backup:
        name = f"{posixpath.basename(path.rstrip('/'))}.{_timestamp()}"
        target = posixpath.join(backup_dir or parent_dir(path), name)
        yield StringCommand("mv", "--", shell_path(path), shell_path(target))
    else:
        if path.rstrip("/") in ("", "/"):
            raise fail("files", "refusing to remove /")
        yield StringCommand("rm", "-rf", "--", shell_path(path))
    yield FactChange(paths=(path,), recursive=True)


def _with_parent(fact_cls: Any, path: str) -> None:
    """Read ``path``'s fact and its parent directory's in one round trip: an operation
    that finds ``path`` missing checks the parent next (see :func:`_ensure_parent`)."""
    parent = parent_dir(path)
    if parent != path:
        read_together(host, (fact_cls, {"path": path}), (Directory, {"path": parent}))


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
    make = StringCommand("mkdir", "-p", "--", shell_path(parent))
    yield from chain([make, _chown(parent, user, group)] if user or group else [make])
    yield FactChange(
        paths=(parent,),
        expect=((Directory, {"path": parent}, expected_stat(None, user, group, "755")),),
    )


# files.file / files.directory / files.link ------------------------------------------


@operation()
def file(
    path: StrPath,
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
    path = _path(op, path)
    spec = parse_file_mode(op, mode)
    _with_parent(File, path)
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
            yield StringCommand("rm", "-f", "--", shell_path(path))
            yield FactChange(paths=(path,), expect=((File, {"path": path}, None),))
        return
    commands: list[StringCommand] = []
    if info is None:
        yield from _ensure_parent(op, path, create_remote_dir, user, group)
        commands.append(StringCommand("touch", "--", shell_path(path)))
    elif touch:
        commands.append(StringCommand("touch", "--", shell_path(path)))
    owner_commands, octal = _ownership(path, info, user, group, spec)
    commands += owner_commands
    if commands:
        yield from chain(commands)
        yield FactChange(
            paths=(path,),
            expect=((File, {"path": path}, expected_stat(info, user, group, octal)),),
        )


@operation()
def directory(
    path: StrPath,
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
    path = _path(op, path)
    spec = parse_file_mode(op, mode)
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
            yield StringCommand("rm", "-rf", "--", shell_path(path))
            yield FactChange(
                paths=(path,), recursive=True, expect=((Directory, {"path": path}, None),)
            )
        return
    commands: list[StringCommand] = []
    octal: str | None = None
    if info is None:
        commands.append(StringCommand("mkdir", "-p", "--", shell_path(path)))
    if info is None or not _no_check_owner_mode:
        owner_commands, octal = _ownership(path, info, user, group, spec, True, recursive)
        commands += owner_commands
    if commands:
        yield from chain(commands)
        yield FactChange(
            paths=(path,),
            recursive=recursive,
            expect=((Directory, {"path": path}, expected_stat(info, user, group, octal or "755")),),
        )


@operation()
def link(
    path: StrPath,
    target: StrPath | None = None,
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
    path = _path(op, path)
    if target is not None:
        target = _path(op, target, "target")
    if present and not target:
        raise fail(op, "argument target is required when present=True")
    if not symbolic:
        yield from _hard_link(op, path, target, present, create_remote_dir, force)
        return
    _with_parent(Link, path)
    info = host.get_fact(Link, path=path)
    if info is False:
        if not force:
            raise fail(
                op, f"{path} exists and is not a symbolic link: pass force=True to replace it"
            )
        yield from _clear_path(path, force_backup, force_backup_dir)
        info = None
    quoted = shell_path(path)
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
            StringCommand("rm", "-f", quoted, "&&", "ln", "-s", "--", QuoteString(target), quoted)
        )
    owner_commands, _ = _ownership(path, info, user, group, None, dereference=False)
    commands += owner_commands
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
            yield StringCommand("rm", "-f", "--", shell_path(path))
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
        yield StringCommand("ln", "--", shell_path(target), shell_path(path))
    else:
        if not force:
            raise fail(op, f"{path} exists and is not a hard link to {target}: pass force=True")
        yield StringCommand("ln", "-f", "--", shell_path(target), shell_path(path))
    yield FactChange(paths=(path,), expect=((Inode, {"path": path}, target_inode),))


# files.put / files.template ------------------------------------------------------------


def _time_commands(
    dest: str,
    info: Any,
    changed: bool,
    local_name: str | None,
    atime: filetimes.TimeSpec | None,
    mtime: filetimes.TimeSpec | None,
) -> tuple[list[StringCommand], dict[str, Any]]:
    """``touch`` commands for wanted atime/mtime (mtime first: setting it may move
    atime), and the predicted fact values."""
    commands: list[StringCommand] = []
    predicted: dict[str, Any] = {}
    for field, spec in (("mtime", mtime), ("atime", atime)):
        if spec is None or spec is False:
            continue
        try:
            wanted = filetimes.wanted_time(
                spec,
                field,
                local_name,
                lambda: host.get_fact(UtcOffset),
                lambda p: host.get_fact(File, path=p),
            )
        except ValueError as exc:
            raise fail("files.put", f"argument {field}: {exc}") from exc
        if wanted is None:
            raise fail("files.put", f"argument {field}: no file {spec!r} on the host to copy from")
        if changed or filetimes.current_time(info, field) != wanted:
            commands.append(filetimes.touch(dest, field, wanted))
            predicted[field] = filetimes.as_datetime(wanted)
    return commands, predicted


def _upload(
    op: str,
    source: str | bytes,
    dest: str,
    user: str | None,
    group: str | None,
    mode: FileMode | None,
    create_remote_dir: bool,
    force: bool,
    local_name: str | None,
    atime: filetimes.TimeSpec | None = None,
    mtime: filetimes.TimeSpec | None = None,
) -> Commands:
    """Upload a local file (``str``: its path) or content (``bytes``) if it differs."""
    local_sha = (
        local_sha256(source) if isinstance(source, str) else hashlib.sha256(source).hexdigest()
    )
    _with_parent(FileInfo, dest)
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
    owner_commands, octal = _ownership(dest, info, user, group, mode)
    commands += owner_commands
    local_path = source if isinstance(source, str) else None
    time_commands, times = _time_commands(dest, info, changed, local_path, atime, mtime)
    commands += time_commands
    if commands:
        yield from chain(commands)
        predicted = {**expected_stat(info, user, group, octal), "sha256": local_sha, **times}
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
    src: StrPath | IO[Any],
    dest: StrPath,
    user: str | None = None,
    group: str | None = None,
    mode: int | str | bool | None = None,
    add_deploy_dir: bool = True,
    create_remote_dir: bool = True,
    force: bool = False,
    assume_exists: bool = False,
    atime: datetime | float | int | str | bool | None = None,
    mtime: datetime | float | int | str | bool | None = None,
) -> Commands:
    """Upload a local file (or file object) if the remote copy differs (by SHA-256).

    ``src`` is relative to the deploy file's directory; ``mode=True`` copies the local
    file's mode; if ``dest`` is an existing directory the file goes inside it.
    ``atime``/``mtime``: a datetime, a timestamp, an ISO string, a host file to copy
    the time from, or ``True`` for the local file's own time.
    """
    op = "files.put"
    dest = _transfer_path(op, _path(op, dest, "dest"))
    local_name: str | None = None
    source: str | bytes
    if isinstance(src, (str, os.PathLike)):
        local = deploy_path(os.fspath(src), add_deploy_dir)
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
        if atime is True or mtime is True:
            raise fail(op, "atime/mtime=True need src to be a local file name, not a file object")
        if hasattr(src, "seek"):
            src.seek(0)
        raw = src.read()
        source = raw.encode() if isinstance(raw, str) else bytes(raw)
    spec = parse_file_mode(op, mode)
    yield from _upload(
        op, source, dest, user, group, spec, create_remote_dir, force, local_name, atime, mtime
    )


@operation()
def template(
    src: StrPath | IO[Any],
    dest: StrPath,
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
    dest = _transfer_path(op, _path(op, dest, "dest"))
    spec = parse_file_mode(op, mode)
    if isinstance(src, (str, os.PathLike)):
        src = deploy_path(os.fspath(src))
        if not os.path.isfile(src):
            raise fail(op, f"template file not found: {src} (argument src)")
    variables = {
        "host": context.get("host"),
        "state": context.get("state"),
        "inventory": context.get("inventory"),
        **data,
    }
    content = render_template(op, src, variables, jinja_env_kwargs or {})
    yield from _upload(op, content, dest, user, group, spec, create_remote_dir, False, None)


# files.get ------------------------------------------------------------------------------


@operation()
def get(
    src: StrPath,
    dest: StrPath,
    add_deploy_dir: bool = True,
    create_local_dir: bool = False,
    force: bool = False,
) -> Commands:
    """Download a remote file if the local copy is missing or differs (by SHA-256)."""
    op = "files.get"
    src = _transfer_path(op, _path(op, src, "src"))
    local = deploy_path(_path(op, dest, "dest"), add_deploy_dir)
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
    if not force and os.path.isfile(local) and local_sha256(local) == remote_sha:
        return
    if not os.path.isdir(local_dir):
        yield FunctionCommand(os.makedirs, [local_dir], {"exist_ok": True})
    yield FileDownloadCommand(src, local)
    yield FactChange()  # nothing changed on the host


# files.line / files.replace / files.block: edits made on the host -----------------------


def _backup_suffix(backup: bool | str) -> str | None:
    if not backup:
        return None
    return backup if isinstance(backup, str) else datetime.now().strftime("%y%m%d%H%M")


def _lines_diff(path: str, old: list[str], new: list[str]) -> OperationDiff | None:
    if not want_diff() or old == new:
        return None
    body = [f"-{line}\n" for line in old] + [f"+{line}\n" for line in new]
    return OperationDiff(path, [f"--- {path}\n", f"+++ {path}\n", *body])


@operation()
def line(
    path: StrPath,
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
    """Ensure a line is in (or, ``present=False``, not in) a file, editing it in place
    on the host.

    ``line`` is a grep regular expression matched anywhere in a line (``^.*LINE.*$``
    unless anchored); matching lines are replaced by ``replace``. When no line matches,
    ``replace`` (or ``line`` without its anchors) is appended, unless that exact line
    is already there; a missing final newline is added first (``ensure_newline`` is
    always on) and a missing file is created.
    """
    op = "files.line"
    path = _path(op, path)
    pattern = textedit.adjust_regex(line, escape_regex_characters)
    appended = replace if replace else line
    if not replace and not escape_regex_characters:
        appended = textedit.strip_anchors(appended)
    wanted = replace or ""
    state = host.get_fact(
        MatchingLines,
        path=path,
        pattern=pattern,
        exact=appended if present else None,
        interpolate_variables=interpolate_variables,
        extended_regex=extended_regex,
        ignore_case=textedit.ignore_case(flags),
    )
    matches: list[str] = state["lines"] if state else []
    suffix = _backup_suffix(backup)
    command: StringCommand | None = None
    if present and not matches:
        if state and state["exact"]:
            host.noop(f"line {appended!r} is already in {path}")
            return
        if state is None:
            yield from _ensure_parent(op, path, False)
        command = textedit.append_line(path, appended, interpolate_variables, suffix)
        diff = _lines_diff(path, [], [appended])
    elif matches and not present:
        script = textedit.sed_delete(pattern, flags)
        filt = textedit.sed_filter(script, extended_regex, interpolate_variables)
        command = textedit.rewrite_file(path, filt, suffix)
        diff = _lines_diff(path, matches, [])
    elif matches and present and replace and any(item != replace for item in matches):
        script = textedit.sed_substitute(pattern, wanted, flags)
        filt = textedit.sed_filter(script, extended_regex, interpolate_variables)
        command = textedit.rewrite_file(path, filt, suffix)
        diff = _lines_diff(path, matches, [replace] * len(matches))
    else:
        host.noop(f"{path} already has the wanted line")
        return
    if diff is not None:
        yield diff
    yield command
    yield FactChange(paths=(path,))


@operation()
def replace(
    path: StrPath,
    text: str | None = None,
    replace: str | None = None,
    flags: list[str] | None = None,
    backup: bool | str = False,
    interpolate_variables: bool = False,
    extended_regex: bool = False,
    match: str | None = None,
) -> Commands:
    """Replace ``text`` (a sed regular expression) by ``replace`` in every line of a
    file, in place on the host (``sed s/text/replace/flags``: ``flags=["g"]`` for every
    occurrence in a line; ``&`` is literal, ``\\1`` a group). ``match`` is the old
    name of ``text``."""
    op = "files.replace"
    path = _path(op, path)
    if text is None and match is not None:
        text = match
    if text is None or replace is None:
        raise fail(op, "arguments text and replace are required")
    state = host.get_fact(
        MatchingLines,
        path=path,
        pattern=text,
        interpolate_variables=interpolate_variables,
        extended_regex=extended_regex,
        ignore_case=textedit.ignore_case(flags),
    )
    if state is None:
        raise fail(op, f"remote file {path} does not exist (argument path)")
    matches: list[str] = state["lines"]
    if not matches:
        host.noop(f"{text!r} is not in {path}")
        return
    predicted = (
        None
        if interpolate_variables
        else textedit.emulate_substitution(matches, text, replace, flags, extended_regex)
    )
    if predicted == matches:
        host.noop(f"replacing {text!r} would not change {path}")
        return
    script = textedit.sed_substitute(text, replace, flags)
    filt = textedit.sed_filter(script, extended_regex, interpolate_variables)
    if predicted is not None:
        diff = _lines_diff(path, matches, predicted)
        if diff is not None:
            yield diff
    yield textedit.rewrite_file(path, filt, _backup_suffix(backup))
    yield FactChange(paths=(path,))


@operation()
def block(
    path: StrPath,
    content: str | list[str] | None = None,
    present: bool = True,
    line: str | None = None,
    backup: bool = False,
    escape_regex_characters: bool = False,
    try_prevent_shell_expansion: bool = False,
    before: bool = False,
    after: bool = False,
    marker: str | None = None,
    begin: str | None = None,
    end: str | None = None,
) -> Commands:
    """Ensure ``content`` is in a file between two marker lines (``# BEGIN PYINFRA
    BLOCK`` / ``# END PYINFRA BLOCK`` by default), or, ``present=False``, that the
    markers and what is between them are not.

    A missing block goes before/after the first line matching ``line`` (an awk regular
    expression; at the end if none matches), at the start (``before=after=True``) or at
    the end (both ``False``); a missing file is created. Content is written literally.
    """
    op = "files.block"
    path = _path(op, path)
    try:
        first, last = block_markers(marker, begin, end)
    except (ValueError, KeyError, IndexError) as exc:
        raise fail(op, f"bad marker: {exc}") from exc
    section = host.get_fact(BlockSection, path=path, marker=marker, begin=begin, end=end)
    if section is not None and section["state"] == "open":
        raise fail(op, f"{path} has the begin marker {first!r} but no end marker {last!r}")
    suffix = _backup_suffix(backup) if section is not None else None
    if not present:
        if section is None or section["state"] == "absent":
            host.noop(f"no block in {path}")
            return
        yield textedit.block_edit(path, first, last, "", "remove", None, suffix)
        yield FactChange(paths=(path,))
        return
    if not content:
        raise fail(op, "argument content is required when present=True")
    if line and before == after:
        raise fail(op, "with argument line, exactly one of before and after must be True")
    if not line and before != after:
        raise fail(op, "argument line is required when only one of before/after is True")
    lines = content.split("\n") if isinstance(content, str) else [str(c) for c in content]
    text = "\n".join(lines)
    if section is None:
        yield from _ensure_parent(op, path, False)
        yield textedit.new_block_file(path, first, last, text)
    elif section["state"] == "found":
        if section["lines"] == lines:
            host.noop(f"the block is already in {path}")
            return
        yield textedit.block_edit(path, first, last, text, "replace", None, suffix)
    else:
        anchor = None
        if line:
            anchor = textedit.adjust_regex(line, escape_regex_characters)
            place = "before" if before else "after"
        else:
            place = "start" if before else "end"
        yield textedit.block_edit(path, first, last, text, place, anchor, suffix)
    predicted = {"state": "found", "lines": lines}
    yield FactChange(
        paths=(path,),
        expect=((BlockSection, {"path": path, "marker": marker, "begin": begin, "end": end},
                 predicted),),
    )  # fmt: skip


# files.sync / files.rsync ---------------------------------------------------------------


@operation()
def sync(
    src: StrPath,
    dest: StrPath,
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
    dest = _transfer_path(op, _path(op, dest, "dest"))
    local = deploy_path(_path(op, src, "src"), add_deploy_dir)
    if not os.path.isdir(local):
        raise fail(op, f"local directory not found: {local} (argument src)")
    file_mode = parse_file_mode(op, mode)
    dir_spec = parse_file_mode(op, dir_mode, "dir_mode") or file_mode
    octal = mode_digits(file_mode, None, False) if isinstance(file_mode, str) else None
    dir_octal = mode_digits(dir_spec, None, True) if isinstance(dir_spec, str) else None
    if file_mode is not None and octal is None or dir_spec is not None and dir_octal is None:
        raise fail(op, "files.sync takes octal modes (like 644), not symbolic ones")
    excludes = [exclude] if isinstance(exclude, str) else list(exclude or [])
    exclude_dirs = [exclude_dir] if isinstance(exclude_dir, str) else list(exclude_dir or [])
    commands = list(
        sync_commands(local, dest, user, group, octal, dir_octal, delete, excludes, exclude_dirs)
    )
    if commands:
        yield from chain(commands)
        yield FactChange(paths=(dest,), recursive=True)


@operation()
def rsync(src: StrPath, dest: StrPath, flags: list[str] | None = None) -> Commands:
    """Copy a local directory (or file) to the host with this machine's ``rsync``
    (``flags`` default to ``-ax --delete``). Only the ssh and local connectors can;
    over SSH the host's key, port, user, known_hosts and host key policy are used
    (``BatchMode``: never a prompt), and ``_sudo``/``_sudo_user`` run the receiving
    rsync with ``sudo -n``. A dry run of rsync first tells whether anything changes."""
    op = "files.rsync"
    src = _path(op, src, "src")
    dest = _path(op, dest, "dest")
    wanted = ["-ax", "--delete"] if flags is None else [str(flag) for flag in flags]
    if not os.path.exists(src):
        raise fail(op, f"local path not found: {src} (argument src)")
    try:
        host.check_can_rsync()
    except NotImplementedError as exc:
        raise fail(op, str(exc)) from exc
    from pyinfra.api.exceptions import TransferError
    from pyinfra.connectors import rsync as rsync_runner

    try:
        changes = rsync_runner.pending_changes(host, src, dest, wanted, inherited_arguments())
    except TransferError as exc:
        raise fail(op, str(exc)) from exc
    if changes == []:
        host.noop(f"{dest} is already in sync with {src}")
        return
    yield RsyncCommand(src, dest, wanted)
    yield FactChange(paths=(dest,), recursive=True)


# files.copy / files.move ----------------------------------------------------------------


def _kind(path: str) -> tuple[str | None, Any]:
    """(``"file"``/``"directory"``/``"link"``/``"other"``/``None``, stat info) of a path."""
    info = host.get_fact(File, path=path)
    if isinstance(info, dict):
        return "file", info
    if info is None:
        return None, None
    directory_info = host.get_fact(Directory, path=path)
    if isinstance(directory_info, dict):
        return "directory", directory_info
    link_info = host.get_fact(Link, path=path)
    if isinstance(link_info, dict):
        return "link", link_info
    return "other", None


def _same_tree(a: str, b: str) -> bool:
    def shape(tree: dict[str, dict[str, Any]] | None) -> set[tuple[str, str, str]]:
        return {(k, v.get("type", ""), v.get("sha256", "")) for k, v in (tree or {}).items()}

    return shape(host.get_fact(TreeInfo, path=a)) == shape(host.get_fact(TreeInfo, path=b))


@operation()
def copy(src: StrPath, dest: StrPath, overwrite: bool = False) -> Commands:
    """Copy a remote file, directory or link into the remote directory ``dest``
    (``cp -r``). Nothing to do when ``dest/NAME`` already has the same content; a
    different one is an error unless ``overwrite``."""
    op = "files.copy"
    src = _path(op, src, "src")
    dest = _path(op, dest, "dest")
    kind, _ = _kind(src)
    if kind is None:
        raise fail(op, f"src {src} does not exist")
    if not isinstance(host.get_fact(Directory, path=dest), dict):
        raise fail(op, f"dest {dest} is not an existing directory")
    target = posixpath.join(dest, posixpath.basename(src.rstrip("/")))
    target_kind, _ = _kind(target)
    if target_kind is not None:
        same = False
        if kind == target_kind == "file":
            same = host.get_fact(Sha256File, path=src) == host.get_fact(Sha256File, path=target)
        elif kind == target_kind == "directory":
            same = _same_tree(src, target)
        elif kind == target_kind == "link":
            same = (
                host.get_fact(Link, path=src)["link_target"]
                == host.get_fact(Link, path=target)["link_target"]
            )
        if same:
            host.noop(f"{target} already has the same content as {src}")
            return
        if not overwrite:
            raise fail(op, f"{target} already exists and differs from {src}: pass overwrite=True")
        yield StringCommand("rm", "-rf", "--", shell_path(target))
    yield StringCommand("cp", "-RP", "--", shell_path(src), shell_path(dest))
    yield FactChange(paths=(target,), recursive=True)


@operation()
def move(src: StrPath, dest: StrPath, overwrite: bool = False) -> Commands:
    """Move a remote file, directory or link into the remote directory ``dest``.
    Nothing to do when ``src`` is gone and ``dest/NAME`` exists (already moved)."""
    op = "files.move"
    src = _path(op, src, "src")
    dest = _path(op, dest, "dest")
    target = posixpath.join(dest, posixpath.basename(src.rstrip("/")))
    kind, _ = _kind(src)
    if not isinstance(host.get_fact(Directory, path=dest), dict):
        raise fail(op, f"dest {dest} is not an existing directory")
    target_kind, _ = _kind(target)
    if kind is None:
        if target_kind is not None:
            host.noop(f"{src} is already moved to {target}")
            return
        raise fail(op, f"src {src} does not exist")
    if target_kind is not None:
        if not overwrite:
            raise fail(op, f"{target} already exists: pass overwrite=True to replace it")
        yield StringCommand("rm", "-rf", "--", shell_path(target))
    yield StringCommand("mv", "--", shell_path(src), shell_path(dest))
    yield FactChange(paths=(src, target), recursive=True)


# files.download ----------------------------------------------------------------------------


@operation()
def download(
    src: str,
    dest: StrPath,
    user: str | None = None,
    group: str | None = None,
    mode: int | str | None = None,
    cache_time: int | None = None,
    force: bool = False,
    sha384sum: str | None = None,
    sha256sum: str | None = None,
    sha1sum: str | None = None,
    md5sum: str | None = None,
    headers: dict[str, str] | None = None,
    insecure: bool = False,
    proxy: str | None = None,
    limit_rate: str | None = None,
    temp_dir: StrPath | None = None,
    extra_curl_args: dict[str, str] | None = None,
    extra_wget_args: dict[str, str] | None = None,
) -> Commands:
    """Download a URL to a file on the host with the host's curl (else wget).

    The file is downloaded when missing, when ``force``, when older than
    ``cache_time`` seconds, or when a given checksum (``sha384sum``, ``sha256sum``,
    ``sha1sum``, ``md5sum``) does not match. The download goes to a temporary file
    (next to ``dest``, or in ``temp_dir``), is checked against every checksum, and only
    then replaces ``dest``: a failed or wrong download leaves ``dest`` as it was.
    """
    op = "files.download"
    dest = _path(op, dest, "dest")
    if not isinstance(src, str) or "://" not in src:
        raise fail(op, f"argument src must be a URL (http://, https://, ftp://...), got {src!r}")
    spec = parse_file_mode(op, mode)
    extras = (("extra_curl_args", extra_curl_args), ("extra_wget_args", extra_wget_args))
    for argument, extra in extras:
        problem = check_extra_args(extra or {}, argument)
        if problem:
            raise fail(op, problem)
    checksums = {
        name: value.strip().lower()
        for name, value in (("sha384", sha384sum), ("sha256", sha256sum), ("sha1", sha1sum),
                            ("md5", md5sum))
        if value
    }  # fmt: skip
    info = host.get_fact(File, path=dest)
    if info is False:
        raise fail(op, f"{dest} exists and is not a regular file (argument dest)")
    facts = {"sha384": Sha384File, "sha256": Sha256File, "sha1": Sha1File, "md5": Md5File}
    reasons: list[str] = []
    if force:
        reasons.append("force")
    elif info is None:
        reasons.append("missing")
    else:
        if cache_time is not None:
            age = host.get_fact(FileAge, path=dest)
            if age is not None and age > cache_time:
                reasons.append("older than cache_time")
        for algorithm, expected in checksums.items():
            if host.get_fact(facts[algorithm], path=dest) != expected:
                reasons.append(f"{algorithm} differs")
    if not reasons:
        commands, octal = _ownership(dest, info, user, group, spec)
        if not commands:
            host.noop(f"{dest} has already been downloaded")
            return
        yield from chain(commands)
        yield FactChange(
            paths=(dest,), expect=((File, {"path": dest}, expected_stat(info, user, group, octal)),)
        )
        return
    if info is None:
        yield from _ensure_parent(op, dest, False, argument="dest")
    token = secrets.token_hex(8)
    if temp_dir is not None:
        temp = posixpath.join(_path(op, temp_dir, "temp_dir"), f"pyinfra-download-{token}")
    else:
        temp = posixpath.join(parent_dir(dest), f".{posixpath.basename(dest)}.pyinfra-{token}")
    ownership: list[StringCommand] = []
    wanted_mode = mode_text(spec) if spec is not None else None
    if wanted_mode is None and isinstance(info, dict):
        wanted_mode = str(info["mode"])  # keep the mode the file had
    if wanted_mode is not None:
        ownership.append(StringCommand("chmod", wanted_mode, '"$t"'))
    if user or group:
        owner = f"{user or ''}:{group}" if group else str(user)
        ownership.append(StringCommand("chown", QuoteString(owner), '"$t"'))
    options = DownloadOptions(
        headers=dict(headers or {}),
        insecure=insecure,
        proxy=proxy,
        limit_rate=limit_rate,
        extra_curl_args=dict(extra_curl_args or {}),
        extra_wget_args=dict(extra_wget_args or {}),
    )
    yield download_command(src, dest, temp, options, checksums, ownership)
    octal = mode_digits(spec, info["mode"] if info else None, False) if spec else None
    known = tuple((facts[a], {"path": dest}, v) for a, v in checksums.items())
    yield FactChange(
        paths=(dest,),
        expect=((File, {"path": dest}, expected_stat(info, user, group, octal)),),
        known=known,
    )


# files.flags -------------------------------------------------------------------------------


@operation()
def flags(path: StrPath, flags: list[str] | str | None = None, present: bool = True) -> Commands:
    """Set (or, ``present=False``, clear) BSD/macOS file flags with ``chflags``
    (``uchg``, ``schg``, ``hidden``...)."""
    op = "files.flags"
    path = _path(op, path)
    wanted = [flags] if isinstance(flags, str) else list(flags or [])
    if not wanted:
        host.noop(f"no flags to change on {path}")
        return
    current = host.get_fact(Flags, path=path)
    if current is None:
        if host.get_fact(Which, command="chflags") is None:
            raise fail(
                op, "chflags is not available on this host (file flags are a BSD/macOS feature)"
            )
        raise fail(op, f"{path} does not exist")
    if present:
        change = sorted(set(wanted) - set(current))
    else:
        change = sorted(set(wanted) & set(current))
    if not change:
        host.noop(f"{path} already has flags {','.join(wanted)} {'set' if present else 'clear'}")
        return
    prefix = "" if present else "no"
    new_flags = ",".join(prefix + flag for flag in change)
    yield StringCommand("chflags", QuoteString(new_flags), shell_path(path))
    after = sorted(set(current) | set(change)) if present else sorted(set(current) - set(change))
    yield FactChange(paths=(path,), expect=((Flags, {"path": path}, after),))


# files.unarchive ---------------------------------------------------------------------------


@operation()
def unarchive(
    src: StrPath,
    dest: StrPath,
    remote_src: bool = False,
    creates: StrPath | None = None,
    extra_opts: list[str] | None = None,
    user: str | None = None,
    group: str | None = None,
) -> Commands:
    """Extract a ``.tar``, ``.tar.gz``/``.tgz``, ``.tar.bz2``/``.tbz2``, ``.tar.xz``/
    ``.txz``, ``.tar.zst`` or ``.zip`` archive into the existing directory ``dest``.

    ``src`` is a local file (uploaded to a private temp file, removed afterwards) or,
    with ``remote_src``, a file on the host. Nothing is done when ``creates`` exists,
    or (local archives) when ``dest`` already holds every member with the same content.
    """
    op = "files.unarchive"
    src = _path(op, src, "src")
    dest = _path(op, dest, "dest")
    if creates is not None:
        creates = _path(op, creates, "creates")
        if host.get_fact(File, path=creates) is not None:
            host.noop(f"{creates} exists: the archive is already extracted")
            return
    if not isinstance(host.get_fact(Directory, path=dest), dict):
        raise fail(op, f"dest {dest} is not an existing directory")
    found = archives.archive_format(src)
    if found is None:
        supported = ", ".join(archives.SUPPORTED)
        raise fail(op, f"unsupported archive format: {src} (supported: {supported})")
    tool, tool_flags = found
    extra = [str(option) for option in extra_opts or []]
    temp = None
    if remote_src:
        if host.get_fact(File, path=src) is None:
            raise fail(op, f"remote archive {src} does not exist")
        archive = src
    else:
        local = deploy_path(src)
        if not os.path.isfile(local):
            raise fail(op, f"local archive not found: {local} (argument src)")
        members = archives.local_members(local, tool)
        if (
            members
            and not extra
            and archives.already_extracted(members, host.get_fact(TreeInfo, path=dest))
        ):
            host.noop(f"{dest} already holds the content of {local}")
            return
        temp = host.get_temp_filename()
        yield FileUploadCommand(local, temp)
        archive = temp
    command = archives.extract_command(tool, tool_flags, archive, dest, extra)
    if temp is not None:
        command = StringCommand(command, ";", "rc=$?;", "rm", "-f", shell_path(temp), ";",
                                "[", "$rc", "-eq", "0", "]")  # fmt: skip
    commands: list[Any] = [command]
    if user or group:
        commands.append(_chown(dest, user, group, recursive=True))
    yield from chain(commands)
    yield FactChange(paths=(dest,), recursive=True)
