"""Facts about git repositories on the host (all need ``git``; a missing repository
gives the fact's default)."""

from __future__ import annotations

import re
from typing import Any

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactBase
from pyinfra.facts.filecommands import shell_path
from pyinfra.facts.parsing import first_line

_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def _in_repo(repo: str, *command: Any) -> StringCommand:
    """``command`` run inside ``repo`` if that directory exists (nothing otherwise)."""
    return StringCommand(
        "if", "[", "-d", shell_path(repo), "];", "then", "cd", shell_path(repo), "&&",
        *command, ";", "fi",
    )  # fmt: skip


class _GitFact(FactBase[Any]):
    abstract = True

    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "git"


class GitBranch(_GitFact):
    """What HEAD is (``git describe --all`` without ``heads/``/``tags/``: ``main``,
    ``v1.0``), or ``None`` if the repository is missing."""

    def command(self, repo: str) -> StringCommand:
        return _in_repo(repo, "git", "describe", "--all")

    def process(self, output: list[str]) -> str:
        return re.sub(r"(heads|tags)/", "", "\n".join(output))


class GitTag(_GitFact):
    """The repository's tags, or ``None`` if it is missing."""

    def command(self, repo: str) -> StringCommand:
        return _in_repo(repo, "git", "tag")

    def process(self, output: list[str]) -> list[str]:
        return output


class GitConfig(_GitFact):
    """``{key: [values]}`` of a repository's local config (``repo``), else of the
    global (or, ``system=True``, system) config; ``{}`` when there is none."""

    @staticmethod
    def default() -> dict[str, list[str]]:
        return {}

    def command(self, repo: str | None = None, system: bool = False) -> StringCommand:
        if repo is None:
            level = "--system" if system else "--global"
            return StringCommand("git", "config", level, "-l", "2>/dev/null", "||", "true")
        return _in_repo(repo, "git", "config", "--local", "-l")

    def process(self, output: list[str]) -> dict[str, list[str]]:
        items: dict[str, list[str]] = {}
        for line in output:
            key, _, value = line.partition("=")
            items.setdefault(key, []).append(value)
        return items


class GitTrackingBranch(_GitFact):
    """The upstream of the current branch (``origin/main``), or ``None``."""

    def command(self, repo: str) -> StringCommand:
        return _in_repo(repo, "git", "status", "--branch", "--porcelain")

    def process(self, output: list[str]) -> str | None:
        match = re.search(r"\.{3}(\S+)\b", output[0]) if output else None
        return match.group(1) if match else None


class GitLocalCommit(_GitFact):
    """The commit SHA of ``ref`` (default ``HEAD``), or ``None`` when the repository
    or the ref does not exist."""

    def command(self, repo: str, ref: str = "HEAD") -> StringCommand:
        return _in_repo(
            repo, "{", "git", "rev-parse", "--verify", "-q", QuoteString(ref), "2>/dev/null",
            "||", "true;", "}",
        )  # fmt: skip

    def process(self, output: list[str]) -> str | None:
        line = first_line(output)
        return line if _SHA.fullmatch(line) else None


class GitRemoteBranchCommit(_GitFact):
    """The commit SHA at the tip of ``branch`` (default: the remote's HEAD) on
    ``remote`` (``git ls-remote``), or ``None`` when the remote cannot be reached or
    has no such branch, or the repository is missing."""

    def command(
        self, repo: str, remote: str = "origin", branch: str | None = None
    ) -> StringCommand:
        return _in_repo(
            repo, "{", "git", "ls-remote", "--", QuoteString(remote), QuoteString(branch or "HEAD"),
            "2>/dev/null", "||", "true;", "}", "|", "head", "-n", "1",
        )  # fmt: skip

    def process(self, output: list[str]) -> str | None:
        sha = output[0].split("\t", 1)[0].strip() if output else ""
        return sha if _SHA.fullmatch(sha) else None


_STATE_SCRIPT = r"""
if [ -d .git ] || [ -f .git ]; then
  echo "repo=1"
  echo "origin=$(git config --get remote.origin.url)"
  echo "branch=$(git symbolic-ref --short -q HEAD)"
  echo "head=$(git rev-parse -q --verify HEAD 2>/dev/null)"
  if [ -n "$PYI_BRANCH" ] && git rev-parse -q --verify "refs/tags/$PYI_BRANCH" >/dev/null; then
    echo "tag=1"
  fi
  ref=${PYI_BRANCH:-$(git symbolic-ref --short -q HEAD)}
  if [ -n "$ref" ]; then
    echo "local=$(git rev-parse -q --verify "$ref^{commit}" 2>/dev/null)"
    if [ "$PYI_REMOTE" = 1 ]; then
      echo "remote=$(git ls-remote origin "$ref" 2>/dev/null | head -n 1 | cut -f 1)"
    fi
  fi
  if [ "$PYI_SUBMODULES" = 1 ]; then
    git submodule status $PYI_RECURSIVE 2>/dev/null | grep -q '^[-+U]' && echo "submodules=1"
  fi
fi
true
"""


class GitRepoState(_GitFact):
    """What ``git.repo`` needs about ``dest``, in one command: ``{"repo": bool,
    "origin": url, "branch": current branch, "head": HEAD's SHA, "tag": bool (``branch`` is a tag),
    "local": SHA of the wanted ref, "remote": its SHA on origin (``remote=True``),
    "submodules": bool (some submodule is missing or at another commit)}``, or ``None``
    if ``dest`` does not exist."""

    def command(
        self,
        dest: str,
        branch: str | None = None,
        remote: bool = True,
        submodules: bool = False,
        recursive: bool = False,
    ) -> StringCommand:
        env = [
            StringCommand("PYI_BRANCH=", QuoteString(branch or ""), _separator=""),
            f"PYI_REMOTE={int(remote)}",
            f"PYI_SUBMODULES={int(submodules)}",
            f"PYI_RECURSIVE={'--recursive' if recursive else ''}",
        ]
        return _in_repo(dest, "echo", "dir=1;", "export", *env, ";", _STATE_SCRIPT.strip())

    def process(self, output: list[str]) -> dict[str, Any]:
        values = dict(line.split("=", 1) for line in output if "=" in line)
        return {
            "repo": values.get("repo") == "1",
            "origin": values.get("origin") or None,
            "branch": values.get("branch") or None,
            "head": values.get("head") or None,
            "tag": values.get("tag") == "1",
            "local": values.get("local") or None,
            "remote": values.get("remote") or None,
            "submodules": values.get("submodules") == "1",
        }
