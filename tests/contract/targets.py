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

from pyinfra.api.host import Host
from pyinfra.api.state import BaseStateCallback, State
from pyinfra.testing import CAPABILITIES, connected_host

# Capabilities a target may declare:
#   shell    - really executes shell commands (env, chdir, stdin, exit codes, order)
#   timeout  - _timeout kills the command on the target
#   sudo     - _sudo / _sudo_user work without a password
#   files    - put_file / get_file round trips
#   pty      - _get_pty gives a terminal
ALL_CAPABILITIES = CAPABILITIES


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
    # False: the contract suite only (not the deploy tests of tests/integration, which
    # run over every target by default).
    deploys: bool = True
    _prepared: bool = field(default=False, repr=False)

    def prepare(self) -> None:
        """Run ``setup`` once per test process, whoever asks first."""
        if self.setup is not None and not self._prepared:
            self.setup()
        self._prepared = True

    @contextlib.contextmanager
    def host(self) -> Iterator[Host]:
        with connected_host(self.inventory_name, self.data) as host:
            yield host


class CommittedImages(BaseStateCallback):
    """Collects the image every disconnect of an image-form container target commits
    (a test may disconnect and reconnect: each connection commits one)."""

    def __init__(self) -> None:
        self.images: list[str] = []

    def host_disconnect(self, state: State, host: Host) -> None:
        image = host.connector_data.pop("docker_committed_image", None)
        if image:
            self.images.append(str(image))


def collect_committed_images(host: Host) -> list[str]:
    """The images ``host``'s disconnects commit from now on (filled as they happen)."""
    collector = CommittedImages()
    assert host.state is not None
    host.state.add_callback_handler(collector)
    return collector.images
