"""Facts about apt: configured sources, trusted keys, installed packages, simulations."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypedDict

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.exceptions import FactError
from pyinfra.api.facts import FactBase
from pyinfra.facts._packages import PackagesFact
from pyinfra.facts.parsing import first_line

OptionValue = str | list[str]


@dataclass(frozen=True)
class AptRepo:
    """One apt repository (one type, URL and suite), readable like a dict too:
    ``repo["url"]``, ``repo.get("options")``, ``"type" in repo``."""

    type: str
    url: str
    distribution: str
    components: list[str]
    options: dict[str, OptionValue]

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        setattr(self, key, value)  # refused: the dataclass is frozen

    def __contains__(self, key: str) -> bool:
        return key in self.keys()

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def keys(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self)]

    def values(self) -> list[Any]:
        return [getattr(self, k) for k in self.keys()]

    def items(self) -> list[tuple[str, Any]]:
        return [(k, getattr(self, k)) for k in self.keys()]

    def to_json(self) -> dict[str, Any]:
        return dict(self.items())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AptRepo):
            return self.to_json() == other.to_json()
        if isinstance(other, dict):
            return self.to_json() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(repr(sorted(self.to_json().items(), key=lambda kv: kv[0])))


def _option_value(values: list[str]) -> OptionValue:
    return values[0] if len(values) == 1 else list(values)


@dataclass(frozen=True)
class AptSourcesFile:
    """One stanza of a deb822 ``.sources`` file, before expansion into :class:`AptRepo`."""

    types: list[str]
    uris: list[str]
    suites: list[str]
    components: list[str]
    architectures: list[str] | None = None
    signed_by: list[str] | None = None
    trusted: str | None = None

    def expand_to_repos(self) -> list[AptRepo]:
        """One :class:`AptRepo` per type, URI and suite (in that nesting order)."""
        options: dict[str, OptionValue] = {}
        if self.architectures:
            options["arch"] = _option_value(self.architectures)
        if self.signed_by:
            options["signed-by"] = _option_value(self.signed_by)
        if self.trusted:
            options["trusted"] = self.trusted
        return [
            AptRepo(kind, uri, suite, list(self.components), dict(options))
            for kind in self.types
            for uri in self.uris
            for suite in self.suites
        ]


_FILE_MARKER = "##PYINFRA_FILE "
_LIST_LINE = re.compile(r"^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)((?:\s+[^\s#]\S*)*)")


def parse_list_line(line: str) -> AptRepo | None:
    """An :class:`AptRepo` from one one-line-style entry (``deb [opts] URL SUITE COMP...``)."""
    match = _LIST_LINE.match(line)
    if not match:
        return None
    kind, raw_options, url, suite, rest = match.groups()
    options: dict[str, OptionValue] = {}
    for item in (raw_options or "").split():
        key, sep, value = item.partition("=")
        if sep:
            options[key] = _option_value(value.split(","))
    return AptRepo(kind, url, suite, rest.split(), options)


def _deb822_stanzas(lines: list[str]) -> Iterator[dict[str, str]]:
    stanza: dict[str, str] = {}
    key: str | None = None
    for line in [*lines, ""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if stanza:
                yield stanza
            stanza, key = {}, None
            continue
        if line[0] in " \t" and key is not None:
            part = line.strip()
            stanza[key] += "\n" + ("" if part == "." else part)
            continue
        name, sep, value = line.partition(":")
        if sep:
            key = name.strip().lower()
            stanza[key] = value.strip()


def parse_deb822(lines: list[str]) -> list[AptSourcesFile]:
    """The enabled stanzas of a deb822 ``.sources`` file."""
    entries: list[AptSourcesFile] = []
    for stanza in _deb822_stanzas(lines):
        if stanza.get("enabled", "yes").strip().lower() in ("no", "false", "0"):
            continue
        types, uris, suites = (stanza.get(k, "").split() for k in ("types", "uris", "suites"))
        if not types or not uris or not suites:
            continue
        signed = stanza.get("signed-by", "").strip()
        if "\n" in signed:  # an inline key block, not key file paths
            signed_by: list[str] | None = [signed.strip()]
        else:
            signed_by = signed.split() or None
        entries.append(
            AptSourcesFile(
                types=types,
                uris=uris,
                suites=suites,
                components=stanza.get("components", "").split(),
                architectures=stanza.get("architectures", "").split() or None,
                signed_by=signed_by,
                trusted=stanza.get("trusted") or None,
            )
        )
    return entries


def parse_apt_sources(output: list[str]) -> list[AptRepo]:
    """Every repository of the files printed after ``##PYINFRA_FILE PATH`` markers."""
    repos: list[AptRepo] = []
    files: list[tuple[str, list[str]]] = []
    for line in output:
        if line.startswith(_FILE_MARKER):
            files.append((line[len(_FILE_MARKER) :].strip(), []))
        elif files:
            files[-1][1].append(line)
    for path, lines in files:
        if path.endswith(".sources"):
            for entry in parse_deb822(lines):
                repos.extend(entry.expand_to_repos())
            continue
        for line in lines:
            repo = parse_list_line(line)
            if repo is not None:
                repos.append(repo)
    return repos


SOURCES_COMMAND = (
    "for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list "
    "/etc/apt/sources.list.d/*.sources; do "
    'if [ -f "$f" ]; then echo "' + _FILE_MARKER + '$f"; cat "$f"; echo; fi; done'
)


class AptSources(FactBase["list[AptRepo]"]):
    """Configured apt repositories (one-line ``.list`` files and deb822 ``.sources``):
    a list of :class:`AptRepo`, which also read like dicts (``repo["url"]``).

    Commented and disabled (``Enabled: no``) entries are left out.
    """

    requires_command = "apt"

    @staticmethod
    def default() -> list[AptRepo]:
        return []

    def command(self) -> str:
        return SOURCES_COMMAND

    def process(self, output: list[str]) -> list[AptRepo]:
        return parse_apt_sources(output)


# Keys --------------------------------------------------------------------------------

APT_KEY_DIRECTORIES = ["/etc/apt/trusted.gpg.d", "/etc/apt/keyrings", "/usr/share/keyrings"]
_KEYRING_MARKER = "KEYRING:"


def parse_gpg_colons(lines: list[str]) -> dict[str, dict[str, Any]]:
    """Keys from ``gpg --with-colons`` output: ``{KEYID: {validity, length, subkeys,
    fingerprint, uid_hash, uid}}``; ``fpr`` and ``uid`` lines after a ``sub`` line
    belong to that subkey."""
    keys: dict[str, dict[str, Any]] = {}
    target: dict[str, Any] | None = None
    key: dict[str, Any] | None = None
    for line in lines:
        fields = line.strip().split(":")
        kind = fields[0]
        if kind in ("pub", "sub") and len(fields) > 4:
            entry: dict[str, Any] = {
                "validity": fields[1],
                "length": int(fields[2]) if fields[2].isdigit() else fields[2],
            }
            if kind == "pub":
                entry["subkeys"] = {}
                keys[fields[4]] = key = entry
            elif key is not None:
                key["subkeys"][fields[4]] = entry
            target = entry
        elif kind == "fpr" and target is not None and len(fields) > 9:
            target["fingerprint"] = fields[9]
        elif kind == "uid" and target is not None and len(fields) > 9:
            target["uid_hash"] = fields[7]
            target["uid"] = fields[9]
    return keys


def _keyrings_command(directories: list[str]) -> StringCommand:
    dirs = [QuoteString(d) for d in directories]
    show = StringCommand(
        "echo", f'"{_KEYRING_MARKER}$1";', "gpg", "--list-keys", "--with-colons",
        "--no-default-keyring", "--keyring", '"$1"', "2>/dev/null", "||", "true",
    )  # fmt: skip
    show_asc = StringCommand(
        "echo", f'"{_KEYRING_MARKER}$1";', "gpg", "--with-colons", '"$1"', "2>/dev/null",
        "||", "true",
    )  # fmt: skip
    return StringCommand(
        "find", *dirs, "-type", "f", "'('", "-name", "'*.gpg'", "-o", "-name", "'*.kbx'", "')'",
        "-exec", "sh", "-c", QuoteString(show), "_", "{}", "';'", "2>/dev/null;",
        "find", *dirs, "-type", "f", "-name", "'*.asc'",
        "-exec", "sh", "-c", QuoteString(show_asc), "_", "{}", "';'", "2>/dev/null;", "true",
    )  # fmt: skip


class AptKeys(FactBase["dict[str, dict[str, Any]] | None"]):
    """GPG keys apt trusts, from the keyrings in ``directories`` (default: the apt
    keyring directories and ``/usr/share/keyrings``), without ``apt-key``::

        {"KEYID": {"validity": "-", "length": 4096, "subkeys": {...},
                   "fingerprint": "...", "uid_hash": "...", "uid": "Name <mail>"}}
    """

    requires_command = "gpg"

    def command(self, directories: list[str] | None = None) -> StringCommand:
        return _keyrings_command(list(directories or APT_KEY_DIRECTORIES))

    def process(self, output: list[str]) -> dict[str, dict[str, Any]] | None:
        keys: dict[str, dict[str, Any]] = {}
        block: list[str] = []
        for line in [*output, _KEYRING_MARKER]:
            if line.startswith(_KEYRING_MARKER):
                keys.update(parse_gpg_colons(block))
                block = []
            else:
                block.append(line)
        return keys


# Packages ----------------------------------------------------------------------------

_APT_LIST_LINE = re.compile(r"^(?P<name>[^/\s]+)/\S*\s+(?P<version>\S+)\s+\S+\s+\[installed")


class AptPackages(PackagesFact):
    """Installed packages as apt lists them: ``{"name": {"version"}}``."""

    requires_command = "apt"
    pattern = _APT_LIST_LINE

    def command(self) -> str:
        return "apt list --installed 2>/dev/null"


class AptSimulationDict(TypedDict):
    upgraded: int
    newly_installed: int
    removed: int
    not_upgraded: int


_SUMMARY = re.compile(
    r"^(\d+) upgraded, (\d+) newly installed, (\d+) to remove and (\d+) not upgraded"
)
APT_GET = (
    "DEBIAN_FRONTEND=noninteractive apt-get -y "
    "-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"
)


class SimulateOperationWillChange(FactBase["AptSimulationDict | None"]):
    """What an ``apt-get`` command would do, from its ``--dry-run``:
    ``{"upgraded": 0, "newly_installed": 1, "removed": 0, "not_upgraded": 0}``.

    ``command`` is the part after ``apt-get`` (``"install vim"``, ``"upgrade"``); a
    command apt refuses raises ``FactError`` with apt's message.
    """

    requires_command = "apt-get"

    def command(self, command: str) -> StringCommand:
        return StringCommand("LC_ALL=C", APT_GET, command, "--dry-run")

    def process(self, output: list[str]) -> AptSimulationDict | None:
        for line in output:
            match = _SUMMARY.match(line.strip())
            if match:
                upgraded, installed, removed, held = (int(g) for g in match.groups())
                return {
                    "upgraded": upgraded,
                    "newly_installed": installed,
                    "removed": removed,
                    "not_upgraded": held,
                }
        raise FactError(f"no summary line in the apt-get simulation: {output[-1:]}")


# Facts the apt operations read (not in pyinfra 3.x) -----------------------------------

APT_UPDATE_STAMP = "/var/lib/apt/periodic/update-success-stamp"


class AptUpdateAge(FactBase["int | None"]):
    """Seconds since the last successful ``apt-get update`` (the age of apt's update
    stamp file), ``None`` when there is no stamp. One round trip."""

    def command(self) -> str:
        return (
            f"if [ -e {APT_UPDATE_STAMP} ]; then "
            f"echo $(( $(date +%s) - $(stat -c %Y {APT_UPDATE_STAMP}) )); fi"
        )

    def process(self, output: list[str]) -> int | None:
        text = first_line(output)
        return int(text) if text.lstrip("-").isdigit() else None


class KeyringDigests(FactBase["dict[str, str | None]"]):
    """``{"src": sha256 of the key in binary form or None, "dest": sha256 of the
    keyring file or None}``: whether ``dest`` already holds exactly the key ``src``
    (an ASCII-armored or binary key file on the host)."""

    def command(self, src: str, dest: str) -> StringCommand:
        s, d = QuoteString(src), QuoteString(dest)
        return StringCommand(
            "if", "[", "-f", s, "];", "then",
            "if", "grep", "-q", "'BEGIN PGP PUBLIC KEY BLOCK'", s, ";", "then",
            "printf", "'src '", ";", "gpg", "--batch", "--dearmor", "<", s, "|", "sha256sum", ";",
            "else", "printf", "'src '", ";", "sha256sum", "<", s, ";", "fi", ";", "fi;",
            "if", "[", "-f", d, "];", "then", "printf", "'dest '", ";", "sha256sum", "<", d, ";",
            "fi",
        )  # fmt: skip

    @staticmethod
    def default() -> dict[str, str | None]:
        return {"src": None, "dest": None}

    def process(self, output: list[str]) -> dict[str, str | None]:
        digests: dict[str, str | None] = {"src": None, "dest": None}
        for line in output:
            parts = line.split()
            if len(parts) >= 2 and parts[0] in digests:
                digests[parts[0]] = parts[1]
        return digests
