"""Connecting every host of a state (pyinfra 3.x's ``pyinfra.api.connect``)."""

from __future__ import annotations

from pyinfra.api import parallel
from pyinfra.api.state import State, StateStage


def connect_all(state: State) -> None:
    """Connect, in parallel, every host of the inventory within the state's limit;
    connected hosts become active, the others are marked failed."""
    if state.inventory is None:
        return
    if state.current_stage < StateStage.Connect:
        state.set_stage(StateStage.Connect)
    hosts = [host for host in state.inventory if state.is_host_in_limit(host)]
    parallel.connect_all(state, hosts)


def disconnect_all(state: State) -> None:
    """Disconnect, in parallel, every host this state connected to."""
    parallel.disconnect_all(state, sorted(state.activated_hosts, key=lambda h: h.name))
