"""The ``Bus`` seam between simulation and transport, and the in-process bus.

Node code sees only :class:`Endpoint`: ``publish(topic, body)`` and
``subscribe(topic_filter)``, which returns a :class:`Mailbox` to ``get()`` from. The in-process bus used by
virtual runs serialises every message to protobuf bytes and parses them again,
so the wire format is always exercised, and applies each link's latency,
jitter and loss from its own seeded stream.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import numpy as np
import simpy

from protocols import auth, codec
from protocols import messages as m
from protocols.topics import Topics, matches

log = logging.getLogger(__name__)

Tap = Callable[[float, str, bytes, m.Message], None]
"""Observer of every accepted publication: (sim time, topic, payload, decoded message)."""


class Mailbox(Protocol):
    """Where a subscription's messages wait for the node (a ``simpy.Store`` is one)."""

    def get(self) -> simpy.Event:
        """An event that fires with the next message."""


class _Handoff:
    """A triggered event that hands one message to a handler when SimPy processes it.

    What ``simpy.Event(env)``, a callback and ``succeed()`` amount to, in one small
    object: ``Environment.step`` reads only ``callbacks`` and ``_ok`` of an event it
    pops. Deliveries are most of a run's events; this cuts their cost by a third.
    """

    __slots__ = ("_handler", "_msg", "callbacks")
    _ok = True

    def __init__(self, handler: Callable[[m.Message], None], msg: m.Message) -> None:
        self._handler = handler
        self._msg = msg
        self.callbacks: list[Callable[[Any], None]] | None = [self._hand]

    def _hand(self, _event: object) -> None:
        self._handler(self._msg)


class Inbox:
    """A first-in first-out mailbox for one reader, lighter than ``simpy.Store``.

    ``put`` hands a message straight to a waiting ``get`` event (or queues it):
    one scheduled event per delivery where a Store schedules a put and a get
    event, which showed as a fifth of a saturation run's time. Delivery order
    and the time a reader wakes are those of a Store.
    """

    __slots__ = ("_env", "_handler", "_queue", "_waiter")

    def __init__(self, env: simpy.Environment) -> None:
        self._env = env
        self._queue: deque[m.Message] = deque()
        self._waiter: simpy.Event | None = None
        self._handler: Callable[[m.Message], None] | None = None

    def attach(self, handler: Callable[[m.Message], None]) -> None:
        """Have every message handed to ``handler`` from an event of its own, in order,
        instead of waiting for ``get()``: no reader process to resume per message."""
        if self._queue or self._waiter is not None:
            raise RuntimeError("attach an Inbox's handler before anything is delivered or awaited")
        self._handler = handler

    @property
    def items(self) -> list[m.Message]:
        """Messages delivered and not yet taken, oldest first."""
        return list(self._queue)

    def put(self, msg: m.Message) -> None:
        """Deliver ``msg`` now."""
        handler = self._handler
        if handler is not None:
            # Scheduled now, as succeed() schedules an event: same time, priority and order.
            self._env.schedule(cast(simpy.Event, _Handoff(handler, msg)))
            return
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            waiter.succeed(msg)
        else:
            self._queue.append(msg)

    def get(self) -> simpy.Event:
        """An event that fires with the next message (at once when one is queued)."""
        if self._handler is not None:
            raise RuntimeError("this Inbox hands its messages to a handler")
        event = simpy.Event(self._env)
        if self._queue:
            event.succeed(self._queue.popleft())
        elif self._waiter is not None:
            raise RuntimeError("an Inbox serves one reader: a get() is already waiting")
        else:
            self._waiter = event
        return event


class Endpoint(Protocol):
    """A node's handle on the bus."""

    node_id: str

    def publish(self, topic: str, body: m.Body) -> None:
        """Publish ``body`` on ``topic``, stamped with this node's header."""

    def subscribe(self, topic_filter: str) -> Mailbox:
        """A mailbox that receives every :class:`~protocols.messages.Message` matching the filter."""

    def announce(self, kind: str, state_topic: str) -> None:
        """Declare the node alive: a retained birth certificate on ``state_topic``."""


class Bus(Protocol):
    """Something nodes can be attached to."""

    def endpoint(self, node_id: str) -> Endpoint:
        """A new endpoint publishing as ``node_id``."""


@dataclass(frozen=True, slots=True)
class LinkModel:
    """Latency, jitter and loss of deliveries on one channel."""

    latency_s: float = 0.0
    jitter_s: float = 0.0
    loss: float = 0.0

    def __post_init__(self) -> None:
        if self.latency_s < 0 or self.jitter_s < 0:
            raise ValueError(f"latency and jitter must be >= 0 (got {self.latency_s}, {self.jitter_s})")
        if not 0 <= self.loss < 1:
            raise ValueError(f"loss must be in [0, 1) (got {self.loss})")

    @property
    def perfect(self) -> bool:
        """True when deliveries are immediate and certain."""
        return self.latency_s == 0 and self.jitter_s == 0 and self.loss == 0


@dataclass(slots=True)
class BusStats:
    """Counters of one bus."""

    published: int = 0
    delivered: int = 0
    dropped: int = 0
    """Deliveries lost by a link model."""
    rejected: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Payloads refused, by (topic, reason)."""

    @property
    def rejected_total(self) -> int:
        """All refused payloads."""
        return sum(self.rejected.values())


@dataclass(slots=True)
class _Subscription:
    subscriber: str
    topic_filter: str
    store: Inbox
    links: dict[str, tuple[LinkModel, np.random.Generator | None]] = field(default_factory=dict)
    last_delivery_s: float = 0.0


class InProcessBus:
    """Bus of a virtual run: every message crosses protobuf bytes, links are simulated."""

    def __init__(
        self,
        env: simpy.Environment,
        topics: Topics,
        link_for: Callable[[str], LinkModel] = lambda _channel: LinkModel(),
        rng_for: Callable[[str], np.random.Generator] | None = None,
        keyring: auth.Keyring | None = None,
    ) -> None:
        self.env = env
        self.keyring = keyring
        """Given, every publication is sealed and every receiver checks it (``protocols.auth``);
        None: nothing is sealed or checked (a replay feeding recorded content to a fresh FDC)."""
        self.topics = topics
        self.stats = BusStats()
        self._link_for = link_for
        self._rng_for = rng_for
        self._subs: list[_Subscription] = []
        self._route: dict[str, list[_Subscription]] = {}
        self._taps: list[Tap] = []

    def endpoint(self, node_id: str) -> _InProcessEndpoint:
        """A new endpoint publishing as ``node_id``."""
        return _InProcessEndpoint(self, node_id)

    def add_tap(self, tap: Tap) -> None:
        """Call ``tap`` for every accepted publication, in order."""
        self._taps.append(tap)

    def subscribe(self, subscriber: str, topic_filter: str) -> Inbox:
        """Subscribe on behalf of ``subscriber`` (names its links' random streams)."""
        sub = _Subscription(subscriber, topic_filter, Inbox(self.env))
        self._subs.append(sub)
        self._route.clear()
        return sub.store

    def inject(self, topic: str, payload: bytes) -> bool:
        """Offer raw bytes as if received from outside; False when refused (and counted).

        With a keyring, each receiver gets the message only when its seal holds for it."""
        return self._offer(topic, *auth.split(payload))

    def _offer(self, topic: str, content: bytes, seal: bytes | None) -> bool:
        try:
            msg = codec.decode(content)
        except codec.DecodeError as exc:
            self._reject(topic, exc.reason, exc.detail)
            return False
        opened = None
        if self.keyring is not None:
            verdict = self.keyring.open(self.topics.root, topic, msg.header.sender, content, seal)
            if isinstance(verdict, str):
                self._reject(topic, verdict, f"from {msg.header.sender!r}")
                return False
            opened = verdict
        return self._accept(topic, content, msg, opened)

    def _reject(self, topic: str, reason: str, detail: str) -> None:
        key = (topic, reason)
        self.stats.rejected[key] += 1
        if self.stats.rejected[key] <= 3:
            log.warning("dropped payload on %s: %s (%s)", topic, reason, detail)

    def _accept(self, topic: str, payload: bytes, msg: m.Message, opened: auth.Opened | None = None) -> bool:
        channel = self.topics.channel_of(topic)
        if channel is None:
            self._reject(topic, "unknown_topic", "not under this bus's topic root")
            return False
        if type(msg.body) is not channel.body:
            self._reject(topic, "wrong_type", f"{type(msg.body).__name__} on a {channel.name} topic")
            return False
        self.stats.published += 1
        now = self.env.now
        keyring = self.keyring
        seq = msg.header.sequence
        if self._taps and not (opened is not None and self._refused(keyring, opened, auth.MONITOR, seq)):
            for tap in self._taps:
                tap(now, topic, payload, msg)
        route = self._route.get(topic)
        if route is None:
            route = [s for s in self._subs if matches(s.topic_filter, topic)]
            self._route[topic] = route
        name = channel.name
        stats = self.stats
        verdicts: dict[str, bool] = {}
        """Receiver -> accepted: each receiver checks a message once, however many of its
        subscriptions match."""
        accept = keyring.accept if keyring is not None else None
        for sub in route:
            if opened is not None:
                who = sub.subscriber
                ok = verdicts.get(who)
                if ok is None:
                    assert accept is not None
                    reason = accept(opened, who, seq)
                    ok = verdicts[who] = reason is None
                    if reason is not None:
                        self._reject(topic, reason, f"from {opened.sender!r} to {who!r}")
                if not ok:
                    continue
            link = sub.links.get(name)
            if link is not None and link[1] is None:
                # A perfect link already set up, the common case: deliver now, inline.
                stats.delivered += 1
                sub.store.put(msg)
            else:
                self._deliver(sub, name, msg, now)
        return True

    def _refused(self, keyring: auth.Keyring | None, opened: auth.Opened, receiver: str, seq: int) -> bool:
        assert keyring is not None
        reason = keyring.accept(opened, receiver, seq)
        if reason is None:
            return False
        self._reject(opened.topic, reason, f"from {opened.sender!r} to {receiver!r}")
        return True

    def _deliver(self, sub: _Subscription, channel: str, msg: m.Message, now: float) -> None:
        link = sub.links.get(channel)
        if link is None:
            model = self._link_for(channel)
            rng = None
            if not model.perfect:
                if self._rng_for is None:
                    raise ValueError(f"link {channel} is not perfect but the bus has no random streams")
                rng = self._rng_for(f"link/{sub.subscriber}/{channel}")
            link = sub.links[channel] = (model, rng)
        model, rng = link
        if rng is None:
            self.stats.delivered += 1
            sub.store.put(msg)
            return
        if model.loss and rng.random() < model.loss:
            self.stats.dropped += 1
            return
        delay = model.latency_s + (model.jitter_s * rng.random() if model.jitter_s else 0.0)
        # Keep per-link order, as one MQTT connection would.
        at = max(now + delay, sub.last_delivery_s)
        sub.last_delivery_s = at
        self.stats.delivered += 1
        if at <= now:
            sub.store.put(msg)
            return
        ev = self.env.timeout(at - now)
        put = sub.store.put
        ev.callbacks.append(lambda _ev: put(msg))


class _InProcessEndpoint:
    """Stamps headers with the node id and per-topic sequence numbers."""

    def __init__(self, bus: InProcessBus, node_id: str) -> None:
        self.node_id = node_id
        self._bus = bus
        self._sequence: dict[str, int] = {}

    def publish(self, topic: str, body: m.Body) -> None:
        seq = self._sequence[topic] = self._sequence.get(topic, 0) + 1
        header = m.Header(self.node_id, seq, float(self._bus.env.now))
        payload = codec.encode(header, body)
        bus = self._bus
        keyring = bus.keyring
        # Parse the bytes again: receivers get exactly what the wire carried (the seal's
        # bytes are handed over beside the content: splitting them off again would add nothing).
        if keyring is not None:
            bus._offer(topic, payload, keyring.seal_of(bus.topics.root, topic, self.node_id, payload))
        else:
            bus._offer(topic, payload, None)

    def subscribe(self, topic_filter: str) -> Inbox:
        return self._bus.subscribe(self.node_id, topic_filter)

    def announce(self, kind: str, state_topic: str) -> None:
        # One life per virtual run: birth sequence 1.
        self.publish(state_topic, m.NodeState(self.node_id, kind, m.NodeStatus.BIRTH, 1))
