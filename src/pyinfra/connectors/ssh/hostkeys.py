"""Host-key checking for the paramiko-based SSH connector.

How it fits paramiko: :func:`load_host_keys` reads the known_hosts files itself (plain
and hashed names, ``[host]:port`` for other ports; cached per file) and adds the target
host's keys to ``client.get_host_keys()``, and :class:`HostKeyPolicy` is installed as
the missing-host-key policy. Nothing is ever saved back through paramiko. During
``SSHClient.connect`` paramiko then:

* prefers the key type already known for the host when negotiating, and raises
  ``paramiko.BadHostKeyException`` when the server's key differs from the known one
  (same type, or the only types known) -- turn that into our :class:`HostKeyError`,
  with both fingerprints and the known_hosts line to fix, with
  :meth:`HostKeyPolicy.changed_key_error`;
* calls :meth:`HostKeyPolicy.missing_host_key` only when the host is not known at all;
  the policy then refuses (``yes``/``ask``), learns (``accept-new``: the key is
  *appended* to the first known_hosts file, never rewriting it) or accepts with a
  warning (``no``/``off``, nothing written).

A changed key always fails, whatever the policy. Typical use::

    policy = HostKeyPolicy("accept-new", ["~/.ssh/known_hosts"])
    policy.attach(client, hostname, port)
    try:
        client.connect(hostname, port, ...)
    except paramiko.BadHostKeyException as exc:
        raise policy.changed_key_error(exc, port) from None
"""

from __future__ import annotations

import base64
import binascii
import errno
import fcntl
import hashlib
import hmac
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import paramiko

from pyinfra.api.exceptions import HostKeyError, InventoryError

__all__ = [
    "DEFAULT_KNOWN_HOSTS_FILE",
    "GLOBAL_KNOWN_HOSTS_FILES",
    "HostKeyPolicy",
    "HostKeyPolicyName",
    "KnownHostEntry",
    "append_known_host",
    "find_known_host_entries",
    "fingerprint",
    "known_hosts_name",
    "load_host_keys",
    "normalise_policy",
    "translate_bad_host_key",
]

logger = logging.getLogger("pyinfra")

HostKeyPolicyName = Literal["yes", "accept-new", "no", "ask"]

DEFAULT_KNOWN_HOSTS_FILE = "~/.ssh/known_hosts"
GLOBAL_KNOWN_HOSTS_FILES: tuple[str, ...] = (
    "/etc/ssh/ssh_known_hosts",
    "/etc/ssh/ssh_known_hosts2",
)

# StrictHostKeyChecking values (ssh_config's and ours) -> the policy they mean.
POLICY_NAMES: dict[str, HostKeyPolicyName] = {
    "yes": "yes",
    "true": "yes",
    "accept-new": "accept-new",
    "no": "no",
    "off": "no",
    "false": "no",
    "ask": "ask",
}

# One lock for every append in this process (appends are rare); ``flock`` covers other
# processes appending to the same file.
_append_lock = threading.Lock()


def normalise_policy(value: object) -> HostKeyPolicyName:
    """``ssh_strict_host_key_checking`` data -> ``yes``/``accept-new``/``no``/``ask``.

    None means the default (``accept-new``); booleans map to ``yes``/``no``; ``off``
    is ``no``. Anything else raises ``InventoryError``.
    """
    if value is None:
        return "accept-new"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value.strip().lower() in POLICY_NAMES:
        return POLICY_NAMES[value.strip().lower()]
    raise InventoryError(
        f"invalid ssh_strict_host_key_checking {value!r}: use yes, accept-new, no or off"
    )


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style fingerprint: ``SHA256:`` + unpadded base64 of the key blob digest."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def known_hosts_name(hostname: str, port: int = 22) -> str:
    """The name a host has in known_hosts: ``host`` on port 22, else ``[host]:port``."""
    return hostname if port == 22 else f"[{hostname}]:{port}"


def _split_name(name: str) -> tuple[str, int]:
    if name.startswith("[") and "]:" in name:
        host, _, port = name[1:].rpartition("]:")
        if port.isdigit():
            return host, int(port)
    return name, 22


@dataclass(frozen=True)
class KnownHostEntry:
    """One known_hosts line (``hosts`` is its first field: names, patterns or hashes)."""

    file: str
    line: int
    key_type: str
    key_base64: str
    hosts: str = ""

    @property
    def fingerprint(self) -> str:
        try:
            blob = base64.b64decode(self.key_base64, validate=True)
        except (binascii.Error, ValueError):
            return "(unreadable key)"
        return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")

    def names(self, name: str) -> bool:
        """Whether this line is for ``name`` (a :func:`known_hosts_name`), plain or hashed."""
        lowered = name.lower()
        for item in self.hosts.split(","):
            if item.startswith("|1|"):
                try:
                    _, _, salt_b64, hash_b64 = item.split("|")
                    salt = base64.b64decode(salt_b64)
                    expected = base64.b64decode(hash_b64)
                except (ValueError, binascii.Error):
                    continue
                digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
                if hmac.compare_digest(digest, expected):
                    return True
            elif item.lower() == lowered:
                return True
        return False

    def to_pkey(self) -> paramiko.PKey | None:
        """The key as a paramiko ``PKey``; None when paramiko cannot read it."""
        try:
            blob = base64.b64decode(self.key_base64, validate=True)
            return paramiko.PKey.from_type_string(self.key_type, blob)
        except Exception:  # unknown key types, corrupt data: skip the line
            return None


def _parse_entries(path: str, text: str) -> list[KnownHostEntry]:
    entries: list[KnownHostEntry] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if len(fields) < 3 or fields[0].startswith("#") or fields[0].startswith("@"):
            continue  # blank, comment, @cert-authority / @revoked markers (not supported)
        entries.append(KnownHostEntry(path, lineno, fields[1], fields[2], fields[0]))
    return entries


# Parsed known_hosts files, keyed by path and validated by (inode, size, mtime).
_cache_lock = threading.Lock()
_cache: dict[str, tuple[tuple[int, int, int], list[KnownHostEntry]]] = {}


def _read_entries(path: str) -> list[KnownHostEntry]:
    """Every entry of one known_hosts file; ``OSError`` propagates."""
    with open(path, "rb") as handle:
        stat = os.fstat(handle.fileno())
        stamp = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        with _cache_lock:
            cached = _cache.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        entries = _parse_entries(path, handle.read().decode("utf-8", errors="replace"))
    with _cache_lock:
        _cache[path] = (stamp, entries)
    return entries


def find_known_host_entries(name: str, known_hosts_files: Sequence[str]) -> list[KnownHostEntry]:
    """Every line of the files that names ``name`` (a :func:`known_hosts_name`), plain or
    hashed. Missing or unreadable files are skipped."""
    found: list[KnownHostEntry] = []
    for file in known_hosts_files:
        try:
            entries = _read_entries(os.path.expanduser(file))
        except OSError:
            continue
        found.extend(entry for entry in entries if entry.names(name))
    return found


def load_host_keys(
    client: paramiko.SSHClient,
    known_hosts_files: Sequence[str],
    *,
    hostname: str | None = None,
    port: int = 22,
    global_files: Sequence[str] = GLOBAL_KNOWN_HOSTS_FILES,
) -> list[str]:
    """Load known host keys into ``client.get_host_keys()`` (paramiko checks them during
    ``connect``; never call ``client.save_host_keys``/``load_host_keys`` on that client).

    With ``hostname`` only that host's keys (under :func:`known_hosts_name`) are loaded,
    which keeps paramiko's linear lookups cheap; files are parsed once per change.
    Lines paramiko cannot read (corrupt, unknown key types, markers) are skipped, where
    paramiko's own loader would give up on the whole file. Missing files are skipped,
    unreadable ones with a warning. Returns the files read.
    """
    store = client.get_host_keys()
    target = known_hosts_name(hostname, port) if hostname is not None else None
    seen: set[tuple[str, str]] = set()
    loaded: list[str] = []
    for file in [*known_hosts_files, *global_files]:
        path = os.path.expanduser(file)
        if path in loaded:
            continue
        try:
            entries = _read_entries(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            logger.warning("Ignoring known_hosts file %s: %s", path, exc.strerror or exc)
            continue
        loaded.append(path)
        for entry in entries:
            if target is not None and not entry.names(target):
                continue
            names = [target] if target is not None else entry.hosts.split(",")
            key = None
            for name in names:
                if (name, entry.key_type) in seen:
                    continue  # the first line for a host and key type wins, as in paramiko
                key = key or entry.to_pkey()
                if key is None:
                    break
                seen.add((name, entry.key_type))
                store.add(name, key.get_name(), key)
    return loaded


def _create_private_dirs(directory: str) -> None:
    """Create ``directory`` (and missing parents), each new one with mode 700."""
    if not directory or os.path.isdir(directory):
        return
    _create_private_dirs(os.path.dirname(directory))
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        return
    os.chmod(directory, 0o700)


def append_known_host(path: str, name: str, key: paramiko.PKey) -> bool:
    """Append ``name key-type base64`` to the known_hosts file ``path`` (created with mode
    600, its directory 700, when missing). Only ever appends; thread- and process-safe.

    Returns False when the exact key was already there. Raises ``HostKeyError`` when the
    file meanwhile got a different key of the same type for ``name``.
    """
    path = os.path.expanduser(path)
    line = f"{name} {key.get_name()} {key.get_base64()}\n"
    with _append_lock:
        _create_private_dirs(os.path.dirname(os.path.abspath(path)))
        existed = os.path.exists(path)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            if not existed:
                os.fchmod(fd, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            with open(path, "rb") as reader:
                content = reader.read()
            text = content.decode("utf-8", errors="replace")
            for entry in _parse_entries(path, text):
                if not entry.names(name) or entry.key_type != key.get_name():
                    continue
                if entry.key_base64 == key.get_base64():
                    return False
                raise _changed_error(name, key, entry)
            data = line.encode()
            if content and not content.endswith(b"\n"):
                data = b"\n" + data
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(errno.EIO, f"short write to {path}")
            return True
        finally:
            os.close(fd)  # also releases the flock


def _changed_error(
    name: str, key: paramiko.PKey, old: KnownHostEntry, old_fingerprint: str | None = None
) -> HostKeyError:
    """One line: host, old and new key types and fingerprints, and the line to fix."""
    host, port = _split_name(name)
    known = f"{old.key_type} {old_fingerprint or old.fingerprint}"
    if old.line > 0:
        quoted = host if port == 22 else f"'[{host}]:{port}'"
        known += f" ({old.file} line {old.line})"
        fix = f"remove line {old.line} of {old.file} (ssh-keygen -R {quoted} -f {old.file})"
    else:
        fix = "remove the old key from your known_hosts files"
    return HostKeyError(
        f"Host key for {name} has CHANGED (possible man-in-the-middle attack): known {known},"
        f" server sent {key.get_name()} {fingerprint(key)}; if the change is expected, {fix}"
        " and reconnect"
    )


def translate_bad_host_key(
    exc: paramiko.BadHostKeyException,
    port: int = 22,
    known_hosts_files: Sequence[str] = (DEFAULT_KNOWN_HOSTS_FILE, *GLOBAL_KNOWN_HOSTS_FILES),
) -> HostKeyError:
    """A ``HostKeyError`` for paramiko's changed-key exception: host, key types, old and
    new fingerprints and the known_hosts file and line to fix."""
    name = known_hosts_name(str(exc.hostname), port)
    got: paramiko.PKey = exc.key
    expected: paramiko.PKey = exc.expected_key
    entries = find_known_host_entries(name, known_hosts_files)
    exact = [
        entry
        for entry in entries
        if entry.key_type == expected.get_name() and entry.key_base64 == expected.get_base64()
    ]
    same_type = [entry for entry in entries if entry.key_type == got.get_name()]
    candidates = exact or same_type or entries
    if candidates:
        return _changed_error(name, got, candidates[0])
    # Not in the files (e.g. only added in memory): report the key paramiko expected.
    old = KnownHostEntry("", 0, expected.get_name(), expected.get_base64())
    return _changed_error(name, got, old, fingerprint(expected))


class HostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """Host-key policy ``yes`` / ``accept-new`` / ``no`` (``off``) / ``ask`` (= ``yes``:
    pyinfra cannot prompt) for hosts missing from the known_hosts files.

    ``known_hosts_files`` None means ``~/.ssh/known_hosts``; ``[]`` means none (nothing is
    loaded and ``accept-new`` cannot record keys: it accepts them with a warning). New keys
    are appended to the first file.
    """

    def __init__(
        self,
        policy: object = "accept-new",
        known_hosts_files: Sequence[str] | None = None,
        *,
        global_known_hosts_files: Sequence[str] = GLOBAL_KNOWN_HOSTS_FILES,
    ) -> None:
        self.policy: HostKeyPolicyName = normalise_policy(policy)
        files = [DEFAULT_KNOWN_HOSTS_FILE] if known_hosts_files is None else known_hosts_files
        self.known_hosts_files: list[str] = [os.path.expanduser(file) for file in files]
        self.global_known_hosts_files: list[str] = list(global_known_hosts_files)

    def attach(
        self, client: paramiko.SSHClient, hostname: str | None = None, port: int = 22
    ) -> list[str]:
        """Load the known keys of ``hostname``:``port`` (None: every host) into ``client``
        and install this policy; returns the files read."""
        loaded = load_host_keys(
            client,
            self.known_hosts_files,
            hostname=hostname,
            port=port,
            global_files=self.global_known_hosts_files,
        )
        client.set_missing_host_key_policy(self)
        return loaded

    def changed_key_error(self, exc: paramiko.BadHostKeyException, port: int = 22) -> HostKeyError:
        """Translate paramiko's changed-key exception (see :func:`translate_bad_host_key`)."""
        return translate_bad_host_key(
            exc, port, [*self.known_hosts_files, *self.global_known_hosts_files]
        )

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        """Called by paramiko (``hostname`` is already ``[host]:port`` for other ports)."""
        description = f"{key.get_name()} {fingerprint(key)}"
        if self.policy in ("yes", "ask"):
            host, port = _split_name(hostname)
            target = self.known_hosts_files[0] if self.known_hosts_files else "~/.ssh/known_hosts"
            keyscan = f"ssh-keyscan -t {key.get_name()}" + (f" -p {port}" if port != 22 else "")
            raise HostKeyError(
                f"Host key for {hostname} is unknown ({description}) and"
                f" ssh_strict_host_key_checking={self.policy} refuses unknown hosts: verify the"
                f" fingerprint, then add it ({keyscan} {host} >> {target})"
                " or connect once with ssh_strict_host_key_checking=accept-new"
            )
        if self.policy == "no":
            logger.warning(
                "Accepting unknown host key for %s (%s) without checking"
                " (ssh_strict_host_key_checking=no)",
                hostname,
                description,
            )
        elif not self.known_hosts_files:
            logger.warning(
                "Accepting new host key for %s (%s); not recorded: no known_hosts file",
                hostname,
                description,
            )
        else:
            path = self.known_hosts_files[0]
            try:
                added = append_known_host(path, hostname, key)
            except OSError as exc:
                raise HostKeyError(
                    f"Cannot record the new host key for {hostname} ({description}) in {path}:"
                    f" {exc.strerror or exc}; fix the file's permissions or set"
                    " ssh_known_hosts_file"
                ) from None
            if added:
                logger.info("Added host key for %s (%s) to %s", hostname, description, path)
        client.get_host_keys().add(hostname, key.get_name(), key)
