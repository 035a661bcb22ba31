"""Turn a built shell command line into an argv without adding a shell when possible.

``build_unix_command`` produces lines like ``sh -c '...'`` or ``sudo -H -n sh -c '...'``:
plain words and single-quoted strings. Such a line is split into its argv directly, so
a wrapper (``docker exec``, ``chroot``) runs exactly one shell; anything else (a raw
command with ``_shell_executable=None``) is given to ``sh -c``.
"""

from __future__ import annotations

import re
import shlex

_WORD = r"""(?:[A-Za-z0-9_@%+=:,./-]+|'[^']*'|"'")+"""
_SIMPLE = re.compile(rf"{_WORD}(?: {_WORD})*")
_SAFE_ARGV0 = re.compile(r"[A-Za-z0-9_./-]+")


def command_argv(command: str) -> list[str]:
    """The argv that runs ``command``: split directly when it is a simple word list
    (``sh -c '...'``, ``sudo -H -n sh -c '...'``), else ``["sh", "-c", command]``."""
    if _SIMPLE.fullmatch(command):
        argv = shlex.split(command)
        if argv and _SAFE_ARGV0.fullmatch(argv[0]):
            return argv
    return ["sh", "-c", command]
