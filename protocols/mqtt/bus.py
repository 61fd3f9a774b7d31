"""All MQTT connections of one process: the ``Bus`` of real-time runs."""

from __future__ import annotations

import asyncio
import logging
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import simpy

from protocols import auth
from protocols import messages as m
from protocols.bus import Tap
from protocols.mqtt.config import BrokerConfig, Login
from protocols.mqtt.endpoint import MqttEndpoint
from protocols.topics import CHANNELS, Topics

log = logging.getLogger(__name__)


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
