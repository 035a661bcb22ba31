"""Manage iptables/ip6tables chains and rules.

A rule is compared with the table's rules as ``iptables-save`` prints them (one read
per table, shared by every rule operation on it). A rule the kernel refuses fails
with iptables' own message.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.exceptions import FactError
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.iptables import Ip6tablesChains, Ip6tablesRules, IptablesChains, IptablesRules
from pyinfra.operations.util import fail

Commands = Generator[Any, Any, None]

_NAME = re.compile(r"^[A-Za-z0-9_.:+-]+$")


def _word(op: str, value: Any, argument: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise fail(op, f"argument {argument} is not valid: {value!r}")
    return value


def _version(op: str, version: Any) -> int:
    if version not in (4, 6) or isinstance(version, bool):
        raise fail(op, f"argument version must be 4 or 6, got {version!r}")
    return int(version)


def _fact(op: str, fact: Any, table: str) -> Any:
    try:
        return host.get_fact(fact, table=table)
    except FactError as exc:
        raise fail(op, str(exc).removeprefix("iptables: ")) from exc


@operation()
def chain(
    chain: str,
    present: bool = True,
    table: str = "filter",
    policy: str | None = None,
    version: int = 4,
) -> Commands:
    """Add (or remove) a chain; ``policy`` sets the policy of a built-in chain
    (``INPUT``, ``FORWARD``...)."""
    op = "iptables.chain"
    _word(op, chain, "chain")
    _word(op, table, "table")
    if policy is not None:
        _word(op, policy, "policy")
    v6 = _version(op, version) == 6
    fact = Ip6tablesChains if v6 else IptablesChains
    tool = "ip6tables" if v6 else "iptables"
    chains = _fact(op, fact, table)
    base = [tool, "-t", table]
    if not present:
        if chain in chains:
            yield _one_line_errors(StringCommand(*base, "-X", QuoteString(chain)))
            remaining = {k: v for k, v in chains.items() if k != chain}
            yield FactChange(facts=(fact,), expect=((fact, {"table": table}, remaining),))
        else:
            host.noop(f"iptables chain {chain} does not exist")
        return
    commands = []
    new = dict(chains)
    if chain not in chains:
        commands.append(_one_line_errors(StringCommand(*base, "-N", QuoteString(chain))))
        new[chain] = "-"
    else:
        host.noop(f"iptables chain {chain} exists")
    if policy and chains.get(chain) != policy:
        commands.append(
            _one_line_errors(StringCommand(*base, "-P", QuoteString(chain), QuoteString(policy)))
        )
        new[chain] = policy
    if commands:
        yield from commands
        yield FactChange(facts=(fact,), expect=((fact, {"table": table}, new),))


def _one_line_errors(command: StringCommand) -> StringCommand:
    """iptables prints its error then a "Try `iptables -h'" line: keep only the error."""
    return StringCommand(
        "out=$(", command, "2>&1)", "||", "{", "printf", "'%s\\n'", '"$out"', "|",
        "head", "-n", "1", ">&2;", "exit", "1;", "}",
    )  # fmt: skip


def _with_prefix(address: str, v6: bool) -> str:
    return address if "/" in address else f"{address}/{128 if v6 else 32}"


@operation()
def rule(
    chain: str,
    jump: str,
    present: bool = True,
    table: str = "filter",
    append: bool = True,
    version: int = 4,
    protocol: str | None = None,
    not_protocol: str | None = None,
    source: str | None = None,
    not_source: str | None = None,
    destination: str | None = None,
    not_destination: str | None = None,
    in_interface: str | None = None,
    not_in_interface: str | None = None,
    out_interface: str | None = None,
    not_out_interface: str | None = None,
    to_destination: str | None = None,
    to_source: str | None = None,
    to_ports: int | str | None = None,
    log_prefix: str | None = None,
    destination_port: int | None = None,
    source_port: int | None = None,
    extras: str = "",
) -> Commands:
    """Add (``append``: at the end, else at the top) or remove a rule.

    + chain, jump: the chain and the target (``ACCEPT``, ``DROP``, ``DNAT``, a chain...)
    + table: ``filter``, ``nat``, ``mangle``...; version: 4 or 6
    + protocol, source, destination, in_interface, out_interface and their ``not_``
      forms: the matches (addresses without a prefix get ``/32``, ``/128`` for IPv6)
    + to_destination (DNAT), to_source (SNAT), to_ports (REDIRECT): NAT targets
    + log_prefix: for the LOG target
    + destination_port, source_port: shortcuts for ``--dport``/``--sport`` (need a protocol)
    + extras: more iptables arguments, e.g. ``"-m state --state NEW"``
    """
    op = "iptables.rule"
    v6 = _version(op, version) == 6
    value: Any
    for value, argument in ((chain, "chain"), (jump, "jump"), (table, "table")):
        _word(op, value, argument)
    to_ports = str(to_ports) if to_ports is not None else None
    for value, argument in (
        (protocol, "protocol"), (not_protocol, "not_protocol"), (source, "source"),
        (not_source, "not_source"), (destination, "destination"),
        (not_destination, "not_destination"), (in_interface, "in_interface"),
        (not_in_interface, "not_in_interface"), (out_interface, "out_interface"),
        (not_out_interface, "not_out_interface"), (to_destination, "to_destination"),
        (to_source, "to_source"), (to_ports, "to_ports"),
    ):  # fmt: skip
        if value is not None and not (
            isinstance(value, str) and re.match(r"^[A-Za-z0-9_.:/+\-\[\]]+$", value)
        ):
            raise fail(op, f"argument {argument} is not valid: {value!r}")
    for value, argument in ((destination_port, "destination_port"), (source_port, "source_port")):
        if value is not None and not re.match(r"^[0-9]+(:[0-9]+)?$", str(value)):
            raise fail(op, f"argument {argument} must be a port or a port range, got {value!r}")
    if log_prefix is not None and ("\n" in log_prefix or len(log_prefix) > 29):
        raise fail(
            op, f"argument log_prefix must be one line of at most 29 characters, got {log_prefix!r}"
        )
    try:
        extra_words = shlex.split(extras or "")
    except ValueError as exc:
        raise fail(op, f"argument extras cannot be split into arguments: {exc}") from exc
    if destination_port:
        extra_words += ["--dport", str(destination_port)]
    if source_port:
        extra_words += ["--sport", str(source_port)]
    extras_set = set(extra_words)
    if protocol:
        protocol = protocol.lower()
        extras_set |= {"-m", protocol}  # iptables adds the protocol's match module
    elif destination_port or source_port:
        raise fail(op, "destination_port/source_port need a protocol (e.g. protocol='tcp')")
    for value, name, wanted_table, wanted_jump in (
        (to_destination, "to_destination", "nat", "DNAT"),
        (to_source, "to_source", "nat", "SNAT"),
        (to_ports, "to_ports", "nat", "REDIRECT"),
    ):
        if value and (table != wanted_table or jump != wanted_jump):
            raise fail(
                op, f"{name} only works on the {wanted_table} table with the {wanted_jump} "
                f"jump (table={table}, jump={jump})",
            )  # fmt: skip
    if log_prefix and jump != "LOG":
        raise fail(op, f"log_prefix only works with the LOG jump (jump={jump})")

    matches = {
        "protocol": protocol, "source": source, "destination": destination,
        "in_interface": in_interface, "out_interface": out_interface,
        "not_protocol": not_protocol, "not_source": not_source,
        "not_destination": not_destination, "not_in_interface": not_in_interface,
        "not_out_interface": not_out_interface,
    }  # fmt: skip
    definition: dict[str, Any] = {"chain": chain, "jump": jump}
    for key, value in matches.items():
        if value:
            address = key.removeprefix("not_") in ("source", "destination")
            definition[key] = _with_prefix(value, v6) if address else value
    for key, value in (
        ("log_prefix", log_prefix), ("to_destination", to_destination),
        ("to_source", to_source), ("to_ports", to_ports),
    ):  # fmt: skip
        if value:
            definition[key] = value
    if extras_set:
        definition["extras"] = extras_set

    fact = Ip6tablesRules if v6 else IptablesRules
    rules = _fact(op, fact, table)
    # iptables shows "-m PROTOCOL" only when a match of that module (--dport...) is used.
    bare = dict(definition)
    if protocol and "-m" in extras_set and not extras_set - {"-m", protocol}:
        bare.pop("extras")
    found = definition if definition in rules else bare if bare in rules else None
    exists = found is not None
    if present == exists:
        host.noop(f"iptables {chain} rule {'exists' if exists else 'does not exist'}")
        return
    action = ("-A" if append else "-I") if present else "-D"
    bits: list[Any] = ["ip6tables" if v6 else "iptables", "-t", table, action, QuoteString(chain)]
    for flag, value in (
        ("-p", protocol), ("-s", source), ("-d", destination), ("-i", in_interface),
        ("-o", out_interface),
    ):  # fmt: skip
        if value:
            bits += [flag, QuoteString(value)]
    for flag, value in (
        ("-p", not_protocol.lower() if not_protocol else None), ("-s", not_source),
        ("-d", not_destination), ("-i", not_in_interface), ("-o", not_out_interface),
    ):  # fmt: skip
        if value:
            bits += ["!", flag, QuoteString(value)]
    bits += [QuoteString(word) for word in extra_words]
    bits += ["-j", QuoteString(jump)]
    for flag, value in (
        ("--log-prefix", log_prefix), ("--to-destination", to_destination),
        ("--to-source", to_source), ("--to-ports", to_ports),
    ):  # fmt: skip
        if value:
            bits += [flag, QuoteString(value)]
    yield _one_line_errors(StringCommand(*bits))
    if present:
        new_rules = [*rules, definition] if append else [definition, *rules]
    else:
        new_rules = list(rules)
        new_rules.remove(found)
    yield FactChange(facts=(fact,), expect=((fact, {"table": table}, new_rules),))
