"""Topic scheme: ``<root>/<kind>/<node-id>/<channel>``, root ``bmc/v1/<scenario>``.

Each channel carries exactly one message type at one QoS; tracks and truth are
QoS 0 (stale data is worthless), everything that changes state is QoS 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protocols import messages as m


@dataclass(frozen=True, slots=True)
class Channel:
    """What travels on one channel."""

    name: str
    body: type
    qos: int
    retained: bool = False


CHANNELS: dict[str, Channel] = {
    c.name: c
    for c in (
        Channel("tracks", m.TrackReport, 0),
        Channel("truth", m.TruthReport, 0),
        Channel("order", m.FireOrder, 1),
        Channel("engagement", m.EngagementStatus, 1),
        Channel("status", m.LauncherStatus, 1),
        Channel("flyout", m.Flyout, 1),
        Channel("detonation", m.Detonation, 1),
        Channel("heartbeat", m.FdcHeartbeat, 0),
        Channel("command", m.OperatorCommand, 1),
        Channel("state", m.NodeState, 1, retained=True),
    )
}


def root_for(scenario_name: str) -> str:
    """Default topic root of a scenario."""
    return f"bmc/v1/{scenario_name}"


CHANNEL_MEMORY = 4096
"""Topics whose channel :meth:`Topics.channel_of` remembers (the memory restarts when full:
a broker can bring any number of foreign topics)."""


@dataclass(frozen=True, slots=True)
class Topics:
    """Builds and parses topics under one root."""

    root: str
    _channels: dict[str, Channel | None] = field(default_factory=dict, init=False, repr=False, compare=False)

    def topic(self, kind: str, node_id: str, channel: str) -> str:
        """The topic of ``channel`` owned by node ``node_id`` of ``kind``."""
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}")
        return f"{self.root}/{kind}/{node_id}/{channel}"

    def any(self, kind: str, channel: str) -> str:
        """Filter matching ``channel`` of every node of ``kind``."""
        return f"{self.root}/{kind}/+/{channel}"

    def channel_of(self, topic: str) -> Channel | None:
        """The channel a topic belongs to, None when it is not one of ours (remembered: every
        message on both buses asks)."""
        known = self._channels
        try:
            return known[topic]
        except KeyError:
            if len(known) >= CHANNEL_MEMORY:
                known.clear()
            channel = known[topic] = self._parse_channel(topic)
            return channel

    def _parse_channel(self, topic: str) -> Channel | None:
        if not topic.startswith(self.root + "/"):
            return None
        parts = topic[len(self.root) + 1 :].split("/")
        if len(parts) != 3:
            return None
        return CHANNELS.get(parts[2])


def matches(topic_filter: str, topic: str) -> bool:
    """MQTT topic-filter matching with ``+`` and ``#`` wildcards."""
    f = topic_filter.split("/")
    t = topic.split("/")
    for i, part in enumerate(f):
        if part == "#":
            return True
        if i >= len(t) or (part != "+" and part != t[i]):
            return False
    return len(f) == len(t)
