"""Every operation on every executing target (@local now): a dry run changes nothing,
the first run changes, the second run reports no changes and executes nothing.

A case gives ``prepare`` (set up the target), ``deploy`` (the operations) and
``check`` (look at the target afterwards); all three get a :class:`Ctx`.
"""

from __future__ import annotations

import io
import shlex
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pyinfra.api.host import Host
from pyinfra.api.operation import OperationMeta
from pyinfra.facts.server import User
from pyinfra.operations import files, server
from tests.helpers.deploykit import open_target, remote_dir, run, sh, snapshot, target_params


@dataclass
class Ctx:
    host: Host
    remote: str  # a private directory on the target
    local: Path  # a private directory on this machine
    name: str  # a unique name (users, groups)

    def r(self, *parts: str) -> str:
        return "/".join([self.remote, *parts])

    def sh(self, command: str, ok: bool = True) -> str:
        return sh(self.host, command, ok)

    def root_sh(self, command: str, ok: bool = True) -> str:
        """As root (through sudo when the target's user is not root)."""
        return sh(self.host, command, ok, sudo=self.host.get_fact(User) != "root")

    def cat(self, *parts: str) -> str:
        """The exact content of a file on the target."""
        out = self.sh(f"cat {shlex.quote(self.r(*parts))} && echo '<EOF>'")
        assert out.endswith("<EOF>")
        return out[: -len("<EOF>")]

    def stat(self, *parts: str) -> str:
        return self.sh(f"stat -c '%F %a' {shlex.quote(self.r(*parts))}").strip()


@pytest.fixture(params=target_params())
def ctx(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ctx]:
    with open_target(request.param) as host, remote_dir(host) as remote:
        local = tmp_path / "local"
        local.mkdir()
        yield Ctx(host, remote, local, "pyit" + uuid.uuid4().hex[:8])


@dataclass
class Case:
    id: str
    deploy: Callable[[Ctx], object]
    check: Callable[[Ctx], object]
    prepare: Callable[[Ctx], object] = lambda c: None
    cleanup: Callable[[Ctx], object] = lambda c: None
    root: bool = False  # changes the system (users/groups): needs root on the target


def _prepare_sources(c: Ctx) -> Ctx:
    (c.local / "app.conf").write_text("key = value\n")
    (c.local / "motd.j2").write_text(
        "Welcome to {{ host.name }}, {{ who }}!\n{% for p in ports %}port {{ p }}\n{% endfor %}"
    )
    tree = c.local / "tree"
    (tree / "sub" / "skip").mkdir(parents=True)
    (tree / "a.txt").write_text("A\n")
    (tree / "sub" / "b.txt").write_text("B\n")
    (tree / "ignored.pyc").write_text("x")
    (tree / "sub" / "skip" / "c.txt").write_text("C\n")
    (c.local / "script.sh").write_text('#!/bin/sh\necho "$1 $2" > "$3"\n')
    return c


CASES = [
    Case(
        "file-create",
        lambda c: files.file(path=c.r("new", "f.txt"), mode=600),
        lambda c: _eq(c.stat("new", "f.txt"), "regular empty file 600"),
    ),
    Case(
        "file-remove",
        lambda c: files.file(path=c.r("gone.txt"), present=False),
        lambda c: c.sh(f"test ! -e {c.r('gone.txt')}") == "",
        prepare=lambda c: c.sh(f"echo x > {c.r('gone.txt')}"),
    ),
    Case(
        "directory-create",
        lambda c: files.directory(path=c.r("d1", "d2"), mode=750),
        lambda c: _eq(c.stat("d1", "d2"), "directory 750"),
    ),
    Case(
        "directory-remove",
        lambda c: files.directory(path=c.r("old"), present=False),
        lambda c: c.sh(f"test ! -e {c.r('old')}") == "",
        prepare=lambda c: c.sh(f"mkdir -p {c.r('old', 'x')} && touch {c.r('old', 'x', 'y')}"),
    ),
    Case(
        "link-create",
        lambda c: files.link(path=c.r("links", "l"), target="/etc/hostname"),
        lambda c: _eq(c.sh(f"readlink {c.r('links', 'l')}").strip(), "/etc/hostname"),
    ),
    Case(
        "link-repoint",
        lambda c: files.link(path=c.r("l"), target="/etc/passwd"),
        lambda c: _eq(c.sh(f"readlink {c.r('l')}").strip(), "/etc/passwd"),
        prepare=lambda c: c.sh(f"ln -s /etc/hostname {c.r('l')}"),
    ),
    Case(
        "link-hard",
        lambda c: files.link(path=c.r("hard"), target=c.r("orig"), symbolic=False),
        lambda c: _eq(c.sh(f"stat -c %h {c.r('orig')}").strip(), "2"),
        prepare=lambda c: c.sh(f"echo data > {c.r('orig')}"),
    ),
    Case(
        "put",
        lambda c: files.put(src=str(c.local / "app.conf"), dest=c.r("etc", "app.conf"), mode=640),
        lambda c: _eq(
            (c.cat("etc", "app.conf"), c.stat("etc", "app.conf")),
            ("key = value\n", "regular file 640"),
        ),
        prepare=_prepare_sources,
    ),
    Case(
        "put-fileobj-into-directory",
        lambda c: files.put(src=io.BytesIO(b"bytes\n"), dest=c.r("blob.bin")),
        lambda c: _eq(c.cat("blob.bin"), "bytes\n"),
    ),
    Case(
        "template",
        lambda c: files.template(
            src=str(c.local / "motd.j2"), dest=c.r("motd"), who="tests", ports=[80, 443]
        ),
        lambda c: _eq(c.cat("motd"), f"Welcome to {c.host.name}, tests!\nport 80\nport 443\n"),
        prepare=_prepare_sources,
    ),
    Case(
        "line-append",
        lambda c: files.line(path=c.r("cfg"), line="^enabled=", replace="enabled=yes"),
        lambda c: _eq(c.cat("cfg"), "a=1\nenabled=yes\n"),
        prepare=lambda c: c.sh(f"printf 'a=1' > {c.r('cfg')}"),
    ),
    Case(
        "line-replace-and-remove",
        lambda c: (
            files.line(path=c.r("cfg"), line="^port", replace="port 2222"),
            files.line(path=c.r("cfg"), line="^#debug", present=False),
        ),
        lambda c: _eq(c.cat("cfg"), "x\nport 2222\ny\n"),
        prepare=lambda c: c.sh(f"printf 'x\\nport 22\\n#debug on\\ny\\n' > {c.r('cfg')}"),
    ),
    Case(
        "line-creates-missing-file",
        lambda c: files.line(path=c.r("new.cfg"), line="only line"),
        lambda c: _eq(c.cat("new.cfg"), "only line\n"),
    ),
    Case(
        "replace",
        lambda c: files.replace(
            path=c.r("r.txt"), text="colou?r", replace="shade", extended_regex=True
        ),
        lambda c: _eq(c.cat("r.txt"), "a shade\nthe shade shade\n"),
        prepare=lambda c: c.sh(f"printf 'a colour\\nthe color shade\\n' > {c.r('r.txt')}"),
    ),
    Case(
        "sync",
        lambda c: files.sync(
            src=str(c.local / "tree"),
            dest=c.r("synced"),
            mode=640,
            dir_mode=750,
            delete=True,
            exclude="*.pyc",
            exclude_dir="sub/skip",
        ),
        lambda c: _eq(
            c.sh(f"cd {c.r('synced')} && find . | sort && stat -c '%n %a' a.txt sub"),
            ".\n./a.txt\n./sub\n./sub/b.txt\na.txt 640\nsub 750",
        ),
        prepare=lambda c: (
            _prepare_sources(c),
            c.sh(f"mkdir -p {c.r('synced')} && echo old > {c.r('synced', 'stale.txt')}"),
        ),
    ),
    Case(
        "group",
        lambda c: server.group(group=c.name, **_escalate(c)),
        lambda c: _eq(c.sh(f"getent group {c.name} | cut -d: -f1").strip(), c.name),
        cleanup=lambda c: c.root_sh(f"groupdel {c.name} 2>/dev/null; true", ok=False),
        root=True,
    ),
    Case(
        "user",
        lambda c: (
            server.group(group=c.name + "g", **_escalate(c)),
            server.user(
                user=c.name,
                home=c.r("home", c.name),
                shell="/bin/sh",
                groups=[c.name + "g"],
                public_keys=["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample test@example"],
                **_escalate(c),
            ),
        ),
        lambda c: _check_user(c),
        prepare=lambda c: c.sh(f"mkdir -p {c.r('home')}"),
        cleanup=lambda c: c.root_sh(
            f"userdel {c.name} 2>/dev/null; groupdel {c.name} 2>/dev/null; "
            f"groupdel {c.name}g 2>/dev/null; true",
            ok=False,
        ),
        root=True,
    ),
]


def _eq(got: Any, want: Any) -> bool:
    assert got == want
    return True


def _escalate(c: Ctx) -> dict[str, Any]:
    return {} if c.host.get_fact(User) == "root" else {"_sudo": True}


def _check_user(c: Ctx) -> None:
    entry = c.sh(f"getent passwd {c.name}").strip().split(":")
    assert entry[5] == c.r("home", c.name) and entry[6] == "/bin/sh"
    assert c.name + "g" in c.sh(f"id -nG {c.name}")
    keys = c.r("home", c.name, ".ssh", "authorized_keys")
    assert "test@example" in c.root_sh(f"cat {keys}")
    assert c.root_sh(f"stat -c '%U %a' {keys}").strip() == f"{c.name} 600"
    assert c.sh(f"stat -c '%U' {c.r('home', c.name)}").strip() == c.name


def _system_snapshot(c: Ctx) -> str:
    root = c.host.get_fact(User) == "root"
    return snapshot(c.host, c.remote, sudo=not root) + c.sh(
        f"getent passwd {c.name} {c.name}g; getent group {c.name} {c.name}g; true", ok=False
    )


def _changed(results: list[OperationMeta]) -> list[str]:
    return [m.name for m in results if m.changed]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_operation_is_idempotent(ctx: Ctx, case: Case) -> None:
    if case.root and ctx.host.get_fact(User) != "root" and not ctx.sh("command -v sudo", ok=False):
        pytest.skip("needs root or sudo on the target")
    try:
        case.prepare(ctx)
        before = _system_snapshot(ctx)

        dry = run(ctx.host, lambda: case.deploy(ctx), dry=True)
        assert dry and all(m.success for m in dry)
        assert _changed(dry), "the dry run should report changes"
        assert all(not c.executed for m in dry for c in m.commands)
        assert _system_snapshot(ctx) == before, "the dry run changed the target"

        first = run(ctx.host, lambda: case.deploy(ctx))
        assert all(m.success for m in first)
        assert _changed(first), "the first run should change something"
        case.check(ctx)
        after_first = _system_snapshot(ctx)

        second = run(ctx.host, lambda: case.deploy(ctx))
        assert all(m.success for m in second)
        assert _changed(second) == [], "the second run should change nothing"
        assert [c.command for m in second for c in m.commands] == []
        assert _system_snapshot(ctx) == after_first

        dry_again = run(ctx.host, lambda: case.deploy(ctx), dry=True)
        assert _changed(dry_again) == []
    finally:
        case.cleanup(ctx)


def test_files_get_downloads_once(ctx: Ctx) -> None:
    ctx.sh(f"echo remote-data > {ctx.r('remote.txt')}")
    dest = ctx.local / "dl" / "copy.txt"

    def deploy() -> None:
        files.get(src=ctx.r("remote.txt"), dest=str(dest), create_local_dir=True)

    dry = run(ctx.host, deploy, dry=True)
    assert _changed(dry) and not dest.exists()
    assert _changed(run(ctx.host, deploy))
    assert dest.read_text() == "remote-data\n"
    assert _changed(run(ctx.host, deploy)) == []


def test_shell_and_script_run_every_time_but_not_when_dry(ctx: Ctx) -> None:
    _prepare_sources(ctx)
    marker = ctx.r("marker")

    def deploy() -> None:
        server.shell(commands=[f"echo run >> {marker}"])
        server.script(src=str(ctx.local / "script.sh"), args=["hello", "world", ctx.r("out")])

    assert _changed(run(ctx.host, deploy, dry=True))
    assert ctx.sh(f"test -e {marker} || echo absent").strip() == "absent"
    run(ctx.host, deploy)
    results = run(ctx.host, deploy)
    assert ctx.cat("marker") == "run\nrun\n"
    assert ctx.cat("out") == "hello world\n"
    uploads = [c.command for m in results for c in m.commands if c.command.startswith("upload")]
    temp = uploads[0].rsplit(" -> ", 1)[1]
    assert ctx.sh(f"test -e {temp} || echo removed").strip() == "removed"


def test_dry_run_predicts_later_operations(ctx: Ctx) -> None:
    """A dry run reasons on the state earlier operations would make: a file in a
    directory that does not exist yet is reported as a change, not as an error."""

    def deploy() -> None:
        files.directory(path=ctx.r("newdir"))
        files.file(path=ctx.r("newdir", "f"), create_remote_dir=False)
        files.line(path=ctx.r("newdir", "f"), line="x=1")

    dry = run(ctx.host, deploy, dry=True)
    assert [m.changed for m in dry] == [True, True, True]
    assert ctx.sh(f"test -e {ctx.r('newdir')} || echo absent").strip() == "absent"


def test_operation_results_usable_later(ctx: Ctx) -> None:
    seen: dict[str, Any] = {}

    def deploy() -> None:
        made = files.file(path=ctx.r("x"))
        again = files.file(path=ctx.r("x"))
        echoed = server.shell(commands=["echo out; echo err >&2"])
        seen.update(
            made=made.changed, again=again.did_change(), ok=echoed.did_succeed(),
            stdout=echoed.stdout, stderr=echoed.stderr,
        )  # fmt: skip

    run(ctx.host, deploy)
    assert seen == {"made": True, "again": False, "ok": True, "stdout": "out", "stderr": "err"}
