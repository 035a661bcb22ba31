"""Manage MySQL/MariaDB databases, users and privileges with the ``mysql`` client on
the target.

Every operation takes the connection arguments ``mysql_user``, ``mysql_password``,
``mysql_host`` and ``mysql_port`` (all optional: without them the client's defaults
apply, e.g. root through the local socket). Passwords (the connection's and the
users') never appear on a command line, in the process list or in logs: they and the
SQL travel on the client's standard input (see :mod:`pyinfra.facts.dbclient`).
A failing statement fails the operation with the server's own message.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import QuoteString
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.dbclient import (
    MysqlConnection,
    mysql_account,
    mysql_command,
    mysql_identifier,
    mysql_string,
)
from pyinfra.facts.mysql import MysqlDatabases, MysqlUserGrants, MysqlUsers
from pyinfra.operations._database import (
    check_name,
    check_sql,
    drop_entry,
    entry_change,
    port_number,
)
from pyinfra.operations.util import fail

Commands = Generator[Any, Any, None]

_PRIVILEGE = re.compile(r"^[A-Za-z][A-Za-z_ ]*$")


def _conn(
    op: str, user: str | None, password: str | None, hostname: str | None, port: int | None
) -> MysqlConnection:
    return MysqlConnection(user, password, hostname, port_number(op, "mysql_port", port))


def _batch(database: str | None) -> tuple[Any, ...]:
    """The ``mysql`` client's arguments: batch mode, in ``database`` when given."""
    return ("-B", *([QuoteString(f"--database={database}")] if database else []))


def _run_sql(conn: MysqlConnection, sql: str, database: str | None = None) -> Any:
    return mysql_command(conn, args=_batch(database), sql=sql)


def _check_name(op: str, value: Any, argument: str) -> str:
    return check_name(op, value, argument, newlines=False)


@operation(is_idempotent=False)
def sql(
    sql: str,
    database: str | None = None,
    mysql_user: str | None = None,
    mysql_password: str | None = None,
    mysql_host: str | None = None,
    mysql_port: int | None = None,
) -> Commands:
    """Run SQL statements (always reports a change).

    + sql: one or more statements; the first failing one stops the rest
    + database: the database to run them in
    + mysql_*: connection arguments (see the module's description)
    """
    op = "mysql.sql"
    check_sql(op, sql)
    conn = _conn(op, mysql_user, mysql_password, mysql_host, mysql_port)
    yield _run_sql(conn, sql, database)


@operation()
def user(
    user: str,
    present: bool = True,
    user_hostname: str = "localhost",
    password: str | None = None,
    privileges: str | list[str] | None = None,
    require: str | None = None,
    require_cipher: str | None = None,
    require_issuer: str | None = None,
    require_subject: str | None = None,
    max_connections: int | None = None,
    max_queries_per_hour: int | None = None,
    max_updates_per_hour: int | None = None,
    max_connections_per_hour: int | None = None,
    mysql_user: str | None = None,
    mysql_password: str | None = None,
    mysql_host: str | None = None,
    mysql_port: int | None = None,
) -> Commands:
    """Add, change or remove the account ``user@user_hostname``.

    + user: the user name; with ``user_hostname`` it names the account (another
      hostname is another account)
    + present: whether the account should exist
    + password: set when the account is created (an existing account's password is
      left alone: it cannot be read back)
    + privileges: global privileges the account should have (see ``privileges``)
    + require: ``"SSL"`` or ``"X509"``; with X509, ``require_cipher``,
      ``require_issuer`` and ``require_subject`` narrow it down
    + max_connections, max_queries_per_hour, max_updates_per_hour,
      max_connections_per_hour: resource limits (changed on existing accounts too)
    + mysql_*: connection arguments (see the module's description)
    """
    op = "mysql.user"
    _check_name(op, user, "user")
    _check_name(op, user_hostname, "user_hostname")
    if require and require not in ("SSL", "X509"):
        raise fail(op, f'argument require must be "SSL" or "X509", got {require!r}')
    if require != "X509":
        for name, value in (
            ("require_cipher", require_cipher),
            ("require_issuer", require_issuer),
            ("require_subject", require_subject),
        ):
            if value:
                raise fail(op, f'argument {name} needs require="X509"')
    limits: dict[str, tuple[str, int | None]] = {
        "MAX_USER_CONNECTIONS": ("max_user_connections", max_connections),
        "MAX_QUERIES_PER_HOUR": ("max_questions", max_queries_per_hour),
        "MAX_UPDATES_PER_HOUR": ("max_updates", max_updates_per_hour),
        "MAX_CONNECTIONS_PER_HOUR": ("max_connections", max_connections_per_hour),
    }
    for clause, (_, limit) in limits.items():
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise fail(op, f"resource limit {clause} must be an integer, got {limit!r}")
    conn = _conn(op, mysql_user, mysql_password, mysql_host, mysql_port)
    kwargs = conn.fact_kwargs()
    users = host.get_fact(MysqlUsers, **kwargs)
    key = f"{user}@{user_hostname}"
    grants_kwargs = {"user": user, "hostname": user_hostname, **kwargs}
    account = mysql_account(user, user_hostname)
    current = users.get(key)

    if not present:
        yield from drop_entry(
            f"mysql user {key}",
            _run_sql(conn, f"DROP USER {account}"),
            MysqlUsers,
            kwargs,
            users,
            key,
            also_drop=(MysqlUserGrants,),
            known=((MysqlUserGrants, grants_kwargs, {}),),
        )
        return

    if current is None:
        parts = [f"CREATE USER {account}"]
        if password:
            parts.append(f"IDENTIFIED BY {mysql_string(password)}")
        parts += _require_clause(require, require_cipher, require_issuer, require_subject)
        wanted = [f"{clause} {value}" for clause, (_, value) in limits.items() if value]
        if wanted:
            parts += ["WITH", " ".join(wanted)]
        yield _run_sql(conn, " ".join(parts))
        predicted: dict[str, Any] = {
            "ssl_type": require and ("ANY" if require == "SSL" else "X509"),
            **{column: value or 0 for column, value in limits.values()},
            "privileges": [],
        }
        # A new account has no privileges: the grants need no new read.
        yield entry_change(
            MysqlUsers,
            kwargs,
            users,
            key,
            predicted,
            also_drop=(MysqlUserGrants,),
            known=((MysqlUserGrants, grants_kwargs, {"*.*": {"USAGE"}}),),
        )
    else:
        alter: list[str] = []
        if require == "SSL" and current.get("ssl_type") != "ANY":
            alter.append("REQUIRE SSL")
        if require == "X509":
            x509 = (
                ("ssl_cipher", require_cipher),
                ("x509_issuer", require_issuer),
                ("x509_subject", require_subject),
            )
            if any(value for _, value in x509):
                # REQUIRE replaces every option: give them all when one differs.
                if any(value and current.get(column) != value for column, value in x509):
                    alter += _require_clause(
                        require, require_cipher, require_issuer, require_subject
                    )
            elif current.get("ssl_type") != "X509":
                alter.append("REQUIRE X509")
        changed = [
            f"{clause} {value}"
            for clause, (column, value) in limits.items()
            if value and current.get(column) != value
        ]
        if changed:
            alter += ["WITH", " ".join(changed)]
        if alter:
            yield _run_sql(conn, f"ALTER USER {account} " + " ".join(alter))
            updated = dict(current)
            for column, limit in limits.values():
                if limit:
                    updated[column] = limit
            yield entry_change(MysqlUsers, kwargs, users, key, updated)
        else:
            host.noop(f"mysql user {key} exists")

    if privileges:
        yield from _ensure_privileges(
            "mysql.user", conn, user, privileges, user_hostname, "*", "*", True, False
        )


def _require_clause(
    require: str | None, cipher: str | None, issuer: str | None, subject: str | None
) -> list[str]:
    if require == "SSL":
        return ["REQUIRE SSL"]
    if require != "X509":
        return []
    narrowed = [
        f"{word} {mysql_string(value)}"
        for word, value in (("CIPHER", cipher), ("ISSUER", issuer), ("SUBJECT", subject))
        if value
    ]
    return ["REQUIRE", " AND ".join(narrowed) if narrowed else "X509"]


@operation()
def database(
    database: str,
    present: bool = True,
    collate: str | None = None,
    charset: str | None = None,
    user: str | None = None,
    user_hostname: str = "localhost",
    user_privileges: str | list[str] = "ALL",
    mysql_user: str | None = None,
    mysql_password: str | None = None,
    mysql_host: str | None = None,
    mysql_port: int | None = None,
) -> Commands:
    """Add or remove a database, and grant a user privileges on it.

    + database: the database's name
    + present: whether it should exist
    + collate, charset: used when the database is created (an existing database is
      not altered)
    + user, user_hostname: an account to grant ``user_privileges`` on the database
    + user_privileges: privileges for that account (default ``ALL``)
    + mysql_*: connection arguments (see the module's description)
    """
    op = "mysql.database"
    _check_name(op, database, "database")
    for name, value in (("collate", collate), ("charset", charset)):
        if value is not None and not re.match(r"^[A-Za-z0-9_]+$", value):
            raise fail(op, f"argument {name} must be a {name} name like utf8mb4, got {value!r}")
    conn = _conn(op, mysql_user, mysql_password, mysql_host, mysql_port)
    kwargs = conn.fact_kwargs()
    databases = host.get_fact(MysqlDatabases, **kwargs)
    exists = database in databases

    if not present:
        yield from drop_entry(
            f"mysql database {database}",
            _run_sql(conn, f"DROP DATABASE {mysql_identifier(database)}"),
            MysqlDatabases,
            kwargs,
            databases,
            database,
        )
        return

    if exists:
        host.noop(f"mysql database {database} exists")
    else:
        parts = [f"CREATE DATABASE {mysql_identifier(database)}"]
        if collate:
            parts.append(f"COLLATE {collate}")
        if charset:
            parts.append(f"CHARACTER SET {charset}")
        yield _run_sql(conn, " ".join(parts))
        predicted = {"character_set": charset, "collation_name": collate}
        yield entry_change(MysqlDatabases, kwargs, databases, database, predicted)

    if user and user_privileges:
        _check_name(op, user, "user")
        yield from _ensure_privileges(
            op, conn, user, user_privileges, user_hostname, database, "*", True, False
        )


@operation()
def privileges(
    user: str,
    privileges: str | list[str] | set[str],
    user_hostname: str = "localhost",
    database: str = "*",
    table: str = "*",
    flush: bool = True,
    with_grant_option: bool = False,
    mysql_user: str | None = None,
    mysql_password: str | None = None,
    mysql_host: str | None = None,
    mysql_port: int | None = None,
) -> Commands:
    """Make an account's privileges on a database (or table, or everything) exactly
    ``privileges``: missing ones are granted, others revoked, in one client call.

    + user, user_hostname: the account
    + privileges: e.g. ``["SELECT", "INSERT"]`` or ``"ALL"`` (an empty list revokes all)
    + database, table: where they apply (``*`` for all; a table needs a database)
    + flush: run ``FLUSH PRIVILEGES`` after a change
    + with_grant_option: whether the account may grant them to others
    + mysql_*: connection arguments (see the module's description)
    """
    op = "mysql.privileges"
    _check_name(op, user, "user")
    conn = _conn(op, mysql_user, mysql_password, mysql_host, mysql_port)
    yield from _ensure_privileges(
        op, conn, user, privileges, user_hostname, database, table, flush, with_grant_option
    )


_privileges = privileges


def _normalise_privileges(op: str, privileges: Any, with_grant_option: bool) -> set[str]:
    if isinstance(privileges, str):
        privileges = [privileges]
    if not isinstance(privileges, (list, set, tuple, frozenset)):
        raise fail(op, f"argument privileges must be a string or a list, got {privileges!r}")
    wanted: set[str] = set()
    for privilege in privileges:
        if not isinstance(privilege, str) or not _PRIVILEGE.match(privilege.strip()):
            raise fail(op, f"not a privilege name: {privilege!r} (e.g. SELECT, ALL)")
        name = " ".join(privilege.upper().split())
        wanted.add("ALL" if name == "ALL PRIVILEGES" else name)
    if with_grant_option:
        wanted.add("GRANT OPTION")
    return wanted


def _ensure_privileges(
    op: str,
    conn: MysqlConnection,
    user: str,
    privileges: Any,
    user_hostname: str,
    database: str,
    table: str,
    flush: bool,
    with_grant_option: bool,
) -> Commands:
    wanted = _normalise_privileges(op, privileges, with_grant_option)
    if table != "*" and database == "*":
        raise fail(op, f"privileges on table {table!r} need a database (argument database)")
    db_part = "*" if database == "*" else mysql_identifier(database)
    table_part = "*" if table == "*" else mysql_identifier(table)
    target = f"{db_part}.{table_part}"
    grants_kwargs = {"user": user, "hostname": user_hostname, **conn.fact_kwargs()}
    grants = host.get_fact(MysqlUserGrants, **grants_kwargs)
    existing = {"ALL" if p == "ALL PRIVILEGES" else p for p in grants.get(target, set())}
    # USAGE means "no privileges": never granted or revoked as such.
    existing.discard("USAGE")
    wanted.discard("USAGE")

    to_revoke = existing - wanted
    to_grant = wanted - existing
    if not to_revoke and not to_grant:
        host.noop("mysql privileges are already correct")
        return

    account = mysql_account(user, user_hostname)
    statements: list[str] = []

    def names(items: set[str]) -> str:
        return ", ".join("ALL PRIVILEGES" if p == "ALL" else p for p in sorted(items))

    if to_revoke:
        if to_revoke == {"ALL", "GRANT OPTION"}:
            # "REVOKE ALL, GRANT OPTION" means another statement (without ON): two steps.
            statements.append(f"REVOKE GRANT OPTION ON {target} FROM {account}")
            statements.append(f"REVOKE ALL PRIVILEGES ON {target} FROM {account}")
        else:
            statements.append(f"REVOKE {names(to_revoke)} ON {target} FROM {account}")
    if to_grant:
        if to_grant == {"ALL", "GRANT OPTION"}:
            statements.append(f"GRANT ALL PRIVILEGES ON {target} TO {account} WITH GRANT OPTION")
        else:
            statements.append(f"GRANT {names(to_grant)} ON {target} TO {account}")
    if flush:
        statements.append("FLUSH PRIVILEGES")
    yield _run_sql(conn, ";\n".join(statements))
    predicted = {k: set(v) for k, v in grants.items()}
    if wanted:
        predicted[target] = {"ALL PRIVILEGES" if p == "ALL" else p for p in wanted}
    elif target == "*.*":
        predicted[target] = {"USAGE"}
    else:
        predicted.pop(target, None)
    yield FactChange(
        facts=(MysqlUserGrants, MysqlUsers),
        expect=((MysqlUserGrants, grants_kwargs, predicted),),
    )


@operation(is_idempotent=False)
def dump(
    dest: str,
    database: str | None = None,
    mysql_user: str | None = None,
    mysql_password: str | None = None,
    mysql_host: str | None = None,
    mysql_port: int | None = None,
) -> Commands:
    """Dump a database into an SQL file on the target with ``mysqldump``.

    + dest: the file to write (replaced only when the dump succeeds)
    + database: the database to dump
    + mysql_*: connection arguments (see the module's description)
    """
    op = "mysql.dump"
    _check_name(op, dest, "dest")
    args: tuple[Any, ...] = ()
    if database:
        _check_name(op, database, "database")
        if database.startswith("-"):
            raise fail(op, f"argument database must not start with '-', got {database!r}")
        args = (QuoteString(database),)
    conn = _conn(op, mysql_user, mysql_password, mysql_host, mysql_port)
    yield mysql_command(conn, executable="mysqldump", args=args, output_file=dest)
    yield FactChange(paths=(dest,))


@operation(is_idempotent=False)
def load(
    src: str,
    database: str | None = None,
    mysql_user: str | None = None,
    mysql_password: str | None = None,
    mysql_host: str | None = None,
    mysql_port: int | None = None,
) -> Commands:
    """Run the SQL file ``src`` (on the target) with the ``mysql`` client.

    + src: the SQL file to read
    + database: the database to load it into
    + mysql_*: connection arguments (see the module's description)
    """
    op = "mysql.load"
    _check_name(op, src, "src")
    if database:
        _check_name(op, database, "database")
    conn = _conn(op, mysql_user, mysql_password, mysql_host, mysql_port)
    yield mysql_command(conn, args=_batch(database), input_file=src)
    yield FactChange(facts=(MysqlDatabases, MysqlUsers, MysqlUserGrants))
