"""Wait for a host to come back after ``server.reboot``.

The host counts as rebooted when its :class:`~pyinfra.facts.server.BootMarker`
differs from the one read before the reboot (uptime alone cannot tell: a container
shows its host's uptime). Reconnecting goes through the host's own connector, so it
works the same over SSH, docker, podman...; failed attempts do not mark the host as
failed, only running out of ``reboot_timeout`` does.
"""

from __future__ import annotations

import logging
import time

from pyinfra.api.exceptions import ConnectError, FactError, OperationError, PyinfraError
from pyinfra.api.host import Host
from pyinfra.facts.server import BootMarker

logger = logging.getLogger("pyinfra")


def _reconnect(host: Host) -> bool:
    """One quiet connection attempt (no error shown, the host not marked failed)."""
    with host._lock:
        if host.connected:
            return True
        try:
            host.connector.connect()
        except (PyinfraError, OSError) as exc:
            logger.debug("%s: not reachable yet: %s", host.name, exc)
            return False
        host.connected = True
        return True


def _drop_connection(host: Host) -> None:
    try:
        host.disconnect()
    except (PyinfraError, OSError) as exc:  # the old session died with the reboot
        logger.debug("%s: disconnect after reboot: %s", host.name, exc)


def wait_for_reboot(
    host: Host, before: str, delay: float, interval: float, reboot_timeout: float
) -> bool:
    """Sleep ``delay`` s, then reconnect every ``interval`` s until the boot marker
    changed; :class:`OperationError` once ``reboot_timeout`` s have passed."""
    started = time.monotonic()
    deadline = started + reboot_timeout
    time.sleep(max(0.0, delay))
    _drop_connection(host)
    probe_timeout = max(5.0, interval * 5)
    attempts = 0
    while True:
        attempts += 1
        if _reconnect(host):
            host.invalidate_facts(BootMarker)
            try:
                now = host.get_fact(BootMarker, _timeout=probe_timeout)
            except (FactError, ConnectError) as exc:
                logger.debug("%s: reconnected, boot check failed: %s", host.name, exc)
                now = ""
            if now and now != before:
                host.invalidate_facts()  # even "stable" facts: the kernel may be new
                logger.debug("%s: back after %.1f s", host.name, time.monotonic() - started)
                return True
            _drop_connection(host)  # still going down, or not answering yet
        if time.monotonic() + interval > deadline:
            raise OperationError(
                f"{host.name} did not come back within reboot_timeout={reboot_timeout:g} s "
                f"(waited {delay:g} s, then {attempts} reconnection attempts every "
                f"{interval:g} s); check the host's console"
            )
        time.sleep(interval)
