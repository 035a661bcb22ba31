#!/usr/bin/env python3
"""Delay every packet of one NFQUEUE queue by a fixed time, in user space.

    ip netns exec NS python3 nfq_delay.py --queue 0 --delay-ms 25

This kernel has no netem, so the WAN benchmark (bench/wan.py) adds latency with an
iptables rule `-j NFQUEUE --queue-num Q` on the receiving side of each link and one
of these daemons per network namespace: the kernel hands each matching packet to
this process, which gives the verdict ACCEPT `--delay-ms` after the packet arrived.
Packets leave in arrival order (the delay is constant), so TCP sees no reordering.

It speaks nfnetlink (NETLINK_NETFILTER) directly over a raw netlink socket with the
`socket` module: no libnetfilter_queue, no third-party module. Only the packet
metadata is copied to user space (NFQNL_COPY_META), never the payload.

Prints `ready` on stdout once the queue is bound. On SIGTERM/SIGINT it accepts every
packet still held, unbinds and exits 0. Needs CAP_NET_ADMIN in its namespace.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import socket
import struct
import sys
import time
from collections import deque
from types import FrameType

NETLINK_NETFILTER = 12
SOL_NETLINK = 270
NETLINK_NO_ENOBUFS = 5
SO_RCVBUFFORCE = 33

NLMSG_ERROR = 2
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4

NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = NFNL_SUBSYS_QUEUE << 8 | 0
NFQNL_MSG_CONFIG = NFNL_SUBSYS_QUEUE << 8 | 2
NFQNL_MSG_VERDICT_BATCH = NFNL_SUBSYS_QUEUE << 8 | 3

NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQA_CFG_MASK = 4
NFQA_CFG_FLAGS = 5
NFQNL_CFG_CMD_BIND = 1
NFQNL_CFG_CMD_UNBIND = 2
NFQNL_COPY_META = 1
NFQA_CFG_F_GSO = 0x4  # hand over GSO packets whole instead of segmenting them first
NF_ACCEPT = 1
NLA_TYPE_MASK = 0x3FFF

NLMSG_HEADER = struct.Struct("=IHHII")  # len, type, flags, seq, pid (host byte order)
NLA_HEADER = struct.Struct("=HH")  # len, type


class QueueError(RuntimeError):
    pass


def _attr(kind: int, data: bytes) -> bytes:
    raw = NLA_HEADER.pack(NLA_HEADER.size + len(data), kind) + data
    return raw + b"\0" * (-len(raw) % 4)


def _message(kind: int, flags: int, seq: int, queue: int, attrs: bytes) -> bytes:
    # nfgenmsg: family (AF_UNSPEC), version (NFNETLINK_V0), resource id = queue (big-endian)
    body = struct.pack("=BB", socket.AF_UNSPEC, 0) + struct.pack(">H", queue) + attrs
    return NLMSG_HEADER.pack(NLMSG_HEADER.size + len(body), kind, flags, seq, 0) + body


def _messages(data: bytes) -> list[tuple[int, bytes]]:
    """Split a netlink datagram into (type, payload) pairs."""
    out: list[tuple[int, bytes]] = []
    offset = 0
    while offset + NLMSG_HEADER.size <= len(data):
        length, kind, _flags, _seq, _pid = NLMSG_HEADER.unpack_from(data, offset)
        if length < NLMSG_HEADER.size:
            break
        out.append((kind, data[offset + NLMSG_HEADER.size : offset + length]))
        offset += (length + 3) & ~3
    return out


def _packet_id(payload: bytes) -> int | None:
    """The packet id from an NFQNL_MSG_PACKET payload (after its 4-byte nfgenmsg)."""
    offset = 4
    while offset + NLA_HEADER.size <= len(payload):
        length, kind = NLA_HEADER.unpack_from(payload, offset)
        if length < NLA_HEADER.size:
            return None
        if kind & NLA_TYPE_MASK == NFQA_PACKET_HDR:
            (packet_id,) = struct.unpack_from(">I", payload, offset + NLA_HEADER.size)
            return int(packet_id)
        offset += (length + 3) & ~3
    return None


class DelayQueue:
    """One bound NFQUEUE queue whose packets are accepted `delay` seconds after arrival."""

    def __init__(self, queue: int, delay: float, maxlen: int = 65536) -> None:
        self.queue = queue
        self.delay = delay
        self.seq = 0
        self.held: deque[tuple[float, int]] = deque()  # (due time, packet id), in order
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 * 1024 * 1024)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024 * 1024)
        self.sock.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)
        self.sock.bind((0, 0))
        cmd = struct.pack("=BB", NFQNL_CFG_CMD_BIND, 0) + struct.pack(">H", socket.AF_INET)
        self._configure(_attr(NFQA_CFG_CMD, cmd), "bind")
        params = struct.pack(">IB", 0, NFQNL_COPY_META)
        options = (
            _attr(NFQA_CFG_PARAMS, params)
            + _attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack(">I", maxlen))
            + _attr(NFQA_CFG_MASK, struct.pack(">I", NFQA_CFG_F_GSO))
            + _attr(NFQA_CFG_FLAGS, struct.pack(">I", NFQA_CFG_F_GSO))
        )
        self._configure(options, "configure")

    def _configure(self, attrs: bytes, what: str) -> None:
        """Send one NFQNL_MSG_CONFIG request and wait for the kernel's acknowledgement."""
        self.seq += 1
        self.sock.send(
            _message(NFQNL_MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK, self.seq, self.queue, attrs)
        )
        while True:
            for kind, payload in _messages(self.sock.recv(65536)):
                if kind == NLMSG_ERROR:
                    (code,) = struct.unpack_from("=i", payload)
                    if code:
                        raise QueueError(
                            f"{what} queue {self.queue}: {os.strerror(-code)}"
                            + (
                                " (another process holds this queue)"
                                if -code == errno.EBUSY
                                else ""
                            )
                        )
                    return

    def read(self) -> None:
        """Take every packet the kernel has queued for us and schedule its release."""
        while True:
            try:
                data = self.sock.recv(1 << 20, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            now = time.monotonic()
            for kind, payload in _messages(data):
                if kind == NFQNL_MSG_PACKET:
                    packet_id = _packet_id(payload)
                    if packet_id is not None:
                        self.held.append((now + self.delay, packet_id))
                elif kind == NLMSG_ERROR:
                    (code,) = struct.unpack_from("=i", payload)
                    if code:
                        raise QueueError(f"queue {self.queue}: {os.strerror(-code)}")

    def release(self, until: float) -> None:
        """Accept every held packet due by `until` (one batch verdict: ids are in order)."""
        last = None
        while self.held and self.held[0][0] <= until:
            last = self.held.popleft()[1]
        if last is not None:
            self._verdict(last)

    def _verdict(self, packet_id: int) -> None:
        self.seq += 1
        attrs = _attr(NFQA_VERDICT_HDR, struct.pack(">II", NF_ACCEPT, packet_id))
        self.sock.send(
            _message(NFQNL_MSG_VERDICT_BATCH, NLM_F_REQUEST, self.seq, self.queue, attrs)
        )

    def next_due(self) -> float | None:
        return self.held[0][0] if self.held else None

    def close(self) -> None:
        """Accept everything still held, unbind the queue and close the socket."""
        try:
            self.read()
            if self.held:
                self._verdict(self.held[-1][1])
                self.held.clear()
            cmd = struct.pack("=BB", NFQNL_CFG_CMD_UNBIND, 0) + struct.pack(">H", socket.AF_INET)
            self._configure(_attr(NFQA_CFG_CMD, cmd), "unbind")
        finally:
            self.sock.close()


def serve(queue: DelayQueue) -> None:
    """Hold and release packets until SIGTERM or SIGINT."""
    import select

    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    # The signal handler alone would not end a select() without timeout (PEP 475
    # retries it): the wakeup pipe makes every signal a readable event as well.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    fd = queue.sock.fileno()
    try:
        while not stopping:
            due = queue.next_due()
            timeout = None if due is None else max(0.0, due - time.monotonic())
            readable, _, _ = select.select([fd, wake_r], [], [], timeout)
            if fd in readable:
                queue.read()
            if wake_r in readable:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 512)
            queue.release(time.monotonic())
    finally:
        signal.set_wakeup_fd(-1)
        os.close(wake_r)
        os.close(wake_w)


def _realtime_priority() -> str:
    """Run at a real-time priority so a busy machine adds little jitter (best effort)."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        return "SCHED_FIFO"
    except (OSError, AttributeError):
        pass
    try:
        os.nice(-10)
        return "nice -10"
    except OSError:
        return "normal priority"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue", type=int, required=True, help="NFQUEUE queue number")
    parser.add_argument("--delay-ms", type=float, required=True, help="delay per packet")
    args = parser.parse_args(argv)
    if not 0 <= args.queue <= 65535 or args.delay_ms < 0:
        parser.error("--queue must be 0..65535 and --delay-ms >= 0")
    priority = _realtime_priority()
    try:
        queue = DelayQueue(args.queue, args.delay_ms / 1000)
    except (QueueError, OSError) as error:
        print(f"nfq_delay: {error}", file=sys.stderr)
        return 1
    print(f"ready queue={args.queue} delay_ms={args.delay_ms:g} {priority}", flush=True)
    try:
        serve(queue)
    finally:
        queue.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
