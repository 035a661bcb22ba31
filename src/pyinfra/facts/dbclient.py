"""Shell commands that run the ``mysql``/``psql`` clients with secrets kept private.

pyinfra 3.x puts database passwords on the client's command line (``-pSECRET``,
``PGPASSWORD=SECRET psql``) and SQL text in ``-e``/``-c`` arguments, where any user of
the target can read them in the process list. Here every secret travels on the
command's standard input:

* MySQL/MariaDB: the shell reads the first input line (an option-file line
  ``password="..."``) and pipes ``[client]`` + that line into the client as
  ``--defaults-extra-file=/dev/fd/3``: no file is written, nothing is in ``argv``.
* PostgreSQL: the shell reads the first input line into ``PGPASSWORD`` and exports it
  to ``psql``/``pg_dump`` only (the environment of a process is private to its user).

The SQL itself follows on standard input, so passwords inside statements
(``CREATE USER ... IDENTIFIED BY``) never reach a command line either. The input is
a :class:`~pyinfra.api.command.MaskString`: logs and results never show it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyinfra.api.command import MaskString, QuoteString, StringCommand

# Printed (on stdout) by a client command that failed, followed by its exit status.
FAILED_MARKER = "__pyinfra_sql_failed__"


def _check_line(what: str, value: str) -> None:
    if "\n" in value or "\r" in value or "\0" in value:
        raise ValueError(f"{what} must not contain newline or NUL characters")


# MySQL / MariaDB ------------------------------------------------------------------


@dataclass(frozen=True)
class MysqlConnection:
    """How to reach the server: the ``mysql_*`` arguments of pyinfra's mysql module."""

    user: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None

    def fact_kwargs(self) -> dict[str, Any]:
        return {
            "mysql_user": self.user,
            "mysql_password": self.password,
            "mysql_host": self.host,
            "mysql_port": self.port,
        }


def mysql_option_value(value: str) -> str:
    """``value`` as a double-quoted option-file value (the client undoes the escapes)."""
    escaped = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    if "\0" in escaped:
        raise ValueError("a MySQL password must not contain NUL characters")
    return f'"{escaped}"'


def mysql_command(
    conn: MysqlConnection,
    executable: str = "mysql",
    args: tuple[Any, ...] = (),
    sql: str | None = None,
    input_file: str | None = None,
    output_file: str | None = None,
    report_failure: bool = False,
) -> StringCommand:
    """Run ``executable`` (``mysql``/``mysqldump``) against ``conn``.

    ``sql``: statements sent on standard input; ``input_file``: a file on the target
    read as standard input instead; ``output_file``: standard output written there
    (through a temp file renamed on success, so a failure never truncates it);
    ``report_failure``: errors go to stdout followed by :data:`FAILED_MARKER` and the
    command succeeds (for facts that tell some errors apart).
    """
    client: list[Any] = [executable]
    if conn.password:
        client.append("--defaults-extra-file=/dev/fd/3")
    client += _options(user=conn.user, host=conn.host, port=conn.port)
    client.extend(args)

    stdin_lines: list[str] = []
    if conn.password:
        stdin_lines.append(f"password={mysql_option_value(conn.password)}")
        # fd 4 is the command's own standard input (after the password line).
        client.extend(["3<&0", _stdin_redirect(input_file, sql, "4")])
        inner: list[Any] = [
            "IFS=", "read", "-r", "pyi_opt", "&&",
            "printf", "'[client]\\n%s\\n'", '"$pyi_opt"', "|", *client,
        ]  # fmt: skip
    else:
        redirect = _stdin_redirect(input_file, sql, "0")
        inner = [*client, *([redirect] if redirect != "0<&0" else [])]
    if sql is not None:
        stdin_lines.append(sql)

    command = _wrap(inner, bool(conn.password), output_file)
    if report_failure:
        command = StringCommand("{", command, ";", "}", "2>&1", "||", "echo", FAILED_MARKER, '"$?"')
    return _with_stdin(command, stdin_lines)


def _options(**values: str | int | None) -> list[QuoteString]:
    """``--NAME=VALUE`` client options for the connection values that are set (a port
    as a number)."""
    return [
        QuoteString(f"--{name}={int(value) if name == 'port' else value}")
        for name, value in values.items()
        if value
    ]


def _with_stdin(command: StringCommand, lines: list[str]) -> StringCommand:
    """``command`` fed ``lines`` (secrets, SQL) on standard input, masked in logs."""
    if lines:
        command.connector_arguments["_stdin"] = MaskString("\n".join(lines) + "\n")
    return command


def _stdin_redirect(input_file: str | None, sql: str | None, fd: str) -> Any:
    if input_file is not None:
        return StringCommand("0<", QuoteString(input_file), _separator="")
    if sql is not None:
        return f"0<&{fd}"
    return "0</dev/null"


def _wrap(inner: list[Any], has_secret_fd: bool, output_file: str | None) -> StringCommand:
    body = StringCommand(*inner)
    if has_secret_fd:
        body = StringCommand("{", body, ";", "}", "4<&0")
    if output_file is None:
        return StringCommand("(", body, ")")
    return _write_atomically(body, output_file)


def _write_atomically(body: StringCommand, output_file: str) -> StringCommand:
    """``body > output_file``, through a temp file beside it renamed on success."""
    dest = QuoteString(output_file)
    return StringCommand(
        "(",
        "pyi_tmp=" + '"$(dirname --', dest, ')/.pyinfra-dump.$$"', "&&",
        "if", body, '>"$pyi_tmp";',
        "then", "mv", "-f", '"$pyi_tmp"', dest, ";",
        "else", "pyi_rc=$?;", "rm", "-f", '"$pyi_tmp";', "exit", '"$pyi_rc";', "fi",
        ")",
    )  # fmt: skip


# PostgreSQL -------------------------------------------------------------------------


@dataclass(frozen=True)
class PsqlConnection:
    """How to reach the server: the ``psql_*`` arguments of pyinfra's postgres module."""

    user: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | str | None = None
    database: str | None = None

    def fact_kwargs(self) -> dict[str, Any]:
        return {
            "psql_user": self.user,
            "psql_password": self.password,
            "psql_host": self.host,
            "psql_port": self.port,
            "psql_database": self.database,
        }


# psql's unaligned output with this field separator: values may contain "|".
PSQL_FIELD_SEPARATOR = "\x1f"


def psql_command(
    conn: PsqlConnection,
    executable: str = "psql",
    args: tuple[Any, ...] = (),
    sql: str | None = None,
    input_file: str | None = None,
    output_file: str | None = None,
    report_failure: bool = False,
) -> StringCommand:
    """Run ``executable`` (``psql``/``pg_dump``) against ``conn``.

    ``psql`` runs without reading ``~/.psqlrc`` and stops at the first error
    (``ON_ERROR_STOP``), so a failing statement fails the command with the server's
    message, on one line (``VERBOSITY=terse``). ``sql``, ``input_file``,
    ``output_file`` and ``report_failure`` as for :func:`mysql_command`.
    """
    client: list[Any] = [executable]
    if executable == "psql":
        client += ["-X", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=terse"]
    client += _options(dbname=conn.database, username=conn.user, host=conn.host, port=conn.port)
    client.append("--no-password")
    client.extend(args)
    if input_file is not None:
        client.append(StringCommand("0<", QuoteString(input_file), _separator=""))
    elif sql is None:
        client.append("0</dev/null")

    stdin_lines: list[str] = []
    inner: list[Any] = []
    if conn.password:
        _check_line("a PostgreSQL password", conn.password)
        stdin_lines.append(conn.password)
        inner += ["IFS=", "read", "-r", "PGPASSWORD", "&&", "export", "PGPASSWORD", "&&"]
    inner += client
    if sql is not None:
        stdin_lines.append(sql)

    if output_file is None:
        command = StringCommand("(", *inner, ")")
    else:
        command = _write_atomically(StringCommand(*inner), output_file)
    if report_failure:
        command = StringCommand(command, "2>&1", "||", "echo", FAILED_MARKER, '"$?"')
    return _with_stdin(command, stdin_lines)


def psql_query(
    conn: PsqlConnection, sql: str, header: bool = True, report_failure: bool = False
) -> StringCommand:
    """``sql`` run for a fact: unaligned rows (after a header line unless ``header`` is
    False), fields separated by :data:`PSQL_FIELD_SEPARATOR`, no footer."""
    args: tuple[Any, ...] = ("-q", "-A", "-P", "footer=off", "-F", "\"$(printf '\\037')\"")
    if not header:
        args += ("-t",)
    return psql_command(conn, args=args, sql=sql, report_failure=report_failure)


# Quoting inside SQL -----------------------------------------------------------------


def mysql_identifier(name: str) -> str:
    """A MySQL identifier in backticks (database, table)."""
    return "`" + name.replace("`", "``") + "`"


def mysql_string(value: str) -> str:
    """A MySQL string literal in single quotes."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def mysql_account(user: str, hostname: str) -> str:
    """``'user'@'host'``."""
    return f"{mysql_string(user)}@{mysql_string(hostname)}"


def pg_identifier(name: str) -> str:
    """A PostgreSQL identifier in double quotes."""
    return '"' + name.replace('"', '""') + '"'


def pg_string(value: str) -> str:
    """A PostgreSQL standard string literal."""
    return "'" + value.replace("'", "''") + "'"


# Parsing ----------------------------------------------------------------------------


def parse_rows(
    lines: list[str],
    separator: str,
    column: Callable[[str], str] = lambda title: title,
) -> list[dict[str, str | None]]:
    """A header line and rows of ``separator``-separated values -> one dict per row.

    Empty values become ``None`` (as in pyinfra 3.x's database facts).
    """
    if not lines:
        return []
    titles = [column(title) for title in lines[0].split(separator)]
    rows = []
    for line in lines[1:]:
        values = line.split(separator)
        rows.append({titles[i]: (value or None) for i, value in enumerate(values[: len(titles)])})
    return rows


def failure_lines(lines: list[str]) -> tuple[list[str], list[str]] | None:
    """For a command built with ``report_failure``: ``(output, error lines)`` when it
    failed, ``None`` when it succeeded."""
    for index, line in enumerate(lines):
        if line.startswith(FAILED_MARKER):
            errors = [item for item in lines[:index] if item.strip()]
            return lines[:index], errors
    return None


def pg_password_matches(stored: str | None, role: str, password: str) -> bool | None:
    """Whether PostgreSQL's stored hash ``stored`` (``pg_authid.rolpassword``) is the
    hash of ``password``: True/False, or None when that cannot be told here (a
    non-ASCII password, which the server normalises with SASLprep first)."""
    if stored is None:
        return False
    if not password.isascii():
        return None
    secret = password.encode()
    if stored.startswith("md5"):
        digest = hashlib.md5(secret + role.encode(), usedforsecurity=False).hexdigest()
        return hmac.compare_digest(stored, "md5" + digest)
    match = re.fullmatch(r"SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)", stored)
    if match is None:
        return None
    iterations, salt, stored_key, server_key = match.groups()
    try:
        salted = hashlib.pbkdf2_hmac("sha256", secret, base64.b64decode(salt), int(iterations))
    except (ValueError, binascii.Error):
        return None
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    expected_stored = base64.b64encode(hashlib.sha256(client_key).digest()).decode()
    expected_server = base64.b64encode(
        hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    ).decode()
    return hmac.compare_digest(expected_stored, stored_key) and hmac.compare_digest(
        expected_server, server_key
    )
