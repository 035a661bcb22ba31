"""The one shell command ``files.download`` runs on the host.

It downloads with curl (else wget) into a temporary file, checks every requested
checksum on that temporary file, sets owner and mode on it, and only then renames it
over the destination: a 404, a refused connection or a checksum mismatch leave the
destination as it was and remove the temporary file, with one line on stderr saying
what happened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pyinfra.api.command import MaskString, QuoteString, StringCommand
from pyinfra.facts.filecommands import hash_stdin_snippet, shell_path

_SECRET_HEADER = re.compile(r"auth|cookie|token|secret|key|password", re.IGNORECASE)
_OPTION = re.compile(r"^--?[A-Za-z0-9][A-Za-z0-9-]*$")
_WGET_ERRORS = {
    1: "generic error",
    2: "bad command line",
    3: "file I/O error",
    4: "network failure",
    5: "TLS verification failure",
    6: "authentication failure",
    7: "protocol error",
    8: "the server answered with an error (e.g. 404)",
}


@dataclass
class DownloadOptions:
    headers: dict[str, str] = field(default_factory=dict)
    insecure: bool = False
    proxy: str | None = None
    limit_rate: str | None = None
    extra_curl_args: dict[str, str] = field(default_factory=dict)
    extra_wget_args: dict[str, str] = field(default_factory=dict)


def check_extra_args(args: dict[str, Any], argument: str) -> str | None:
    """An error message if an extra argument is not a plain option name."""
    for key in args:
        if not isinstance(key, str) or not _OPTION.match(key):
            return f"argument {argument}: {key!r} is not an option name like --compressed"
    return None


def _extra(args: dict[str, str]) -> list[Any]:
    bits: list[Any] = []
    for key, value in args.items():
        bits.append(key)
        if value not in (None, ""):
            bits.append(QuoteString(str(value)))
    return bits


def _header(name: str, value: str) -> QuoteString:
    text = f"{name}: {value}"
    return QuoteString(MaskString(text) if _SECRET_HEADER.search(name) else text)


def shown_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages)."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _url(url: str) -> QuoteString:
    return QuoteString(MaskString(url) if shown_url(url) != url else url)


def _proxy(proxy: str) -> QuoteString:
    return QuoteString(MaskString(proxy) if "@" in proxy else proxy)


def curl_command(url: str, temp: str, options: DownloadOptions) -> StringCommand:
    bits: list[Any] = ["curl", "-sSLf"]
    if options.proxy:
        bits += ["--proxy", _proxy(options.proxy)]
    if options.insecure:
        bits.append("--insecure")
    if options.limit_rate:
        bits += ["--limit-rate", QuoteString(options.limit_rate)]
    for name, value in options.headers.items():
        bits += ["--header", _header(name, value)]
    bits += _extra(options.extra_curl_args)
    bits += ["-o", temp, "--", _url(url)]
    return StringCommand(*bits)


def wget_command(url: str, temp: str, options: DownloadOptions) -> StringCommand:
    bits: list[Any] = ["wget", "-q"]
    if options.proxy:
        bits += ["-e", "use_proxy=yes", "-e", StringCommand("http_proxy=", _proxy(options.proxy),
                 _separator=""), "-e", StringCommand("https_proxy=", _proxy(options.proxy),
                 _separator="")]  # fmt: skip
    if options.insecure:
        bits.append("--no-check-certificate")
    if options.limit_rate:
        bits += ["--limit-rate", QuoteString(options.limit_rate)]
    for name, value in options.headers.items():
        bits += ["--header", _header(name, value)]
    bits += _extra(options.extra_wget_args)
    bits += ["-O", temp, "--", _url(url)]
    return StringCommand(*bits)


def _wget_failure(url: str) -> StringCommand:
    """``why`` set from wget's exit status ``$rc``, then one line on stderr."""
    cases = " ".join(f"{code}) why='{meaning}';;" for code, meaning in _WGET_ERRORS.items())
    return StringCommand(
        f'case "$rc" in {cases} *) why="exit status $rc";; esac;',
        "echo", StringCommand('"wget: download of "', QuoteString(shown_url(url)), '": $why"',
                             _separator=""),
        ">&2;",
    )  # fmt: skip


def download_command(
    url: str,
    dest: str,
    temp: str,
    options: DownloadOptions,
    checksums: dict[str, str],
    ownership: list[StringCommand],
) -> StringCommand:
    """Download ``url`` to ``temp``, verify, apply ``ownership`` (commands on the
    temp file, written with ``"$t"``), rename to ``dest``; clean up on any failure."""
    fail = "pyi_fail"
    bits: list[Any] = [
        "(", StringCommand("t=", QuoteString(temp), _separator=""), ";",
        f"{fail}()", "{", 'rm -f "$t";', "exit", "1;", "};",
        "if", "command", "-v", "curl", ">/dev/null", "2>&1;", "then",
        curl_command(url, '"$t"', options), "||", fail, ";",
        "elif", "command", "-v", "wget", ">/dev/null", "2>&1;", "then",
        wget_command(url, '"$t"', options), "||", "{", "rc=$?;", _wget_failure(url), fail, ";",
        "};",
        "else", "echo", QuoteString("neither curl nor wget is installed on the host"), ">&2;",
        fail, ";", "fi;",
    ]  # fmt: skip
    for algorithm, expected in checksums.items():
        message = StringCommand(
            QuoteString(f"{algorithm} of {shown_url(url)} is "), '"$h"',
            QuoteString(f", expected {expected}: {dest} left as it was"), _separator=""
        )  # fmt: skip
        bits += [
            "h=$(", "(", hash_stdin_snippet(algorithm), ")", '<"$t"', ")", "||", fail, ";",
            'h="${h%% *}";', "[", '"$h"', "=", QuoteString(expected.lower()), "]", "||",
            "{", "echo", message, ">&2;", fail, ";", "};",
        ]  # fmt: skip
    for command in ownership:
        bits += [command, "||", fail, ";"]
    bits += ["mv", "-f", '"$t"', shell_path(dest), "||", fail, ";", ")"]
    return StringCommand(*bits)
