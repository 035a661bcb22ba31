"""Byte sequences a running command and the runner agree on.

A command prints a marker to tell the runner something the output itself cannot: that
escalation is done (stdin may flow), which PID to kill, that a terminal's echo is off.
Every marker starts with ``ESC ]`` and ends with ``BEL`` (an OSC sequence a terminal
ignores), so it never reads like ordinary output; the runner removes it from the output.
"""

from __future__ import annotations

# Printed on stderr once sudo/su accepted the password: stdin data may now be sent
# (held back until then, so it can never be read as the password).
READY_MARKER = b"\x1b]pyinfra-ready\x07"

# Printed on stderr by an SSH command's login shell before it runs the command:
# ``PID_PREFIX <pid> ; <$0> PID_END``; the PID is the command's process group.
PID_PREFIX = b"\x1b]pyinfra-pid;"
PID_END = b"\x07"

# Printed by ``docker exec -t`` commands over SSH once the terminal's echo is off.
PTY_READY_MARKER = b"\x1b]pyinfra-pty-ready\x07"

# Printed by the container session driver when it is ready for commands.
SESSION_READY = b"pyinfra-session-ready\n"

# The start of the prompt sudo is told to print (``sudo -p``): a random tag follows,
# so that no other output can be taken for the prompt.
SUDO_PROMPT_PREFIX = "[pyinfra-sudo-"

# What sudo prints when it would need a password that was not given.
SUDO_PASSWORD_REQUIRED = (
    "sudo: a password is required",
    "sudo: a terminal is required",
    "sudo: no tty present",
)
