"""The pytest side of :mod:`pyinfra.testing`: markers, default fixtures, selection."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.host import Host
from pyinfra.testing.contract import CAPABILITIES


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "needs(*capabilities): contract test that needs these target capabilities"
    )
    config.addinivalue_line(
        "markers", "lacks(*capabilities): the target of these contract tests cannot do this"
    )


def _marker_args(item: pytest.Item, name: str) -> set[str]:
    return {str(arg) for marker in item.iter_markers(name) for arg in marker.args}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the contract tests that need a capability their target lacks."""
    kept: list[pytest.Item] = []
    left_out: list[pytest.Item] = []
    for item in items:
        lacks = _marker_args(item, "lacks")
        unknown = lacks - CAPABILITIES
        if unknown:
            raise pytest.UsageError(
                f"{item.nodeid}: unknown capabilities in lacks(): {', '.join(sorted(unknown))} "
                f"(known: {', '.join(sorted(CAPABILITIES))})"
            )
        needs = _marker_args(item, "needs")
        (left_out if needs & lacks else kept).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


@pytest.fixture
def contract_host() -> Host:
    """A connected host of the connector under test: define this fixture yourself."""
    raise pytest.UsageError(
        "define a contract_host fixture that yields a connected Host of your connector, "
        "e.g. with pyinfra.testing.connected_host('@box/target', data)"
    )


@pytest.fixture
def contract_process_exists(contract_host: Host) -> Callable[[str], bool]:
    """Whether a process whose command line contains the text runs on the target.

    By default asked through the host itself: ``pgrep -f`` with the first letter in
    brackets, so that the ``pgrep`` command line never matches itself."""

    def exists(text: str) -> bool:
        pattern = f"[{text[0]}]" + re.sub(r"([.^$*+?(){}\[\]|\\])", r"\\\1", text[1:])
        command = StringCommand("pgrep", "-f", "--", QuoteString(pattern))
        ok, _ = contract_host.run_shell_command(command)
        return ok

    return exists


@pytest.fixture
def contract_sudo_user() -> str:
    """The user the sudo tests switch to besides root."""
    return "nobody"
