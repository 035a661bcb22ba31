"""Facts about a MySQL/MariaDB server, read with the ``mysql`` client on the target.

Every fact takes the connection arguments ``mysql_user``, ``mysql_password``,
``mysql_host`` and ``mysql_port``. The password and the query travel on the client's
standard input, never on a command line (see :mod:`pyinfra.facts.dbclient`).
"""

from __future__ import annotations

import re
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import FactError
from pyinfra.api.facts import FactBase
from pyinfra.facts.dbclient import (
    MysqlConnection,
    failure_lines,
    mysql_account,
    mysql_command,
    parse_rows,
)
from pyinfra.facts.parsing import try_int


class MysqlFactBase(FactBase[Any]):
    """Base of the MySQL facts: ``mysql_query`` run in batch mode (tab-separated rows
    under a header line) with the connection arguments; ``{}`` by default."""

    abstract = True
    mysql_query: str = ""

    @staticmethod
    def default() -> dict[str, Any]:
        return {}

    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "mysql"

    def command(
        self,
        mysql_user: str | None = None,
        mysql_password: str | None = None,
        mysql_host: str | None = None,
        mysql_port: int | None = None,
    ) -> StringCommand:
        conn = MysqlConnection(mysql_user, mysql_password, mysql_host, mysql_port)
        return mysql_command(conn, args=("-B",), sql=self.mysql_query)


class MysqlDatabases(MysqlFactBase):
    """Databases and their character set / collation::

    {"mysql": {"character_set": "utf8mb4", "collation_name": "utf8mb4_general_ci"}}
    """

    mysql_query = "SELECT * FROM information_schema.SCHEMATA"

    def process(self, output: list[str]) -> dict[str, dict[str, Any]]:
        databases: dict[str, dict[str, Any]] = {}
        for row in parse_rows(output, "\t", str.lower):
            name = row.get("schema_name")
            if name is None:
                continue
            databases[name] = {
                "character_set": row.get("default_character_set_name"),
                "collation_name": row.get("default_collation_name"),
            }
        return databases


class MysqlUsers(MysqlFactBase):
    """Accounts (``user@host``) and the other columns of ``mysql.user``.

    The ``*_priv`` columns become ``privileges`` (the sorted names of those set to
    ``Y``, e.g. ``["Select", "Show_db"]``), ``max_*`` columns are numbers,
    ``password_expired``/``is_role`` booleans; empty values are ``None``::

        {"app@localhost": {"privileges": ["Select"], "max_connections": 0, ...}}
    """

    mysql_query = "SELECT * FROM mysql.user"

    def process(self, output: list[str]) -> dict[str, dict[str, Any]]:
        users: dict[str, dict[str, Any]] = {}
        for row in parse_rows(output, "\t"):
            user, host = row.pop("User", None), row.pop("Host", None)
            if user is None or host is None:
                continue
            details: dict[str, Any] = {}
            privileges = []
            for key, value in row.items():
                if key.endswith("_priv"):
                    if value == "Y":
                        privileges.append(key[: -len("_priv")])
                    continue
                if key.startswith("max_"):
                    details[key] = try_int(value)
                elif key in ("password_expired", "is_role"):
                    details[key] = value == "Y"
                else:
                    details[key] = value
            details["privileges"] = sorted(privileges)
            users[f"{user}@{host}"] = details
        return users


# One line of SHOW GRANTS: privileges, `database`.`table` (or *), then the rest.
_GRANT = re.compile(
    r"^GRANT (?P<privileges>[A-Z].*?) ON "
    r"(?P<target>(?:\*|`(?:[^`]|``)+`)\.(?:\*|`(?:[^`]|``)+`)) "
    r"TO \S+(?P<extras>.*)$"
)
_COLUMNS = re.compile(r"\s*\((?:[^()`]|`(?:[^`]|``)*`)*\)")
_PRIVILEGE_NAME = re.compile(r"^[A-Z][A-Z ]*$")
_NO_SUCH_GRANT = "ERROR 1141 "


class MysqlUserGrants(MysqlFactBase):
    """Privileges of one account, per ``<database>.<table>`` (as ``SHOW GRANTS`` names
    them), ``GRANT OPTION`` included when granted; ``{}`` for an unknown account::

        {"`app`.*": {"SELECT", "INSERT", "GRANT OPTION"}, "*.*": {"USAGE"}}
    """

    def command(  # type: ignore[override]
        self,
        user: str,
        hostname: str = "localhost",
        mysql_user: str | None = None,
        mysql_password: str | None = None,
        mysql_host: str | None = None,
        mysql_port: int | None = None,
    ) -> StringCommand:
        conn = MysqlConnection(mysql_user, mysql_password, mysql_host, mysql_port)
        return mysql_command(
            conn,
            args=("-B", "-N"),
            sql=f"SHOW GRANTS FOR {mysql_account(user, hostname)}",
            report_failure=True,
        )

    def process(self, output: list[str]) -> dict[str, set[str]]:
        failed = failure_lines(output)
        if failed is not None:
            _, errors = failed
            if any(line.startswith(_NO_SUCH_GRANT) for line in errors):
                return {}  # the account does not exist (yet)
            raise FactError(errors[-1] if errors else "mysql failed")
        grants: dict[str, set[str]] = {}
        for line in output:
            match = _GRANT.match(line)
            if match is None:
                continue
            # The batch output escapes backslashes (`db\_name` is printed `db\\_name`).
            target = match["target"].replace("\\\\", "\\")
            # Column privileges ("UPDATE (`id`)") are not the table's: left out.
            items = _COLUMNS.sub("(columns)", match["privileges"]).split(",")
            names = {item.strip() for item in items if _PRIVILEGE_NAME.match(item.strip())}
            if "WITH GRANT OPTION" in match["extras"]:
                names.add("GRANT OPTION")
            if names:
                grants.setdefault(target, set()).update(names)
        return grants
