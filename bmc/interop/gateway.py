"""The live bus as ASTERIX and DIS over UDP: ``bmc gateway``.

The gateway is a reader of the cell, nothing more: it connects as the cell's ``monitor``
identity (every message it takes must be sealed for the monitor, so nobody else on the
broker can make it send anything), subscribes only to the topics its feeds read, and
translates each message inside the MQTT client's callback: the datagrams leave before
the next message is read. CAT034 sector crossings, due later in the scan, go out on
asyncio timers at their time.

Time: the first message heard fixes the epoch, ``wall clock - its simulated time``; every
datagram is stamped ``epoch + simulated time`` (UTC), so at ``--speed 1`` the stamps follow
the wall clock and at other speeds they keep the simulation's own pace.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bmc.engine import clock
from bmc.engine.realtime import RealtimeError, RealtimeOptions, keyring_for, wait_connected
from bmc.interop.feed import DEFAULT_PORTS, Datagram, Feed, TimeBase, parse_udp
from bmc.scenario import Scenario
from protocols import messages as m
from protocols.auth import MONITOR
from protocols.errors import UsageError
from protocols.mqtt import MqttBus
from protocols.topics import Topics, parse_topic, root_for

log = logging.getLogger(__name__)

TOPICS = (
    ("fdc", "+", "picture"),
    ("radar", "+", "tracks"),
    ("world", "world", "truth"),
    ("world", "world", "flyout"),
    ("world", "world", "detonation"),
    ("world", "world", "state"),
)
"""What the gateway subscribes to (the world's state: its death ends the gateway)."""


LATENCY_SAMPLES = 100_000
"""Translation times kept for the summary's percentiles (a day's run holds millions)."""


class GatewayError(UsageError, ValueError):
    """A destination or option the gateway cannot use; ``str()`` says which and why."""


@dataclass(frozen=True, slots=True)
class Destination:
    """Where one stream goes: ``udp://HOST:PORT`` (unicast, broadcast or multicast)."""

    host: str
    port: int

    @classmethod
    def parse(cls, url: str, stream: str) -> Destination:
        """``--asterix``/``--dis``'s URL; the port defaults to the standard's (8600, 3000)."""
        return cls(*parse_udp(url, f"--{stream}", DEFAULT_PORTS[stream]))


def _socket(dest: Destination, ttl: int) -> tuple[socket.socket, tuple[str, int]]:
    try:
        infos = socket.getaddrinfo(dest.host, dest.port, socket.AF_INET, socket.SOCK_DGRAM)
    except socket.gaierror as exc:
        raise GatewayError(f"cannot resolve {dest.host!r}: {exc.strerror}") from None
    addr = infos[0][4]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    if ipaddress.ip_address(addr[0]).is_multicast:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
    return sock, (str(addr[0]), int(addr[1]))


@dataclass(slots=True)
class StreamStats:
    """Counters of one stream."""

    sent: int = 0
    bytes: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    """Datagrams not sent, by the socket error's name (a full buffer, an unreachable host)."""


@dataclass(slots=True)
class GatewaySummary:
    """What a gateway run did."""

    messages: int = 0
    """Messages of the cell translated."""
    streams: dict[str, StreamStats] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    """Payloads refused by reason (unsealed, forged, malformed...)."""
    latency_us: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))
    """Per message (the latest ``LATENCY_SAMPLES``): from the callback's start to the last
    datagram handed to the socket."""
    ended_by: str = ""

    def lines(self) -> list[str]:
        out = [f"gateway: {self.messages} messages translated ({self.ended_by})"]
        for name, s in self.streams.items():
            errors = ", ".join(f"{k} {v}" for k, v in sorted(s.errors.items()))
            out.append(
                f"  {name}: {s.sent} datagrams, {s.bytes} bytes, {self.records.get(name, 0)} records"
                + (f"; not sent: {errors}" if errors else "")
            )
        if self.latency_us:
            lat = sorted(self.latency_us)
            out.append(
                f"  translation per message: p50 {clock.nearest_rank(lat, 0.5, True):.0f} us, "
                f"p99 {clock.nearest_rank(lat, 0.99, True):.0f} us, max {lat[-1]:.0f} us"
            )
        if self.rejected:
            out.append("  refused: " + ", ".join(f"{k} {v}" for k, v in sorted(self.rejected.items())))
        return out


class Gateway:
    """Feeds with their sockets, driven by the messages a watcher connection hands over."""

    def __init__(self, feeds: Sequence[tuple[Feed, Destination]], ttl: int = 1) -> None:
        if not feeds:
            raise GatewayError("nothing to send: give --asterix and/or --dis")
        self.feeds = [(feed, *_socket(dest, ttl)) for feed, dest in feeds]
        self.summary = GatewaySummary(streams={feed.stream: StreamStats() for feed, _ in feeds})
        self.time: TimeBase | None = None
        self.ended = asyncio.Event()
        self._later: set[asyncio.TimerHandle] = set()
        self._speed = 1.0
        self._epoch_ns = clock.epoch_ns_clock()

    def bind_time(self, time_base: TimeBase) -> None:
        """Use ``time_base`` for every feed (set at the first message)."""
        self.time = time_base
        for feed, _sock, _addr in self.feeds:
            feed.time = time_base

    def tap(self, time_s: float, topic: str, _payload: bytes, msg: m.Message) -> None:
        started = clock.wall_seconds()
        parts = parse_topic(topic)
        if parts is None:
            return
        body = msg.body
        if isinstance(body, m.NodeState):
            if body.node_id == "world" and body.status == m.NodeStatus.DEATH and self.time is not None:
                self.summary.ended_by = "the world ended"
                self.ended.set()
            if body.node_id == "world" and body.speed > 0:
                self._speed = body.speed
            return
        if self.time is None:
            self.bind_time(TimeBase(max(self._epoch_ns() / 1e9 - time_s, 0.0)))
        sent = False
        for feed, sock, addr in self.feeds:
            if not feed.wanted(parts):
                continue
            sent = True
            for d in feed.feed(parts, msg, time_s):
                if d.time_s > time_s + 1e-6:
                    self._send_later(sock, addr, d, (d.time_s - time_s) / self._speed)
                else:
                    self._send(sock, addr, d)
        if sent:
            self.summary.messages += 1
            self.summary.latency_us.append((clock.wall_seconds() - started) * 1e6)

    def _send(self, sock: socket.socket, addr: tuple[str, int], d: Datagram) -> None:
        stats = self.summary.streams[d.stream]
        try:
            sock.sendto(d.payload, addr)
        except OSError as exc:
            name = type(exc).__name__
            stats.errors[name] += 1
            if stats.errors[name] <= 3:
                log.warning("%s datagram to %s:%d not sent: %s", d.stream, *addr, exc)
            return
        stats.sent += 1
        stats.bytes += len(d.payload)

    def _send_later(self, sock: socket.socket, addr: tuple[str, int], d: Datagram, delay_s: float) -> None:
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._later.discard(handle)
            self._send(sock, addr, d)

        handle = loop.call_later(delay_s, fire)
        self._later.add(handle)

    def close(self) -> None:
        for handle in self._later:
            handle.cancel()
        self._later.clear()
        for feed, sock, _addr in self.feeds:
            self.summary.records[feed.stream] = feed.records
            sock.close()


async def run_gateway(
    scenario: Scenario,
    options: RealtimeOptions,
    feeds: Sequence[tuple[Feed, Destination]],
    *,
    duration_s: float | None = None,
    stop: asyncio.Event | None = None,
    ttl: int = 1,
    on_ready: Callable[[str], None] | None = None,
) -> GatewaySummary:
    """Translate the live cell of ``scenario`` until the world ends, ``duration_s`` wall seconds
    pass or ``stop`` is set; ``on_ready`` hears one line once connected. RealtimeError when the
    broker cannot be reached."""
    topics = Topics(options.root or root_for(scenario.name))
    gateway = Gateway(feeds, ttl)
    bus = MqttBus(clock.virtual(), topics, options.broker, keyring_for(options, [MONITOR]))
    bus.credentials = dict(options.credentials or {})
    first, *rest = TOPICS
    watcher = bus.watcher(topics.topic(*first), gateway.tap, MONITOR)
    for kind, node, channel in rest:
        watcher.watch(topics.topic(kind, node, channel) if node != "+" else topics.any(kind, channel))
    try:
        await wait_connected(bus, options.connect_timeout_s)
        if on_ready is not None:
            where = ", ".join(f"{f.stream} to {d.host}:{d.port}" for f, d in feeds)
            on_ready(
                f"gateway: connected to {options.broker.host}:{options.broker.port} as {MONITOR}; {where}"
            )
        waits = [asyncio.ensure_future(gateway.ended.wait())]
        if stop is not None:
            waits.append(asyncio.ensure_future(stop.wait()))
        done, pending = await asyncio.wait(waits, timeout=duration_s, return_when=asyncio.FIRST_COMPLETED)
        for w in pending:
            w.cancel()
        if not gateway.summary.ended_by:
            gateway.summary.ended_by = "stopped" if done else f"--duration {duration_s:g} s passed"
    finally:
        gateway.close()
        refused: Counter[str] = Counter()
        for (_topic, reason), n in bus.stats.rejected.items():
            refused[reason] += n
        gateway.summary.rejected = dict(refused)
        await bus.close()
    return gateway.summary


__all__ = ["Destination", "Gateway", "GatewayError", "GatewaySummary", "RealtimeError", "run_gateway"]
