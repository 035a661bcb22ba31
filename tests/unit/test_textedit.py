"""files.line / files.replace / files.block building blocks: the sed/awk scripts run by
the real sed/awk of this machine, and the Python model of sed checked against it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pyinfra.operations.filemodes import SymbolicMode, mode_digits, parse_file_mode
from pyinfra.operations.textedit import (
    adjust_regex,
    append_line,
    block_edit,
    emulate_substitution,
    posix_to_python,
    rewrite_file,
    sed_delete,
    sed_filter,
    sed_substitute,
    strip_anchors,
)
from pyinfra.operations.util import fail as _fail  # noqa: F401 - module imports cleanly


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


def test_line_pattern_and_anchors() -> None:
    assert adjust_regex("port", False) == "^.*port.*$"
    assert adjust_regex("^port", False) == "^port.*$"
    assert adjust_regex("a.b*", True) == r"^.*a\.b\*.*$"
    assert strip_anchors("^x=1$") == "x=1"
    assert strip_anchors(r"cost \$") == r"cost \$"


def _sed(script: str, text: str, extended: bool = False) -> str:
    argv = ["sed", *(["-E"] if extended else []), "-e", script]
    return subprocess.run(argv, input=text, capture_output=True, text=True, check=True).stdout


CASES = [
    # pattern, replacement, flags, extended, lines
    ("foo", "bar", None, False, ["a foo foo", "xfoo"]),
    ("foo", "bar", ["g"], False, ["a foo foo"]),
    (r"\(fo\)o", r"\1X", ["g"], False, ["a foo foo"]),
    ("colou?r", "shade", None, True, ["colour", "color x colour"]),
    ("a/b", "c/d&e", None, False, ["a/b and a/b"]),  # delimiter and literal &
    ("x|y/z#w%v@u", "q", None, False, ["x|y/z#w%v@u"]),  # every delimiter candidate used
    ("FOO", "bar", ["i"], False, ["foo Foo"]),
    ("[[:digit:]]+", "N", ["g"], True, ["a1 b22 c333"]),
    ("^port.*$", "port 2222", None, False, ["port 22"]),
]


@pytest.mark.skipif(shutil.which("sed") is None, reason="sed is missing")
@pytest.mark.parametrize(("pattern", "replacement", "flags", "extended", "lines"), CASES)
def test_python_model_matches_real_sed(
    pattern: str, replacement: str, flags: list[str] | None, extended: bool, lines: list[str]
) -> None:
    script = sed_substitute(pattern, replacement, flags)
    real = _sed(script, "".join(line + "\n" for line in lines), extended).splitlines()
    assert emulate_substitution(lines, pattern, replacement, flags, extended) == real


def test_model_declines_what_it_cannot_tell() -> None:
    assert emulate_substitution(["a"], "a", "b", ["2"], False) is None
    assert emulate_substitution(["a"], "a[", "b", None, False) is None


def test_delete_script() -> None:
    assert _sed(sed_delete("^#.*$", None), "a\n#x\nb\n") == "a\nb\n"
    assert _sed(sed_delete("a/b", None), "a/b\nc\n") == "c\n"
    assert _sed(sed_delete("^x", ["I"]), "X1\ny\n") == "y\n"


def _run(command: object) -> subprocess.CompletedProcess[str]:
    text = command.get_raw_value()  # type: ignore[attr-defined]
    return subprocess.run(["sh", "-c", text], capture_output=True, text=True, check=False)


def test_rewrite_keeps_mode_and_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "cfg"
    target.write_text("a=1\nport 22\n")
    target.chmod(0o640)
    script = sed_substitute("^port.*$", "port 2222", None)
    assert _run(rewrite_file(str(target), sed_filter(script, False, False), "bak")).returncode == 0
    assert target.read_text() == "a=1\nport 2222\n"
    assert (target.stat().st_mode & 0o777) == 0o640
    assert (tmp_path / "cfg.bak").read_text() == "a=1\nport 22\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg", "cfg.bak"]
    # a failing filter leaves the file and no temp file
    result = _run(rewrite_file(str(target), ["false"], None))
    assert result.returncode == 1 and target.read_text() == "a=1\nport 2222\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg", "cfg.bak"]


def test_append_adds_missing_newline_and_is_literal(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("x")
    assert _run(append_line(str(target), "it's $HOME `id`", False, None)).returncode == 0
    assert target.read_text() == "x\nit's $HOME `id`\n"
    missing = tmp_path / "new"
    assert _run(append_line(str(missing), "only", False, None)).returncode == 0
    assert missing.read_text() == "only\n"


def test_interpolated_append_expands_variables_only(tmp_path: Path) -> None:
    target = tmp_path / "f"
    command = append_line(str(target), "home=$HOME cmd=$(id -u) `id -u`", True, None)
    assert _run(command).returncode == 0
    assert target.read_text() == f"home={Path.home()} cmd=$(id -u) `id -u`\n"


@pytest.mark.parametrize(
    ("mode", "anchor", "expected"),
    [
        ("end", None, "a\nb\n#B\nx\ny\n#E\n"),
        ("start", None, "#B\nx\ny\n#E\na\nb\n"),
        ("before", "^b$", "a\n#B\nx\ny\n#E\nb\n"),
        ("after", "^a$", "a\n#B\nx\ny\n#E\nb\n"),
        ("after", "^nothing$", "a\nb\n#B\nx\ny\n#E\n"),
    ],
)
def test_block_insertion(tmp_path: Path, mode: str, anchor: str | None, expected: str) -> None:
    target = tmp_path / "f"
    target.write_text("a\nb\n")
    assert _run(block_edit(str(target), "#B", "#E", "x\ny", mode, anchor, None)).returncode == 0
    assert target.read_text() == expected


def test_block_replace_and_remove(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("a\n#B\nold\n#E\nb\n")
    assert (
        _run(block_edit(str(target), "#B", "#E", "new $x", "replace", None, None)).returncode == 0
    )
    assert target.read_text() == "a\n#B\nnew $x\n#E\nb\n"
    assert _run(block_edit(str(target), "#B", "#E", "", "remove", None, None)).returncode == 0
    assert target.read_text() == "a\nb\n"


@pytest.mark.parametrize(
    ("spec", "current", "is_dir", "octal"),
    [
        ("u+x", "644", False, "744"),
        ("go-w", "666", False, "644"),
        ("a=rX", "750", True, "555"),
        ("a=rX", "640", False, "444"),
        ("u=rw,go=r", "777", False, "644"),
        ("g=u", "740", False, "770"),
        ("u+s", "755", False, "4755"),
        ("+t", "777", True, "1777"),
        ("o-rwx", "777", True, "770"),
    ],
)
def test_symbolic_modes(spec: str, current: str, is_dir: bool, octal: str) -> None:
    parsed = parse_file_mode("files.file", spec)
    assert isinstance(parsed, SymbolicMode)
    assert mode_digits(parsed, current, is_dir) == octal


def test_symbolic_modes_agree_with_chmod(tmp_path: Path) -> None:
    for spec in ("u+x", "go-w", "a=rX", "u=rw,go=r", "g=u", "o-rwx", "ug+rwx,o="):
        target = tmp_path / "f"
        target.write_text("")
        target.chmod(0o640)
        subprocess.run(["chmod", spec, str(target)], check=True)
        parsed = parse_file_mode("files.file", spec)
        assert mode_digits(parsed, "640", False) == oct(target.stat().st_mode & 0o7777)[2:]  # type: ignore[arg-type]
        target.unlink()


def test_bad_modes_are_one_line_errors() -> None:
    for bad in ("u+q", "9", "rwx", "x+u"):
        with pytest.raises(Exception, match="argument mode"):
            parse_file_mode("files.file", bad)
    assert parse_file_mode("files.file", "0o755") == "755"
    assert parse_file_mode("files.file", 644) == "644"
