"""Coordination of the per-host deploy threads: lock-step, serial, run-once, bounds.

Each host runs its deploy in its own thread and operations run as soon as they are
called. The scheduler decides *when* an operation may start:

* ``lockstep`` (default): a host starts its n-th operation only once every other host
  still running has finished its (n-1)-th, so an operation has finished everywhere
  before the next one starts (counted per host, so it stays deadlock-free when hosts
  run different operations: the host that is furthest behind can always proceed);
* ``serial``: as lock-step, and within one step hosts go one at a time in inventory
  order (``--serial``);
* ``no_wait``: hosts never wait for each other (``--no-wait``).

Independently of the mode, at most ``parallel`` operations execute at once (the
``PARALLEL`` setting), ``_serial=True`` runs that operation on one host at a time,
``_parallel=N`` on at most N hosts at a time, and ``_run_once=True`` on the first host
that reaches it only. A ``stop()`` (FAIL_PERCENT reached, Ctrl-C) makes every waiting
and every later operation raise :class:`RunStopped`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyinfra.api.exceptions import PyinfraError

if TYPE_CHECKING:
    from pyinfra.api.host import Host

MODES = ("lockstep", "serial", "no_wait")


class RunStopped(PyinfraError):
    """The run was stopped (too many failed hosts, interrupt): remaining operations skip."""


@dataclass
class RunOnce:
    owner: Host
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None


@dataclass
class Turn:
    """What a host may do with the operation it asked a turn for."""

    run: bool = True
    run_once_owner: str | None = None


class Scheduler:
    def __init__(
        self, hosts: list[Host], mode: str = "lockstep", parallel: int = 0, diff: bool = False
    ) -> None:
        if mode not in MODES:
            raise PyinfraError(f"unknown run mode {mode!r}: choose one of {', '.join(MODES)}")
        self.mode = mode
        self.diff = diff  # operations attach unified diffs of the file contents they change
        self.hosts = list(hosts)
        self._index = {host: i for i, host in enumerate(self.hosts)}
        # Operations each host has started and finished. They differ while a host's
        # finished operations still have commands in its queue (deferred: see
        # cmdqueue); they complete, and count as finished, once those have run.
        self._started: dict[Host, int] = {host: 0 for host in self.hosts}
        self._completed: dict[Host, int] = {host: 0 for host in self.hosts}
        self._done: set[Host] = set()
        self._cond = threading.Condition()
        self._stopped: str | None = None
        self._slots = threading.BoundedSemaphore(parallel) if parallel > 0 else None
        # A host may read ahead of its turn (see cmdqueue) only where waiting for the
        # turn cannot hold a slot another host needs to get there.
        self.reads_ahead = mode == "lockstep" and (parallel <= 0 or parallel >= len(self.hosts))
        self._locks: dict[Hashable, threading.Lock] = {}
        self._bounds: dict[Hashable, threading.BoundedSemaphore] = {}
        self._once: dict[Hashable, RunOnce] = {}
        self._registry_lock = threading.Lock()
        self._occurrences: dict[Host, dict[Hashable, int]] = {}
        self.first_seen: dict[Hashable, int] = {}
        self.failed: set[Host] = set()
        self.on_failure: Callable[[Host, str], None] | None = None

    # Run-wide state ----------------------------------------------------------

    @property
    def stopped(self) -> str | None:
        return self._stopped

    def stop(self, reason: str) -> None:
        with self._cond:
            if self._stopped is None:
                self._stopped = reason
            self._cond.notify_all()

    def host_done(self, host: Host) -> None:
        """The host ran its whole deploy, or failed: nobody waits for it any more."""
        with self._cond:
            self._done.add(host)
            self._cond.notify_all()

    def _check_stopped(self) -> None:
        if self._stopped is not None:
            raise RunStopped(f"not run: {self._stopped}")

    # Ordering -----------------------------------------------------------------

    def _may_start(self, host: Host) -> bool:
        if self._stopped is not None or self.mode == "no_wait" or host not in self._index:
            return True
        step = self._started[host]
        mine = self._index[host]
        for other, completed in self._completed.items():
            if other is host or other in self._done:
                continue
            needed = step
            if self.mode == "serial" and self._index[other] < mine:
                needed = step + 1
            if completed < needed:
                return False
        return True

    # One operation -------------------------------------------------------------

    def note_operation(self, key: Hashable) -> int:
        """Order of first appearance of an operation (for results tables)."""
        with self._registry_lock:
            return self.first_seen.setdefault(key, len(self.first_seen))

    def wait_turn(self, host: Host, settle: Callable[[], object] | None = None) -> None:
        """Block until ``host`` may start its next operation (see the module doc).
        ``settle`` sends the host's deferred commands: called before blocking, since
        the hosts waited for may be waiting for those."""
        if settle is not None:
            with self._cond:
                ready = self._may_start(host)
            if not ready:
                settle()
        with self._cond:
            self._cond.wait_for(lambda: self._may_start(host))
            self._check_stopped()
            if host in self._started:
                self._started[host] += 1

    def try_turn(self, host: Host) -> bool:
        """Take ``host``'s turn for its next operation if it may start now."""
        with self._cond:
            if not self._may_start(host):
                return False
            self._check_stopped()
            if host in self._started:
                self._started[host] += 1
            return True

    def finish_step(self, host: Host) -> None:
        """``host`` finished (or skipped) the operation it waited its turn for."""
        with self._cond:
            if host in self._completed:
                self._completed[host] += 1
            self._cond.notify_all()

    def occurrence(self, host: Host, site: Hashable) -> int:
        """How many times ``host`` already called the operation at this call site."""
        with self._registry_lock:
            counts = self._occurrences.setdefault(host, {})
            count = counts.get(site, 0)
            counts[site] = count + 1
            return count

    def host_failed(self, host: Host, error: str) -> None:
        """``host`` failed: record it and tell the runner (before any other host moves on)."""
        with self._registry_lock:
            if host in self.failed:
                return
            self.failed.add(host)
        if self.on_failure is not None:
            self.on_failure(host, error)

    @contextmanager
    def hold(
        self,
        host: Host,
        key: Hashable,
        serial: bool = False,
        parallel: int | None = None,
        run_once: bool = False,
    ) -> Iterator[Turn]:
        """Take what operation ``key`` needs to run on ``host``: its run-once claim,
        its ``_serial`` lock or ``_parallel`` bound, and one of the run's slots."""
        self.note_operation(key)
        with ExitStack() as stack:
            if run_once:
                record, owner = self._claim(key, host)
                if not owner:
                    record.done.wait()
                    yield Turn(run=False, run_once_owner=record.owner.name)
                    return
                stack.callback(record.done.set)
            if serial:
                stack.enter_context(self._lock_for(key))
            if parallel:
                stack.enter_context(self._bound_for(key, parallel))
            if self._slots is not None:
                stack.enter_context(self._slots)
            self._check_stopped()
            yield Turn()

    def _claim(self, key: Hashable, host: Host) -> tuple[RunOnce, bool]:
        with self._registry_lock:
            record = self._once.get(key)
            if record is None:
                record = self._once[key] = RunOnce(host)
                return record, True
            return record, False

    def _lock_for(self, key: Hashable) -> threading.Lock:
        with self._registry_lock:
            return self._locks.setdefault(key, threading.Lock())

    def _bound_for(self, key: Hashable, size: int) -> threading.BoundedSemaphore:
        with self._registry_lock:
            return self._bounds.setdefault(key, threading.BoundedSemaphore(max(1, size)))
