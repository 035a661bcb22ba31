"""File facts and files.flags on targets that cannot run here (FreeBSD, macOS), through
@fake with the output those systems print.

Where the lines come from:
* ``stat -f '%HT|%Mp%Lp|%Su|%Sg|%z|%a|%m|%c'``: FreeBSD stat(1) (also macOS): ``%HT`` is
  the file type as a word ("Regular File", "Directory", "Symbolic Link", "Socket"),
  ``%Mp`` the suid/sgid/sticky digit and ``%Lp`` the user/group/other digits, ``%Su``/
  ``%Sg`` names, ``%z`` size, ``%a``/``%m``/``%c`` epoch times.
* ``stat -f %Sf``: the flags as ``chflags`` names, comma-separated, ``-`` when none.
* ``sha256 -q`` / ``md5 -q`` (FreeBSD, macOS ``md5``): the bare digest; ``shasum``
  (macOS perl tool): ``DIGEST  -`` when reading standard input.
* ``ls -ld`` lines: captured from BusyBox 1.35 (Debian's busybox-static) in the test
  container, and macOS's format with the ``@`` extended-attribute marker (ls(1)).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime

import pytest

from pyinfra.api import Config, Inventory, State
from pyinfra.api.host import Host
from pyinfra.connectors.fake import FakeConnector
from pyinfra.facts import filecommands
from pyinfra.facts import files as F
from pyinfra.operations import files
from tests.helpers.deploykit import run


@pytest.fixture
def bsd() -> Iterator[Host]:
    FakeConnector.reset()
    inventory = Inventory((["@fake/freebsd"], {}))
    State(inventory, Config())
    host = inventory.get_host("@fake/freebsd")
    host.connect(raise_exceptions=True)
    yield host
    FakeConnector.reset()


BSD_FILE = "Regular File|0644|alice|staff|3928|1700000000|1700000100|1700000200\n"


def test_bsd_stat(bsd: Host) -> None:
    FakeConnector.script("/etc/rc.conf", stdout=BSD_FILE)
    FakeConnector.script("/usr/local/bin/sudo", stdout=BSD_FILE.replace("0644", "4755"))
    FakeConnector.script("/var/db", stdout="Directory|0755|root|wheel|512|1|2|3\n")
    FakeConnector.script("/tmp/sock", stdout="Socket|0777|root|wheel|0|1|2|3\n")
    FakeConnector.script("/compat", stdout="Symbolic Link|0755|root|wheel|7|1|2|3\n/usr/compat\n")
    info = bsd.get_fact(F.File, path="/etc/rc.conf")
    assert info == {
        "user": "alice",
        "group": "staff",
        "mode": 644,
        "size": 3928,
        "atime": datetime(2023, 11, 14, 22, 13, 20),
        "mtime": datetime(2023, 11, 14, 22, 15),
        "ctime": datetime(2023, 11, 14, 22, 16, 40),
    }
    assert bsd.get_fact(F.File, path="/usr/local/bin/sudo")["mode"] == 4755
    assert bsd.get_fact(F.Directory, path="/var/db")["group"] == "wheel"
    assert bsd.get_fact(F.File, path="/var/db") is False
    assert bsd.get_fact(F.Socket, path="/tmp/sock")["mode"] == 777
    assert bsd.get_fact(F.Link, path="/compat")["link_target"] == "/usr/compat"
    command = FakeConnector.commands_for("@fake/freebsd")[0].command
    assert "stat -c" in command and "stat -f" in command and "ls -ld" in command


def test_bsd_hashes(bsd: Host) -> None:
    data = b"freebsd\n"
    FakeConnector.script("sha256", stdout=hashlib.sha256(data).hexdigest() + "\n")
    FakeConnector.script("md5", stdout=hashlib.md5(data).hexdigest() + "\n")
    FakeConnector.script("shasum -a 1", stdout=hashlib.sha1(data).hexdigest() + "  -\n")
    FakeConnector.script("sha384", stdout=hashlib.sha384(data).hexdigest() + "\n")
    assert bsd.get_fact(F.Sha256File, path="/x") == hashlib.sha256(data).hexdigest()
    assert bsd.get_fact(F.Md5File, path="/x") == hashlib.md5(data).hexdigest()
    assert bsd.get_fact(F.Sha1File, path="/x") == hashlib.sha1(data).hexdigest()
    assert bsd.get_fact(F.Sha384File, path="/x") == hashlib.sha384(data).hexdigest()
    # the BSD line form, should a tool print it
    assert filecommands.parse_digest("md5", f"MD5 (/x) = {hashlib.md5(data).hexdigest()}") == (
        hashlib.md5(data).hexdigest()
    )


@pytest.mark.parametrize(
    ("line", "kind", "mode", "size"),
    [
        ("-rwsr-xr-x    1 root     root             3 Dec  2 00:45 /t/f", "file", 4755, 3),
        ("drwxrwxrwt    2 root     root          4096 Dec  2 00:45 /t/d", "directory", 1777, 4096),
        ("lrwxrwxrwx    1 root     root             1 Dec  2 00:45 /t/l -> f", "link", 777, 1),
        ("crw-rw-rw-    1 root     root        1,   3 Dec  2 00:45 /dev/null", "character", 666, 3),
        ("-rw-r--r--@ 1 alice  staff  3928 Jan  2  2024 /Users/alice/f", "file", 644, 3928),
    ],
)
def test_ls_lines(line: str, kind: str, mode: int, size: int) -> None:
    parsed = filecommands.parse_stat_output(line)
    assert parsed is not None
    assert (parsed[0], parsed[1]["mode"], parsed[1]["size"]) == (kind, mode, size)
    assert parsed[1]["mtime"] is not None and parsed[1]["atime"] is None


def test_flags_fact_and_operation(bsd: Host) -> None:
    FakeConnector.script("/etc/locked", stdout="uchg,hidden\n")
    FakeConnector.script("/etc/plain", stdout="-\n")
    assert bsd.get_fact(F.Flags, path="/etc/locked") == ["uchg", "hidden"]
    assert bsd.get_fact(F.Flags, path="/etc/plain") == []

    def deploy() -> None:
        files.flags(path="/etc/plain", flags=["uchg", "schg"])
        files.flags(path="/etc/locked", flags="hidden", present=False)
        files.flags(path="/etc/locked", flags=["uchg"])

    results = run(bsd, deploy)
    assert [m.changed for m in results] == [True, True, False]
    sent = [c.command for c in FakeConnector.commands_for("@fake/freebsd")]
    assert "chflags schg,uchg /etc/plain" in sent
    assert "chflags nohidden /etc/locked" in sent


def test_flags_on_a_host_without_chflags(bsd: Host) -> None:
    FakeConnector.script("command -v chflags", stdout="__pyinfra_missing_command_9f1c2e__\n")
    results = run(bsd, lambda: files.flags(path="/x", flags=["uchg"]), expect_success=False)
    assert results[0].error and "chflags is not available on this host" in results[0].error


def test_file_age_and_utc_offset(bsd: Host) -> None:
    FakeConnector.script("date +%s", stdout="1700000500\n1700000100\n")
    FakeConnector.script("date +%z", stdout="-0330\n")
    assert bsd.get_fact(F.FileAge, path="/x") == 400
    assert bsd.get_fact(F.UtcOffset) == -(3 * 3600 + 30 * 60)
