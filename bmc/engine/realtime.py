"""Real-time runs over a real MQTT broker: the whole cell, or one node per process.

``run_cell`` hosts the world and every node the scenario does not mark
external; it waits for the external nodes' births, then paces the simulation
to the wall clock. ``run_node`` hosts a single node: it is born at once (so
the cell can see it), then aligns its simulated clock with the world's first
truth report and follows it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import simpy

from bmc.engine import clock
from bmc.engine.metrics import MetricsCollector, message_counts, parse_check
from bmc.engine.node import Node
from bmc.engine.report import RunReport
from bmc.engine.runner import cell_identities, external_nodes, make_nodes, replace_seed
from bmc.engine.stats import is_statistical
from bmc.keys import CellKeys
from bmc.scenario import Scenario
from protocols import messages as m
from protocols.auth import MONITOR, Keyring
from protocols.bus import Tap
from protocols.errors import UsageError
from protocols.mqtt import BrokerConfig, Delivered, Login, MqttBus, MqttEndpoint, birth_base
from protocols.topics import Topics, root_for

if TYPE_CHECKING:
    from bmc.interop.dis_in import DisInput

log = logging.getLogger(__name__)

Progress = Callable[[float, float], None]


class RealtimeError(UsageError, RuntimeError):
    """A real-time run that cannot start or go on; the message says why."""


@dataclass(frozen=True, slots=True)
class RealtimeOptions:
    """How to pace and where to connect."""

    broker: BrokerConfig
    speed: float | None = 1.0
    """Simulated seconds per wall second; None for a node that follows the cell's speed
    (announced in the world's birth)."""
    wait_external_s: float = 30.0
    """How long to wait for external nodes' births (or, for a node, the world's clock)."""
    connect_timeout_s: float = 10.0
    root: str | None = None
    """Topic root; default bmc/v1/<scenario name>."""
    keys: CellKeys | None = None
    """The keys of this process's nodes: every message sealed and checked. None: nothing is
    (for tests of the transport alone; the CLI always gives keys)."""
    credentials: Mapping[str, Login] | None = None
    """Identity -> its broker login (password, TLS certificate), from ``bmc broker-config --acl``."""
    dis_in: DisInput | None = None
    """Where to listen for other simulators' DIS entities (``bmc run --dis-in``); a cell only."""

    def __post_init__(self) -> None:
        if self.speed is not None and not self.speed > 0:
            raise ValueError(f"speed must be > 0 (got {self.speed})")


@dataclass(frozen=True, slots=True)
class WorldClock:
    """What a node outside the cell learns from the world before it starts."""

    sim_time_s: float
    """Simulated time of the world's first truth report heard."""
    wall_s: float
    """Wall clock when it was heard."""
    speed: float
    """The cell's pacing speed, from the world's birth (0 when the birth does not say)."""


def keyring_for(options: RealtimeOptions, local: Sequence[str]) -> Keyring | None:
    """The keyring of this process's identities, in a life numbered by the wall clock (every
    later life of a node is numbered higher, so its earlier lives' messages are refused)."""
    if options.keys is None:
        return None
    return options.keys.keyring(local, epoch=birth_base())


def _speed_mismatch(node: str, speed: float, cell: float) -> str | None:
    """Why a node paced at ``speed`` cannot join a cell paced at ``cell``, or None."""
    if speed <= 0.0 or cell <= 0.0 or abs(speed - cell) <= 1e-9 * cell:
        return None
    return (
        f"{node} runs at --speed {speed:g} but the cell at {cell:g}: start it with --speed {cell:g}, "
        "or without --speed to follow the cell"
    )


def node_kind(s: Scenario, node_id: str) -> str:
    """'radar', 'launcher', 'fdc' or 'world' for a node id of ``s``; ValueError when unknown."""
    if node_id == "world":
        return "world"
    if node_id == s.fdc.id:
        return "fdc"
    if any(r.id == node_id for r in s.radars):
        return "radar"
    if any(x.id == node_id for x in s.launchers):
        return "launcher"
    known = ["world", s.fdc.id, *(r.id for r in s.radars), *(x.id for x in s.launchers)]
    raise ValueError(f"no node {node_id!r} in scenario {s.name!r} (known: {', '.join(known)})")


async def wait_connected(bus: MqttBus, timeout_s: float) -> None:
    pending = [ep for ep in bus.endpoints if ep.started]
    try:
        await asyncio.wait_for(asyncio.gather(*(ep.connected.wait() for ep in pending)), timeout_s)
    except TimeoutError:
        missing = [ep.node_id for ep in pending if not ep.connected.is_set()]
        cfg = bus.broker
        raise RealtimeError(
            f"cannot reach the broker at {cfg.host}:{cfg.port} within {timeout_s:g} s "
            f"(not connected: {', '.join(missing)})"
        ) from None


async def run_cell(
    scenario: Scenario,
    options: RealtimeOptions,
    seed: int | None = None,
    progress: Progress | None = None,
    stop: asyncio.Event | None = None,
    taps: Sequence[Tap] = (),
    deliveries: Mapping[str, Delivered] | None = None,
) -> RunReport:
    """Run the cell in real time on the broker; return the report (with pacing figures).

    ``taps`` see every message under the topic root, as the monitor hears it; ``deliveries``
    (node id -> observer) see every message handed to one of this process's nodes, when."""
    s = scenario if seed is None else replace_seed(scenario, seed)
    env = simpy.Environment()
    topics = Topics(options.root or root_for(s.name))
    external = external_nodes(s)
    bus = MqttBus(env, topics, options.broker, keyring_for(options, cell_identities(s)))
    bus.credentials = dict(options.credentials or {})
    if options.speed is None:
        raise ValueError("a cell needs a speed (only a node follows the cell's)")
    bus.speed = options.speed
    pacer = clock.Pacer(env, options.speed)
    bus.set_waker(pacer.wake)
    metrics = MetricsCollector()
    births: dict[str, m.NodeStatus] = {}
    speeds: dict[str, float] = {}

    def watch(time_s: float, topic: str, payload: bytes, msg: m.Message) -> None:
        if isinstance(msg.body, m.NodeState):
            births[msg.body.node_id] = msg.body.status
            speeds[msg.body.node_id] = msg.body.speed
        metrics.observe(time_s, topic, payload, msg)

    bus.add_tap(watch)
    for tap in taps:
        bus.add_tap(tap)
    orders = options.keys.orders if options.keys is not None else None
    dis_in = options.dis_in
    source = dis_in.source(s) if dis_in is not None else None
    nodes = make_nodes(s, env, bus, topics, lambda node_id: node_id not in external, orders, source)
    for node in nodes:
        if deliveries and node.id in deliveries and isinstance(node.port, MqttEndpoint):
            node.port.on_deliver = deliveries[node.id]
    wall0 = clock.wall_seconds()
    try:
        await wait_connected(bus, options.connect_timeout_s)
        if external:
            deadline = clock.wall_seconds() + options.wait_external_s
            while any(births.get(x) != m.NodeStatus.BIRTH for x in external):
                if clock.wall_seconds() > deadline:
                    missing = [x for x in external if births.get(x) != m.NodeStatus.BIRTH]
                    raise RealtimeError(
                        f"external node(s) {', '.join(missing)} not born on {topics.root} "
                        f"within {options.wait_external_s:g} s (start them with `bmc node` or `bmc hil`)"
                    )
                await asyncio.sleep(0.02)
            wrong = [_speed_mismatch(x, speeds.get(x, 0.0), options.speed) for x in external]
            if any(wrong):
                raise RealtimeError("; ".join(w for w in wrong if w))
        if dis_in is not None:
            await dis_in.open(pacer.sim_now)
        for node in nodes:
            node.start()
        await wait_connected(bus, options.connect_timeout_s)
        await _pace(pacer, bus, s.duration_s, progress, stop)
        # Let the monitor hear the last messages.
        await asyncio.sleep(0.3)
        bus.flush()
    finally:
        if dis_in is not None:
            dis_in.close()
        await bus.close()
    report = metrics.report(
        scenario=s.name,
        seed=s.seed,
        sim_time_s=float(env.now),
        wall_time_s=clock.wall_seconds() - wall0,
        asset_ids=[a.id for a in s.assets],
        messages=message_counts(bus.stats),
        checks=[parse_check(c) for c in s.expect if not is_statistical(c)],
    )
    realtime = {
        "speed": options.speed,
        "pacing_lateness": pacer.lateness_summary(),
        "reconnects": bus.stats.reconnects,
        "sequence_gaps": sum(bus.stats.gaps.values()),
        "rejected_by_topic": {f"{t} ({r})": n for (t, r), n in sorted(bus.stats.rejected.items())},
    }
    return replace(report, realtime=realtime)


async def _pace(
    pacer: clock.Pacer, bus: MqttBus, until_s: float, progress: Progress | None, stop: asyncio.Event | None
) -> None:
    if progress is None:
        await pacer.run(until_s, bus.flush, stop)
        return
    step = max(until_s / 50, 1.0)
    t = float(pacer.env.now)
    while t < until_s and not (stop is not None and stop.is_set()):
        t = min(t + step, until_s)
        await pacer.run(t, bus.flush, stop)
        progress(float(pacer.env.now), until_s)


def world_clock(
    bus: MqttBus, speed: float | None = None, receiver: str = MONITOR
) -> asyncio.Future[WorldClock]:
    """A future set once the bus has heard the world's birth and its first truth report.

    A node outside the cell's process follows the world's clock from that report on, at the
    speed the birth announces. Both come through a connection of its own, subscribed to the
    world's state and truth topics only and closed once they are in: the node does not go on
    receiving (and decoding) the cell's traffic for the rest of the run. A node started with
    its own ``speed`` fails the future as soon as the birth shows the cell runs at another.
    With a keyring, the world's messages must be sealed for ``receiver`` (the node)."""
    sync: asyncio.Future[WorldClock] = asyncio.get_running_loop().create_future()
    heard: dict[str, float] = {}

    def on_world(_t: float, _topic: str, _payload: bytes, msg: m.Message) -> None:
        if sync.done():
            return
        body = msg.body
        if isinstance(body, m.NodeState) and body.node_id == "world" and body.status == m.NodeStatus.BIRTH:
            heard["speed"] = body.speed
            wrong = _speed_mismatch("this node", speed or 0.0, body.speed)
            if wrong:
                sync.set_exception(RealtimeError(wrong))
                bus.spawn(bus.drop(watcher))
                return
        elif isinstance(body, m.TruthReport) and "sim_time_s" not in heard:
            heard["sim_time_s"], heard["wall_s"] = msg.header.sim_time_s, clock.wall_seconds()
        if "speed" in heard and "sim_time_s" in heard:
            sync.set_result(WorldClock(heard["sim_time_s"], heard["wall_s"], heard["speed"]))
            bus.spawn(bus.drop(watcher))

    watcher = bus.watcher(bus.topics.topic("world", "world", "truth"), on_world, receiver)
    watcher.watch(bus.topics.topic("world", "world", "state"))
    return sync


async def world_time(
    sync: asyncio.Future[WorldClock], topics: Topics, options: RealtimeOptions
) -> tuple[float, float]:
    """(The world's simulated time now, the speed to pace at), once ``sync`` (from
    :func:`world_clock`) is set: the node's own ``options.speed``, or the cell's."""
    try:
        world = await asyncio.wait_for(sync, options.wait_external_s)
    except TimeoutError:
        raise RealtimeError(
            f"no birth and truth from the world on {topics.root}/world/world/{{state,truth}} within "
            f"{options.wait_external_s:g} s: is `bmc run --mqtt` running this scenario, and did it "
            "accept this node (it refuses one at another --speed)?"
        ) from None
    speed = options.speed if options.speed is not None else world.speed
    if not speed > 0:
        raise RealtimeError("the world's birth does not say its speed (an older bmc?): give --speed")
    return world.sim_time_s + (clock.wall_seconds() - world.wall_s) * speed, speed


async def run_node(
    scenario: Scenario,
    node_id: str,
    options: RealtimeOptions,
    stop: asyncio.Event | None = None,
) -> dict[str, Any]:
    """Host one node of ``scenario`` in real time until the scenario's end (or ``stop``)."""
    s = scenario
    kind = node_kind(s, node_id)
    topics = Topics(options.root or root_for(s.name))
    bus = MqttBus(simpy.Environment(), topics, options.broker, keyring_for(options, [node_id]))
    bus.credentials = dict(options.credentials or {})
    ep = bus.endpoint(node_id)
    bus.speed = options.speed or 0.0
    ep.announce(kind, topics.topic(kind, node_id, "state"))
    sync = world_clock(bus, options.speed, node_id)
    try:
        await wait_connected(bus, options.connect_timeout_s)
        start, speed = await world_time(sync, topics, options)
        env = simpy.Environment(initial_time=start)
        bus.env = env
        pacer = clock.Pacer(env, speed)
        bus.set_waker(pacer.wake)
        orders = options.keys.orders if options.keys is not None else None
        nodes: list[Node] = make_nodes(s, env, bus, topics, lambda x: x == node_id, orders)
        for node in nodes:
            node.start()
        await pacer.run(s.duration_s, bus.flush, stop)
    finally:
        await bus.close()
    return {
        "node": node_id,
        "sim_time_s": float(bus.env.now),
        "pacing_lateness": pacer.lateness_summary() if "pacer" in locals() else None,
        "messages": {
            "published": bus.stats.published,
            "delivered": bus.stats.delivered,
            "dropped": bus.stats.dropped,
            "rejected": bus.stats.rejected_total,
        },
        "rejected_by_topic": {f"{t} ({r})": n for (t, r), n in sorted(bus.stats.rejected.items())},
    }
