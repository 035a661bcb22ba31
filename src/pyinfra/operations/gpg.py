"""GPG keys and keyrings on the host (APT keyrings, vendor keys...)."""

from __future__ import annotations

import posixpath
from collections.abc import Generator
from typing import Any
from urllib.parse import urlparse

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.filecommands import shell_path
from pyinfra.facts.files import File, Sha256File
from pyinfra.facts.gpg import DearmoredSha256, GpgKeyrings
from pyinfra.operations import files
from pyinfra.operations.util import check_path, fail

Commands = Generator[Any, Any, None]


def _clean_id(keyid: str) -> str:
    return keyid.replace("0x", "").replace("0X", "").upper()


def _matches(existing: str, wanted: str) -> bool:
    """A key id in a keyring matches a wanted short id, long id or fingerprint."""
    have = existing.upper()
    return have == wanted or have.endswith(wanted) or wanted.endswith(have)


def _ids(keyid: str | list[str] | None) -> list[str]:
    return [keyid] if isinstance(keyid, str) else list(keyid or [])


def _install_from_file(src: str, dest: str, dearmor: bool) -> StringCommand:
    """Copy (dearmoring an ASCII-armored key) ``src`` to ``dest`` atomically."""
    temp = f"{dest}.pyinfra-new"
    if dearmor:
        body: list[Any] = [
            "if", "grep", "-q", "'BEGIN PGP PUBLIC KEY BLOCK'", shell_path(src), ";", "then",
            "gpg", "--batch", "--yes", "--dearmor", "-o", shell_path(temp), shell_path(src), ";",
            "else", "cp", shell_path(src), shell_path(temp), ";", "fi",
        ]  # fmt: skip
    else:
        body = ["cp", shell_path(src), shell_path(temp)]
    return StringCommand(
        "(", "{", *body, ";", "}", "&&", "mv", "-f", shell_path(temp), shell_path(dest), "||",
        "{", "rm", "-f", shell_path(temp), ";", "exit", "1;", "}", ")",
    )  # fmt: skip


def _delete_keys(keyring: str, fingerprints: list[str]) -> StringCommand:
    quoted = shell_path(keyring)
    return StringCommand(
        "gpg", "--batch", "--yes", "--no-default-keyring", "--keyring", quoted, "--delete-keys",
        *[QuoteString(f) for f in fingerprints], "&&", "{", "gpg", "--batch",
        "--no-default-keyring", "--keyring", quoted, "--list-keys", "2>/dev/null", "|",
        "grep", "-q", "'^pub'", "||", "rm", "-f", quoted, ";", "}",
    )  # fmt: skip


def _remove_from(keyring: str, data: dict[str, Any], wanted: list[str]) -> Commands:
    keys: dict[str, Any] = data.get("keys", {})
    remove: list[str] = []
    for kid in wanted:
        for existing, info in keys.items():
            if _matches(existing, kid):
                fingerprint = info.get("fingerprint", existing)
                if fingerprint not in remove:
                    remove.append(fingerprint)
    if not remove:
        return
    if data.get("format") == "asc":
        if len(remove) < len(keys):
            raise fail(
                "gpg.key",
                f"cannot remove single keys from the armored keyring {keyring}: it holds other "
                "keys; remove the whole file (dest=..., present=False without keyid)",
            )
        yield from files.file._inner(path=keyring, present=False)
        return
    yield _delete_keys(keyring, remove)
    yield FactChange(paths=(keyring,), facts=(GpgKeyrings,))


@operation()
def key(
    src: str | None = None,
    dest: str | None = None,
    keyserver: str | None = None,
    keyid: str | list[str] | None = None,
    dearmor: bool = True,
    mode: str = "0644",
    present: bool = True,
    working_dirs: list[str] | None = None,
) -> Commands:
    """Install a key file (``src``: a path on the host or an http(s) URL; ASCII-armored
    keys are dearmored) or keys from a ``keyserver`` (``keyid``) as ``dest``; or remove
    (``present=False``) the file ``dest``, or the keys ``keyid`` from ``dest`` or from
    every keyring under ``working_dirs``."""
    op = "gpg.key"
    wanted = [_clean_id(k) for k in _ids(keyid)]
    if not present:
        if dest is None and not (wanted and working_dirs):
            raise fail(op, "to remove keys give dest, or keyid and working_dirs")
        if dest is None:
            assert working_dirs is not None
            rings = host.get_fact(GpgKeyrings, directories=list(working_dirs)) or {}
            for ring, data in rings.items():
                yield from _remove_from(ring, data, wanted)
            return
        check_path(op, dest, "dest")
        if not wanted:
            yield from files.file._inner(path=dest, present=False)
            return
        rings = host.get_fact(GpgKeyrings, directories=[posixpath.dirname(dest) or "."]) or {}
        if dest in rings:
            yield from _remove_from(dest, rings[dest], wanted)
        return
    if not src and not keyserver:
        raise fail(op, "give src (a key file or URL) or keyserver and keyid to install a key")
    if keyserver and not wanted:
        raise fail(op, "argument keyid is required with keyserver")
    if dest is None:
        raise fail(op, "argument dest is required to install a key")
    check_path(op, dest, "dest")
    if wanted:
        rings = host.get_fact(GpgKeyrings, directories=[posixpath.dirname(dest) or "."]) or {}
        have = rings.get(dest, {}).get("keys", {})
        if all(any(_matches(existing, kid) for existing in have) for kid in wanted):
            yield from files.file._inner(path=dest, mode=mode)
            return
    elif host.get_fact(File, path=dest):
        yield from files.file._inner(path=dest, mode=mode)
        return
    yield from files.directory._inner(path=posixpath.dirname(dest) or ".", mode="0755")
    if src and urlparse(src).scheme in ("http", "https", "ftp"):
        temp = host.get_temp_filename(src)
        yield from files.download._inner(src=src, dest=temp)
        yield _install_from_file(temp, dest, dearmor)
        yield StringCommand("rm", "-f", shell_path(temp))
    elif src:
        yield _install_from_file(src, dest, dearmor)
    if keyserver:
        home = host.get_temp_filename()
        ids = [QuoteString(k) for k in wanted]
        yield StringCommand(
            "(", "umask", "077", "&&", "mkdir", "-p", shell_path(home), "&&",
            StringCommand("GNUPGHOME=", shell_path(home), _separator=""), "&&", "export",
            "GNUPGHOME", "&&", "gpg", "--batch", "--quiet", "--keyserver", QuoteString(keyserver),
            "--recv-keys", *ids, "&&", "gpg", "--batch", "--export", *ids, ">", shell_path(dest),
            ";", "rc=$?;", "rm", "-rf", shell_path(home), ";", "exit", "$rc", ")",
        )  # fmt: skip
    yield FactChange(paths=(dest,), facts=(GpgKeyrings,))
    yield from files.file._inner(path=dest, mode=mode)


@operation()
def dearmor(src: str, dest: str, mode: str = "0644") -> Commands:
    """Write the binary form of the ASCII-armored key ``src`` to ``dest`` (both on the
    host), unless ``dest`` already holds exactly that."""
    op = "gpg.dearmor"
    check_path(op, src, "src")
    check_path(op, dest, "dest")
    wanted = host.get_fact(DearmoredSha256, src=src)
    if wanted is None:
        raise fail(op, f"{src} does not exist on the host (argument src)")
    yield from files.directory._inner(path=posixpath.dirname(dest) or ".", mode="0755")
    if host.get_fact(Sha256File, path=dest) != wanted:
        yield _install_from_file(src, dest, True)
        yield FactChange(paths=(dest,), known=((Sha256File, {"path": dest}, wanted),))
    yield from files.file._inner(path=dest, mode=mode)
