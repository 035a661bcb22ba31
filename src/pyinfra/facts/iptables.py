"""iptables/ip6tables chains and rules of a table (``iptables-save -t TABLE``)."""

from __future__ import annotations

import re
import shlex
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import FactError
from pyinfra.api.facts import FactBase

# iptables-save option -> rule key ("! -s x" gives "not_source").
IPTABLES_ARGS = {
    "-A": "chain",
    "-j": "jump",
    "-p": "protocol",
    "-s": "source",
    "-d": "destination",
    "-i": "in_interface",
    "-o": "out_interface",
    "--log-prefix": "log_prefix",
    "--to-destination": "to_destination",
    "--to-source": "to_source",
    "--to-ports": "to_ports",
}
_TABLE = re.compile(r"^[a-z]+$")


def parse_iptables_rule(line: str) -> dict[str, Any]:
    """One ``-A CHAIN ...`` line -> ``{"chain", "jump", "protocol", ..., "extras"}``;
    options without a key of their own go into the ``extras`` set (option and value).
    Quoted values are unquoted (pyinfra 3.10 kept the quotes, so a rule with a quoted
    ``--log-prefix`` never matched its definition)."""
    rule: dict[str, Any] = {}
    extras: list[str] = []
    option: str | None = None
    values: list[str] = []
    negated = False

    def flush() -> None:
        if option is None:
            return
        text = " ".join(values)
        if option in IPTABLES_ARGS:
            rule[f"not_{IPTABLES_ARGS[option]}" if negated else IPTABLES_ARGS[option]] = text
        else:
            extras.extend((option, text))

    try:  # iptables-save quotes values with spaces: --log-prefix "drop: "
        words = shlex.split(line)
    except ValueError:
        words = line.split()
    for word in words:
        if word == "!":
            flush()
            option, values, negated = None, [], True
        elif word.startswith("-"):
            if option is not None:
                flush()
                negated = False
            option, values = word, []
        else:
            values.append(word)
    flush()
    if extras:
        rule["extras"] = set(extras)
    return rule


def _save_command(tool: str, table: str) -> StringCommand:
    if not isinstance(table, str) or not _TABLE.match(table):
        raise FactError(f"iptables: not a table name: {table!r}")
    return StringCommand(tool, "-t", table)


class IptablesRules(FactBase["list[dict[str, Any]]"]):
    """The rules of ``table`` (default ``filter``) as dicts:
    ``[{"chain": "INPUT", "jump": "DROP", "protocol": "tcp", "extras": {...}}]``."""

    tool = "iptables-save"

    @staticmethod
    def default() -> list[dict[str, Any]]:
        return []

    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return self.tool

    def command(self, table: str = "filter") -> StringCommand:
        return _save_command(self.tool, table)

    def process(self, output: list[str]) -> list[dict[str, Any]]:
        return [parse_iptables_rule(line) for line in output if line.startswith("-")]


class Ip6tablesRules(IptablesRules):
    """:class:`IptablesRules` for IPv6 (``ip6tables-save``)."""

    tool = "ip6tables-save"


class IptablesChains(FactBase["dict[str, str]"]):
    """The chains of ``table`` and their policies: ``{"INPUT": "ACCEPT", "MYCHAIN": "-"}``."""

    tool = "iptables-save"

    @staticmethod
    def default() -> dict[str, str]:
        return {}

    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return self.tool

    def command(self, table: str = "filter") -> StringCommand:
        return _save_command(self.tool, table)

    def process(self, output: list[str]) -> dict[str, str]:
        chains = {}
        for line in output:
            if line.startswith(":"):
                name, policy = line[1:].split()[:2]
                chains[name] = policy
        return chains


class Ip6tablesChains(IptablesChains):
    """:class:`IptablesChains` for IPv6 (``ip6tables-save``)."""

    tool = "ip6tables-save"
