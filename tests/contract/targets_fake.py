from __future__ import annotations

from tests.contract.targets import ContractTarget


def make_targets() -> list[ContractTarget]:
    # The fake executes nothing: it takes part in the file round-trip contract only.
    return [ContractTarget("fake", "@fake/contract", capabilities=frozenset({"files"}))]
