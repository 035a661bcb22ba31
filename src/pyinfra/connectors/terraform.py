"""The ``@terraform`` inventory connector: hosts from a terraform output.

``@terraform`` reads the output ``pyinfra_inventory``; ``@terraform/KEY`` reads another
one, with dots stepping into nested values (``@terraform/cluster.web``; a ``.value``
right after the output name is optional, so ``servers`` and ``servers.value`` are the
same). The value is a list of names, a list of objects (``name`` and/or
``ssh_hostname`` plus any data, including ``groups``) or an object of group -> list.

Where terraform runs, first found wins:

1. the ``terraform_dir`` data that applies to the ``@terraform`` entry (inventory
   host/group/global data, or ``--data terraform_dir=DIR`` on the command line);
2. the ``PYINFRA_TERRAFORM_DIR`` environment variable;
3. the current directory.

A relative directory is taken from the current directory. The hosts are reached over SSH.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

from typing_extensions import TypedDict

from pyinfra.api.exceptions import InventoryError
from pyinfra.connectors.base import DataMeta
from pyinfra.connectors.inventory.base import InventoryOnlyConnector
from pyinfra.connectors.inventory.hostlist import entries_from_value
from pyinfra.connectors.inventory.tool import find_tool, project_dir, run_tool

DEFAULT_KEY = "pyinfra_inventory.value"
DIR_ENV = "PYINFRA_TERRAFORM_DIR"
NOT_INSTALLED = (
    "terraform is not installed (no `terraform` on PATH): install it, or add its "
    "directory to PATH, to use @terraform"
)


class TerraformConnectorData(TypedDict, total=False):
    terraform_dir: str


def terraform_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment terraform runs with: no prompts, no colours, and without a
    ``TF_CLI_CONFIG_FILE`` that points at a missing file (terraform would warn)."""
    env = dict(os.environ if base is None else base)
    config = env.get("TF_CLI_CONFIG_FILE")
    if config is not None and not os.path.isfile(os.path.expanduser(config)):
        del env["TF_CLI_CONFIG_FILE"]
    env["TF_IN_AUTOMATION"] = "1"
    env["TF_INPUT"] = "0"
    env["NO_COLOR"] = "1"
    return env


def resolve_terraform_dir(data: Mapping[str, Any] | None = None) -> str:
    return project_dir(data, "terraform_dir", DIR_ENV, "your terraform configuration")


def read_outputs(directory: str) -> dict[str, Any]:
    """``terraform output -json`` in ``directory``, parsed. Only stdout is parsed:
    warnings terraform prints about the user's CLI configuration go to stderr."""
    env = terraform_env()
    binary = find_tool("terraform", NOT_INSTALLED, env)
    result = run_tool([binary, "output", "-json", "-no-color"], cwd=directory, env=env)
    if result.returncode != 0:
        raise InventoryError(
            f"`terraform output -json` failed in {directory}: {result.last_error_line()}"
        )
    try:
        outputs = json.loads(result.stdout or "{}")
    except ValueError as exc:
        raise InventoryError(
            f"`terraform output -json` in {directory} printed something that is not JSON "
            f"({exc}): is {binary} really terraform?"
        ) from exc
    if not isinstance(outputs, dict):
        raise InventoryError(
            f"`terraform output -json` in {directory} printed a {type(outputs).__name__}, "
            "expected an object of outputs"
        )
    if not outputs:
        raise InventoryError(
            f"terraform has no state or no outputs in {directory}: run `terraform apply` "
            f"there, or point terraform_dir / {DIR_ENV} at the applied configuration"
        )
    return outputs


def _is_output(value: Any) -> bool:
    return isinstance(value, dict) and "value" in value and "sensitive" in value


def _keys(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(sorted(map(str, value))) or "none"
    if isinstance(value, list):
        return f"a list of {len(value)}, indexes 0-{len(value) - 1}" if value else "an empty list"
    return f"a {type(value).__name__}, which has no keys"


def lookup_key(outputs: Mapping[str, Any], key: str, directory: str) -> Any:
    """Follow a dotted ``key`` into the outputs (see the module docstring)."""
    parts = key.split(".")
    if not all(parts):
        raise InventoryError(f"invalid terraform output key {key!r}: empty part between dots")
    first, rest = parts[0], parts[1:]
    if first not in outputs:
        raise InventoryError(
            f"terraform output {first!r} not found in {directory}: "
            f"outputs are {_keys(outputs)} (use @terraform/OUTPUT.path)"
        )
    current: Any = outputs[first]
    if _is_output(current):
        current = current["value"]
        if rest and rest[0] == "value":
            rest = rest[1:]
    walked = [first]
    for part in rest:
        where = ".".join(walked)
        if isinstance(current, dict):
            if part not in current:
                raise InventoryError(
                    f"terraform output key {key!r}: no {part!r} in {where}; "
                    f"keys there are {_keys(current)}"
                )
            current = current[part]
        elif isinstance(current, list) and part.isdigit():
            if int(part) >= len(current):
                raise InventoryError(
                    f"terraform output key {key!r}: index {part} out of range in {where} "
                    f"({_keys(current)})"
                )
            current = current[int(part)]
        else:
            raise InventoryError(
                f"terraform output key {key!r}: cannot look up {part!r} in {where}: "
                f"it is {_keys(current)}"
            )
        walked.append(part)
    return current


class TerraformInventoryConnector(InventoryOnlyConnector):
    """Generates hosts from ``terraform output -json``; they run over SSH."""

    handles_execution = False
    data_cls = TerraformConnectorData
    data_meta = {
        "terraform_dir": DataMeta(
            f"Directory to run `terraform output` in (default: ${DIR_ENV}, else the "
            "current directory)"
        ),
    }

    @staticmethod
    def make_names_data(
        name: str | None = None, data: Mapping[str, Any] | None = None
    ) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        key = name or DEFAULT_KEY
        directory = resolve_terraform_dir(data)
        value = lookup_key(read_outputs(directory), key, directory)
        yield from entries_from_value(value, "@terraform/", f"terraform output {key}")


__all__ = [
    "DEFAULT_KEY",
    "DIR_ENV",
    "TerraformConnectorData",
    "TerraformInventoryConnector",
    "lookup_key",
    "read_outputs",
    "resolve_terraform_dir",
    "terraform_env",
]
