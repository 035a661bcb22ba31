"""Reading many facts in one round trip.

Over a real network a fact read costs a round trip, and operations read facts one at a
time. Two things here remove most of those round trips, without ever keeping a value
longer than the fact cache of the run does:

* **Batched re-reads.** Each host remembers the fact queries it made (its *wanted*
  queries). When a fact is missing from the cache, every wanted query that is missing
  too (dropped by an operation that changed something, or not read yet) is read with
  it, in one shell command: the values are current, since they are read now.
* **Prefetch.** The queries a deploy made last time on a host (only the queries, never
  the values) are kept in a small file per inventory; right after connecting, they
  become the host's wanted queries and are read in one round trip.

A batched query that fails (non-zero exit, unparsable output) is simply not cached: the
operation that needs it reads it again on its own and reports the error as usual.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import re
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pyinfra.api.cmdbatch import cut_at_markers
from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import FactError
from pyinfra.api.factrun import (
    FactQuery,
    count_fetch,
    fact_command,
    make_query,
    parse_fact_output,
)
from pyinfra.api.parallel import run_on_hosts

if TYPE_CHECKING:
    from pyinfra.api.factcache import FactKey
    from pyinfra.api.host import Host
    from pyinfra.api.state import State

logger = logging.getLogger("pyinfra")

MAX_BATCH = 64
_FORMAT = "pyinfra-fact-queries"
_VERSION = 1


def group_of(query: FactQuery) -> str:
    """Queries of one group run in one command (same privileges, same shell)."""
    return json.dumps(
        {k: v for k, v in query.connector_kwargs.items() if not k.endswith("_password")},
        sort_keys=True,
        default=str,
    )


_batchable: dict[FactKey, bool] = {}


def batchable(query: FactQuery) -> bool:
    """Whether a fact can share a command with others; not those that need their own: a
    shell of their own, preconditions to check first, input (a secret on stdin...), a
    timeout or a terminal."""
    known = _batchable.get(query.key)
    if known is not None:
        return known
    fact_cls = query.fact_cls
    alone = bool(getattr(fact_cls, "shell_executable", None)) or callable(
        getattr(fact_cls, "check_preconditions", None)
    )
    alone = alone or any(k in query.connector_kwargs for k in ("_stdin", "_timeout", "_get_pty"))
    if not alone:
        try:
            command = fact_cls().command(**query.fact_kwargs)
        except Exception:  # noqa: BLE001 - the fact's own read will report it
            command = None
        alone = command is None or bool(getattr(command, "connector_arguments", None))
    _batchable[query.key] = not alone
    return not alone


class WantedQueries:
    """The order in which a host reads its facts: last run's (when remembered) followed
    by this run's new ones, with a cursor at the furthest point this run has reached.

    A miss reads ahead: the queries beyond the cursor that the cache lacks (the facts
    the deploy read next last time) come in the same command. Queries this run has
    already passed are read again only when asked for (an operation dropped them because
    it changed what they describe; later operations may not need them again).
    """

    def __init__(self) -> None:
        self._sequence: list[FactQuery] = []
        self._position: dict[FactKey, int] = {}
        self._cursor = -1
        self._lock = threading.Lock()
        self._used: dict[FactKey, FactQuery] = {}  # asked for in this run, in order
        self.remembered = False

    def add(self, query: FactQuery, used: bool = True) -> int:
        """Add ``query`` (``used``: asked for in this run; else remembered from the
        last one, only read ahead)."""
        with self._lock:
            position = self._position.get(query.key)
            if position is None:
                position = self._position[query.key] = len(self._sequence)
                self._sequence.append(query)
            if used:
                self._used.setdefault(query.key, query)
            return position

    def restart(self) -> None:
        """A new run: everything is ahead again, nothing asked for yet."""
        with self._lock:
            self._cursor = -1
            self._used.clear()

    def used(self) -> list[FactQuery]:
        """The queries this run asked for (what the next run prefetches: a query
        remembered from an earlier run and not asked for again is forgotten)."""
        with self._lock:
            return list(self._used.values())

    def ahead(
        self, host: Host, like: FactQuery, limit: int = MAX_BATCH, used: bool = True
    ) -> list[FactQuery]:
        """``like``, then the queries beyond the cursor that the cache lacks (same group);
        the cursor moves to ``like`` (``used``: the run asked for it; not a prefetch)."""
        position = self.add(like, used=used)
        with self._lock:
            following = self._sequence[max(position, self._cursor) + 1 :]
            self._cursor = max(self._cursor, position)
        group = group_of(like)
        out = [like]
        for query in following:
            if len(out) >= limit:
                break
            if (
                group_of(query) == group
                and host.fact_cache.get(query.key) is None
                and batchable(query)
            ):
                out.append(query)
        return out

    def all(self) -> list[FactQuery]:
        with self._lock:
            return list(self._sequence)


# One shell command for many facts -----------------------------------------------------


def _script(queries: list[FactQuery], token: str) -> StringCommand:
    bits: list[Any] = []
    for index, query in enumerate(queries):
        command = fact_command(query.fact_cls(), query.fact_kwargs)
        bits += ["(", command, "\n)", "2>/dev/null", "</dev/null;"]
        bits += ["printf", f"'\\n{token} {index} %d\\n'", '"$?";']
    return StringCommand(*bits)


def _split(lines: list[str], token: str, count: int) -> dict[int, tuple[int, list[str]]]:
    """``{index: (exit status, output lines)}`` from the batch's stdout."""
    marker = re.compile(rf"^{re.escape(token)} (\d+) (\d+)$")
    chunks, _rest = cut_at_markers(lines, marker)
    results: dict[int, tuple[int, list[str]]] = {}
    for current, found in chunks:
        index, status = int(found.group(1)), int(found.group(2))
        if index < count:
            results[index] = (status, current)
    return results


def read_batch(host: Host, queries: list[FactQuery]) -> dict[FactKey, Any]:
    """Read ``queries`` (one group) in one command; the values of those that worked."""
    token = f"__pyinfra_fact_{secrets.token_hex(8)}__"
    state = host.state
    print_input = bool(state is not None and state.print_input)
    command = _script(queries, token)
    # Commands queued on the host (by this operation, or deferred by earlier ones) go
    # in front: they run first, and the first that fails stops the read (raised).
    prefix = host.command_queue.prefix(queries[0].connector_kwargs)
    if prefix is not None:
        command = StringCommand(prefix.script, command)
    started = time.monotonic()
    try:
        extra: dict[str, Any] = {"_stdin": prefix.stdin} if prefix and prefix.stdin else {}
        ok, output = host.run_shell_command(
            command, print_input=print_input, **queries[0].connector_kwargs, **extra
        )
    except Exception as exc:
        if prefix is not None:
            prefix.lost(exc)
        raise
    if prefix is not None:
        output = prefix.consume(output, time.monotonic() - started)
        ok = output.exit_code == 0
    values: dict[FactKey, Any] = {}
    if not ok and not output.stdout_lines:
        return values
    for index, (status, lines) in _split(output.stdout_lines, token, len(queries)).items():
        query = queries[index]
        if status != 0:
            continue
        count_fetch(host, query.fact_cls)
        try:
            values[query.key] = parse_fact_output(
                host, query.fact_cls(), query.fact_kwargs, lines
            )
        except FactError:
            continue
    return values


# Queries remembered per inventory -------------------------------------------------------


def _cache_dir(state: State) -> str:
    configured = getattr(state.config, "FACT_QUERY_CACHE_DIR", None)
    if configured:
        return str(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pyinfra", "fact-queries")


def cache_path(state: State, deploy_key: str = "") -> str:
    """One file per inventory (its host names) and deploy (its files, or what ran)."""
    names = sorted(host.name for host in state.inventory) if state.inventory is not None else []
    digest = hashlib.sha1("\0".join([*names, "--", deploy_key]).encode()).hexdigest()
    return os.path.join(_cache_dir(state), f"{digest}.json")


def _jsonable(value: Any) -> bool:
    try:
        return bool(json.loads(json.dumps(value)) == value)
    except (TypeError, ValueError):
        return False


def _fact_class(path: str) -> type[Any] | None:
    """The fact class ``module:Class`` names, if that module is a pyinfra fact module or
    is already imported (a cache file never makes us import anything else)."""
    module_name, _, class_name = path.partition(":")
    module = sys.modules.get(module_name)
    if module is None and module_name.startswith("pyinfra.facts."):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            return None
    cls = getattr(module, class_name, None) if module is not None else None
    is_fact = isinstance(cls, type) and all(
        callable(getattr(cls, name, None)) for name in ("command", "process", "default")
    )
    return cls if is_fact else None


def load_queries(state: State, deploy_key: str = "") -> dict[str, list[FactQuery]]:
    """The queries saved for this inventory and deploy, per host name (``{}``: none, or
    an unusable file)."""
    path = cache_path(state, deploy_key)
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        logger.warning("ignoring the fact query cache %s: %s", path, exc)
        return {}
    if not isinstance(document, dict) or document.get("format") != _FORMAT:
        logger.warning("ignoring the fact query cache %s: not a pyinfra fact query file", path)
        return {}
    out: dict[str, list[FactQuery]] = {}
    hosts = document.get("hosts")
    for name, entries in (hosts.items() if isinstance(hosts, dict) else []):
        queries: list[FactQuery] = []
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            cls = _fact_class(str(entry.get("fact", "")))
            kwargs, connector = entry.get("args"), entry.get("connector")
            if cls is None or not isinstance(kwargs, dict) or not isinstance(connector, dict):
                continue
            try:
                queries.append(make_query(cls, kwargs, connector))
            except (TypeError, ValueError):
                continue
        out[str(name)] = queries
    return out


def save_queries(state: State, hosts: Iterable[Host], deploy_key: str = "") -> None:
    """Remember which facts each host read (other hosts' entries in the file stay)."""
    path = cache_path(state, deploy_key)
    stored: dict[str, Any] = {}
    try:
        with open(path, encoding="utf-8") as handle:
            previous = json.load(handle)
        if isinstance(previous, dict) and previous.get("format") == _FORMAT:
            if isinstance(previous.get("hosts"), dict):
                stored.update(previous["hosts"])
    except (OSError, ValueError):
        pass  # no previous file, or an unusable one: written anew below
    for host in hosts:
        entries = []
        for query in host.fact_queries.used():
            if not (_jsonable(query.fact_kwargs) and _jsonable(query.connector_kwargs)):
                continue
            entries.append(
                {
                    "fact": f"{query.fact_cls.__module__}:{query.fact_cls.__qualname__}",
                    "args": query.fact_kwargs,
                    "connector": {
                        k: v for k, v in query.connector_kwargs.items() if "password" not in k
                    },
                }
            )
        stored[host.name] = entries[: MAX_BATCH * 4]
    document = {"format": _FORMAT, "version": _VERSION, "hosts": stored}
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        descriptor, temp = tempfile.mkstemp(dir=directory, prefix=".queries-")
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump(document, out)
        os.replace(temp, path)
    except OSError as exc:
        logger.warning("could not save the fact query cache %s: %s", path, exc)


def remember(state: State, hosts: list[Host], deploy_key: str = "") -> None:
    """Give each host the order its facts were read in last time (queries, not values);
    its first fact read then reads ahead along it."""
    saved = load_queries(state, deploy_key)
    for host in hosts:
        host.fact_queries.remembered = True
        for query in saved.get(host.name, []):
            host.fact_queries.add(query, used=False)


def prefetch(state: State, hosts: list[Host], deploy_key: str = "") -> None:
    """Right after connecting: read, on every host in parallel, the facts it read last
    time (one command per host and privilege group)."""
    remember(state, hosts, deploy_key)

    def fetch(host: Host) -> None:
        groups: dict[str, FactQuery] = {}
        for query in host.fact_queries.all():
            if host.fact_cache.get(query.key) is None and batchable(query):
                groups.setdefault(group_of(query), query)
        for first in groups.values():
            batch = host.fact_queries.ahead(host, first, used=False)
            for key, value in read_batch(host, batch).items():
                query = next(q for q in batch if q.key == key)
                host.fact_cache.put(key, value, query.fact_kwargs)

    for host, result in run_on_hosts(state, hosts, fetch).items():
        if isinstance(result, BaseException):
            logger.debug("prefetching facts on %s failed: %s", host.name, result)
