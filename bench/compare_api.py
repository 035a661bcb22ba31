"""Run the same pyinfra 3.x API script with pyinfra 3.10 and with this package, side by side
on @local, and show where what they print differs.

    python3 bench/compare_api.py [--pyinfra3 PYTHON] [--ours PYTHON]

PYTHON defaults: bench/.venvs/pyinfra3/bin/python (made by bench/run.py) or
/opt/pyinfra310/bin/python for pyinfra 3.10; this interpreter for ours. Exit status 1
when a line differs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r'''
import io, os, sys, tempfile
from pyinfra.api import Config, Inventory, State, BaseStateCallback, HiddenValue
from pyinfra.api.connect import connect_all, disconnect_all
from pyinfra.api.operation import add_op
from pyinfra.api.operations import run_ops
from pyinfra.api.deploy import add_deploy, deploy
from pyinfra.api.facts import get_facts, get_fact
from pyinfra.api.state import StateStage
from pyinfra.api.util import get_file_io, get_file_sha1, make_hash, get_kwargs_str
from pyinfra.api.exceptions import (
    FactError, FactTypeError, FactValueError, FactProcessError, FactNotCollected,
    FactPreconditionError, MissingCommandError, OperationError, OperationTypeError,
    OperationValueError, NestedOperationError, DeployError, ArgumentTypeError,
    ConnectorDataTypeError, InventoryError, NoHostError, NoGroupError, PyinfraError,
)
from pyinfra.api.command import RsyncCommand
from pyinfra.context import ctx_host, ctx_state, ctx_inventory, ctx_config
from pyinfra.operations import files, server
from pyinfra.facts.server import Hostname

D = sys.argv[1]
events = []

class CB(BaseStateCallback):
    def operation_start(self, state, op_hash):
        events.append("start")
    def operation_host_success(self, state, host, op_hash, retry_count=0):
        events.append("ok:" + ",".join(sorted(state.get_op_meta(op_hash).names)))
    def operation_host_error(self, state, host, op_hash, retry_count=0, max_retries=0):
        events.append(f"error:{retry_count}/{max_retries}")
    def operation_end(self, state, op_hash):
        events.append("end")

inventory = Inventory((["@local"], {"group_list": ["a"]}))
state = State(inventory, Config())
state.add_callback_handler(CB())
print("active before connect", len(state.active_hosts))
state.set_stage(StateStage.Connect)
connect_all(state)
print("active", sorted(h.name for h in state.active_hosts))
print("activated", sorted(h.name for h in state.activated_hosts))
host = inventory.get_host("@local")
state.set_stage(StateStage.Prepare)
res = add_op(state, files.directory, path=D + "/made", name="make dir")
meta = res[host]
made = os.path.exists(D + "/made")
print("planned will_change", meta.will_change, "complete", meta.is_complete(), made)
try:
    meta.did_change()
except RuntimeError as e:
    print("did_change before run:", e)
print("facts", {h.name: v == os.uname().nodename for h, v in get_facts(state, Hostname).items()})
print("fact", get_fact(state, host, Hostname) == os.uname().nodename)

@deploy("My deploy", data_defaults={"my_default": "dflt"})
def my_deploy():
    server.shell(commands=[f"echo {host.data.my_default} > {D}/default"], name="default")

add_deploy(state, my_deploy)
add_op(state, server.shell, commands=["exit 3"], _retries=1, _retry_delay=0, name="fails")
state.set_stage(StateStage.Execute)
try:
    run_ops(state)
except PyinfraError as e:
    print("run_ops raised:", e)
print("ran", meta.did_change(), meta.did_succeed(), os.path.exists(D + "/made"))
print("names", sorted(state.get_op_meta(meta._hash).names))
same = state.get_op_data_for_host(host, meta._hash).operation_meta is meta
print("op data meta is the same", same)
r = state.get_results_for_host(host)
print("results", r.ops, r.success_ops, r.error_ops)
print("deploy data default", open(D + "/default").read().strip())
print("events", events)
print("failed", sorted(h.name for h in state.failed_hosts))
try:
    host.data.nope
except AttributeError:
    print("unset data: AttributeError")
print("getattr default", getattr(host.data, "nope", "dflt"), host.data.get("nope"))
lst = host.data.group_list
lst.append("mutated")
print("data copied", host.data.group_list)
print("NoHostError is KeyError", issubclass(NoHostError, KeyError))
print("MissingCommandError", MissingCommandError("git"), MissingCommandError("git").command)
print("HiddenValue", str(HiddenValue("s")), repr(HiddenValue("s")), HiddenValue("s").unmask())
with get_file_io(io.BytesIO(b"text"), mode="r") as f:
    print("get_file_io text", repr(f.read()))
print("sha1", get_file_sha1(io.BytesIO(b"abc")))
print("kwargs str", get_kwargs_str({"b": 2, "a": 1}))
with ctx_host.use(host):
    print("ctx_host", ctx_host.isset(), ctx_host.get().name)
print("RsyncCommand", RsyncCommand.__name__)
disconnect_all(state)
'''


def default_pyinfra3() -> str:
    candidates = (ROOT / "bench/.venvs/pyinfra3/bin/python", Path("/opt/pyinfra310/bin/python"))
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    sys.exit("no pyinfra 3.10 interpreter: run bench/run.py once, or give --pyinfra3")


def run(python: str, script: Path) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="pyi-api-compare-") as directory:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        result = subprocess.run(
            [python, str(script), directory], capture_output=True, text=True, env=env, timeout=120
        )
    if result.returncode != 0:
        return [f"FAILED (exit {result.returncode}): {result.stderr.strip().splitlines()[-1:]}"]
    return result.stdout.splitlines()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pyinfra3", default=None)
    parser.add_argument("--ours", default=sys.executable)
    args = parser.parse_args()
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(SCRIPT)
        script = Path(handle.name)
    try:
        theirs = run(args.pyinfra3 or default_pyinfra3(), script)
        ours = run(args.ours, script)
    finally:
        script.unlink()
    width = max(len(line) for line in theirs + ["pyinfra 3.10"]) + 2
    differences = 0
    print(f"{'pyinfra 3.10':<{width}}| ours")
    for index in range(max(len(theirs), len(ours))):
        left = theirs[index] if index < len(theirs) else ""
        right = ours[index] if index < len(ours) else ""
        mark = "" if left == right else "   <-- differs"
        differences += bool(mark)
        print(f"{left:<{width}}| {right}{mark}")
    print(f"\n{differences} line(s) differ")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
