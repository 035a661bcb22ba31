"""pyinfra 3.10's global arguments beyond sudo/su/doas, on @local: ``_dzdo`` and
``_dzdo_user`` (through a dzdo stand-in that behaves like dzdo's sudo-compatible CLI),
``_su_shell`` given as a name resolved on the target, ``_stdin`` from a file object."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest

from pyinfra.api.host import Host
from pyinfra.connectors.util import make_unix_command
from tests.helpers.hosts import MakeHost


@pytest.fixture
def local(make_host: MakeHost) -> Host:
    return make_host("@local", connect=True)


def test_dzdo_command_line() -> None:
    built = make_unix_command("id -un", _dzdo=True, _dzdo_user="web").get_raw_value()
    assert built.startswith("dzdo -H -n -u web sh -c ")
    assert make_unix_command("true", _dzdo=True).get_raw_value().startswith("dzdo -H -n sh -c")


def test_dzdo_runs_as_the_user(local: Host, tmp_path: Path) -> None:
    if os.getuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("needs root and runuser (for the dzdo stand-in)")
    shim = tmp_path / "dzdo"
    shim.write_text(
        "#!/bin/sh\n# dzdo's sudo-style options: -H -n [-u USER] COMMAND...\n"
        'user=root\nwhile [ $# -gt 0 ]; do case "$1" in -H|-n) shift;; -u) user=$2; shift 2;;'
        ' *) break;; esac; done\nexec runuser -u "$user" -- "$@"\n'
    )
    shim.chmod(0o755)
    os.environ["PATH"] = f"{tmp_path}:{os.environ['PATH']}"  # where dzdo is looked up
    try:
        ok, output = local.run_shell_command("id -un", _dzdo=True, _dzdo_user="nobody")
    finally:
        os.environ["PATH"] = os.environ["PATH"].split(":", 1)[1]
    assert ok, output.stderr
    assert output.stdout == "nobody"


def test_su_shell_by_name(local: Host) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root (su to a user whose login shell is nologin)")
    ok, output = local.run_shell_command("id -un", _su_user="nobody", _su_shell="bash")
    assert ok, output.stderr
    assert output.stdout == "nobody"


def test_stdin_from_a_file_object(local: Host) -> None:
    ok, output = local.run_shell_command("cat", _stdin=io.BytesIO(b"bytes in\n"))
    assert ok and output.stdout == "bytes in"
    ok, output = local.run_shell_command("wc -l", _stdin=io.StringIO("a\nb\n"))
    assert ok and output.stdout.strip() == "2"
