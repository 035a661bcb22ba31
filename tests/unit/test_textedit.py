"""grep/sed semantics of files.line / files.replace, in Python (pure functions)."""

from __future__ import annotations

import re

import pytest

from pyinfra.operations.textedit import (
    compile_pattern,
    ensure_line,
    line_pattern,
    posix_to_python,
    replace_text,
)


@pytest.mark.parametrize(
    ("bre", "python"),
    [
        ("foo(bar)", r"foo\(bar\)"),  # literal parentheses in a BRE
        (r"a\(b\)c", "a(b)c"),  # escaped: a group
        ("x+y", r"x\+y"),
        (r"x\+y", "x+y"),
        ("[[:space:]]*#", r"[\s]*#"),
        ("[^]x]", r"[^\]x]"),
        ("a|b", r"a\|b"),
    ],
)
def test_basic_regex_conversion(bre: str, python: str) -> None:
    assert posix_to_python(bre, extended=False) == python


def test_extended_regex_is_kept() -> None:
    assert posix_to_python("(a|b)+", extended=True) == "(a|b)+"


def test_sed_replacement_and_flags() -> None:
    text = "a foo foo\nbar\n"
    assert replace_text(text, compile_pattern("foo", False, None), "[&]", False, None) == (
        "a [foo] foo\nbar\n"
    )
    every = compile_pattern(r"\(fo\)o", False, ["g"])
    assert replace_text(text, every, r"\1X", True, None) == "a foX foX\nbar\n"
    only = re.compile("bar")
    assert replace_text(text, re.compile("a"), "A", False, only) == "a foo foo\nbAr\n"
    with pytest.raises(ValueError, match="unsupported flag"):
        compile_pattern("x", False, ["q"])


def test_ensure_line() -> None:
    pattern = line_pattern("^port", False, False, None)
    assert ensure_line("x\nport 22\n", "^port", True, "port 2", pattern, "port 2") == "x\nport 2\n"
    assert ensure_line("x", "^port", True, None, pattern, "port") == "x\nport\n"  # newline added
    assert ensure_line("x\r\nport 1\r\n", "^port", False, None, pattern, "") == "x\r\n"
    assert ensure_line(None, "^port", False, None, pattern, "port") is None
    assert ensure_line(None, "^port", True, None, pattern, "port") == "port\n"
    escaped = line_pattern("a.b*", True, False, None)
    assert escaped.search("xa.b*") and not escaped.search("aXbbb")
