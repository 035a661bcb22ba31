"""Read a list of facts on one host and print their values as one JSON document.

Run by bench/compare_pkg_facts.py under both interpreters (pyinfra 3.10 and ours):

    PYTHON bench/pkg_facts_worker.py @docker/CONTAINER FACTS.json

FACTS.json is a list of ``[label, "module.Class", {kwargs}]``. Values are encoded with
their types (list/tuple/set, dataclasses, named tuples) so that two values compare
equal only when a caller would see the same thing.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys
from typing import Any

from pyinfra.api import Config, Inventory, State


def encode(value: Any) -> Any:
    """A JSON value that keeps the Python types a caller could tell apart."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"__dataclass__": type(value).__name__, **fields}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {
            "__namedtuple__": type(value).__name__,
            **{k: encode(v) for k, v in value._asdict().items()},
        }
    if isinstance(value, dict):
        return {
            "__dict__": sorted([[encode(k), encode(v)] for k, v in value.items()], key=json.dumps)
        }
    if isinstance(value, (set, frozenset)):
        return {"__set__": sorted((encode(v) for v in value), key=json.dumps)}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return {"__object__": type(value).__name__, "repr": repr(value)}


def main() -> None:
    target, facts_file = sys.argv[1], sys.argv[2]
    with open(facts_file) as handle:
        wanted = json.load(handle)
    inventory = Inventory(([target], {}))
    state = State(inventory, Config())
    host = inventory.get_host(target)
    host.connect()
    results: dict[str, Any] = {}
    for label, fact_name, kwargs in wanted:
        module_name, class_name = fact_name.rsplit(".", 1)
        try:
            module = importlib.import_module(f"pyinfra.facts.{module_name}")
            fact_cls = getattr(module, class_name)
            value = host.get_fact(fact_cls, **kwargs)
            results[label] = {"value": encode(value)}
        except Exception as exc:  # noqa: BLE001 - reported, compared as an error
            results[label] = {"error": f"{type(exc).__name__}: {exc}"}
    host.disconnect()
    del state
    print(json.dumps(results))


if __name__ == "__main__":
    main()
