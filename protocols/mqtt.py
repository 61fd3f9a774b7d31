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
- counts sequence gaps per (sender, topic) link;
- publishes without awaiting and receives without a task per message, through
  the paho client under aiomqtt (see ``_PahoLink``, the one place that reaches
  below aiomqtt's public API).

Node code never sees any of this: it publishes and reads the same ``Inbox``
mailboxes as on the in-process bus. Incoming messages wait in the queues
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
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
import paho.mqtt.client as paho
import simpy

from protocols import auth, codec
from protocols import messages as m
from protocols.bus import Inbox, Tap
from protocols.errors import UsageError
from protocols.topics import CHANNELS, Topics, matches, parse_topic

log = logging.getLogger(__name__)

QOS0_QUEUE = 256
"""Inbound QoS 0 messages kept per channel and connection; older ones are dropped first."""

QOS1_QUEUE = 100_000
"""Bound on queued inbound QoS 1 messages per channel (reached only by a stalled pacer)."""

OUTBOX_LIMIT = 10_000
"""QoS 1 messages kept for sending while disconnected."""

STABLE_S = 5.0
"""A connection that lasted this long resets the reconnect backoff."""

TOPIC_CACHE = 4096
"""Topics whose subscribers an endpoint remembers (the cache restarts when full)."""


@dataclass(frozen=True, slots=True)
class Login:
    """How one identity logs in to the broker (``bmc broker-config --acl``)."""

    user: str
    password: str
    certificate: tuple[str, str] | None = None
    """(certificate file, key file) of a TLS client certificate, or None."""

    def applied(self, cfg: BrokerConfig) -> BrokerConfig:
        """``cfg`` logging in as this identity (its certificate only over TLS)."""
        cfg = replace(cfg, username=self.user, password=self.password)
        if self.certificate is not None and cfg.tls:
            cfg = replace(cfg, cert_file=self.certificate[0], key_file=self.certificate[1])
        return cfg


class BrokerError(UsageError, RuntimeError):
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
    """Messages dropped: QoS 0 ones when an inbound queue is full, when published while
    disconnected or not yet written when the connection was lost; QoS 1 ones beyond the
    outbox limit."""
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
    inbox: Inbox


Delivered = Callable[[float, str, bytes, int], None]
"""Observer of one delivery to a node: (simulated time, topic, payload, messages the node had
published until then)."""

Publication = tuple[str, bytes, int, bool]
"""(topic, payload, QoS, retain) of one outgoing message."""


class _PahoLink:
    """The paho client under one connected ``aiomqtt.Client``, for the hot paths.

    aiomqtt 2.x awaits every publish (an Event, a ``wait_for`` task, and a count of
    every pending call, O(n), per message), registers its socket writer through
    ``call_soon_threadsafe`` (so a packet leaves two loop turns after the call), and
    passes every received message through an ``asyncio.Queue`` read by a new task per
    message. On the real-time path that glue costs more than the broker hop, so once
    connected this class takes over, on the paho client aiomqtt wraps
    (``aiomqtt.Client._client``, a private attribute), four paho callbacks:

    - ``on_socket_register_write``/``on_socket_unregister_write``: the socket writer is
      added and removed on the event loop at once, and not at all for a packet written
      on the spot. aiomqtt goes through ``call_soon_threadsafe`` only because paho
      connects in an executor thread; after the connection every paho call is made on
      the loop's thread;
    - ``on_message``: calls ``on_message(topic, payload)`` on the event loop, installed
      before subscribing, instead of aiomqtt's queue;
    - ``on_publish``: none. aiomqtt's ``publish`` would wait for it forever, so a linked
      connection publishes through the link only; ``publish_acknowledged`` waits for a
      QoS 1 acknowledgement by itself.

    ``publish`` queues the packet in paho and writes it at once (paho's public
    ``loop_write``); what the socket does not take, the writer finishes. What is not yet
    written (QoS 0) or acknowledged (QoS 1) is kept, so that a lost connection can count
    it or send it again. Connecting, subscribing, wills and noticing a disconnection
    (paho's ``on_disconnect``) stay with aiomqtt.
    ``tests/transport/test_mqtt_link.py`` checks all this against the installed aiomqtt;
    this constructor refuses a client without it.
    """

    def __init__(self, client: aiomqtt.Client, on_message: Callable[[str, object], None]) -> None:
        inner = getattr(client, "_client", None)
        if not isinstance(inner, paho.Client) or inner.socket() is None:
            raise RuntimeError(
                f"aiomqtt {aiomqtt.__version__} has no connected paho client in Client._client "
                f"(found {type(inner).__name__}): update protocols/mqtt.py:_PahoLink"
            )
        self._paho = inner
        self._loop = asyncio.get_running_loop()
        self._unsettled: deque[tuple[paho.MQTTMessageInfo, str, bytes, int, bool]] = deque()
        self._in_callback = False
        self._writing = False
        """True while ``publish`` queues and writes a packet itself: no writer needed for it."""
        self._writer = False
        """True while this link has a writer on the event loop."""

        def handle(_client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
            try:
                topic = message.topic
            except UnicodeDecodeError:
                topic, payload = "<topic not UTF-8>", None
            else:
                payload = message.payload
            self._in_callback = True
            try:
                on_message(topic, payload)
            finally:
                self._in_callback = False

        inner.on_message = handle
        # For every QoS 0 packet it writes, paho builds a PUBACK reason code and property set
        # (~15 us) only to call on_publish, which serves aiomqtt's awaited publish alone: a
        # linked connection publishes through the link only (births and deaths included).
        inner.on_publish = None
        inner.on_socket_register_write = self._register_write
        inner.on_socket_unregister_write = self._unregister_write
        # aiomqtt may still have a writer of its own queued (call_soon_threadsafe): once it
        # has run, start from a known state.
        self._loop.call_soon(self._adopt_writer)

    def _adopt_writer(self) -> None:
        sock = self._paho.socket()
        if sock is None:
            return
        self._loop.remove_writer(sock.fileno())
        self._writer = False
        if self._paho.want_write():
            self._add_writer(sock)

    def _add_writer(self, sock: Any) -> None:
        self._writer = True
        self._loop.add_writer(sock.fileno(), self._writable)

    def _register_write(self, _client: paho.Client, _userdata: Any, sock: Any) -> None:
        if not self._writing:
            self._add_writer(sock)

    def _unregister_write(self, _client: paho.Client, _userdata: Any, sock: Any) -> None:
        if self._writer:
            self._writer = False
            self._loop.remove_writer(sock.fileno())

    def _writable(self) -> None:
        # Socket errors are handled inside paho (a disconnection that aiomqtt then reports);
        # an exception here can only come from a callback.
        try:
            self._paho.loop_write()
        except Exception:
            log.exception("writing to the broker failed")

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> bool:
        """Send one message now (as far as the socket takes it); False when paho refuses it."""
        return self._publish(topic, payload, qos, retain, track=True) is not None

    async def publish_acknowledged(self, topic: str, payload: bytes, retain: bool, timeout_s: float) -> None:
        """Publish at QoS 1 and wait for the broker's acknowledgement (births and deaths: not
        kept for sending again, a later life's would follow). MqttError when that fails."""
        info = self._publish(topic, payload, 1, retain, track=False)
        deadline = time.monotonic() + timeout_s
        while info is None or not info.is_published():
            if info is None or self._paho.socket() is None:
                raise aiomqtt.MqttError(f"publishing on {topic} failed: not connected")
            if time.monotonic() > deadline:
                raise aiomqtt.MqttError(f"publishing on {topic}: no acknowledgement within {timeout_s:g} s")
            await asyncio.sleep(0.001)

    def _publish(
        self, topic: str, payload: bytes, qos: int, retain: bool, track: bool
    ) -> paho.MQTTMessageInfo | None:
        client = self._paho
        if self._in_callback:
            # Inside paho's reader: leave the writing to the writer.
            info = client.publish(topic, payload, qos, retain)
        else:
            self._writing = True
            try:
                info = client.publish(topic, payload, qos, retain)
                if info.rc == paho.MQTT_ERR_SUCCESS:
                    self._writable()
            finally:
                self._writing = False
            if not self._writer and client.want_write():
                sock = client.socket()
                if sock is not None:
                    self._add_writer(sock)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            return None
        if track:
            unsettled = self._unsettled
            while unsettled and unsettled[0][0].is_published():
                unsettled.popleft()
            unsettled.append((info, topic, payload, qos, retain))
        return info

    def unsettled(self) -> tuple[int, list[Publication]]:
        """QoS 0 messages never written, and QoS 1 messages never acknowledged, in order."""
        lost = 0
        resend: list[Publication] = []
        for info, topic, payload, qos, retain in self._unsettled:
            written = info.is_published() and info.rc == paho.MQTT_ERR_SUCCESS
            if written:
                continue
            if qos == 0:
                lost += 1
            else:
                resend.append((topic, payload, qos, retain))
        self._unsettled.clear()
        return lost, resend


class MqttEndpoint:
    """One node's connection: publishes as the node, delivers its subscriptions."""

    def __init__(
        self, bus: MqttBus, node_id: str, tap: Tap | None = None, receiver: str | None = None
    ) -> None:
        self.node_id = node_id
        self.receiver = receiver or node_id
        """The identity this connection checks seals as (a watcher's: the node or monitor it serves)."""
        self.tap = tap
        """Given, the endpoint only watches: every message goes to it, none to a node
        (:meth:`MqttBus.add_tap`, :meth:`MqttBus.watcher`)."""
        self.bus = bus
        self.kind: str | None = None
        self.state_topic: str | None = None
        self.birth_sequence = birth_base()
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._link: _PahoLink | None = None
        self._subs: list[_Sub] = []
        self._routes: dict[str, list[Inbox]] = {}
        self._sequence: dict[str, int] = {}
        self._expected: dict[tuple[str, str], int] = {}
        self._inbound: dict[str, deque[tuple[str, m.Message, bytes]]] = {name: deque() for name in CHANNELS}
        self.published = 0
        """Messages the node published through :meth:`publish` (births and wills not counted)."""
        self.on_deliver: Delivered | None = None
        """Called for every message :meth:`flush` hands to this node's subscribers, before it
        is handed over: what a recording needs to replay the node's inputs exactly."""
        self._queued = 0
        self._outbox: deque[Publication] = deque()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._ever_connected = False

    @property
    def tap_only(self) -> bool:
        """True for a watching endpoint (no node behind it)."""
        return self.tap is not None

    @property
    def started(self) -> bool:
        """True once the connection has been asked for (by ``announce`` or ``watch``)."""
        return self._task is not None

    # ------------------------------------------------------------ node-facing

    def publish(self, topic: str, body: m.Body) -> None:
        """Encode and send; never blocks the simulation."""
        seq = self._sequence[topic] = self._sequence.get(topic, 0) + 1
        header = m.Header(self.node_id, seq, float(self.bus.env.now))
        payload = self.bus.sealed(topic, self.node_id, codec.encode(header, body))
        channel = self.bus.topics.channel_of(topic)
        qos = channel.qos if channel else 1
        retain = channel.retained if channel else False
        self.bus.stats.published += 1
        self.published += 1
        self._send(topic, payload, qos, retain)

    def subscribe(self, topic_filter: str) -> Inbox:
        """An inbox receiving every message on ``topic_filter``, at the simulated time it arrives."""
        sub = _Sub(topic_filter, Inbox(self.bus.env))
        self._subs.append(sub)
        self._routes.clear()
        if self._client is not None:
            client = self._client
            self.bus.spawn(self._subscribe_on(client, topic_filter))
        return sub.inbox

    def announce(self, kind: str, state_topic: str) -> None:
        """Be born: the connection publishes a retained birth, and its will a death."""
        self.kind = kind
        self.state_topic = state_topic
        if self._task is None:
            self._task = self.bus.spawn(self._run())

    # ------------------------------------------------------------ sending

    def _send(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        # Handed to the client at once, in call order: no task, no await per message.
        link = self._link
        if link is not None:
            if link.publish(topic, payload, qos, retain):
                return
            log.debug("%s: publish on %s refused: not connected", self.node_id, topic)
        if qos > 0 and len(self._outbox) < OUTBOX_LIMIT:
            self._outbox.append((topic, payload, qos, retain))
        else:
            self.bus.stats.dropped += 1

    def _send_outbox(self) -> None:
        held = list(self._outbox)
        self._outbox.clear()
        for publication in held:
            self._send(*publication)

    async def _subscribe_on(self, client: aiomqtt.Client, topic_filter: str) -> None:
        parts = parse_topic(topic_filter)
        qos = parts.channel.qos if parts is not None else 1
        with contextlib.suppress(aiomqtt.MqttError):
            await client.subscribe(topic_filter, qos=qos)

    # ------------------------------------------------------------ receiving

    def _on_message(self, topic: str, payload: object) -> None:
        # Called by paho inside aiomqtt's socket callback: an exception here would be taken
        # for a broken connection, so whatever goes wrong is counted and logged instead.
        try:
            if isinstance(payload, (bytes, bytearray)):
                self._receive(topic, bytes(payload))
            else:
                self.bus.reject(topic, "malformed", "payload is not bytes")
        except Exception:
            log.exception("%s: failed to handle a message on %s", self.node_id, topic)
            self.bus.reject(topic, "error", "handling failed")

    def _receive(self, topic: str, payload: bytes) -> None:
        keyring = self.bus.keyring
        content, seal = auth.split(payload) if keyring is not None else (payload, None)
        try:
            msg = codec.decode(content)
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
        if keyring is not None:
            sender = msg.header.sender
            opened = keyring.open(self.bus.topics.root, topic, sender, content, seal)
            reason = (
                opened
                if isinstance(opened, str)
                else keyring.accept(opened, self.receiver, msg.header.sequence)
            )
            if reason is not None:
                self.bus.reject(topic, reason, f"from {sender!r} to {self.receiver!r}")
                return
            payload = content
        if self.tap is not None:
            self.tap(msg.header.sim_time_s, topic, payload, msg)
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
        else:
            self._queued += 1
        queue.append((topic, msg, payload))
        self.bus.wake()

    def _inboxes(self, topic: str) -> list[Inbox]:
        inboxes = self._routes.get(topic)
        if inboxes is None:
            if len(self._routes) >= TOPIC_CACHE:
                self._routes.clear()
            inboxes = [sub.inbox for sub in self._subs if matches(sub.topic_filter, topic)]
            self._routes[topic] = inboxes
        return inboxes

    @property
    def queued(self) -> int:
        """Messages received and not yet delivered."""
        return self._queued

    def flush(self) -> int:
        """Deliver queued messages into the subscribers' inboxes; control channels first."""
        if not self._queued:
            return 0
        n = 0
        deliver = self.on_deliver
        for name in self.bus.delivery_order:
            queue = self._inbound[name]
            while queue:
                topic, msg, payload = queue.popleft()
                if deliver is not None:
                    deliver(float(self.bus.env.now), topic, payload, self.published)
                for inbox in self._inboxes(topic):
                    inbox.put(msg)
                    n += 1
        self._queued = 0
        self.bus.stats.delivered += n
        return n

    # ------------------------------------------------------------ connection

    def watch(self, topic_filter: str) -> None:
        """Monitor connection: every message on ``topic_filter`` goes to the bus taps (no birth, no will)."""
        self._subs.append(_Sub(topic_filter, Inbox(self.bus.env)))
        self._routes.clear()
        if self._task is None:
            self._task = self.bus.spawn(self._run())

    def _state(self, status: m.NodeStatus) -> bytes:
        assert self.kind is not None
        seq = self._sequence[self.state_topic or ""] = self._sequence.get(self.state_topic or "", 0) + 1
        header = m.Header(self.node_id, seq, float(self.bus.env.now))
        state = m.NodeState(self.node_id, self.kind, status, self.birth_sequence, self.bus.speed)
        return self.bus.sealed(self.state_topic or "", self.node_id, codec.encode(header, state))

    async def _run(self) -> None:
        cfg = self.bus.broker
        backoff = 0.05
        connected_at: float | None = None
        while not self._stopping:
            self.birth_sequence += 1
            will = None
            if self.state_topic is not None:
                will = aiomqtt.Will(self.state_topic, self._state(m.NodeStatus.DEATH), qos=1, retain=True)
            login = self.bus.credentials.get(self.receiver)
            as_me = login.applied(cfg) if login is not None else cfg
            client = aiomqtt.Client(
                cfg.host,
                cfg.port,
                username=as_me.username,
                password=as_me.password,
                identifier=f"{cfg.client_id}-{self.node_id}",
                protocol=aiomqtt.ProtocolVersion.V5,
                will=will,
                keepalive=cfg.keepalive_s,
                tls_context=as_me.tls_context(),
                max_inflight_messages=1000,
                socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
                timeout=10,
            )
            client.pending_calls_threshold = 10_000
            link: _PahoLink | None = None
            try:
                async with client:
                    # Before subscribing: every message goes to _on_message, none to aiomqtt's queue.
                    try:
                        link = _PahoLink(client, self._on_message)
                    except RuntimeError as exc:
                        log.critical("%s: %s", self.node_id, exc)
                        raise
                    connected_at = time.monotonic()
                    if self._ever_connected:
                        self.bus.stats.reconnects += 1
                        log.warning("%s: reconnected to the broker", self.node_id)
                    self._ever_connected = True
                    for sub in self._subs:
                        await self._subscribe_on(client, sub.topic_filter)
                    if self.state_topic is not None:
                        birth = self._state(m.NodeStatus.BIRTH)
                        await link.publish_acknowledged(self.state_topic, birth, retain=True, timeout_s=10)
                    self._client = client
                    self._link = link
                    self.connected.set()
                    self._send_outbox()
                    # Messages arrive through _on_message; this waits for the connection to end
                    # (aiomqtt raises MqttError then) and passes on anything aiomqtt still queued.
                    async for message in client.messages:
                        self._on_message(str(message.topic), message.payload)
            except aiomqtt.MqttError as exc:
                if not self._stopping:
                    # Once per outage at warning level; the retries themselves at debug.
                    level = logging.WARNING if backoff == 0.05 else logging.DEBUG
                    log.log(
                        level, "%s: broker unreachable (%s); retrying in %.2f s", self.node_id, exc, backoff
                    )
            finally:
                self._client = None
                self._link = None
                self.connected.clear()
                if link is not None:
                    # Sent again on the next connection, ahead of what was held meanwhile.
                    lost, resend = link.unsettled()
                    self.bus.stats.dropped += lost
                    self._outbox.extendleft(reversed(resend))
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
        link = self._link
        if link is not None and graceful and self.state_topic is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                death = self._state(m.NodeStatus.DEATH)
                await link.publish_acknowledged(self.state_topic, death, retain=True, timeout_s=2)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await self._task


class MqttBus:
    """The bus of real-time runs: endpoints connect to a real broker."""

    delivery_order = tuple(c.name for c in sorted(CHANNELS.values(), key=lambda c: c.priority))
    """Control before data when several messages wait: fire orders first, tracks last."""

    def __init__(
        self,
        env: simpy.Environment,
        topics: Topics,
        broker: BrokerConfig,
        keyring: auth.Keyring | None = None,
    ) -> None:
        self.env = env
        self.topics = topics
        self.broker = broker
        self.keyring = keyring
        """Given, every publication is sealed and every message received checked (``protocols.auth``)."""
        self.credentials: dict[str, Login] = {}
        """Identity -> its login: each connection logs in as the identity it serves
        (``bmc broker-config --acl``); the broker config's own user otherwise."""
        self.stats = MqttStats()
        self.endpoints: list[MqttEndpoint] = []
        self._taps: list[Tap] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._wake: Callable[[], None] = lambda: None
        self._watchers = 0
        self.speed = 0.0
        """Pacing speed this process announces in its nodes' births (0: follows the cell)."""

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
            self.endpoint_monitor = self._watching(
                f"monitor-{os.getpid()}", f"{self.topics.root}/#", self.tap_all, auth.MONITOR
            )
        self._taps.append(tap)

    def watcher(self, topic_filter: str, tap: Tap, receiver: str) -> MqttEndpoint:
        """A connection of its own that hands every message on ``topic_filter`` to ``tap`` alone
        (not to the bus's taps), checked as addressed to ``receiver``; close it when done with
        ``await bus.drop(endpoint)``."""
        self._watchers += 1
        return self._watching(f"watch-{os.getpid()}-{self._watchers}", topic_filter, tap, receiver)

    def _watching(self, node_id: str, topic_filter: str, tap: Tap, receiver: str) -> MqttEndpoint:
        ep = MqttEndpoint(self, node_id, tap=tap, receiver=receiver)
        self.endpoints.append(ep)
        ep.watch(topic_filter)
        return ep

    async def drop(self, endpoint: MqttEndpoint) -> None:
        """Close ``endpoint`` and forget it."""
        if endpoint in self.endpoints:
            self.endpoints.remove(endpoint)
        await endpoint.close()

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

    def sealed(self, topic: str, sender: str, content: bytes) -> bytes:
        """``content`` sealed by ``sender`` for the topic's receivers (unchanged without a keyring)."""
        if self.keyring is None:
            return content
        return self.keyring.seal(self.topics.root, topic, sender, content)

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
        return any(ep.queued for ep in self.endpoints)

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
