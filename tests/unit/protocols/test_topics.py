"""Topic scheme and MQTT topic-filter matching."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import messages as m
from protocols.topics import CHANNELS, Topics, matches, root_for

T = Topics("bmc/v1/t")


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("a/b/c", "a/b/c", True),
        ("a/b/c", "a/b/d", False),
        ("a/b", "a/b/c", False),
        ("a/b/c", "a/b", False),
        ("a/+/c", "a/b/c", True),
        ("a/+/c", "a/b/d", False),
        ("a/+", "a/b/c", False),
        ("a/+/+", "a/b", False),
        ("+/+/+", "a/b/c", True),
        ("+", "a", True),
        ("+", "a/b", False),
        ("a/#", "a/b/c", True),
        ("a/#", "a/b", True),
        ("a/#", "b/c", False),
        ("#", "a/b/c", True),
        ("#", "a", True),
        ("a/+/#", "a/b/c/d", True),
        ("a/+/#", "x/b/c", False),
        ("a/+", "a/", True),  # an empty level is still a level
        ("a", "a/", False),
        ("A/b", "a/b", False),  # case-sensitive
    ],
)
def test_matches(topic_filter: str, topic: str, expected: bool) -> None:
    assert matches(topic_filter, topic) is expected


levels = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="/+#"), max_size=6)
topics = st.lists(levels, min_size=1, max_size=6).map("/".join)


@settings(max_examples=200, deadline=None)
@given(topic=topics)
def test_topic_matches_itself_and_hash(topic: str) -> None:
    assert matches(topic, topic)
    assert matches("#", topic)


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(levels, min_size=1, max_size=6), data=st.data())
def test_plus_matches_any_single_level(parts: list[str], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(parts) - 1))
    topic = "/".join(parts)
    with_plus = "/".join([*parts[:i], "+", *parts[i + 1 :]])
    assert matches(with_plus, topic)
    assert matches("/".join([*parts[: i + 1], "#"]), topic)
    # One level more or less never matches without '#'.
    assert not matches(topic + "/x", topic)
    assert not matches(topic, topic + "/x")


@settings(max_examples=200, deadline=None)
@given(a=topics, b=topics)
def test_exact_filter_matches_only_equal_topic(a: str, b: str) -> None:
    assert matches(a, b) is (a == b)


def test_root_for() -> None:
    assert root_for("demo") == "bmc/v1/demo"
    assert Topics(root_for("demo")).root == "bmc/v1/demo"


def test_topic_builds_and_validates_channel() -> None:
    assert T.topic("radar", "R1", "tracks") == "bmc/v1/t/radar/R1/tracks"
    assert T.topic("launcher", "L3", "order") == "bmc/v1/t/launcher/L3/order"
    with pytest.raises(ValueError, match="'bogus'"):
        T.topic("radar", "R1", "bogus")


def test_any_matches_every_node_of_a_kind_only() -> None:
    f = T.any("launcher", "status")
    assert f == "bmc/v1/t/launcher/+/status"
    assert matches(f, T.topic("launcher", "L1", "status"))
    assert matches(f, T.topic("launcher", "L2", "status"))
    assert not matches(f, T.topic("launcher", "L1", "engagement"))
    assert not matches(f, T.topic("radar", "R1", "status"))
    assert not matches(f, Topics("bmc/v1/other").topic("launcher", "L1", "status"))


@pytest.mark.parametrize("name", sorted(CHANNELS))
def test_channel_of_round_trip(name: str) -> None:
    ch = T.channel_of(T.topic("node", "N1", name))
    assert ch is CHANNELS[name]
    assert ch.name == name


@pytest.mark.parametrize(
    "topic",
    [
        "bmc/v1/other/radar/R1/tracks",  # other root
        "bmc/v1/tt/radar/R1/tracks",  # root is a prefix, not a level
        "bmc/v1/t",
        "bmc/v1/t/radar/R1",
        "bmc/v1/t/radar/R1/tracks/extra",
        "bmc/v1/t/radar/R1/bogus",
        "",
    ],
)
def test_channel_of_foreign_topics(topic: str) -> None:
    assert T.channel_of(topic) is None


def test_channels_table() -> None:
    assert {c.body for c in CHANNELS.values()} == {
        m.AirPicture,
        m.TrackReport,
        m.TruthReport,
        m.FireOrder,
        m.EngagementStatus,
        m.LauncherStatus,
        m.Flyout,
        m.Detonation,
        m.FdcHeartbeat,
        m.OperatorCommand,
        m.NodeState,
    }
    assert CHANNELS["tracks"].qos == 0
    assert CHANNELS["order"].qos == 1
    assert [c.name for c in CHANNELS.values() if c.retained] == ["state"]


def test_the_channel_table_matches_the_schema() -> None:
    from protocols.generated import bmc_v1_pb2 as pb
    from protocols.topics import CHANNELS

    envelope = pb.Envelope.DESCRIPTOR.fields_by_name
    for c in CHANNELS.values():
        assert c.field in envelope, c
        assert c.frame_type == envelope[c.field].number - 9, c  # what firmware hard-codes
        assert envelope[c.field].message_type.name == c.body.__name__, c
    assert sorted(c.priority for c in CHANNELS.values()) == list(range(len(CHANNELS)))
    assert len({c.body for c in CHANNELS.values()}) == len(CHANNELS)


def test_a_topic_is_parsed_once_into_its_parts() -> None:
    from protocols.topics import CHANNELS, TopicParts, parse_topic

    assert parse_topic("bmc/v1/s/radar/R1/tracks") == TopicParts(
        "bmc/v1/s", "radar", "R1", CHANNELS["tracks"]
    )
    assert parse_topic("bmc/v1/s/run-7/launcher/L1/order") == TopicParts(
        "bmc/v1/s/run-7", "launcher", "L1", CHANNELS["order"]
    )
    assert parse_topic("bmc/v1/s/radar/+/tracks") == TopicParts("bmc/v1/s", "radar", "+", CHANNELS["tracks"])
    for not_ours in ("radar/R1/tracks", "bmc/v1/s/radar/R1/nope", "bmc/v1/s/radar//tracks", "tracks", ""):
        assert parse_topic(not_ours) is None, not_ours
