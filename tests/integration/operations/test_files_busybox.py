"""File facts and operations on a BusyBox-only userland (Debian's busybox-static with
every applet linked, no coreutils), in a container; and on a host without any ``stat``
(the ``ls -ld`` fallback: GNU coreutils with ``stat`` removed, since BusyBox's shell
always finds its own ``stat`` applet; BusyBox's ``ls -ld`` lines are parsed in
tests/unit/test_file_facts_fake.py)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyinfra.api import Config, Inventory, State
from pyinfra.api.exceptions import FactError
from pyinfra.api.host import Host
from pyinfra.facts import files as F
from pyinfra.operations import files
from tests.helpers.deploykit import run
from tests.helpers.fileskit import (
    BUSYBOX_IMAGE,
    TOOLS_IMAGE,
    ensure_images,
    http_server,
    sh,
    start_container,
)


@pytest.fixture(scope="module", params=["busybox", "busybox-no-stat"])
def busybox(request: pytest.FixtureRequest) -> Iterator[Host]:
    reason = ensure_images()
    if reason:
        pytest.skip(reason)
    image = BUSYBOX_IMAGE if request.param == "busybox" else TOOLS_IMAGE
    name = start_container(image, ("sleep", "1000000"))
    inventory = Inventory(([f"@docker/{name}"], {}))
    State(inventory, Config())
    host = next(iter(inventory))
    host.connect(raise_exceptions=True)
    try:
        if request.param == "busybox-no-stat":
            sh(host, "mv /usr/bin/stat /usr/bin/stat.off")
            assert sh(host, "command -v stat || echo none").strip() == "none"
        sh(host, "mkdir -p /work")
        yield host
    finally:
        host.disconnect()


def test_facts(busybox: Host) -> None:
    host = busybox
    base = f"/work/facts-{uuid.uuid4().hex[:6]}"
    data = b"hello busybox\n"
    sh(host, f"mkdir -p {base}/dir && printf 'hello busybox\\n' > {base}/f && chmod 640 {base}/f")
    sh(
        host,
        f"ln -s f {base}/l && "
        f"printf 'a\\n# BEGIN PYINFRA BLOCK\\nin\\n# END PYINFRA BLOCK\\n' > {base}/b",
    )
    info = host.get_fact(F.File, path=f"{base}/f")
    assert (info["mode"], info["user"], info["group"], info["size"]) == (640, "root", "root", 14)
    assert info["mtime"] is not None
    assert host.get_fact(F.Directory, path=f"{base}/dir")["mode"] == 755
    assert host.get_fact(F.File, path=f"{base}/dir") is False
    assert host.get_fact(F.Link, path=f"{base}/l")["link_target"] == "f"
    assert host.get_fact(F.File, path=f"{base}/missing") is None
    assert host.get_fact(F.Sha256File, path=f"{base}/f") == hashlib.sha256(data).hexdigest()
    assert host.get_fact(F.Sha1File, path=f"{base}/f") == hashlib.sha1(data).hexdigest()
    assert host.get_fact(F.Md5File, path=f"{base}/f") == hashlib.md5(data).hexdigest()
    if sh(host, "command -v sha384sum || true").strip():
        assert host.get_fact(F.Sha384File, path=f"{base}/f") == hashlib.sha384(data).hexdigest()
    else:  # BusyBox has no sha384 applet, and no openssl here
        with pytest.raises(FactError, match="no sha384 tool found on the host"):
            host.get_fact(F.Sha384File, path=f"{base}/f")
    assert host.get_fact(F.FileContents, path=f"{base}/f") == ["hello busybox"]
    assert host.get_fact(F.FindInFile, path=f"{base}/f", pattern="bus") == ["hello busybox"]
    assert host.get_fact(F.FindInFile, path=f"{base}/f", pattern="zzz") == []
    assert host.get_fact(F.Block, path=f"{base}/b") == ["in"]
    assert sorted(host.get_fact(F.FindFiles, path=base)) == [f"{base}/b", f"{base}/f"]
    assert host.get_fact(F.Inode, path=f"{base}/l") == host.get_fact(F.Inode, path=f"{base}/f")
    assert host.get_fact(F.FileBytes, path=f"{base}/f") == data


def test_operations(busybox: Host, tmp_path: Path) -> None:
    host = busybox
    base = f"/work/ops-{uuid.uuid4().hex[:6]}"
    sh(host, f"mkdir -p {base} && printf 'port 22\\ncolour=red\\n' > {base}/cfg")
    (tmp_path / "up.txt").write_text("uploaded\n")
    server = http_server()
    name = f"bb-{uuid.uuid4().hex[:8]}.txt"
    (server.root / name).write_bytes(b"via busybox wget\n")
    digest = hashlib.sha256(b"via busybox wget\n").hexdigest()

    def deploy() -> None:
        files.directory(path=f"{base}/d", mode="u=rwx,go=rx")
        files.file(path=f"{base}/d/f", mode=600)
        files.put(src=str(tmp_path / "up.txt"), dest=f"{base}/up.txt", mode="a=r,u+w")
        files.line(path=f"{base}/cfg", line="^port", replace="port 2222")
        files.replace(path=f"{base}/cfg", text="colou*r", replace="color")
        files.block(path=f"{base}/cfg", content="in block")
        files.link(path=f"{base}/link", target=f"{base}/up.txt")
        files.download(src=server.url(name), dest=f"{base}/dl.txt", sha256sum=digest)

    def check() -> None:
        assert sh(host, f"cat {base}/cfg") == (
            "port 2222\ncolor=red\n# BEGIN PYINFRA BLOCK\nin block\n# END PYINFRA BLOCK"
        )
        assert sh(host, f"ls -ld {base}/d/f").startswith("-rw-------")
        assert sh(host, f"ls -ld {base}/up.txt").startswith("-rw-r--r--")
        assert sh(host, f"cat {base}/dl.txt") == "via busybox wget"

    assert_idempotent_busybox(host, deploy, check, base)


def assert_idempotent_busybox(host: Host, deploy: object, check: object, base: str) -> None:
    """The dry-run / two-run contract, with a snapshot BusyBox can take without stat."""
    before = _snapshot(host, base)
    dry = run(host, deploy, dry=True)  # type: ignore[arg-type]
    assert [m.name for m in dry if m.changed] and _snapshot(host, base) == before
    first = run(host, deploy)  # type: ignore[arg-type]
    assert [m.name for m in first if m.changed]
    check()  # type: ignore[operator]
    after = _snapshot(host, base)
    second = run(host, deploy)  # type: ignore[arg-type]
    assert [m.name for m in second if m.changed] == []
    assert [c.command for m in second for c in m.commands] == []
    assert _snapshot(host, base) == after


def _snapshot(host: Host, base: str) -> str:
    return sh(
        host, f"cd {base} && ls -laR . | grep -v ' \\.\\.*$' && find . -type f -exec md5sum {{}} +"
    )
