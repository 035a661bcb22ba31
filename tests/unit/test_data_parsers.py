"""Fact parsers of the mysql/postgres/docker modules on output captured from the real
tools (MariaDB 10.11 and PostgreSQL 15 of Debian 12 in pyi-data-db:bookworm, Docker
20.10), the container spec comparison, image references and password hashes."""

from __future__ import annotations

import pytest

from pyinfra.facts.dbclient import (
    FAILED_MARKER,
    PSQL_FIELD_SEPARATOR,
    MysqlConnection,
    mysql_account,
    mysql_command,
    mysql_identifier,
    mysql_option_value,
    pg_identifier,
    pg_password_matches,
    pg_string,
    psql_command,
)
from pyinfra.facts.docker import DockerContainerFsChanges, DockerContainerProcesses
from pyinfra.facts.mysql import MysqlDatabases, MysqlUserGrants, MysqlUsers
from pyinfra.facts.postgres import PostgresDatabases, PostgresRoles, _RolePasswordHash
from pyinfra.operations.dockerspec import (
    ContainerSpec,
    memory_bytes,
    parse_image_reference,
    port_bindings,
    same_image,
)

# `mysql -B -N` of SHOW GRANTS FOR 'cap'@'localhost' after grants on `pyi\_x`.*,
# `pyi_x`.* (ALL ... WITH GRANT OPTION), a table named we`ird (with a column grant)
# and a role.
SHOW_GRANTS = [
    "GRANT `capr` TO `cap`@`localhost`",
    "GRANT CREATE TEMPORARY TABLES, SHOW VIEW ON *.* TO `cap`@`localhost` IDENTIFIED BY "
    "PASSWORD '*D821809F681A40A6E379B50D0463EFAE20BDD122'",
    "GRANT SELECT ON `pyi\\\\_x`.* TO `cap`@`localhost`",
    "GRANT ALL PRIVILEGES ON `pyi_x`.* TO `cap`@`localhost` WITH GRANT OPTION",
    "GRANT UPDATE (`id`), DELETE ON `pyi_x`.`we``ird` TO `cap`@`localhost`",
]


def test_mysql_user_grants() -> None:
    assert MysqlUserGrants().process(SHOW_GRANTS) == {
        "*.*": {"CREATE TEMPORARY TABLES", "SHOW VIEW"},
        "`pyi\\_x`.*": {"SELECT"},
        "`pyi_x`.*": {"ALL PRIVILEGES", "GRANT OPTION"},
        "`pyi_x`.`we``ird`": {"DELETE"},
    }


def test_mysql_user_grants_errors() -> None:
    missing = [
        "ERROR 1141 (42000) at line 1: There is no such grant defined for user 'x' on host "
        "'localhost'",
        f"{FAILED_MARKER} 1",
    ]
    assert MysqlUserGrants().process(missing) == {}
    denied = ["ERROR 1045 (28000): Access denied for user 'a'@'localhost'", f"{FAILED_MARKER} 1"]
    with pytest.raises(Exception, match="Access denied"):
        MysqlUserGrants().process(denied)


def test_mysql_databases_and_users() -> None:
    schemata = [
        "CATALOG_NAME\tSCHEMA_NAME\tDEFAULT_CHARACTER_SET_NAME\tDEFAULT_COLLATION_NAME\t"
        "SQL_PATH\tSCHEMA_COMMENT",
        "def\tinformation_schema\tutf8mb3\tutf8mb3_general_ci\tNULL\t",
        "def\tapp\tlatin1\tlatin1_swedish_ci\tNULL\t",
    ]
    assert MysqlDatabases().process(schemata) == {
        "information_schema": {"character_set": "utf8mb3", "collation_name": "utf8mb3_general_ci"},
        "app": {"character_set": "latin1", "collation_name": "latin1_swedish_ci"},
    }
    users = [
        "Host\tUser\tPassword\tSelect_priv\tInsert_priv\tssl_type\tmax_questions\t"
        "max_user_connections\tplugin\tpassword_expired\tis_role\tmax_statement_time",
        "localhost\tapp\t*ABC\tY\tN\t\t0\t5\tmysql_native_password\tN\tN\t0.000000",
    ]
    assert MysqlUsers().process(users) == {
        "app@localhost": {
            "Password": "*ABC",
            "ssl_type": None,
            "max_questions": 0,
            "max_user_connections": 5,
            "plugin": "mysql_native_password",
            "password_expired": False,
            "is_role": False,
            "max_statement_time": "0.000000",
            "privileges": ["Select"],
        }
    }


# `psql -X -q -A -P footer=off` of SELECT * FROM pg_roles (separator shown as |).
PG_ROLES = [
    "rolname|rolsuper|rolinherit|rolcreaterole|rolcreatedb|rolcanlogin|rolreplication|"
    "rolconnlimit|rolpassword|rolvaliduntil|rolbypassrls|rolconfig|oid",
    "postgres|t|t|t|t|t|t|-1|********||t||10",
    "cap|f|t|f|f|f|f|-1|********||f||16384",
]


def test_postgres_roles() -> None:
    lines = [line.replace("|", PSQL_FIELD_SEPARATOR) for line in PG_ROLES]
    roles = PostgresRoles().process(lines)
    assert roles["cap"] == {
        "super": False,
        "inherit": True,
        "createrole": False,
        "createdb": False,
        "canlogin": False,
        "replication": False,
        "connlimit": -1,
        "password": "********",
        "validuntil": None,
        "bypassrls": False,
        "config": None,
        "oid": 16384,
    }
    assert roles["postgres"]["super"] is True


def test_postgres_databases_values_with_pipes() -> None:
    header = [
        "pg_encoding_to_char", "oid", "datname", "datdba", "encoding", "datistemplate",
        "datallowconn", "datconnlimit", "datfrozenxid", "dattablespace", "datcollate", "datacl",
        "owner",
    ]  # fmt: skip
    row = ["UTF8", "5", "a|b", "10", "6", "f", "t", "-1", "716", "1663", "C.UTF-8", "", "postgres"]
    sep = PSQL_FIELD_SEPARATOR
    databases = PostgresDatabases().process([sep.join(header), sep.join(row)])
    assert databases == {
        "a|b": {
            "oid": 5,
            "dba": 10,
            "encoding": "UTF8",
            "istemplate": False,
            "allowconn": True,
            "connlimit": -1,
            "frozenxid": 716,
            "tablespace": 1663,
            "collate": "C.UTF-8",
            "acl": None,
            "owner": "postgres",
        }
    }


# pg_authid.rolpassword for PASSWORD 'pyi pass' (scram-sha-256, then md5 encryption).
SCRAM = (
    "SCRAM-SHA-256$4096:/vuEsj5QHextEXh7+QmDHQ==$DByYmz090DOvXjnDqkRYiDdKCdv0Q+GmNzQqJfGnjkE="
    ":Bpw9WVdUFdm6YZJl40ymXb9uofyevkCKBYltDi6jdOY="
)
MD5 = "md5745dc4830bb523bc46a5301a9f352999"


def test_postgres_password_hashes() -> None:
    assert pg_password_matches(SCRAM, "cap", "pyi pass") is True
    assert pg_password_matches(SCRAM, "cap", "pyi pas") is False
    assert pg_password_matches(MD5, "capmd5", "pyi pass") is True
    assert pg_password_matches(MD5, "cap", "pyi pass") is False
    assert pg_password_matches(None, "cap", "x") is False
    assert pg_password_matches(SCRAM, "cap", "pyi päss") is None  # SASLprep: can't tell
    assert _RolePasswordHash().process([f"{FAILED_MARKER} 1"]) == {"readable": False}
    assert _RolePasswordHash().process(["hash:"]) == {"readable": True, "hash": None}


def test_quoting() -> None:
    assert mysql_identifier("we`ird") == "`we``ird`"
    assert mysql_account("o'k", "%") == "'o''k'@'%'"
    assert mysql_option_value('a"b\\c\td') == '"a\\"b\\\\c\\td"'
    assert pg_identifier('a"b') == '"a""b"'
    assert pg_string("it's") == "'it''s'"


def test_secrets_stay_out_of_the_command_line() -> None:
    command = mysql_command(MysqlConnection("u", "s3cret;$(x)", "h", 3306), sql="SELECT 1")
    assert "s3cret" not in command.get_raw_value()
    assert "s3cret" in command.connector_arguments["_stdin"]
    assert "s3cret" not in repr(command.connector_arguments["_stdin"])
    from pyinfra.facts.dbclient import PsqlConnection

    command = psql_command(PsqlConnection("u", "pg-s3cret"), sql="SELECT 1")
    assert "pg-s3cret" not in command.get_raw_value()
    assert command.connector_arguments["_stdin"].startswith("pg-s3cret\n")
    with pytest.raises(ValueError, match="newline"):
        psql_command(PsqlConnection("u", "two\nlines"))


def test_docker_top_and_diff() -> None:
    top = [
        "UID                 PID                 PPID                C                   STIME"
        "               TTY                 TIME                CMD",
        "root                4127                4106                0                   00:40"
        "               ?                   00:00:00            sleep infinity",
    ]
    assert DockerContainerProcesses().process(top) == [
        {
            "UID": "root",
            "PID": "4127",
            "PPID": "4106",
            "C": "0",
            "STIME": "00:40",
            "TTY": "?",
            "TIME": "00:00:00",
            "CMD": "sleep infinity",
        }
    ]
    assert DockerContainerFsChanges().process(["C /tmp", "A /tmp/a b"]) == [
        {"change": "C", "path": "/tmp"},
        {"change": "A", "path": "/tmp/a b"},
    ]


def test_image_references() -> None:
    ref = parse_image_reference("registry.io:5000/team/app:1.2@sha256:abc")
    assert (ref.registry, ref.namespace, ref.repository, ref.tag, ref.digest) == (
        "registry.io:5000",
        "team",
        "app",
        "1.2",
        "sha256:abc",
    )
    assert parse_image_reference("nginx").tag == "latest"
    assert parse_image_reference("localhost/app").registry == "localhost"
    assert parse_image_reference("library/nginx").namespace == "library"
    assert same_image("nginx", "nginx:latest") and not same_image("nginx:1", "nginx:2")
    for bad in ("", "app:", "app@", "reg.io:x/app"):
        with pytest.raises(ValueError):
            parse_image_reference(bad)


def test_ports_and_memory() -> None:
    assert port_bindings("8080:80") == ("80/tcp", {"HostIp": "", "HostPort": "8080"})
    assert port_bindings("127.0.0.1::53/udp") == (
        "53/udp",
        {"HostIp": "127.0.0.1", "HostPort": ""},
    )
    assert port_bindings("80") == ("80/tcp", {"HostIp": "", "HostPort": ""})
    assert port_bindings("8000-8010:80") is None
    assert memory_bytes("512m") == 512 * 1024**2 and memory_bytes("1g") == 1024**3
    assert memory_bytes("lots") is None


def test_container_spec_matches_what_it_predicts() -> None:
    spec = ContainerSpec(
        image="app:1",
        ports=["127.0.0.1:8080:80"],
        networks=["net"],
        volumes=["data:/data", "/anon"],
        env_vars=["A=1"],
        labels=["role=web", "flag"],
        restart_policy="on-failure:3",
        mounts=["type=bind,source=/src,target=/app"],
        hostname="web",
        entrypoint="/bin/sh",
        user="1000",
        cpus=1.5,
        memory="1g",
        dns=["1.1.1.1"],
        command="-c 'sleep 1'",
    )
    predicted = spec.predicted_inspect("web", True, "sha256:1")
    assert spec.differences(predicted, "sha256:1") == []
    assert spec.differences(predicted, "sha256:2") == ["image (a newer one has the same name)"]
    changed = ContainerSpec(**{**spec.__dict__, "env_vars": ["A=2"], "memory": "2g"})
    assert changed.differences(predicted, "sha256:1") == ["env_vars", "memory"]
    args = " ".join(str(a.obj) if hasattr(a, "obj") else a for a in spec.create_args())
    assert args.endswith("app:1 -c sleep 1") and "--restart on-failure:3" in args
