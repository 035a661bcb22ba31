"""Package files given by path or URL (``apt.deb``, ``dnf.rpm``...) and the download
that fetches them, repository files and keys onto the host (private)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.operations.util import fail


def is_url(src: str) -> bool:
    return src.startswith(("http://", "https://", "ftp://"))


def download(url: str, dest: str) -> StringCommand:
    """Fetch ``url`` to ``dest`` with curl, else wget (whichever the host has)."""
    u, d = QuoteString(url), QuoteString(dest)
    return StringCommand(
        "if", "command", "-v", "curl", ">/dev/null", "2>&1;", "then",
        "curl", "-fsSL", "-o", d, u, ";", "else", "wget", "-q", "-O", d, u, ";", "fi",
    )  # fmt: skip


def package_file(
    op: str, src: str, suffix: str, info_fact: type[Any], what: str
) -> Generator[Any, Any, str]:
    """The path of the package file ``src`` on the host: ``src`` itself, or for a URL a
    temporary file (``SUFFIX``: ``.deb``...) downloaded unless ``info_fact`` (the
    manager's read of a package file: ``deb.DebPackage``...) already reads it.
    ``what`` names the file in the error for a bad ``src`` ("a .deb file")."""
    if not isinstance(src, str) or not src.strip():
        raise fail(op, f"argument src must be a path or URL of {what}, got {src!r}")
    if not is_url(src):
        return src
    path: str = host.get_temp_filename(src) + suffix
    if host.get_fact(info_fact, package=path) is None:
        yield download(src, path)
        yield FactChange(facts=(info_fact,), paths=(path,))
    return path
