"""files.rsync over the test sshd and on @local (the real rsync on both sides), its
dry-run / two-run contract, and the one-line errors when it cannot run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyinfra.api.exceptions import TransferError
from pyinfra.api.host import Host
from pyinfra.connectors import rsync as rsync_runner
from pyinfra.operations import files
from tests.contract.targets import ContractTarget
from tests.helpers.deploykit import remote_dir, run
from tests.helpers.fileskit import (
    assert_idempotent,
    changed,
    connected,
    sh,
    target_params,
)

pytestmark = pytest.mark.skipif(
    not any(
        os.access(os.path.join(d, "rsync"), os.X_OK) for d in os.defpath.split(":") + ["/usr/bin"]
    ),
    reason="rsync is missing on this machine (apt-get install rsync)",
)


@pytest.fixture(scope="module", params=target_params("local", "ssh"))
def rsync_host(request: pytest.FixtureRequest) -> Iterator[Host]:
    target: ContractTarget = request.param
    with connected(target) as host:
        yield host


def _tree(root: Path) -> Path:
    src = root / "site"
    (src / "css").mkdir(parents=True)
    (src / "index.html").write_text("<h1>hi</h1>\n")
    (src / "css" / "a.css").write_text("body{}\n")
    return src


def test_rsync_contract(rsync_host: Host, tmp_path: Path) -> None:
    src = _tree(tmp_path)
    with remote_dir(rsync_host) as remote:
        sh(rsync_host, f"mkdir -p {remote}/www && echo stale > {remote}/www/stale.txt")

        def deploy() -> None:
            files.rsync(src=f"{src}/", dest=f"{remote}/www/")

        def check() -> None:
            listing = sh(rsync_host, f"cd {remote}/www && find . -type f | sort").split()
            assert listing == ["./css/a.css", "./index.html"]  # --delete removed stale.txt
            assert sh(rsync_host, f"cat {remote}/www/index.html") == "<h1>hi</h1>"

        assert_idempotent(rsync_host, deploy, check, remote)
        # a local change is picked up, and only that
        (src / "index.html").write_text("<h1>changed</h1>\n")
        assert changed(run(rsync_host, deploy))
        assert sh(rsync_host, f"cat {remote}/www/index.html") == "<h1>changed</h1>"


def test_rsync_with_sudo_over_ssh(tmp_path: Path) -> None:
    """_sudo runs the receiving rsync as root: files end up owned by root."""
    target = [p.values[0] for p in target_params("ssh")]
    if not target:
        pytest.skip("no ssh target")
    src = _tree(tmp_path)
    with connected(target[0]) as host, remote_dir(host) as remote:
        run(host, lambda: files.rsync(src=f"{src}/", dest=f"{remote}/root-owned/", _sudo=True))
        owner = sh(host, f"stat -c %U {remote}/root-owned/index.html").strip()
        assert owner == "root"
        sh(host, f"sudo -n rm -rf {remote}/root-owned")


def test_rsync_refused_by_other_connectors(tmp_path: Path) -> None:
    target = [p.values[0] for p in target_params("docker")]
    if not target:
        pytest.skip("no docker target")
    src = _tree(tmp_path)
    with connected(target[0]) as host:
        results = run(host, lambda: files.rsync(src=str(src), dest="/tmp/x"), expect_success=False)
    error = results[0].error or ""
    assert "cannot run rsync" in error and "files.sync" in error and "\n" not in error


def test_rsync_missing_on_the_controller(
    rsync_host: Host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no rsync on this PATH
    src = _tree(tmp_path)
    results = run(
        rsync_host, lambda: files.rsync(src=str(src), dest="/tmp/x"), expect_success=False
    )
    error = results[0].error or ""
    assert "rsync is not installed on this machine (the controller)" in error


def test_rsync_missing_on_the_target(tmp_path: Path) -> None:
    """The real rsync over SSH, pointed at a receiving program the host does not have."""
    target = [p.values[0] for p in target_params("ssh")]
    src = _tree(tmp_path)
    with connected(target[0]) as host:
        argv = rsync_runner.argv_for(
            host.connector, f"{src}/", "/tmp/pyi-files-nowhere/", ["-a"], {}
        )
        assert argv is not None
        argv = [a if a != "rsync" else "pyi-no-such-rsync" for a in argv]
        with pytest.raises(TransferError, match="rsync is not installed on the target host"):
            rsync_runner.run(host, argv)
