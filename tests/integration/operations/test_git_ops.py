"""git operations and facts with real local bare repositories: ``file://`` on every
target, and ``ssh://`` to the test sshd with a key and ``ssh_keyscan`` (strict host key
checking proves the scan worked)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyinfra.api.host import Host
from pyinfra.facts import git as G
from pyinfra.operations import git
from tests.contract.targets import ContractTarget
from tests.helpers.deploykit import remote_dir, run
from tests.helpers.fileskit import (
    assert_idempotent,
    changed,
    connected,
    sh,
    ssh_access,
    target_params,
)

COMMIT = "git -c user.name=t -c user.email=t@example.com commit -q"


def _make_origin(host: Host, base: str) -> None:
    """``base/origin.git`` with branches main and dev and a tag v1; a clone in base/work."""
    sh(
        host,
        f"cd {base} && git init -q --bare origin.git && "
        "git --git-dir=origin.git symbolic-ref HEAD refs/heads/main && "
        "git init -q work && cd work && git checkout -q -b main && echo one > f && "
        f"git add f && {COMMIT} -m one && git tag v1 && git checkout -q -b dev && "
        f"echo dev > d && git add d && {COMMIT} -m dev && git checkout -q main && "
        "git push -q ../origin.git main dev v1",
    )


def _push_commit(host: Host, base: str, text: str) -> str:
    return sh(
        host,
        f"cd {base}/work && echo {text} >> f && {COMMIT} -am {text} && "
        "git push -q ../origin.git main && git rev-parse HEAD",
    ).strip()


@pytest.fixture(scope="module", params=target_params())
def git_host(request: pytest.FixtureRequest) -> Iterator[Host]:
    target: ContractTarget = request.param
    with connected(target) as host:
        if not sh(host, "command -v git || true").strip():
            pytest.skip(f"{target.id}: git is missing on the target")
        yield host


def test_repo_worktree_config_bare(git_host: Host) -> None:
    host = git_host
    with remote_dir(host) as base:
        _make_origin(host, base)
        url = f"file://{base}/origin.git"

        def deploy() -> None:
            git.repo(src=url, dest=f"{base}/clone", branch="main")
            git.repo(src=url, dest=f"{base}/tagged", branch="v1")
            git.config(key="pull.rebase", value="false", repo=f"{base}/clone")
            git.config(key="remote.origin.push", value="refs/heads/main", multi_value=True,
                       repo=f"{base}/clone")  # fmt: skip
            git.bare_repo(path=f"{base}/bare.git")
            git.worktree(worktree=f"{base}/wt", repo=f"{base}/clone", commitish="dev")

        def check() -> None:
            assert sh(host, f"cat {base}/clone/f").strip() == "one"
            assert sh(host, f"cat {base}/wt/d").strip() == "dev"
            assert sh(host, f"git -C {base}/tagged describe --tags").strip() == "v1"
            assert sh(host, f"git -C {base}/clone config pull.rebase").strip() == "false"
            assert sh(host, f"test -f {base}/bare.git/HEAD && echo yes").strip() == "yes"

        assert_idempotent(host, deploy, check, base)

        # facts on the clone, as pyinfra returns them
        head = sh(host, f"git -C {base}/clone rev-parse HEAD").strip()
        clone = f"{base}/clone"
        # ``git describe --all`` names a tag at HEAD before the branch (as in pyinfra)
        assert host.get_fact(G.GitBranch, repo=clone) == "v1"
        assert host.get_fact(G.GitTag, repo=clone) == ["v1"]
        assert host.get_fact(G.GitConfig, repo=clone)["remote.origin.url"] == [url]
        assert host.get_fact(G.GitLocalCommit, repo=clone) == head
        assert host.get_fact(G.GitRemoteBranchCommit, repo=clone, branch="main") == head
        assert host.get_fact(G.GitTrackingBranch, repo=clone) == "origin/main"
        assert host.get_fact(G.GitBranch, repo=f"{base}/missing") is None

        # a new upstream commit is pulled once
        new = _push_commit(host, base, "two")
        pulled = run(host, lambda: git.repo(src=url, dest=clone, branch="main"))
        assert changed(pulled) and sh(host, f"git -C {clone} rev-parse HEAD").strip() == new
        assert changed(run(host, lambda: git.repo(src=url, dest=clone, branch="main"))) == []
        assert host.get_fact(G.GitBranch, repo=clone) == "main"
        # from a tag to a branch, once
        tagged = f"{base}/tagged"
        assert changed(run(host, lambda: git.repo(src=url, dest=tagged, branch="dev")))
        assert sh(host, f"git -C {tagged} symbolic-ref --short HEAD").strip() == "dev"
        assert changed(run(host, lambda: git.repo(src=url, dest=tagged, branch="dev"))) == []


def test_unknown_branch_leaves_nothing(git_host: Host) -> None:
    host = git_host
    with remote_dir(host) as base:
        _make_origin(host, base)
        results = run(
            host,
            lambda: git.repo(src=f"file://{base}/origin.git", dest=f"{base}/c", branch="nope"),
            expect_success=False,
        )
        error = results[0].error or ""
        assert "nope" in error and "not found" in error and "\n" not in error
        assert sh(host, f"test -e {base}/c || echo absent").strip() == "absent"


@pytest.fixture(scope="module")
def served_repo() -> Iterator[str]:
    """A bare repository on this machine that the test sshd's user can read."""
    access = ssh_access()
    if access is None:
        pytest.skip("the test sshd is not available")
    base = Path(tempfile.mkdtemp(prefix="pyi-files-gitsrv-"))
    base.chmod(0o755)
    env_commit = COMMIT.replace("git ", "git -C work ", 1)
    script = (
        "git init -q --bare origin.git && git --git-dir=origin.git symbolic-ref HEAD "
        "refs/heads/main && git init -q work && git -C work checkout -q -b main && "
        f"echo served > work/f && git -C work add f && {env_commit} -m one && "
        "git -C work push -q ../origin.git main"
    )
    subprocess.run(["sh", "-c", script], cwd=base, check=True)
    shutil.chown(base / "origin.git", access.user)
    subprocess.run(["chown", "-R", access.user, str(base / "origin.git")], check=True)
    yield str(base / "origin.git")
    shutil.rmtree(base, ignore_errors=True)


def test_clone_over_ssh_with_keyscan(git_host: Host, served_repo: str) -> None:
    access = ssh_access()
    assert access is not None
    host = git_host
    with remote_dir(host) as base:
        key = f"{base}/id_ed25519"
        host.put_file(str(access.key), key)
        sh(host, f"chmod 600 {key} && mkdir -p {base}/home")
        ssh = (
            f"ssh -i {key} -o IdentitiesOnly=yes -o BatchMode=yes "
            "-o UserKnownHostsFile=$HOME/.ssh/known_hosts -o StrictHostKeyChecking=yes"
        )
        env = {"GIT_SSH_COMMAND": ssh, "HOME": f"{base}/home"}
        url = f"ssh://{access.user}@127.0.0.1:{access.port}{served_repo}"

        def deploy() -> None:
            git.repo(src=url, dest=f"{base}/clone", ssh_keyscan=True, _env=env)

        def check() -> None:
            assert sh(host, f"cat {base}/clone/f").strip() == "served"
            known = sh(host, f"cat {base}/home/.ssh/known_hosts")
            assert f"[127.0.0.1]:{access.port}" in known

        assert_idempotent(host, deploy, check, base)

        # a key the server does not accept: one line saying so, no clone left behind
        sh(host, f"ssh-keygen -q -t ed25519 -N '' -f {base}/other")
        bad_env = {**env, "GIT_SSH_COMMAND": ssh.replace(key, f"{base}/other")}
        results = run(
            host,
            lambda: git.repo(src=url, dest=f"{base}/denied", _env=bad_env),
            expect_success=False,
        )
        error = results[0].error or ""
        assert "Permission denied" in error and "\n" not in error
        assert sh(host, f"test -e {shlex.quote(base)}/denied || echo absent").strip() == "absent"


def test_submodules_depth_rebase(git_host: Host) -> None:
    host = git_host
    with remote_dir(host) as base:
        _make_origin(host, base)
        sh(
            host,
            f"cd {base} && git init -q --bare lib.git && git --git-dir=lib.git symbolic-ref "
            "HEAD refs/heads/main && git init -q libwork && cd libwork && git checkout -q -b "
            f"main && echo lib > l && git add l && {COMMIT} -m lib && git push -q ../lib.git main "
            f"&& cd ../work && git -c protocol.file.allow=always submodule add -q "
            f"file://{base}/lib.git lib && {COMMIT} -m sub && git push -q ../origin.git main",
        )
        url = f"file://{base}/origin.git"
        env = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "protocol.file.allow",
               "GIT_CONFIG_VALUE_0": "always"}  # fmt: skip

        def deploy() -> None:
            git.repo(src=url, dest=f"{base}/full", update_submodules=True, _env=env)
            git.repo(src=url, dest=f"{base}/rec", update_submodules=True,
                     recursive_submodules=True, _env=env)  # fmt: skip
            git.repo(src=url, dest=f"{base}/shallow", depth=1, rebase=True, _env=env)

        def check() -> None:
            assert sh(host, f"cat {base}/full/lib/l {base}/rec/lib/l").split() == ["lib", "lib"]
            assert sh(host, f"git -C {base}/shallow rev-list --count HEAD").strip() == "1"

        assert_idempotent(host, deploy, check, base)
        # an emptied submodule is checked out again, once
        sh(host, f"rm -rf {base}/full/lib && mkdir {base}/full/lib")

        def again() -> None:
            git.repo(src=url, dest=f"{base}/full", update_submodules=True, _env=env)

        assert changed(run(host, again))
        assert sh(host, f"cat {base}/full/lib/l").strip() == "lib"
        assert changed(run(host, again)) == []
