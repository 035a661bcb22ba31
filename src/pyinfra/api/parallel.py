"""Run a function on many hosts at once through a bounded thread pool."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from pyinfra.connectors.util import kill_all_processes

if TYPE_CHECKING:
    from pyinfra.api.host import Host
    from pyinfra.api.state import State

T = TypeVar("T")


def pool_size(state: State | None, count: int) -> int:
    configured = state.config.PARALLEL if state is not None else 0
    if configured and configured > 0:
        return max(1, min(int(configured), count))
    return max(1, min(count, max(32, (os.cpu_count() or 1) * 16), 100))


def run_on_hosts(
    state: State | None,
    hosts: Iterable[Host],
    fn: Callable[[Host], T],
) -> dict[Host, T | BaseException]:
    """``fn(host)`` for every host in parallel; exceptions are returned, not raised."""
    host_list = list(hosts)
    results: dict[Host, T | BaseException] = {}
    if not host_list:
        return results
    pool = ThreadPoolExecutor(
        max_workers=pool_size(state, len(host_list)), thread_name_prefix="pyinfra-host"
    )
    try:
        futures = {host: pool.submit(fn, host) for host in host_list}
        for host, future in futures.items():
            try:
                results[host] = future.result()
            except Exception as exc:  # noqa: BLE001 - collected per host
                results[host] = exc
    except KeyboardInterrupt:
        # Ctrl-C: stop queued work and kill every command in flight on every target.
        pool.shutdown(wait=False, cancel_futures=True)
        kill_all_processes()
        raise
    pool.shutdown(wait=True)
    return results


def connect_all(state: State, hosts: Iterable[Host] | None = None) -> list[Host]:
    """Connect the hosts (default: every host of the inventory within the state's limit)
    in parallel; connected hosts become active, failed ones are marked failed.

    Returns the hosts that are connected.
    """
    if hosts is not None:
        targets = list(hosts)
    else:
        inventory = list(state.inventory) if state.inventory is not None else []
        targets = [host for host in inventory if state.is_host_in_limit(host)]

    def connect(host: Host) -> bool:
        return host.connect(show_errors=False)

    results = run_on_hosts(state, targets, connect)
    for host, result in results.items():
        if isinstance(result, BaseException):
            state.fail_hosts({host}, error=f"{host.name}: {type(result).__name__}: {result}")
    return [h for h in targets if results.get(h) is True]


def disconnect_all(state: State, hosts: Iterable[Host] | None = None) -> None:
    """Disconnect every connected host in parallel; errors are ignored (logged)."""
    inventory = state.inventory
    targets = list(hosts) if hosts is not None else (list(inventory) if inventory else [])

    def disconnect(host: Host) -> Any:
        if host.connected or getattr(host, "_connector", None) is not None:
            host.disconnect()
        return None

    run_on_hosts(state, [h for h in targets], disconnect)
