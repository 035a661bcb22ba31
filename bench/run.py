#!/usr/bin/env python3
"""Benchmark our pyinfra-compatible package against the real pyinfra 3.x, side by side.

    python bench/run.py [SCENARIO ...] [--repeat N] [--json OUT]

Two cached virtualenvs live in bench/.venvs/: `pyinfra3` (pyinfra from PyPI) and
`ours` (this repository, installed editable). Every scenario in bench/scenarios/ is
run by both interpreters, one process per run, and prints one JSON line of
measurements; this script takes medians over --repeat runs, adds each process's
peak RSS (from wait4) and prints a table per scenario. See bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import local_sshd  # bench/local_sshd.py (bench/ is sys.path[0] when run as a script)

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
SCENARIO_DIR = BENCH_DIR / "scenarios"
VENV_ROOT = BENCH_DIR / ".venvs"
PYINFRA3_SPEC = "pyinfra==3.10.0"
SIDES = ("ours", "pyinfra3")
# Variables that would let one side import the other's package.
SCRUBBED_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH", "VIRTUAL_ENV")

Metrics = dict[str, float]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    requires: tuple[str, ...] = ()
    timeout: float = 900.0


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("local_true", "BENCH_N (200) sequential `true` through the local connector"),
        Scenario("cli_startup", "median wall time of `pyinfra -y @local exec -- true`"),
        Scenario("ssh_true", "BENCH_N (200) sequential `true` over SSH", ("BENCH_HOST",)),
        Scenario(
            "ssh_facts",
            "20 different facts read one after another on an open SSH connection",
            ("BENCH_HOST",),
        ),
        Scenario(
            "ssh_put_get",
            "put_file + get_file of BENCH_SIZE_MB (200) MB over SSH",
            ("BENCH_HOST",),
            1800.0,
        ),
        Scenario(
            "ssh_exec_fanout",
            "`pyinfra INVENTORY exec -- uname -a` on BENCH_FANOUT_N (50) loopback SSH hosts",
            ("BENCH_HOST", "BENCH_FANOUT_ADDRESSES"),
        ),
        Scenario(
            "docker_true",
            "BENCH_N (100) sequential `true` in a running container",
            ("BENCH_CONTAINER",),
        ),
        Scenario(
            "docker_put_get",
            "put_file + get_file of BENCH_SIZE_MB (50) MB in a container",
            ("BENCH_CONTAINER",),
        ),
        Scenario(
            "pkg10",
            "10 package operations on installed packages (apt, apt.deb, pip) through the "
            "CLI on a container: wall time and commands executed",
            ("BENCH_PKG_CONTAINER",),
        ),
        Scenario(
            "deploy20",
            "20-operation deploy through the CLI, first and second (no-change) run",
        ),
        Scenario(
            "ssh_rsync_sync",
            "files.rsync vs files.sync of BENCH_FILES (1000) files over SSH, first and "
            "no-change run: wall time and bytes each way",
            ("BENCH_HOST",),
            3600.0,
        ),
        Scenario(
            "ssh_line_10mb",
            "files.line edit of a BENCH_SIZE_MB (10) MB file over SSH: wall time and bytes",
            ("BENCH_HOST",),
        ),
    )
}

# Metrics shown in the tables, in this order; any other numeric metric follows.
METRIC_ORDER = (
    "seconds",
    "per_sec",
    "put_mb_s",
    "get_mb_s",
    "put_seconds",
    "get_seconds",
    "min_seconds",
    "max_seconds",
    "connect_seconds",
    "import_seconds",
    "cpu_seconds",
    "child_cpu_seconds",
    "peak_rss_mb",
)
# Informational values: shown in the heading, never compared.
INFO_KEYS = ("ops", "runs", "size_mb")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- venvs


@dataclass
class Side:
    name: str
    python: Path | None = None
    version: str = ""
    location: str = ""
    reason: str = ""

    @property
    def available(self) -> bool:
        return self.python is not None


def _tail(text: str, lines: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _call(argv: list[str], timeout: float = 900.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, check=False, timeout=timeout, env=clean_env()
    )


def _pip_error(stderr: str) -> str:
    """The most telling line of a failed pip run (the build backend's exception if any)."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for line in reversed(lines):
        if re.match(r"^[\w.]*(Error|Exception)\b.*:", line):
            return line
    errors = [ln for ln in lines if ln.lower().startswith("error")]
    return (errors or lines or ["no output"])[-1]


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra or {})
    return env


def ensure_side(name: str, reinstall: bool) -> Side:
    """Create/refresh the venv for one side (cached by a fingerprint marker) and probe it."""
    venv = VENV_ROOT / name
    python = venv / "bin" / "python"
    marker = venv / ".bench-installed"
    if name == "ours":
        install = ["-e", str(REPO_ROOT)]
        pyproject = REPO_ROOT / "pyproject.toml"
        project = pyproject.read_bytes() if pyproject.exists() else b""
        fingerprint = f"{install} {hashlib.sha256(project).hexdigest()}"
    else:
        install = [PYINFRA3_SPEC]
        fingerprint = str(install)

    side = Side(name)
    if reinstall or not python.exists():
        if venv.exists():
            _call(["rm", "-rf", str(venv)])
        log(f"[{name}] creating venv {venv}")
        made = _call([sys.executable, "-m", "venv", str(venv)])
        if made.returncode != 0:
            side.reason = f"venv creation failed: {_tail(made.stderr + made.stdout, 3)}"
            return side
    if not (marker.exists() and marker.read_text() == fingerprint):
        marker.unlink(missing_ok=True)
        log(f"[{name}] pip install {' '.join(install)}")
        pip = _call([str(python), "-m", "pip", "install", "-q", *install])
        if pip.returncode != 0:
            pip_log = VENV_ROOT / f"{name}-pip.log"
            pip_log.write_text(pip.stdout + pip.stderr)
            side.reason = (
                f"pip install {' '.join(install)} failed: {_pip_error(pip.stderr)} (see {pip_log})"
            )
            return side
        marker.write_text(fingerprint)

    probe = _call(
        [
            str(python),
            "-c",
            "import importlib.metadata as m, pyinfra, pyinfra.api;"
            "print(m.version('pyinfra')); print(pyinfra.__file__)",
        ],
        timeout=120,
    )
    if probe.returncode != 0:
        side.reason = f"`import pyinfra.api` failed: {_tail(probe.stderr, 1)}"
        return side
    version, location = (probe.stdout.strip().splitlines() + ["", ""])[:2]
    if name == "ours" and not Path(location).resolve().is_relative_to(REPO_ROOT / "src"):
        side.reason = f"imports pyinfra from {location}, not from {REPO_ROOT / 'src'}"
        return side
    side.python, side.version, side.location = python, version, location
    return side


# ----------------------------------------------------------------------- running


class ScenarioError(RuntimeError):
    def __init__(self, summary: str, detail: str) -> None:
        super().__init__(summary)
        self.detail = detail


def _summarize(text: str) -> str:
    """One line out of an error text: the last exception line, else the last line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for line in reversed(lines):
        if re.match(r"^[\w.]*(Error|Exception|Exit|Interrupt)\b", line):
            return line
    return lines[-1] if lines else "no output"


def run_once(side: Side, scenario: Scenario, env: dict[str, str]) -> Metrics:
    """Run one scenario process; return its JSON metrics plus the process tree's peak RSS."""
    assert side.python is not None
    script = SCENARIO_DIR / f"{scenario.name}.py"
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [str(side.python), str(script)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            cwd=SCENARIO_DIR,
        )
        killer = threading.Timer(scenario.timeout, proc.kill)
        killer.start()
        try:
            # wait4 rather than Popen.wait: it also returns this child's rusage.
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")

    lines = [line for line in stdout.splitlines() if line.strip()]
    result: dict[str, Any] = {}
    if lines:
        try:
            result = json.loads(lines[-1])
        except json.JSONDecodeError:
            result = {}
    if proc.returncode != 0 or "error" in result or not result:
        detail = str(result.get("error") or _tail(stderr or stdout, 40) or "no output")
        if proc.returncode < 0:
            detail = f"killed by signal {-proc.returncode} (timeout {scenario.timeout}s?)"
        raise ScenarioError(f"exit {proc.returncode}: {_summarize(detail)}", detail)

    metrics: Metrics = {}
    for key, value in result.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if key.endswith("_kb"):
            metrics[key.removesuffix("_kb") + "_mb"] = value / 1024
        else:
            metrics[key] = float(value)
    metrics["peak_rss_mb"] = usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux
    return metrics


@dataclass
class SideResult:
    status: str  # ok | error | unavailable | skipped
    reason: str = ""
    detail: str = ""  # full error text (JSON only)
    runs: list[Metrics] = field(default_factory=list)

    @property
    def median(self) -> Metrics:
        if not self.runs:
            return {}
        keys = [k for k in self.runs[0] if all(k in run for run in self.runs)]
        return {k: statistics.median(run[k] for run in self.runs) for k in keys}


def run_scenario(
    scenario: Scenario, sides: dict[str, Side], repeat: int, env: dict[str, str]
) -> dict[str, SideResult]:
    results: dict[str, SideResult] = {}
    missing = [var for var in scenario.requires if not env.get(var)]
    for name, side in sides.items():
        if not side.available:
            results[name] = SideResult("unavailable", side.reason)
        elif missing:
            results[name] = SideResult("skipped", f"set {', '.join(missing)}")
        else:
            results[name] = SideResult("ok")
    for index in range(repeat):
        # Alternate which side goes first so drift (caches, thermal) hits both equally.
        order = list(sides) if index % 2 == 0 else list(reversed(sides))
        for name in order:
            result = results[name]
            if result.status != "ok":
                continue
            try:
                metrics = run_once(sides[name], scenario, env)
            except ScenarioError as error:
                result.status, result.reason, result.detail = "error", str(error), error.detail
                log(f"[{name}] {scenario.name} run {index + 1}/{repeat}: ERROR {error}")
                continue
            except OSError as error:
                result.status, result.reason = "error", str(error)
                log(f"[{name}] {scenario.name} run {index + 1}/{repeat}: ERROR {error}")
                continue
            result.runs.append(metrics)
            log(f"[{name}] {scenario.name} run {index + 1}/{repeat}: {metrics['seconds']:.4f}s")
    for result in results.values():
        if result.status == "error":
            result.runs.clear()
    return results


# ---------------------------------------------------------------------- reporting


def direction(metric: str) -> int:
    """+1 if higher is better, -1 if lower is better, 0 if not comparable."""
    if metric.endswith(("per_sec", "_mb_s")):
        return 1
    if metric.endswith(("seconds", "rss_mb")):
        return -1
    return 0


def advantage(metric: str, ours: float, theirs: float) -> float | None:
    """How many times better ours is than pyinfra3 on `metric` (> 1 = ours better)."""
    sign = direction(metric)
    if sign == 0 or ours <= 0 or theirs <= 0:
        return None
    return theirs / ours if sign < 0 else ours / theirs


def describe(metric: str, ratio: float) -> str:
    if metric.endswith("rss_mb"):
        words = ("smaller", "larger")
    elif direction(metric) > 0:
        words = ("higher", "lower")
    else:
        words = ("faster", "slower")
    return f"{ratio:.2f}x ({words[0] if ratio >= 1 else words[1]})"


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if 0 < abs(value) < 0.001:
        return f"{value:.6f}"
    return f"{value:.4g}"


def ordered_metrics(medians: list[Metrics]) -> list[str]:
    present = {key for m in medians for key in m if key not in INFO_KEYS}
    first = [key for key in METRIC_ORDER if key in present]
    return first + sorted(present - set(first))


def print_table(scenario: Scenario, results: dict[str, SideResult]) -> None:
    ours, theirs = results["ours"].median, results["pyinfra3"].median
    info = {k: v for m in (theirs, ours) for k, v in m.items() if k in INFO_KEYS}
    details = ", ".join(f"{k}={fmt(v)}" for k, v in sorted(info.items()))
    print(f"\n== {scenario.name}: {scenario.description}" + (f" [{details}]" if details else ""))
    for name, result in results.items():
        if result.status == "ok":
            print(f"   {name}: {len(result.runs)} run(s), medians shown")
        else:
            print(f"   {name}: {result.status.upper()}: {result.reason}")
    metrics = ordered_metrics([ours, theirs])
    if not metrics:
        return
    print(f"   {'metric':<20}{'ours':>12}{'pyinfra3':>12}   ours vs pyinfra3 (>1x = ours better)")
    for metric in metrics:
        a, b = ours.get(metric), theirs.get(metric)
        ratio = advantage(metric, a, b) if a is not None and b is not None else None
        shown = describe(metric, ratio) if ratio is not None else "n/a"
        print(f"   {metric:<20}{fmt(a):>12}{fmt(b):>12}   {shown}")


def headline(scenario: Scenario, results: dict[str, SideResult]) -> str:
    ours, theirs = results["ours"], results["pyinfra3"]
    if ours.status != "ok" or theirs.status != "ok":
        return f"{scenario.name}: ours {ours.status}, pyinfra3 {theirs.status}"
    a, b = ours.median["seconds"], theirs.median["seconds"]
    ratio = advantage("seconds", a, b)
    if ratio is None:
        return f"{scenario.name}: n/a ({fmt(a)}s vs {fmt(b)}s)"
    word = "faster" if ratio >= 1 else "slower"
    times = ratio if ratio >= 1 else 1 / ratio
    return (
        f"{scenario.name}: ours is {times:.2f}x {word} than pyinfra3"
        f" ({fmt(a)}s vs {fmt(b)}s; ratio {ratio:.2f})"
    )


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Compare our pyinfra-compatible package with pyinfra 3.x.",
        epilog="Scenarios: " + ", ".join(SCENARIOS),
    )
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="default: all")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side (default 3)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write all results here")
    parser.add_argument(
        "--side", action="append", choices=SIDES, help="run only this side (repeatable)"
    )
    parser.add_argument("--reinstall", action="store_true", help="recreate the venvs")
    parser.add_argument(
        "--local-sshd",
        action="store_true",
        help="start a throwaway sshd on 127.0.0.1 for the ssh_* scenarios (needs root)",
    )
    parser.add_argument("--list", action="store_true", help="list scenarios and exit")
    args = parser.parse_args(argv)
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}; choose from {list(SCENARIOS)}")
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.list:
        for scenario in SCENARIOS.values():
            needs = f"  (needs {', '.join(scenario.requires)})" if scenario.requires else ""
            print(f"{scenario.name:<16}{scenario.description}{needs}")
        return 0
    chosen = [SCENARIOS[name] for name in args.scenarios or SCENARIOS]

    VENV_ROOT.mkdir(parents=True, exist_ok=True)
    wanted = args.side or list(SIDES)
    sides: dict[str, Side] = {}
    for name in SIDES:
        if name in wanted:
            sides[name] = ensure_side(name, args.reinstall)
        else:
            sides[name] = Side(name, reason="not selected (--side)")
    for side in sides.values():
        state = f"pyinfra {side.version} ({side.location})" if side.available else side.reason
        log(f"[{side.name}] {state}")

    env = clean_env()
    sshd_started = False
    if args.local_sshd and any(s.name.startswith("ssh_") for s in chosen):
        try:
            env.update(local_sshd.start())
            sshd_started = True
            log(f"[sshd] {env['BENCH_USER']}@{env['BENCH_HOST']}:{env['BENCH_PORT']}")
        except local_sshd.SshdError as error:
            log(f"[sshd] not started: {error}")

    all_results: dict[str, dict[str, SideResult]] = {}
    try:
        for scenario in chosen:
            all_results[scenario.name] = run_scenario(scenario, sides, args.repeat, env)
    finally:
        if sshd_started:
            local_sshd.stop()

    print("Benchmark: ours vs pyinfra3 — ratio > 1x means ours is better (faster / smaller)")
    for side in sides.values():
        print(f"   {side.name}: {side.version or 'unavailable'}  {side.location or side.reason}")
    for scenario in chosen:
        print_table(scenario, all_results[scenario.name])
    print("\nSummary (seconds, median):")
    for scenario in chosen:
        print(f"   {headline(scenario, all_results[scenario.name])}")

    if args.json:
        write_json(args.json, args.repeat, sides, chosen, all_results)
        log(f"results written to {args.json}")
    failed = any(r.status == "error" for res in all_results.values() for r in res.values())
    return 1 if failed else 0


def write_json(
    path: Path,
    repeat: int,
    sides: dict[str, Side],
    chosen: list[Scenario],
    all_results: dict[str, dict[str, SideResult]],
) -> None:
    scenarios: dict[str, Any] = {}
    for scenario in chosen:
        results = all_results[scenario.name]
        ours, theirs = results["ours"].median, results["pyinfra3"].median
        ratios = {
            metric: advantage(metric, ours[metric], theirs[metric])
            for metric in ordered_metrics([ours, theirs])
            if metric in ours and metric in theirs
        }
        scenarios[scenario.name] = {
            "description": scenario.description,
            "sides": {
                name: {
                    "status": r.status,
                    "reason": r.reason,
                    "detail": r.detail,
                    "median": r.median,
                    "runs": r.runs,
                }
                for name, r in results.items()
            },
            "ours_advantage": {k: v for k, v in ratios.items() if v is not None},
        }
    document = {
        "meta": {
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "host": platform.node(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "repeat": repeat,
            "ratio_note": "ours_advantage > 1 means ours is better (faster, higher, smaller)",
            "sides": {
                s.name: {
                    "available": s.available,
                    "version": s.version,
                    "location": s.location,
                    "reason": s.reason,
                }
                for s in sides.values()
            },
        },
        "scenarios": scenarios,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    started = time.monotonic()
    code = main(sys.argv[1:])
    log(f"done in {time.monotonic() - started:.1f}s")
    sys.exit(code)
