"""Open one authenticated SSH transport: sockets, proxies, host keys, auth, retries.

Every failure leaves here as one of our exceptions with a one-line message naming the
host (``ConnectError``, ``AuthenticationError``, ``HostKeyError``). Network errors are
retried (``ssh_connect_retries``) with jittered exponential back-off; authentication,
host-key and configuration errors never are.

Proxies: ``ProxyJump`` hops are real SSH connections, each next hop reached through a
``direct-tcpip`` channel of the previous one (same host-key policy, no prompts);
``ProxyCommand`` runs through ``paramiko.ProxyCommand``. A ``sock`` given in
``ssh_paramiko_connect_kwargs`` wins over both; a ``paramiko.ProxyCommand`` there whose
command contains ``%h``/``%p``/``%r``/``%n`` is restarted with those expanded (OpenSSH
does not expand them in ``ssh -W %h:%p``).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import random
import shlex
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paramiko

from pyinfra.api.exceptions import (
    AuthenticationError,
    ConnectError,
    HostKeyError,
    PyinfraError,
)
from pyinfra.connectors.ssh.authpipe import PipelinedTransport
from pyinfra.connectors.ssh.hostkeys import HostKeyPolicy
from pyinfra.connectors.ssh.liveness import Liveness
from pyinfra.connectors.ssh.settings import SSHSettings, jump_settings

logger = logging.getLogger("pyinfra")

# Ciphers tried first: AES-GCM needs no separate MAC pass (fastest with AES-NI).
_FAST_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
_WINDOW_SIZE = 4 * 1024 * 1024
_OPEN_ATTEMPTS = 20
_PATIENCE = 24 * 3600.0  # a patient channel open waits this long, or until the connection ends


class _QuickAckSocket(socket.socket):
    """A TCP socket that acknowledges small reads at once.

    sshd does not set TCP_NODELAY on non-interactive sessions, so when it sends two
    small packets in a row (e.g. a debug message, then a channel confirmation) the second
    waits for our ACK of the first, which Linux delays by up to 40 ms when we have nothing
    to send. Asking for a quick ACK after each small read removes that stall.
    ``connect_seconds``: how long the TCP connect took (one round trip).
    """

    connect_seconds: float | None = None

    def recv(self, size: int, flags: int = 0) -> bytes:
        data = super().recv(size, flags)
        if _QUICKACK is not None and len(data) < 4096:
            with contextlib.suppress(OSError):
                self.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
        return data


_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


class RetryableConnectError(ConnectError):
    """A network-level failure: worth another attempt."""


@dataclass
class Leftovers:
    """What a connection could not finish before it was lost, for the next connection
    to the same host to finish: kills that did not reach the target (PID, start time
    and the arguments it was escalated with), temp files of the login user that are
    still there, and cleanup commands (with the arguments to run them with)."""

    kills: list[tuple[int, str, Any]] = field(default_factory=list)
    litter: list[str] = field(default_factory=list)
    cleanups: list[tuple[Any, Any]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.kills or self.litter or self.cleanups)

    def take(self) -> Leftovers:
        """Everything recorded so far (and forget it here)."""
        taken = Leftovers(list(self.kills), list(self.litter), list(self.cleanups))
        self.kills.clear()
        self.litter.clear()
        self.cleanups.clear()
        return taken

    def merge(self, other: Leftovers) -> None:
        self.kills += other.kills
        self.litter += [path for path in other.litter if path not in self.litter]
        self.cleanups += other.cleanups


class _SessionGate:
    """Keeps the number of open session channels within what the server allows.

    The server's ``MaxSessions`` (OpenSSH: 10) cannot be asked for; it is learned from
    the first refusal: the number of channels open at that moment. From then on
    ordinary channels wait for room, and one session is kept free for urgent ones (the
    kill of a command must never wait behind the commands it is killing).
    """

    def __init__(self) -> None:
        self.limit: int | None = None
        self._open: list[paramiko.Channel] = []
        self._cond = threading.Condition()

    def count(self) -> int:
        with self._cond:
            self._open = [channel for channel in self._open if not channel.closed]
            return len(self._open)

    def has_room(self, urgent: bool) -> bool:
        if urgent or self.limit is None:
            return True
        return self.count() < max(1, self.limit - 1)

    def wait_for_room(self, urgent: bool, alive: Callable[[], bool]) -> None:
        with self._cond:
            while not self.has_room(urgent) and alive():
                self._cond.wait(0.05)

    def opened(self, channel: paramiko.Channel) -> None:
        with self._cond:
            self._open.append(channel)

    def refused(self) -> int:
        """Learn from a refusal; the number of channels open when it happened."""
        open_now = self.count()
        with self._cond:
            if open_now and (self.limit is None or open_now < self.limit):
                self.limit = open_now
                logger.debug("the SSH server allows %d sessions per connection", open_now)
        return open_now

    def released(self) -> None:
        """A channel was closed: wake whoever waits for room."""
        with self._cond:
            self._cond.notify_all()


class _SpareChannel:
    """A session channel opened ahead of need, in a thread of its own, so that the next
    command's ``exec`` goes out at once instead of after a round trip for the open.

    Whoever claims it waits for it (it is already on its way, so it is never later than
    a new open); an unclaimed one that arrives after the connection gave up on it is
    closed."""

    def __init__(
        self,
        transport: paramiko.Transport,
        timeout: float,
        timed: Callable[[float], None] | None = None,
    ) -> None:
        self.channel: paramiko.Channel | None = None
        self._timed = timed
        self.refused = False
        self.done = threading.Event()
        self._abandoned = False
        self._lock = threading.Lock()
        thread = threading.Thread(
            target=self._open, args=(transport, timeout), daemon=True, name="pyinfra-ssh-spare"
        )
        thread.start()

    def _open(self, transport: paramiko.Transport, timeout: float) -> None:
        channel = None
        started = time.monotonic()
        try:
            channel = transport.open_session(timeout=timeout)
            if self._timed is not None:
                self._timed(time.monotonic() - started)
        except paramiko.ChannelException:
            self.refused = True
        except Exception:  # noqa: BLE001 - the command that needs it opens its own
            pass
        with self._lock:
            if self._abandoned and channel is not None:
                channel.close()
                channel = None
            self.channel = channel
            self.done.set()

    def give_up(self) -> None:
        """It will not come (its open was refused or lost): whoever claims it opens a
        channel of its own, at once."""
        self.drop()
        self.done.set()

    def take(self, timeout: float) -> paramiko.Channel | None:
        """The channel (waiting up to ``timeout`` s for it), or None if it could not be
        opened in time."""
        self.done.wait(timeout)
        return self.drop(keep=True)

    def drop(self, keep: bool = False) -> paramiko.Channel | None:
        """Give the spare up (closed now or when it arrives); with ``keep``, return it
        instead of closing it when it is already there."""
        with self._lock:
            self._abandoned = True
            channel, self.channel = self.channel, None
        if channel is not None and (not keep or channel.closed):
            channel.close()
            return None
        return channel


@dataclass
class SSHConnection:
    """An authenticated transport plus whatever it runs through (jump hosts, proxy).

    Every channel of the host is opened by :meth:`open_channel`: commands
    (:mod:`.process`), sftp and scp (:mod:`.transfer`). ``lost_reason`` says why the
    connection ended when it was not closed by us (a dead peer); ``leftovers`` holds
    the kills and temp files it could not finish.
    """

    settings: SSHSettings
    client: paramiko.SSHClient
    jumps: list[SSHConnection] = field(default_factory=list)
    proxy: Any = None
    login_shell: str | None = None  # the login shell's $0, learned from the first command
    lost_reason: str | None = None
    leftovers: Leftovers = field(default_factory=Leftovers)
    liveness: Liveness | None = None
    gate: _SessionGate = field(default_factory=_SessionGate, repr=False)
    kills: set[threading.Thread] = field(default_factory=set, repr=False)
    spares: bool = True  # open the next command's channel ahead (off once one is refused)
    # the shortest channel open seen (a round trip plus the server's answer time)
    round_trip: float | None = None
    _spare: _SpareChannel | None = field(default=None, repr=False)
    _spare_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def learn_login_shell(self, name: str) -> None:
        self.login_shell = name

    def watch(self) -> None:
        """Start the dead-peer detection (keepalive probes, see :mod:`.liveness`)."""
        transport = self.client.get_transport()
        if transport is None or self.liveness is not None:
            return
        self.liveness = Liveness(
            transport, self.settings.keepalive, self.settings.keepalive_count_max, self.lost
        )
        self.liveness.start()

    def lost(self, reason: str) -> None:
        """The server stopped answering: end the transport, so that everything waiting
        on it ends now (with ``reason`` as its diagnosis)."""
        self.lost_reason = reason
        logger.warning("%s: %s", self.settings.name, reason)
        self.close()

    @property
    def transport(self) -> paramiko.Transport:
        transport = self.client.get_transport()
        if transport is None:
            raise ConnectError(self.lost_message("not connected"))
        return transport

    @property
    def active(self) -> bool:
        transport = self.client.get_transport()
        return transport is not None and bool(transport.is_active())

    def lost_message(self, what: str = "the SSH connection is lost") -> str:
        """One line for a failure caused by the connection going away."""
        if self.lost_reason:
            return f"{self.settings.name}: {self.lost_reason}"
        return f"{self.settings.name}: {what}"

    def open_channel(
        self, window_size: int | None = None, *, urgent: bool = False, patient: bool = False
    ) -> paramiko.Channel:
        """A new session channel. Waits for room when the server's MaxSessions is
        reached (see :class:`_SessionGate`); ``urgent`` skips that queue (kills).
        ``patient``: wait for the server's answer as long as the connection lives
        (a kill sent to a server that stopped answering goes through when it answers
        again), instead of ``ConnectTimeout``. ``ConnectError`` when the server refuses
        sessions while none is open, does not answer, or the connection is gone."""
        name, timeout = self.settings.name, self.settings.connect_timeout
        wait = _PATIENCE if patient else timeout
        transport = self.transport
        ordinary = not urgent and not patient and window_size is None
        if ordinary:
            channel = self._claim_spare(timeout)
            if channel is not None:
                self.gate.opened(channel)
                self.prepare_channel()
                return channel
        delay = 0.01
        refused_alone = 0
        while True:
            self.gate.wait_for_room(urgent, transport.is_active)
            try:
                channel = transport.open_session(timeout=wait, window_size=window_size)
            except paramiko.ChannelException as exc:
                reason: BaseException = exc
            except (paramiko.SSHException, EOFError, OSError) as exc:
                text = str(exc)
                if "Timeout opening channel" in text:
                    raise ConnectError(
                        f"{name}: the SSH server did not answer a request for a new session "
                        f"within {wait:g} s"
                    ) from None
                if not transport.is_active() or "Unable to open channel" not in text:
                    detail = exc or type(exc).__name__
                    raise ConnectError(
                        self.lost_message(f"the SSH connection is lost ({detail}): reconnect")
                    ) from None
                # paramiko keeps one failure per transport: with several channels opened
                # at once, a refusal can read as this generic error; it is a refusal
                reason = exc
            else:
                self.gate.opened(channel)
                if ordinary:
                    self.prepare_channel()
                return channel
            self._stop_spares()
            if self.gate.refused() == 0:
                refused_alone += 1
                if refused_alone > _OPEN_ATTEMPTS:
                    raise ConnectError(
                        f"{name}: the SSH server refuses new sessions ({reason}) although none "
                        "is open: check its MaxSessions"
                    ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def prepare_channel(self) -> None:
        """Start opening the next command's channel now (one spare at a time; not once
        the server refused a session, so its MaxSessions queue stays exact)."""
        if not self.spares or self.gate.limit is not None:
            return
        transport = self.client.get_transport()
        if transport is None or not transport.is_active():
            return
        with self._spare_lock:
            if self._spare is None:
                self._spare = _SpareChannel(
                    transport, self.settings.connect_timeout, self._timed_open
                )

    def _timed_open(self, seconds: float) -> None:
        if self.round_trip is None or seconds < self.round_trip:
            self.round_trip = seconds

    def _claim_spare(self, timeout: float) -> paramiko.Channel | None:
        with self._spare_lock:
            spare, self._spare = self._spare, None
        if spare is None:
            return None
        channel = spare.take(timeout)
        if spare.refused:
            self._stop_spares()
        return channel

    def _stop_spares(self) -> None:
        """The server refused a session: no more spares, and an idle one gives its
        session back."""
        self.spares = False
        with self._spare_lock:
            spare, self._spare = self._spare, None
        if spare is not None:
            spare.drop()

    def released(self) -> None:
        """One of this connection's channels was closed."""
        self.gate.released()

    def answered_since(self, moment: float) -> bool:
        """Whether the server sent anything after ``moment`` (``time.monotonic()``)."""
        return self.liveness is None or self.liveness.last_received > moment

    def wait_for_kills(self, timeout: float) -> None:
        """Give the kills still on their way (see :mod:`.process`) up to ``timeout`` s;
        less when the server has not answered anything for a second (a kill's request
        is answered in milliseconds by a server that answers at all)."""
        started = time.monotonic()
        deadline = started + timeout
        while self.kills and time.monotonic() < deadline:
            if time.monotonic() - started > 1.0 and not self.answered_since(started):
                return
            for thread in list(self.kills):
                thread.join(0.05)

    def close(self) -> None:
        """Close the transport, then the proxy and the jump hosts (innermost first)."""
        if self.liveness is not None:
            self.liveness.stop()
        self._stop_spares()
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            self.client.close()
        if self.proxy is not None:
            with contextlib.suppress(OSError, paramiko.SSHException):
                self.proxy.close()
        for jump in reversed(self.jumps):
            jump.close()
        self.gate.released()


def backoff_delay(attempt: int, min_delay: float, max_delay: float) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): uniformly random between
    ``min_delay`` and ``min(max_delay, min_delay * 2**attempt)``."""
    ceiling = min(max_delay, min_delay * (2**attempt))
    return random.uniform(min_delay, max(min_delay, ceiling))


def open_connection(
    settings: SSHSettings, sleep: Callable[[float], None] = time.sleep
) -> SSHConnection:
    """Connect and authenticate, retrying network errors ``settings.retries`` times."""
    attempt = 0
    while True:
        try:
            return _connect_once(settings)
        except RetryableConnectError as exc:
            if attempt >= settings.retries:
                if settings.retries:
                    raise ConnectError(f"{exc} (after {attempt + 1} attempts)") from exc
                raise
            delay = backoff_delay(attempt, settings.retry_min_delay, settings.retry_max_delay)
            logger.warning("%s; retrying in %.1f s", exc, delay)
            sleep(delay)
            attempt += 1


def _connect_once(settings: SSHSettings) -> SSHConnection:
    jumps: list[SSHConnection] = []
    proxy: Any = None
    try:
        kwargs = dict(settings.paramiko_kwargs)
        sock = kwargs.pop("sock", None)
        if sock is not None:
            sock = _prepare_given_sock(sock, settings)
            proxy = sock if isinstance(sock, paramiko.ProxyCommand) else None
        elif settings.proxy_jump:
            sock = _through_jumps(settings, jumps)
        elif settings.proxy_command:
            sock = proxy = _proxy_command(settings.proxy_command, settings)
        else:
            sock = _tcp_connect(settings)
        client = _authenticate(settings, sock, kwargs, early_channel=True)
    except BaseException:
        if proxy is not None:
            with contextlib.suppress(Exception):
                proxy.close()
        for jump in reversed(jumps):
            jump.close()
        raise
    connection = SSHConnection(settings, client, jumps, proxy)
    connection.round_trip = getattr(sock, "connect_seconds", None)
    transport: Any = client.get_transport()
    connection._spare = getattr(transport, "early_spare", None)
    connection.watch()
    return connection


# -- sockets ------------------------------------------------------------------------------


def _tcp_connect(settings: SSHSettings) -> socket.socket:
    name, timeout = settings.name, settings.connect_timeout
    try:
        infos = socket.getaddrinfo(
            settings.hostname, settings.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except socket.gaierror as exc:
        message = (
            f"{name}: cannot resolve host name {settings.hostname!r} ({exc.strerror}): "
            "check the name, or set ssh_hostname"
        )
        if exc.errno == socket.EAI_AGAIN:
            raise RetryableConnectError(message) from None
        raise ConnectError(message) from None
    deadline = time.monotonic() + timeout
    last: OSError | None = None
    for family, kind, proto, _, address in infos:
        sock = _QuickAckSocket(family, kind, proto)
        try:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            connecting = time.monotonic()
            sock.connect(address)
            sock.connect_seconds = time.monotonic() - connecting  # one round trip
        except OSError as exc:
            sock.close()
            last = exc
            if isinstance(exc, TimeoutError) or time.monotonic() >= deadline:
                break
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.settimeout(None)
        return sock
    raise _network_error(settings, last)


def _network_error(settings: SSHSettings, exc: BaseException | None) -> RetryableConnectError:
    where = f"{settings.name}: connection to {settings.address}"
    if isinstance(exc, TimeoutError) or exc is None:
        return RetryableConnectError(
            f"{where} timed out after {settings.connect_timeout:g} s (CONNECT_TIMEOUT): "
            "is the host up and reachable?"
        )
    if isinstance(exc, ConnectionRefusedError):
        return RetryableConnectError(f"{where} refused: is sshd running on port {settings.port}?")
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return RetryableConnectError(f"{where} failed: {exc.strerror} (check the network/route)")
    detail = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return RetryableConnectError(f"{where} failed: {detail}")


def _expand_tokens(text: str, settings: SSHSettings) -> str:
    tokens = {"%h": settings.hostname, "%p": str(settings.port), "%r": settings.user}
    tokens["%n"] = settings.name
    out, i = [], 0
    while i < len(text):
        pair = text[i : i + 2]
        if pair == "%%":
            out.append("%")
            i += 2
        elif pair in tokens:
            out.append(tokens[pair])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _prepare_given_sock(sock: Any, settings: SSHSettings) -> Any:
    """A ``sock`` from ``ssh_paramiko_connect_kwargs``: expand tokens of a ProxyCommand."""
    if isinstance(sock, paramiko.ProxyCommand):
        argv = [str(a) for a in getattr(sock, "cmd", [])]
        if any(tok in arg for arg in argv for tok in ("%h", "%p", "%r", "%n")):
            with contextlib.suppress(Exception):
                sock.close()
            expanded = shlex.join(_expand_tokens(arg, settings) for arg in argv)
            return _proxy_command(expanded, settings)
    elif isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _proxy_command(command: str, settings: SSHSettings) -> paramiko.ProxyCommand:
    try:
        return paramiko.ProxyCommand(command)
    except (OSError, paramiko.SSHException) as exc:
        raise ConnectError(
            f"{settings.name}: ProxyCommand {command!r} could not start: {exc}"
        ) from None


def _through_jumps(settings: SSHSettings, jumps: list[SSHConnection]) -> Any:
    """Connect every ProxyJump hop in turn; return a channel to the target."""
    previous: SSHConnection | None = None
    for hop in settings.proxy_jump:
        hop_settings = jump_settings(settings, hop)
        if previous is None:
            connection = _connect_once(hop_settings)
        else:
            channel = _open_direct(previous, hop_settings)
            connection = SSHConnection(hop_settings, _authenticate(hop_settings, channel, {}))
        jumps.append(connection)
        previous = connection
    assert previous is not None
    return _open_direct(previous, settings)


def _open_direct(via: SSHConnection, target: SSHSettings) -> paramiko.Channel:
    try:
        return via.transport.open_channel(
            "direct-tcpip",
            (target.hostname, target.port),
            ("127.0.0.1", 0),
            timeout=target.connect_timeout,
        )
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise RetryableConnectError(
            f"{target.name}: jump host {via.settings.address} could not reach "
            f"{target.address}: {exc or type(exc).__name__}"
        ) from None


# -- authentication -------------------------------------------------------------------------


def _transport_factory(sock: Any, **kwargs: Any) -> PipelinedTransport:
    transport = PipelinedTransport(sock, **kwargs)
    options = transport.get_security_options()
    known = tuple(options.ciphers)
    options.ciphers = tuple(c for c in _FAST_CIPHERS if c in known) + tuple(
        c for c in known if c not in _FAST_CIPHERS
    )
    transport.default_window_size = _WINDOW_SIZE
    return transport


def check_key_file(path: str, passphrase: str | None, name: str) -> None:
    """Fail early, and clearly, on an ``ssh_key`` that cannot be used."""
    try:
        with open(path, "rb"):
            pass
    except FileNotFoundError:
        raise ConnectError(f"{name}: ssh_key {path} does not exist: fix ssh_key") from None
    except OSError as exc:
        raise ConnectError(f"{name}: cannot read ssh_key {path}: {exc.strerror}") from None
    try:
        secret: Any = passphrase.encode() if passphrase is not None else None
        paramiko.PKey.from_path(path, secret)
    except (paramiko.PasswordRequiredException, TypeError) as exc:
        if isinstance(exc, TypeError) and "password" not in str(exc).lower():
            raise
        raise AuthenticationError(
            f"{name}: private key {path} is encrypted: set ssh_key_password"
        ) from None
    except (paramiko.SSHException, ValueError) as exc:
        hint = "wrong ssh_key_password?" if passphrase else "not a private key?"
        raise AuthenticationError(
            f"{name}: cannot load private key {path}: {exc} ({hint})"
        ) from None


def _open_channel_early(transport: PipelinedTransport, timeout: float) -> None:
    """Send the first channel's open right behind the first authentication request
    (one round trip saved on every connection). OpenSSH keeps a message that follows a
    successful authentication request for the session it starts; a refused attempt
    makes it reject the open, and the spare is given up. Only with OpenSSH servers."""
    any_transport: Any = transport

    def start() -> None:
        if str(transport.remote_version).startswith("SSH-2.0-OpenSSH_"):
            any_transport.early_spare = _SpareChannel(transport, timeout)

    def refused() -> None:
        spare = getattr(transport, "early_spare", None)
        any_transport.early_spare = None
        if spare is not None:
            spare.give_up()

    transport.after_first_auth_request = start
    transport.first_auth_failed = refused


def _check_early_channel(client: paramiko.SSHClient, auth_seconds: float) -> None:
    """After authentication: an early channel that does not come within a few times the
    time authentication took is given up (a server that dropped the open)."""
    spare: _SpareChannel | None = getattr(client.get_transport(), "early_spare", None)
    if spare is None or spare.done.is_set():
        return

    def watch() -> None:
        if not spare.done.wait(max(1.0, 4 * auth_seconds)):
            logger.debug("the early channel open got no answer: opening channels normally")
            spare.give_up()

    threading.Thread(target=watch, daemon=True, name="pyinfra-ssh-early").start()


def _authenticate(
    settings: SSHSettings, sock: Any, extra: dict[str, Any], early_channel: bool = False
) -> paramiko.SSHClient:
    name = settings.name
    for key in settings.required_keys:
        check_key_file(key, settings.key_password or settings.password, name)
    client = paramiko.SSHClient()
    policy = HostKeyPolicy(settings.strict_host_key_checking, list(settings.known_hosts_files))
    policy.attach(client, settings.hostname, settings.port)
    timeout = settings.connect_timeout
    kwargs: dict[str, Any] = {
        "username": settings.user,
        "password": settings.password,
        "key_filename": list(settings.key_filenames) or None,
        "passphrase": settings.key_password,
        "allow_agent": settings.allow_agent,
        "look_for_keys": settings.look_for_keys,
        "timeout": timeout,
        "banner_timeout": timeout,
        "auth_timeout": timeout,
        "channel_timeout": timeout,
        "sock": sock,
        "transport_factory": _transport_factory,
    }
    if early_channel:

        def factory(sock: Any, **factory_kwargs: Any) -> paramiko.Transport:
            transport = _transport_factory(sock, **factory_kwargs)
            _open_channel_early(transport, timeout)
            return transport

        kwargs["transport_factory"] = factory
    kwargs.update(extra)  # ssh_paramiko_connect_kwargs: applied last
    kwargs["sock"] = sock
    # The whole handshake (banner, key exchange, authentication) gets ConnectTimeout:
    # a server that accepted the TCP connection and then stopped answering (frozen,
    # overloaded) is cut off then, whichever step it stopped in.
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        _abort_socket(sock)

    watchdog = threading.Timer(timeout, expire)
    watchdog.daemon = True
    started = time.monotonic()
    watchdog.start()
    try:
        client.connect(settings.hostname, settings.port, **kwargs)
    except BaseException as exc:
        watchdog.cancel()
        client.close()
        _abort_socket(sock)
        if expired.is_set() or _handshake_timed_out(exc, time.monotonic() - started, timeout):
            raise RetryableConnectError(
                f"{name}: timed out after {timeout:g} s during the SSH handshake with "
                f"{settings.address}: the server accepted the connection but does not "
                "answer (frozen or overloaded?)"
            ) from None
        if isinstance(exc, PyinfraError):
            if isinstance(exc, HostKeyError) and not str(exc).startswith(name):
                raise HostKeyError(f"{name}: {exc}") from None
            raise
        if isinstance(exc, paramiko.BadHostKeyException):
            error = policy.changed_key_error(exc, settings.port)
            raise HostKeyError(f"{name}: {error}") from None
        raise _auth_or_network_error(settings, exc) from None
    watchdog.cancel()
    if early_channel:
        _check_early_channel(client, time.monotonic() - started)
    if expired.is_set():  # it fired just as the handshake ended: the socket is gone
        client.close()
        raise RetryableConnectError(
            f"{name}: timed out after {timeout:g} s during the SSH handshake with "
            f"{settings.address}"
        )
    return client


def _abort_socket(sock: Any) -> None:
    """Wake everything blocked on ``sock`` and close it (a socket, a jump host's
    channel or a proxy command)."""
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
        sock.close()


def _handshake_timed_out(exc: BaseException, elapsed: float, timeout: float) -> bool:
    """Whether paramiko's failure is one of its own handshake timeouts (banner, key
    exchange: "No existing session" follows a key exchange that timed out)."""
    if elapsed < timeout * 0.95:
        return False
    if isinstance(exc, (socket.timeout, TimeoutError, EOFError)):
        return True
    text = str(exc)
    return isinstance(exc, paramiko.SSHException) and (
        "banner" in text or "No existing session" in text or "Negotiation" in text
    )


def _auth_or_network_error(settings: SSHSettings, exc: BaseException) -> PyinfraError:
    name, address = settings.name, settings.address
    if isinstance(exc, paramiko.PasswordRequiredException):
        return AuthenticationError(
            f"{name}: a private key for {settings.user}@{address} is encrypted: "
            "set ssh_key_password"
        )
    if isinstance(exc, paramiko.AuthenticationException):
        tried = []
        if settings.key_filenames:
            tried.append("key " + ", ".join(settings.key_filenames))
        if settings.allow_agent:
            tried.append("agent")
        if settings.look_for_keys:
            tried.append("~/.ssh keys")
        if settings.password:
            tried.append("password")
        return AuthenticationError(
            f"{name}: authentication failed for {settings.user}@{address} "
            f"(tried: {', '.join(tried) or 'nothing'}): check ssh_user, ssh_key or ssh_password"
        )
    if isinstance(exc, paramiko.SSHException) and "No authentication methods" in str(exc):
        return AuthenticationError(
            f"{name}: no way to authenticate as {settings.user}@{address}: set ssh_key or "
            "ssh_password, or allow the agent / ~/.ssh keys"
        )
    if isinstance(exc, paramiko.ProxyCommandFailure):
        return RetryableConnectError(f"{name}: proxy command failed: {exc}")
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return _network_error(settings, TimeoutError())
    if isinstance(exc, (paramiko.SSHException, EOFError, OSError)):
        detail = str(exc) or type(exc).__name__
        return RetryableConnectError(f"{name}: SSH handshake with {address} failed: {detail}")
    return ConnectError(f"{name}: connecting to {address} failed: {type(exc).__name__}: {exc}")
