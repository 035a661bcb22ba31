"""Huge command output (issue 15 item 9): the CLI's ``exec`` streams it, with bounded
memory; ``run_streamed`` keeps only the last lines, enough to tell why a command failed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pyinfra.connectors._runner.loop import TAIL_LINES
from pyinfra.connectors.execution import run_streamed
from pyinfra.connectors.output import OutputLine
from tests.helpers.hosts import MakeHost

LINE = "0123456789abcdefghijklmnopqrstuvwxyz" * 2 + "0123456789abcdefghijk"  # 95 + \n


# Runs a command and prints its peak RSS (KiB). A child forked by a big process (the
# pytest process, late in a long suite) reports at least that process's RSS as its own
# ru_maxrss (Linux keeps the high-water mark of the memory it replaced at exec), so the
# CLI is started from this small process instead, and its peak read from here.
_PEAK_RSS = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def test_cli_exec_prints_every_line_in_bounded_memory(tmp_path: Path) -> None:
    count = 800_000  # 76 MB; kept as lines in memory it would take over 300 MB
    out = tmp_path / "out.txt"
    with open(out, "wb") as handle:
        proc = subprocess.run(
            [sys.executable, "-c", _PEAK_RSS, sys.executable, "-m", "pyinfra", "-y", "@local",
             "exec", "--", f"yes {LINE} | head -n {count}"],
            stdout=handle,
            stderr=subprocess.PIPE,
            check=False,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    printed = 0
    with open(out, "rb") as handle:
        for raw in handle:
            if raw.startswith(b"[@local] "):
                assert raw == f"[@local] {LINE}\n".encode()
                printed += 1
    assert printed == count
    peak_mb = int(proc.stderr.split()[-1]) / 1024
    # an idle CLI takes ~30 MB here; keeping the output would add over 300 MB
    assert peak_mb < 100, f"peak RSS {peak_mb:.0f} MB"


def test_run_streamed_keeps_the_tail_and_the_failure_line(make_host: MakeHost) -> None:
    host = make_host("@local", connect=True)
    seen: list[OutputLine] = []
    ok, output = run_streamed(host, "seq 1 1000; echo boom >&2; exit 3", seen.append)
    assert not ok and output.exit_code == 3
    # each stream in order (stdout and stderr are two pipes: their relative order is
    # the order of arrival)
    assert [line.line for line in seen if line.buffer_name == "stdout"] == list(
        map(str, range(1, 1001))
    )
    assert [line.line for line in seen if line.buffer_name == "stderr"] == ["boom"]
    # the last lines of each stream: the stderr line survives the stdout after it
    assert len(output.combined_lines) == TAIL_LINES + 1
    assert output.omitted_lines == 1000 - TAIL_LINES
    assert output.stdout_lines[-1] == "1000"
    assert output.failure_line() == "boom"
