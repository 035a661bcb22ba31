"""gpg.key / gpg.dearmor and the gpg facts with real gpg keys (generated here, served by
the test HTTP server for the URL form), through @local, @docker and @ssh."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pyinfra.api.host import Host
from pyinfra.facts import gpg as GF
from pyinfra.operations import gpg
from tests.contract.targets import ContractTarget
from tests.helpers.deploykit import remote_dir, run
from tests.helpers.fileskit import (
    assert_idempotent,
    changed,
    connected,
    http_server,
    sh,
    target_params,
)


@dataclass
class Keys:
    armored: Path
    second: Path
    key_id: str
    fingerprint: str
    second_id: str


@pytest.fixture(scope="module")
def keys() -> Iterator[Keys]:
    if shutil.which("gpg") is None:
        pytest.skip("gpg is missing on this machine (apt-get install gnupg)")
    home = Path(tempfile.mkdtemp(prefix="pyi-files-gpg-"))
    env = {**os.environ, "GNUPGHOME": str(home)}

    def gpg_run(*args: str) -> str:
        return subprocess.run(
            ["gpg", "--batch", "--quiet", *args],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    for uid in ("First Key <first@example.com>", "Second Key <second@example.com>"):
        gpg_run("--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
    listing = gpg_run("--with-colons", "--list-keys")
    pubs = [line.split(":")[4] for line in listing.splitlines() if line.startswith("pub:")]
    fprs = [line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")]
    armored = home / "first.asc"
    armored.write_text(gpg_run("--armor", "--export", "first@example.com"))
    second = home / "second.asc"
    second.write_text(gpg_run("--armor", "--export", "second@example.com"))
    yield Keys(armored, second, pubs[0], fprs[0], pubs[1])
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module", params=target_params())
def gpg_host(request: pytest.FixtureRequest) -> Iterator[Host]:
    target: ContractTarget = request.param
    with connected(target) as host:
        if not sh(host, "command -v gpg || true").strip():
            pytest.skip(f"{target.id}: gpg is missing on the target")
        yield host


def test_key_and_dearmor(gpg_host: Host, keys: Keys) -> None:
    host = gpg_host
    server = http_server()
    name = f"key-{uuid.uuid4().hex[:8]}.asc"
    shutil.copy(keys.armored, server.root / name)
    with remote_dir(host) as base:
        # gpg writes its trust db under HOME: keep it in the test directory
        env = {"_env": {"HOME": base, "GNUPGHOME": f"{base}/gnupg"}}
        sh(host, f"mkdir -m 700 {base}/gnupg && mkdir -m 755 {base}/keyrings")
        host.put_file(str(keys.armored), f"{base}/first.asc")
        host.put_file(str(keys.second), f"{base}/second.asc")

        def deploy() -> None:
            gpg.key(src=server.url(name), dest=f"{base}/keyrings/from-url.gpg", **env)
            gpg.key(src=f"{base}/first.asc", dest=f"{base}/keyrings/from-file.gpg",
                    keyid=keys.key_id, mode="0640", **env)  # fmt: skip
            gpg.dearmor(src=f"{base}/second.asc", dest=f"{base}/keyrings/second.gpg", **env)

        def check() -> None:
            rings = host.get_fact(GF.GpgKeyrings, directories=[f"{base}/keyrings"], **env)
            assert set(rings) == {
                f"{base}/keyrings/from-url.gpg",
                f"{base}/keyrings/from-file.gpg",
                f"{base}/keyrings/second.gpg",
            }
            url_keys = rings[f"{base}/keyrings/from-url.gpg"]["keys"]
            assert url_keys[keys.key_id]["fingerprint"] == keys.fingerprint
            assert url_keys[keys.key_id]["uid"] == "First Key <first@example.com>"
            assert keys.second_id in rings[f"{base}/keyrings/second.gpg"]["keys"]
            assert sh(host, f"stat -c %a {base}/keyrings/from-file.gpg").strip() == "640"

        assert_idempotent(host, deploy, check, f"{base}/keyrings", extra_state=None)

        # facts: a key file, and a keyring
        found = host.get_fact(GF.GpgKey, src=f"{base}/first.asc", **env)
        assert found[keys.key_id]["uid"] == "First Key <first@example.com>"
        listed = host.get_fact(GF.GpgKeys, keyring=f"{base}/keyrings/from-url.gpg", **env)
        assert listed[keys.key_id]["length"] == 255
        assert host.get_fact(GF.GpgSecretKeys, **env) is None  # nothing secret there

        # removal: a key from one keyring (the file goes when its last key does)
        removed = run(
            host,
            lambda: gpg.key(
                dest=f"{base}/keyrings/from-file.gpg", keyid=keys.key_id, present=False, **env
            ),  # fmt: skip
        )
        assert changed(removed)
        assert sh(host, f"test -e {base}/keyrings/from-file.gpg || echo gone").strip() == "gone"
        again = run(
            host,
            lambda: gpg.key(
                dest=f"{base}/keyrings/from-file.gpg", keyid=keys.key_id, present=False, **env
            ),  # fmt: skip
        )
        assert changed(again) == []


def test_bad_input(gpg_host: Host) -> None:
    results = run(gpg_host, lambda: gpg.key(dest="/tmp/x.gpg"), expect_success=False)
    assert results[0].error and "give src" in results[0].error
    results = run(gpg_host, lambda: gpg.dearmor(src="/nonexistent.asc", dest="/tmp/x.gpg"),
                  expect_success=False)  # fmt: skip
    assert results[0].error and "does not exist" in results[0].error
