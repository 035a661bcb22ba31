"""Line-oriented text editing for ``files.line`` and ``files.replace``.

The file is read whole (``files.FileBytes``), edited here in Python and uploaded back
atomically when it changed, so matching is exact, idempotency is checked on the real
result and ``--diff`` shows precisely what changes. Patterns follow grep/sed: basic
regular expressions by default, extended ones with ``extended_regex=True``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

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
    """Compile a grep/sed pattern; ``flags`` as sed's (``i``/``I``: ignore case)."""
    re_flags = 0
    for flag in flags or []:
        if flag in ("i", "I"):
            re_flags |= re.IGNORECASE
        elif flag not in ("g",) and not flag.isdigit():
            raise ValueError(f"unsupported flag {flag!r} (supported: i, I, g)")
    return re.compile(posix_to_python(pattern, extended), re_flags)


def sed_replacement(replacement: str) -> Callable[[re.Match[str]], str]:
    """A ``re.sub`` function for a sed replacement (``&``, ``\\1``..``\\9``, ``\\n``)."""
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
        if char == "&":
            parts.append("".join(literal))
            literal = []
            parts.append(0)
        else:
            literal.append(char)
        index += 1
    parts.append("".join(literal))

    def replace(match: re.Match[str]) -> str:
        return "".join(p if isinstance(p, str) else (match.group(p) or "") for p in parts)

    return replace


def split_lines(text: str) -> list[str]:
    """Lines with their line endings (the last may have none)."""
    return text.splitlines(keepends=True)


def _body(line: str) -> tuple[str, str]:
    for ending in ("\r\n", "\n", "\r"):
        if line.endswith(ending):
            return line[: -len(ending)], ending
    return line, ""


def line_pattern(
    line: str, escape: bool, extended: bool, flags: list[str] | None
) -> re.Pattern[str]:
    """The pattern ``files.line`` matches lines with (anywhere in the line, like grep)."""
    if escape:
        compile_pattern("", extended, flags)  # validates the flags
        ignore_case = any(f in ("i", "I") for f in flags or [])
        return re.compile(re.escape(line), re.IGNORECASE if ignore_case else 0)
    return compile_pattern(line, extended, flags)


def ensure_line(
    text: str | None,
    line: str,
    present: bool,
    replace: str | None,
    pattern: re.Pattern[str],
    appended: str,
) -> str | None:
    """The new content, or ``None`` when the file must not exist / is unchanged-missing."""
    if text is None:
        return (appended + "\n") if present else None
    lines = split_lines(text)
    matches = [i for i, item in enumerate(lines) if pattern.search(_body(item)[0])]
    if present:
        if not matches:
            prefix = text if not text or text.endswith(("\n", "\r")) else text + "\n"
            return prefix + appended + "\n"
        if replace is None:
            return text
        for index in matches:
            _, ending = _body(lines[index])
            lines[index] = replace + ending
        return "".join(lines)
    return "".join(item for i, item in enumerate(lines) if i not in set(matches))


def replace_text(
    text: str,
    pattern: re.Pattern[str],
    replacement: str,
    every: bool,
    match: re.Pattern[str] | None,
) -> str:
    """sed ``s/pattern/replacement/[g]`` on every line (of those matching ``match``)."""
    function = sed_replacement(replacement)
    out: list[str] = []
    for item in split_lines(text):
        body, ending = _body(item)
        if match is None or match.search(body):
            body = pattern.sub(function, body, count=0 if every else 1)
        out.append(body + ending)
    return "".join(out)
