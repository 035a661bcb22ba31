"""Tables scripts built on pyinfra 3.x print: ``print_meta(state)`` (what the planned
operations will change) and ``print_results(state)`` (what they did)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from pyinfra.api.host import Host
from pyinfra.api.state import State
from pyinfra_cli import jsonout


def _hosts_text(names: list[str]) -> str:
    return f"{len(names)} ({', '.join(names)})" if names else "-"


def _activated(state: State) -> list[Host]:
    return list(state.inventory.iter_activated_hosts()) if state.inventory is not None else []


def print_meta(state: State) -> None:
    """One row per planned operation: the hosts it will change."""
    table = Table("Operation", "Change", "Conditional Change", show_edge=False)
    for entry in jsonout.plan_json(state, _activated(state), True):
        table.add_row(
            entry["name"],
            _hosts_text(entry["hosts_with_change"]),
            _hosts_text(entry["hosts_with_conditional_change"]),
        )
    Console(highlight=False, markup=False).print(table)


def print_results(state: State) -> None:
    """One row per executed operation: hosts, successes, errors, no changes; totals."""
    results = jsonout.results_json(state, _activated(state))
    table = Table("Operation", "Hosts", "Success", "Error", "No Change", show_edge=False)
    for entry in results["operations"]:
        table.add_row(
            entry["name"],
            str(entry["hosts"]),
            str(len(entry["success"]) or "-"),
            str(len(entry["error"]) or "-"),
            str(len(entry["no_change"]) or "-"),
        )
    totals = results["totals"]
    table.add_row(
        "Grand total",
        str(totals["hosts"]),
        str(totals["success"] or "-"),
        str(totals["error"] or "-"),
        str(totals["no_change"] or "-"),
    )
    Console(highlight=False, markup=False).print(table)
