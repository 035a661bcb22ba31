"""The old names of the PostgreSQL facts (pyinfra keeps them as deprecated aliases):
``postgresql.PostgresqlRoles`` and ``postgresql.PostgresqlDatabases`` return exactly
what ``postgres.PostgresRoles`` / ``postgres.PostgresDatabases`` return."""

from __future__ import annotations

from pyinfra.facts.postgres import PostgresDatabases, PostgresRoles


class PostgresqlRoles(PostgresRoles):
    """Deprecated alias of :class:`pyinfra.facts.postgres.PostgresRoles`."""

    deprecated = True


class PostgresqlDatabases(PostgresDatabases):
    """Deprecated alias of :class:`pyinfra.facts.postgres.PostgresDatabases`."""

    deprecated = True


__all__ = ["PostgresDatabases", "PostgresRoles", "PostgresqlDatabases", "PostgresqlRoles"]
