"""Text edits made on the host: ``files.line``, ``files.replace`` and ``files.block``.

The file is never transferred. The operation reads only the lines it needs (grep on
the host), decides in Python, and the edit is one shell command: ``sed`` (line and
replace: the same POSIX regular expressions grep matched with) or ``awk`` (blocks)
writes a temporary copy next to the file (``cp -p``: same mode and owner), which is
then renamed over it, so readers see the old or the new file, never half of one.

A Python model of ``sed s///`` (:func:`emulate_substitution`) lets ``files.replace``
see that a substitution would leave every matching line unchanged (e.g. replacing
``colou?r`` by ``colour``), so a second run reports no change.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.facts.filecommands import shell_path
from pyinfra.facts.files import interpolated

# Characters that are special in a basic regular expression (escape_regex_characters).
_BRE_SPECIAL = re.compile(r"([.\\+*?\[\^\]$(){}\-])")
_DELIMITERS = "/|#%@,~!:;"


def adjust_regex(line: str, escape: bool) -> str:
    """The pattern ``files.line`` matches whole lines with: ``^.*LINE.*$`` unless the
    user anchored it (``escape``: regex characters in ``line`` are literal)."""
    pattern = _BRE_SPECIAL.sub(r"\\\1", line) if escape else line
    if not pattern.startswith("^"):
        pattern = "^.*" + pattern
    if not pattern.endswith("$") or pattern.endswith("\\$"):
        pattern = pattern + ".*$"
    return pattern


def strip_anchors(line: str) -> str:
    """``^text$`` -> ``text``: the anchors a user puts on ``line`` to match whole lines
    are not written to the file (an escaped ``\\$`` stays)."""
    if line.startswith("^"):
        line = line[1:]
    if line.endswith("$") and not line.endswith("\\$"):
        line = line[:-1]
    return line


def ignore_case(flags: list[str] | None) -> bool:
    return any(flag in ("i", "I") for flag in flags or [])


def _delimiter(*texts: str) -> str | None:
    for char in _DELIMITERS:
        if not any(char in text for text in texts):
            return char
    return None


def _sed_escape_replacement(text: str, delimiter: str) -> str:
    """``&`` is literal and newlines are kept (as pyinfra 3.x); ``\\1`` still refers
    to a group of the pattern."""
    return text.replace("&", "\\&").replace(delimiter, "\\" + delimiter).replace("\n", "\\\n")


def sed_substitute(pattern: str, replacement: str, flags: list[str] | None) -> str:
    """A sed ``s`` script: replace ``pattern`` by ``replacement`` (sed ``flags``)."""
    delimiter = _delimiter(pattern, replacement) or "/"
    if delimiter in pattern:
        pattern = pattern.replace(delimiter, "\\" + delimiter)
    flag_text = "".join(flags or [])
    body = _sed_escape_replacement(replacement, delimiter)
    return f"s{delimiter}{pattern}{delimiter}{body}{delimiter}{flag_text}"


def sed_delete(pattern: str, flags: list[str] | None) -> str:
    """A sed script deleting the lines that match ``pattern``."""
    delimiter = _delimiter(pattern) or "/"
    if delimiter in pattern:
        pattern = pattern.replace(delimiter, "\\" + delimiter)
    address = f"/{pattern}/" if delimiter == "/" else f"\\{delimiter}{pattern}{delimiter}"
    return f"{address}{'I' if ignore_case(flags) else ''}d"


def _script(text: str, interpolate: bool) -> QuoteString | StringCommand:
    return interpolated(text) if interpolate else QuoteString(text)


def rewrite_file(path: str, filter_bits: list[Any], backup: str | None) -> StringCommand:
    """Run ``FILTER < path > temp`` on the host and rename the temp copy over ``path``
    (the copy is made with ``cp -p``: mode, owner and times of the original). With
    ``backup``, ``path.BACKUP`` keeps the original. Nothing is left behind on failure."""
    bits: list[Any] = [
        "(", StringCommand("f=", shell_path(path), _separator=""), "&&",
        't="$(mktemp "$f.pyinfra-edit.XXXXXX")"', "||", "exit", "1;",
    ]  # fmt: skip
    if backup:
        saved = StringCommand('"$f"', QuoteString("." + backup), _separator="")
        bits += ["cp", "-p", '"$f"', saved, "&&"]
    bits += [
        "cp", "-p", '"$f"', '"$t"', "&&", *filter_bits, '<"$f"', '>"$t"', "&&",
        "mv", "-f", '"$t"', '"$f"', "||", "{", 'rm -f "$t";', "exit", "1;", "}", ")",
    ]  # fmt: skip
    return StringCommand(*bits)


def sed_filter(script: str, extended: bool, interpolate: bool) -> list[Any]:
    return ["sed", *(["-E"] if extended else []), "-e", _script(script, interpolate)]


def append_line(path: str, text: str, interpolate: bool, backup: str | None) -> StringCommand:
    """Append ``text`` as a line (a missing final newline is added first; a missing
    file is created)."""
    quoted = shell_path(path)
    value = interpolated(text) if interpolate else QuoteString(text)
    bits: list[Any] = ["("]
    if backup:
        bits += [
            "if", "[", "-f", quoted, "];", "then", "cp", "-p", quoted,
            StringCommand(quoted, QuoteString("." + backup), _separator=""), "||", "exit", "1;",
            "fi;",
        ]  # fmt: skip
    bits += [
        "if", "[", "-s", quoted, "]", "&&", "[", '"$(tail -c 1', quoted, '| wc -l)"', "-eq", "0",
        "];", "then", "echo", ">>", quoted, "||", "exit", "1;", "fi;",
        "printf", "'%s\\n'", value, ">>", quoted, ")",
    ]  # fmt: skip
    return StringCommand(*bits)


# A Python model of sed (used to decide that nothing would change) -----------------------

_POSIX_CLASSES = {
    "[:alnum:]": "a-zA-Z0-9",
    "[:alpha:]": "a-zA-Z",
    "[:blank:]": " \\t",
    "[:digit:]": "0-9",
    "[:lower:]": "a-z",
    "[:upper:]": "A-Z",
    "[:space:]": "\\s",
    "[:xdigit:]": "0-9A-Fa-f",
    "[:punct:]": "!-/:-@\\[-`{-~",
}


def posix_to_python(pattern: str, extended: bool) -> str:
    """A grep/sed regular expression (BRE, or ERE if ``extended``) as a Python one."""
    if not extended:
        pattern = _bre_to_ere(pattern)
    for posix, python in _POSIX_CLASSES.items():
        pattern = pattern.replace(posix, python)
    return pattern


def _bre_to_ere(pattern: str) -> str:
    out: list[str] = []
    index = 0
    in_bracket = False
    while index < len(pattern):
        char = pattern[index]
        if in_bracket:
            out.append("\\" + char if char in "\\" else char)
            if char == "]":
                in_bracket = False
            index += 1
            continue
        if char == "[":
            in_bracket = True
            out.append(char)
            if pattern[index + 1 : index + 2] == "^":
                out.append("^")
                index += 1
            if pattern[index + 1 : index + 2] == "]":
                out.append("\\]")
                index += 1
            index += 1
            continue
        if char == "\\" and index + 1 < len(pattern):
            following = pattern[index + 1]
            out.append(following if following in "(){}|+?" else "\\" + following)
            index += 2
            continue
        out.append("\\" + char if char in "(){}|+?" else char)
        index += 1
    return "".join(out)


def compile_pattern(pattern: str, extended: bool, flags: list[str] | None) -> re.Pattern[str]:
    """Compile a grep/sed pattern; ``flags`` as sed's (``i``/``I``: ignore case,
    ``g``: every occurrence). Other sed flags raise ``ValueError``."""
    re_flags = 0
    for flag in flags or []:
        if flag in ("i", "I"):
            re_flags |= re.IGNORECASE
        elif flag != "g":
            raise ValueError(f"unsupported flag {flag!r} (supported: i, I, g)")
    return re.compile(posix_to_python(pattern, extended), re_flags)


def sed_replacement(replacement: str) -> Callable[[re.Match[str]], str]:
    """A ``re.sub`` function for a replacement as this module writes it for sed:
    ``\\1``..``\\9`` are groups, ``\\n``/``\\t`` a newline/tab, ``&`` is literal."""
    parts: list[str | int] = []
    literal: list[str] = []
    index = 0
    while index < len(replacement):
        char = replacement[index]
        if char == "\\" and index + 1 < len(replacement):
            following = replacement[index + 1]
            if following.isdigit():
                parts.append("".join(literal))
                literal = []
                parts.append(int(following))
            elif following == "n":
                literal.append("\n")
            elif following == "t":
                literal.append("\t")
            else:
                literal.append(following)
            index += 2
            continue
        literal.append(char)
        index += 1
    parts.append("".join(literal))

    def replace(match: re.Match[str]) -> str:
        return "".join(p if isinstance(p, str) else (match.group(p) or "") for p in parts)

    return replace


def emulate_substitution(
    lines: list[str], pattern: str, replacement: str, flags: list[str] | None, extended: bool
) -> list[str] | None:
    """What ``sed s/pattern/replacement/flags`` makes of ``lines``, or ``None`` when
    the model cannot tell (unsupported flags or pattern)."""
    try:
        compiled = compile_pattern(pattern, extended, flags)
    except (ValueError, re.error):
        return None
    function = sed_replacement(replacement)
    count = 0 if "g" in (flags or []) else 1
    try:
        return [compiled.sub(function, line, count=count) for line in lines]
    except (re.error, IndexError):
        return None


# Blocks between markers (files.block) ---------------------------------------------------

# Environment: PYI_B / PYI_E (markers), PYI_C (the content, without markers), PYI_M (mode:
# replace, remove, start, end, before, after), PYI_L (regex of the anchor line).
_BLOCK_EDIT_AWK = """\
function emit() { print ENVIRON["PYI_B"]; print ENVIRON["PYI_C"]; print ENVIRON["PYI_E"]; done = 1 }
BEGIN { m = ENVIRON["PYI_M"]; if (m == "start") emit() }
(m == "replace" || m == "remove") && !inside && index($0, ENVIRON["PYI_B"]) {
    inside = 1; if (m == "replace") emit(); next }
inside { if (index($0, ENVIRON["PYI_E"])) inside = 0; next }
m == "before" && !done && $0 ~ ENVIRON["PYI_L"] { emit() }
{ print }
m == "after" && !done && $0 ~ ENVIRON["PYI_L"] { emit() }
END { if (!done && m != "remove" && m != "replace") emit() }"""


def block_edit(
    path: str,
    first: str,
    last: str,
    content: str,
    mode: str,
    anchor: str | None,
    backup: str | None,
) -> StringCommand:
    """Rewrite ``path`` with the block (markers + content) put in place per ``mode``."""
    env = [
        StringCommand("PYI_B=", QuoteString(first), _separator=""),
        StringCommand("PYI_E=", QuoteString(last), _separator=""),
        StringCommand("PYI_C=", QuoteString(content), _separator=""),
        StringCommand("PYI_M=", mode, _separator=""),
        StringCommand("PYI_L=", QuoteString(anchor or ""), _separator=""),
    ]
    return rewrite_file(path, [*env, "awk", QuoteString(_BLOCK_EDIT_AWK)], backup)


def new_block_file(path: str, first: str, last: str, content: str) -> StringCommand:
    """Create ``path`` holding only the block (mode from the umask)."""
    text = "\n".join([first, content, last])
    return StringCommand("printf", "'%s\\n'", QuoteString(text), ">", shell_path(path))
