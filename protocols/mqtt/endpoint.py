"""One node's connection to the broker: publishes as the node, delivers its subscriptions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiomqtt

from protocols import auth, codec
from protocols import messages as m
from protocols.bus import Inbox, Tap
from protocols.mqtt.link import PahoLink, Publication
from protocols.topics import CHANNELS, matches, parse_topic

if TYPE_CHECKING:
    from protocols.mqtt.bus import MqttBus

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

Delivered = Callable[[float, str, bytes, int], None]
"""Observer of one delivery to a node: (simulated time, topic, payload, messages the node had
published until then)."""


def birth_base() -> int:
    """Start of a process's birth sequences: milliseconds since the epoch, so
    every life of a node is numbered above all its earlier lives."""
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class _Sub:
    topic_filter: str
    inbox: Inbox


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
        self._link: PahoLink | None = None
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
            client = as_me.client(f"{cfg.client_id}-{self.node_id}", will=will)
            link: PahoLink | None = None
            try:
                async with client:
                    # Before subscribing: every message goes to _on_message, none to aiomqtt's queue.
                    try:
                        link = PahoLink(client, self._on_message)
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
