#!/usr/bin/env python3
"""Side by side: every mysql, postgres/postgresql, docker and podman fact, read with
pyinfra 3.10 and with this project on the same targets; reports identical/different.

Usage (root, after scripts/setup-data.sh):  .venv/bin/python scripts/compare-data-facts.py
    [--json OUT] [--pyinfra3 /opt/pyinfra310/bin/python]

Targets: the MariaDB/PostgreSQL container of the tests (started here, removed at the
end) through ``@docker/NAME``, and this machine's dockerd/podman through ``@local``.
Some objects are made first so the facts have something to show (a database, users
with database and table grants, roles; a container with labels, env, a volume, a
network and a port; an image tag; a disabled local plugin), all named ``pyi-data``.

Values are compared as JSON (sets as sorted lists). A few facts carry counters or
clocks that change between two reads (``docker system info``, ``docker stats``,
``docker top``, ``podman system info``, ``podman ps``): those fields are left out and
the report says which. Facts about every object of the shared dockerd/podman are
compared on this script's own objects (other users' containers come and go between
the two reads); ``docker diff`` lists changes in no fixed order, so it is compared
sorted. A difference is read again up to three times before it is reported.
Exit status 0 when every fact is identical or different on purpose (``KNOWN``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# One fact read: (fact module, class, keyword arguments, target: "db" or "local").
Spec = tuple[str, str, dict[str, Any], str]

# Run by each side's Python: read the facts given as JSON on stdin, print JSON.
_READER = r"""
import importlib, json, sys, time
from pyinfra.api import Config, Inventory, State
request = json.load(sys.stdin)
inventory = Inventory(([request["host"]], {}))
state = State(inventory, Config())
host = inventory.get_host(request["host"])
host.connect(raise_exceptions=True)
results = {}
started = time.monotonic()
for key, (module, name, kwargs) in request["facts"].items():
    fact = getattr(importlib.import_module("pyinfra.facts." + module), name)
    try:
        results[key] = {"value": host.get_fact(fact, **kwargs)}
    except Exception as exc:
        results[key] = {"error": f"{type(exc).__name__}: {exc}"}
results["__seconds__"] = time.monotonic() - started
host.disconnect()
def plain(value):
    return sorted(value) if isinstance(value, (set, frozenset)) else str(value)
print(json.dumps(results, default=plain))
"""

_VOLATILE = {
    "DockerSystemInfo": {
        "SystemTime", "NGoroutines", "NFd", "NEventsListener", "Containers",
        "ContainersRunning", "ContainersPaused", "ContainersStopped", "Images",
    },
    "PodmanSystemInfo": {
        "host.uptime", "host.memFree", "host.swapFree", "host.cpuUtilization",
        "store.graphRootUsed",
    },
    "DockerContainerStats": {"CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs"},
    "PodmanPs": {"CreatedAt", "Status"},
    "DockerContainerProcesses": {"STIME", "TIME", "C"},
}  # fmt: skip

# Facts about every object of the shared dockerd/podman: compared on this script's own
# objects only (other users' objects come and go between the two reads).
_ALL_OBJECTS = {
    "DockerContainers", "DockerImages", "DockerNetworks", "DockerVolumes", "DockerPlugins",
    "DockerContainerStats", "DockerContainerEnvs", "DockerContainerLabels",
    "DockerContainerMounts", "DockerContainerNetworks", "DockerContainerPorts",
    "DockerImageLabels", "DockerImageLayers", "DockerNetworkLabels", "DockerVolumeLabels",
    "PodmanPs",
}  # fmt: skip

# Differences on purpose: pyinfra 3.10 is wrong there.
KNOWN = {
    "mysql.MysqlUserGrants(digit in database name)": (
        "pyinfra 3.10's SHOW GRANTS pattern only accepts [a-z_] database names and misses "
        "these grants (so its mysql.privileges grants them again on every run)"
    ),
}


def _drop(value: Any, fields: set[str]) -> Any:
    """``value`` without the volatile ``fields`` (``a.b`` for nested keys)."""
    if isinstance(value, list):
        return [_drop(item, fields) for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key in fields:
            continue
        nested = {f.split(".", 1)[1] for f in fields if f.startswith(key + ".")}
        out[key] = _drop(item, nested) if nested else item
    return out


def read(python: str, host: str, facts: dict[str, Spec]) -> dict[str, Any]:
    request = {"host": host, "facts": {k: (m, n, kw) for k, (m, n, kw, _) in facts.items()}}
    env = dict(os.environ)
    if python == sys.executable:
        env["PYTHONPATH"] = str(ROOT / "src")
    result = subprocess.run(
        [python, "-c", _READER],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{python} failed: {result.stderr.strip()[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def prepare_db(db: Any) -> None:
    """Objects with [a-z_] names (what pyinfra 3.10's grant pattern can read), and one
    database whose name has a digit. The container is new: fixed names are free."""
    db.mysql(
        "CREATE DATABASE pyidata_app CHARACTER SET latin1;"
        "CREATE TABLE pyidata_app.notes (id INT);"
        "CREATE DATABASE pyidata_app2;"
        "CREATE USER 'pyidata_user'@'localhost' IDENTIFIED BY 'x';"
        "GRANT SELECT, INSERT ON pyidata_app.* TO 'pyidata_user'@'localhost' WITH GRANT OPTION;"
        "GRANT UPDATE ON pyidata_app.notes TO 'pyidata_user'@'localhost';"
        "GRANT PROCESS ON *.* TO 'pyidata_user'@'localhost';"
        "CREATE USER 'pyidata_other'@'localhost';"
        "GRANT ALL ON pyidata_app2.* TO 'pyidata_other'@'localhost';"
        "CREATE USER 'pyidata_limited'@'%' WITH MAX_USER_CONNECTIONS 3;"
    )
    db.psql(
        "CREATE ROLE pyidata_role LOGIN CREATEDB CONNECTION LIMIT 4 PASSWORD 'x';"
        "CREATE DATABASE pyidata_db OWNER pyidata_role;"
    )


def prepare_docker(prefix: str, workdir: Path) -> None:
    from tests.helpers.dockerdata import make_plugin_dir

    def docker(*args: str) -> None:
        subprocess.run(["docker", *args], check=True, capture_output=True)

    docker("network", "create", "--label", "pyi-data=net", f"{prefix}-net")
    docker("volume", "create", "--label", "pyi-data=vol", f"{prefix}-vol")
    docker(
        "run", "-d", "--init", "--name", f"{prefix}-c", "--label", "pyi-data=c",
        "-e", "PYI=1", "-v", f"{prefix}-vol:/data", "--network", f"{prefix}-net",
        "-p", "127.0.0.1::8080", "pyinfra-test-base:bookworm", "sleep", "infinity",
    )  # fmt: skip
    docker("exec", f"{prefix}-c", "touch", "/tmp/pyi-new")
    docker("tag", "pyinfra-test-base:bookworm", f"{prefix}-img:1")
    docker("plugin", "create", f"{prefix}-plugin", str(make_plugin_dir(workdir / "plugin")))
    from tests.helpers import engines

    engines.run_container("podman", engines.BASE_IMAGE, name=f"{prefix}-p")


def cleanup_docker(prefix: str) -> None:
    for args in (
        ["rm", "-f", f"{prefix}-c"],
        ["network", "rm", f"{prefix}-net"],
        ["volume", "rm", f"{prefix}-vol"],
        ["rmi", f"{prefix}-img:1"],
        ["plugin", "rm", "-f", f"{prefix}-plugin"],
    ):
        subprocess.run(["docker", *args], capture_output=True, check=False)
    subprocess.run(["podman", "rm", "-f", f"{prefix}-p"], capture_output=True, check=False)


def specs(prefix: str) -> dict[str, Spec]:
    pg = {"_sudo": True, "_sudo_user": "postgres"}
    out: dict[str, Spec] = {
        "mysql.MysqlDatabases": ("mysql", "MysqlDatabases", {}, "db"),
        "mysql.MysqlUsers": ("mysql", "MysqlUsers", {}, "db"),
        "mysql.MysqlUserGrants(user)": (
            "mysql", "MysqlUserGrants", {"user": "pyidata_user"}, "db"),
        "mysql.MysqlUserGrants(digit in database name)": (
            "mysql", "MysqlUserGrants", {"user": "pyidata_other"}, "db"),
        "mysql.MysqlUserGrants(root)": ("mysql", "MysqlUserGrants", {"user": "root"}, "db"),
        "mysql.MysqlUserGrants(missing)": (
            "mysql", "MysqlUserGrants", {"user": "pyidata_none"}, "db"),
        "postgres.PostgresRoles": ("postgres", "PostgresRoles", pg, "db"),
        "postgres.PostgresDatabases": ("postgres", "PostgresDatabases", pg, "db"),
        "postgresql.PostgresqlRoles": ("postgresql", "PostgresqlRoles", pg, "db"),
        "postgresql.PostgresqlDatabases": ("postgresql", "PostgresqlDatabases", pg, "db"),
    }  # fmt: skip
    single = {
        "DockerContainer": f"{prefix}-c",
        "DockerImage": f"{prefix}-img:1",
        "DockerNetwork": f"{prefix}-net",
        "DockerVolume": f"{prefix}-vol",
        "DockerPlugin": f"{prefix}-plugin",
    }
    for name, object_id in single.items():
        out[f"docker.{name}"] = ("docker", name, {"object_id": object_id}, "local")
        out[f"docker.{name}(missing)"] = ("docker", name, {"object_id": f"{prefix}-x"}, "local")
    for name in (
        "DockerSystemInfo", "DockerVersion", "DockerContainers", "DockerImages",
        "DockerNetworks", "DockerVolumes", "DockerPlugins", "DockerContainerEnvs",
        "DockerContainerLabels", "DockerContainerMounts", "DockerContainerNetworks",
        "DockerContainerPorts", "DockerImageLabels", "DockerImageLayers",
        "DockerNetworkLabels", "DockerVolumeLabels", "DockerContainerStats", "DockerAuths",
    ):  # fmt: skip
        out[f"docker.{name}"] = ("docker", name, {}, "local")
    out["docker.DockerContainerFsChanges"] = (
        "docker",
        "DockerContainerFsChanges",
        {"container_id": f"{prefix}-c"},
        "local",
    )
    out["docker.DockerContainerProcesses"] = (
        "docker",
        "DockerContainerProcesses",
        {"container_id": f"{prefix}-c"},
        "local",
    )
    out["docker.DockerImageHistory"] = (
        "docker",
        "DockerImageHistory",
        {"image_id": f"{prefix}-img:1"},
        "local",
    )
    out["podman.PodmanPs"] = ("podman", "PodmanPs", {}, "local")
    out["podman.PodmanSystemInfo"] = ("podman", "PodmanSystemInfo", {}, "local")
    return out  # fmt: skip


def _mine(item: Any, mine: set[str]) -> bool:
    if not isinstance(item, dict):
        return False
    names = item.get("Names") if isinstance(item.get("Names"), list) else [item.get("Name")]
    keys = [item.get("Id"), item.get("ID"), item.get("Container"), *names]
    return any(str(k).lstrip("/") in mine for k in keys if k)


def normalise(key: str, entry: dict[str, Any], mine: set[str]) -> Any:
    if "error" in entry:
        return {"error": entry["error"].split(":")[0]}
    value = entry["value"]
    name = key.split(".", 1)[1].split("(")[0]
    if name in _ALL_OBJECTS:
        if isinstance(value, list):
            value = [item for item in value if _mine(item, mine)]
        elif isinstance(value, dict):
            value = {k: v for k, v in value.items() if k in mine}
    if name == "DockerContainerFsChanges" and isinstance(value, list):
        value = sorted(value, key=lambda change: (change["path"], change["change"]))
    fields = _VOLATILE.get(name)
    return _drop(value, fields) if fields else value


def compare(
    pyinfra3: str, spec: dict[str, Spec], hosts: dict[str, str], mine: set[str]
) -> tuple[list[dict[str, Any]], dict[str, dict[str, float]]]:
    rows = []
    pending = dict(spec)
    timings: dict[str, dict[str, float]] = {}
    for attempt in range(3):
        for target, host in hosts.items():
            chosen = {k: v for k, v in pending.items() if v[3] == target}
            if not chosen:
                continue
            theirs = read(pyinfra3, host, chosen)
            ours = read(sys.executable, host, chosen)
            seconds = {"pyinfra3": theirs.pop("__seconds__"), "ours": ours.pop("__seconds__")}
            timings.setdefault(target, seconds)
            for key in chosen:
                a, b = normalise(key, theirs[key], mine), normalise(key, ours[key], mine)
                if a == b or attempt == 2 or key in KNOWN:
                    result = "identical" if a == b else "different"
                    rows.append(
                        {
                            "fact": key,
                            "result": result,
                            "known": KNOWN.get(key) if result == "different" else None,
                            "pyinfra3": theirs[key],
                            "ours": ours[key],
                            "reads": attempt + 1,
                        }
                    )
                    pending.pop(key)
    return rows, timings


def my_objects(prefix: str) -> set[str]:
    """Ids and names of the objects this script made (docker and podman)."""
    from tests.helpers import engines

    def out(*args: str, engine: str = "docker") -> list[str]:
        return engines.cli(engine, *args).stdout.split()

    mine = {f"{prefix}-c", f"{prefix}-net", f"{prefix}-vol", f"{prefix}-p"}
    mine.update(out("container", "inspect", "-f", "{{.Id}}", f"{prefix}-c"))
    mine.update(c[:12] for c in out("container", "inspect", "-f", "{{.Id}}", f"{prefix}-c"))
    mine.update(out("network", "inspect", "-f", "{{.Id}}", f"{prefix}-net"))
    mine.update(out("image", "inspect", "-f", "{{.Id}}", f"{prefix}-img:1"))
    mine.update(out("plugin", "inspect", "-f", "{{.Id}}", f"{prefix}-plugin"))
    mine.update(out("container", "inspect", "-f", "{{.Id}}", f"{prefix}-p", engine="podman"))
    return mine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pyinfra3", default="/opt/pyinfra310/bin/python")
    parser.add_argument("--json", type=Path, help="write every value to this file")
    args = parser.parse_args()
    os.environ.setdefault("CONTAINERS_CONF", "/var/cache/pyinfra-test/containers.conf")

    from tests.helpers.databases import DatabaseServer, ensure_image

    reason = ensure_image()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    prefix = f"pyi-data-cmp-{uuid.uuid4().hex[:6]}"
    db = DatabaseServer().start()
    workdir = Path(tempfile.mkdtemp(prefix="pyi-data-cmp-"))
    try:
        prepare_db(db)
        prepare_docker(prefix, workdir)
        time.sleep(1)  # docker stats needs a sample of the new container
        rows, timings = compare(
            args.pyinfra3,
            specs(prefix),
            {"db": db.docker_name(), "local": "@local"},
            my_objects(prefix),
        )
    finally:
        cleanup_docker(prefix)
        db.stop()
        subprocess.run(["rm", "-rf", str(workdir)], check=False)

    width = max(len(r["fact"]) for r in rows)
    for row in rows:
        note = ""
        fields = _VOLATILE.get(row["fact"].split(".", 1)[1].split("(")[0])
        if fields and row["result"] == "identical":
            note = f"  (without the changing fields {', '.join(sorted(fields))})"
        if row["reads"] > 1:
            note += f"  (read {row['reads']} times)"
        if row["known"]:
            note += f"  (on purpose: {row['known']})"
        print(f"{row['fact']:<{width}}  {row['result']}{note}")
    same = sum(r["result"] == "identical" for r in rows)
    known = sum(bool(r["known"]) for r in rows)
    print(f"\n{same} of {len(rows)} fact reads identical, {known} different on purpose")
    for target, seconds in timings.items():
        print(
            f"time to read the {target} facts once: pyinfra 3.10 {seconds['pyinfra3']:.2f} s, "
            f"ours {seconds['ours']:.2f} s"
        )
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "timings": timings}, indent=1))
    return 0 if same + known == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
