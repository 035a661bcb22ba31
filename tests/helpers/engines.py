"""Container engines and root filesystems for tests (real dockerd, podman, debootstrap).

Everything is prepared by scripts/setup-docker.sh (idempotent, cached under
/var/cache/pyinfra-test, serialised by a lock file so concurrent callers are safe);
these helpers call its steps once per process and answer with a skip reason (a
string) or ``None`` when the component is ready::

    reason = ensure_base_image()
    if reason:
        pytest.skip(reason)        # or require(reason): fails instead under CI=true

``dockerd`` and the podman API service are started in the background when they are not
running and left running for later runs (see the script's header for their pid files).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETUP_SCRIPT = ROOT / "scripts" / "setup-docker.sh"
CACHE = Path(os.environ.get("PYINFRA_TEST_CACHE", "/var/cache/pyinfra-test"))
BASE_IMAGE = "pyinfra-test-base:bookworm"
SSHD_IMAGE = "pyinfra-test-sshd:bookworm"
CONTAINERS_CONF = CACHE / "containers.conf"
PODMAN_RUN_LIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"]

_lock = threading.Lock()
_results: dict[str, str | None] = {}


def _run_steps(*steps: str) -> str | None:
    """Run setup steps once per process; the skip reason or None."""
    key = " ".join(steps)
    with _lock:
        if key in _results:
            return _results[key]
        reason: str | None = None
        if os.geteuid() != 0:
            reason = "container tests need root (dockerd, podman, debootstrap, chroot)"
        elif not SETUP_SCRIPT.exists():
            reason = f"{SETUP_SCRIPT} is missing"
        else:
            # The script takes its own lock file; this one also covers callers that
            # run it from other processes at the same time (pytest-xdist, helpers).
            CACHE.mkdir(parents=True, exist_ok=True)
            with open(CACHE / "engines-py.lock", "w") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                result = subprocess.run(
                    ["bash", str(SETUP_SCRIPT), *steps],
                    capture_output=True,
                    text=True,
                    timeout=1200,
                    check=False,
                )
            if result.returncode != 0:
                tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
                reason = f"scripts/setup-docker.sh {key} failed: {' | '.join(tail)}"
        _results[key] = reason
        return reason


def ensure_dockerd() -> str | None:
    """dockerd installed and answering on /var/run/docker.sock."""
    return _run_steps("packages", "dockerd")


def ensure_base_image() -> str | None:
    """The debootstrap image ``pyinfra-test-base:bookworm`` in docker."""
    return _run_steps("packages", "dockerd", "base")


def ensure_sshd_image() -> str | None:
    """``pyinfra-test-sshd:bookworm`` (base + openssh-server + sudo) in docker.

    Safe to call from several threads and processes at once (file lock)."""
    return _run_steps("packages", "dockerd", "sshd")


def ensure_podman() -> str | None:
    """podman, the base image in podman, and its API service on /run/podman/podman.sock."""
    reason = _run_steps("packages", "podman")
    if reason is None:
        os.environ.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
    return reason


def ensure_rootfs() -> str | None:
    """The debootstrap tree (see :func:`rootfs_dir`)."""
    return _run_steps("packages", "rootfs")


def rootfs_dir() -> Path:
    """The cached bookworm minbase tree. Shared: copy it before changing anything."""
    return CACHE / "bookworm-rootfs"


def require(reason: str | None) -> None:
    """Skip the test for ``reason`` (fail instead under CI, where all must be present)."""
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


# -- running containers --------------------------------------------------------------------


def engine_cli(engine: str) -> list[str]:
    if engine == "podman":
        return ["podman"]
    return [shutil.which("docker") or "docker"]


def engine_env(engine: str) -> dict[str, str]:
    env = dict(os.environ)
    if engine == "podman":
        env.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
    return env


def cli(engine: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``docker ARGS`` / ``podman ARGS``; raise with stderr on failure if ``check``."""
    result = subprocess.run(
        [*engine_cli(engine), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=engine_env(engine),
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"{engine} {' '.join(args)}: {result.stderr.strip()}")
    return result


def run_container(
    engine: str,
    image: str = BASE_IMAGE,
    name: str | None = None,
    command: tuple[str, ...] = ("sleep", "infinity"),
    extra: tuple[str, ...] = (),
) -> str:
    """Start a detached container; returns its name (``pyi-test-...``)."""
    name = name or f"pyi-test-{uuid.uuid4().hex[:10]}"
    limits = PODMAN_RUN_LIMITS if engine == "podman" else []
    cli(engine, "run", "-d", "--name", name, *limits, *extra, image, *command)
    return name


def remove_container(engine: str, name: str) -> None:
    cli(engine, "rm", "-f", name, check=False)


def remove_image(engine: str, image: str) -> None:
    cli(engine, "rmi", "-f", image, check=False)


@contextlib.contextmanager
def container(engine: str, **kwargs: object) -> Iterator[str]:
    name = run_container(engine, **kwargs)  # type: ignore[arg-type]
    try:
        yield name
    finally:
        remove_container(engine, name)


def container_state(engine: str, name: str) -> str:
    """``running``, ``exited``, ... or ``missing``."""
    result = cli(engine, "inspect", "-f", "{{.State.Status}}", name, check=False)
    return result.stdout.strip() if result.returncode == 0 else "missing"


_PS_SCRIPT = r"""for d in /proc/[0-9]*; do
  s=$(cat "$d/stat" 2>/dev/null) || continue; s=${s##*) }; set -- $s
  [ "$1" = Z ] && continue
  printf '%s ' "${d#/proc/}"; tr '\0' ' ' < "$d/cmdline" 2>/dev/null; echo
done"""


def container_processes(engine: str, name: str) -> list[str]:
    """Command lines of the live (non-zombie) processes inside a container."""
    result = cli(engine, "exec", "-u", "0", name, "sh", "-c", _PS_SCRIPT, check=False)
    me = "pyinfra-ps"
    return [line for line in result.stdout.splitlines() if line.strip() and me not in line]


def container_process_exists(engine: str, name: str, text: str) -> bool:
    """True if a live process inside the container has ``text`` in its command line."""
    return any(text in line.split(" ", 1)[-1] for line in container_processes(engine, name))


def chroot_process_exists(root: Path, text: str) -> bool:
    """True if a live process whose root directory is ``root`` has ``text`` in its argv."""
    real_root = os.path.realpath(root)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/root") != real_root:
                continue
            with open(f"/proc/{entry}/stat") as handle:
                if handle.read().rsplit(")", 1)[-1].split()[0] == "Z":
                    continue
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            return True
    return False
