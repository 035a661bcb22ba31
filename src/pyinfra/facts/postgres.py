"""Facts about a PostgreSQL server, read with ``psql`` on the target.

Every fact takes the connection arguments ``psql_user``, ``psql_password``,
``psql_host``, ``psql_port`` and ``psql_database``. The password travels on standard
input into ``PGPASSWORD`` of ``psql`` alone, never on a command line (see
:mod:`pyinfra.facts.dbclient`). Local peer authentication works with
``_sudo_user="postgres"`` as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase
from pyinfra.facts.dbclient import (
    PSQL_FIELD_SEPARATOR,
    PsqlConnection,
    failure_lines,
    parse_rows,
    pg_string,
    psql_query,
)
from pyinfra.facts.parsing import try_int


class PostgresFactBase(FactBase[Any]):
    """Base of the PostgreSQL facts: ``psql_query`` with the connection arguments,
    rows under a header line; ``{}`` by default."""

    abstract = True
    psql_query: str = ""

    @staticmethod
    def default() -> Any:
        return {}

    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "psql"

    def command(
        self,
        psql_user: str | None = None,
        psql_password: str | None = None,
        psql_host: str | None = None,
        psql_port: int | None = None,
        psql_database: str | None = None,
    ) -> StringCommand:
        conn = PsqlConnection(psql_user, psql_password, psql_host, psql_port, psql_database)
        return psql_query(conn, self.psql_query)


def _rows_by_name(
    output: list[str], prefix: str, numbers: Callable[[str], bool], flags: Collection[str]
) -> dict[str, dict[str, Any]]:
    """Catalog rows keyed by their ``PREFIXname`` column, the other columns without
    ``prefix``: ``numbers`` columns as numbers, ``flags`` as booleans (``t``)."""
    items: dict[str, dict[str, Any]] = {}
    for row in parse_rows(output, PSQL_FIELD_SEPARATOR, lambda t: t.removeprefix(prefix)):
        name = row.pop("name", None)
        if name is None:
            continue
        details: dict[str, Any] = {}
        for key, value in row.items():
            if numbers(key):
                details[key] = try_int(value)
            elif key in flags:
                details[key] = value == "t"
            else:
                details[key] = value
        items[name] = details
    return items


_ROLE_FLAGS = ("super", "inherit", "createrole", "createdb", "canlogin", "replication", "bypassrls")


class PostgresRoles(PostgresFactBase):
    """Roles and the columns of ``pg_roles`` without their ``rol`` prefix; flags are
    booleans, ``oid``/``connlimit`` numbers::

        {"app": {"super": False, "canlogin": True, "connlimit": -1, ...}}
    """

    psql_query = "SELECT * FROM pg_catalog.pg_roles"

    def process(self, output: list[str]) -> dict[str, dict[str, Any]]:
        return _rows_by_name(output, "rol", lambda key: key in ("oid", "connlimit"), _ROLE_FLAGS)


class PostgresDatabases(PostgresFactBase):
    """Databases and the columns of ``pg_database`` without their ``dat`` prefix, plus
    ``encoding`` (its name) and ``owner`` (the owning role's name)::

        {"app": {"encoding": "UTF8", "owner": "app", "collate": "C.UTF-8", ...}}
    """

    psql_query = (
        "SELECT pg_catalog.pg_encoding_to_char(encoding), *, "
        "pg_catalog.pg_get_userbyid(datdba) AS owner FROM pg_catalog.pg_database"
    )

    def process(self, output: list[str]) -> dict[str, dict[str, Any]]:
        databases = _rows_by_name(
            output,
            "dat",
            lambda key: key.endswith("id") or key in ("dba", "tablespace", "connlimit"),
            ("istemplate", "allowconn"),
        )
        for details in databases.values():
            details["encoding"] = details.pop("pg_encoding_to_char", None)
        return databases


# Facts the postgres operations need beyond pyinfra's (not part of its API) ----------


class _RolePasswordHash(PostgresFactBase):
    """The stored password hash of ``role`` (``pg_authid.rolpassword``):
    ``{"readable": True, "hash": "SCRAM-SHA-256$..." or None}``, or
    ``{"readable": False}`` when the connecting role may not read it (not a
    superuser); ``None`` when the role does not exist."""

    @staticmethod
    def default() -> None:
        return None

    def command(  # type: ignore[override]
        self,
        role: str,
        psql_user: str | None = None,
        psql_password: str | None = None,
        psql_host: str | None = None,
        psql_port: int | None = None,
        psql_database: str | None = None,
    ) -> StringCommand:
        conn = PsqlConnection(psql_user, psql_password, psql_host, psql_port, psql_database)
        sql = (
            "SELECT 'hash:' || coalesce(rolpassword, '') FROM pg_catalog.pg_authid "
            f"WHERE rolname = {pg_string(role)}"
        )
        return psql_query(conn, sql, header=False, report_failure=True)

    def process(self, output: list[str]) -> dict[str, Any] | None:
        if failure_lines(output) is not None:
            return {"readable": False}
        for line in output:
            if line.startswith("hash:"):
                return {"readable": True, "hash": line[len("hash:") :] or None}
        return None


class _Tablespaces(PostgresFactBase):
    """Tablespace names and their oids: ``{"pg_default": 1663, ...}``."""

    psql_query = "SELECT spcname, oid FROM pg_catalog.pg_tablespace"

    def process(self, output: list[str]) -> dict[str, Any]:
        return {
            str(row["spcname"]): try_int(row["oid"])
            for row in parse_rows(output, PSQL_FIELD_SEPARATOR)
            if row.get("spcname") is not None
        }
