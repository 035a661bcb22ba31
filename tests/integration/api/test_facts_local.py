"""Facts against @local (values checked against Python's own view of this machine),
the per-run fact cache, targeted invalidation, and the command count of a deploy."""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import pwd
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyinfra.api import Config, Inventory, State
from pyinfra.api.exceptions import FactError
from pyinfra.api.facts import fact_fetch_counts
from pyinfra.api.host import Host
from pyinfra.facts import files as F
from pyinfra.facts import server as S
from pyinfra.operations import files, server
from tests.helpers.deploykit import run


@pytest.fixture
def host() -> Iterator[Host]:
    inventory = Inventory((["@local"], {}))
    State(inventory, Config())
    local = inventory.get_host("@local")
    local.connect(raise_exceptions=True)
    try:
        yield local
    finally:
        local.disconnect()


def test_server_facts(host: Host) -> None:
    uname = os.uname()
    assert host.get_fact(S.Hostname) == uname.nodename
    assert host.get_fact(S.Os) == uname.sysname == host.get_fact(S.Kernel)
    assert host.get_fact(S.OsVersion) == uname.release
    assert host.get_fact(S.Arch) == platform.machine()
    assert host.get_fact(S.Which, "sh") in ("/bin/sh", "/usr/bin/sh")
    assert host.get_fact(S.Which, command="no-such-program-xyz") is None
    assert host.get_fact(S.Command, "echo one; echo two") == "one\ntwo"
    me = pwd.getpwuid(os.getuid())
    assert host.get_fact(S.User) == me.pw_name
    assert host.get_fact(S.Home, me.pw_name) == me.pw_dir
    users = host.get_fact(S.Users)
    assert users[me.pw_name]["uid"] == me.pw_uid and users[me.pw_name]["home"] == me.pw_dir
    assert "root" in host.get_fact(S.Groups)


def test_file_facts(host: Host, tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_bytes(b"hello\n")
    data.chmod(0o640)
    (tmp_path / "link").symlink_to(data)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "inner").write_text("x")

    info = host.get_fact(F.File, path=str(data))
    assert (info["mode"], info["size"]) == (640, 6)
    assert host.get_fact(F.File, path=str(tmp_path / "missing")) is None
    assert host.get_fact(F.File, path=str(tmp_path)) is False
    assert host.get_fact(F.Directory, path=str(tmp_path / "sub"))["mode"] == 755
    assert host.get_fact(F.Directory, path=str(data)) is False
    assert host.get_fact(F.Link, path=str(tmp_path / "link"))["link_target"] == str(data)
    assert host.get_fact(F.Link, path=str(data)) is False
    assert host.get_fact(F.Sha256File, path=str(data)) == hashlib.sha256(b"hello\n").hexdigest()
    assert host.get_fact(F.Sha1File, path=str(data)) == hashlib.sha1(b"hello\n").hexdigest()
    assert host.get_fact(F.Sha1File, path=str(tmp_path / "missing")) is None
    found = host.get_fact(F.FindFiles, path=str(tmp_path))
    assert sorted(found) == sorted([str(data), str(tmp_path / "sub" / "inner")])
    assert host.get_fact(F.FindFiles, path=str(tmp_path), fname="*.txt") == [str(data)]
    assert host.get_fact(F.FileBytes, path=str(data)) == b"hello\n"


def test_fact_with_quotes_in_path(host: Host, tmp_path: Path) -> None:
    odd = tmp_path / 'it\'s a "file" $(true) ;'
    odd.write_text("x")
    assert host.get_fact(F.File, path=str(odd))["size"] == 1


def test_bad_fact_arguments(host: Host) -> None:
    with pytest.raises(FactError, match=r"fact files\.File: .*unexpected keyword argument 'pth'"):
        host.get_fact(F.File, "/tmp", pth="/tmp")
    with pytest.raises(FactError, match=r"fact files\.File: missing a required argument: 'path'"):
        host.get_fact(F.File)


def test_cache_and_targeted_invalidation(host: Host, tmp_path: Path) -> None:
    """Facts about paths an operation did not touch stay cached; the changed path is
    read again; commands with unknown effects drop every fact but the stable ones."""
    a, c = str(tmp_path / "a"), str(tmp_path / "c")
    Path(c).write_text("untouched")
    seen: dict[str, Any] = {}

    def deploy() -> None:
        host.get_fact(S.Os)
        host.get_fact(F.File, path=c)
        files.file(path=a)  # File(a) read, a created
        files.file(path=a, mode=600)  # File(a) read again: a changed
        host.get_fact(F.File, path=c)  # still cached
        seen["before_shell"] = fact_fetch_counts(host).get("files.File", 0)
        server.shell(commands=["true"])  # unknown effects
        host.get_fact(F.File, path=c)  # read again
        host.get_fact(S.Os)  # stable: still cached

    before = dict(fact_fetch_counts(host))
    results = run(host, deploy)
    counts = {k: v - before.get(k, 0) for k, v in fact_fetch_counts(host).items()}
    assert [m.changed for m in results] == [True, True, True]
    assert seen["before_shell"] - before.get("files.File", 0) == 3
    assert counts["files.File"] == 4
    assert counts["server.Os"] == 1


class _CommandLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.commands: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "buffer", None) == "input":
            self.commands.append(record.getMessage())


def test_ten_operation_deploy_fetches_each_fact_once(host: Host, tmp_path: Path) -> None:
    """A 10-operation deploy: every fact runs once per host (no command repeats), and
    the second (no-change) run executes only those facts, in one command."""
    src = tmp_path / "src.conf"
    src.write_text("a=1\n")
    tpl = tmp_path / "t.j2"
    tpl.write_text("name={{ label }}\n")
    out = tmp_path / "out"
    edited = tmp_path / "edited.conf"
    edited.write_text("name=x\n")

    def deploy() -> None:
        files.directory(path=str(out))
        files.directory(path=str(out / "conf.d"), mode=750)
        files.put(src=str(src), dest=str(out / "conf.d" / "a.conf"))
        files.template(src=str(tpl), dest=str(out / "conf.d" / "t.conf"), label="x")
        files.line(path=str(out / "conf.d" / "lines.conf"), line="b=2")
        files.file(path=str(out / "empty"), mode=600)
        files.link(path=str(out / "current"), target=str(out / "conf.d"))
        files.replace(path=str(edited), text="name=x", replace="name=y")
        files.file(path=str(out / "other"))
        files.directory(path=str(out / "logs"))

    log = _CommandLog()
    output = logging.getLogger("pyinfra.output")
    output.addHandler(log)
    output.setLevel(logging.INFO)
    state = host.state
    assert state is not None
    state.print_input = True
    try:
        counts0 = fact_fetch_counts(host)
        first = run(host, deploy)
        counts1 = fact_fetch_counts(host)
        first_commands = list(log.commands)
        log.commands.clear()
        second = run(host, deploy)
        counts2 = fact_fetch_counts(host)
        second_commands = list(log.commands)
    finally:
        output.removeHandler(log)
        state.print_input = False

    def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
        return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}

    assert len(first) == len(second) == 10
    assert all(m.changed for m in first) and not any(m.changed for m in second)
    # No-change run: one command per distinct fact, nothing else.
    assert delta(counts2, counts1) == {
        "files.Directory": 3,  # out, conf.d, logs
        "files.File": 2,  # empty, other
        "files.FileInfo": 2,  # a.conf, t.conf (stat + checksum)
        "files.MatchingLines": 2,  # lines.conf, edited.conf (grep on the host)
        "files.Link": 1,
    }
    # ... read ahead in one command along the order the first run read them in
    assert len(second_commands) == 1
    assert all(str(out / name) in second_commands[0] for name in ("logs", "empty", "current"))
    # First run: the same facts, except that the two directories created by the deploy
    # are read again by the operations that create files inside them, together with the
    # file's own fact (one command for the pair: 12 reads in 10 commands); plus 8 changing
    # commands (mkdir+chmod and touch+chmod are one command each; files.line and
    # files.replace edit on the host, one command each; uploads on @local run no command).
    assert delta(counts1, counts0) == {
        "files.Directory": 5,
        "files.File": 2,
        "files.FileInfo": 2,
        "files.MatchingLines": 2,
        "files.Link": 1,
    }
    assert len(first_commands) == 10 + 8
