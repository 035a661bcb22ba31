from __future__ import annotations

import subprocess

from tests.contract.targets import ALL_CAPABILITIES, ContractTarget


def _local_process_exists(text: str) -> bool:
    out = subprocess.run(["pgrep", "-f", "--", text], capture_output=True, text=True)
    return out.returncode == 0


def make_targets() -> list[ContractTarget]:
    return [
        ContractTarget(
            "local", "@local", capabilities=ALL_CAPABILITIES, process_exists=_local_process_exists
        )
    ]
