"""Speed of the real-time MQTT transport next to raw aiomqtt, measured side by side in one run.

    python benchmarks/bench_mqtt.py [--quick]

Starts its own Mosquitto on a free 127.0.0.1 port (TCP_NODELAY, no persistence,
no files for the broker to write) and stops it at the end, also on error.
Three parts, each printing our figure next to a raw reference measured in the
same run (repeats interleaved, so machine noise hits both alike):

1. latency: radar track report -> FDC -> fire order at the launcher through
   MqttBus/MqttEndpoint/Pacer/codec, next to a raw aiomqtt chain of the same
   shape and payload bytes, and a raw QoS 1 echo round trip;
2. pacing lateness of the reference scenario run in real time by ``run_cell``,
   next to a bare Pacer with no transport (load average printed around it);
3. publish throughput of 300-track reports (protobuf encoding included), next
   to raw aiomqtt publishing the same pre-encoded bytes; every message is
   counted at a subscriber, so a dropped message cannot inflate the figure.

``--quick`` takes fewer samples (under 30 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import aiomqtt
import numpy as np
import simpy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bmc.engine import clock  # noqa: E402
from bmc.engine.clock import nearest_rank as pct  # noqa: E402
from bmc.engine.realtime import RealtimeOptions, run_cell  # noqa: E402
from bmc.engine.report import RunReport  # noqa: E402
from bmc.scenario import load_scenario  # noqa: E402
from bmc.testing import HOST, Broker  # noqa: E402
from protocols import codec  # noqa: E402
from protocols import messages as m  # noqa: E402
from protocols.bus import Mailbox  # noqa: E402
from protocols.mqtt import BrokerConfig, MqttBus, MqttEndpoint  # noqa: E402
from protocols.topics import Topics  # noqa: E402

SCENARIO = ROOT / "sim_configs" / "belgium_nasams.yaml"
ORDER_KEY = b"bench-launcher-key"
SAMPLE_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class Settings:
    """How many samples each part takes."""

    latency_samples: int
    latency_block: int
    latency_gap_s: float
    latency_tracks: int
    tput_messages: int
    tput_repeats: int
    tput_tracks: int
    pace_cell_s: float
    pace_bare_s: float


FULL = Settings(1200, 50, 0.003, 20, 1000, 5, 300, 30.0, 10.0)
QUICK = Settings(200, 40, 0.003, 20, 300, 3, 300, 6.0, 2.0)


# ---------------------------------------------------------------- small helpers


def ms(seconds: float) -> str:
    """Seconds as a fixed-width millisecond figure."""
    return f"{seconds * 1e3:7.3f}"


def loadavg() -> str:
    """The 1/5/15-minute load averages and the number of CPUs."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min, {os.cpu_count()} CPUs)"


class WarningTally(logging.Handler):
    """Counts warnings by (logger, message template); prints the first few of each."""

    SHOW = 3

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[tuple[str, str]] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        key = (record.name, str(record.msg))
        self.counts[key] += 1
        if self.counts[key] <= self.SHOW:
            sys.stderr.write(f"[log {record.levelname} {record.name}] {record.getMessage()}\n")


def raw_client(port: int, name: str) -> aiomqtt.Client:
    """A plain aiomqtt client set up like our endpoints (TCP_NODELAY, wide in-flight window)."""
    client = aiomqtt.Client(
        HOST,
        port,
        identifier=f"bench{os.getpid()}-{name}",
        protocol=aiomqtt.ProtocolVersion.V5,
        keepalive=30,
        max_inflight_messages=1000,
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        timeout=10,
    )
    client.pending_calls_threshold = 100_000
    return client


def broker_config(port: int, name: str) -> BrokerConfig:
    """Our transport's connection settings for this benchmark's broker."""
    return BrokerConfig(host=HOST, port=port, client_id=f"bench{os.getpid()}-{name}")


# ---------------------------------------------------------------- messages


def track_report(n: int, scan_time_s: float = 0.0) -> m.TrackReport:
    """A radar's report of ``n`` confirmed hostile tracks (fixed pseudo-random values)."""
    rng = np.random.default_rng(1)
    state = np.column_stack(
        [rng.uniform(-4e4, 4e4, (n, 2)), rng.uniform(30, 300, n), rng.normal(0, 80, (n, 3))]
    )
    cov = np.broadcast_to(np.diag([400.0, 400.0, 900.0, 25.0, 25.0, 25.0]), (n, 6, 6)).copy()
    return m.TrackReport(
        scan_time_s=scan_time_s,
        track_id=np.arange(1, n + 1, dtype=np.int64),
        state=state,
        covariance=cov,
        status=np.full(n, int(m.TrackStatus.CONFIRMED), dtype=np.int64),
        identity=np.full(n, int(m.Identity.HOSTILE), dtype=np.int64),
        classification=np.full(n, int(m.Classification.DRONE), dtype=np.int64),
        truth_id=tuple(f"OWA-EU-{i:02d}" for i in range(n)),
    )


def fire_order(report: m.TrackReport, number: int, now_s: float) -> m.FireOrder:
    """A signed fire order at the report's first track, as the FDC would issue it."""
    p = report.state[0]
    order = m.FireOrder(
        order_id=f"FDC-{number:06d}",
        launcher_id="L1",
        target_track_id=int(report.track_id[0]),
        target_position_m=(float(p[0]), float(p[1]), float(p[2])),
        target_velocity_mps=(float(p[3]), float(p[4]), float(p[5])),
        intercept_point_m=(float(p[0]) * 0.5, float(p[1]) * 0.5, float(p[2])),
        intercept_time_s=now_s + 20.0,
        rounds=1,
        issued_time_s=now_s,
        expiry_time_s=now_s + 5.0,
    )
    return codec.sign_order(order, ORDER_KEY)


# ---------------------------------------------------------------- part 1: latency


class Probe:
    """Time stamps of the sample in flight; the receiver resolves ``done``."""

    def __init__(self) -> None:
        self.t0 = 0.0
        self.t1 = 0.0
        self.done: asyncio.Future[float] | None = None

    def arm(self) -> asyncio.Future[float]:
        self.t0 = self.t1 = 0.0
        self.done = asyncio.get_running_loop().create_future()
        return self.done

    def hop(self) -> None:
        self.t1 = time.perf_counter()

    def finish(self) -> None:
        t = time.perf_counter()
        if self.done is not None and not self.done.done():
            self.done.set_result(t)


def stamp_puts(mailbox: Any, stamp: Callable[[], None]) -> None:
    """Call ``stamp`` whenever the transport puts a message into ``mailbox`` (an Inbox or a Store)."""
    original = mailbox.put

    class Stamped(type(mailbox)):  # type: ignore[misc]
        __slots__ = ()

        def put(self, item: Any) -> Any:
            stamp()
            return original(item)

    # A subclass without slots of its own: the object's layout is unchanged.
    mailbox.__class__ = Stamped


class Chain:
    """Something that sends one probe and reports its hops."""

    name = ""
    probe: Probe

    async def send(self) -> None:
        raise NotImplementedError


class OursChain(Chain):
    """Radar R1 -> FDC -> launcher L1 through one MqttBus (three connections) and its Pacer.

    As in ``run_cell``: one process, one bus, one pacer delivering into SimPy
    inboxes; the FDC is a SimPy process that answers every track report with a
    signed fire order at once (no assignment tick).
    """

    name = "ours"

    def __init__(self, port: int, tracks: int) -> None:
        self.probe = Probe()
        self.env = simpy.Environment()
        self.topics = Topics("bmc/v1/bench")
        self.bus = MqttBus(self.env, self.topics, broker_config(port, "chain"))
        self.pacer = clock.Pacer(self.env, 1.0)
        self.bus.set_waker(self.pacer.wake)
        self.report = track_report(tracks)
        self.track_topic = self.topics.topic("radar", "R1", "tracks")
        self.order_topic = self.topics.topic("launcher", "L1", "order")
        self.radar = self._endpoint("R1", "radar")
        self.fdc = self._endpoint("FDC", "fdc")
        self.launcher = self._endpoint("L1", "launcher")
        fdc_in = self.fdc.subscribe(self.topics.any("radar", "tracks"))
        launcher_in = self.launcher.subscribe(self.order_topic)
        stamp_puts(fdc_in, self.probe.hop)
        stamp_puts(launcher_in, self.probe.finish)
        self.env.process(self._fdc(fdc_in))
        self.env.process(self._launcher(launcher_in))
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def _endpoint(self, node_id: str, kind: str) -> MqttEndpoint:
        ep = self.bus.endpoint(node_id)
        ep.announce(kind, self.topics.topic(kind, node_id, "state"))
        return ep

    def _fdc(self, inbox: Mailbox) -> Generator[simpy.Event, Any, None]:
        number = 0
        while True:
            msg: m.Message = yield inbox.get()
            assert isinstance(msg.body, m.TrackReport)
            number += 1
            self.fdc.publish(self.order_topic, fire_order(msg.body, number, float(self.env.now)))

    def _launcher(self, inbox: Mailbox) -> Generator[simpy.Event, Any, None]:
        while True:
            yield inbox.get()

    def order_bytes(self) -> bytes:
        """A fire order encoded as ours sends it (for the raw chain's second hop)."""
        return codec.encode(m.Header("FDC", 1, 0.0), fire_order(self.report, 1, 0.0))

    def track_bytes(self) -> bytes:
        """The track report encoded as ours sends it (for the raw chain's first hop)."""
        return codec.encode(m.Header("R1", 1, 0.0), self.report)

    async def start(self) -> None:
        eps = [self.radar, self.fdc, self.launcher]
        await asyncio.wait_for(asyncio.gather(*(ep.connected.wait() for ep in eps)), 10)
        self.task = asyncio.get_running_loop().create_task(self.pacer.run(1e9, self.bus.flush, self.stop))

    async def send(self) -> None:
        self.probe.t0 = time.perf_counter()
        self.radar.publish(self.track_topic, self.report)

    async def close(self) -> None:
        self.stop.set()
        self.pacer.wake()
        if self.task is not None:
            await self.task
        await self.bus.close()


async def _relay(
    client: aiomqtt.Client, stamp: Callable[[], None], topic: str, payload: bytes | None
) -> None:
    """Stamp every message received; republish it (or ``payload``) on ``topic`` at QoS 1."""
    async for message in client.messages:
        stamp()
        body = payload if payload is not None else message.payload
        await client.publish(topic, body, qos=1)


async def _sink(client: aiomqtt.Client, stamp: Callable[[], None]) -> None:
    async for _message in client.messages:
        stamp()


class RawChain(Chain):
    """The same shape in raw aiomqtt: publisher -QoS 0-> relay -QoS 1-> receiver, same payload bytes."""

    name = "raw chain"

    def __init__(self, port: int, track_bytes: bytes, order_bytes: bytes) -> None:
        self.probe = Probe()
        self.track_bytes = track_bytes
        self.order_bytes = order_bytes
        self.pub = raw_client(port, "raw-radar")
        self.relay = raw_client(port, "raw-fdc")
        self.recv = raw_client(port, "raw-launcher")
        self.track_topic = "bmc/v1/bench-raw/radar/R1/tracks"
        self.order_topic = "bmc/v1/bench-raw/launcher/L1/order"

    async def start(self, stack: contextlib.AsyncExitStack, spawn: Callable[[Awaitable[None]], None]) -> None:
        for c in (self.pub, self.relay, self.recv):
            await stack.enter_async_context(c)
        await self.relay.subscribe(self.track_topic, qos=0)
        await self.recv.subscribe(self.order_topic, qos=1)
        spawn(_relay(self.relay, self.probe.hop, self.order_topic, self.order_bytes))
        spawn(_sink(self.recv, self.probe.finish))

    async def send(self) -> None:
        self.probe.t0 = time.perf_counter()
        await self.pub.publish(self.track_topic, self.track_bytes, qos=0)


class RawEcho(Chain):
    """Raw QoS 1 round trip: A publishes, B (TCP_NODELAY) echoes it back at QoS 1, A receives."""

    name = "raw echo"

    def __init__(self, port: int, payload: bytes) -> None:
        self.probe = Probe()
        self.payload = payload
        self.a = raw_client(port, "echo-a")
        self.b = raw_client(port, "echo-b")
        self.ping = "bmc/v1/bench-raw/echo/ping"
        self.pong = "bmc/v1/bench-raw/echo/pong"

    async def start(self, stack: contextlib.AsyncExitStack, spawn: Callable[[Awaitable[None]], None]) -> None:
        for c in (self.a, self.b):
            await stack.enter_async_context(c)
        await self.b.subscribe(self.ping, qos=1)
        await self.a.subscribe(self.pong, qos=1)
        spawn(_relay(self.b, self.probe.hop, self.pong, None))
        spawn(_sink(self.a, self.probe.finish))

    async def send(self) -> None:
        self.probe.t0 = time.perf_counter()
        await self.a.publish(self.ping, self.payload, qos=1)


@dataclass(slots=True)
class Samples:
    """End-to-end and first-hop times of one chain, seconds."""

    total: list[float]
    first_hop: list[float]
    lost: int = 0


async def _one(chain: Chain) -> tuple[float, float] | None:
    done = chain.probe.arm()
    await chain.send()
    try:
        t_end = await asyncio.wait_for(done, SAMPLE_TIMEOUT_S)
    except TimeoutError:
        await asyncio.sleep(0.5)  # let a straggler land before the next sample
        return None
    return t_end - chain.probe.t0, chain.probe.t1 - chain.probe.t0


async def measure_latency(port: int, cfg: Settings) -> None:
    load0 = loadavg()
    ours = OursChain(port, cfg.latency_tracks)
    track_bytes, order_bytes = ours.track_bytes(), ours.order_bytes()
    raw = RawChain(port, track_bytes, order_bytes)
    echo = RawEcho(port, order_bytes)
    tasks: list[asyncio.Task[None]] = []

    def spawn(coro: Awaitable[None]) -> None:
        tasks.append(asyncio.ensure_future(coro))

    chains: list[Chain] = [ours, raw, echo]
    results = {c.name: Samples([], []) for c in chains}
    async with contextlib.AsyncExitStack() as stack:
        try:
            await ours.start()
            await raw.start(stack, spawn)
            await echo.start(stack, spawn)
            for c in chains:  # warm-up, not recorded
                for _ in range(20):
                    await _one(c)
                    await asyncio.sleep(cfg.latency_gap_s)
            blocks = max(cfg.latency_samples // cfg.latency_block, 1)
            for b in range(blocks):
                order = chains[b % 3 :] + chains[: b % 3]
                for c in order:
                    res = results[c.name]
                    for _ in range(cfg.latency_block):
                        got = await _one(c)
                        if got is None:
                            res.lost += 1
                        else:
                            res.total.append(got[0])
                            res.first_hop.append(got[1])
                        await asyncio.sleep(cfg.latency_gap_s)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await ours.close()
        stats = ours.bus.stats

    print("\n1. End-to-end latency, radar track report -> FDC -> fire order at the launcher")
    print(
        f"   payloads: TrackReport {len(track_bytes)} B ({cfg.latency_tracks} tracks) at QoS 0, "
        f"FireOrder {len(order_bytes)} B at QoS 1; {cfg.latency_samples} samples each, "
        f"interleaved in blocks of {cfg.latency_block}, {cfg.latency_gap_s * 1e3:.0f} ms apart"
    )
    print("   ours      : MqttEndpoint R1.publish (encode) -> broker -> FDC connection: decode, queue,")
    print("               Pacer wake + flush into the FDC's SimPy inbox -> FDC process builds, signs and")
    print("               publishes a FireOrder -> broker -> L1 connection: decode, queue, Pacer flush; stop")
    print("               the clock when the order is put into L1's inbox")
    print("   raw chain : same shape and bytes in bare aiomqtt (3 clients, TCP_NODELAY): publish QoS 0 ->")
    print("               relay client republishes the order bytes at QoS 1 -> receiver gets it; no codec")
    print("   raw echo  : one QoS 1 round trip: publish the order bytes, a second client echoes them")
    print("               back at QoS 1 (two broker hops, like the chains)")
    print("   hop1: publish call -> first receiver (ours: put into the FDC's inbox; raw: relay/echo client)")
    print(f"   load average before: {load0}; after: {loadavg()}")
    print(f"   {'':12}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}{'hop1 p50':>10}{'lost':>6}")
    for name, res in results.items():
        if not res.total:
            print(f"   {name:12}  no samples (lost {res.lost})")
            continue
        tot, hop = res.total, res.first_hop
        print(
            f"   {name:12}{ms(pct(tot, 0.5)):>9}{ms(pct(tot, 0.9)):>9}{ms(pct(tot, 0.99)):>9}"
            f"{ms(max(tot)):>9}{ms(pct(hop, 0.5)):>10}{res.lost:>6}"
        )
    o, r, e = results["ours"].total, results["raw chain"].total, results["raw echo"].total
    if o and r and e:
        for label, ref in (("raw chain", r), ("raw echo", e)):
            print(
                f"   ratio ours / {label:9}: p50 {pct(o, 0.5) / pct(ref, 0.5):.2f}x, "
                f"p99 {pct(o, 0.99) / pct(ref, 0.99):.2f}x"
            )
        verdict = (
            "met" if pct(o, 0.5) <= 1.5 * pct(r, 0.5) and pct(o, 0.99) <= 1.5 * pct(r, 0.99) else "NOT met"
        )
        print(f"   goal ours <= 1.5x the raw round trip (p50 and p99, vs the raw chain): {verdict}")
    print(
        f"   (bus counters: published {stats.published}, delivered {stats.delivered}, "
        f"dropped {stats.dropped}, rejected {stats.rejected_total})"
    )


# ---------------------------------------------------------------- part 2: pacing


async def _bare_pacer(duration_s: float) -> list[float]:
    """Lateness of a Pacer with no transport, over a few periodic SimPy processes."""
    env = simpy.Environment()
    pacer = clock.Pacer(env, 1.0)

    def ticker(period: float) -> Generator[simpy.Event, Any, None]:
        while True:
            yield env.timeout(period)

    for period in (0.05, 0.1, 0.5, 1.0, 1.5, 2.0):
        env.process(ticker(period))
    await pacer.run(duration_s, lambda: 0)
    return pacer.lateness_s


async def _cell(port: int, duration_s: float) -> tuple[RunReport, list[float]]:
    """``run_cell`` of the reference scenario at speed 1, and its Pacer's raw lateness list."""
    scenario = load_scenario(SCENARIO).model_copy(update={"duration_s": duration_s})
    captured: list[clock.Pacer] = []
    original = clock.Pacer

    class CapturingPacer(original):  # type: ignore[valid-type,misc]
        def __init__(self, env: simpy.Environment, speed: float = 1.0) -> None:
            super().__init__(env, speed)
            captured.append(self)

    setattr(clock, "Pacer", CapturingPacer)  # noqa: B010 -- observe only; restored below
    try:
        report = await run_cell(scenario, RealtimeOptions(broker=broker_config(port, "cell"), speed=1.0))
    finally:
        setattr(clock, "Pacer", original)  # noqa: B010
    return report, captured[0].lateness_s if captured else []


def _lateness_line(name: str, lateness: list[float]) -> str:
    if not lateness:
        return f"   {name:12}  no deadlines"
    over = sum(1 for x in lateness if x > 1e-3)
    return (
        f"   {name:12}{ms(pct(lateness, 0.5)):>9}{ms(pct(lateness, 0.99)):>9}{ms(max(lateness)):>9}"
        f"{len(lateness):>10}{over:>9}"
    )


async def measure_pacing(port: int, cfg: Settings) -> None:
    print(
        f"\n2. Pacing lateness in real time (speed 1), {SCENARIO.name} via run_cell for {cfg.pace_cell_s:g} s"
    )
    print(f"   load average before: {loadavg()}")
    bare = await _bare_pacer(cfg.pace_bare_s)
    t0 = time.perf_counter()
    report, lateness = await _cell(port, cfg.pace_cell_s)
    wall = time.perf_counter() - t0
    print(f"   load average after : {loadavg()}")
    print("   lateness = wall time at which the Pacer starts the events of a deadline minus the deadline;")
    print("   in run_cell it also counts each message delivery (its events are due at the delivery's")
    print("   simulated time). bare pacer: the same Pacer without transport,")
    print(f"   periodic processes only, run for {cfg.pace_bare_s:g} s just before run_cell")
    print(f"   {'':12}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'deadlines':>10}{'> 1 ms':>9}")
    print(_lateness_line("run_cell", lateness))
    print(_lateness_line("bare pacer", bare))
    assert report.realtime is not None
    summary = report.realtime["pacing_lateness"]
    msgs = report.messages
    rt = report.realtime
    print(
        f"   run_cell report: p50 {summary['p50_ms']} ms, p99 {summary['p99_ms']} ms, "
        f"max {summary['max_ms']} ms; {report.sim_time_s:.1f} sim s in {wall:.1f} wall s"
    )
    print(
        f"   messages: published {msgs['published']}, delivered {msgs['delivered']}, "
        f"dropped {msgs['dropped']}, rejected {msgs['rejected']}; "
        f"sequence gaps {rt['sequence_gaps']}, reconnects {rt['reconnects']}"
    )
    if summary["p99_ms"] is not None:
        verdict = "met" if summary["p99_ms"] <= 1.0 else "NOT met"
        print(f"   goal p99 <= 1 ms on an idle machine: {verdict} (judge by the load average above)")


# ---------------------------------------------------------------- part 3: throughput


class _SubState:
    """What the subscriber process counts for the current run."""

    def __init__(self) -> None:
        self.topic = ""
        self.expected = 0
        self.count = 0
        self.bytes = 0
        self.t_last = 0.0


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def subscriber_main(port: int, topic_filters: list[str]) -> None:
    """The counting subscriber, run in a process of its own (``--subscriber``).

    Reads commands on stdin: ``expect <topic> <n>`` (answers ``ok``, then
    ``done <count> <bytes> <t_last>`` once n messages arrived), ``status``
    (answers ``count <count> <bytes> <t_last>``), ``quit``. Times are
    ``time.monotonic()``, a system-wide clock on Linux.
    """
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    st = _SubState()

    async def count(client: aiomqtt.Client) -> None:
        async for message in client.messages:
            if str(message.topic) != st.topic or not isinstance(message.payload, (bytes, bytearray)):
                continue
            st.count += 1
            st.bytes += len(message.payload)
            st.t_last = time.monotonic()
            if st.count == st.expected:
                _say(f"done {st.count} {st.bytes} {st.t_last!r}")

    async with raw_client(port, "tput-sub") as client:
        for f in topic_filters:
            await client.subscribe(f, qos=0)
        task = loop.create_task(count(client))
        _say("ready")
        while line := await reader.readline():
            cmd = line.decode().split()
            if cmd[0] == "expect":
                st.topic, st.expected = cmd[1], int(cmd[2])
                st.count = st.bytes = 0
                st.t_last = 0.0
                _say("ok")
            elif cmd[0] == "status":
                _say(f"count {st.count} {st.bytes} {st.t_last!r}")
            else:
                break
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class Subscriber:
    """Parent side of the subscriber process."""

    def __init__(self, port: int, topic_filters: list[str]) -> None:
        self.args = [sys.executable, str(Path(__file__).resolve()), "--subscriber", str(port), *topic_filters]
        self.proc: asyncio.subprocess.Process | None = None

    async def _line(self, timeout_s: float) -> list[str]:
        assert self.proc is not None and self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout_s)
        if not raw:
            raise RuntimeError("the subscriber process ended")
        return raw.decode().split()

    async def _send(self, line: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        if await self._line(15.0) != ["ready"]:
            raise RuntimeError("the subscriber process did not start")

    async def expect(self, topic: str, n: int) -> None:
        await self._send(f"expect {topic} {n}")
        while (await self._line(5.0))[0] != "ok":
            pass

    async def status(self) -> tuple[int, int, float]:
        await self._send("status")
        while True:
            words = await self._line(5.0)
            if words[0] == "count":
                return int(words[1]), int(words[2]), float(words[3])

    async def wait_all(self, n: int, t0: float) -> tuple[float | None, int]:
        """(messages/s, count): rate is None when not exactly ``n`` arrived."""
        with contextlib.suppress(TimeoutError):
            while (await self._line(5.0 + n * 0.005))[0] != "done":
                pass
        await asyncio.sleep(0.05)  # any extra message would be counted by now
        count, _size, t_last = await self.status()
        if count != n:
            return None, count
        return n / (t_last - t0), count

    async def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(Exception):
            assert proc.stdin is not None
            proc.stdin.write(b"quit\n")
            await proc.stdin.drain()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def measure_throughput(port: int, cfg: Settings) -> None:
    load0 = loadavg()
    n = cfg.tput_messages
    report = track_report(cfg.tput_tracks)
    topics = Topics("bmc/v1/bench-tput")
    ours_topic = topics.topic("radar", "R300", "tracks")
    raw_topic = "bmc/v1/bench-raw/tput"
    bus = MqttBus(simpy.Environment(), topics, broker_config(port, "tput"))
    ep = bus.endpoint("R300")
    ep.announce("radar", topics.topic("radar", "R300", "state"))
    payload = codec.encode(m.Header("R300", 1, 0.0), report)

    # Encoding alone, for reference (best of 5 rounds).
    k = 200
    encode_s = 1.0
    for _ in range(5):
        t = time.perf_counter()
        for i in range(k):
            codec.encode(m.Header("R300", i, 0.0), report)
        encode_s = min(encode_s, (time.perf_counter() - t) / k)

    sub = Subscriber(port, [ours_topic, raw_topic])
    pub = raw_client(port, "tput-raw")

    async def ours() -> float:
        t0 = time.monotonic()
        for _ in range(n):
            ep.publish(ours_topic, report)
        return t0

    async def raw_awaited() -> float:
        t0 = time.monotonic()
        for _ in range(n):
            await pub.publish(raw_topic, payload, qos=0)
        return t0

    async def raw_gathered() -> float:
        t0 = time.monotonic()
        await asyncio.gather(*(pub.publish(raw_topic, payload, qos=0) for _ in range(n)))
        return t0

    async def raw_paho() -> float:
        paho = pub._client
        t0 = time.monotonic()
        for _ in range(n):
            paho.publish(raw_topic, payload, qos=0)
        return t0

    variants: dict[str, tuple[str, Callable[[], Awaitable[float]]]] = {
        "ours": (ours_topic, ours),
        "raw awaited": (raw_topic, raw_awaited),
        "raw gathered": (raw_topic, raw_gathered),
        "raw paho": (raw_topic, raw_paho),
    }
    rates: dict[str, list[float]] = {name: [] for name in variants}
    invalid: Counter[str] = Counter()
    try:
        await sub.start()
        async with pub:
            await asyncio.wait_for(ep.connected.wait(), 10)
            names = list(variants)
            for r in range(cfg.tput_repeats + 1):  # round 0 is a warm-up
                for name in names[r % len(names) :] + names[: r % len(names)]:
                    topic, run = variants[name]
                    await sub.expect(topic, n)
                    rate, count = await sub.wait_all(n, await run())
                    if r > 0:
                        if rate is None:
                            invalid[name] += 1
                            print(f"   !! {name}: the subscriber got {count} of {n}; run discarded")
                        else:
                            rates[name].append(rate)
                    await asyncio.sleep(0.2)
    finally:
        await sub.stop()
        await bus.close()
    stats = bus.stats

    print(f"\n3. Publish throughput, {cfg.tput_tracks}-track TrackReport ({len(payload):,} B) at QoS 0")
    print(f"   {n} messages per run, {cfg.tput_repeats} runs each, interleaved (after a warm-up round).")
    print("   A raw aiomqtt subscriber in a separate process must count exactly N (nothing missing, nothing")
    print("   extra) or the run is discarded; rate = N / (first publish call -> N-th message received)")
    print("   ours        : MqttEndpoint.publish(topic, TrackReport) N times in a loop (encoding included;")
    print("                 each call hands the bytes to the paho client under aiomqtt and writes them to")
    print("                 the socket at once: no task, no await)")
    print("   raw awaited : `await client.publish(topic, same_bytes, qos=0)` N times, one after another")
    print("   raw gathered: N `client.publish(topic, same_bytes, qos=0)` awaited together (asyncio.gather)")
    print("   raw paho    : the paho client under aiomqtt, `publish(topic, same_bytes, qos=0)` N times, no")
    print("                 await (what a QoS 0 publish costs without aiomqtt's per-call Event + wait_for)")
    print("   (raw gathered keeps all N publishes pending at once; aiomqtt counts every pending call on each")
    print("   publish, so its cost per message grows with N; raw awaited keeps one pending)")
    print(f"   load average before: {load0}; after: {loadavg()}")
    print(f"   encode alone: {encode_s * 1e6:.0f} us per report (best) = {1 / encode_s:,.0f} reports/s")
    print(f"   {'':14}{'best msg/s':>11}{'median':>9}{'MB/s med':>10}{'runs':>6}{'discarded':>11}")
    for name, rs in rates.items():
        if not rs:
            print(f"   {name:14}  no valid run (discarded {invalid[name]})")
            continue
        med = statistics.median(rs)
        print(
            f"   {name:14}{max(rs):>11,.0f}{med:>9,.0f}{med * len(payload) / 1e6:>10.1f}"
            f"{len(rs):>6}{invalid[name]:>11}"
        )
    if all(rates[x] for x in ("ours", "raw awaited", "raw gathered")):
        o = statistics.median(rates["ours"])
        for ref in ("raw awaited", "raw gathered"):
            rr = statistics.median(rates[ref])
            best = max(rates["ours"]) / max(rates[ref])
            print(f"   ratio ours / {ref:12}: {o / rr:.2f} (medians), {best:.2f} (bests)")
        raw_med = max(statistics.median(rates["raw awaited"]), statistics.median(rates["raw gathered"]))
        raw_best = max(max(rates["raw awaited"]), max(rates["raw gathered"]))
        ceiling = 1 / (1 / raw_med + encode_s)
        print(
            f"   faster raw + encode alone = {ceiling:,.0f} msg/s: what ours would reach with this encoder "
            f"if encoding and sending took turns ({ceiling / raw_med:.2f} of raw, medians)"
        )
        if rates["raw paho"]:
            paho_med = statistics.median(rates["raw paho"])
            print(f"   ratio ours / raw paho    : {o / paho_med:.2f} (medians), for reference (not the goal)")
        verdicts = [
            f"{label} {ours_rate / raw_rate:.2f} ({'met' if ours_rate >= 0.8 * raw_rate else 'NOT met'})"
            for label, ours_rate, raw_rate in (
                ("medians", o, raw_med),
                ("bests", max(rates["ours"]), raw_best),
            )
        ]
        print(f"   goal ours >= 80% of the faster raw aiomqtt row: {', '.join(verdicts)}")
    print(
        f"   (bus counters: published {stats.published}, dropped {stats.dropped}, "
        f"reconnects {stats.reconnects})"
    )


# ---------------------------------------------------------------- main


async def run_all(port: int, cfg: Settings) -> None:
    await measure_latency(port, cfg)
    await measure_pacing(port, cfg)
    await measure_throughput(port, cfg)


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer samples (< 30 s)")
    ap.add_argument("--subscriber", nargs="+", metavar="ARG", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.subscriber:
        asyncio.run(subscriber_main(int(args.subscriber[0]), args.subscriber[1:]))
        return 0
    cfg = QUICK if args.quick else FULL
    signal.signal(signal.SIGTERM, _terminate)
    warnings = WarningTally()
    logging.getLogger().addHandler(warnings)
    logging.getLogger().setLevel(logging.WARNING)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_mqtt_") as tmp:
        # The test broker (bmc.testing): the rig's settings, loopback only, logging to our file.
        broker = Broker(Path(tmp), extra_conf="log_type error\nlog_type warning\n")
        try:
            broker.start()
            print(
                f"MQTT transport benchmark ({'quick' if args.quick else 'full'}), "
                f"Python {sys.version.split()[0]}"
            )
            print(
                f"broker: {broker.exe} on {HOST}:{broker.port} (set_tcp_nodelay, no persistence); "
                f"load {loadavg()}"
            )
            if os.getloadavg()[0] > 0.5 * (os.cpu_count() or 1):
                print("note: the machine is busy (1-min load above half its CPUs): expect noisy figures")
            asyncio.run(run_all(broker.port, cfg))
        finally:
            broker.stop()
            log = broker.log().strip()  # errors and warnings only (log_type)
    print(f"\ntotal wall time {time.perf_counter() - t0:.1f} s")
    if log:
        print(f"broker errors/warnings:\n{log}")
    if warnings.counts:
        print("log warnings during the run (count, logger, message):")
        for (name, msg), count in warnings.counts.most_common():
            print(f"   {count:7d}  {name}: {msg}")
    else:
        print("no log warnings during the run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
