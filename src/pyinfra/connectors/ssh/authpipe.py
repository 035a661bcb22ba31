"""Authentication in one round trip: the userauth request right behind the service request.

paramiko asks for the ``ssh-userauth`` service, waits for the server's accept, and only
then sends the authentication request (and does both again for every key it tries):
two round trips per attempt. RFC 4252 section 5 lets a client send the request without
waiting, and OpenSSH handles the two messages in order. :class:`PipelinedTransport`
sends the service request once per connection and every authentication request at once;
the accept that comes back is only logged. Whatever paramiko cannot decide yet (which
SHA-2 signature an RSA key should use before the server's ``server-sig-algs`` arrived)
takes paramiko's own two-step path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import paramiko
from paramiko.auth_handler import AuthHandler
from paramiko.message import Message

logger = logging.getLogger("pyinfra.ssh.paramiko")

# The methods whose request paramiko builds from what it already holds when it asks
# for the service (gssapi methods exchange more messages first).
_PIPELINED_METHODS = frozenset({"none", "password", "publickey", "keyboard-interactive"})
# paramiko's private methods, untyped in its stubs
_paramiko_handler: Any = AuthHandler


class _PipelinedAuthHandler(AuthHandler):
    pipelined = False

    def _request_auth(self) -> None:
        transport: Any = self.transport
        if not self._can_pipeline():
            _paramiko_handler._request_auth(self)
            return
        if not getattr(transport, "_service_requested", False):
            _paramiko_handler._request_auth(self)
            transport._service_requested = True
        self.pipelined = True
        accept = Message()
        accept.add_string("ssh-userauth")
        accept.rewind()
        _paramiko_handler._parse_service_accept(self, accept)
        transport._after_auth_request()

    def _parse_userauth_failure(self, m: Message) -> None:
        transport: Any = self.transport
        transport._auth_attempt_failed()
        _paramiko_handler._parse_userauth_failure(self, m)

    def _parse_service_accept(self, m: Message) -> None:
        if self.pipelined:
            logger.debug("service ssh-userauth accepted (request already sent)")
            return
        _paramiko_handler._parse_service_accept(self, m)

    def _can_pipeline(self) -> bool:
        method = getattr(self, "auth_method", "")
        if method not in _PIPELINED_METHODS:
            return False
        if method != "publickey":
            return True
        key_type, _bits = _paramiko_handler._get_key_type_and_bits(self, self.private_key)
        if "rsa" not in key_type:
            return True
        # An RSA key signs with the SHA-2 algorithm the server lists: known only once
        # its extension info (sent with the new keys) was read.
        extensions = getattr(self.transport, "server_extensions", None) or {}
        return bool(extensions.get("server-sig-algs"))


class PipelinedTransport(paramiko.Transport):
    """A paramiko transport whose client authentication attempts cost one round trip.

    ``after_first_auth_request`` (optional) is called once, right after the first
    authentication request went out without waiting; ``first_auth_failed`` if that
    attempt was refused (see ``ssh/connect.py``: the first channel's open rides behind
    that request)."""

    _auth_handler: AuthHandler | None = None
    after_first_auth_request: Callable[[], None] | None = None
    first_auth_failed: Callable[[], None] | None = None
    _attempts = 0

    def _after_auth_request(self) -> None:
        self._attempts += 1
        if self._attempts == 1 and self.after_first_auth_request is not None:
            self.after_first_auth_request()

    def _auth_attempt_failed(self) -> None:
        if self._attempts == 1 and self.first_auth_failed is not None:
            hook, self.first_auth_failed = self.first_auth_failed, None
            hook()

    @property
    def auth_handler(self) -> AuthHandler | None:
        return self._auth_handler

    @auth_handler.setter
    def auth_handler(self, handler: AuthHandler | None) -> None:
        if type(handler) is AuthHandler and not self.server_mode:
            handler = _PipelinedAuthHandler(self)
        self._auth_handler = handler
