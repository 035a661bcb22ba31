"""ProcessRequest: one command to start, with everything about it decided beforehand.

The execution connector builds a request (the command line with its escalation, the
resolved arguments of the call, whether a terminal is needed and whether stdin data is
coming) and hands it to the connector's ``start_process``. Everything a connector needs
to start the command, and later to kill it as the user it runs as, is in the request:
nothing is looked up again, nothing is passed around on the side.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyinfra.api.arguments import ResolvedArguments
from pyinfra.api.command import StringCommand
from pyinfra.connectors._runner.argv import command_argv
from pyinfra.connectors._runner.command import Escalation, build_unix_command
from pyinfra.connectors._runner.process import Responder


@dataclass(frozen=True)
class ProcessRequest:
    """What ``start_process`` receives.

    ``escalation``: the full command line as the target's shell runs it (env, chdir,
    shell, sudo/su/doas) and its secret channel (prompt answers, ready marker);
    ``arguments``: the call's resolved arguments (escalation users and secrets, timeout,
    temp dir...); ``pty``: run it on a terminal; ``has_input``: stdin data will be
    written (otherwise stdin is closed at once).
    """

    escalation: Escalation
    arguments: ResolvedArguments
    pty: bool = False
    has_input: bool = False

    @classmethod
    def build(
        cls,
        command: str | StringCommand,
        arguments: ResolvedArguments,
        has_input: bool = False,
    ) -> ProcessRequest:
        """The request for ``command`` run with ``arguments``."""
        escalation = build_unix_command(command, **arguments.command_arguments())
        return cls(escalation, arguments, arguments.get_pty or escalation.needs_pty, has_input)

    @classmethod
    def plain(
        cls, command: str | StringCommand, timeout: float | None = None, pty: bool = False
    ) -> ProcessRequest:
        """A connector's own helper command line, run as it is by the login user's shell
        (no shell wrapper, no escalation, no stdin)."""
        line = command if isinstance(command, StringCommand) else StringCommand(command)
        arguments = ResolvedArguments.from_call(
            {"_shell_executable": None, "_timeout": timeout, "_get_pty": pty}
        )
        return cls(Escalation(line), arguments, pty=pty)

    @property
    def command(self) -> StringCommand:
        """The full command line (``str()`` of it masks secrets)."""
        return self.escalation.command

    @property
    def raw(self) -> str:
        """The full command line as text, secrets included: only for handing to a shell."""
        return self.escalation.command.get_raw_value()

    @property
    def argv(self) -> list[str]:
        """The command line as an argv with at most one shell (for a wrapper such as
        ``docker exec`` or ``chroot`` that runs an argv)."""
        return command_argv(self.raw)

    @property
    def responders(self) -> tuple[Responder, ...]:
        return self.escalation.responders

    @property
    def prompts(self) -> bool:
        """Whether the command will prompt for a password on its terminal or stdin."""
        return bool(self.escalation.responders)
