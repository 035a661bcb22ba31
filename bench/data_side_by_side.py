#!/usr/bin/env python3
"""Database and docker operations, pyinfra 3.10 and ours side by side, through the CLI.

Usage (root, after scripts/setup-data.sh):  .venv/bin/python bench/data_side_by_side.py

For each tool, on a database container of its own (tests/helpers/databases.py) and
on this machine's dockerd:

* wall time of ``pyinfra -y TARGET deploy.py`` for the first run (everything
  created) and a second, no-change run, and the number of operations that reported
  a change on the second run (0 is idempotent);
* whether the connection password appears in the container's process list while a
  ``mysql.sql("SELECT SLEEP(2)")`` and a ``postgres.sql("SELECT pg_sleep(2)")`` run.

The deploy files are the same for both tools (pyinfra 3.x API only).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import engines  # noqa: E402
from tests.helpers.databases import (  # noqa: E402
    ADMIN,
    ADMIN_PASSWORD,
    DatabaseServer,
    ensure_image,
)

DB_DEPLOY = """
from pyinfra import host
from pyinfra.operations import mysql, postgres

my = dict(mysql_user=host.data.admin, mysql_password=host.data.pw, mysql_host="127.0.0.1")
pg = dict(psql_user=host.data.admin, psql_password=host.data.pw, psql_host="127.0.0.1",
          psql_database="postgres")
for name in ("alpha", "beta", "gamma"):
    mysql.database(name="db " + name, database="pyidata_" + name, charset="utf8mb4", **my)
mysql.user(name="user", user="pyidata_user", password="secret", max_connections=5, **my)
mysql.privileges(name="grant", user="pyidata_user", privileges=["SELECT", "INSERT"],
                 database="pyidata_alpha", **my)
postgres.role(name="role", role="pyidata_role", createdb=True, **pg)
postgres.database(name="pgdb", database="pyidata_db", owner="pyidata_role", **pg)
"""

SECRET_DEPLOY = """
from pyinfra import host
from pyinfra.operations import mysql, postgres

mysql.sql(name="sleep", sql="SELECT SLEEP(2)", mysql_user=host.data.admin,
          mysql_password=host.data.pw, mysql_host="127.0.0.1")
postgres.sql(name="pg sleep", sql="SELECT pg_sleep(2)", psql_user=host.data.admin,
             psql_password=host.data.pw, psql_host="127.0.0.1", psql_database="postgres")
"""

DOCKER_DEPLOY = """
from pyinfra import host
from pyinfra.operations import docker

stem = host.data.stem
docker.network(name="net", network=stem + "-net")
docker.volume(name="vol", volume=stem + "-vol")
docker.container(name="app", container=stem + "-app", image="pyinfra-test-base:bookworm",
                 command="sleep infinity", networks=[stem + "-net"],
                 volumes=[stem + "-vol:/data"], env_vars=["A=1"], labels=["pyi-data=bench"],
                 extra_args=["--init"])
"""


def cli(tool: str) -> list[str]:
    if tool == "pyinfra3":
        return ["/opt/pyinfra310/bin/pyinfra"]
    return [sys.executable, "-m", "pyinfra"]


def run(tool: str, target: str, deploy: Path, *data: str) -> tuple[float, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if tool == "ours":
        env["PYTHONPATH"] = str(ROOT / "src")
    args = [*cli(tool), "-y", target, str(deploy)]
    for item in data:
        args += ["--data", item]
    started = time.monotonic()
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"{tool} {deploy.name}: {(result.stderr or result.stdout)[-1500:]}")
    return seconds, result.stdout + result.stderr


def changed_count(output: str) -> str:
    """The 'changed' summary lines of both CLIs (for the report)."""
    lines = [line.strip() for line in output.splitlines()]
    keep = [line for line in lines if "hange" in line or "Success" in line]
    return " | ".join(keep[-3:])


def watch(db: DatabaseServer, stop: threading.Event, seen: list[str]) -> None:
    while not stop.is_set():
        seen.extend(db.processes())


def main() -> int:
    reason = ensure_image()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="pyi-data-bench-"))
    files = {}
    for name, text in (("db", DB_DEPLOY), ("secret", SECRET_DEPLOY), ("docker", DOCKER_DEPLOY)):
        files[name] = workdir / f"{name}_deploy.py"
        files[name].write_text(text)
    try:
        creds = (f"admin={ADMIN}", f"pw={ADMIN_PASSWORD}")
        for tool in ("pyinfra3", "ours"):
            db = DatabaseServer().start()
            stem = f"pyi-data-bench-{uuid.uuid4().hex[:6]}"
            try:
                target = db.docker_name()
                first, _ = run(tool, target, files["db"], *creds)
                second, out = run(tool, target, files["db"], *creds)
                print(f"{tool:9} databases: first run {first:.2f} s, no-change run {second:.2f} s")
                print(f"{'':9}   second run says: {changed_count(out)}")
                stop, seen = threading.Event(), []
                thread = threading.Thread(target=watch, args=(db, stop, seen))
                thread.start()
                try:
                    run(tool, target, files["secret"], *creds)
                finally:
                    stop.set()
                    thread.join()
                # The password's first word: a shell-quoted copy still shows it whole.
                exposed = [line for line in seen if ADMIN_PASSWORD.split()[0] in line]
                clients = [line for line in seen if "mysql" in line or "psql" in line]
                print(
                    f"{'':9}   password in the process list: {'YES' if exposed else 'no'} "
                    f"({len(clients)} client process listings seen)"
                )
                if exposed:
                    print(f"{'':9}   e.g. {exposed[0][:160]}")
                first, _ = run(tool, "@local", files["docker"], f"stem={stem}")
                second, out = run(tool, "@local", files["docker"], f"stem={stem}")
                print(f"{tool:9} docker: first run {first:.2f} s, no-change run {second:.2f} s")
                print(f"{'':9}   second run says: {changed_count(out)}")
            finally:
                db.stop()
                engines.cli("docker", "rm", "-f", f"{stem}-app", check=False)
                engines.cli("docker", "network", "rm", f"{stem}-net", check=False)
                engines.cli("docker", "volume", "rm", f"{stem}-vol", check=False)
    finally:
        subprocess.run(["rm", "-rf", str(workdir)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
