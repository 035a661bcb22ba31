"""Facts about GPG keys and keyrings on the host (all need ``gpg``).

Keys are read from ``gpg --with-colons`` output and returned as
``{KEY-ID: {"validity", "length", "fingerprint"?, "uid"?, "uid_hash"?, "subkeys":
{SUB-ID: {"validity", "length", "fingerprint"?}}}}``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactBase
from pyinfra.facts.filecommands import shell_path


def parse_colons(
    output: list[str], key_type: str = "pub", subkey_type: str = "sub"
) -> dict[str, dict[str, Any]]:
    """Keys from ``gpg --with-colons`` lines (``pub``/``sub`` or ``sec``/``ssb``)."""
    keys: dict[str, dict[str, Any]] = {}
    key: dict[str, Any] | None = None
    subkey: dict[str, Any] | None = None
    for line in output:
        fields = line.split(":")
        record = fields[0]
        if record in (key_type, subkey_type) and len(fields) > 4:
            entry: dict[str, Any] = {"validity": fields[1], "length": int(fields[2] or 0)}
            if record == key_type:
                key = {**entry, "subkeys": {}}
                keys[fields[4]] = key
                subkey = None
            elif key is not None:
                subkey = entry
                key["subkeys"][fields[4]] = subkey
            continue
        target = subkey if subkey is not None else key
        if target is None:
            continue
        if record == "fpr" and len(fields) > 9:
            target["fingerprint"] = fields[9]
        elif record == "uid" and len(fields) > 9:
            target["uid_hash"] = fields[7]
            target["uid"] = fields[9]
    return keys


class _GpgFact(FactBase[Any]):
    abstract = True
    key_type = "pub"
    subkey_type = "sub"

    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "gpg"

    def process(self, output: list[str]) -> Any:
        return parse_colons(output, self.key_type, self.subkey_type)


class GpgKey(_GpgFact):
    """The keys in a key file on the host, or at a URL (fetched by the host with
    wget or curl)."""

    def command(self, src: str) -> StringCommand:
        if urlparse(src).scheme:
            quoted = QuoteString(src)
            return StringCommand(
                "(", "wget", "-q", "-O", "-", quoted, "2>/dev/null", "||", "curl", "-sSLf", quoted,
                ")", "|", "gpg", "--with-colons",
            )  # fmt: skip
        return StringCommand("gpg", "--with-colons", shell_path(src))


def _keyring_args(keyring: str | None) -> list[Any]:
    return ["--keyring", shell_path(keyring), "--no-default-keyring"] if keyring else []


class GpgKeys(_GpgFact):
    """The public keys of the user's keyring (or of ``keyring``)."""

    def command(self, keyring: str | None = None) -> StringCommand:
        return StringCommand("gpg", "--list-keys", "--with-colons", *_keyring_args(keyring))


class GpgSecretKeys(_GpgFact):
    """The secret keys of the user's keyring (or of ``keyring``)."""

    key_type = "sec"
    subkey_type = "ssb"

    def command(self, keyring: str | None = None) -> StringCommand:
        return StringCommand("gpg", "--list-secret-keys", "--with-colons", *_keyring_args(keyring))


_KEYRING_MARK = "KEYRING:"


class GpgKeyrings(_GpgFact):
    """Every keyring (``*.gpg``, ``*.kbx``, ``*.asc``) under ``directories``:
    ``{path: {"format": "gpg"|"kbx"|"asc", "keys": {...}}}`` (keyrings gpg cannot
    read are left out)."""

    def command(self, directories: str | list[str]) -> StringCommand:
        if isinstance(directories, str):
            directories = [directories]
        where = [shell_path(d) for d in directories]
        list_keys = (
            'echo "KEYRING:$1"; gpg --list-keys --with-colons --keyring "$1" '
            "--no-default-keyring 2>/dev/null || true"
        )
        show_file = 'echo "KEYRING:$1"; gpg --with-colons "$1" 2>/dev/null || true'
        return StringCommand(
            "find", *where, "-type", "f", "'('", "-name", "'*.gpg'", "-o", "-name", "'*.kbx'",
            "')'",
            "-exec", "sh", "-c", QuoteString(list_keys), "_", "{}", "';'", "2>/dev/null;",
            "find", *where, "-type", "f", "-name", "'*.asc'",
            "-exec", "sh", "-c", QuoteString(show_file), "_", "{}", "';'", "2>/dev/null;", "true",
        )  # fmt: skip

    def process(self, output: list[str]) -> dict[str, dict[str, Any]]:
        keyrings: dict[str, dict[str, Any]] = {}
        name: str | None = None
        lines: list[str] = []

        def flush() -> None:
            if name and lines:
                keyrings[name] = {
                    "format": name.rsplit(".", 1)[-1].lower(),
                    "keys": parse_colons(lines),
                }

        for raw in output:
            line = raw.strip()
            if not line:
                continue
            if line.startswith(_KEYRING_MARK):
                flush()
                name, lines = line[len(_KEYRING_MARK) :], []
            else:
                lines.append(line)
        flush()
        return keyrings


class DearmoredSha256(FactBase["str | None"]):
    """SHA-256 of what ``gpg --dearmor`` makes of ``src`` (``None`` if it is missing),
    so ``gpg.dearmor`` knows whether ``dest`` is already that."""

    requires_command = "gpg"

    def command(self, src: str) -> StringCommand:
        quoted = shell_path(src)
        return StringCommand(
            "if", "[", "-f", quoted, "];", "then", "gpg", "--batch", "--dearmor", "<", quoted,
            "|", "sha256sum", ";", "fi",
        )  # fmt: skip

    def process(self, output: list[str]) -> str | None:
        token = output[0].split()[0] if output and output[0].split() else ""
        return token if len(token) == 64 else None
