"""Git repositories, worktrees and configuration on the host."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Generator
from typing import Any
from urllib.parse import urlsplit

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.filecommands import shell_path
from pyinfra.facts.files import Directory, File
from pyinfra.facts.git import (
    GitConfig,
    GitLocalCommit,
    GitRemoteBranchCommit,
    GitRepoState,
    GitTrackingBranch,
)
from pyinfra.operations import files, ssh
from pyinfra.operations.util import chain, check_path, fail

Commands = Generator[Any, Any, None]

_SCP_LIKE = re.compile(r"^(?:[A-Za-z0-9._-]+@)?([A-Za-z0-9.-]+):(?!//)")


def _run_git(*args: Any) -> StringCommand:
    """``git ARGS``; on failure its output goes to stderr followed by its most telling
    line (``fatal:``, ``error:``, ``Permission denied``), so the operation's one-line
    error says what went wrong rather than git's closing advice."""
    return StringCommand(
        "{", "o=$(git", *args, "2>&1);", "s=$?;", "[", "$s", "-eq", "0", "]", "||", "{",
        "printf", "'%s\\n'", '"$o"', ">&2;", "printf", "'%s\\n'", '"$o"', "|", "grep", "-m1",
        "-E", "'Permission denied|fatal:|error:|ERROR'", ">&2;", "};", "[", "$s", "-eq", "0",
        "];", "}",
    )  # fmt: skip


def _git(dest: str, *args: Any) -> StringCommand:
    return StringCommand("cd", shell_path(dest), "&&", _run_git(*args))


def _chown_tree(path: str, user: str | None, group: str | None) -> StringCommand:
    owner = f"{user or ''}:{group}" if group else str(user)
    return StringCommand("chown", "-R", QuoteString(owner), shell_path(path))


def ssh_host_of(src: str) -> tuple[str, int] | None:
    """(host, port) of an SSH git URL (``ssh://[user@]host[:port]/path`` or
    ``[user@]host:path``), ``None`` for other URLs."""
    if src.startswith(("ssh://", "git+ssh://", "ssh+git://")):
        parts = urlsplit(src)
        return (parts.hostname, parts.port or 22) if parts.hostname else None
    match = _SCP_LIKE.match(src)
    return (match.group(1), 22) if match and "://" not in src else None


@operation()
def config(
    key: str,
    value: str,
    multi_value: bool = False,
    repo: str | None = None,
    system: bool = False,
) -> Commands:
    """Set a git config ``key`` to ``value`` in a repository's config (``repo``), else
    in the global (or, ``system``, the system) config; ``multi_value`` adds the value
    to the key's values instead of replacing them."""
    op = "git.config"
    if not key or not isinstance(key, str):
        raise fail(op, f"argument key must be a non-empty string, got {key!r}")
    if repo is None:
        existing = host.get_fact(GitConfig, system=system)
        base: list[Any] = ["git", "config", "--system" if system else "--global"]
    else:
        check_path(op, repo, "repo")
        # a repository made by an earlier operation (or a dry run's prediction) has none yet
        is_repo = host.get_fact(Directory, path=posixpath.join(repo, ".git"))
        existing = host.get_fact(GitConfig, repo=repo) if is_repo else {}
        base = ["cd", shell_path(repo), "&&", "git", "config", "--local"]
    values = existing.get(key, [])
    if not multi_value and values == [value]:
        host.noop(f"git config {key} is already {value}")
        return
    if multi_value and value in values:
        host.noop(f"git config {key} already has {value}")
        return
    if multi_value:
        yield StringCommand(*base, "--add", QuoteString(key), QuoteString(value))
    else:
        yield StringCommand(*base, "--replace-all", QuoteString(key), QuoteString(value))
    new = [*values, value] if multi_value else [value]
    fact_args = {"repo": repo, "system": system} if repo is None else {"repo": repo}
    yield FactChange(facts=(GitConfig,), expect=((GitConfig, fact_args, {**existing, key: new}),))


@operation()
def repo(
    src: str,
    dest: str,
    branch: str | None = None,
    pull: bool = True,
    rebase: bool = False,
    user: str | None = None,
    group: str | None = None,
    ssh_keyscan: bool = False,
    update_submodules: bool = False,
    recursive_submodules: bool = False,
    depth: int | None = None,
    *,
    fetch_tags: bool = False,
) -> Commands:
    """Clone ``src`` into ``dest`` (created if missing), or bring an existing clone to
    ``branch`` (a branch or a tag) and pull it when origin has new commits.

    ``ssh_keyscan`` adds the git server's host key to ``~/.ssh/known_hosts`` first (for
    ``user@host:path`` and ``ssh://`` URLs); ``update_submodules`` (with
    ``recursive_submodules``) inits and updates submodules that are missing or at
    another commit; ``depth`` makes a shallow clone; ``user``/``group`` own the tree.
    """
    op = "git.repo"
    check_path(op, dest, "dest")
    if not isinstance(src, str) or not src:
        raise fail(op, f"argument src must be a repository URL or path, got {src!r}")
    if depth is not None and (isinstance(depth, bool) or depth < 1):
        raise fail(op, f"argument depth must be a positive integer, got {depth!r}")
    if ssh_keyscan:
        server = ssh_host_of(src)
        if server is None:
            raise fail(op, f"cannot tell the SSH host (for ssh_keyscan) from src {src!r}")
        yield from ssh.keyscan._inner(hostname=server[0], port=server[1])
    state = host.get_fact(
        GitRepoState,
        dest=dest,
        branch=branch,
        remote=pull,
        submodules=update_submodules,
        recursive=recursive_submodules,
    )
    commands: list[Any] = []
    if not state or not state["repo"]:
        # git creates dest (and its parents) and removes it again if the clone fails
        options: list[Any] = []
        if depth is not None:
            options += ["--depth", str(int(depth))]
        if branch:
            options += ["--branch", QuoteString(branch)]
        if update_submodules and recursive_submodules:
            options.append("--recurse-submodules")
        commands.append(_run_git("clone", "-q", *options, "--", QuoteString(src), shell_path(dest)))
        if update_submodules and not recursive_submodules:
            commands.append(_git(dest, "submodule", "update", "--init"))
    else:
        remote_changed = state["origin"] is not None and state["origin"] != src
        if remote_changed:
            commands.append(_git(dest, "remote", "set-url", "origin", QuoteString(src)))
        if branch is None:
            switch = False
        elif state["tag"]:
            switch = state["head"] is None or state["head"] != state["local"]
        else:
            switch = state["branch"] != branch
        if (switch and state["local"] is None) or remote_changed:
            commands.append(_git(dest, "fetch", "-q", *(["--tags"] if fetch_tags else [])))
        if switch:
            assert branch is not None
            commands.append(_git(dest, "checkout", "-q", QuoteString(branch)))
        if pull and not state["tag"]:
            up_to_date = (
                not remote_changed
                and state["local"] is not None
                and state["local"] == state["remote"]
            )
            if not up_to_date:
                commands.append(_git(dest, "pull", "-q", *(["--rebase"] if rebase else [])))
        if update_submodules and (state["submodules"] or commands):
            recursive = ["--recursive"] if recursive_submodules else []
            commands.append(_git(dest, "submodule", "update", "--init", *recursive))
    if not commands:
        host.noop(f"git repository {dest} is up to date")
        return
    if user or group:
        commands.append(_chown_tree(dest, user, group))
    yield from chain(commands)
    git_dir = {"user": user or "", "group": group or "", "mode": 755, "size": 0}
    yield FactChange(
        paths=(dest,),
        recursive=True,
        facts=(GitRepoState,),
        expect=((Directory, {"path": posixpath.join(dest, ".git")}, git_dir),),
    )


@operation()
def worktree(
    worktree: str,
    repo: str | None = None,
    detached: bool = False,
    new_branch: str | None = None,
    commitish: str | None = None,
    pull: bool = True,
    rebase: bool = False,
    from_remote_branch: tuple[str, str] | list[str] | None = None,
    present: bool = True,
    assume_repo_exists: bool = False,
    force: bool = False,
    user: str | None = None,
    group: str | None = None,
) -> Commands:
    """Add (or, ``present=False``, remove) a git worktree of ``repo``; an existing one
    is pulled (from its upstream, or ``from_remote_branch=(remote, branch)``) when the
    remote has new commits."""
    op = "git.worktree"
    check_path(op, worktree, "worktree")
    if from_remote_branch is not None and (
        not isinstance(from_remote_branch, (tuple, list)) or len(from_remote_branch) != 2
    ):
        raise fail(op, 'from_remote_branch must be a (remote, branch) pair like ("origin", "main")')
    exists = bool(host.get_fact(Directory, path=worktree))
    if present and not exists:
        if repo is None:
            raise fail(op, "argument repo is required to create a worktree")
        if not assume_repo_exists and not host.get_fact(
            Directory, path=posixpath.join(repo, ".git")
        ):
            raise fail(op, f"{repo} is not a git repository (no {repo}/.git)")
        args: list[Any] = ["worktree", "add"]
        if new_branch:
            args += ["-b", QuoteString(new_branch)]
        elif detached:
            args.append("--detach")
        if force:
            args.append("--force")
        args.append(QuoteString(worktree))
        if commitish:
            args.append(QuoteString(commitish))
        commands: list[Any] = [_git(repo, *args)]
        if user or group:
            commands.append(_chown_tree(worktree, user, group))
            name = worktree.rstrip("/").rsplit("/", 1)[-1]
            commands.append(
                _chown_tree(posixpath.join(repo, ".git", "worktrees", name), user, group)
            )
        yield from chain(commands)
        yield FactChange(paths=(worktree, repo), recursive=True)
        return
    if not present:
        if exists:
            yield _git(worktree, "worktree", "remove", ".", *(["--force"] if force else []))
            yield FactChange(paths=(worktree,), recursive=True, facts=(GitRepoState,))
        else:
            host.noop(f"worktree {worktree} does not exist")
        return
    if not pull:
        host.noop(f"worktree {worktree} exists (pull=False)")
        return
    if from_remote_branch:
        remote_name, remote_branch = str(from_remote_branch[0]), str(from_remote_branch[1])
    else:
        tracking = host.get_fact(GitTrackingBranch, repo=worktree)
        if not tracking or "/" not in tracking:
            host.noop(f"worktree {worktree} has no upstream branch to pull from")
            return
        remote_name, remote_branch = tracking.split("/", 1)
    local = host.get_fact(GitLocalCommit, repo=worktree)
    remote = host.get_fact(
        GitRemoteBranchCommit, repo=worktree, remote=remote_name, branch=remote_branch
    )
    if local is not None and local == remote:
        host.noop(f"worktree {worktree} is up to date")
        return
    args = ["pull", *(["--rebase"] if rebase else [])]
    if from_remote_branch:
        args += [QuoteString(remote_name), QuoteString(remote_branch)]
    yield _git(worktree, *args)
    yield FactChange(paths=(worktree,), recursive=True, facts=(GitLocalCommit,))


@operation()
def bare_repo(
    path: str,
    user: str | None = None,
    group: str | None = None,
    present: bool = True,
) -> Commands:
    """Create (or, ``present=False``, remove) a bare git repository at ``path``."""
    op = "git.bare_repo"
    check_path(op, path)
    yield from files.directory._inner(path=path, present=present)
    if not present:
        return
    head = host.get_fact(File, path=posixpath.join(path, "HEAD"))
    commands: list[Any] = []
    if not head:
        commands.append(StringCommand("git", "init", "--bare", "-q", shell_path(path)))
        if user or group:
            commands.append(_chown_tree(path, user, group))
    elif (user and head["user"] != user) or (group and head["group"] != group):
        commands.append(_chown_tree(path, user, group))
    if commands:
        yield from chain(commands)
        yield FactChange(paths=(path,), recursive=True)
