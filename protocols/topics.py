"""Topic scheme: ``<root>/<kind>/<node-id>/<channel>``, root ``bmc/v1/<scenario>``.

Each channel carries exactly one message type at one QoS; tracks and truth are
QoS 0 (stale data is worthless), everything that changes state is QoS 1.

:data:`CHANNELS` is the one table of channels: the scenario's ``links`` keys, the MQTT
bus's QoS, retain flags and delivery priority, the recordings' channel metadata, the
``Envelope`` body field the codec writes and the serial frame type all come from it.
A topic is parsed once, by :func:`parse_topic`, into a :class:`TopicParts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protocols import messages as m


@dataclass(frozen=True, slots=True)
class Channel:
    """What travels on one channel."""

    name: str
    """The topic's last level."""
    body: type
    """The one message type it carries."""
    field: str
    """Its ``bmc.v1.Envelope`` body field (the codec's oneof member)."""
    frame_type: int
    """Its serial frame type (``hil/framing.py``); stable, firmware hard-codes it: the body's
    ``Envelope`` field number minus 9."""
    qos: int
    priority: int
    """Delivery order when several messages wait on the MQTT bus: lower first (control
    before data: fire orders first, tracks last)."""
    retained: bool = False


CHANNELS: dict[str, Channel] = {
    c.name: c
    for c in (
        Channel("tracks", m.TrackReport, "track_report", 1, qos=0, priority=9),
        Channel("truth", m.TruthReport, "truth_report", 2, qos=0, priority=8),
        Channel("order", m.FireOrder, "fire_order", 3, qos=1, priority=0),
        Channel("engagement", m.EngagementStatus, "engagement_status", 4, qos=1, priority=3),
        Channel("status", m.LauncherStatus, "launcher_status", 5, qos=1, priority=4),
        Channel("flyout", m.Flyout, "flyout", 6, qos=1, priority=6),
        Channel("detonation", m.Detonation, "detonation", 7, qos=1, priority=7),
        Channel("heartbeat", m.FdcHeartbeat, "fdc_heartbeat", 8, qos=0, priority=2),
        Channel("command", m.OperatorCommand, "operator_command", 9, qos=1, priority=1),
        Channel("state", m.NodeState, "node_state", 10, qos=1, priority=5, retained=True),
        Channel("picture", m.AirPicture, "air_picture", 11, qos=0, priority=10),
    )
}

BY_BODY: dict[type, Channel] = {c.body: c for c in CHANNELS.values()}
"""The channel of each message type."""


@dataclass(frozen=True, slots=True)
class TopicParts:
    """A topic of ours, parsed: ``<root>/<kind>/<node_id>/<channel>``."""

    root: str
    kind: str
    node_id: str
    channel: Channel


def parse_topic(topic: str) -> TopicParts | None:
    """``topic`` as its parts; None when its last level is no channel of ours or it has fewer
    than four levels (the root has at least one)."""
    parts = topic.rsplit("/", 3)
    if len(parts) != 4 or not all(parts):
        return None
    channel = CHANNELS.get(parts[3])
    return None if channel is None else TopicParts(parts[0], parts[1], parts[2], channel)


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
        parts = parse_topic(topic)
        return parts.channel if parts is not None and parts.root == self.root else None


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
