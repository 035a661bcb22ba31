"""A real Vagrant project for tests: the docker provider running the local sshd image.

``VagrantProject(directory, machines=[...], idle=[...])`` writes a Vagrantfile (no box,
synced folder disabled, root login with a generated key, SSH published on 127.0.0.1 by
vagrant's own forwarded port) and ``up()`` starts the ``machines`` (``idle`` ones are
defined but never started). ``destroy()`` removes every container it made. Vagrant runs
with a private ``VAGRANT_HOME`` and ``VAGRANT_CHECKPOINT_DISABLE=1``: nothing leaves the
machine. Prerequisites come from scripts/setup-vagrant.sh (vagrant, dockerd, the image).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETUP_SCRIPT = ROOT / "scripts" / "setup-vagrant.sh"
IMAGE = "pyinfra-test-sshd:bookworm"

_setup_result: str | None = None
_setup_done = False

VAGRANTFILE = """
PUBKEY = File.read(File.join(__dir__, "id_ed25519.pub")).strip
SSHD = "mkdir -p /root/.ssh && printf '%s\\\\n' \\"$PUBKEY\\" > /root/.ssh/authorized_keys" \\
       " && chmod 600 /root/.ssh/authorized_keys && ssh-keygen -A >/dev/null" \\
       " && exec /usr/sbin/sshd -D -e"

Vagrant.configure("2") do |config|
  config.vm.synced_folder ".", "/vagrant", disabled: true
  config.ssh.username = "root"
  config.ssh.private_key_path = File.join(__dir__, "id_ed25519")
  config.ssh.insert_key = false
  MACHINES.each do |name, autostart|
    config.vm.define name, autostart: autostart do |machine|
      machine.vm.provider "docker" do |d|
        d.image = "IMAGE"
        d.has_ssh = true
        d.remains_running = true
        d.env = { "PUBKEY" => PUBKEY }
        d.cmd = ["/bin/sh", "-c", SSHD]
      end
    end
  end
end
"""


def ensure_vagrant_prerequisites() -> None:
    """Run scripts/setup-vagrant.sh once per session; skip (fail in CI) if it fails."""
    global _setup_result, _setup_done
    if not _setup_done:
        _setup_done = True
        if os.geteuid() != 0:
            _setup_result = "the vagrant tests need root (apt-get, dockerd)"
        else:
            result = subprocess.run(
                ["bash", str(SETUP_SCRIPT)], capture_output=True, text=True, timeout=900
            )
            if result.returncode != 0:
                tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
                _setup_result = f"scripts/setup-vagrant.sh failed: {' | '.join(tail)}"
    if _setup_result is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(_setup_result)
        pytest.skip(_setup_result)
    if shutil.which("vagrant") is None:
        pytest.skip("vagrant is not installed (apt-get install --no-install-recommends vagrant)")


class VagrantProject:
    def __init__(
        self, directory: Path, home: Path, machines: list[str], idle: list[str] | None = None
    ) -> None:
        self.directory = directory
        self.home = home
        self.machines = machines
        self.idle = idle or []
        directory.mkdir(parents=True, exist_ok=True)
        home.mkdir(parents=True, exist_ok=True)
        self.key = directory / "id_ed25519"
        if not self.key.exists():
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.key)], check=True
            )
        table = ", ".join(
            [f'["{m}", true]' for m in machines] + [f'["{m}", false]' for m in self.idle]
        )
        text = VAGRANTFILE.replace("IMAGE", IMAGE)
        (directory / "Vagrantfile").write_text(f"MACHINES = [{table}]\n{text}")

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["VAGRANT_HOME"] = str(self.home)
        env["VAGRANT_CHECKPOINT_DISABLE"] = "1"
        env.pop("VAGRANT_CWD", None)
        return env

    def vagrant(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["vagrant", *args],
            cwd=self.directory,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def up(self) -> None:
        result = self.vagrant("up", "--provider=docker", *self.machines)
        if result.returncode != 0:
            self.destroy()
            raise RuntimeError(f"vagrant up failed: {result.stdout[-2000:]}{result.stderr}")

    def container_id(self, machine: str) -> str:
        return (self.directory / ".vagrant" / "machines" / machine / "docker" / "id").read_text()

    def docker_exec(self, machine: str, *command: str) -> str:
        return subprocess.run(
            ["docker", "exec", self.container_id(machine), *command],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def destroy(self) -> None:
        ids = []
        for machine in self.machines:
            with contextlib.suppress(OSError):
                ids.append(self.container_id(machine))
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.vagrant("destroy", "-f", timeout=180)
        # Whatever vagrant could not remove.
        for container in ids:
            subprocess.run(["docker", "rm", "-f", container], capture_output=True)
