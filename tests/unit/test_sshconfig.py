from __future__ import annotations

import getpass
import hashlib
import os
import socket
from pathlib import Path

import pytest

from pyinfra.api.exceptions import InventoryError
from pyinfra.connectors.ssh.config import (
    JumpHost,
    SSHHostConfig,
    lookup_ssh_config,
    parse_proxy_jump,
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private $HOME with an empty ~/.ssh."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    return home


def write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def lookup(tmp_path: Path, text: str, host: str = "web") -> SSHHostConfig:
    return lookup_ssh_config(host, write(tmp_path / "config", text))


# -- files -------------------------------------------------------------------------------


def test_missing_default_config_is_empty(home: Path) -> None:
    config = lookup_ssh_config("web")
    assert config == SSHHostConfig(host="web")
    assert config.raw == {}


def test_default_config_is_home_ssh_config(home: Path) -> None:
    write(home / ".ssh" / "config", "Host web\n  Port 2200\n")
    assert lookup_ssh_config("web").port == 2200


def test_explicit_missing_config_raises(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="does not exist"):
        lookup_ssh_config("web", str(tmp_path / "nope"))


def test_config_file_tilde_is_expanded(home: Path) -> None:
    write(home / "cfg", "Port 2201\n")
    assert lookup_ssh_config("web", "~/cfg").port == 2201


# -- syntax ------------------------------------------------------------------------------


def test_basic_options_and_syntax(tmp_path: Path) -> None:
    config = lookup(
        tmp_path,
        """
# a comment
   # an indented comment
HOST web
    hostname=web.example.com
    USER = deploy
    Port    2222   # trailing comment
\tIdentityFile "/keys/my key"
""",
    )
    assert config.host == "web"
    assert config.hostname == "web.example.com"
    assert config.user == "deploy"
    assert config.port == 2222
    assert config.identity_files == ["/keys/my key"]


def test_unset_fields_are_none(tmp_path: Path) -> None:
    config = lookup(tmp_path, "Host other\n  Port 1\n")
    assert config == SSHHostConfig(host="web")


def test_quotes_and_escapes(tmp_path: Path) -> None:
    config = lookup(
        tmp_path,
        """Host web
  IdentityFile '/a b/it''s'
  IdentityFile /c\\ d
  IdentityFile "/e \\"f\\""
""",
    )
    assert config.identity_files == ["/a b/its", "/c d", '/e "f"']


def test_first_value_wins(tmp_path: Path) -> None:
    config = lookup(
        tmp_path,
        """
Host web
  Port 2222
  User first
Host *
  Port 22
  User second
  ConnectTimeout 5
""",
    )
    assert config.port == 2222
    assert config.user == "first"
    assert config.connect_timeout == 5.0
    assert config.raw["port"] == ["2222", "22"]
    assert config.raw["user"] == ["first", "second"]


def test_top_level_options_apply_to_every_host(tmp_path: Path) -> None:
    config = lookup(tmp_path, "User everyone\nHost other\n  User nope\n")
    assert config.user == "everyone"


# -- Host patterns -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patterns", "host", "matches"),
    [
        ("web", "web", True),
        ("WEB", "web", True),
        ("web", "Web", True),
        ("web", "web2", False),
        ("web*", "web2.example.com", True),
        ("*.example.com", "db.example.com", True),
        ("*.example.com", "example.com", False),
        ("web?", "web1", True),
        ("web?", "web12", False),
        ("db web", "web", True),
        ("db  other", "web", False),
        ("* !web", "web", False),
        ("* !web", "db", True),
        ("!web", "db", False),
        ("web* !web3", "web3", False),
        ("web* !web3", "web4", True),
        ("web[1]", "web1", False),
        ("web[1]", "web[1]", True),
        ("10.0.0.*", "10.0.0.7", True),
    ],
)
def test_host_patterns(tmp_path: Path, patterns: str, host: str, matches: bool) -> None:
    config = lookup(tmp_path, f"Host {patterns}\n  Port 2000\n", host=host)
    assert (config.port == 2000) is matches


# -- Match -------------------------------------------------------------------------------


def test_match_all(tmp_path: Path) -> None:
    config = lookup(tmp_path, "Host other\n  User x\nMatch all\n  User everyone\n")
    assert config.user == "everyone"


def test_match_host_uses_hostname_once_set(tmp_path: Path) -> None:
    text = """
Host web
  HostName %h.internal
Match host *.internal
  User internal
Match host web
  Port 2000
Match originalhost web
  IdentityFile /k
"""
    config = lookup(tmp_path, text)
    assert config.hostname == "web.internal"
    assert config.user == "internal"
    assert config.port is None  # "host" compares against web.internal, not web
    assert config.identity_files == ["/k"]


def test_match_host_without_hostname_uses_name(tmp_path: Path) -> None:
    config = lookup(tmp_path, "Match host db,web\n  User a\n")
    assert config.user == "a"


def test_match_pattern_list_negation(tmp_path: Path) -> None:
    text = "Match host *,!web\n  User a\nMatch host !db,w*\n  Port 2000\n"
    config = lookup(tmp_path, text)
    assert config.user is None
    assert config.port == 2000


def test_match_negated_criteria_and_conjunction(tmp_path: Path) -> None:
    text = f"""
Match !host db
  User a
Match host web localuser {getpass.getuser()}
  Port 2001
Match host web localuser nobody-at-all
  IdentityFile /nope
Match !originalhost web
  IdentitiesOnly yes
"""
    config = lookup(tmp_path, text)
    assert config.user == "a"
    assert config.port == 2001
    assert config.identity_files is None
    assert config.identities_only is None


@pytest.mark.parametrize(
    "criteria",
    ['exec "true"', "user root", "!user nobody", "canonical", "final", "localnetwork 0.0.0.0/0"],
)
def test_unsupported_match_criteria_never_match(tmp_path: Path, criteria: str) -> None:
    config = lookup(tmp_path, f"Match {criteria}\n  User a\nHost *\n  User b\n")
    assert config.user == "b"


def test_unsupported_criterion_makes_whole_match_fail(tmp_path: Path) -> None:
    config = lookup(tmp_path, 'Match host web exec "true"\n  User a\n')
    assert config.user is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("Match", "missing argument"),
        ("Match host", "requires an argument"),
        ("Match all host web", "cannot be combined"),
    ],
)
def test_bad_match_lines(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(InventoryError, match=message):
        lookup(tmp_path, f"Port 22\n{line}\n")


def test_host_after_match_starts_new_block(tmp_path: Path) -> None:
    config = lookup(tmp_path, "Match host nope\n  User a\nHost web\n  User b\n")
    assert config.user == "b"


# -- Include -----------------------------------------------------------------------------


def test_include_relative_to_home_ssh_with_glob(home: Path, tmp_path: Path) -> None:
    write(home / ".ssh" / "conf.d" / "10-web.conf", "Host web\n  User from10\n")
    write(home / ".ssh" / "conf.d" / "20-all.conf", "Host *\n  User from20\n  Port 2020\n")
    write(home / ".ssh" / "conf.d" / "ignored.txt", "Host *\n  Port 1\n")
    config = lookup(tmp_path, "Include conf.d/*.conf\n")
    assert config.user == "from10"
    assert config.port == 2020


def test_include_absolute_tilde_and_several_args(home: Path, tmp_path: Path) -> None:
    write(home / "a.conf", "User a\n")
    other = write(tmp_path / "b.conf", "Port 2002\n")
    config = lookup(tmp_path, f"Include ~/a.conf {other} /does/not/exist*\n")
    assert config.user == "a"
    assert config.port == 2002


def test_include_missing_file_is_ignored(home: Path, tmp_path: Path) -> None:
    config = lookup(tmp_path, "Include nope.conf\nUser a\n")
    assert config.user == "a"


def test_include_inside_host_block_only_when_matching(home: Path, tmp_path: Path) -> None:
    write(home / ".ssh" / "db.conf", "User dbuser\nHost *\n  Port 3306\n")
    write(home / ".ssh" / "web.conf", "User webuser\nHost *\n  IdentityFile /web\n")
    text = """
Host db
  Include db.conf
Host web
  Include web.conf
  Port 2222
Host *
  ForwardAgent yes
"""
    config = lookup(tmp_path, text)
    assert config.user == "webuser"
    assert config.port == 2222  # the block state is restored after the Include
    assert config.identity_files == ["/web"]
    assert config.forward_agent is True
    db = lookup_ssh_config("db", str(tmp_path / "config"))
    assert db.user == "dbuser"
    assert db.port == 3306
    assert db.identity_files is None


def test_host_block_in_included_file_does_not_leak_out(home: Path, tmp_path: Path) -> None:
    write(home / ".ssh" / "inc.conf", "Host nomatch\n  User inc\n")
    config = lookup(tmp_path, "Host web\n  Include inc.conf\n  User outer\n")
    assert config.user == "outer"


def test_include_cycle_stops(home: Path, tmp_path: Path) -> None:
    write(home / ".ssh" / "a.conf", "Include b.conf\nIdentityFile /a\n")
    write(home / ".ssh" / "b.conf", "Include a.conf\nIdentityFile /b\nInclude b.conf\n")
    config = lookup(tmp_path, "Include a.conf\nInclude a.conf\n")
    assert config.identity_files == ["/b", "/a"]


def test_self_include_stops(tmp_path: Path) -> None:
    path = tmp_path / "config"
    write(path, f"Include {path}\nPort 2003\n")
    assert lookup_ssh_config("web", str(path)).port == 2003


def test_include_depth_is_limited(home: Path, tmp_path: Path) -> None:
    for level in range(1, 30):
        write(
            home / ".ssh" / f"l{level}.conf", f"Include l{level + 1}.conf\nIdentityFile /{level}\n"
        )
    config = lookup(tmp_path, "Include l1.conf\n")
    assert config.identity_files is not None
    assert config.identity_files == [f"/{level}" for level in range(16, 0, -1)]


def test_unreadable_include_names_the_line(home: Path, tmp_path: Path) -> None:
    (home / ".ssh" / "adir").mkdir()
    with pytest.raises(InventoryError, match=r"config line 2: cannot read included file"):
        lookup(tmp_path, "Port 22\nInclude adir\n")


def test_errors_in_included_files_name_that_file(home: Path, tmp_path: Path) -> None:
    write(home / ".ssh" / "bad.conf", "\n\nPort nope\n")
    with pytest.raises(InventoryError, match=r"bad\.conf line 3: invalid port value 'nope'"):
        lookup(tmp_path, "Include bad.conf\n")


# -- tokens ------------------------------------------------------------------------------


def test_hostname_token(tmp_path: Path) -> None:
    config = lookup(tmp_path, "Host *\n  HostName %h.example.com%%\n")
    assert config.hostname == "web.example.com%"


def test_identity_file_tokens(home: Path, tmp_path: Path) -> None:
    text = """
Host web
  HostName web.example.com
  User deploy
  Port 2222
  IdentityFile ~/.ssh/%h-%r-%p
  IdentityFile %d/%u/%n/%%
  IdentityFile ~/.ssh/%h-%r-%p
"""
    config = lookup(tmp_path, text)
    assert config.identity_files == [
        f"{home}/.ssh/web.example.com-deploy-2222",
        f"{home}/{getpass.getuser()}/web/%",
    ]


def test_token_defaults_when_unset(home: Path, tmp_path: Path) -> None:
    config = lookup(tmp_path, "IdentityFile /k/%h-%r-%p-%i-%k-%Z\n")
    assert config.identity_files == [f"/k/web-{getpass.getuser()}-22-{os.getuid()}-web-%Z"]


def test_hash_and_local_host_tokens(tmp_path: Path) -> None:
    config = lookup(tmp_path, "User u\nIdentityFile /%C\nCertificateFile /%l/%L\n")
    fqdn = socket.gethostname()
    expected = hashlib.sha1(f"{fqdn}web22u".encode()).hexdigest()
    assert config.identity_files == [f"/{expected}"]
    assert config.certificate_files == [f"/{fqdn}/{fqdn.split('.')[0]}"]


def test_environment_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYI_KEYS", "/srv/keys")
    config = lookup(tmp_path, "IdentityFile ${PYI_KEYS}/id\n")
    assert config.identity_files == ["/srv/keys/id"]
    monkeypatch.delenv("PYI_KEYS")
    with pytest.raises(InventoryError, match=r"config line 1: environment variable"):
        lookup(tmp_path, "IdentityFile ${PYI_KEYS}/id\n")


def test_certificate_files_accumulate(tmp_path: Path) -> None:
    config = lookup(tmp_path, "Host web\n  CertificateFile /a-cert\nHost *\n  CertificateFile /b\n")
    assert config.certificate_files == ["/a-cert", "/b"]
    assert config.certificate_file == "/a-cert"
    assert SSHHostConfig().certificate_file is None


# -- ProxyJump / ProxyCommand ------------------------------------------------------------


def test_proxy_jump_chain(tmp_path: Path) -> None:
    text = "Host web\n  ProxyJump admin@bastion:2222,gw,ssh://u@[fe80::1]:23,[::1],::2\n"
    config = lookup(tmp_path, text)
    assert config.proxy_jump == [
        JumpHost("admin", "bastion", 2222),
        JumpHost(None, "gw", None),
        JumpHost("u", "fe80::1", 23),
        JumpHost(None, "::1", None),
        JumpHost(None, "::2", None),
    ]
    assert [str(hop) for hop in config.proxy_jump] == [
        "admin@bastion:2222",
        "gw",
        "u@[fe80::1]:23",
        "[::1]",
        "[::2]",
    ]
    assert config.proxy_command is None


def test_proxy_jump_none_is_explicit_and_wins(tmp_path: Path) -> None:
    config = lookup(tmp_path, "Host web\n  ProxyJump none\nHost *\n  ProxyJump bastion\n")
    assert config.proxy_jump == []
    assert lookup(tmp_path, "Host other\n  ProxyJump b\n").proxy_jump is None


def test_proxy_jump_tokens(tmp_path: Path) -> None:
    config = lookup(tmp_path, "User me\nPort 2200\nProxyJump %r@%h-gw:%p\n")
    assert config.proxy_jump == [JumpHost("me", "web-gw", 2200)]


def test_proxy_command_tokens(tmp_path: Path) -> None:
    text = """
Host web
  HostName 10.1.2.3
  User deploy
  ProxyCommand ssh -W %h:%p  -l %r gw "quoted arg" 100%%
"""
    config = lookup(tmp_path, text)
    assert config.proxy_command == 'ssh -W 10.1.2.3:22  -l deploy gw "quoted arg" 100%'
    assert config.proxy_jump is None


def test_proxy_command_none(tmp_path: Path) -> None:
    config = lookup(tmp_path, "Host web\n  ProxyCommand none\nHost *\n  ProxyCommand nc %h %p\n")
    assert config.proxy_command is None
    assert config.raw["proxycommand"] == ["none", "nc %h %p"]


def test_first_of_proxy_jump_and_command_wins(tmp_path: Path) -> None:
    config = lookup(tmp_path, "Host web\n  ProxyCommand nc %h %p\nHost *\n  ProxyJump gw\n")
    assert (config.proxy_command, config.proxy_jump) == ("nc web 22", None)
    config = lookup(tmp_path, "Host web\n  ProxyJump gw\nHost *\n  ProxyCommand nc %h %p\n")
    assert (config.proxy_command, config.proxy_jump) == (None, [JumpHost(None, "gw", None)])


@pytest.mark.parametrize(
    "value", ["user@", "@host", "host:0", "host:99999", "host:x", "[::1", "[::1]x", ","]
)
def test_parse_proxy_jump_errors(value: str) -> None:
    with pytest.raises(ValueError):
        parse_proxy_jump(value)


# -- typed values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"), [("10", 10.0), ("2.5", 2.5), ("1m30s", 90.0), ("1h", 3600.0)]
)
def test_connect_timeout(tmp_path: Path, value: str, seconds: float) -> None:
    assert lookup(tmp_path, f"ConnectTimeout {value}\n").connect_timeout == seconds


def test_server_alive_interval(tmp_path: Path) -> None:
    assert lookup(tmp_path, "ServerAliveInterval 1m\n").server_alive_interval == 60
    assert lookup(tmp_path, "ServerAliveInterval 15\n").server_alive_interval == 15


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("yes", "yes"),
        ("YES", "yes"),
        ("true", "yes"),
        ("accept-new", "accept-new"),
        ("no", "no"),
        ("off", "no"),
        ("false", "no"),
        ("ask", "ask"),
    ],
)
def test_strict_host_key_checking(tmp_path: Path, value: str, expected: str) -> None:
    assert lookup(tmp_path, f"StrictHostKeyChecking {value}\n").strict_host_key_checking == (
        expected
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [("yes", True), ("no", False), ("True", True), ("/tmp/agent.sock", True), ("$SOCK", True)],
)
def test_forward_agent(tmp_path: Path, value: str, expected: bool) -> None:
    assert lookup(tmp_path, f"ForwardAgent {value}\n").forward_agent is expected


def test_identities_only(tmp_path: Path) -> None:
    assert lookup(tmp_path, "IdentitiesOnly yes\n").identities_only is True
    assert lookup(tmp_path, "IdentitiesOnly no\n").identities_only is False


def test_user_known_hosts_file(home: Path, tmp_path: Path) -> None:
    config = lookup(tmp_path, "Port 2222\nUserKnownHostsFile ~/.ssh/kh /etc/kh-%h-%p\n")
    assert config.user_known_hosts_file == [f"{home}/.ssh/kh", "/etc/kh-web-2222"]
    config = lookup(tmp_path, "Host web\n  UserKnownHostsFile none\nUserKnownHostsFile /x\n")
    assert config.user_known_hosts_file == []


def test_raw_collects_everything_that_applied(tmp_path: Path) -> None:
    text = """
Host web
  SendEnv LANG LC_*
  IdentityFile /a
  Compression yes
Host other
  Compression no
Host *
  IdentityFile /b
"""
    config = lookup(tmp_path, text)
    assert config.raw == {
        "sendenv": ["LANG LC_*"],
        "identityfile": ["/a", "/b"],
        "compression": ["yes"],
    }


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("Port abc", "invalid port value 'abc'"),
        ("Port 0", "invalid port value '0'"),
        ("Port 65536", "invalid port"),
        ("Port 22 23", "expected one value"),
        ("Port", "port: missing argument"),
        ("ConnectTimeout soon", "invalid connecttimeout"),
        ("ServerAliveInterval -1", "invalid serveraliveinterval"),
        ("StrictHostKeyChecking maybe", "invalid stricthostkeychecking"),
        ("IdentitiesOnly perhaps", "invalid identitiesonly"),
        ("ProxyJump gw:http", "ProxyJump: invalid port"),
        ("ProxyCommand", "ProxyCommand: missing argument"),
        ('IdentityFile "/unterminated', "unterminated"),
        ("=22", "no keyword"),
    ],
)
def test_invalid_values_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    config_file = tmp_path / "config"
    with pytest.raises(InventoryError) as info:
        lookup(tmp_path, f"Host web\n\n  {line}\n")
    assert str(info.value).startswith(f"{config_file} line 3: ")
    assert message in str(info.value)


def test_invalid_value_in_other_block_still_raises(tmp_path: Path) -> None:
    # As ``ssh`` does: every line read is validated, whichever host it is for.
    with pytest.raises(InventoryError, match="line 2"):
        lookup(tmp_path, "Host other\n  Port abc\n")


def test_unknown_keywords_are_kept_raw(tmp_path: Path) -> None:
    config = lookup(tmp_path, "Frobnicate a b\nBatchMode yes\n")
    assert config.raw == {"frobnicate": ["a b"], "batchmode": ["yes"]}


def test_changed_file_is_reread(tmp_path: Path) -> None:
    path = tmp_path / "config"
    write(path, "Port 2001\n")
    assert lookup_ssh_config("web", str(path)).port == 2001
    write(path, "Port 2002\n")
    os.utime(path, ns=(1, 1))
    assert lookup_ssh_config("web", str(path)).port == 2002
