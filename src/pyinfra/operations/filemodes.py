"""File modes given to the files operations: octal (``644``, ``"0755"``) or symbolic
(``"u+x"``, ``"go-w"``, ``"a=rX,u+w"``) as chmod(1) takes them.

A symbolic mode is applied to the path's current mode here, in Python, so an
operation knows whether ``chmod`` would change anything (a second run reports no
change) and what the mode will be (dry-run predictions). A clause without ``u``/``g``/
``o``/``a`` is taken as ``a`` (chmod also masks it with the umask; the difference can
only make an operation run ``chmod`` when it was not needed, never skip one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pyinfra.operations.util import fail, parse_mode

_CLAUSE = re.compile(r"^([ugoa]*)((?:[-+=](?:[rwxXst]*|[ugo]))+)$")
_ACTION = re.compile(r"([-+=])([ugo]|[rwxXst]*)")
_WHO_BITS = {"u": 0o4700, "g": 0o2070, "o": 0o1007}  # each class's rwx + its special bit
_SHIFT = {"u": 6, "g": 3, "o": 0}


@dataclass(frozen=True)
class SymbolicMode:
    """A validated symbolic mode (``text`` is what chmod gets)."""

    text: str

    def apply(self, current: int, is_dir: bool) -> int:
        """The mode bits chmod would leave on a path whose mode is ``current``."""
        mode = current & 0o7777
        for clause in self.text.split(","):
            match = _CLAUSE.match(clause)
            assert match is not None  # validated in parse_file_mode
            who = match.group(1) or "a"
            classes = "ugo" if "a" in who else "".join(c for c in "ugo" if c in who)
            for operator, perms in _ACTION.findall(match.group(2)):
                bits = 0
                for cls in classes:
                    bits |= self._bits(cls, perms, mode, is_dir)
                mask = 0
                for cls in classes:
                    mask |= _WHO_BITS[cls]
                if operator == "+":
                    mode |= bits
                elif operator == "-":
                    mode &= ~bits
                else:
                    mode = (mode & ~mask) | bits
        return mode

    @staticmethod
    def _bits(cls: str, perms: str, mode: int, is_dir: bool) -> int:
        shift = _SHIFT[cls]
        if perms in ("u", "g", "o"):  # copy another class's rwx
            source = (mode >> _SHIFT[perms]) & 0o7
            return source << shift
        bits = 0
        for perm in perms:
            if perm == "r":
                bits |= 0o4 << shift
            elif perm == "w":
                bits |= 0o2 << shift
            elif perm == "x" or (perm == "X" and (is_dir or mode & 0o111)):
                bits |= 0o1 << shift
            elif perm == "s" and cls in ("u", "g"):
                bits |= 0o4000 if cls == "u" else 0o2000
            elif perm == "t" and cls == "o":
                bits |= 0o1000
        return bits


FileMode = str | SymbolicMode  # octal digits ("644") or a symbolic mode


def parse_file_mode(op: str, mode: Any, argument: str = "mode") -> FileMode | None:
    """``644``, ``"0644"``, ``"0o644"`` -> ``"644"``; ``"u+x,go-w"`` -> ``SymbolicMode``.

    Integers are read as their digits (``mode=644`` means ``0o644``), as in pyinfra.
    """
    text = str(mode).strip().removeprefix("0o")
    if mode is None or isinstance(mode, bool) or text.isdigit():
        return parse_mode(op, mode, argument)
    clauses = text.split(",")
    if not text or not all(_CLAUSE.match(clause) for clause in clauses):
        raise fail(
            op,
            f"argument {argument} must be an octal mode like 644, got {mode!r} "
            "(symbolic modes like u+x or go-w work too)",
        )
    return SymbolicMode(text)


def mode_digits(mode: FileMode, current: Any, is_dir: bool) -> str:
    """The octal digits ``mode`` gives a path whose current mode (a fact's ``mode``,
    like ``644``) is ``current``; new paths are taken as 644 (files) / 755 (dirs)."""
    if isinstance(mode, str):
        return mode
    try:
        base = int(str(current), 8)
    except ValueError:
        base = 0o755 if is_dir else 0o644
    return oct(mode.apply(base, is_dir))[2:]


def mode_text(mode: FileMode) -> str:
    """What ``chmod`` gets."""
    return mode if isinstance(mode, str) else mode.text
