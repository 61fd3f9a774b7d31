"""Bridges: a device on a serial port takes over one launcher or radar of a real-time cell.

``run_bridge`` is ``bmc hil``. One bridge per device, one process per bridge:

1. open the port (exclusively) and wait for the device's first valid frame;
2. connect to the broker as the node (one connection, with its Last Will) and be
   born, so the cell, which waits for the births of its external nodes, starts;
3. align the simulated clock with the world's first truth report and pace it
   (``bmc.engine.clock.Pacer``), as ``bmc node`` does;
4. relay: subscriptions of the node go to the device as frames; frames from the
   device are published on the node's topics, stamped with the simulated time at
   which they arrived; device silence longer than the device timeout (or a lost
   port) publishes the node's death, its return a new birth.

Frames from the device wait in a queue until the pacer delivers them, together
with the broker's messages, at the current simulated time.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from bmc.engine import clock
from bmc.engine.realtime import RealtimeError, RealtimeOptions, node_kind, world_clock, world_time
from bmc.engine.rng import RngStreams
from bmc.engine.runner import radar_params
from bmc.scenario import Radar, Scenario
from hil.framing import Frame, FrameError, frame_message, message_frame
from hil.node import LauncherBridgeNode, SensorBridgeNode, environment
from hil.serial_link import LinkError, SerialConfig, SerialLink
from protocols import messages as m
from protocols.mqtt import MqttBus, birth_base
from protocols.topics import Topics, root_for

log = logging.getLogger(__name__)

INBOX_LIMIT = 10_000
"""Device messages kept while waiting for delivery; the oldest go first (counted)."""


@dataclass(frozen=True, slots=True)
class BridgeOptions:
    """The serial side of a bridge."""

    serial: SerialConfig
    device_timeout_s: float | None = None
    """Simulated seconds of device silence after which the node is declared dead. Default: the
    launcher's ``heartbeat_timeout_s``, or 2.5 scan periods for a radar."""

    def __post_init__(self) -> None:
        if self.device_timeout_s is not None and not self.device_timeout_s > 0:
            raise ValueError(f"device timeout must be > 0 s (got {self.device_timeout_s})")


class Device:
    """The serial side of one bridge: frames out, decoded messages and port changes in."""

    def __init__(self, config: SerialConfig) -> None:
        self.link = SerialLink(config, self._on_frame, self._on_state)
        self.inbox: deque[m.Message | bool] = deque()
        self.heard = asyncio.Event()
        self.bad_payloads = 0
        self.inbox_dropped = 0
        self.wake: Any = lambda: None

    @property
    def connected(self) -> bool:
        """True while the port is open."""
        return self.link.connected

    def send_message(self, header: m.Header, body: m.Body) -> bool:
        """Frame and send one message (never blocks)."""
        return self.link.send(message_frame(self.link.next_seq(), header, body))

    def _on_frame(self, frame: Frame) -> None:
        try:
            msg = frame_message(frame)
        except FrameError as exc:
            self.bad_payloads += 1
            if self.bad_payloads <= 3:
                log.warning("%s: frame with a bad payload: %s", self.link.config.port, exc)
            return
        self._put(msg)
        self.heard.set()

    def _on_state(self, up: bool) -> None:
        self._put(up)

    def _put(self, item: m.Message | bool) -> None:
        if len(self.inbox) >= INBOX_LIMIT:
            self.inbox.popleft()
            self.inbox_dropped += 1
        self.inbox.append(item)
        self.wake()

    def drain(self, node: LauncherBridgeNode | SensorBridgeNode) -> int:
        """Hand everything queued to ``node``, at the current simulated time."""
        n = 0
        while self.inbox:
            item = self.inbox.popleft()
            if isinstance(item, bool):
                node.link_state(item)
            else:
                node.from_device(item)
            n += 1
        return n

    def stats(self) -> dict[str, int]:
        """Link counters plus the bridge's own."""
        out = self.link.stats.as_dict()
        out.update(bad_payloads=self.bad_payloads, inbox_dropped=self.inbox_dropped)
        return out


async def _await(what: asyncio.Event, timeout_s: float, error: str) -> None:
    try:
        await asyncio.wait_for(what.wait(), timeout_s)
    except TimeoutError:
        raise RealtimeError(error) from None


async def run_bridge(
    scenario: Scenario,
    node_id: str,
    options: RealtimeOptions,
    bridge: BridgeOptions,
    stop: asyncio.Event | None = None,
) -> dict[str, Any]:
    """Bridge the device on ``bridge.serial`` as node ``node_id`` until the scenario's end (or ``stop``)."""
    s = scenario
    kind = node_kind(s, node_id)
    if kind not in ("launcher", "radar"):
        raise ValueError(f"only a launcher or a radar can be played by a device ({node_id!r} is the {kind})")
    launcher = next((x for x in s.launchers if x.id == node_id), None)
    radar = next((r for r in s.radars if r.id == node_id), None)
    if not (launcher.external if launcher is not None else radar is not None and radar.external):
        raise ValueError(
            f"{node_id} is not marked 'external: true' in the scenario: the cell would simulate it as well"
        )
    timeout_s = bridge.device_timeout_s
    if timeout_s is None:
        timeout_s = launcher.heartbeat_timeout_s if launcher is not None else 2.5 * _scan_period(radar)
    topics = Topics(options.root or root_for(s.name))
    # The bridge speaks as the node on the bus: its pairwise keys, never the fire-order key
    # (the device checks orders itself; a bridge cannot forge one).
    keyring = None if options.keys is None else options.keys.keyring([node_id], epoch=birth_base())
    bus = MqttBus(environment(), topics, options.broker, keyring)
    bus.credentials = dict(options.credentials or {})
    device = Device(bridge.serial)
    port = bridge.serial.port
    wall0 = clock.wall_seconds()
    node: LauncherBridgeNode | SensorBridgeNode | None = None
    pacer: clock.Pacer | None = None
    try:
        device.link.start()
        try:
            await device.link.wait_open(options.wait_external_s)
        except LinkError as exc:
            raise RealtimeError(str(exc)) from None
        await _await(
            device.heard,
            options.wait_external_s,
            f"no valid frame from the device on {port} within {options.wait_external_s:g} s "
            f"(is it running, at {bridge.serial.baudrate} baud?"
            + (
                f" {device.link.stats.rx.dropped} corrupt frame(s) came in: check the baud rate)"
                if device.link.stats.rx.dropped
                else ")"
            ),
        )
        ep = bus.endpoint(node_id)
        bus.speed = options.speed or 0.0
        ep.announce(kind, topics.topic(kind, node_id, "state"))
        sync = world_clock(bus, options.speed, node_id)
        cfg = options.broker
        await _await(
            ep.connected,
            options.connect_timeout_s,
            f"cannot reach the broker at {cfg.host}:{cfg.port} within {options.connect_timeout_s:g} s",
        )
        start, speed = await world_time(sync, topics, options)
        env = environment(start)
        bus.env = env
        pacer = clock.Pacer(env, speed)
        bus.set_waker(pacer.wake)
        device.wake = pacer.wake
        rng = RngStreams(s.seed).stream(f"node/{node_id}")

        def life() -> int:
            return ep.birth_sequence

        if launcher is not None:
            node = LauncherBridgeNode(
                env, bus, topics, rng, launcher, s.enu(launcher.position), s.fdc.id, device, life, timeout_s
            )
        else:
            assert radar is not None
            model, tracker = radar_params(radar, s.enu(radar.position))
            node = SensorBridgeNode(
                env, bus, topics, rng, radar.id, model, tracker, radar.scan_period_s, device, life, timeout_s
            )
        node.start()
        bridged = node

        def deliver() -> int:
            return bus.flush() + device.drain(bridged)

        await pacer.run(s.duration_s, deliver, stop)
    finally:
        await bus.close()
        device.link.close()
    return _summary(node_id, kind, port, bus, device, node, pacer, clock.wall_seconds() - wall0)


def _scan_period(radar: Radar | None) -> float:
    assert radar is not None
    return radar.scan_period_s


def _summary(
    node_id: str,
    kind: str,
    port: str,
    bus: MqttBus,
    device: Device,
    node: LauncherBridgeNode | SensorBridgeNode | None,
    pacer: clock.Pacer | None,
    wall_s: float,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "node": node_id,
        "kind": kind,
        "port": port,
        "sim_time_s": float(bus.env.now),
        "wall_time_s": round(wall_s, 3),
        "link": device.stats(),
        "messages": {
            "published": bus.stats.published,
            "delivered": bus.stats.delivered,
            "dropped": bus.stats.dropped,
            "rejected": bus.stats.rejected_total,
        },
        "pacing_lateness": pacer.lateness_summary() if pacer is not None else None,
    }
    if node is not None:
        h = node.health
        out["device"] = {
            "alive_at_end": h.alive,
            "deaths": h.deaths,
            "rebirths": h.rebirths,
            "messages_in": h.messages_in,
            "refused": h.foreign,
            "boots": len(h.boot_ids),
        }
        if isinstance(node, LauncherBridgeNode):
            out["device"].update(
                orders_forwarded=node.orders_forwarded, heartbeats_forwarded=node.heartbeats_forwarded
            )
        else:
            out["device"].update(
                stimulations=node.stimulations,
                plots=node.plots,
                replies_missing=node.replies_missing,
                replies_stale=node.replies_stale,
            )
    return out
