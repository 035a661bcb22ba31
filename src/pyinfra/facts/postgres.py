"""Facts about a PostgreSQL server, read with ``psql`` on the target.

Every fact takes the connection arguments ``psql_user``, ``psql_password``,
``psql_host``, ``psql_port`` and ``psql_database``. The password travels on standard
input into ``PGPASSWORD`` of ``psql`` alone, never on a command line (see
:mod:`pyinfra.facts.dbclient`). Local peer authentication works with
``_sudo_user="postgres"`` as usual.
"""

from __future__ import annotations

from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase
from pyinfra.facts.dbclient import (
    PSQL_FIELD_SEPARATOR,
    PsqlConnection,
    failure_lines,
    int_or_same,
    parse_rows,
    pg_string,
    psql_query,
)


class PostgresFactBase(FactBase[Any]):
    """Base of the PostgreSQL facts: ``psql_query`` with the connection arguments,
    rows under a header line."""

    abstract = True
    psql_query: str = ""

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


def _without(prefix: str) -> Any:
    def column(title: str) -> str:
        return title[len(prefix) :] if title.startswith(prefix) else title

    return column


_ROLE_FLAGS = ("super", "inherit", "createrole", "createdb", "canlogin", "replication", "bypassrls")


class PostgresRoles(PostgresFactBase):
    """Roles and the columns of ``pg_roles`` without their ``rol`` prefix; flags are
    booleans, ``oid``/``connlimit`` numbers::

        {"app": {"super": False, "canlogin": True, "connlimit": -1, ...}}
    """

    psql_query = "SELECT * FROM pg_catalog.pg_roles"

    @staticmethod
    def default() -> dict[str, Any]:
        return {}

    def process(self, output: list[str]) -> dict[str, dict[str, Any]]:
        roles: dict[str, dict[str, Any]] = {}
        for row in parse_rows(output, PSQL_FIELD_SEPARATOR, _without("rol")):
            name = row.pop("name", None)
            if name is None:
                continue
            details: dict[str, Any] = {}
            for key, value in row.items():
                if key in ("oid", "connlimit"):
                    details[key] = int_or_same(value)
                elif key in _ROLE_FLAGS:
                    details[key] = value == "t"
                else:
                    details[key] = value
            roles[name] = details
        return roles


class PostgresDatabases(PostgresFactBase):
    """Databases and the columns of ``pg_database`` without their ``dat`` prefix, plus
    ``encoding`` (its name) and ``owner`` (the owning role's name)::

        {"app": {"encoding": "UTF8", "owner": "app", "collate": "C.UTF-8", ...}}
    """

    psql_query = (
        "SELECT pg_catalog.pg_encoding_to_char(encoding), *, "
        "pg_catalog.pg_get_userbyid(datdba) AS owner FROM pg_catalog.pg_database"
    )

    @staticmethod
    def default() -> dict[str, Any]:
        return {}

    def process(self, output: list[str]) -> dict[str, dict[str, Any]]:
        databases: dict[str, dict[str, Any]] = {}
        for row in parse_rows(output, PSQL_FIELD_SEPARATOR, _without("dat")):
            name = row.pop("name", None)
            if name is None:
                continue
            encoding_name = row.pop("pg_encoding_to_char", None)
            details: dict[str, Any] = {}
            for key, value in row.items():
                if key.endswith("id") or key in ("dba", "tablespace", "connlimit"):
                    details[key] = int_or_same(value)
                elif key in ("istemplate", "allowconn"):
                    details[key] = value == "t"
                else:
                    details[key] = value
            details["encoding"] = encoding_name
            databases[name] = details
        return databases


# Facts the postgres operations need beyond pyinfra's (not part of its API) ----------


class _RolePasswordHash(PostgresFactBase):
    """The stored password hash of ``role`` (``pg_authid.rolpassword``):
    ``{"readable": True, "hash": "SCRAM-SHA-256$..." or None}``, or
    ``{"readable": False}`` when the connecting role may not read it (not a
    superuser); ``None`` when the role does not exist."""

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

    @staticmethod
    def default() -> dict[str, Any]:
        return {}

    def process(self, output: list[str]) -> dict[str, Any]:
        return {
            str(row["spcname"]): int_or_same(row["oid"])
            for row in parse_rows(output, PSQL_FIELD_SEPARATOR)
            if row.get("spcname") is not None
        }
