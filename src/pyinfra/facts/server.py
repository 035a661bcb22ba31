"""Facts about the server itself."""

from __future__ import annotations

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactBase


class Hostname(FactBase[str]):
    """The host's name (``uname -n``)."""

    def command(self) -> str:
        return "uname -n"

    def process(self, output: list[str]) -> str:
        return output[0].strip() if output else ""


class Kernel(FactBase[str]):
    """The kernel name (``uname -s``), e.g. ``Linux``."""

    def command(self) -> str:
        return "uname -s"

    def process(self, output: list[str]) -> str:
        return output[0].strip() if output else ""


class KernelVersion(FactBase[str]):
    def command(self) -> str:
        return "uname -r"

    def process(self, output: list[str]) -> str:
        return output[0].strip() if output else ""


class Os(FactBase[str]):
    """The operating system (``uname -s``), e.g. ``Linux``."""

    def command(self) -> str:
        return "uname -s"

    def process(self, output: list[str]) -> str:
        return output[0].strip() if output else ""


class OsVersion(FactBase[str]):
    """The kernel release (``uname -r``)."""

    def command(self) -> str:
        return "uname -r"

    def process(self, output: list[str]) -> str:
        return output[0].strip() if output else ""


class Arch(FactBase[str]):
    """The machine architecture (``uname -m``), e.g. ``x86_64``."""

    def command(self) -> str:
        return "uname -m"

    def process(self, output: list[str]) -> str:
        return output[0].strip() if output else ""


class Command(FactBase[str]):
    """The output of any command."""

    def command(self, command: str) -> str:
        return command

    def process(self, output: list[str]) -> str:
        return "\n".join(output)


class Which(FactBase["str | None"]):
    """Path of an executable on the PATH, or ``None``."""

    def command(self, command: str) -> StringCommand:
        return StringCommand("command", "-v", QuoteString(command), "||", "true")

    def process(self, output: list[str]) -> str | None:
        return output[0].strip() if output and output[0].strip() else None


class Home(FactBase["str | None"]):
    """Home directory of a user (the current user by default)."""

    def command(self, user: str = "") -> StringCommand:
        if user:
            return StringCommand(
                "getent", "passwd", QuoteString(user), "|", "cut", "-d:", "-f6", "||", "true"
            )
        return StringCommand("echo", "$HOME")

    def process(self, output: list[str]) -> str | None:
        return output[0].strip() if output and output[0].strip() else None


class User(FactBase[str]):
    """The user commands run as."""

    def command(self) -> str:
        return "id -un"

    def process(self, output: list[str]) -> str:
        return output[0].strip() if output else ""
