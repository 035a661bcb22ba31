"""@chroot against a real debootstrap tree: execution, /proc, safe file copies, errors."""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyinfra.api.exceptions import ConnectError
from tests.helpers import engines
from tests.helpers.containerkit import as_nobody, connect_error, connected
from tests.helpers.hosts import new_host


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    engines.require(engines.ensure_rootfs())
    base = tmp_path_factory.mktemp("chroot")
    root = base / "root"
    subprocess.run(["cp", "-a", str(engines.rootfs_dir()), str(root)], check=True)
    yield root
    subprocess.run(["rm", "-rf", str(root)], check=False)


def test_commands_run_inside_the_tree(tree: Path) -> None:
    (tree / "etc" / "pyi-marker").write_text("inside\n")
    with connected(f"@chroot/{tree}") as host:
        ok, out = host.run_shell_command("cat /etc/pyi-marker; pwd; echo $HOME")
        assert ok and out.stdout_lines == ["inside", "/", "/root"]
        # /proc works inside (a private mount), and nothing stays mounted on the tree
        ok, out = host.run_shell_command("test -e /proc/self/status && echo proc")
        assert ok and out.stdout == "proc"
    assert not os.path.ismount(tree / "proc")
    assert os.listdir(tree / "proc") == []


def test_chroot_path_data_alias(tree: Path) -> None:
    with connected("@chroot", {"chroot_path": str(tree)}) as host:
        ok, out = host.run_shell_command("test -f /etc/debian_version && echo yes")
        assert ok and out.stdout == "yes"


def test_files_never_follow_symlinks_out_of_the_tree(tree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host secret")
    (tree / "tmp" / "abs-link").unlink(missing_ok=True)
    os.symlink(str(outside / "secret"), tree / "tmp" / "abs-link")
    (tree / "tmp" / "up-link").unlink(missing_ok=True)
    os.symlink("../../../../../../../../" + str(outside).lstrip("/"), tree / "tmp" / "up-link")
    with connected(f"@chroot/{tree}") as host:
        # an absolute link resolves inside the tree, where the target does not exist
        with pytest.raises(Exception, match="No such file"):
            host.get_file("/tmp/abs-link", io.BytesIO())
        # a ../ link is clamped at the tree's root
        inside = tree / str(outside).lstrip("/") / "planted"
        inside.parent.mkdir(parents=True)
        assert host.put_file(io.BytesIO(b"planted"), "/tmp/up-link/planted")
        assert not (outside / "planted").exists()
        assert inside.read_bytes() == b"planted"
        # putting onto a symlink replaces the link, never the file it points to
        os.symlink("/etc/passwd", tree / "tmp" / "to-passwd")
        before = (tree / "etc" / "passwd").read_bytes()
        assert host.put_file(io.BytesIO(b"new"), "/tmp/to-passwd")
        assert (tree / "etc" / "passwd").read_bytes() == before
        assert not (tree / "tmp" / "to-passwd").is_symlink()
    assert (outside / "secret").read_text() == "host secret"


def test_put_replaces_atomically_keeping_mode_and_owner(tree: Path) -> None:
    target = tree / "srv" / "conf"
    target.write_text("old")
    os.chmod(target, 0o640)
    os.chown(target, 65534, 65534)
    with connected(f"@chroot/{tree}") as host:
        assert host.put_file(io.BytesIO(b"new"), "/srv/conf")
        buffer = io.BytesIO()
        assert host.get_file("/srv/conf", buffer)
        assert buffer.getvalue() == b"new"
        ok, out = host.run_shell_command("stat -c '%a %u' /srv/conf; ls -a /srv")
        assert ok and out.stdout_lines[0] == "640 65534"
        assert not any("pyinfra-upload" in line for line in out.stdout_lines)


def test_chdir_uses_the_command_path(tree: Path) -> None:
    with connected(f"@chroot/{tree}") as host:
        assert host.put_file(io.BytesIO(b"via shell"), "/tmp/chdir-file", _chdir="/tmp")
        assert (tree / "tmp" / "chdir-file").read_bytes() == b"via shell"


def test_error_directory_missing(tmp_path: Path) -> None:
    message = connect_error(f"@chroot/{tmp_path}/nope")
    assert f"chroot directory {tmp_path}/nope does not exist" in message


def test_error_not_a_directory(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    message = connect_error(f"@chroot/{tmp_path}/file")
    assert "is not a directory" in message


def test_error_not_a_root_filesystem(tmp_path: Path) -> None:
    message = connect_error(f"@chroot/{tmp_path}")
    assert "is not a root filesystem: it has no /bin/sh" in message


def test_error_not_root(tree: Path) -> None:
    host = new_host(f"@chroot/{tree}")
    _ = host.connector

    def attempt() -> str:
        try:
            host.connect(raise_exceptions=True)
        except ConnectError as exc:
            return str(exc)
        return "connected"

    message = as_nobody(attempt)
    assert "@chroot needs root on this machine" in message
