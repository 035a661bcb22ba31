"""Command building: quoting of every user value, escalation wrappers, masking."""

from __future__ import annotations

import subprocess

import pytest

from pyinfra.api import Config, Inventory, MaskString, QuoteString, State, StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.connectors._runner.command import build_unix_command
from pyinfra.connectors.util import make_unix_command, make_unix_command_for_host
from tests.helpers.hosts import MakeHost

INJECTIONS = [
    "x; touch /tmp/pwned",
    "$(touch /tmp/pwned)",
    "`touch /tmp/pwned`",
    "a'b\"c",
    "x && rm -rf /",
    "with space\nnewline",
]


def sh(command: StringCommand) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", command.get_raw_value()], capture_output=True, text=True)


def test_string_command_joins_and_quotes() -> None:
    cmd = StringCommand("echo", QuoteString("a b"), "c")
    assert cmd.get_raw_value() == "echo 'a b' c"
    assert str(cmd) == "echo 'a b' c"


def test_mask_string_hidden_everywhere_but_raw() -> None:
    cmd = StringCommand("echo", MaskString("s3cret"))
    assert "s3cret" not in str(cmd)
    assert "s3cret" not in repr(cmd)
    assert cmd.get_masked_value() == "echo ***"
    assert cmd.get_raw_value() == "echo s3cret"
    nested = make_unix_command(cmd, _env={"A": "1"})
    assert "s3cret" not in str(nested)
    assert "s3cret" in nested.get_raw_value()


@pytest.mark.parametrize("value", INJECTIONS)
def test_env_values_are_quoted(value: str, tmp_path: object) -> None:
    cmd = make_unix_command('printf %s "$V"', _env={"V": value})
    result = sh(cmd)
    assert result.returncode == 0, result.stderr
    assert result.stdout == value


@pytest.mark.parametrize("name", ["A B", "A;touch /tmp/x", "1ABC", "A=B", "$(x)"])
def test_env_names_are_validated(name: str) -> None:
    with pytest.raises(OperationValueError, match="invalid environment variable name"):
        make_unix_command("true", _env={name: "x"})


@pytest.mark.parametrize("value", INJECTIONS)
def test_chdir_is_quoted(value: str, tmp_path: object) -> None:
    import pathlib

    directory = pathlib.Path(str(tmp_path)) / value.replace("/", "_")
    directory.mkdir()
    result = sh(make_unix_command("pwd", _chdir=str(directory)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(directory)


@pytest.mark.parametrize("value", INJECTIONS)
def test_sudo_and_su_users_are_quoted(value: str) -> None:
    sudo = make_unix_command("true", _sudo=True, _sudo_user=value).get_raw_value()
    su = make_unix_command("true", _su_user=value).get_raw_value()
    doas = make_unix_command("true", _doas=True, _doas_user=value).get_raw_value()
    import shlex

    for text, flag in ((sudo, "-u"), (su, None), (doas, "-u")):
        argv = shlex.split(text)
        assert value in argv, (text, argv)
        if flag:
            assert argv[argv.index(value) - 1] == flag


@pytest.mark.parametrize("key", ["_sudo_user", "_su_user", "_doas_user"])
def test_option_like_user_names_refused(key: str) -> None:
    with pytest.raises(OperationValueError, match="cannot be empty or start with"):
        make_unix_command("true", _sudo=True, _doas=True, **{key: "-n"})


def test_shell_executable_is_quoted_and_none_means_no_shell() -> None:
    assert make_unix_command("echo hi", _shell_executable="bash").get_raw_value() == (
        "bash -c 'echo hi'"
    )
    raw = make_unix_command("echo hi", _shell_executable=None).get_raw_value()
    assert raw == "echo hi"
    raw = make_unix_command("pwd", _shell_executable=None, _chdir="/tmp").get_raw_value()
    assert raw == "env -C /tmp pwd"


def test_sudo_flags() -> None:
    raw = make_unix_command(
        "id", _sudo=True, _sudo_user="bob", _use_sudo_login=True, _preserve_sudo_env=True
    ).get_raw_value()
    assert raw == "sudo -H -n -i -E -u bob sh -c id"


def test_su_flags() -> None:
    raw = make_unix_command(
        "id", _su_user="bob", _use_su_login=True, _preserve_su_env=True, _su_shell="/bin/bash"
    ).get_raw_value()
    # the shell is resolved on the target, so a name (``bash``) works as well as a path
    assert raw == "su -l -m -s \"$(command -v /bin/bash)\" bob -c 'sh -c id'"


def test_sudo_password_never_in_command() -> None:
    esc = build_unix_command("id", _sudo=True, _sudo_password="hunter2-secret")
    raw = esc.command.get_raw_value()
    assert "hunter2-secret" not in raw
    assert "-S" in raw and "-n" not in raw.split()
    assert esc.responders and esc.responders[0].secret == "hunter2-secret"
    assert esc.wait_for_ready


def test_su_password_uses_pty_and_responder() -> None:
    esc = build_unix_command("id", _su_user="bob", _su_password="pw-secret")
    assert "pw-secret" not in esc.command.get_raw_value()
    assert esc.needs_pty


def test_make_unix_command_for_host_builds_exactly_from_its_arguments() -> None:
    # --sudo, host data and config are the operation layer's to resolve (issue 9.2): a
    # connector's own helper commands built with this run as given (as in pyinfra 3.10).
    inventory = Inventory(([("@local", {"_sudo_user": "from-host"})], {}))
    state = State(inventory, Config(SUDO=True, SUDO_USER="from-config", SHELL="bash"))
    host = inventory.get_host("@local")
    raw = make_unix_command_for_host(state, host, "id").get_raw_value()
    assert raw == "sh -c id"
    raw = make_unix_command_for_host(state, host, "id", _sudo_user="from-call").get_raw_value()
    assert raw == "sh -c id"
    raw = make_unix_command_for_host(
        state, host, "id", _sudo=True, _sudo_user="from-call"
    ).get_raw_value()
    assert raw == "sudo -H -n -u from-call sh -c id"
    # The seed's example form
    raw = make_unix_command_for_host(
        state,
        host,
        StringCommand("apt-get", "update"),
        _sudo=True,
        _sudo_user="root",
        _env={"PATH": "/usr/local/bin"},
    ).get_raw_value()
    assert raw == "sudo -H -n -u root sh -c 'export PATH=/usr/local/bin && apt-get update'"


def test_host_resolves_arguments_before_the_connector(make_host: MakeHost) -> None:
    # The call's arguments, then host data, then the run's config, then the defaults.
    from pyinfra.connectors.fake import FakeConnector

    config = Config(SUDO=True, SUDO_USER="from-config", SHELL="bash")
    host = make_host("@fake/resolve", {"_sudo_user": "from-host"}, config)
    FakeConnector.reset()
    try:
        host.run_shell_command("id")
        host.run_shell_command("id", _sudo_user="from-call")
        # a connector's own call: exactly as given
        host.connector.run_shell_command(StringCommand("id"), False, False)
        full = [call.full_command for call in FakeConnector.commands_for("@fake/resolve")]
    finally:
        FakeConnector.reset()
    assert full == [
        "sudo -H -n -u from-host bash -c id",
        "sudo -H -n -u from-call bash -c id",
        "sh -c id",
    ]
