"""Parsing what vagrant prints (lines as vagrant 2.3 prints them)."""

# ruff: noqa: E501 - real vagrant output lines are long

from __future__ import annotations

from pyinfra.connectors.inventory.vagrantparse import parse_ssh_config, parse_status
from pyinfra.connectors.vagrant import ssh_data

STATUS = r"""1795484804,web1,metadata,provider,docker
1795484804,idle,metadata,provider,docker
1795484805,web1,provider-name,docker
1795484805,web1,state,running
1795484805,web1,state-human-short,running
1795484805,web1,state-human-long,The container is created and running. You can stop it using\n`vagrant halt`%!(VAGRANT_COMMA) see logs with `vagrant docker-logs`%!(VAGRANT_COMMA) and\nkill/destroy it with `vagrant destroy`.
1795484805,idle,provider-name,docker
1795484805,idle,state,not_created
1795484805,,ui,info,Current machine states:\n\nweb1                      running (docker)\n
"""

ERROR = r"""1795484900,,error-exit,Vagrant::Errors::NoEnvironmentError,A Vagrant environment or target machine is required to run this\ncommand. Run `vagrant init` to create a new Vagrant environment. Or%!(VAGRANT_COMMA)\nget an ID of a target machine from `vagrant global-status` to run\nthis command on. A final option is to change to a directory with a\nVagrantfile and to try again.
"""

SSH_CONFIG = """Host web1
  HostName 127.0.0.1
  User root
  Port 2200
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  PasswordAuthentication no
  IdentityFile "/tmp/my keys/id_ed25519"
  IdentityFile /root/.vagrant.d/insecure_private_key
  IdentitiesOnly yes
  LogLevel FATAL
  PubkeyAcceptedKeyTypes +ssh-rsa
  HostKeyAlgorithms +ssh-rsa
"""


def test_status_states_providers_and_unescaping() -> None:
    machines, error = parse_status(STATUS)
    assert error is None
    assert [(m.name, m.state, m.provider, m.running) for m in machines] == [
        ("web1", "running", "docker", True),
        ("idle", "not_created", "docker", False),
    ]
    assert machines[0].description == (
        "The container is created and running. You can stop it using\n"
        "`vagrant halt`, see logs with `vagrant docker-logs`, and\n"
        "kill/destroy it with `vagrant destroy`."
    )


def test_status_error_exit() -> None:
    machines, error = parse_status(ERROR)
    assert machines == []
    assert error is not None
    assert error.kind == "Vagrant::Errors::NoEnvironmentError"
    assert "Or,\nget an ID" in error.message
    assert error.first_line() == "A Vagrant environment or target machine is required to run this"


def test_backslashes_other_than_escapes_are_kept() -> None:
    machines, _ = parse_status("1,m\\x,state,run\\ning\\t\n")
    assert machines[0].name == "m\\x"
    assert machines[0].state == "run\ning\\t"


def test_ssh_config_to_connector_data() -> None:
    entries = parse_ssh_config(SSH_CONFIG)
    assert [e.host for e in entries] == ["web1"]
    assert entries[0].all("identityfile") == [
        "/tmp/my keys/id_ed25519",
        "/root/.vagrant.d/insecure_private_key",
    ]
    assert ssh_data(entries[0]) == {
        "ssh_hostname": "127.0.0.1",
        "ssh_port": 2200,
        "ssh_user": "root",
        "ssh_key": "/tmp/my keys/id_ed25519",  # none exists: the first one
        "ssh_strict_host_key_checking": "no",
        "ssh_known_hosts_file": "/dev/null",
        "ssh_allow_agent": False,
        "ssh_look_for_keys": False,
    }
