from __future__ import annotations

import base64
import hashlib
import hmac
import io
import logging
import os
import shutil
import stat
import subprocess
import threading
from pathlib import Path

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pyinfra.api.exceptions import HostKeyError, InventoryError
from pyinfra.connectors.ssh.hostkeys import (
    HostKeyPolicy,
    append_known_host,
    find_known_host_entries,
    fingerprint,
    known_hosts_name,
    load_host_keys,
    normalise_policy,
    translate_bad_host_key,
)


def ed25519_key() -> paramiko.PKey:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    return paramiko.Ed25519Key(file_obj=io.StringIO(pem.decode()))


def ecdsa_key() -> paramiko.PKey:
    return paramiko.ECDSAKey.generate()


def rsa_key() -> paramiko.PKey:
    return paramiko.RSAKey.generate(1024)


KEY_MAKERS = [ed25519_key, ecdsa_key, rsa_key]


def line_for(name: str, key: paramiko.PKey) -> str:
    return f"{name} {key.get_name()} {key.get_base64()}\n"


def hashed(name: str) -> str:
    salt = os.urandom(20)
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def policy_for(policy: str, known_hosts: Path | None) -> HostKeyPolicy:
    files = [str(known_hosts)] if known_hosts is not None else []
    return HostKeyPolicy(policy, files, global_known_hosts_files=[])


# -- small helpers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "accept-new"),
        ("accept-new", "accept-new"),
        ("Accept-New", "accept-new"),
        ("yes", "yes"),
        ("true", "yes"),
        (True, "yes"),
        ("no", "no"),
        ("off", "no"),
        ("false", "no"),
        (False, "no"),
        ("ask", "ask"),
    ],
)
def test_normalise_policy(value: object, expected: str) -> None:
    assert normalise_policy(value) == expected


@pytest.mark.parametrize("value", ["maybe", "", 1, ["yes"]])
def test_normalise_policy_rejects_junk(value: object) -> None:
    with pytest.raises(InventoryError, match="ssh_strict_host_key_checking"):
        normalise_policy(value)


def test_unknown_policy_rejected_by_constructor() -> None:
    with pytest.raises(InventoryError):
        HostKeyPolicy("sometimes")


@pytest.mark.parametrize("make_key", KEY_MAKERS)
def test_fingerprint_is_openssh_sha256(make_key: object, tmp_path: Path) -> None:
    assert callable(make_key)
    key: paramiko.PKey = make_key()
    digest = hashlib.sha256(base64.b64decode(key.get_base64())).digest()
    expected = "SHA256:" + base64.b64encode(digest).decode().rstrip("=")
    assert fingerprint(key) == expected
    assert "=" not in fingerprint(key)
    if shutil.which("ssh-keygen"):
        pub = tmp_path / "key.pub"
        pub.write_text(line_for("", key).strip() + "\n")
        out = subprocess.run(
            ["ssh-keygen", "-l", "-E", "sha256", "-f", str(pub)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert out.split()[1] == fingerprint(key)


def test_known_hosts_name() -> None:
    assert known_hosts_name("example.com") == "example.com"
    assert known_hosts_name("example.com", 22) == "example.com"
    assert known_hosts_name("example.com", 2222) == "[example.com]:2222"
    assert known_hosts_name("::1", 2222) == "[::1]:2222"


# -- loading -----------------------------------------------------------------------------


def keys_of(client: paramiko.SSHClient, name: str) -> dict[str, paramiko.PKey]:
    found = client.get_host_keys().lookup(name)
    return dict(found.items()) if found is not None else {}


def test_load_host_keys_all_hosts(tmp_path: Path) -> None:
    key1, key2 = ed25519_key(), ecdsa_key()
    first = tmp_path / "kh1"
    first.write_text("# comment\n\n" + line_for("a.example,10.0.0.1", key1))
    second = tmp_path / "kh2"
    second.write_text(line_for("[b.example]:2222", key2) + "garbage line\n")
    client = paramiko.SSHClient()
    loaded = load_host_keys(
        client, [str(first), str(tmp_path / "missing"), str(second)], global_files=[]
    )
    assert loaded == [str(first), str(second)]
    assert keys_of(client, "a.example") == {"ssh-ed25519": key1}
    assert keys_of(client, "10.0.0.1") == {"ssh-ed25519": key1}
    assert keys_of(client, "[b.example]:2222") == {key2.get_name(): key2}


def test_load_host_keys_for_one_host(tmp_path: Path) -> None:
    wanted, other, rsa = ed25519_key(), ed25519_key(), rsa_key()
    known = tmp_path / "kh"
    known.write_text(
        line_for("other.example", other)
        + line_for(hashed("[web.example]:2222"), wanted)
        + line_for("[web.example]:2222", other)  # same type again: the first line wins
        + line_for("web.example", other)  # port 22 is another name
        + line_for("[WEB.example]:2222", rsa)
    )
    client = paramiko.SSHClient()
    load_host_keys(client, [str(known)], hostname="web.example", port=2222, global_files=[])
    assert keys_of(client, "[web.example]:2222") == {"ssh-ed25519": wanted, "ssh-rsa": rsa}
    assert keys_of(client, "other.example") == {}
    assert keys_of(client, "web.example") == {}
    assert len(client.get_host_keys().keys()) == 1


def test_load_host_keys_skips_bad_lines(tmp_path: Path) -> None:
    # paramiko's own loader stops at the first corrupt line; ours skips just that line.
    key = ed25519_key()
    known = tmp_path / "kh"
    known.write_text(
        "h ssh-ed25519 AAAA!!notbase64\n"
        "h ssh-ed25519 QUJD\n"
        "h sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t\n"
        "@revoked h ssh-ed25519 AAAA\n" + line_for("h", key)
    )
    with pytest.raises(paramiko.hostkeys.InvalidHostKey):
        paramiko.SSHClient().load_system_host_keys(str(known))
    client = paramiko.SSHClient()
    assert load_host_keys(client, [str(known)], hostname="h", global_files=[]) == [str(known)]
    assert keys_of(client, "h") == {"ssh-ed25519": key}


def test_load_host_keys_sees_file_changes(tmp_path: Path) -> None:
    key1, key2 = ed25519_key(), ecdsa_key()
    known = tmp_path / "kh"
    known.write_text(line_for("h", key1))
    load_host_keys(paramiko.SSHClient(), [str(known)], hostname="h", global_files=[])
    with known.open("a") as handle:
        handle.write(line_for("h", key2))
    client = paramiko.SSHClient()
    load_host_keys(client, [str(known)], hostname="h", global_files=[])
    assert set(keys_of(client, "h")) == {"ssh-ed25519", key2.get_name()}


def test_load_host_keys_unreadable_file_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "dir").mkdir()
    with caplog.at_level(logging.WARNING, logger="pyinfra"):
        assert load_host_keys(paramiko.SSHClient(), [str(tmp_path / "dir")], global_files=[]) == []
    assert "Ignoring known_hosts file" in caplog.text


def test_load_host_keys_expands_tilde(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "kh").write_text(line_for("h", ed25519_key()))
    assert load_host_keys(paramiko.SSHClient(), ["~/kh"], global_files=[]) == [str(tmp_path / "kh")]


def test_attach_installs_policy(tmp_path: Path) -> None:
    known = tmp_path / "kh"
    known.write_text(line_for("h", ed25519_key()))
    client = paramiko.SSHClient()
    policy = policy_for("yes", known)
    assert policy.attach(client, "h", 22) == [str(known)]
    assert getattr(client, "_policy") is policy  # noqa: B009
    assert set(keys_of(client, "h")) == {"ssh-ed25519"}


def test_default_known_hosts_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert HostKeyPolicy().known_hosts_files == [str(tmp_path / ".ssh" / "known_hosts")]
    assert HostKeyPolicy().policy == "accept-new"


# -- unknown hosts -----------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["yes", "ask", "true"])
def test_strict_policy_refuses_unknown_host(tmp_path: Path, policy: str) -> None:
    known = tmp_path / "kh"
    key = ed25519_key()
    client = paramiko.SSHClient()
    with pytest.raises(HostKeyError) as info:
        policy_for(policy, known).missing_host_key(client, "[web.example]:2222", key)
    message = str(info.value)
    assert "\n" not in message
    assert "[web.example]:2222" in message
    assert "ssh-ed25519" in message
    assert fingerprint(key) in message
    assert f"ssh-keyscan -t ssh-ed25519 -p 2222 web.example >> {known}" in message
    assert not known.exists()
    assert client.get_host_keys().lookup("[web.example]:2222") is None


def test_accept_new_creates_file_and_directory(tmp_path: Path) -> None:
    known = tmp_path / "home" / ".ssh" / "known_hosts"
    key = ed25519_key()
    client = paramiko.SSHClient()
    policy_for("accept-new", known).missing_host_key(client, "web.example", key)
    assert known.read_text() == line_for("web.example", key)
    assert stat.S_IMODE(known.stat().st_mode) == 0o600
    assert stat.S_IMODE(known.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(known.parent.parent.stat().st_mode) == 0o700
    assert client.get_host_keys().lookup("web.example") is not None


def test_accept_new_only_appends(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    original = "# keep me\n|1|abc|def ssh-rsa AAAA\nold.example ssh-ed25519 AAAAC3 no-newline"
    known.write_text(original)
    known.chmod(0o644)
    inode = known.stat().st_ino
    key = ecdsa_key()
    policy_for("accept-new", known).missing_host_key(paramiko.SSHClient(), "[h]:2200", key)
    text = known.read_text()
    assert text == original + "\n" + line_for("[h]:2200", key)
    assert known.stat().st_ino == inode  # same file, not a rewritten copy
    assert stat.S_IMODE(known.stat().st_mode) == 0o644  # existing mode untouched


def test_accept_new_does_not_duplicate(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    key = ed25519_key()
    policy = policy_for("accept-new", known)
    policy.missing_host_key(paramiko.SSHClient(), "h", key)
    policy.missing_host_key(paramiko.SSHClient(), "h", key)
    assert known.read_text() == line_for("h", key)


def test_accept_new_refuses_key_that_appeared_meanwhile(tmp_path: Path) -> None:
    # Another process recorded a different key of the same type since we loaded the file.
    known = tmp_path / "known_hosts"
    old, new = ed25519_key(), ed25519_key()
    known.write_text("x ssh-rsa AAAA\n" + line_for("h", old))
    with pytest.raises(HostKeyError) as info:
        policy_for("accept-new", known).missing_host_key(paramiko.SSHClient(), "h", new)
    message = str(info.value)
    assert "CHANGED" in message
    assert fingerprint(old) in message and fingerprint(new) in message
    assert f"{known} line 2" in message
    assert known.read_text().count("\n") == 2


def test_accept_new_unwritable_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    known = blocker / "known_hosts"  # parent is a regular file
    with pytest.raises(HostKeyError, match="Cannot record the new host key"):
        policy_for("accept-new", known).missing_host_key(paramiko.SSHClient(), "h", rsa_key())


def test_accept_new_without_file_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    key = ed25519_key()
    client = paramiko.SSHClient()
    with caplog.at_level(logging.WARNING, logger="pyinfra"):
        policy_for("accept-new", None).missing_host_key(client, "h", key)
    assert "not recorded" in caplog.text
    assert fingerprint(key) in caplog.text
    assert client.get_host_keys().lookup("h") is not None


@pytest.mark.parametrize("policy", ["no", "off"])
def test_no_policy_accepts_with_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, policy: str
) -> None:
    known = tmp_path / "known_hosts"
    key = ed25519_key()
    with caplog.at_level(logging.WARNING, logger="pyinfra"):
        policy_for(policy, known).missing_host_key(paramiko.SSHClient(), "h", key)
    assert "without checking" in caplog.text
    assert fingerprint(key) in caplog.text
    assert not known.exists()


def test_concurrent_appends(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    keys = [ed25519_key() for _ in range(4)]
    policy = policy_for("accept-new", known)
    barrier = threading.Barrier(40)
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        barrier.wait()
        try:
            # 32 threads learn 32 different hosts, 8 threads all learn the same one.
            name, key = (f"host{index}", keys[index % 4]) if index < 32 else ("shared", keys[0])
            policy.missing_host_key(paramiko.SSHClient(), name, key)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    lines = known.read_text().splitlines()
    assert len(lines) == 33
    assert sorted(line.split()[0] for line in lines) == sorted(
        [f"host{i}" for i in range(32)] + ["shared"]
    )
    assert all(len(line.split()) == 3 for line in lines)


def test_append_known_host_return_value(tmp_path: Path) -> None:
    known = tmp_path / "kh"
    key = ed25519_key()
    assert append_known_host(str(known), "h", key) is True
    assert append_known_host(str(known), "h", key) is False
    assert append_known_host(str(known), "other", key) is True


# -- changed keys ------------------------------------------------------------------------


def test_find_known_host_entries_plain_hashed_and_port(tmp_path: Path) -> None:
    key = ed25519_key()
    known = tmp_path / "kh"
    known.write_text(
        "# web.example ssh-ed25519 AAAA\n"
        + line_for("other,WEB.example,10.0.0.1", key)
        + line_for(hashed("web.example"), key)
        + line_for("[web.example]:2222", key)
        + "@cert-authority web.example ssh-ed25519 AAAA\n"
        + line_for(hashed("[web.example]:2222"), key)
    )
    entries = find_known_host_entries("web.example", [str(known), str(tmp_path / "nope")])
    assert [entry.line for entry in entries] == [2, 3]
    assert entries[0].fingerprint == fingerprint(key)
    entries = find_known_host_entries("[web.example]:2222", [str(known)])
    assert [entry.line for entry in entries] == [4, 6]


@pytest.mark.parametrize("port", [22, 2222])
def test_translate_bad_host_key(tmp_path: Path, port: int) -> None:
    old, new, unrelated = ed25519_key(), ed25519_key(), ecdsa_key()
    name = known_hosts_name("web.example", port)
    known = tmp_path / "kh"
    known.write_text("\n" + line_for("other", unrelated) + line_for(name, old))
    exc = paramiko.BadHostKeyException("web.example", new, old)
    error = translate_bad_host_key(exc, port, [str(known)])
    message = str(error)
    assert isinstance(error, HostKeyError)
    assert "\n" not in message
    assert f"Host key for {name} has CHANGED" in message
    assert f"known ssh-ed25519 {fingerprint(old)} ({known} line 3)" in message
    assert f"server sent ssh-ed25519 {fingerprint(new)}" in message
    expected_r = "web.example" if port == 22 else "'[web.example]:2222'"
    assert f"ssh-keygen -R {expected_r} -f {known}" in message


def test_translate_bad_host_key_different_type_and_hashed(tmp_path: Path) -> None:
    old, new = rsa_key(), ed25519_key()
    known = tmp_path / "kh"
    known.write_text(line_for(hashed("web.example"), old))
    exc = paramiko.BadHostKeyException("web.example", new, old)
    message = str(policy_for("accept-new", known).changed_key_error(exc))
    assert f"known ssh-rsa {fingerprint(old)} ({known} line 1)" in message
    assert f"server sent ssh-ed25519 {fingerprint(new)}" in message


def test_translate_bad_host_key_not_in_files(tmp_path: Path) -> None:
    old, new = ed25519_key(), ed25519_key()
    exc = paramiko.BadHostKeyException("web.example", new, old)
    message = str(translate_bad_host_key(exc, 22, [str(tmp_path / "missing")]))
    assert f"known ssh-ed25519 {fingerprint(old)}," in message
    assert fingerprint(new) in message
    assert "remove the old key from your known_hosts files" in message
