"""File transfer over SSH (sftp and scp) against a real sshd: round trips, atomic
replace, escalated uploads through a private temp file, fallbacks and failures."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pwd
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast

import pytest

from pyinfra.api.exceptions import InventoryError, TransferError
from tests.helpers.sshenv import (
    KEY_USER,
    PASSWORD,
    PASSWORD_USER,
    SSHEnv,
    key_user_dir,
    make_ssh_env_fixture,
)

env = make_ssh_env_fixture()
PROTOCOLS = ["sftp", "scp"]
# uploads: also the small-file path of far hosts (the file on the stdin of one command)
UPLOAD_PATHS = [*PROTOCOLS, "command"]


def _upload_path(protocol: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The ssh_file_transfer_protocol to connect with; for "command", make every upload
    take the one-command path (as it does for small files to a host >= 3 ms away)."""
    if protocol != "command":
        return protocol
    from pyinfra.connectors.ssh import connector

    monkeypatch.setattr(connector, "STREAM_UPLOAD_MIN_RTT", 0.0)
    monkeypatch.setattr(connector, "STREAM_UPLOAD_MAX_BYTES", 64 * 1024 * 1024)
    return "sftp"


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A directory on the target writable by the key user."""
    with key_user_dir("pyi-xfer") as path:
        yield path


def _payload(size: int = 3 * 1024 * 1024 + 123) -> bytes:
    return os.urandom(size)


def _leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if "pyinfra-upload" in p.name]


@pytest.mark.parametrize("protocol", UPLOAD_PATHS)
def test_round_trip_paths_and_io(
    env: SSHEnv, workdir: Path, tmp_path: Path, protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    protocol = _upload_path(protocol, monkeypatch)
    data = _payload()
    source = tmp_path / "src.bin"
    source.write_bytes(data)
    with env.host(ssh_file_transfer_protocol=protocol) as host:
        assert host.put_file(str(source), str(workdir / "a.bin"))
        assert (workdir / "a.bin").read_bytes() == data
        assert (workdir / "a.bin").stat().st_uid == pwd.getpwnam(KEY_USER).pw_uid
        back = tmp_path / "back.bin"
        assert host.get_file(str(workdir / "a.bin"), str(back))
        assert back.read_bytes() == data
        # IO objects, including an empty one and text
        assert host.put_file(io.BytesIO(b""), str(workdir / "empty"))
        assert (workdir / "empty").read_bytes() == b""
        assert host.put_file(io.StringIO("héllo\n"), str(workdir / "text"))
        buffer = io.BytesIO()
        assert host.get_file(str(workdir / "text"), buffer)
        assert buffer.getvalue() == "héllo\n".encode()
        text = io.StringIO()
        assert host.get_file(str(workdir / "text"), text)
        assert text.getvalue() == "héllo\n"
        # a relative path is relative to the login directory
        assert host.put_file(io.BytesIO(b"home"), "pyi-relative.txt")
        assert Path(f"/home/{KEY_USER}/pyi-relative.txt").read_bytes() == b"home"
        os.unlink(f"/home/{KEY_USER}/pyi-relative.txt")
    assert _leftovers(workdir) == []


@pytest.mark.parametrize("protocol", UPLOAD_PATHS)
def test_replace_keeps_mode_and_is_atomic(
    env: SSHEnv, workdir: Path, protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    protocol = _upload_path(protocol, monkeypatch)
    target = workdir / "conf"
    with env.host(ssh_file_transfer_protocol=protocol) as host:
        assert host.put_file(io.BytesIO(b"one"), str(target))
        assert target.stat().st_mode & 0o777 == 0o644  # 0666 & ~umask (022)
        target.chmod(0o640)
        inode = target.stat().st_ino
        assert host.put_file(io.BytesIO(b"two"), str(target))
        assert target.read_bytes() == b"two"
        assert target.stat().st_mode & 0o777 == 0o640
        assert target.stat().st_ino != inode  # replaced by a rename, not rewritten in place
    assert _leftovers(workdir) == []


@pytest.mark.parametrize("protocol", UPLOAD_PATHS)
def test_new_files_follow_the_remote_umask(
    env: SSHEnv, workdir: Path, protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    protocol = _upload_path(protocol, monkeypatch)
    from tests.helpers.sshd import SSHServer

    previous = os.umask(0o027)  # sshd and its sessions inherit it
    try:
        server = SSHServer(host_key_types=["ed25519"]).start()
    finally:
        os.umask(previous)
    try:
        server.authorize_key(KEY_USER, env.key.with_name(env.key.name + ".pub"))
        known = server.write_known_hosts(env.work / f"known_hosts_umask_{protocol}")
        with env.host(
            ssh_port=server.port,
            ssh_known_hosts_file=str(known),
            ssh_file_transfer_protocol=protocol,
        ) as host:
            assert host.put_file(io.BytesIO(b"x"), str(workdir / "private"))
        assert (workdir / "private").stat().st_mode & 0o777 == 0o640
    finally:
        server.stop()


@pytest.mark.parametrize("protocol", UPLOAD_PATHS)
def test_errors(
    env: SSHEnv, workdir: Path, tmp_path: Path, protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    protocol = _upload_path(protocol, monkeypatch)
    with env.host(ssh_file_transfer_protocol=protocol) as host:
        with pytest.raises(TransferError, match=r"127\.0\.0\.1: upload to .*does not exist"):
            host.put_file(io.BytesIO(b"x"), "/nonexistent-pyi-dir/file")
        with pytest.raises(TransferError, match="directory"):
            host.put_file(io.BytesIO(b"x"), str(workdir))
        with pytest.raises(TransferError, match=r"127\.0\.0\.1: upload to /root/x failed"):
            host.put_file(io.BytesIO(b"x"), "/root/x")
        local = tmp_path / "keep"
        local.write_text("precious")
        with pytest.raises(TransferError, match=r"127\.0\.0\.1: download of .*(no such|No such)"):
            host.get_file(str(workdir / "missing"), str(local))
        assert local.read_text() == "precious"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["keep"]
        with pytest.raises(TransferError, match="127.0.0.1: cannot read upload source"):
            host.put_file(str(tmp_path / "no-such-local-file"), str(workdir / "x"))
    assert _leftovers(workdir) == []


class _SlowReader(io.RawIOBase):
    """Yields ``total`` bytes slowly, so that a test can look at the target meanwhile."""

    def __init__(self, total: int, started: threading.Event) -> None:
        self.remaining = total
        self.started = started

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.remaining <= 0:
            return 0
        self.started.set()
        time.sleep(0.05)
        size = min(len(buffer), self.remaining, 65536)
        buffer[:size] = b"s" * size
        self.remaining -= size
        return size


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_sudo_upload_goes_through_a_private_temp_file(
    env: SSHEnv, workdir: Path, protocol: str
) -> None:
    target = Path(f"/root/pyi-sudo-{uuid.uuid4().hex[:8]}")
    temp_dir = Path(f"/tmp/pyi-stage-{uuid.uuid4().hex[:8]}")
    temp_dir.mkdir(mode=0o1777)
    temp_dir.chmod(0o1777)
    seen: list[tuple[str, int, int]] = []
    started = threading.Event()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for path in temp_dir.iterdir():
                try:
                    st = path.stat()
                except OSError:
                    continue
                seen.append((path.name, st.st_mode & 0o777, st.st_uid))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    try:
        with env.host(ssh_file_transfer_protocol=protocol) as host:
            watcher.start()
            source = io.BufferedReader(_SlowReader(1024 * 1024, started))
            assert host.put_file(source, str(target), _sudo=True, _temp_dir=str(temp_dir))
            stop.set()
            watcher.join()
            assert target.read_bytes() == b"s" * 1024 * 1024
            st = target.stat()
            assert (st.st_uid, st.st_mode & 0o777) == (0, 0o644)
            # Replacing keeps the mode of the root-owned target
            target.chmod(0o600)
            assert host.put_file(
                io.BytesIO(b"again"), str(target), _sudo=True, _temp_dir=str(temp_dir)
            )
            assert target.read_bytes() == b"again" and target.stat().st_mode & 0o777 == 0o600
            buffer = io.BytesIO()
            assert host.get_file(str(target), buffer, _sudo=True)
            assert buffer.getvalue() == b"again"
        uid = pwd.getpwnam(KEY_USER).pw_uid
        assert seen, "the private temp file was never seen"
        for name, mode, owner in seen:
            assert name.startswith("pyinfra-upload-") and len(name) == len("pyinfra-upload-") + 32
            assert (mode, owner) == (0o600, uid)
        assert list(temp_dir.iterdir()) == []  # removed
        assert not [p for p in Path("/root").iterdir() if "pyinfra-upload" in p.name]
    finally:
        stop.set()
        if watcher.is_alive():
            watcher.join()
        target.unlink(missing_ok=True)
        subprocess.run(["rm", "-rf", str(temp_dir)], check=False)


def test_sudo_upload_failure_removes_the_temp_file(env: SSHEnv) -> None:
    temp_dir = Path(f"/tmp/pyi-stage-{uuid.uuid4().hex[:8]}")
    temp_dir.mkdir()
    temp_dir.chmod(0o1777)
    try:
        with env.host() as host:
            with pytest.raises(TransferError, match="does not exist"):
                host.put_file(
                    io.BytesIO(b"x"), "/nonexistent-pyi/x", _sudo=True, _temp_dir=str(temp_dir)
                )
        assert list(temp_dir.iterdir()) == []
    finally:
        subprocess.run(["rm", "-rf", str(temp_dir)], check=False)


def test_sudo_upload_with_password(env: SSHEnv) -> None:
    target = Path(f"/root/pyi-sudopw-{uuid.uuid4().hex[:8]}")
    try:
        with env.host(ssh_user=PASSWORD_USER) as host:
            assert host.put_file(
                io.BytesIO(b"pw"), str(target), _sudo=True, _sudo_password=PASSWORD
            )
        assert target.read_bytes() == b"pw" and target.stat().st_uid == 0
    finally:
        target.unlink(missing_ok=True)


def test_upload_as_another_user_streams(env: SSHEnv, workdir: Path) -> None:
    os.chown(workdir, pwd.getpwnam(PASSWORD_USER).pw_uid, 0)
    with env.host() as host:
        assert host.put_file(
            io.BytesIO(b"theirs"), str(workdir / "f"), _sudo=True, _sudo_user=PASSWORD_USER
        )
        buffer = io.BytesIO()
        assert host.get_file(str(workdir / "f"), buffer, _sudo=True, _sudo_user=PASSWORD_USER)
    assert buffer.getvalue() == b"theirs"
    assert (workdir / "f").stat().st_uid == pwd.getpwnam(PASSWORD_USER).pw_uid
    assert _leftovers(workdir) == []


def test_large_file_integrity(env: SSHEnv, workdir: Path, tmp_path: Path) -> None:
    source = tmp_path / "big"
    with source.open("wb") as handle:
        for _ in range(24):
            handle.write(os.urandom(1024 * 1024))
        handle.write(b"tail")  # not a multiple of any request size
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    with env.host() as host:
        assert host.put_file(str(source), str(workdir / "big"))
        back = tmp_path / "big.back"
        assert host.get_file(str(workdir / "big"), str(back))
    assert hashlib.sha256(back.read_bytes()).hexdigest() == digest


def test_no_sftp_subsystem_falls_back_to_scp(
    env: SSHEnv, workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.helpers.sshd import SSHServer

    with SSHServer(sftp=False, host_key_types=["ed25519"]) as server:
        server.authorize_key(KEY_USER, env.key.with_name(env.key.name + ".pub"))
        known = server.write_known_hosts(env.work / "known_hosts_nosftp")
        with env.host(ssh_port=server.port, ssh_known_hosts_file=str(known)) as host:
            with caplog.at_level(logging.WARNING, logger="pyinfra"):
                assert host.put_file(io.BytesIO(b"via scp"), str(workdir / "f"))
            assert "no sftp subsystem" in caplog.text
            assert (workdir / "f").read_bytes() == b"via scp"
            buffer = io.BytesIO()
            assert host.get_file(str(workdir / "f"), buffer)
            assert buffer.getvalue() == b"via scp"


def test_wrong_transfer_protocol_value(env: SSHEnv) -> None:
    from pyinfra.api.exceptions import ConnectError

    with pytest.raises(ConnectError) as info:
        with env.host(ssh_file_transfer_protocol="ftp"):
            pass
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("127.0.0.1: ")
    assert "ssh_file_transfer_protocol" in message and "sftp or scp" in message
    assert isinstance(info.value.__cause__, InventoryError)


@pytest.fixture
def small_fs() -> Iterator[Path]:
    """A 1 MiB tmpfs owned by the key user, mounted for the test only."""
    mount = Path(f"/tmp/pyi-full-{uuid.uuid4().hex[:8]}")
    mount.mkdir()
    user = pwd.getpwnam(KEY_USER)
    result = subprocess.run(
        [
            "mount",
            "-t",
            "tmpfs",
            "-o",
            f"size=1m,uid={user.pw_uid},mode=0755",
            "pyitmpfs",
            str(mount),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        mount.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)
        mount.rmdir()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_remote_disk_full(env: SSHEnv, small_fs: Path, protocol: str) -> None:
    target = small_fs / "config"
    target.write_bytes(b"original")
    with env.host(ssh_file_transfer_protocol=protocol) as host:
        with pytest.raises(TransferError) as info:
            host.put_file(io.BytesIO(os.urandom(3 * 1024 * 1024)), str(target))
    message = str(info.value)
    assert "\n" not in message and message.startswith("127.0.0.1: upload to")
    assert "space" in message.lower()
    assert "target left unchanged" in message
    assert target.read_bytes() == b"original"
    assert sorted(p.name for p in small_fs.iterdir()) == ["config"]


class _FailingSource(io.RawIOBase):
    """Gives a few blocks, then fails like a disk that went away."""

    def __init__(self, blocks: int) -> None:
        self.blocks = blocks

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        self.blocks -= 1
        if self.blocks < 0:
            raise OSError("disk went away")
        return b"y" * 300_000


class _FailingSink(io.RawIOBase):
    def __init__(self) -> None:
        self.calls = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        if not data:  # the probe for text/binary
            return 0
        self.calls += 1
        raise OSError("local disk full")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_failing_local_source_or_sink_mid_transfer(
    env: SSHEnv, workdir: Path, protocol: str
) -> None:
    target = workdir / "keep"
    with env.host(ssh_file_transfer_protocol=protocol) as host:
        assert host.put_file(io.BytesIO(b"original"), str(target))
        with pytest.raises(TransferError) as info:
            host.put_file(cast(IO[bytes], _FailingSource(blocks=20)), str(target))
        message = str(info.value)
        assert "\n" not in message and message.startswith("127.0.0.1: ")
        assert "disk went away" in message and "target left unchanged" in message
        assert target.read_bytes() == b"original"
        assert _leftovers(workdir) == []
        big = os.urandom(5 * 1024 * 1024)
        (workdir / "big").write_bytes(big)
        with pytest.raises(TransferError, match=r"^127\.0\.0\.1: download of .*local disk full"):
            host.get_file(str(workdir / "big"), cast(IO[bytes], _FailingSink()))
        # the connection (and its sftp session) is still usable
        assert host.put_file(io.BytesIO(b"after"), str(target))
        buffer = io.BytesIO()
        assert host.get_file(str(workdir / "big"), buffer)
        assert buffer.getvalue() == big
    assert target.read_bytes() == b"after"
    assert _leftovers(workdir) == []
