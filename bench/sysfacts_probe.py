"""Read a list of facts from one host and print them as normalised JSON.

Run by bench/compare_sys_facts.py with pyinfra 3.10's interpreter and with ours (the
same file works with both: it only uses the public API). Input (stdin, JSON):
``{"host": "@docker/NAME", "facts": [["server.Users", {}], ...]}``. Output (stdout):
``{"server.Users {}": {"value": ...} | {"error": "ExceptionName"}}``.
"""

from __future__ import annotations

import datetime
import importlib
import json
import logging
import sys
from typing import Any


def normalise(value: Any) -> Any:
    """Plain JSON for any fact value (sets, tuples, datetimes and CrontabFile tagged)."""
    if type(value).__name__ == "CrontabFile":
        return {"__crontab__": normalise(value.commands)}
    if isinstance(value, dict):
        return {"__dict__": sorted([[repr(k), normalise(v)] for k, v in value.items()])}
    if isinstance(value, (set, frozenset)):
        return {"__set__": sorted(json.dumps(normalise(v), sort_keys=True) for v in value)}
    if isinstance(value, tuple):
        return {"__tuple__": [normalise(v) for v in value]}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, datetime.datetime):
        return {"__datetime__": value.isoformat()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return {"__repr__": repr(value)}


def main() -> None:
    logging.disable(logging.CRITICAL)
    request = json.load(sys.stdin)
    from pyinfra.api import Config, Inventory, State

    def connect() -> Any:
        inventory = Inventory(([request["host"]], {}))
        state = State(inventory, Config())
        host = inventory.get_host(request["host"])
        host.connect(raise_exceptions=True)
        return state, host

    def read(state: Any, host: Any, fact: Any, kwargs: dict[str, Any]) -> Any:
        try:  # pyinfra 3.10: facts reach the host through context variables
            from pyinfra.context import ctx_host, ctx_state
        except ImportError:
            return host.get_fact(fact, **kwargs)
        with ctx_state.use(state), ctx_host.use(host):
            return host.get_fact(fact, **kwargs)

    state, host = connect()
    results: dict[str, Any] = {}
    for path, kwargs in request["facts"]:
        module, name = path.rsplit(".", 1)
        key = f"{path} {json.dumps(kwargs, sort_keys=True)}"
        try:
            fact = getattr(importlib.import_module(f"pyinfra.facts.{module}"), name)
            results[key] = {"value": normalise(read(state, host, fact, kwargs))}
        except Exception as exc:  # noqa: BLE001 - reported, compared by class name
            results[key] = {"error": type(exc).__name__, "message": str(exc)[:200]}
            host.disconnect()
            state, host = connect()  # pyinfra 3.10 fails the host after a fact error
    host.disconnect()
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
