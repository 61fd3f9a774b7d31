"""The MQTT endpoint's hot paths against a real broker.

``protocols/mqtt/link.py:PahoLink`` publishes and receives through the paho client under
aiomqtt (a private attribute of ``aiomqtt.Client``) and writes packets itself. These
tests pin what that relies on, for the installed aiomqtt: messages leave in call order
without a task each, nothing is left registered on the event loop afterwards (a stale
writer would spin it), QoS 1 acknowledgements are tracked, a lost connection sends again
what was not acknowledged (ahead of what was held meanwhile), and a bad payload on the
direct receive path is a counted drop, not a broken connection.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import paho.mqtt.client as paho
import pytest
import simpy

from bmc.engine.realtime import RealtimeError, world_clock
from protocols import codec
from protocols import messages as m
from protocols.bus import Inbox
from protocols.mqtt import QOS0_QUEUE, BrokerConfig, MqttBus, MqttEndpoint
from protocols.mqtt.link import PahoLink
from protocols.topics import Topics
from tests.transport.conftest import HOST, Broker, mosquitto_pub

pytestmark = pytest.mark.mqtt

TOPICS = Topics("bmc/v1/linktest")
HEARTBEAT = TOPICS.topic("fdc", "FDC", "heartbeat")
"""A QoS 0 channel."""
STATUS = TOPICS.topic("launcher", "L1", "status")
"""A QoS 1 channel."""


def heartbeat(n: int) -> m.FdcHeartbeat:
    """A QoS 0 message numbered ``n``."""
    return m.FdcHeartbeat("FDC", m.WeaponsControl.FREE, system_tracks=n)


def status(n: int) -> m.LauncherStatus:
    """A QoS 1 message numbered ``n``."""
    return m.LauncherStatus("L1", m.LauncherState.READY, n, (0.0, 0.0, 0.0))


async def until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Wait (serving the event loop) until ``predicate()`` holds."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout_s:g} s")
        await asyncio.sleep(0.005)


def number_of(body: m.Body) -> int:
    """The number :func:`heartbeat` or :func:`status` gave a message."""
    if isinstance(body, m.LauncherStatus):
        return body.missiles_ready
    assert isinstance(body, m.FdcHeartbeat), body
    return body.system_tracks


def taken(inbox: Inbox) -> list[Any]:
    """Everything put into ``inbox`` so far (no process reads it)."""
    return [inbox.get().value for _ in inbox.items]


def make_bus(broker: Broker) -> MqttBus:
    cfg = BrokerConfig(host=HOST, port=broker.port, client_id="linktest")
    return MqttBus(simpy.Environment(), TOPICS, cfg)


def born(bus: MqttBus, node_id: str, kind: str) -> MqttEndpoint:
    ep = bus.endpoint(node_id)
    ep.announce(kind, TOPICS.topic(kind, node_id, "state"))
    return ep


def paho_client(ep: MqttEndpoint) -> paho.Client:
    """The paho client under the endpoint's connection (the internal these tests guard)."""
    link = ep._link
    assert link is not None, f"{ep.node_id} is not connected"
    return link._paho


def test_a_burst_leaves_in_order_is_acknowledged_and_leaves_no_writer(broker: Broker) -> None:
    async def main() -> None:
        bus = make_bus(broker)
        fdc = born(bus, "FDC", "fdc")
        l1 = born(bus, "L1", "launcher")
        beats = l1.subscribe(HEARTBEAT)
        reports = l1.subscribe(STATUS)
        # Connected means subscribed: the endpoint is born only once its subscriptions are acknowledged.
        await asyncio.wait_for(asyncio.gather(fdc.connected.wait(), l1.connected.wait()), 10)
        for n in range(200):
            fdc.publish(HEARTBEAT, heartbeat(n))
            if n % 4 == 0:
                fdc.publish(STATUS, status(n))
        await until(lambda: l1.queued == 250, 10, "250 messages at L1")
        assert bus.flush() == 250
        got_beats = [msg.body.system_tracks for msg in taken(beats)]
        got_reports = [msg.body.missiles_ready for msg in taken(reports)]
        assert got_beats == list(range(200))
        assert got_reports == list(range(0, 200, 4))

        await asyncio.sleep(0.05)
        link = fdc._link
        assert link is not None
        assert link.unsettled() == (0, []), "every QoS 1 message acknowledged, every QoS 0 one written"
        loop = asyncio.get_running_loop()
        for ep in (fdc, l1):
            sock = paho_client(ep).socket()
            assert sock is not None
            # A writer still registered with nothing to write would spin the loop.
            assert not loop.remove_writer(sock.fileno()), f"{ep.node_id}: writer left registered"
        stats = bus.stats
        assert (stats.published, stats.delivered, stats.dropped, stats.rejected_total) == (250, 250, 0, 0)
        assert not stats.gaps and stats.reconnects == 0
        await bus.close()

    asyncio.run(main())


def test_garbage_on_the_direct_receive_path_is_counted_and_the_connection_stays(
    broker: Broker, tmp_path: Any
) -> None:
    async def main() -> None:
        bus = make_bus(broker)
        l1 = born(bus, "L1", "launcher")
        reports = l1.subscribe(STATUS)
        await asyncio.wait_for(l1.connected.wait(), 10)
        client_before = l1._client
        await asyncio.to_thread(mosquitto_pub, broker.port, STATUS, b"\x00not a message", tmp_path)
        await until(lambda: bus.stats.rejected_total == 1, 10, "the garbage counted")
        await asyncio.to_thread(mosquitto_pub, broker.port, STATUS, b"", tmp_path)
        await until(lambda: bus.stats.rejected_total == 2, 10, "the empty payload counted")
        fdc = born(bus, "FDC", "fdc")
        await asyncio.wait_for(fdc.connected.wait(), 10)
        fdc.publish(STATUS, status(7))
        await until(lambda: l1.queued == 1, 10, "a good message after the garbage")
        bus.flush()
        assert [msg.body.missiles_ready for msg in taken(reports)] == [7]
        assert l1._client is client_before and bus.stats.reconnects == 0
        await bus.close()

    asyncio.run(main())


def test_qos1_unacknowledged_or_held_while_the_broker_is_away_is_sent_first_on_return(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    handed: list[tuple[str, int]] = []
    """(channel, number) of every message the endpoint handed to a connection, in order."""
    publish = PahoLink.publish

    def spy(link: PahoLink, topic: str, payload: bytes, qos: int, retain: bool) -> bool:
        ok = publish(link, topic, payload, qos, retain)
        if ok:
            handed.append((topic.rsplit("/", 1)[-1], number_of(codec.decode(payload).body)))
        return ok

    monkeypatch.setattr(PahoLink, "publish", spy)

    async def main() -> None:
        bus = make_bus(broker)
        fdc = born(bus, "FDC", "fdc")
        await asyncio.wait_for(fdc.connected.wait(), 10)
        fdc.publish(STATUS, status(1))
        await until(lambda: fdc._link is not None and fdc._link.unsettled() == (0, []), 10, "status 1 acked")

        broker.stop(signal.SIGKILL)
        # Before the endpoint can notice: written into a dead socket, or refused.
        fdc.publish(STATUS, status(2))
        fdc.publish(HEARTBEAT, heartbeat(2))
        await until(lambda: not fdc.connected.is_set(), 10, "the loss noticed")
        before = len(handed)
        # While disconnected: QoS 1 held, QoS 0 dropped and counted.
        fdc.publish(STATUS, status(3))
        dropped = bus.stats.dropped
        fdc.publish(HEARTBEAT, heartbeat(3))
        assert bus.stats.dropped == dropped + 1
        assert len(handed) == before, "nothing handed to a lost connection"

        broker.start()
        await asyncio.wait_for(fdc.connected.wait(), 10)
        fdc.publish(STATUS, status(4))
        # Status 2 was never acknowledged: sent again, ahead of what was held meanwhile.
        assert handed[before:] == [("status", 2), ("status", 3), ("status", 4)], handed
        assert bus.stats.reconnects == 1
        await bus.close()

    asyncio.run(main())


def test_the_world_clock_hears_the_world_only_and_disconnects_once_set(broker: Broker) -> None:
    # A node or bridge outside the cell takes the world's time from the first truth report and its
    # speed from the world's birth. It must not go on receiving (and decoding) the cell's traffic
    # for the rest of the run.
    truth_topic = TOPICS.topic("world", "world", "truth")

    async def main() -> None:
        bus = make_bus(broker)
        sync = world_clock(bus)
        (watcher,) = [ep for ep in bus.endpoints if ep.tap_only]
        heard: list[str] = []
        on_truth = watcher.tap
        assert on_truth is not None

        def tap(t: float, topic: str, payload: bytes, msg: m.Message) -> None:
            heard.append(topic)
            on_truth(t, topic, payload, msg)

        watcher.tap = tap
        world = born(bus, "world", "world")
        fdc = born(bus, "FDC", "fdc")
        await asyncio.wait_for(
            asyncio.gather(watcher.connected.wait(), world.connected.wait(), fdc.connected.wait()), 10
        )
        fdc.publish(HEARTBEAT, heartbeat(1))
        fdc.publish(STATUS, status(1))
        bus.env = simpy.Environment(initial_time=42.5)
        world.publish(truth_topic, m.TruthReport.empty())
        world_clock_ = await asyncio.wait_for(sync, 10)
        assert world_clock_.sim_time_s == 42.5
        assert world_clock_.speed == 0.0  # this bus announces no pacing speed
        await until(
            lambda: watcher not in bus.endpoints and not watcher.connected.is_set(), 10, "the watcher gone"
        )
        world.publish(truth_topic, m.TruthReport.empty())
        fdc.publish(STATUS, status(2))
        await asyncio.sleep(0.2)
        state_topic = TOPICS.topic("world", "world", "state")
        assert heard == [state_topic, truth_topic], "the birth and one truth; no heartbeat, no status"
        assert not bus._taps, "no monitor of the whole topic root"
        await bus.close()

    asyncio.run(main())


TRACKS = TOPICS.topic("radar", "R1", "tracks")
"""A QoS 0 channel with a bounded inbound queue."""
ORDER = TOPICS.topic("launcher", "L1", "order")


def track_report(n: int) -> m.TrackReport:
    """An empty track report numbered ``n`` by its scan time."""
    ints = np.zeros(0, dtype=np.int64)
    return m.TrackReport(float(n), ints, np.zeros((0, 6)), np.zeros((0, 6, 6)), ints, ints, ints, ())


def test_a_track_flood_on_a_stalled_consumer_drops_the_oldest_counted_and_an_order_gets_through(
    broker: Broker,
) -> None:
    # The consumer falls behind: nothing flushes the inbound queues (the pacer is stalled)
    # while 5,000 track reports and then one fire order arrive. The tracks queue keeps its
    # newest QOS0_QUEUE reports and counts every other one as dropped; the order, on its
    # own channel, is not pushed out and is delivered first.
    flood = 5_000
    kept = QOS0_QUEUE
    assert flood > 4 * kept

    async def main() -> None:
        bus = make_bus(broker)
        radar = born(bus, "R1", "radar")
        fdc = born(bus, "FDC", "fdc")
        l1 = born(bus, "L1", "launcher")
        tracks = l1.subscribe(TRACKS)
        orders = l1.subscribe(ORDER)
        await asyncio.wait_for(
            asyncio.gather(radar.connected.wait(), fdc.connected.wait(), l1.connected.wait()), 10
        )
        for n in range(flood):
            radar.publish(TRACKS, track_report(n))
        order = m.FireOrder(
            "FDC-00001", "L1", 1, (1.0, 2.0, 3.0), (0.0, 0.0, 0.0), (1.0, 2.0, 3.0), 9.0, 1, 0.0, 9.0
        )
        fdc.publish(ORDER, order)
        await until(
            lambda: bus.stats.dropped == flood - kept and l1.queued == kept + 1, 30, "the flood received"
        )
        assert bus.flush() == kept + 1
        got = [msg.body.scan_time_s for msg in taken(tracks)]
        assert got == [float(n) for n in range(flood - kept, flood)], (got[:3], got[-3:])
        assert [msg.body.order_id for msg in taken(orders)] == ["FDC-00001"]
        assert bus.stats.dropped == flood - kept
        await bus.close()

    asyncio.run(main())


def test_a_node_at_another_speed_than_the_live_world_fails_at_its_birth(broker: Broker) -> None:
    # A node (re)started while the cell runs hears the world's retained birth first.
    async def main() -> None:
        cell = make_bus(broker)
        cell.speed = 50.0
        world = born(cell, "world", "world")
        await asyncio.wait_for(world.connected.wait(), 10)
        node = MqttBus(
            simpy.Environment(), TOPICS, BrokerConfig(host=HOST, port=broker.port, client_id="node")
        )
        sync = world_clock(node, 25.0)
        with pytest.raises(RealtimeError, match="this node runs at --speed 25 but the cell at 50"):
            await asyncio.wait_for(sync, 10)
        following = world_clock(node)  # no speed of its own: follows the cell's
        cell.env = simpy.Environment(initial_time=7.0)
        deadline = time.monotonic() + 10
        while not following.done() and time.monotonic() < deadline:  # until its watcher is subscribed
            world.publish(TOPICS.topic("world", "world", "truth"), m.TruthReport.empty())
            await asyncio.sleep(0.05)
        assert (await asyncio.wait_for(following, 1)).speed == 50.0
        await node.close()
        await cell.close()

    asyncio.run(main())
