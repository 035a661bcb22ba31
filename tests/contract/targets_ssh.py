"""The SSH connector in the contract suite, against a real sshd on 127.0.0.1.

The sshd is started by this module on first use (the target's ``setup``) and stopped
when the test process exits. It logs in ``pyicontract``, a user with a plain ``/bin/sh``
shell and NOPASSWD sudo, with its own key; the server's host keys are pre-written to a
private known_hosts file and checked strictly. ``process_exists`` asks the target
itself (``pgrep`` over a separate SSH connection).
"""

from __future__ import annotations

import atexit
import os
import shlex
import shutil
import tempfile
from pathlib import Path

from tests.contract.targets import ALL_CAPABILITIES, ContractTarget

USER = "pyicontract"
_state: dict[str, object] = {}
_DIR = Path(tempfile.gettempdir()) / f"pyi-contract-ssh-{os.getpid()}"
_KEY = _DIR / "id_ed25519"
_KNOWN_HOSTS = _DIR / "known_hosts"


def _unavailable() -> str | None:
    if not os.access("/usr/sbin/sshd", os.X_OK):
        return "/usr/sbin/sshd is missing (apt-get install openssh-server)"
    if shutil.which("ssh-keygen") is None:
        return "ssh-keygen is missing (apt-get install openssh-client)"
    if os.geteuid() != 0:
        return "creating the SSH test user needs root"
    if shutil.which("sudo") is None:
        return "sudo is missing (apt-get install sudo)"
    return None


def _setup() -> None:
    from tests.helpers.sshd import SSHServer, ensure_user, generate_client_key

    ensure_user(USER, shell="/bin/sh", sudo="nopasswd")
    _DIR.mkdir(mode=0o700, exist_ok=True)
    if not _KEY.exists():
        generate_client_key(_DIR, name=_KEY.name)
    server = SSHServer(port=int(str(_state["port"])), host_key_types=["ed25519"])
    server.start()
    atexit.register(_teardown)
    server.authorize_key(USER, _KEY.with_name(_KEY.name + ".pub"))
    server.write_known_hosts(_KNOWN_HOSTS)
    _state["server"] = server


def _teardown() -> None:
    server = _state.pop("server", None)
    if server is not None:
        server.stop()  # type: ignore[attr-defined]
    shutil.rmtree(_DIR, ignore_errors=True)


def _process_exists(text: str) -> bool:
    import paramiko

    client = paramiko.SSHClient()
    client.load_host_keys(str(_KNOWN_HOSTS))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        "127.0.0.1",
        int(str(_state["port"])),
        username=USER,
        key_filename=str(_KEY),
        allow_agent=False,
        look_for_keys=False,
        timeout=10,
    )
    try:
        _, out, _ = client.exec_command(f"exec pgrep -f -- {shlex.quote(text)}")
        return bool(out.channel.recv_exit_status() == 0)
    finally:
        client.close()


def make_targets() -> list[ContractTarget]:
    if "port" not in _state:
        from tests.helpers.sshd import free_port

        _state["port"] = free_port()
    data: dict[str, object] = {
        "ssh_port": _state["port"],
        "ssh_user": USER,
        "ssh_key": str(_KEY),
        "ssh_known_hosts_file": str(_KNOWN_HOSTS),
        "ssh_strict_host_key_checking": "yes",
        "ssh_allow_agent": False,
        "ssh_look_for_keys": False,
    }
    return [
        ContractTarget(
            "ssh",
            "127.0.0.1",
            data=data,
            capabilities=ALL_CAPABILITIES,
            process_exists=_process_exists,
            unavailable=_unavailable,
            setup=_setup,
        )
    ]
