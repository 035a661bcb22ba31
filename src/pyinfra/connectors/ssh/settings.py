"""The SSH connector's data keys, and how they combine with ssh_config into settings.

Precedence for every option: inventory data, then the host's ``ssh_config`` block
(``ssh_config_file``, else ``~/.ssh/config``), then the built-in default. The keyword
arguments in ``ssh_paramiko_connect_kwargs`` are applied last, on top of everything
(see :mod:`pyinfra.connectors.ssh.connect`).
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from typing_extensions import TypedDict

from pyinfra.api.exceptions import InventoryError
from pyinfra.connectors.base import DataMeta
from pyinfra.connectors.ssh.config import JumpHost, SSHHostConfig, lookup_ssh_config
from pyinfra.connectors.ssh.hostkeys import DEFAULT_KNOWN_HOSTS_FILE, normalise_policy

TransferProtocol = Literal["sftp", "scp"]
TRANSFER_PROTOCOLS: tuple[str, ...] = ("sftp", "scp")
# ServerAliveInterval / ServerAliveCountMax defaults: a server silent for
# 15 s gets a probe; after 3 unanswered ones (60 s of silence) the connection is dead
DEFAULT_KEEPALIVE = 15
DEFAULT_KEEPALIVE_COUNT_MAX = 3


class SSHConnectorData(TypedDict, total=False):
    """The inventory data keys the SSH connector reads."""

    ssh_hostname: str
    ssh_port: int
    ssh_user: str
    ssh_password: str
    ssh_key: str
    ssh_key_password: str
    ssh_allow_agent: bool
    ssh_look_for_keys: bool
    ssh_forward_agent: bool
    ssh_config_file: str
    ssh_known_hosts_file: str
    ssh_strict_host_key_checking: str | bool
    ssh_paramiko_connect_kwargs: dict[str, Any]
    ssh_connect_retries: int
    ssh_connect_retry_min_delay: float
    ssh_connect_retry_max_delay: float
    ssh_file_transfer_protocol: str
    ssh_server_alive_interval: float
    ssh_server_alive_count_max: int


SSH_DATA_META: dict[str, DataMeta] = {
    "ssh_hostname": DataMeta(
        "SSH hostname or address (default: ssh_config HostName, else the host name)"
    ),
    "ssh_port": DataMeta("SSH port (default: ssh_config Port, else 22)"),
    "ssh_user": DataMeta("SSH user (default: ssh_config User, else the local user)"),
    "ssh_password": DataMeta("SSH password (also tried as the key passphrase)"),
    "ssh_key": DataMeta("SSH private key file (an OpenSSH certificate KEY-cert.pub is used too)"),
    "ssh_key_password": DataMeta("Passphrase of the SSH private key"),
    "ssh_allow_agent": DataMeta("Whether to use any active SSH agent", True),
    "ssh_look_for_keys": DataMeta("Whether to look for private keys in ~/.ssh", True),
    "ssh_forward_agent": DataMeta(
        "Forward the local SSH agent to the target (default: ssh_config ForwardAgent, else no)"
    ),
    "ssh_config_file": DataMeta("SSH config file to read (default: ~/.ssh/config)"),
    "ssh_known_hosts_file": DataMeta(
        "known_hosts file (default: ssh_config UserKnownHostsFile, else ~/.ssh/known_hosts)"
    ),
    "ssh_strict_host_key_checking": DataMeta(
        "Host key policy: yes (refuse unknown), accept-new (learn unknown, refuse changed), "
        "no/off (warn only) (default: ssh_config StrictHostKeyChecking, else accept-new)"
    ),
    "ssh_paramiko_connect_kwargs": DataMeta(
        "Extra keyword arguments for paramiko's SSHClient.connect, applied last"
    ),
    "ssh_connect_retries": DataMeta("Times to retry connecting after a network error", 0),
    "ssh_connect_retry_min_delay": DataMeta("Smallest delay between connect retries (s)", 0.1),
    "ssh_connect_retry_max_delay": DataMeta("Largest delay between connect retries (s)", 0.5),
    "ssh_file_transfer_protocol": DataMeta("File transfer protocol: sftp or scp", "sftp"),
    "ssh_server_alive_interval": DataMeta(
        "Seconds of silence from the server before it is asked for a sign of life; 0 never "
        f"asks (default: ssh_config ServerAliveInterval, else {DEFAULT_KEEPALIVE})"
    ),
    "ssh_server_alive_count_max": DataMeta(
        "Unanswered requests after which the connection counts as lost (default: "
        f"ssh_config ServerAliveCountMax, else {DEFAULT_KEEPALIVE_COUNT_MAX})"
    ),
}


@dataclass(frozen=True)
class SSHSettings:
    """Everything needed to open one SSH connection (data + ssh_config + defaults)."""

    name: str  # the inventory name, for messages
    hostname: str
    port: int
    user: str
    password: str | None = None
    key_filenames: tuple[str, ...] = ()
    required_keys: tuple[str, ...] = ()  # from ssh_key: a missing one is an error
    key_password: str | None = None
    allow_agent: bool = True
    look_for_keys: bool = True
    forward_agent: bool = False
    known_hosts_files: tuple[str, ...] = (DEFAULT_KNOWN_HOSTS_FILE,)
    strict_host_key_checking: str = "accept-new"
    connect_timeout: float = 10.0
    keepalive: float = DEFAULT_KEEPALIVE
    keepalive_count_max: int = DEFAULT_KEEPALIVE_COUNT_MAX
    proxy_jump: tuple[JumpHost, ...] = ()
    proxy_command: str | None = None
    retries: int = 0
    retry_min_delay: float = 0.1
    retry_max_delay: float = 0.5
    transfer_protocol: TransferProtocol = "sftp"
    config_file: str | None = None
    paramiko_kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def address(self) -> str:
        host = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        return f"{host}:{self.port}"


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def _expand(path: str) -> str:
    return os.path.expanduser(os.path.expandvars(path))


def resolve_settings(name: str, data: dict[str, Any], connect_timeout: float) -> SSHSettings:
    """Combine one host's connector data with its ssh_config block.

    ``data`` is the connector's typed data (``host_to_connector_data``); the ssh_config
    block is looked up by ``ssh_hostname`` when given, else by the host name.
    Raises ``InventoryError`` for invalid values.
    """
    lookup_name = data.get("ssh_hostname") or name
    config = lookup_ssh_config(lookup_name, data.get("ssh_config_file"))
    return settings_from(name, lookup_name, data, config, connect_timeout)


def settings_from(
    name: str,
    lookup_name: str,
    data: dict[str, Any],
    config: SSHHostConfig,
    connect_timeout: float,
) -> SSHSettings:
    protocol = str(data.get("ssh_file_transfer_protocol") or "sftp").lower()
    if protocol not in TRANSFER_PROTOCOLS:
        raise InventoryError(
            f"invalid ssh_file_transfer_protocol {data.get('ssh_file_transfer_protocol')!r}: "
            "use sftp or scp"
        )
    port = data.get("ssh_port") or config.port or 22
    if not 1 <= int(port) <= 65535:
        raise InventoryError(f"invalid ssh_port {port!r}: use a number from 1 to 65535")

    required: list[str] = []
    keys: list[str] = []
    if data.get("ssh_key"):
        required.append(_expand(str(data["ssh_key"])))
        keys.append(required[0])
    for path in config.identity_files or []:
        path = _expand(path)
        if path not in keys and os.path.isfile(path):
            keys.append(path)  # as OpenSSH: a missing IdentityFile is skipped

    identities_only = bool(config.identities_only)
    allow_agent = data.get("ssh_allow_agent")
    look_for_keys = data.get("ssh_look_for_keys")
    if identities_only and keys:
        # IdentitiesOnly: only the configured identities (unless the data says otherwise).
        look_for_keys = False if "ssh_look_for_keys" not in data else look_for_keys
        allow_agent = False if "ssh_allow_agent" not in data else allow_agent

    forward_agent = data.get("ssh_forward_agent")
    if forward_agent is None:
        forward_agent = bool(config.forward_agent)

    if data.get("ssh_known_hosts_file"):
        known_hosts: tuple[str, ...] = (_expand(str(data["ssh_known_hosts_file"])),)
    elif config.user_known_hosts_file is not None:
        known_hosts = tuple(_expand(p) for p in config.user_known_hosts_file)
    else:
        known_hosts = (_expand(DEFAULT_KNOWN_HOSTS_FILE),)

    strict = data.get("ssh_strict_host_key_checking")
    if strict is None:
        strict = config.strict_host_key_checking
    policy = normalise_policy(strict)

    retries = int(data.get("ssh_connect_retries") or 0)
    min_delay = float(data.get("ssh_connect_retry_min_delay") or 0.0)
    max_delay = float(data.get("ssh_connect_retry_max_delay") or 0.0)
    if retries < 0 or min_delay < 0 or max_delay < 0:
        raise InventoryError("ssh_connect_retries and the retry delays cannot be negative")
    max_delay = max(max_delay, min_delay)

    keepalive = _number(data, "ssh_server_alive_interval", config.server_alive_interval)
    count_max = _number(data, "ssh_server_alive_count_max", config.server_alive_count_max)
    kwargs = data.get("ssh_paramiko_connect_kwargs") or {}
    return SSHSettings(
        name=name,
        hostname=str(config.hostname or lookup_name),
        port=int(port),
        user=str(data.get("ssh_user") or config.user or _local_user()),
        password=data.get("ssh_password") or None,
        key_filenames=tuple(keys),
        required_keys=tuple(required),
        key_password=data.get("ssh_key_password") or None,
        allow_agent=bool(allow_agent),
        look_for_keys=bool(look_for_keys),
        forward_agent=bool(forward_agent),
        known_hosts_files=known_hosts,
        strict_host_key_checking=policy,
        connect_timeout=float(config.connect_timeout or connect_timeout),
        keepalive=DEFAULT_KEEPALIVE if keepalive is None else keepalive,
        keepalive_count_max=(
            DEFAULT_KEEPALIVE_COUNT_MAX if count_max is None else max(1, int(count_max))
        ),
        proxy_jump=tuple(config.proxy_jump or ()),
        proxy_command=config.proxy_command,
        retries=retries,
        retry_min_delay=min_delay,
        retry_max_delay=max_delay,
        transfer_protocol="scp" if protocol == "scp" else "sftp",
        config_file=data.get("ssh_config_file"),
        paramiko_kwargs=dict(kwargs),
    )


def _number(data: dict[str, Any], key: str, configured: float | None) -> float | None:
    """A non-negative number from the data (else ``configured``); ``InventoryError``
    for anything else."""
    value = data.get(key)
    if value is None:
        return configured
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if isinstance(value, bool) or number < 0:
        raise InventoryError(f"invalid {key} {value!r}: use a number of 0 or more")
    return number


def jump_settings(target: SSHSettings, hop: JumpHost) -> SSHSettings:
    """Settings for one ``ProxyJump`` hop: its own ssh_config block, the target's host-key
    policy and known_hosts, and the target's key as a fallback identity."""
    config = lookup_ssh_config(hop.host, target.config_file)
    keys = [_expand(p) for p in config.identity_files or [] if os.path.isfile(_expand(p))]
    for key in target.required_keys:
        if key not in keys:
            keys.append(key)
    base = SSHSettings(
        name=f"{target.name} (jump host {hop})",
        hostname=str(config.hostname or hop.host),
        port=int(hop.port or config.port or 22),
        user=str(hop.user or config.user or _local_user()),
    )
    return replace(
        base,
        key_filenames=tuple(keys),
        key_password=target.key_password,
        allow_agent=target.allow_agent,
        look_for_keys=target.look_for_keys,
        known_hosts_files=target.known_hosts_files,
        strict_host_key_checking=target.strict_host_key_checking,
        connect_timeout=float(config.connect_timeout or target.connect_timeout),
        keepalive=target.keepalive,
        keepalive_count_max=target.keepalive_count_max,
    )
