"""Helpers for the docker / podman / chroot integration tests."""

from __future__ import annotations

import contextlib
import os
import pickle
from collections.abc import Callable, Iterator
from typing import Any

from pyinfra.api.host import Host
from tests.helpers.hosts import new_host


@contextlib.contextmanager
def connected(name: str, data: dict[str, Any] | None = None) -> Iterator[Host]:
    host = new_host(name, data)
    host.connect(raise_exceptions=True)
    try:
        yield host
    finally:
        host.disconnect()


def connect_error(name: str, data: dict[str, Any] | None = None) -> str:
    """The message of the ConnectError that connecting raises (asserts that it does)."""
    from pyinfra.api.exceptions import ConnectError

    host = new_host(name, data)
    try:
        host.connect(raise_exceptions=True)
    except ConnectError as exc:
        return str(exc)
    finally:
        host.disconnect()
    raise AssertionError(f"connecting {name} did not fail")


def as_nobody(func: Callable[[], str]) -> str:
    """Run ``func`` in a forked child with the uid/gid of ``nobody``; its result.

    Everything ``func`` needs must already be imported (nobody cannot read /root)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                result: Any = func()
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                result = f"{type(exc).__name__}: {exc}"
            with os.fdopen(write_fd, "wb") as out:
                pickle.dump(result, out)
        except BaseException:  # noqa: BLE001
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as handle:
        data = handle.read()
    os.waitpid(pid, 0)
    return str(pickle.loads(data)) if data else "<child failed>"
