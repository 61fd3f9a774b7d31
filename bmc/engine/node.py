"""Node base: a simulated radar, FDC, launcher or the world on a bus."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, ClassVar

import numpy as np
import simpy

from protocols import messages as m
from protocols.bus import Bus, Inbox
from protocols.topics import Topics

Process = Generator[simpy.Event, Any, None]
"""A SimPy process body."""


class Node:
    """Common plumbing: identity, clock, random stream, publish and subscribe helpers.

    Subclasses implement :meth:`processes`; handlers registered with :meth:`on`
    are called for every message delivered to that subscription.
    """

    kind: ClassVar[str] = "node"

    def __init__(
        self, node_id: str, env: simpy.Environment, bus: Bus, topics: Topics, rng: np.random.Generator
    ) -> None:
        self.id = node_id
        self.env = env
        self.topics = topics
        self.rng = rng
        self.port = bus.endpoint(node_id)
        self._topics: dict[tuple[str, str | None, str | None], str] = {}
        """(channel, kind, node id) -> topic, as :meth:`publish` addresses it."""

    @property
    def now(self) -> float:
        """Current simulated time, seconds."""
        return float(self.env.now)

    def publish(
        self, channel: str, body: m.Body, *, kind: str | None = None, node_id: str | None = None
    ) -> None:
        """Publish on ``channel`` of this node (or of ``kind``/``node_id`` when addressing another)."""
        key = (channel, kind, node_id)
        topic = self._topics.get(key)
        if topic is None:
            topic = self._topics[key] = self.topics.topic(kind or self.kind, node_id or self.id, channel)
        self.port.publish(topic, body)

    def on(self, topic_filter: str, handler: Callable[[m.Message], None]) -> None:
        """Call ``handler`` for every message matching ``topic_filter``."""
        inbox = self.port.subscribe(topic_filter)
        if isinstance(inbox, Inbox):
            inbox.attach(handler)
            return

        def loop() -> Process:
            while True:
                msg = yield inbox.get()
                handler(msg)

        self.env.process(loop())

    def every(self, period_s: float, action: Callable[[], None], first_s: float = 0.0) -> None:
        """Call ``action`` at ``first_s`` and then every ``period_s``."""

        def loop() -> Process:
            if first_s > 0:
                yield self.env.timeout(first_s)
            while True:
                action()
                yield self.env.timeout(period_s)

        self.env.process(loop())

    def start(self) -> None:
        """Announce birth and start the node's processes."""
        self.port.announce(self.kind, self.topics.topic(self.kind, self.id, "state"))
        self.setup()

    def setup(self) -> None:
        """Subscribe and start processes (override)."""
