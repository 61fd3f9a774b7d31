"""In-process bus: headers, routing, link latency/jitter/loss, rejection, taps."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import pytest
import simpy

from bmc.engine.rng import RngStreams
from protocols import codec
from protocols import messages as m
from protocols.bus import Inbox, InProcessBus, LinkModel, Mailbox
from protocols.topics import Topics

T = Topics("bmc/v1/t")
HB = T.topic("fdc", "FDC", "heartbeat")
CMD = T.topic("operator", "OP", "command")


def hb(n: int = 0) -> m.FdcHeartbeat:
    return m.FdcHeartbeat("FDC", m.WeaponsControl.TIGHT, system_tracks=n)


def tracks_of(msg: m.Message) -> int:
    assert isinstance(msg.body, m.FdcHeartbeat)
    return msg.body.system_tracks


def make_bus(
    link: LinkModel | None = None, seed: int = 1, channel: str | None = None
) -> tuple[simpy.Environment, InProcessBus]:
    env = simpy.Environment()
    if link is None:
        return env, InProcessBus(env, T)

    def link_for(ch: str) -> LinkModel:
        return link if channel is None or ch == channel else LinkModel()

    return env, InProcessBus(env, T, link_for=link_for, rng_for=RngStreams(seed).stream)


def collect(env: simpy.Environment, store: Mailbox, log: list[tuple[float, m.Message]]) -> None:
    def consumer() -> Generator[Any, Any, None]:
        while True:
            msg = yield store.get()
            log.append((env.now, msg))

    env.process(consumer())


def publish_at(env: simpy.Environment, times: list[float], action: Callable[[int], None]) -> None:
    def producer() -> Generator[Any, Any, None]:
        for i, t in enumerate(times):
            yield env.timeout(t - env.now)
            action(i)

    env.process(producer())


# ------------------------------------------------------------------ headers and routing


def test_header_sender_sequence_and_time() -> None:
    env, bus = make_bus()
    a, b = bus.endpoint("A"), bus.endpoint("B")
    inbox = bus.endpoint("S").subscribe(HB)
    log: list[tuple[float, m.Message]] = []
    collect(env, inbox, log)

    def run() -> Generator[Any, Any, None]:
        a.publish(HB, hb(1))
        yield env.timeout(1.0)
        b.publish(HB, hb(2))
        a.publish(HB, hb(3))
        yield env.timeout(1.5)
        a.publish(HB, hb(4))
        b.publish(HB, hb(5))

    env.process(run())
    env.run()
    got = [(t, msg.header.sender, msg.header.sequence, msg.header.sim_time_s) for t, msg in log]
    assert got == [
        (0.0, "A", 1, 0.0),
        (1.0, "B", 1, 1.0),
        (1.0, "A", 2, 1.0),
        (2.5, "A", 3, 2.5),
        (2.5, "B", 2, 2.5),
    ]
    assert [msg.body for _, msg in log] == [hb(i) for i in range(1, 6)]
    assert all(msg.header.schema_version == m.SCHEMA_VERSION for _, msg in log)
    assert bus.stats.published == 5
    assert bus.stats.delivered == 5


def test_delivery_to_matching_filters_only() -> None:
    _env, bus = make_bus()
    ep = bus.endpoint("S")
    stores = {
        "exact": ep.subscribe(T.topic("launcher", "L1", "status")),
        "other_node": ep.subscribe(T.topic("launcher", "L2", "status")),
        "any_launcher": ep.subscribe(T.any("launcher", "status")),
        "any_radar": ep.subscribe(T.any("radar", "status")),
        "other_channel": ep.subscribe(T.any("launcher", "engagement")),
        "all": ep.subscribe("#"),
        "root": ep.subscribe(T.root + "/#"),
        "other_root": ep.subscribe("bmc/v1/other/#"),
    }
    status = m.LauncherStatus("L1", m.LauncherState.READY, 4, (1.0, 2.0, 3.0))
    bus.endpoint("L1").publish(T.topic("launcher", "L1", "status"), status)
    got = {name: [msg.body for msg in s.items] for name, s in stores.items()}
    assert got == {
        "exact": [status],
        "other_node": [],
        "any_launcher": [status],
        "any_radar": [],
        "other_channel": [],
        "all": [status],
        "root": [status],
        "other_root": [],
    }
    assert bus.stats.delivered == 4


def test_late_subscriber_gets_later_messages() -> None:
    """The route cache is invalidated by a new subscription."""
    _env, bus = make_bus()
    pub = bus.endpoint("FDC")
    first = bus.endpoint("A").subscribe(HB)
    pub.publish(HB, hb(1))
    second = bus.endpoint("B").subscribe(T.any("fdc", "heartbeat"))
    pub.publish(HB, hb(2))
    assert [tracks_of(msg) for msg in first.items] == [1, 2]
    assert [tracks_of(msg) for msg in second.items] == [2]


# ------------------------------------------------------------------ link models


def test_latency_delays_delivery_exactly() -> None:
    env, bus = make_bus(LinkModel(latency_s=0.5))
    pub = bus.endpoint("FDC")
    log: list[tuple[float, m.Message]] = []
    collect(env, bus.endpoint("S").subscribe(HB), log)
    publish_at(env, [1.0, 2.0, 2.25], lambda i: pub.publish(HB, hb(i)))
    env.run()
    assert [(t, msg.header.sim_time_s, tracks_of(msg)) for t, msg in log] == [
        (1.5, 1.0, 0),
        (2.5, 2.0, 1),
        (2.75, 2.25, 2),
    ]


def test_latency_applies_only_to_its_channel() -> None:
    env, bus = make_bus(LinkModel(latency_s=0.5), channel="command")
    log: list[tuple[float, m.Message]] = []
    collect(env, bus.endpoint("S").subscribe(T.root + "/#"), log)
    publish_at(env, [1.0], lambda _i: bus.endpoint("OP").publish(CMD, m.OperatorCommand(note="x")))
    env.run()
    assert [t for t, _ in log] == [1.5]

    env2, bus2 = make_bus(LinkModel(latency_s=0.5), channel="command")
    log2: list[tuple[float, m.Message]] = []
    collect(env2, bus2.endpoint("S").subscribe(HB), log2)
    publish_at(env2, [1.0], lambda _i: bus2.endpoint("FDC").publish(HB, hb()))
    env2.run()
    assert [t for t, _ in log2] == [1.0]


def test_jitter_keeps_per_link_order() -> None:
    link = LinkModel(latency_s=0.1, jitter_s=1.0)
    env, bus = make_bus(link, seed=7)
    pub = bus.endpoint("FDC")
    log: list[tuple[float, m.Message]] = []
    collect(env, bus.endpoint("S").subscribe(HB), log)
    times = [0.01 * i for i in range(50)]
    publish_at(env, times, lambda i: pub.publish(HB, hb(i)))
    env.run()
    seqs = [msg.header.sequence for _, msg in log]
    assert seqs == list(range(1, 51))
    arrivals = [t for t, _ in log]
    assert arrivals == sorted(arrivals)
    for t, msg in log:
        assert t >= msg.header.sim_time_s + link.latency_s - 1e-12
    # Jitter really was applied: not every message took exactly the latency.
    delays = {round(t - msg.header.sim_time_s, 9) for t, msg in log}
    assert len(delays) > 1
    assert max(arrivals) <= times[-1] + link.latency_s + link.jitter_s + 1e-9


def _received_under_loss(seed: int, n: int = 2000) -> tuple[list[int], InProcessBus]:
    env, bus = make_bus(LinkModel(loss=0.3), seed=seed)
    inbox = bus.endpoint("S").subscribe(HB)
    pub = bus.endpoint("FDC")
    for i in range(n):
        pub.publish(HB, hb(i))
    env.run()
    return [msg.header.sequence for msg in inbox.items], bus


def test_loss_drops_about_the_given_fraction() -> None:
    received, bus = _received_under_loss(seed=3)
    st = bus.stats
    assert st.published == 2000
    assert st.dropped + st.delivered == 2000
    assert len(received) == st.delivered
    # Binomial(2000, 0.3): sd ~ 20.5; +-5 sd.
    assert 500 <= st.dropped <= 700
    assert received == sorted(received)


def test_loss_is_reproducible_per_seed() -> None:
    a, _ = _received_under_loss(seed=11, n=500)
    b, _ = _received_under_loss(seed=11, n=500)
    c, _ = _received_under_loss(seed=12, n=500)
    assert a == b
    assert a != c


def test_each_subscriber_has_its_own_loss_stream() -> None:
    env, bus = make_bus(LinkModel(loss=0.5), seed=5)
    s1 = bus.endpoint("S1").subscribe(HB)
    s2 = bus.endpoint("S2").subscribe(HB)
    pub = bus.endpoint("FDC")
    for i in range(200):
        pub.publish(HB, hb(i))
    env.run()
    r1 = [msg.header.sequence for msg in s1.items]
    r2 = [msg.header.sequence for msg in s2.items]
    assert r1 != r2
    assert bus.stats.delivered + bus.stats.dropped == 400


def test_imperfect_link_without_random_streams_raises() -> None:
    env = simpy.Environment()
    bus = InProcessBus(env, T, link_for=lambda _ch: LinkModel(loss=0.1))
    bus.endpoint("S").subscribe(HB)
    with pytest.raises(ValueError, match="heartbeat"):
        bus.endpoint("FDC").publish(HB, hb())


@pytest.mark.parametrize(
    ("kwargs", "quoted"),
    [
        ({"latency_s": -0.5}, "-0.5"),
        ({"jitter_s": -2.0}, "-2.0"),
        ({"loss": 1.0}, "1.0"),
        ({"loss": -0.1}, "-0.1"),
    ],
)
def test_link_model_validation_quotes_value(kwargs: dict[str, float], quoted: str) -> None:
    with pytest.raises(ValueError, match=quoted):
        LinkModel(**kwargs)


def test_link_model_perfect() -> None:
    assert LinkModel().perfect
    assert not LinkModel(latency_s=0.1).perfect
    assert not LinkModel(jitter_s=0.1).perfect
    assert not LinkModel(loss=0.1).perfect


# ------------------------------------------------------------------ injection and rejection


def _bus_with_everything() -> tuple[simpy.Environment, InProcessBus, Inbox, list[Any]]:
    env, bus = make_bus()
    inbox = bus.endpoint("S").subscribe("#")
    taps: list[Any] = []
    bus.add_tap(lambda t, topic, payload, msg: taps.append((t, topic, payload, msg)))
    return env, bus, inbox, taps


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (HB, b"\xff\x00garbage", "malformed"),
        (HB, b"", "malformed"),
        (
            HB,
            codec.encode(m.Header("X", 1, 0.0, schema_version=2), hb()),
            "schema_version",
        ),
        (CMD, codec.encode(m.Header("X", 1, 0.0), hb()), "wrong_type"),
        (T.topic("launcher", "L1", "order"), codec.encode(m.Header("X", 1, 0.0), hb()), "wrong_type"),
        ("bmc/v1/other/fdc/FDC/heartbeat", codec.encode(m.Header("X", 1, 0.0), hb()), "unknown_topic"),
        (
            T.topic("fdc", "FDC", "heartbeat") + "/x",
            codec.encode(m.Header("X", 1, 0.0), hb()),
            "unknown_topic",
        ),
        (T.root + "/fdc/FDC/nonsense", codec.encode(m.Header("X", 1, 0.0), hb()), "unknown_topic"),
    ],
)
def test_inject_rejects_and_counts(topic: str, payload: bytes, reason: str) -> None:
    env, bus, inbox, taps = _bus_with_everything()
    assert bus.inject(topic, payload) is False
    assert bus.inject(topic, payload) is False
    env.run()
    assert bus.stats.rejected == {(topic, reason): 2}
    assert bus.stats.rejected_total == 2
    assert bus.stats.published == 0
    assert bus.stats.delivered == 0
    assert inbox.items == []
    assert taps == []


def test_inject_accepts_valid_external_payload() -> None:
    _env, bus, inbox, taps = _bus_with_everything()
    payload = codec.encode(m.Header("EXT", 42, 0.0), hb(9))
    assert bus.inject(HB, payload) is True
    assert [msg.header.sender for msg in inbox.items] == ["EXT"]
    assert [msg.header.sequence for msg in inbox.items] == [42]
    assert len(taps) == 1
    assert taps[0][2] == payload
    assert bus.stats.rejected_total == 0


def test_publish_on_wrong_channel_is_dropped_not_raised() -> None:
    _env, bus, inbox, taps = _bus_with_everything()
    bus.endpoint("FDC").publish(CMD, hb())
    assert inbox.items == []
    assert taps == []
    assert bus.stats.rejected == {(CMD, "wrong_type"): 1}


def test_taps_see_every_accepted_publication_in_order() -> None:
    env, bus, inbox, taps = _bus_with_everything()
    fdc, op = bus.endpoint("FDC"), bus.endpoint("OP")

    def run() -> Generator[Any, Any, None]:
        fdc.publish(HB, hb(1))
        op.publish(CMD, m.OperatorCommand(m.WeaponsControl.HOLD))
        bus.inject(HB, b"junk")  # refused: not tapped
        yield env.timeout(2.0)
        fdc.publish(HB, hb(2))

    env.process(run())
    env.run()
    assert [(t, topic, msg.header.sender, msg.header.sequence) for t, topic, _, msg in taps] == [
        (0.0, HB, "FDC", 1),
        (0.0, CMD, "OP", 1),
        (2.0, HB, "FDC", 2),
    ]
    for _, _, payload, msg in taps:
        assert codec.decode(payload) == msg
    assert [msg for *_, msg in taps] == list(inbox.items)
    assert bus.stats.rejected_total == 1


def test_taps_see_publications_even_when_links_drop_them() -> None:
    _env, bus = make_bus(LinkModel(loss=0.5), seed=2)
    bus.endpoint("S").subscribe(HB)
    seen: list[int] = []
    bus.add_tap(lambda _t, _topic, _payload, msg: seen.append(msg.header.sequence))
    pub = bus.endpoint("FDC")
    for i in range(100):
        pub.publish(HB, hb(i))
    assert seen == list(range(1, 101))
    assert bus.stats.dropped > 0


def test_rng_stream_draws_are_used_for_links() -> None:
    # Guard for the determinism tests above: distinct keys give distinct streams.
    s = RngStreams(1)
    a = s.stream("link/S/heartbeat").random(4)
    b = s.stream("link/S/heartbeat").random(4)
    c = s.stream("link/T/heartbeat").random(4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# ------------------------------------------------------------------ inbox


def test_inbox_hands_messages_over_in_order_to_one_reader() -> None:
    env = simpy.Environment()
    inbox = Inbox(env)
    got: list[tuple[float, str]] = []

    def reader() -> Generator[simpy.Event, Any, None]:
        while True:
            msg = yield inbox.get()
            got.append((env.now, msg.header.sender))

    def writer() -> Generator[simpy.Event, Any, None]:
        inbox.put(_heartbeat_from("A"))
        inbox.put(_heartbeat_from("B"))
        yield env.timeout(2.0)
        inbox.put(_heartbeat_from("C"))

    env.process(writer())
    env.process(reader())
    env.run()
    assert got == [(0.0, "A"), (0.0, "B"), (2.0, "C")]
    assert inbox.items == []


def test_inbox_refuses_a_second_waiting_reader() -> None:
    inbox = Inbox(simpy.Environment())
    inbox.get()
    with pytest.raises(RuntimeError, match="one reader"):
        inbox.get()


def _heartbeat_from(sender: str) -> m.Message:
    return m.Message(m.Header(sender, 1, 0.0), m.FdcHeartbeat(sender, m.WeaponsControl.FREE))


def test_inbox_with_a_handler_calls_it_once_per_message_in_order() -> None:
    env = simpy.Environment()
    inbox = Inbox(env)
    got: list[tuple[float, str]] = []
    inbox.attach(lambda msg: got.append((env.now, msg.header.sender)))
    inbox.put(_heartbeat_from("A"))
    inbox.put(_heartbeat_from("B"))
    assert got == []  # never inside the publisher's call
    env.run()
    assert got == [(0.0, "A"), (0.0, "B")]
    with pytest.raises(RuntimeError, match="handler"):
        inbox.get()


def test_inbox_handler_runs_where_a_succeeded_event_would() -> None:
    # Handing over schedules a light event of its own (not a simpy.Event): it must take the
    # place in SimPy's queue that Event.succeed() at the same moment takes, and SimPy must
    # accept it (this breaks loudly if a SimPy release reads more of an event than it does now).
    env = simpy.Environment()
    inbox = Inbox(env)
    order: list[str] = []
    inbox.attach(lambda msg: order.append(msg.header.sender))

    def succeeded(name: str) -> None:
        event = env.event()
        event.callbacks.append(lambda _event: order.append(name))
        event.succeed()

    def later() -> Generator[simpy.Event, None, None]:
        yield env.timeout(1.0)
        succeeded("E3")
        inbox.put(_heartbeat_from("B"))
        succeeded("E4")

    env.process(later())
    succeeded("E1")
    inbox.put(_heartbeat_from("A"))
    succeeded("E2")
    env.run()
    assert order == ["E1", "A", "E2", "E3", "B", "E4"]
