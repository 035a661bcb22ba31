"""What a connector contributes to the contract suite.

A connector kind adds a module ``tests/contract/targets_<kind>.py`` with
``make_targets() -> list[ContractTarget]``. Each target knows how to build a connected
``Host`` for its connector and how to look at the target from outside (to prove, e.g.,
that a timed-out command left no process behind).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pyinfra.api import Config, Inventory, State
from pyinfra.api.host import Host

# Capabilities a target may declare:
#   shell    - really executes shell commands (env, chdir, stdin, exit codes, order)
#   timeout  - _timeout kills the command on the target
#   sudo     - _sudo / _sudo_user work without a password
#   files    - put_file / get_file round trips
#   pty      - _get_pty gives a terminal
ALL_CAPABILITIES = frozenset({"shell", "timeout", "sudo", "files", "pty"})


@dataclass
class ContractTarget:
    id: str
    inventory_name: str
    data: dict[str, object] = field(default_factory=dict)
    capabilities: frozenset[str] = ALL_CAPABILITIES
    # Returns True if a process whose command line contains the text runs on the target.
    process_exists: Callable[[str], bool] | None = None
    # Skip reason when the component is missing (None: available).
    unavailable: Callable[[], str | None] = lambda: None
    # Extra setup / teardown around the whole module's use of this target.
    setup: Callable[[], None] | None = None
    sudo_user: str = "nobody"
    _prepared: bool = field(default=False, repr=False)

    def prepare(self) -> None:
        """Run ``setup`` once per test process, whoever asks first."""
        if self.setup is not None and not self._prepared:
            self.setup()
        self._prepared = True

    @contextlib.contextmanager
    def host(self) -> Iterator[Host]:
        inventory = Inventory(([(self.inventory_name, dict(self.data))], {}))
        state = State(inventory, Config())
        host = next(iter(inventory))
        host.connect(raise_exceptions=True)
        try:
            yield host
        finally:
            host.disconnect()
            del state
