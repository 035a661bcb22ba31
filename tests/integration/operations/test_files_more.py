"""files.block/copy/move/download/unarchive, symbolic modes, pathlib paths, ``~`` paths,
put atime/mtime, replace/line with interpolated variables, and edits made on the host:
through @local, @docker and @ssh, each with the dry-run / two-run contract."""

from __future__ import annotations

import hashlib
import io
import shlex
import tarfile
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from pyinfra.api.facts import fact_fetch_counts
from pyinfra.api.host import Host
from pyinfra.facts import files as F
from pyinfra.operations import files
from tests.contract.targets import ContractTarget
from tests.helpers.deploykit import remote_dir, run
from tests.helpers.fileskit import (
    REQUESTS,
    assert_idempotent,
    changed,
    connected,
    http_server,
    refused_port,
    sh,
    target_params,
)


@dataclass
class Ctx:
    host: Host
    remote: str
    local: Path

    def r(self, *parts: str) -> str:
        return "/".join([self.remote, *parts])

    def sh(self, command: str, ok: bool = True) -> str:
        return sh(self.host, command, ok)

    def cat(self, *parts: str) -> str:
        out = self.sh(f"cat {shlex.quote(self.r(*parts))} && echo '<EOF>'")
        return out[: -len("<EOF>")]

    def mode(self, *parts: str) -> str:
        return self.sh(f"stat -c %a {shlex.quote(self.r(*parts))}").strip()


@pytest.fixture(scope="module", params=target_params())
def target_host(request: pytest.FixtureRequest) -> Iterator[Host]:
    target: ContractTarget = request.param
    with connected(target) as host:
        yield host


@pytest.fixture
def ctx(target_host: Host, tmp_path: Path) -> Iterator[Ctx]:
    with remote_dir(target_host) as remote:
        yield Ctx(target_host, remote, tmp_path)


def _contract(c: Ctx, deploy: Callable[[], Any], check: Callable[[], Any]) -> None:
    assert_idempotent(c.host, deploy, check, c.remote)


def test_block(ctx: Ctx) -> None:
    c = ctx
    c.sh(f"printf 'a\\n127.0.0.1 localhost\\nb\\n' > {c.r('hosts')}")
    c.sh(f"printf 'x\\n# BEGIN PYINFRA BLOCK\\nold\\n# END PYINFRA BLOCK\\ny\\n' > {c.r('old')}")
    c.sh(f"printf 'k\\n<!-- BEGIN -->\\ngone\\n<!-- END -->\\n' > {c.r('rm.html')}")
    c.sh(f"chmod 640 {c.r('hosts')}")

    def deploy() -> None:
        files.block(path=c.r("hosts"), content="10.0.0.1 mars-one", before=True, line="localhost")
        files.block(path=c.r("new.rc"), content=["eval $(thef -a)", "x='q'"], marker="## {mark} AL")
        files.block(path=c.r("old"), content="new\ncontent")
        files.block(path=c.r("rm.html"), present=False, marker="<!-- {mark} -->")

    def check() -> None:
        assert c.cat("hosts") == (
            "a\n# BEGIN PYINFRA BLOCK\n10.0.0.1 mars-one\n# END PYINFRA BLOCK\n"
            "127.0.0.1 localhost\nb\n"
        )
        assert c.mode("hosts") == "640"
        assert c.cat("new.rc") == "## BEGIN AL\neval $(thef -a)\nx='q'\n## END AL\n"
        assert c.cat("old") == "x\n# BEGIN PYINFRA BLOCK\nnew\ncontent\n# END PYINFRA BLOCK\ny\n"
        assert c.cat("rm.html") == "k\n"
        assert c.host.get_fact(F.Block, path=c.r("old")) == ["new", "content"]

    _contract(c, deploy, check)


def test_block_bad_input(ctx: Ctx) -> None:
    c = ctx
    c.sh(f"printf 'a\\n# BEGIN PYINFRA BLOCK\\nb\\n' > {c.r('open')}")
    before = c.cat("open")
    results = run(c.host, lambda: files.block(path=c.r("open"), content="x"), expect_success=False)
    assert results[0].error and "no end marker" in results[0].error
    assert "\n" not in results[0].error and c.cat("open") == before


def test_copy_and_move(ctx: Ctx) -> None:
    c = ctx
    c.sh(
        f"mkdir -p {c.r('src', 'tree', 'sub')} {c.r('dest')} && echo one > {c.r('src', 'one')} "
        f"&& echo two > {c.r('src', 'tree', 'sub', 'two')} && echo mv > {c.r('src', 'moving')} "
        f"&& ln -s one {c.r('src', 'alink')}"
    )

    def deploy() -> None:
        files.copy(src=c.r("src", "one"), dest=c.r("dest"))
        files.copy(src=c.r("src", "tree"), dest=c.r("dest"))
        files.copy(src=c.r("src", "alink"), dest=c.r("dest"))
        files.move(src=c.r("src", "moving"), dest=c.r("dest"))

    def check() -> None:
        assert c.cat("dest", "one") == "one\n"
        assert c.cat("dest", "tree", "sub", "two") == "two\n"
        assert c.sh(f"readlink {c.r('dest', 'alink')}").strip() == "one"
        assert c.cat("dest", "moving") == "mv\n"
        assert c.sh(f"test -e {c.r('src', 'moving')} || echo gone").strip() == "gone"

    _contract(c, deploy, check)
    c.sh(f"echo different > {c.r('src', 'one')}")
    bad = run(
        c.host, lambda: files.copy(src=c.r("src", "one"), dest=c.r("dest")), expect_success=False
    )
    assert bad[0].error and "differs" in bad[0].error and c.cat("dest", "one") == "one\n"
    forced = run(
        c.host, lambda: files.copy(src=c.r("src", "one"), dest=c.r("dest"), overwrite=True)
    )
    assert changed(forced) and c.cat("dest", "one") == "different\n"


def test_modes_paths_and_home(ctx: Ctx) -> None:
    """Symbolic modes, pathlib paths and ``~`` (HOME set to the test directory)."""
    c = ctx
    c.sh(f"mkdir -p {c.r('home')} && echo x > {c.r('existing')} && chmod 600 {c.r('existing')}")
    (c.local / "conf").write_text("conf\n")
    env = {"_env": {"HOME": c.r("home")}}

    def deploy() -> None:
        files.file(path=PurePosixPath(c.r("existing")), mode="go+r")
        files.file(path=Path(c.r("exec.sh")), mode="u=rwx,go=rx")
        files.directory(path=c.r("d"), mode="u=rwx,g=rx,o=")
        files.put(src=c.local / "conf", dest="~/conf", mode="a=r,u+w", **env)
        files.directory(path="~/sub/deeper", **env)
        files.link(path="~/link", target=PurePosixPath("/etc/hostname"), **env)

    def check() -> None:
        assert c.mode("existing") == "644"
        assert c.mode("exec.sh") == "755"
        assert c.mode("d") == "750"
        assert c.cat("home", "conf") == "conf\n" and c.mode("home", "conf") == "644"
        assert c.sh(f"test -d {c.r('home', 'sub', 'deeper')} && echo yes").strip() == "yes"
        assert c.sh(f"readlink {c.r('home', 'link')}").strip() == "/etc/hostname"

    _contract(c, deploy, check)
    info = c.host.get_fact(F.File, path="~/conf", _env={"HOME": c.r("home")})
    assert info and info["mode"] == 644
    assert c.host.get_fact(F.Directory, path=Path(c.r("d")))["mode"] == 750


def test_put_times(ctx: Ctx) -> None:
    c = ctx
    (c.local / "t.txt").write_text("times\n")
    mtime = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)

    def deploy() -> None:
        files.put(src=str(c.local / "t.txt"), dest=c.r("t.txt"), mtime=mtime)
        files.put(src=str(c.local / "t.txt"), dest=c.r("u.txt"), mtime="1600000000")

    def check() -> None:
        assert c.sh(f"stat -c %Y {c.r('t.txt')} {c.r('u.txt')}").split() == [
            str(int(mtime.timestamp())),
            "1600000000",
        ]

    _contract(c, deploy, check)
    # atime can be set too (not re-checked: reading the file may move it again)
    run(c.host, lambda: files.put(src=str(c.local / "t.txt"), dest=c.r("t.txt"), atime=1500000000))
    assert c.sh(f"stat -c %X {c.r('t.txt')}").strip() == "1500000000"


def test_line_and_replace_edit_on_the_host(ctx: Ctx) -> None:
    c = ctx
    big = "".join(f"key{i} = value{i}\n" for i in range(40000))  # ~0.7 MB
    c.host.put_file(io.BytesIO(big.encode()), c.r("big.conf"))
    c.sh(
        f"printf 'home=PLACEHOLDER\\ncolour=red\\n' > {c.r('v.conf')} && chmod 640 {c.r('v.conf')}"
    )
    env = {"PYI_VALUE": "from env"}

    def deploy() -> None:
        files.line(path=c.r("big.conf"), line="^key123 =", replace="key123 = changed")
        files.line(path=c.r("big.conf"), line="^key7 = ", present=False)
        files.line(path=c.r("big.conf"), line="added = yes")
        files.replace(path=c.r("v.conf"), text="PLACEHOLDER", replace="$PYI_VALUE",
                      interpolate_variables=True, _env=env)  # fmt: skip
        files.replace(path=c.r("v.conf"), text="colou?r", replace="color", extended_regex=True)
        files.line(path=c.r("v.conf"), line="^shell=", replace="shell=$(id) `id` 'q'")

    def check() -> None:
        text = c.cat("big.conf")
        assert "key123 = changed\n" in text and "key7 = " not in text
        assert text.endswith("key39999 = value39999\nadded = yes\n")
        assert c.cat("v.conf") == "home=from env\ncolor=red\nshell=$(id) `id` 'q'\n"
        assert c.mode("v.conf") == "640"

    counts = dict(fact_fetch_counts(c.host))
    _contract(c, deploy, check)
    fetched = {k: v - counts.get(k, 0) for k, v in fact_fetch_counts(c.host).items()}
    assert "files.FileBytes" not in fetched, "line/replace must not read whole files"
    # one command per edit, no upload
    results = run(c.host, lambda: files.line(path=c.r("big.conf"), line="^key5 =", replace="k5"))
    assert [cmd.command.startswith("upload") for cmd in results[0].commands] == [False]
    leftovers = c.sh(f"ls -a {c.r()} | grep pyinfra || true").strip()
    assert leftovers == ""


def _archive(local: Path) -> tuple[Path, Path]:
    tree = {"app/bin/start": b"#!/bin/sh\necho start\n", "app/README": b"readme\n"}
    tgz = local / "app.tar.gz"
    with tarfile.open(tgz, "w:gz") as archive:
        for name, data in tree.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            archive.addfile(info, io.BytesIO(data))
    zipped = local / "data.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("data/one.txt", "one\n")
    return tgz, zipped


def test_unarchive(ctx: Ctx) -> None:
    c = ctx
    tgz, zipped = _archive(c.local)
    c.sh(f"mkdir -p {c.r('opt')} {c.r('srv')}")
    c.host.put_file(str(zipped), c.r("data.zip"))
    has_unzip = bool(c.sh("command -v unzip || true").strip())

    def deploy() -> None:
        files.unarchive(src=str(tgz), dest=c.r("opt"))
        if has_unzip:
            files.unarchive(src=c.r("data.zip"), dest=c.r("srv"), remote_src=True,
                            creates=c.r("srv", "data", "one.txt"))  # fmt: skip

    def check() -> None:
        assert c.cat("opt", "app", "bin", "start") == "#!/bin/sh\necho start\n"
        if has_unzip:
            assert c.cat("srv", "data", "one.txt") == "one\n"

    _contract(c, deploy, check)
    bad = run(c.host, lambda: files.unarchive(src=str(tgz), dest=c.r("nope")), expect_success=False)
    assert bad[0].error and "not an existing directory" in bad[0].error


def test_download(ctx: Ctx) -> None:
    c = ctx
    server = http_server()
    name = f"dl-{uuid.uuid4().hex[:8]}.bin"
    payload = b"downloaded bytes\n" * 100
    (server.root / name).write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()

    def deploy() -> None:
        files.download(src=server.url(name), dest=c.r("out.bin"), sha256sum=digest, mode=600)
        files.download(
            src=server.url(name), dest=c.r("plain.bin"), md5sum=hashlib.md5(payload).hexdigest()
        )

    def check() -> None:
        assert c.sh(f"sha256sum < {c.r('out.bin')}").split()[0] == digest
        assert c.mode("out.bin") == "600"
        assert c.cat("plain.bin").encode() == payload

    _contract(c, deploy, check)


def test_download_cache_time_and_headers(ctx: Ctx) -> None:
    c = ctx
    server = http_server()
    name = f"hdr-{uuid.uuid4().hex[:8]}.txt"
    (server.root / name).write_bytes(b"v1\n")
    secret = {"Authorization": "Bearer s3cret-token", "X-Pyi-Test": "yes"}

    def deploy() -> None:
        files.download(src=server.url(name), dest=c.r("cached"), cache_time=3600, headers=secret)

    first = run(c.host, deploy)
    seen = [headers for path, headers in REQUESTS if path == f"/{name}"]
    assert seen and seen[-1].get("Authorization") == "Bearer s3cret-token"
    assert seen[-1].get("X-Pyi-Test") == "yes"
    shown = " ".join(cmd.command for m in first for cmd in m.commands)
    assert "s3cret" not in shown and "X-Pyi-Test: yes" in shown
    assert changed(run(c.host, deploy)) == []  # fresh enough
    (server.root / name).write_bytes(b"v2\n")
    c.sh(f"touch -t 200001010000 {c.r('cached')}")  # now older than cache_time
    assert changed(run(c.host, deploy)) and c.cat("cached") == "v2\n"


def test_download_failures_leave_the_target_untouched(ctx: Ctx) -> None:
    c = ctx
    server = http_server()
    name = f"ok-{uuid.uuid4().hex[:8]}.txt"
    (server.root / name).write_bytes(b"new content\n")
    c.sh(f"echo original > {c.r('dest')}")
    attempts = {
        "404": dict(src=server.url("missing-file"), force=True),
        "refused": dict(src=f"http://127.0.0.1:{refused_port()}/x", force=True),
        "checksum": dict(src=server.url(name), sha256sum="0" * 64),
    }
    messages = {}
    for label, kwargs in attempts.items():
        results = run(
            c.host,
            lambda kw=kwargs: files.download(dest=c.r("dest"), **kw),  # type: ignore[misc]
            expect_success=False,
        )
        error = results[0].error or ""
        messages[label] = error
        assert "\n" not in error
        assert c.cat("dest") == "original\n", f"{label}: the destination changed"
        assert c.sh(f"ls -A {c.r()}").split() == ["dest"], f"{label}: a temp file was left"
    assert "404" in messages["404"]
    assert "onnect" in messages["refused"] or "network failure" in messages["refused"]
    assert "expected 000" in messages["checksum"] and "left as it was" in messages["checksum"]
