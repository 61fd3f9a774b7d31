"""Replays of a recording: onto a broker at the recorded pace, or into a fresh FDC.

``replay_to_mqtt`` republishes every recorded payload, byte for byte, on its
recorded topic with the channel's QoS and retain flag, at the recorded
simulated-time pace divided by ``speed``: displays and hardware see the
engagement again. It measures how late each publication left.

``replay_into_fdc`` is a regression test of battle-management logic: a fresh
FDC in virtual time receives the recorded inputs (radar tracks, launcher
status, engagement reports and births, detonations, operator commands) at
their recorded times and in their recorded order, and the fire orders it
issues are compared with the recorded ones. A real-time recording's message
times are its senders' clocks, not when the FDC's pacer handed each message over
(which can lie a whole FDC cycle later); when the recording logged those
deliveries (``bmc.deliveries``), the replay uses them instead.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bmc.engine import clock
from bmc.engine.runner import make_bus, make_nodes
from bmc.record import recorded_report, recorded_scenario
from bmc.scenario import ScenarioError
from protocols import codec
from protocols import messages as m
from protocols.mqtt import BrokerConfig, RawPublisher
from protocols.recording import (
    SCENARIO_METADATA,
    Delivery,
    RecordedMessage,
    Recording,
    RecordingError,
    payload_digest,
    read_recording,
)
from protocols.topics import Topics, parse_topic, root_for

PACING_TOLERANCE_MS = {"p99_ms": 10.0, "max_ms": 100.0}
"""How late a replayed publication may leave its recorded-pace deadline (publisher side).
Measured on a 2-core machine: p50 ~0.3 ms; p99 2-9 ms and max up to ~30 ms when other processes
load both cores (a bare asyncio timer shows the same outliers there), well under what a display
or a trainee notices."""

SPIN_S = 0.005
"""How long before a deadline the replay stops sleeping and spins (yielding): a process woken
late by a busy machine still publishes on time, at the cost of some CPU."""

LEAD_S = 0.05
"""Wall time between connecting and the first paced publication."""

ReplayProgress = Callable[[float, float, float], None]
"""Called with (simulated time reached, start, end of the replayed span)."""


# ---------------------------------------------------------------- delivery times


LOOKAHEAD = 512
"""Messages a delivery time looks ahead (see :func:`delivery_times`)."""


def delivery_times(
    messages: Iterable[RecordedMessage], lookahead: int = LOOKAHEAD
) -> Iterator[tuple[float, RecordedMessage]]:
    """(delivery time, message) in recorded order.

    A message's recorded time is its sender's header time. In a virtual run that is when
    the bus carried it, in order. A real-time recording holds what the monitor heard, in
    the order it heard it: retained births and deaths left on the broker by an earlier run
    come first with that run's times, and processes' clocks differ by milliseconds. A
    message heard before another cannot have been heard after the other's time, so its
    delivery time is the least recorded time among it and the next ``lookahead`` messages,
    never before the previous delivery. For an in-order recording it is the recorded time."""
    window: deque[RecordedMessage] = deque()
    mins: deque[tuple[int, float]] = deque()
    """Minima of the window by position, times increasing: mins[0] is the window's least time."""
    last = -math.inf
    head = 0

    def emit() -> tuple[float, RecordedMessage]:
        nonlocal last, head
        rm = window.popleft()
        last = max(last, mins[0][1])
        head += 1
        if mins[0][0] < head:
            mins.popleft()
        return last, rm

    try:
        for pos, rm in enumerate(messages):
            window.append(rm)
            while mins and mins[-1][1] >= rm.time_s:
                mins.pop()
            mins.append((pos, rm.time_s))
            if len(window) > lookahead:
                yield emit()
    except Exception:
        # A damaged recording stops here: what was read still goes out, then the error.
        while window:
            yield emit()
        raise
    while window:
        yield emit()


# ---------------------------------------------------------------- onto a broker


@dataclass(slots=True)
class MqttReplay:
    """What a replay onto a broker did."""

    sent: int = 0
    """Messages published in the replayed span."""
    retained_before: int = 0
    """Retained messages (node births and deaths) from before ``--from``, published at the start
    so displays know which nodes are alive."""
    skipped: int = 0
    """Messages before ``--from``."""
    start_s: float = 0.0
    end_s: float = 0.0
    """Simulated span replayed."""
    speed: float = 1.0
    wall_s: float = 0.0
    lateness_s: list[float] = field(default_factory=list)
    problem: str | None = None
    """The recording's damage (what was readable was replayed)."""

    def pacing(self) -> dict[str, float | None]:
        """p50, p99 and max lateness of publications behind their deadline, milliseconds."""
        return clock.lateness_summary(self.lateness_s)

    def within_tolerance(self) -> bool:
        """True when p99 and max lateness are within :data:`PACING_TOLERANCE_MS`."""
        p = self.pacing()
        return all(p[k] is None or float(p[k] or 0.0) <= lim for k, lim in PACING_TOLERANCE_MS.items())

    def summary(self) -> dict[str, Any]:
        """A JSON-able summary."""
        return {
            "sent": self.sent,
            "retained_before_start": self.retained_before,
            "skipped": self.skipped,
            "span_s": [round(self.start_s, 6), round(self.end_s, 6)],
            "speed": self.speed,
            "wall_time_s": round(self.wall_s, 3),
            "pacing_lateness": self.pacing(),
            "pacing_tolerance": dict(PACING_TOLERANCE_MS),
            "within_tolerance": self.within_tolerance(),
            "recording_problem": self.problem,
        }


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _qos(topic: str) -> tuple[int, bool]:
    parts = parse_topic(topic)
    return (parts.channel.qos, parts.channel.retained) if parts else (1, False)


async def replay_to_mqtt(
    path: str | Path,
    broker: BrokerConfig,
    speed: float = 1.0,
    t_from: float | None = None,
    t_to: float | None = None,
    progress: ReplayProgress | None = None,
    stop: asyncio.Event | None = None,
) -> MqttReplay:
    """Republish the recording at ``path`` on ``broker`` at its recorded pace times ``speed``.

    Only messages with ``t_from <= time <= t_to`` are paced; the latest retained message
    of each topic before ``t_from`` is published at once. Raises RecordingError when nothing
    is readable, BrokerError when the broker cannot be reached or the connection is lost; a
    damaged recording is replayed up to the damage and ``problem`` says where it stopped."""
    if not speed > 0 or not math.isfinite(speed):
        raise ValueError(f"speed must be > 0 (got {speed})")
    if t_from is not None and t_to is not None and t_to < t_from:
        raise ValueError(f"--to must not be before --from (got {t_from} .. {t_to})")
    rec = read_recording(path)
    meta = rec.meta(SCENARIO_METADATA)
    # For the progress bar: a real-time recording's last log time can be a stale retained
    # message's, beyond the run's end.
    ends = [
        (rec.end_ns - rec.base_ns) / 1e9 if rec.end_ns is not None else None,
        _float(meta.get("duration_s")),
    ]
    end_hint = t_to if t_to is not None else min((x for x in ends if x is not None), default=None)
    result = MqttReplay(speed=speed)
    retained: dict[str, bytes] = {}
    base_sim: float | None = t_from
    base_wall = 0.0
    paced = False
    deadlines: list[float | None] = []
    next_progress = 0.0
    messages = rec.messages()
    async with RawPublisher(broker) as pub:
        wall0 = clock.wall_seconds()
        try:
            for t, rm in delivery_times(messages):
                if stop is not None and stop.is_set():
                    break
                qos, retain = _qos(rm.topic)
                if t_from is not None and t < t_from:
                    result.skipped += 1
                    if retain:
                        retained[rm.topic] = rm.payload
                    continue
                if t_to is not None and t > t_to:
                    break
                if not paced:
                    paced = True
                    base_sim = t if base_sim is None else base_sim
                    for topic, payload in retained.items():
                        pub.send(topic, payload, 1, True)
                        deadlines.append(None)
                        result.retained_before += 1
                    retained.clear()
                    base_wall = clock.wall_seconds() + LEAD_S
                    result.start_s = base_sim
                assert base_sim is not None
                deadline = base_wall + (t - base_sim) / speed
                # Publications already sent go out while this waits (a burst due at once, together).
                await clock.sleep_until(deadline, SPIN_S)
                pub.send(rm.topic, rm.payload, qos, retain)
                deadlines.append(deadline)
                result.sent += 1
                result.end_s = t
                if progress is not None and clock.wall_seconds() >= next_progress:
                    progress(t, base_sim, end_hint if end_hint is not None else t)
                    next_progress = clock.wall_seconds() + 0.1
        except RecordingError as exc:
            result.problem = str(exc)
        await pub.drain()
        result.wall_s = clock.wall_seconds() - wall0
        result.lateness_s = [
            handed - deadline
            for handed, deadline in zip(pub.handed_s, deadlines, strict=False)
            if deadline is not None
        ]
    if progress is not None and result.sent:
        progress(result.end_s, result.start_s, max(result.end_s, end_hint or 0.0))
    return result


# ---------------------------------------------------------------- into an FDC


@dataclass(frozen=True, slots=True)
class OrderSeen:
    """One publication of a fire order."""

    time_s: float
    order: m.FireOrder
    nth: int
    """1 for the first publication of this order id, 2 for its first resend, ..."""


@dataclass(slots=True)
class FdcReplay:
    """A fresh FDC's fire orders against the recorded ones."""

    fdc_id: str
    recorded: list[OrderSeen]
    replayed: list[OrderSeen]
    differences: list[str]
    inputs: int
    """Recorded messages of the other nodes injected into the FDC's bus (it takes the ones it
    subscribes to: tracks, launcher reports and births, detonations, commands)."""
    overrides: list[str]
    notes: list[str] = field(default_factory=list)
    """Caveats: real-time recording, what-if divergence."""
    damage: str | None = None
    """Where a damaged recording stopped; the comparison then ends at its last readable message."""

    @property
    def identical(self) -> bool:
        """True when every fire order matched."""
        return not self.differences


_NUMERIC: tuple[tuple[str, Callable[[OrderSeen], tuple[float, ...]]], ...] = (
    ("publication time", lambda s: (s.time_s,)),
    ("issued_time_s", lambda s: (s.order.issued_time_s,)),
    ("expiry_time_s", lambda s: (s.order.expiry_time_s,)),
    ("intercept_time_s", lambda s: (s.order.intercept_time_s,)),
    ("intercept_point_m", lambda s: s.order.intercept_point_m),
    ("target_position_m", lambda s: s.order.target_position_m),
    ("target_velocity_mps", lambda s: s.order.target_velocity_mps),
)
_EXACT: tuple[tuple[str, Callable[[m.FireOrder], object]], ...] = (
    ("launcher", lambda o: o.launcher_id),
    ("target track", lambda o: o.target_track_id),
    ("rounds", lambda o: o.rounds),
)


def _close(a: tuple[float, ...], b: tuple[float, ...], tol: float) -> bool:
    return all(abs(x - y) <= tol * max(1.0, abs(x), abs(y)) for x, y in zip(a, b, strict=True))


def _fmt(v: tuple[float, ...]) -> str:
    return f"{v[0]:.6g}" if len(v) == 1 else "(" + ", ".join(f"{x:.1f}" for x in v) + ")"


def compare_orders(recorded: list[OrderSeen], replayed: list[OrderSeen], tol: float = 1e-6) -> list[str]:
    """Readable differences between two fire-order logs, one line per order id: its first
    publication field by field, then its resends (count and times). Numbers compare within
    ``tol`` (relative; absolute below 1)."""
    first_rec = {s.order.order_id: s for s in recorded if s.nth == 1}
    first_rep = {s.order.order_id: s for s in replayed if s.nth == 1}
    resends_rec: dict[str, list[float]] = {}
    resends_rep: dict[str, list[float]] = {}
    for seen, resends in ((recorded, resends_rec), (replayed, resends_rep)):
        for x in seen:
            if x.nth > 1:
                resends.setdefault(x.order.order_id, []).append(x.time_s)
    ids = set(first_rec) | set(first_rep) | set(resends_rec) | set(resends_rep)

    def when(oid: str) -> tuple[float, str]:
        x = first_rec.get(oid) or first_rep.get(oid)
        return (x.time_s if x is not None else math.inf, oid)

    out: list[str] = []
    for oid in sorted(ids, key=when):
        a, b = first_rec.get(oid), first_rep.get(oid)
        diffs: list[str] = []
        if a is not None and b is None:
            o = a.order
            diffs.append(
                f"recorded at {a.time_s:.3f} s ({o.launcher_id}, track {o.target_track_id}, "
                f"{o.rounds} round(s)), not issued by the replayed FDC"
            )
        elif a is None and b is not None:
            o = b.order
            diffs.append(
                f"issued only by the replayed FDC, at {b.time_s:.3f} s ({o.launcher_id}, "
                f"track {o.target_track_id}, {o.rounds} round(s))"
            )
        elif a is not None and b is not None:
            diffs += [
                f"{name} {get(a.order)} -> {get(b.order)}"
                for name, get in _EXACT
                if get(a.order) != get(b.order)
            ]
            diffs += [
                f"{name} {_fmt(get(a))} -> {_fmt(get(b))}"
                for name, get in _NUMERIC
                if not _close(get(a), get(b), tol)
            ]
        ra, rb = resends_rec.get(oid, []), resends_rep.get(oid, [])
        if len(ra) != len(rb):
            diffs.append(f"resent {len(rb)} time(s), recorded {len(ra)}")
        elif not _close(tuple(ra), tuple(rb), tol):
            diffs.append(f"resend times {_fmt(tuple(ra))} -> {_fmt(tuple(rb))}")
        if diffs:
            at = f" ({a.time_s:.3f} s)" if a is not None else ""
            out.append(f"{oid}{at}: " + "; ".join(diffs))
    return out


def replay_into_fdc(path: str | Path, overrides: list[str] | None = None, tol: float = 1e-6) -> FdcReplay:
    """Feed the recorded FDC inputs to a fresh FDC (the recorded scenario with ``overrides``
    such as ``fdc.doctrine=salvo-2``) and compare the fire orders it issues with the recorded ones.

    Raises ScenarioError for a recording without a usable scenario or a bad override,
    RecordingError when nothing is readable."""
    rec = read_recording(path)
    s = recorded_scenario(rec, overrides)
    meta = rec.meta(SCENARIO_METADATA)
    fdc_id = s.fdc.id
    notes: list[str] = []
    logged = rec.deliveries()
    if logged is not None and logged[0] != fdc_id:
        logged = None
    if meta.get("mode") == "realtime" and logged is None:
        notes.append(
            "recorded in real time: the order in which the FDC received messages is not recorded "
            "exactly, so timing differences of a few milliseconds can appear"
        )
    topics = Topics(meta.get("topic_root") or root_for(s.name))
    env = clock.virtual()
    bus = make_bus(s, env, topics)
    replayed: list[OrderSeen] = []
    recorded: list[OrderSeen] = []
    counts: dict[str, int] = {}
    probe = _Probe()

    def watch(t: float, topic: str, _payload: bytes, msg: m.Message) -> None:
        if probe.injecting or msg.header.sender != fdc_id:
            return
        probe.fdc_published += 1
        if not isinstance(msg.body, m.NodeState):
            probe.fdc_sent += 1
        if isinstance(msg.body, m.FireOrder):
            n = counts[msg.body.order_id] = counts.get(msg.body.order_id, 0) + 1
            replayed.append(OrderSeen(float(t), msg.body, n))

    bus.add_tap(watch)
    nodes = make_nodes(s, env, bus, topics, lambda node_id: node_id == fdc_id)
    if not nodes:
        raise ScenarioError(f"{path}: scenario has no FDC {fdc_id!r} to replay into")
    started = False
    recorded_fdc = 0
    rec_counts: dict[str, int] = {}
    inputs = 0
    damage: str | None = None
    last_s = 0.0
    end_s = float(s.duration_s)
    live = recorded_report(rec)
    if live is not None:
        end_s = float(live["sim_time_s"])

    def start() -> None:
        nonlocal started
        if not started:
            started = True
            for node in nodes:
                node.start()

    if logged is not None:
        return _replay_deliveries(
            rec, logged[1], fdc_id, env, bus, nodes, probe, replayed, end_s, tol, overrides, notes
        )
    try:
        for t, rm in delivery_times(rec.messages()):
            last_s = t
            try:
                header = codec.header_of(rm.payload)
            except codec.DecodeError:
                continue
            if header.sender == fdc_id:
                recorded_fdc += 1
                if rm.topic.endswith("/order"):
                    _record_order(rm, rec_counts, recorded)
                # The FDC is born after every other node of a virtual run (it is built last).
                if recorded_fdc == 1 and not started:
                    _advance(env, t, lambda: 0, 0)
                    start()
                continue
            if t > 0 and not started:
                start()
            # Deliver each input after the FDC has published what it had published before it in the
            # recording, and before the events that follow: the recorded interleaving, not only time.
            _advance(env, t, lambda: probe.fdc_published, recorded_fdc)
            probe.injecting = True
            try:
                bus.inject(rm.topic, rm.payload)
            finally:
                probe.injecting = False
            inputs += 1
    except RecordingError as exc:
        damage = str(exc)
        end_s = min(end_s, last_s)
    start()
    if env.now < end_s:
        env.run(until=end_s)
    replayed = [x for x in replayed if x.time_s <= end_s]
    return _compared(fdc_id, recorded, replayed, inputs, overrides, notes, damage, tol)


def _compared(
    fdc_id: str,
    recorded: list[OrderSeen],
    replayed: list[OrderSeen],
    inputs: int,
    overrides: list[str] | None,
    notes: list[str],
    damage: str | None,
    tol: float,
) -> FdcReplay:
    differences = compare_orders(recorded, replayed, tol)
    if differences and overrides:
        notes.append(
            "after the first difference the recorded launcher answers no longer match this FDC's "
            "orders: later differences partly follow from the first"
        )
    return FdcReplay(fdc_id, recorded, replayed, differences, inputs, list(overrides or []), notes, damage)


def _replay_deliveries(
    rec: Recording,
    deliveries: list[Delivery],
    fdc_id: str,
    env: Any,
    bus: Any,
    nodes: list[Any],
    probe: _Probe,
    replayed: list[OrderSeen],
    end_s: float,
    tol: float,
    overrides: list[str] | None,
    notes: list[str],
) -> FdcReplay:
    """Replay a recording that logged the FDC's deliveries: each input at the simulated time the
    live FDC was handed it, after as many of the FDC's own publications as came before it there."""
    payloads: dict[str, tuple[str, bytes]] = {}
    recorded: list[OrderSeen] = []
    rec_counts: dict[str, int] = {}
    damage: str | None = None
    try:
        for rm in rec.messages():
            try:
                sender = codec.header_of(rm.payload).sender
            except codec.DecodeError:
                continue
            if sender == fdc_id and rm.topic.endswith("/order"):
                _record_order(rm, rec_counts, recorded)
            payloads.setdefault(payload_digest(rm.payload), (rm.topic, rm.payload))
    except RecordingError as exc:
        damage = str(exc)
    for node in nodes:
        node.start()
    inputs = missing = 0
    for d in deliveries:
        if d.time_s > end_s:
            break
        found = payloads.get(d.digest)
        if found is None or found[0] != d.topic:
            missing += 1
            continue
        _advance(env, d.time_s, lambda: probe.fdc_sent, d.published)
        probe.injecting = True
        try:
            bus.inject(found[0], found[1])
        finally:
            probe.injecting = False
        inputs += 1
    if missing:
        notes.append(
            f"{missing} of the FDC's {len(deliveries)} inputs are not in the recording (not replayed)"
        )
    if env.now < end_s:
        env.run(until=end_s)
    replayed = [x for x in replayed if x.time_s <= end_s]
    return _compared(fdc_id, recorded, replayed, inputs, overrides, notes, damage, tol)


def _record_order(rm: RecordedMessage, counts: dict[str, int], out: list[OrderSeen]) -> None:
    try:
        body = codec.decode(rm.payload).body
    except codec.DecodeError:
        return
    if isinstance(body, m.FireOrder):
        n = counts[body.order_id] = counts.get(body.order_id, 0) + 1
        out.append(OrderSeen(rm.time_s, body, n))


@dataclass(slots=True)
class _Probe:
    fdc_published: int = 0
    """Messages the replayed FDC has published so far."""
    fdc_sent: int = 0
    """Of those, messages other than its births (what a live endpoint counts as published)."""
    injecting: bool = False
    """True while a recorded message is being injected (its sender may be the FDC's id)."""


def _advance(env: Any, t: float, published: Callable[[], int], target: int) -> None:
    """Run the FDC's events up to simulated ``t``, and at ``t`` only until ``published()`` reaches
    ``target`` (as many messages as the FDC had published before this point of the recording)."""
    while env.peek() < t:
        env.step()
    if env.now < t:
        env.run(until=t)
    while published() < target and env.peek() <= t:
        env.step()
