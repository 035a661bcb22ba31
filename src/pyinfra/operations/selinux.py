"""SELinux: booleans, file contexts, file-context mappings and port types."""

from __future__ import annotations

import re
from collections.abc import Generator
from enum import Enum
from typing import Any

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.exceptions import FactError
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.selinux import FileContext, FileContextMapping, SEBoolean, SEPort, SEPorts
from pyinfra.facts.server import Which
from pyinfra.operations.util import check_path, fail

Commands = Generator[Any, Any, None]
_TYPE = re.compile(r"^[A-Za-z0-9_]+$")


class Boolean(Enum):
    ON = "on"
    OFF = "off"


class Protocol(Enum):
    UDP = "udp"
    TCP = "tcp"
    SCTP = "sctp"
    DCCP = "dccp"


def _se_type(op: str, value: Any, argument: str = "se_type") -> str:
    if not isinstance(value, str) or not _TYPE.match(value):
        raise fail(op, f"argument {argument} is not an SELinux type: {value!r}")
    return value


def _fact(op: str, fact: Any, **kwargs: Any) -> Any:
    try:
        return host.get_fact(fact, **kwargs)
    except FactError as exc:
        raise fail(op, str(exc).removeprefix("selinux: ")) from exc


@operation()
def boolean(bool_name: str, value: Boolean | str, persistent: bool = False) -> Commands:
    """Set an SELinux boolean to ``Boolean.ON``/``Boolean.OFF`` (or ``"on"``/``"off"``);
    ``persistent`` also writes it to the policy (``setsebool -P``). Needs root."""
    op = "selinux.boolean"
    if isinstance(value, Boolean):
        wanted = value.value
    elif value in ("on", "off"):
        wanted = str(value)
    else:
        raise fail(
            op, f"argument value must be Boolean.ON, Boolean.OFF, 'on' or 'off', got {value!r}"
        )
    if _fact(op, SEBoolean, boolean=bool_name) == wanted:
        host.noop(f"boolean '{bool_name}' already had the value '{wanted}'")
        return
    yield StringCommand(
        "setsebool", *(["-P"] if persistent else []), QuoteString(bool_name), wanted
    )
    yield FactChange(facts=(SEBoolean,), expect=((SEBoolean, {"boolean": bool_name}, wanted),))


@operation()
def file_context(path: str, se_type: str) -> Commands:
    """Set the SELinux type of ``path`` now (``chcon -t``; ``restorecon`` would undo it:
    see :func:`file_context_mapping`)."""
    op = "selinux.file_context"
    check_path(op, path)
    _se_type(op, se_type)
    current = host.get_fact(FileContext, path=path) or {}
    if current.get("type", "") == se_type:
        host.noop(f"file_context: '{path}' already had type '{se_type}'")
        return
    yield StringCommand("chcon", "-t", QuoteString(se_type), QuoteString(path))
    yield FactChange(
        facts=(FileContext,), expect=((FileContext, {"path": path}, {**current, "type": se_type}),)
    )


@operation()
def file_context_mapping(target: str, se_type: str | None = None, present: bool = True) -> Commands:
    """Add, change or remove the file-context mapping of ``target`` (a path expression
    like ``/web(/.*)?``; ``semanage fcontext``). Existing files keep their context until
    ``restorecon``. Needs root."""
    op = "selinux.file_context_mapping"
    if not isinstance(target, str) or not target or "\n" in target:
        raise fail(op, f"argument target must be a path expression, got {target!r}")
    if present and se_type is None:
        raise fail(op, "argument se_type is required when present=True")
    if se_type is not None:
        _se_type(op, se_type)
    current = host.get_fact(FileContextMapping, target=target)
    if present:
        assert se_type is not None
        option = "-a" if not current else "-m" if current.get("type") != se_type else ""
        if not option:
            host.noop(f"mapping for '{target}' -> '{se_type}' already present")
            return
        yield StringCommand(
            "semanage", "fcontext", option, "-t", QuoteString(se_type), QuoteString(target)
        )
        new = {**current, "type": se_type} if current else {"type": se_type}
    else:
        if not current:
            host.noop(f"no existing mapping for '{target}'")
            return
        yield StringCommand("semanage", "fcontext", "-d", QuoteString(target))
        new = {}
    yield FactChange(
        facts=(FileContextMapping,), expect=((FileContextMapping, {"target": target}, new),)
    )


@operation()
def port(
    protocol: Protocol | str, port_num: int, se_type: str | None = None, present: bool = True
) -> Commands:
    """Set (or remove) the SELinux type of ``protocol``/``port_num`` (``semanage port``).
    Needs root."""
    op = "selinux.port"
    proto = protocol.value if isinstance(protocol, Protocol) else protocol
    if proto not in ("tcp", "udp", "sctp", "dccp"):
        raise fail(op, f"argument protocol must be tcp, udp, sctp or dccp, got {protocol!r}")
    if isinstance(port_num, bool) or not str(port_num).isdigit() or not 0 < int(port_num) < 65536:
        raise fail(op, f"argument port_num must be a port number, got {port_num!r}")
    if present and se_type is None:
        raise fail(op, "argument se_type is required when present=True")
    if se_type is not None:
        _se_type(op, se_type)
    number = int(port_num)
    if host.get_fact(Which, command="sepolicy"):
        current = _fact(op, SEPort, protocol=proto, port=number)
    else:
        current = host.get_fact(SEPorts).get(proto, {}).get(number, "")
    if present:
        assert se_type is not None
        option = "-a" if current == "" else "-m" if current != se_type else ""
        if not option:
            host.noop(f"setype for '{proto}/{number}' is already '{se_type}'")
            return
        yield StringCommand(
            "semanage", "port", option, "-t", QuoteString(se_type), "-p", proto, str(number)
        )
    else:
        if current == "":
            host.noop(f"setype for '{proto}/{number}' is already unset")
            return
        yield StringCommand("semanage", "port", "-d", "-p", proto, str(number))
    yield FactChange(facts=(SEPort, SEPorts))
