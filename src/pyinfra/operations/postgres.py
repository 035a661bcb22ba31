"""Manage PostgreSQL databases and roles with ``psql`` on the target.

Every operation takes the connection arguments ``psql_user``, ``psql_password``,
``psql_host``, ``psql_port`` and ``psql_database`` (all optional; local peer
authentication works with ``_sudo=True, _sudo_user="postgres"``). Passwords (the
connection's and the roles') never appear on a command line, in the process list or
in logs: they and the SQL travel on the client's standard input (see
:mod:`pyinfra.facts.dbclient`). ``psql`` stops at the first failing statement and the
operation fails with the server's message.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.dbclient import (
    PsqlConnection,
    pg_identifier,
    pg_password_matches,
    pg_string,
    psql_command,
)
from pyinfra.facts.postgres import (
    PostgresDatabases,
    PostgresRoles,
    _RolePasswordHash,
    _Tablespaces,
)
from pyinfra.operations._database import (
    check_name,
    check_sql,
    drop_entry,
    entry_change,
    port_number,
)
from pyinfra.operations.util import fail

Commands = Generator[Any, Any, None]


def _conn(
    op: str,
    user: str | None,
    password: str | None,
    hostname: str | None,
    port: int | None,
    database: str | None,
) -> PsqlConnection:
    number = port_number(op, "psql_port", port)
    if password is not None and ("\n" in password or "\r" in password or "\0" in password):
        raise fail(op, "argument psql_password must not contain newline or NUL characters")
    return PsqlConnection(user, password, hostname, number, database)


def _check_limit(op: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(op, f"argument connection_limit must be an integer, got {value!r}")
    return value


def _run(conn: PsqlConnection, sql: str, quiet: bool = True) -> Any:
    return psql_command(conn, args=("-q",) if quiet else (), sql=sql)


@operation(is_idempotent=False)
def sql(
    sql: str,
    psql_user: str | None = None,
    psql_password: str | None = None,
    psql_host: str | None = None,
    psql_port: int | None = None,
    psql_database: str | None = None,
) -> Commands:
    """Run SQL statements (always reports a change); the first failing one stops the
    rest and fails the operation.

    + sql: one or more statements
    + psql_*: connection arguments (see the module's description)
    """
    op = "postgres.sql"
    check_sql(op, sql)
    conn = _conn(op, psql_user, psql_password, psql_host, psql_port, psql_database)
    yield psql_command(conn, args=("-A",), sql=sql)


_ROLE_FLAGS = (
    ("LOGIN", "canlogin"),
    ("SUPERUSER", "super"),
    ("INHERIT", "inherit"),
    ("CREATEDB", "createdb"),
    ("CREATEROLE", "createrole"),
    ("REPLICATION", "replication"),
)


@operation()
def role(
    role: str,
    present: bool = True,
    password: str | None = None,
    login: bool = True,
    superuser: bool = False,
    inherit: bool = False,
    createdb: bool = False,
    createrole: bool = False,
    replication: bool = False,
    connection_limit: int | None = None,
    psql_user: str | None = None,
    psql_password: str | None = None,
    psql_host: str | None = None,
    psql_port: int | None = None,
    psql_database: str | None = None,
) -> Commands:
    """Add, update or remove a role.

    + role: the role's name
    + present: whether it should exist
    + password: its password. When the connection may read ``pg_authid`` (a
      superuser), the stored hash is checked and the password set only when it
      differs; otherwise it is set on every run, as it cannot be compared
    + login, superuser, inherit, createdb, createrole, replication: attributes given
      on creation; on an existing role, those asked for (True) and missing are added
    + connection_limit: the role's connection limit
    + psql_*: connection arguments (see the module's description)
    """
    op = "postgres.role"
    check_name(op, role, "role")
    limit = _check_limit(op, connection_limit)
    conn = _conn(op, psql_user, psql_password, psql_host, psql_port, psql_database)
    kwargs = conn.fact_kwargs()
    roles = host.get_fact(PostgresRoles, **kwargs)
    current = roles.get(role)
    name = pg_identifier(role)

    if not present:
        yield from drop_entry(
            f"postgresql role {role}",
            _run(conn, f"DROP ROLE {name}"),
            PostgresRoles,
            kwargs,
            roles,
            role,
        )
        return

    wanted = {
        "LOGIN": login,
        "SUPERUSER": superuser,
        "INHERIT": inherit,
        "CREATEDB": createdb,
        "CREATEROLE": createrole,
        "REPLICATION": replication,
    }
    if current is None:
        parts = [f"CREATE ROLE {name}"]
        parts += [keyword for keyword, value in wanted.items() if value]
        if limit:
            parts.append(f"CONNECTION LIMIT {limit}")
        if password:
            parts.append(f"PASSWORD {pg_string(password)}")
        yield _run(conn, " ".join(parts))
        predicted: dict[str, Any] = {
            column: bool(wanted[keyword]) for keyword, column in _ROLE_FLAGS
        }
        predicted["connlimit"] = limit or -1
        yield entry_change(PostgresRoles, kwargs, roles, role, predicted)
        return

    parts = [
        keyword for keyword, column in _ROLE_FLAGS if wanted[keyword] and not current.get(column)
    ]
    if limit and current.get("connlimit") != limit:
        parts.append(f"CONNECTION LIMIT {limit}")
    if password and not _password_is(conn, role, password):
        parts.append(f"PASSWORD {pg_string(password)}")
    if not parts:
        host.noop(f"postgresql role {role} exists and does not need updates")
        return
    yield _run(conn, f"ALTER ROLE {name} " + " ".join(parts))
    updated = dict(current)
    for keyword, column in _ROLE_FLAGS:
        if wanted[keyword]:
            updated[column] = True
    if limit:
        updated["connlimit"] = limit
    yield entry_change(PostgresRoles, kwargs, roles, role, updated, also_drop=(_RolePasswordHash,))


def _password_is(conn: PsqlConnection, role: str, password: str) -> bool:
    """True when the role's stored password is known to be ``password``."""
    stored = host.get_fact(_RolePasswordHash, role=role, **conn.fact_kwargs())
    if not stored or not stored.get("readable"):
        return False
    return bool(pg_password_matches(stored.get("hash"), role, password))


_LOCALE = re.compile(r"^[A-Za-z0-9_.@-]+$")


@operation()
def database(
    database: str,
    present: bool = True,
    owner: str | None = None,
    template: str | None = None,
    encoding: str | None = None,
    lc_collate: str | None = None,
    lc_ctype: str | None = None,
    tablespace: str | None = None,
    connection_limit: int | None = None,
    psql_user: str | None = None,
    psql_password: str | None = None,
    psql_host: str | None = None,
    psql_port: int | None = None,
    psql_database: str | None = None,
) -> Commands:
    """Add, update or remove a database.

    + database: the database's name
    + present: whether it should exist
    + owner: the role that owns it
    + template, encoding, lc_collate, lc_ctype: used on creation (PostgreSQL cannot
      change them later; an existing database keeps its own)
    + tablespace: its default tablespace
    + connection_limit: its connection limit
    + psql_*: connection arguments (see the module's description)
    """
    op = "postgres.database"
    check_name(op, database, "database")
    limit = _check_limit(op, connection_limit)
    for argument, value in (
        ("encoding", encoding),
        ("lc_collate", lc_collate),
        ("lc_ctype", lc_ctype),
    ):
        if value is not None and not _LOCALE.match(value):
            raise fail(op, f"argument {argument} is not a valid name: {value!r}")
    conn = _conn(op, psql_user, psql_password, psql_host, psql_port, psql_database)
    kwargs = conn.fact_kwargs()
    databases = host.get_fact(PostgresDatabases, **kwargs)
    current = databases.get(database)
    name = pg_identifier(database)

    if not present:
        yield from drop_entry(
            f"postgresql database {database}",
            _run(conn, f"DROP DATABASE {name}"),
            PostgresDatabases,
            kwargs,
            databases,
            database,
        )
        return

    if current is None:
        parts = [f"CREATE DATABASE {name}"]
        if owner:
            parts.append(f"OWNER {pg_identifier(owner)}")
        if template:
            parts.append(f"TEMPLATE {pg_identifier(template)}")
        if encoding:
            parts.append(f"ENCODING {pg_string(encoding)}")
        if lc_collate:
            parts.append(f"LC_COLLATE {pg_string(lc_collate)}")
        if lc_ctype:
            parts.append(f"LC_CTYPE {pg_string(lc_ctype)}")
        if tablespace:
            parts.append(f"TABLESPACE {pg_identifier(tablespace)}")
        if limit:
            parts.append(f"CONNECTION LIMIT {limit}")
        yield _run(conn, " ".join(parts))
        predicted: dict[str, Any] = {
            "owner": owner or psql_user,
            "encoding": encoding,
            "connlimit": limit or -1,
            "istemplate": False,
            "allowconn": True,
        }
        yield entry_change(PostgresDatabases, kwargs, databases, database, predicted)
        return

    for keyword, value in (
        ("TEMPLATE", template),
        ("ENCODING", encoding if encoding != current.get("encoding") else None),
        ("LC_COLLATE", lc_collate if lc_collate != current.get("collate") else None),
        ("LC_CTYPE", lc_ctype if lc_ctype != current.get("ctype") else None),
    ):
        if value:
            host.noop(f"postgresql database {database} already exists, skipping {keyword}")

    statements: list[str] = []
    updated = dict(current)
    if owner and current.get("owner") != owner:
        statements.append(f"ALTER DATABASE {name} OWNER TO {pg_identifier(owner)}")
        updated["owner"] = owner
    if tablespace:
        oid = host.get_fact(_Tablespaces, **kwargs).get(tablespace)
        if oid is None or current.get("tablespace") != oid:
            statements.append(f"ALTER DATABASE {name} SET TABLESPACE {pg_identifier(tablespace)}")
            updated["tablespace"] = oid
    if limit and current.get("connlimit") != limit:
        statements.append(f"ALTER DATABASE {name} CONNECTION LIMIT {limit}")
        updated["connlimit"] = limit
    if not statements:
        host.noop(f"postgresql database {database} already exists with the same parameters")
        return
    yield _run(conn, ";\n".join(statements))
    yield entry_change(PostgresDatabases, kwargs, databases, database, updated)


@operation(is_idempotent=False)
def dump(
    dest: str,
    psql_user: str | None = None,
    psql_password: str | None = None,
    psql_host: str | None = None,
    psql_port: int | None = None,
    psql_database: str | None = None,
) -> Commands:
    """Dump a database (``psql_database``) into an SQL file on the target with
    ``pg_dump``.

    + dest: the file to write (replaced only when the dump succeeds)
    + psql_*: connection arguments (see the module's description)
    """
    op = "postgres.dump"
    check_name(op, dest, "dest")
    conn = _conn(op, psql_user, psql_password, psql_host, psql_port, psql_database)
    yield psql_command(conn, executable="pg_dump", output_file=dest)
    yield FactChange(paths=(dest,))


@operation(is_idempotent=False)
def load(
    src: str,
    psql_user: str | None = None,
    psql_password: str | None = None,
    psql_host: str | None = None,
    psql_port: int | None = None,
    psql_database: str | None = None,
) -> Commands:
    """Run the SQL file ``src`` (on the target) with ``psql``; the first failing
    statement stops it and fails the operation.

    + src: the SQL file to read
    + psql_*: connection arguments (see the module's description)
    """
    op = "postgres.load"
    check_name(op, src, "src")
    conn = _conn(op, psql_user, psql_password, psql_host, psql_port, psql_database)
    yield psql_command(conn, args=("-q",), input_file=src)
    yield FactChange(facts=(PostgresDatabases, PostgresRoles))
