"""MQTT transport: the ``Bus`` of real-time runs. The only module that imports aiomqtt.

One MQTT connection per node, so each node has its own Last Will (a retained
death certificate) and its own birth (Sparkplug B idea). Every connection:

- sets TCP_NODELAY (Nagle plus delayed ACK otherwise adds 40-90 ms per QoS 1
  exchange) and raises the in-flight window;
- reconnects with exponential backoff, resubscribes and is born again with a
  higher birth sequence, so a late will of an earlier life is recognisable;
- keeps inbound messages in per-channel queues: QoS 0 channels (tracks,
  truth) are bounded and drop their oldest entry when full (counted), so a
  track flood can never push out a fire order;
- counts sequence gaps per (sender, topic) link.

Node code never sees any of this: it publishes and reads ``simpy.Store``
objects exactly as on the in-process bus. Incoming messages wait in the queues
until the real-time pacer delivers them at the current simulated time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
import simpy

from protocols import codec
from protocols import messages as m
from protocols.bus import Tap
from protocols.topics import CHANNELS, Topics, matches

log = logging.getLogger(__name__)

QOS0_QUEUE = 256
"""Inbound QoS 0 messages kept per channel and connection; older ones are dropped first."""

QOS1_QUEUE = 100_000
"""Bound on queued inbound QoS 1 messages per channel (reached only by a stalled pacer)."""

OUTBOX_LIMIT = 10_000

STABLE_S = 5.0
"""A connection that lasted this long resets the reconnect backoff."""
"""QoS 1 messages kept for sending while disconnected."""


class BrokerError(RuntimeError):
    """A broker URL or option that cannot be used; the message names it."""


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    """Where and how to connect."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    client_id: str = "bmc"
    """Prefix of every connection's client id: ``<client_id>-<node id>``."""
    keepalive_s: int = 5
    """MQTT keep-alive; a silent connection is declared dead after 1.5 times this."""

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise BrokerError(f"broker port must be 1-65535 (got {self.port})")
        if self.keepalive_s < 1:
            raise BrokerError(f"keep-alive must be >= 1 s (got {self.keepalive_s})")
        if (self.cert_file is None) != (self.key_file is None):
            raise BrokerError("a client certificate needs both --tls-cert and --tls-key")

    @classmethod
    def from_url(cls, url: str, **options: Any) -> BrokerConfig:
        """``mqtt://[user[:password]@]host[:port]`` or ``mqtts://...`` (TLS, default port 8883)."""
        parts = urlsplit(url)
        if parts.password:
            # Never echo a password in an error message.
            url = url.replace(f":{parts.password}@", ":***@")
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise BrokerError(f"broker URL must start with mqtt:// or mqtts:// (got {url!r})")
        if not parts.hostname:
            raise BrokerError(f"broker URL has no host (got {url!r})")
        tls = parts.scheme in ("mqtts", "ssl") or bool(options.pop("tls", False))
        try:
            port = parts.port
            if port is None:
                port = 8883 if tls else 1883
            elif port == 0:
                raise ValueError
        except ValueError:
            raise BrokerError(f"broker URL has a bad port (got {url!r})") from None
        fields: dict[str, Any] = {
            "host": parts.hostname,
            "port": port,
            "tls": tls,
            "username": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None,
        }
        fields.update({k: v for k, v in options.items() if v is not None})
        return cls(**fields)

    def tls_context(self) -> ssl.SSLContext | None:
        """The TLS context to connect with, None without TLS."""
        if not self.tls:
            return None
        try:
            ctx = ssl.create_default_context(cafile=self.ca_file)
            if self.cert_file and self.key_file:
                ctx.load_cert_chain(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise BrokerError(f"TLS setup failed: {exc}") from None
        return ctx


@dataclass(slots=True)
class MqttStats:
    """Counters of one MQTT bus (all its connections)."""

    published: int = 0
    delivered: int = 0
    dropped: int = 0
    """QoS 0 messages dropped: inbound queue full, or published while disconnected."""
    rejected: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Payloads refused, by (topic, reason)."""
    gaps: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Missing sequence numbers, by (receiving node, sending node/topic)."""
    reconnects: int = 0
    """Connections re-established after being lost (not failed attempts)."""

    @property
    def rejected_total(self) -> int:
        """All refused payloads."""
        return sum(self.rejected.values())


def birth_base() -> int:
    """Start of a process's birth sequences: milliseconds since the epoch, so
    every life of a node is numbered above all its earlier lives."""
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class _Sub:
    topic_filter: str
    store: simpy.Store


class MqttEndpoint:
    """One node's connection: publishes as the node, delivers its subscriptions."""

    def __init__(self, bus: MqttBus, node_id: str, tap_only: bool = False) -> None:
        self.node_id = node_id
        self.tap_only = tap_only
        self.bus = bus
        self.kind: str | None = None
        self.state_topic: str | None = None
        self.birth_sequence = birth_base()
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._subs: list[_Sub] = []
        self._sequence: dict[str, int] = {}
        self._expected: dict[tuple[str, str], int] = {}
        self._inbound: dict[str, deque[tuple[str, m.Message]]] = {name: deque() for name in CHANNELS}
        self._outbox: deque[tuple[str, bytes, int, bool]] = deque()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._ever_connected = False

    @property
    def started(self) -> bool:
        """True once the connection has been asked for (by ``announce`` or ``watch``)."""
        return self._task is not None

    # ------------------------------------------------------------ node-facing

    def publish(self, topic: str, body: m.Body) -> None:
        """Encode and send; never blocks the simulation."""
        seq = self._sequence[topic] = self._sequence.get(topic, 0) + 1
        header = m.Header(self.node_id, seq, float(self.bus.env.now))
        payload = codec.encode(header, body)
        channel = self.bus.topics.channel_of(topic)
        qos = channel.qos if channel else 1
        retain = channel.retained if channel else False
        self.bus.stats.published += 1
        self._send(topic, payload, qos, retain)

    def subscribe(self, topic_filter: str) -> simpy.Store:
        """A store receiving every message on ``topic_filter``, at the simulated time it arrives."""
        sub = _Sub(topic_filter, simpy.Store(self.bus.env))
        self._subs.append(sub)
        if self._client is not None:
            client = self._client
            self.bus.spawn(self._subscribe_on(client, topic_filter))
        return sub.store

    def announce(self, kind: str, state_topic: str) -> None:
        """Be born: the connection publishes a retained birth, and its will a death."""
        self.kind = kind
        self.state_topic = state_topic
        if self._task is None:
            self._task = self.bus.spawn(self._run())

    # ------------------------------------------------------------ sending

    def _send(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        client = self._client
        if client is None:
            if qos == 0:
                self.bus.stats.dropped += 1
            elif len(self._outbox) < OUTBOX_LIMIT:
                self._outbox.append((topic, payload, qos, retain))
            else:
                self.bus.stats.dropped += 1
            return
        self.bus.spawn(self._publish_on(client, topic, payload, qos, retain))

    async def _publish_on(
        self, client: aiomqtt.Client, topic: str, payload: bytes, qos: int, retain: bool
    ) -> None:
        try:
            await client.publish(topic, payload, qos=qos, retain=retain, timeout=30)
        except aiomqtt.MqttError as exc:
            if qos == 0:
                self.bus.stats.dropped += 1
            else:
                self._outbox.append((topic, payload, qos, retain))
            log.debug("%s: publish on %s failed: %s", self.node_id, topic, exc)

    async def _subscribe_on(self, client: aiomqtt.Client, topic_filter: str) -> None:
        ch = topic_filter.rsplit("/", 1)[-1]
        qos = CHANNELS[ch].qos if ch in CHANNELS else 1
        with contextlib.suppress(aiomqtt.MqttError):
            await client.subscribe(topic_filter, qos=qos)

    # ------------------------------------------------------------ receiving

    def _receive(self, topic: str, payload: bytes) -> None:
        try:
            msg = codec.decode(payload)
        except codec.DecodeError as exc:
            self.bus.reject(topic, exc.reason, exc.detail)
            return
        channel = self.bus.topics.channel_of(topic)
        if channel is None:
            self.bus.reject(topic, "unknown_topic", "not under this run's topic root")
            return
        if type(msg.body) is not channel.body:
            self.bus.reject(topic, "wrong_type", f"{type(msg.body).__name__} on a {channel.name} topic")
            return
        if self.tap_only:
            self.bus.tap_all(msg.header.sim_time_s, topic, payload, msg)
            return
        key = (msg.header.sender, topic)
        expected = self._expected.get(key)
        seq = msg.header.sequence
        if expected is not None and seq > expected:
            self.bus.stats.gaps[
                (self.node_id, f"{msg.header.sender}{topic[len(self.bus.topics.root) :]}")
            ] += seq - expected
        if expected is None or seq >= expected:
            self._expected[key] = seq + 1
        queue = self._inbound[channel.name]
        limit = QOS0_QUEUE if channel.qos == 0 else QOS1_QUEUE
        if len(queue) >= limit:
            queue.popleft()
            self.bus.stats.dropped += 1
        queue.append((topic, msg))
        self.bus.wake()

    def flush(self) -> int:
        """Deliver queued messages into the subscribers' stores; control channels first."""
        n = 0
        for name in self.bus.delivery_order:
            queue = self._inbound[name]
            while queue:
                topic, msg = queue.popleft()
                for sub in self._subs:
                    if matches(sub.topic_filter, topic):
                        sub.store.put(msg)
                        n += 1
        self.bus.stats.delivered += n
        return n

    # ------------------------------------------------------------ connection

    def watch(self, topic_filter: str) -> None:
        """Monitor connection: every message on ``topic_filter`` goes to the bus taps (no birth, no will)."""
        self._subs.append(_Sub(topic_filter, simpy.Store(self.bus.env)))
        if self._task is None:
            self._task = self.bus.spawn(self._run())

    def _state(self, status: m.NodeStatus) -> bytes:
        assert self.kind is not None
        seq = self._sequence[self.state_topic or ""] = self._sequence.get(self.state_topic or "", 0) + 1
        header = m.Header(self.node_id, seq, float(self.bus.env.now))
        return codec.encode(header, m.NodeState(self.node_id, self.kind, status, self.birth_sequence))

    async def _run(self) -> None:
        cfg = self.bus.broker
        backoff = 0.05
        connected_at: float | None = None
        while not self._stopping:
            self.birth_sequence += 1
            will = None
            if self.state_topic is not None:
                will = aiomqtt.Will(self.state_topic, self._state(m.NodeStatus.DEATH), qos=1, retain=True)
            client = aiomqtt.Client(
                cfg.host,
                cfg.port,
                username=cfg.username,
                password=cfg.password,
                identifier=f"{cfg.client_id}-{self.node_id}",
                protocol=aiomqtt.ProtocolVersion.V5,
                will=will,
                keepalive=cfg.keepalive_s,
                tls_context=cfg.tls_context(),
                max_inflight_messages=1000,
                socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
                timeout=10,
            )
            client.pending_calls_threshold = 10_000
            try:
                async with client:
                    connected_at = time.monotonic()
                    if self._ever_connected:
                        self.bus.stats.reconnects += 1
                        log.warning("%s: reconnected to the broker", self.node_id)
                    self._ever_connected = True
                    for sub in self._subs:
                        await self._subscribe_on(client, sub.topic_filter)
                    if self.state_topic is not None:
                        await client.publish(
                            self.state_topic, self._state(m.NodeStatus.BIRTH), qos=1, retain=True
                        )
                    self._client = client
                    self.connected.set()
                    while self._outbox:
                        self._send(*self._outbox.popleft())
                    async for message in client.messages:
                        payload = message.payload
                        if isinstance(payload, (bytes, bytearray)):
                            self._receive(str(message.topic), bytes(payload))
                        else:
                            self.bus.reject(str(message.topic), "malformed", "payload is not bytes")
            except aiomqtt.MqttError as exc:
                if not self._stopping:
                    # Once per outage at warning level; the retries themselves at debug.
                    level = logging.WARNING if backoff == 0.05 else logging.DEBUG
                    log.log(
                        level, "%s: broker unreachable (%s); retrying in %.2f s", self.node_id, exc, backoff
                    )
            finally:
                self._client = None
                self.connected.clear()
            if self._stopping:
                break
            if connected_at is not None and time.monotonic() - connected_at > STABLE_S:
                backoff = 0.05
            elif connected_at is not None:
                # Connected and dropped at once, again and again: most often another client
                # with the same id taking the session over. Back off instead of flapping.
                log.warning(
                    "%s: connection as %r dropped right after connecting; another client with this id?",
                    self.node_id,
                    f"{cfg.client_id}-{self.node_id}",
                )
            connected_at = None
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    async def close(self, graceful: bool = True) -> None:
        """Leave: a graceful close publishes the death certificate itself."""
        self._stopping = True
        client = self._client
        if client is not None and graceful and self.state_topic is not None:
            with contextlib.suppress(aiomqtt.MqttError, asyncio.TimeoutError):
                await client.publish(
                    self.state_topic, self._state(m.NodeStatus.DEATH), qos=1, retain=True, timeout=2
                )
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await self._task


class MqttBus:
    """The bus of real-time runs: endpoints connect to a real broker."""

    delivery_order = (
        "order",
        "command",
        "heartbeat",
        "engagement",
        "status",
        "state",
        "flyout",
        "detonation",
        "truth",
        "tracks",
    )
    """Control before data when several messages wait: fire orders first, tracks last."""

    def __init__(self, env: simpy.Environment, topics: Topics, broker: BrokerConfig) -> None:
        self.env = env
        self.topics = topics
        self.broker = broker
        self.stats = MqttStats()
        self.endpoints: list[MqttEndpoint] = []
        self._taps: list[Tap] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._wake: Callable[[], None] = lambda: None

    def endpoint(self, node_id: str) -> MqttEndpoint:
        """A node's own connection (started by ``announce``); the same one again for the same id."""
        for ep in self.endpoints:
            if ep.node_id == node_id and not ep.tap_only:
                return ep
        ep = MqttEndpoint(self, node_id)
        self.endpoints.append(ep)
        return ep

    def add_tap(self, tap: Tap) -> None:
        """Observe every message under the topic root, through a monitor connection."""
        if not self._taps:
            # Unique per process: two monitors sharing a client id would keep evicting each other.
            self.endpoint_monitor = MqttEndpoint(self, f"monitor-{os.getpid()}", tap_only=True)
            self.endpoints.append(self.endpoint_monitor)
            self.endpoint_monitor.watch(f"{self.topics.root}/#")
        self._taps.append(tap)

    def set_waker(self, wake: Callable[[], None]) -> None:
        """Called whenever a message arrives, so the pacer can deliver it."""
        self._wake = wake

    def wake(self) -> None:
        """Tell the pacer there is something to deliver."""
        self._wake()

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        """Run ``coro`` in the background, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def reject(self, topic: str, reason: str, detail: str) -> None:
        """Count (and log the first few of) a refused payload."""
        key = (topic, reason)
        self.stats.rejected[key] += 1
        if self.stats.rejected[key] <= 3:
            log.warning("dropped payload on %s: %s (%s)", topic, reason, detail)

    def flush(self) -> int:
        """Deliver everything queued on every endpoint; returns the count."""
        return sum(ep.flush() for ep in self.endpoints)

    def pending(self) -> bool:
        """True when some endpoint holds undelivered messages."""
        return any(any(q for q in ep._inbound.values()) for ep in self.endpoints)

    def tap_all(self, time_s: float, topic: str, payload: bytes, msg: m.Message) -> None:
        """Feed the taps (used by the monitor)."""
        for tap in self._taps:
            tap(time_s, topic, payload, msg)

    async def close(self, graceful: bool = True) -> None:
        """Close every connection."""
        await asyncio.gather(*(ep.close(graceful) for ep in self.endpoints), return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()


class RawPublisher:
    """One connection that publishes raw payloads as they are (a replay of a recording):
    no header stamping, no birth, no will. TCP_NODELAY and a wide in-flight window, as
    the nodes' connections. Use as ``async with RawPublisher(cfg) as pub: pub.send(...)``.

    ``send`` never waits: publications leave in call order (one task each, started in
    order); a lost connection surfaces as :class:`BrokerError` from the next ``send``
    or from ``drain``.
    """

    def __init__(
        self, broker: BrokerConfig, client_id: str | None = None, connect_timeout_s: float = 10.0
    ) -> None:
        self.broker = broker
        self.client_id = client_id or f"{broker.client_id}-replay-{os.getpid()}"
        self.connect_timeout_s = connect_timeout_s
        self.sent = 0
        self.failed = 0
        self.handed_s: list[float] = []
        """``time.perf_counter()`` when each ``send`` reached the client, in call order (the clock of
        ``bmc.engine.clock.wall_seconds``): what a replay measures its pacing with."""
        self._error: str | None = None
        self._client: aiomqtt.Client | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> RawPublisher:
        cfg = self.broker
        client = aiomqtt.Client(
            cfg.host,
            cfg.port,
            username=cfg.username,
            password=cfg.password,
            identifier=self.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            keepalive=cfg.keepalive_s,
            tls_context=cfg.tls_context(),
            max_inflight_messages=1000,
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            timeout=self.connect_timeout_s,
        )
        client.pending_calls_threshold = 10_000
        try:
            await client.__aenter__()
        except aiomqtt.MqttError as exc:
            raise BrokerError(f"cannot reach the broker at {cfg.host}:{cfg.port}: {exc}") from None
        self._client = client
        return self

    def send(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        """Publish ``payload`` on ``topic`` without waiting for the broker."""
        if self._error is not None:
            raise BrokerError(self._error)
        client = self._client
        if client is None:
            raise BrokerError("publisher is not connected")
        task = asyncio.get_running_loop().create_task(self._publish(client, topic, payload, qos, retain))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(
        self, client: aiomqtt.Client, topic: str, payload: bytes, qos: int, retain: bool
    ) -> None:
        # The client writes the packet synchronously inside publish(), right after this stamp.
        self.handed_s.append(time.perf_counter())
        try:
            await client.publish(topic, payload, qos=qos, retain=retain, timeout=30)
            self.sent += 1
        except aiomqtt.MqttError as exc:
            self.failed += 1
            if self._error is None:
                cfg = self.broker
                self._error = f"publishing to {cfg.host}:{cfg.port} failed: {exc}"

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Wait until every publication so far is acknowledged (QoS 1) or written (QoS 0)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_s)
        if self._error is not None:
            raise BrokerError(self._error)
        if self._tasks:
            raise BrokerError(f"{len(self._tasks)} publication(s) unconfirmed after {timeout_s:g} s")

    async def __aexit__(self, *exc: object) -> None:
        client, self._client = self._client, None
        for task in list(self._tasks):
            task.cancel()
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError, asyncio.TimeoutError):
                await client.__aexit__(None, None, None)
