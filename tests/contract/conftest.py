"""Collects the contract targets of every connector kind (targets_*.py modules) and gives
the pyinfra.testing contract suite its fixtures: one connected host per target."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator

import pytest

from pyinfra.api.host import Host
from tests.contract.targets import ContractTarget


def all_targets() -> list[ContractTarget]:
    import tests.contract as package

    targets: list[ContractTarget] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("targets_"):
            module = importlib.import_module(f"tests.contract.{info.name}")
            targets.extend(module.make_targets())
    return targets


TARGETS = all_targets()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each test over the targets that have the capabilities it needs."""
    if "target" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("needs")
    needed = set(marker.args) if marker else set()
    chosen = [t for t in TARGETS if needed <= t.capabilities]
    metafunc.parametrize("target", chosen, ids=[t.id for t in chosen], indirect=True)


@pytest.fixture
def target(request: pytest.FixtureRequest) -> ContractTarget:
    t: ContractTarget = request.param
    reason = t.unavailable()
    if reason:
        pytest.skip(f"{t.id}: {reason}")
    t.prepare()
    return t


@pytest.fixture
def contract_host(target: ContractTarget) -> Iterator[Host]:
    with target.host() as h:
        yield h


@pytest.fixture
def contract_process_exists(target: ContractTarget) -> Callable[[str], bool]:
    assert target.process_exists is not None, f"{target.id} declares no process_exists"
    return target.process_exists


@pytest.fixture
def contract_sudo_user(target: ContractTarget) -> str:
    return target.sudo_user
