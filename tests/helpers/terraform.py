"""Real terraform for tests: apply a config of ``output`` and ``terraform_data`` blocks.

Such a config needs no provider download (``terraform_data`` is built in), so
``terraform init`` and ``terraform apply`` work offline. Tests skip when terraform is
not installed (it is at /usr/local/bin/terraform on the project's machines).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def terraform_binary() -> str:
    found = shutil.which("terraform") or (
        "/usr/local/bin/terraform" if os.access("/usr/local/bin/terraform", os.X_OK) else None
    )
    if found is None:
        pytest.skip("terraform is not installed (expected at /usr/local/bin/terraform)")
    return found


def clean_env() -> dict[str, str]:
    env = dict(os.environ)
    config = env.get("TF_CLI_CONFIG_FILE")
    if config is not None and not os.path.isfile(os.path.expanduser(config)):
        del env["TF_CLI_CONFIG_FILE"]
    env["TF_IN_AUTOMATION"] = "1"
    env["TF_INPUT"] = "0"
    env["CHECKPOINT_DISABLE"] = "1"
    return env


def apply_config(directory: Path, config: str) -> Path:
    """Write ``main.tf`` into ``directory``, then ``terraform init`` + ``apply``."""
    binary = terraform_binary()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "main.tf").write_text(config)
    for args in (["init", "-input=false", "-no-color"], ["apply", "-auto-approve", "-no-color"]):
        result = subprocess.run(
            [binary, *args], cwd=directory, env=clean_env(), capture_output=True, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(f"terraform {args[0]} failed: {result.stdout}{result.stderr}")
    return directory
