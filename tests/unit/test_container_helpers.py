"""Pure helpers of the container/chroot connectors: argv splitting, in-root paths, markers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.connectors._runner.argv import command_argv
from pyinfra.connectors._runner.command import make_unix_command
from pyinfra.connectors.chrootpath import resolve_in_root
from pyinfra.connectors.docker.api import EngineUnavailable, error_message, parse_endpoint
from pyinfra.connectors.docker.session import _MarkerScanner


@pytest.mark.parametrize(
    "raw",
    ["echo 'a b'; x=\"$y\"", "it's", "line1\nline2", "`tick` $(sub) > /tmp/f"],
)
def test_built_commands_split_into_one_shell(raw: str) -> None:
    built = make_unix_command(raw).get_raw_value()
    assert command_argv(built) == ["sh", "-c", raw]
    sudo = make_unix_command(raw, _sudo=True, _sudo_user="nobody").get_raw_value()
    assert command_argv(sudo) == ["sudo", "-H", "-n", "-u", "nobody", "sh", "-c", raw]


def test_raw_shell_syntax_gets_a_shell() -> None:
    assert command_argv("echo a > f") == ["sh", "-c", "echo a > f"]
    assert command_argv("A=1 env") == ["sh", "-c", "A=1 env"]
    assert command_argv("$X") == ["sh", "-c", "$X"]
    quoted = StringCommand("echo", QuoteString("a; b")).get_raw_value()
    assert command_argv(quoted) == ["echo", "a; b"]


def test_resolve_in_root_keeps_symlinks_inside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "usr" / "bin").mkdir(parents=True)
    os.symlink("usr/bin", root / "bin")
    os.symlink("/etc", root / "abs")
    os.symlink("../../../..", root / "etc" / "up")
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    real = os.path.realpath(root)
    assert resolve_in_root(str(root), "/bin/sh") == f"{real}/usr/bin/sh"
    assert resolve_in_root(str(root), "/abs/passwd") == f"{real}/etc/passwd"
    assert resolve_in_root(str(root), "/etc/up/etc/x") == f"{real}/etc/x"
    assert resolve_in_root(str(root), "/../../x") == f"{real}/x"
    assert resolve_in_root(str(root), "/abs", follow_last=False) == f"{real}/abs"
    with pytest.raises(OSError, match="symbolic links"):
        resolve_in_root(str(root), "/loop1")


def test_marker_scanner_across_chunks() -> None:
    marker = b"0123456789abcdef:"
    scanner = _MarkerScanner(marker, until_newline=True)
    out = b""
    for chunk in (b"hello 01", b"2345", b"6789abcdef", b":4", b"2\n"):
        out += scanner.feed(chunk)
    assert out == b"hello " and scanner.done and scanner.tail == b"42"
    plain = _MarkerScanner(marker, until_newline=True)
    assert plain.feed(b"no marker\n") == b"no marker\n"  # nothing held back


def test_endpoints_and_errors() -> None:
    assert str(parse_endpoint("unix:///run/x.sock")) == "unix:///run/x.sock"
    assert parse_endpoint("tcp://10.0.0.1:2375").address == "10.0.0.1:2375"
    with pytest.raises(EngineUnavailable, match="@dockerssh"):
        parse_endpoint("ssh://user@host")
    assert error_message(b'{"message": "No such\\ncontainer: x"}', 404) == "No such container: x"
    assert error_message(b"", 500) == "HTTP status 500"
