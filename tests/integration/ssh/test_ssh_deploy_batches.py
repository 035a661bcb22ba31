"""A deploy over SSH to a far host (small uploads take the one-command path, as they
do >= 3 ms away): an upload waits in the host's queue like a shell command and goes
out in the next batch, its data on that batch's stdin, so uploads, commands and the
next fact read share one command. Same end state as one at a time (contents, modes,
atomic replace), the first failure stops the rest, no temp file is left behind.
Against a real sshd; commands counted by the connector."""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyinfra.api.host import Host
from pyinfra.operations import files, server
from tests.helpers.deploykit import run
from tests.helpers.hosts import count_commands
from tests.helpers.sshenv import KEY_USER, SSHEnv, key_user_dir, make_ssh_env_fixture

env = make_ssh_env_fixture()


@pytest.fixture
def far(monkeypatch: pytest.MonkeyPatch) -> None:
    from pyinfra.connectors.ssh import connector

    monkeypatch.setattr(connector, "STREAM_UPLOAD_MIN_RTT", 0.0)


@pytest.fixture
def workdir() -> Iterator[Path]:
    with key_user_dir("pyi-batch") as path:
        yield path


@pytest.fixture
def host(env: SSHEnv) -> Iterator[Host]:
    with env.host() as connected:
        yield connected


def test_uploads_ride_in_the_batches(far: None, host: Host, workdir: Path, tmp_path: Path) -> None:
    sources = []
    for index in range(3):
        source = tmp_path / f"file{index}.conf"
        source.write_bytes(f"# file {index}\n".encode() + os.urandom(2000))
        sources.append(source)
    (workdir / "existing.conf").write_text("old\n")
    os.chmod(workdir / "existing.conf", 0o600)
    os.chown(workdir / "existing.conf", *_ids())
    template = tmp_path / "app.j2"
    template.write_text("name = {{ app }}\n")
    seen = count_commands(host, transfers=True)

    def deploy() -> None:
        for index, source in enumerate(sources):
            files.put(src=str(source), dest=f"{workdir}/file{index}.conf", mode="640")
        files.put(src=str(sources[0]), dest=f"{workdir}/existing.conf")
        files.template(src=str(template), dest=f"{workdir}/app.conf", app="batch")
        files.line(path=f"{workdir}/app.conf", line="^level=", replace="level=2")
        server.shell(commands=[f"touch {workdir}/done"])

    results = run(host, deploy)
    assert all(meta.success and meta.changed for meta in results)
    for index, source in enumerate(sources):
        target = workdir / f"file{index}.conf"
        assert target.read_bytes() == source.read_bytes()
        assert oct(target.stat().st_mode & 0o777) == "0o640"
    existing = workdir / "existing.conf"
    assert existing.read_bytes() == sources[0].read_bytes()
    assert oct(existing.stat().st_mode & 0o777) == "0o600"  # replaced, mode kept
    assert (workdir / "app.conf").read_text() == "name = batch\nlevel=2\n"
    assert (workdir / "done").exists()
    assert not [p for p in workdir.iterdir() if "pyinfra-upload" in p.name]
    assert "put_file" not in seen, seen
    # each upload shares a command with the next operation's fact read: 6 uploads and
    # the rest in 7 commands (one at a time: 6 uploads + 15 more)
    assert len(seen) <= 8, seen


def test_a_failed_batched_upload_stops_the_deploy_and_leaves_no_temp_file(
    far: None, host: Host, workdir: Path, tmp_path: Path
) -> None:
    source = tmp_path / "file.conf"
    source.write_text("content\n")
    locked = workdir / "locked"
    locked.mkdir(mode=0o755)  # owned by root: the key user cannot write in it

    def deploy() -> None:
        files.put(src=str(source), dest=f"{locked}/file.conf")
        files.file(path=f"{workdir}/never")
        server.shell(commands=[f"touch {workdir}/nor-this"])

    results = run(host, deploy, expect_success=False)
    assert len(results) == 1 and results[0].success is False
    error = results[0].error or ""
    assert f"{locked}/file.conf" in error and "\n" not in error, error
    assert not (workdir / "never").exists() and not (workdir / "nor-this").exists()
    assert not list(locked.iterdir())


def _ids() -> tuple[int, int]:
    user = pwd.getpwnam(KEY_USER)
    return user.pw_uid, user.pw_gid
