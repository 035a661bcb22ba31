"""mysql.* and postgres.*/postgresql.* against real MariaDB and PostgreSQL servers
(Debian's packages in a container, see tests/helpers/databases.py), through @docker
(root: MariaDB's socket, PostgreSQL's peer authentication with _sudo_user) and @ssh
(an unprivileged user: password authentication over TCP).

Each idempotent operation: a dry run reports changes and changes nothing, the first
run changes, the second run changes nothing. Passwords never appear in the process
list, in logs or in results; SQL errors show the server's message.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pyinfra.api.host import Host
from pyinfra.api.operation import OperationMeta
from pyinfra.facts.mysql import MysqlDatabases, MysqlUserGrants, MysqlUsers
from pyinfra.facts.postgres import PostgresDatabases, PostgresRoles
from pyinfra.facts.postgresql import PostgresqlDatabases, PostgresqlRoles
from pyinfra.operations import mysql, postgres, postgresql
from tests.helpers import engines
from tests.helpers.containerkit import connected
from tests.helpers.databases import ADMIN, ADMIN_PASSWORD, DatabaseServer, ensure_image
from tests.helpers.deploykit import run

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def server() -> Iterator[DatabaseServer]:
    engines.require(ensure_image())
    db = DatabaseServer().start()
    try:
        yield db
    finally:
        db.stop()


@dataclass
class Target:
    id: str
    host: Host
    db: DatabaseServer
    my: dict[str, Any] = field(default_factory=dict)  # mysql_* (or privilege) arguments
    pg: dict[str, Any] = field(default_factory=dict)  # psql_* (or privilege) arguments

    def unique(self, stem: str) -> str:
        return f"pyi_data_{stem}_{self.id}_{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module", params=["docker", "ssh"])
def target(request: pytest.FixtureRequest, server: DatabaseServer) -> Iterator[Target]:
    if request.param == "docker":
        with connected(server.docker_name()) as host:
            yield Target("docker", host, server, {}, {"_sudo": True, "_sudo_user": "postgres"})
    else:
        conn = {"mysql_user": ADMIN, "mysql_password": ADMIN_PASSWORD, "mysql_host": "127.0.0.1"}
        pg = {
            "psql_user": ADMIN,
            "psql_password": ADMIN_PASSWORD,
            "psql_host": "127.0.0.1",
            "psql_database": "postgres",
        }
        with connected("127.0.0.1", server.ssh_data()) as host:
            yield Target("ssh", host, server, conn, pg)


def _changed(results: list[OperationMeta]) -> list[str]:
    return [m.name for m in results if m.changed]


def contract(
    t: Target, deploy: Callable[[], None], snapshot: Callable[[], str]
) -> list[OperationMeta]:
    """Dry run (changes reported, nothing changed), real run, second run (no change),
    second dry run (no change). Returns the first real run's results."""
    before = snapshot()
    dry = run(t.host, deploy, dry=True)
    assert _changed(dry), "the dry run should report changes"
    assert all(not c.executed for m in dry for c in m.commands)
    assert snapshot() == before, "the dry run changed the server"
    first = run(t.host, deploy)
    assert _changed(first)
    second = run(t.host, deploy)
    assert _changed(second) == [], [(m.name, m.commands) for m in second if m.changed]
    assert all(not m.commands for m in second)
    assert _changed(run(t.host, deploy, dry=True)) == []
    return first


# MySQL / MariaDB ---------------------------------------------------------------------


def _mysql_state(db: DatabaseServer, prefix: str) -> str:
    like = prefix.replace("_", "\\_") + "%"
    return db.mysql(
        f"SELECT schema_name, default_character_set_name, default_collation_name "
        f"FROM information_schema.SCHEMATA WHERE schema_name LIKE '{like}' ORDER BY 1;"
        f"SELECT user, host, max_user_connections, ssl_type FROM mysql.user "
        f"WHERE user LIKE '{like}' ORDER BY 1, 2;"
        f"SELECT grantee, privilege_type, is_grantable FROM information_schema.USER_PRIVILEGES "
        f"WHERE grantee LIKE '%{like}' ORDER BY 1, 2;"
        f"SELECT grantee, table_schema, privilege_type FROM information_schema.SCHEMA_PRIVILEGES "
        f"WHERE grantee LIKE '%{like}' ORDER BY 1, 2, 3;"
        f"SELECT grantee, table_schema, table_name, privilege_type "
        f"FROM information_schema.TABLE_PRIVILEGES WHERE grantee LIKE '%{like}' "
        f"ORDER BY 1, 2, 3, 4;"
    )


def test_mysql_operations_are_idempotent(target: Target) -> None:
    t, db = target, target.db
    prefix = t.unique("my")
    user, gone_user = f"{prefix}_u", f"{prefix}_old"
    app_db, tables_db, gone_db = f"{prefix}_app", f"{prefix}_tables", f"{prefix}_gone"
    db.mysql(
        f"CREATE USER '{gone_user}'@'localhost'; CREATE DATABASE `{gone_db}`;"
        f"CREATE DATABASE `{tables_db}`; CREATE TABLE `{tables_db}`.t1 (id INT);"
    )

    def deploy() -> None:
        mysql.user(
            user,
            password="app pass 'with' \"quotes\"",
            max_connections=5,
            max_queries_per_hour=100,
            privileges=["PROCESS"],
            **t.my,
        )
        mysql.database(
            app_db,
            charset="utf8mb4",
            collate="utf8mb4_bin",
            user=user,
            user_privileges=["SELECT", "INSERT"],
            **t.my,
        )
        mysql.privileges(user, ["select", "update"], database=tables_db, table="t1", **t.my)
        mysql.privileges(user, "ALL", database=tables_db, with_grant_option=True, **t.my)
        mysql.user(gone_user, present=False, **t.my)
        mysql.database(gone_db, present=False, **t.my)

    contract(t, deploy, lambda: _mysql_state(db, prefix))

    state = _mysql_state(db, prefix)
    assert f"{app_db}\tutf8mb4\tutf8mb4_bin" in state
    assert gone_db not in state and gone_user not in state
    assert f"{user}\tlocalhost\t5\t" in state
    grants = t.host.get_fact(MysqlUserGrants, user, **t.my)
    assert grants == {
        "*.*": {"PROCESS"},
        f"`{app_db}`.*": {"SELECT", "INSERT"},
        f"`{tables_db}`.*": {"ALL PRIVILEGES", "GRANT OPTION"},
        f"`{tables_db}`.`t1`": {"SELECT", "UPDATE"},
    }
    # The user's password works (it went through stdin, quotes and all).
    check = db.exec(
        "mysql", f"--user={user}", "--password=app pass 'with' \"quotes\"", "-N", "-e",
        "SELECT CURRENT_USER()",
    )  # fmt: skip
    assert check.strip() == f"{user}@localhost"

    # Changing privileges: revoke what is no longer wanted, in the same contract.
    def narrow() -> None:
        mysql.privileges(user, ["SELECT"], database=app_db, **t.my)
        mysql.privileges(user, [], database=tables_db, table="t1", **t.my)
        mysql.user(user, max_connections=7, **t.my)

    contract(t, narrow, lambda: _mysql_state(db, prefix))
    grants = t.host.get_fact(MysqlUserGrants, user, **t.my)
    assert grants[f"`{app_db}`.*"] == {"SELECT"} and f"`{tables_db}`.`t1`" not in grants
    assert t.host.get_fact(MysqlUsers, **t.my)[f"{user}@localhost"]["max_user_connections"] == 7
    databases = t.host.get_fact(MysqlDatabases, **t.my)
    assert databases[app_db] == {"character_set": "utf8mb4", "collation_name": "utf8mb4_bin"}

    def remove() -> None:
        mysql.database(app_db, present=False, **t.my)
        mysql.database(tables_db, present=False, **t.my)
        mysql.user(user, present=False, **t.my)

    contract(t, remove, lambda: _mysql_state(db, prefix))
    assert prefix not in _mysql_state(db, prefix)


def test_mysql_sql_dump_and_load(target: Target) -> None:
    t, db = target, target.db
    prefix = t.unique("dump")
    source, copy = f"{prefix}_src", f"{prefix}_copy"
    dump = f"/tmp/{prefix}.sql"

    def deploy() -> None:
        mysql.database(source, **t.my)
        mysql.database(copy, **t.my)
        mysql.sql(
            "CREATE TABLE notes (id INT PRIMARY KEY, body TEXT);"
            "INSERT INTO notes VALUES (1, 'it''s here; really');",
            database=source,
            **t.my,
        )
        mysql.dump(dump, database=source, **t.my)
        mysql.load(dump, database=copy, **t.my)

    dry = run(t.host, deploy, dry=True)
    assert len(_changed(dry)) == 5 and all(not c.executed for m in dry for c in m.commands)
    assert db.exec("sh", "-c", f"ls /tmp/{prefix}* 2>/dev/null || true") == ""
    results = run(t.host, deploy)
    assert all(m.success for m in results)
    assert db.mysql(f"SELECT body FROM `{copy}`.notes").strip() == "it's here; really"
    assert "CREATE TABLE `notes`" in db.exec("cat", dump)
    # No temp file of the dump is left beside it.
    assert db.exec("sh", "-c", "ls -a /tmp | grep -c pyinfra-dump || true").strip() == "0"
    db.mysql(f"DROP DATABASE `{source}`; DROP DATABASE `{copy}`")
    db.exec("rm", "-f", dump)


def test_mysql_bad_input(target: Target) -> None:
    t, db = target, target.db
    prefix = t.unique("bad")
    before = _mysql_state(db, prefix)

    def sql_error() -> None:
        mysql.sql("SELEC 1", **t.my)

    results = run(t.host, sql_error, expect_success=False)
    assert results[-1].success is False
    error = results[-1].error or ""
    assert "ERROR 1064" in error and "SQL syntax" in error, error
    assert ADMIN_PASSWORD.split()[0] not in json.dumps([m.to_dict() for m in results])

    # A failing dump leaves no file and no temp file behind.
    dump = f"/tmp/{prefix}.sql"
    results = run(
        t.host, lambda: mysql.dump(dump, database=f"{prefix}_none", **t.my), expect_success=False
    )
    assert "Unknown database" in (results[-1].error or ""), results[-1].error
    assert db.exec("sh", "-c", f"ls -a /tmp | grep -e {prefix} -e pyinfra-dump || true") == ""

    for call, message in (
        (lambda: mysql.user(f"{prefix}_u", require="TLS", **t.my), 'require must be "SSL"'),
        (
            lambda: mysql.privileges(f"{prefix}_u", ["SELECT"], table="t1", **t.my),
            "need a database",
        ),
        (
            lambda: mysql.privileges(f"{prefix}_u", ["SELECT; DROP"], **t.my),
            "not a privilege name",
        ),
        (lambda: mysql.database(f"{prefix}_d", charset="utf8; x", **t.my), "charset name"),
    ):
        results = run(t.host, call, expect_success=False)
        error = results[-1].error or ""
        assert message in error and "\n" not in error, error
        assert not results[-1].commands
    assert _mysql_state(db, prefix) == before


# PostgreSQL --------------------------------------------------------------------------


def _pg_state(db: DatabaseServer, prefix: str) -> str:
    return db.psql(
        f"SELECT rolname, rolsuper, rolcanlogin, rolcreatedb, rolconnlimit, "
        f"md5(coalesce(rolpassword, '')) FROM pg_authid WHERE rolname LIKE '{prefix}%' "
        f"ORDER BY 1;"
        f"SELECT datname, pg_get_userbyid(datdba), datconnlimit, "
        f"pg_encoding_to_char(encoding) FROM pg_database "
        f"WHERE datname LIKE '{prefix}%' ORDER BY 1;"
    )


def test_postgres_operations_are_idempotent(target: Target) -> None:
    t, db = target, target.db
    prefix = t.unique("pg")
    owner, gone_role, nologin = f"{prefix}_owner", f"{prefix}_old", f"{prefix}_nologin"
    app_db, gone_db = f"{prefix}_app", f"{prefix}_gone"
    db.psql(
        f'CREATE ROLE "{gone_role}"; CREATE ROLE "{nologin}" NOLOGIN;CREATE DATABASE "{gone_db}";'
    )

    def deploy() -> None:
        postgres.role(
            owner,
            password="owner pass 'q' \\ $x",
            createdb=True,
            connection_limit=3,
            **t.pg,
        )
        postgresql.role(nologin, login=True, **t.pg)
        postgres.database(
            app_db, owner=owner, encoding="UTF8", connection_limit=4, template="template0", **t.pg
        )
        postgres.role(gone_role, present=False, **t.pg)
        postgresql.database(gone_db, present=False, **t.pg)

    contract(t, deploy, lambda: _pg_state(db, prefix))

    state = _pg_state(db, prefix)
    assert f"{owner}|f|t|t|3|" in state
    assert f"{nologin}|f|t|f|-1|" in state
    assert f"{app_db}|{owner}|4|UTF8" in state
    assert gone_role not in state and gone_db not in state
    roles = t.host.get_fact(PostgresRoles, **t.pg)
    assert roles[owner]["createdb"] is True and roles[owner]["connlimit"] == 3
    assert t.host.get_fact(PostgresqlRoles, **t.pg) == roles
    databases = t.host.get_fact(PostgresDatabases, **t.pg)
    assert databases[app_db]["owner"] == owner and databases[app_db]["encoding"] == "UTF8"
    assert t.host.get_fact(PostgresqlDatabases, **t.pg).keys() == databases.keys()
    # The role's password is the one given (it went through stdin).
    check = db.exec(
        "env", "PGPASSWORD=owner pass 'q' \\ $x", "psql", "-X", "-h", "127.0.0.1",
        "-U", owner, "-d", "postgres", "-Atc", "SELECT current_user",
    )  # fmt: skip
    assert check.strip() == owner

    # A new password is a change; the same one again is not.
    def new_password() -> None:
        postgres.role(owner, password="another one", **t.pg)
        postgres.database(app_db, connection_limit=5, **t.pg)

    contract(t, new_password, lambda: _pg_state(db, prefix))

    def remove() -> None:
        postgres.database(app_db, present=False, **t.pg)
        postgres.role(owner, present=False, **t.pg)
        postgres.role(nologin, present=False, **t.pg)

    contract(t, remove, lambda: _pg_state(db, prefix))
    assert prefix not in _pg_state(db, prefix)


def test_postgres_sql_dump_and_load(target: Target) -> None:
    t, db = target, target.db
    prefix = t.unique("pgdump")
    source, copy = f"{prefix}_src", f"{prefix}_copy"
    dump = f"/tmp/{prefix}.sql"
    src_conn = {**t.pg, "psql_database": source}
    copy_conn = {**t.pg, "psql_database": copy}

    def deploy() -> None:
        postgres.database(source, **t.pg)
        postgres.database(copy, **t.pg)
        postgres.sql(
            "CREATE TABLE notes (id INT PRIMARY KEY, body TEXT);"
            "INSERT INTO notes VALUES (1, 'it''s here; really | piped');",
            **src_conn,
        )
        postgres.dump(dump, **src_conn)
        postgresql.load(dump, **copy_conn)

    dry = run(t.host, deploy, dry=True)
    assert len(_changed(dry)) == 5 and all(not c.executed for m in dry for c in m.commands)
    results = run(t.host, deploy)
    assert all(m.success for m in results), [m.error for m in results]
    out = db.exec("sudo", "-u", "postgres", "psql", "-X", "-Atc", "SELECT body FROM notes", copy)
    assert out.strip() == "it's here; really | piped"
    assert "CREATE TABLE public.notes" in db.exec("cat", dump)
    db.psql(f'DROP DATABASE "{source}"; DROP DATABASE "{copy}";')
    db.exec("rm", "-f", dump)


def test_postgres_bad_input(target: Target) -> None:
    t, db = target, target.db
    prefix = t.unique("pgbad")

    def sql_error() -> None:
        postgres.sql(f"CREATE TABLE {prefix} (id INT); SELEC 1", **t.pg)

    results = run(t.host, sql_error, expect_success=False)
    error = results[-1].error or ""
    assert 'syntax error at or near "SELEC"' in error, error
    assert ADMIN_PASSWORD.split()[0] not in json.dumps([m.to_dict() for m in results])

    def load_missing() -> None:
        postgres.load(f"/tmp/{prefix}-missing.sql", **t.pg)

    results = run(t.host, load_missing, expect_success=False)
    assert "No such file" in (results[-1].error or ""), results[-1].error

    dump = f"/tmp/{prefix}.sql"
    results = run(
        t.host,
        lambda: postgres.dump(dump, **{**t.pg, "psql_database": f"{prefix}_none"}),
        expect_success=False,
    )
    assert f'database "{prefix}_none" does not exist' in (results[-1].error or "")
    assert db.exec("sh", "-c", f"ls -a /tmp | grep -e {prefix} -e pyinfra-dump || true") == ""

    results = run(t.host, lambda: postgres.role("", **t.pg), expect_success=False)
    assert "argument role must be a non-empty string" in (results[-1].error or "")
    assert not results[-1].commands
    assert prefix not in _pg_state(db, prefix)


# Secrets ---------------------------------------------------------------------------


class _Watcher:
    """Polls the container's process list in a thread while operations run."""

    def __init__(self, db: DatabaseServer) -> None:
        self.db = db
        self.seen: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.seen.extend(self.db.processes())

    def __enter__(self) -> _Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_passwords_never_in_process_list_or_logs(
    server: DatabaseServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The connection's password and the managed accounts' passwords, while the
    clients run (each query sleeps long enough to be seen), in every log record with
    commands and output shown, and in the results."""
    prefix = f"pyi_data_secret_{uuid.uuid4().hex[:6]}"
    new_password = f"{prefix}-New'Pass\"word"
    my: dict[str, Any] = {
        "mysql_user": ADMIN,
        "mysql_password": ADMIN_PASSWORD,
        "mysql_host": "127.0.0.1",
    }
    pg: dict[str, Any] = {
        "psql_user": ADMIN,
        "psql_password": ADMIN_PASSWORD,
        "psql_host": "127.0.0.1",
        "psql_database": "postgres",
    }

    def deploy() -> None:
        mysql.user(prefix, password=new_password, **my)
        mysql.sql("SELECT SLEEP(1)", **my)
        postgres.role(prefix, password=new_password, **pg)
        postgres.sql("SELECT pg_sleep(1)", **pg)
        mysql.user(prefix, present=False, **my)
        postgres.role(prefix, present=False, **pg)

    caplog.set_level(logging.DEBUG)
    with connected(server.docker_name()) as host, _Watcher(server) as watcher:
        assert host.state is not None
        host.state.print_input = True
        host.state.print_output = True
        results = run(host, deploy)
    assert all(m.success for m in results)
    clients = [line for line in watcher.seen if " mysql " in line or " psql " in line]
    assert any("SLEEP" not in line and "mysql" in line for line in clients), watcher.seen[-20:]
    assert any("psql" in line for line in clients)
    text = "\n".join(watcher.seen)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    dumped = json.dumps([m.to_dict() for m in results])
    # Whole passwords, and their first words (a shell-quoted copy still shows those).
    for secret in (ADMIN_PASSWORD, new_password, ADMIN_PASSWORD.split()[0], f"{prefix}-New"):
        assert secret not in text
        assert secret not in logged
        assert secret not in dumped
    assert "mysql --defaults-extra-file=/dev/fd/3" in logged  # commands were logged


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run(
        [sys.executable, "-m", "pyinfra", "-y", "-vvv", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_cli_sql_error_shows_server_message_not_password(server: DatabaseServer) -> None:
    common = ["mysql_user=" + ADMIN, "mysql_password=" + ADMIN_PASSWORD, "mysql_host=127.0.0.1"]
    result = _cli(server.docker_name(), "mysql.sql", "SELEC 1", *common)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "ERROR 1064" in out and ADMIN_PASSWORD.split()[0] not in out, out[-2000:]
    result = _cli(
        server.docker_name(),
        "postgres.sql",
        "SELEC 1",
        "psql_user=" + ADMIN,
        "psql_password=" + ADMIN_PASSWORD,
        "psql_host=127.0.0.1",
        "psql_database=postgres",
    )
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert 'syntax error at or near "SELEC"' in out, out[-2000:]
    assert ADMIN_PASSWORD.split()[0] not in out
    # A wrong connection password: the server's refusal, no password anywhere.
    wrong = "Wr0ng-" + ADMIN_PASSWORD
    result = _cli(
        server.docker_name(),
        "fact",
        "mysql.MysqlDatabases",
        "mysql_user=" + ADMIN,
        "mysql_password=" + wrong,
        "mysql_host=127.0.0.1",
    )
    out = result.stdout + result.stderr
    assert "Access denied" in out and ADMIN_PASSWORD.split()[0] not in out, out[-2000:]
