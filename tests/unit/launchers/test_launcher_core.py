"""One behaviour, two hosts: the simulated launcher (SimPy, on the bus) and the Pi program's
launcher (a timer heap on the wall clock) run the same script and must log the same events at
the same simulated times. Both host ``launchers.core.LauncherCore``; these tests keep the hosts
(watchdog, timers, cancellation, clocks) from drifting apart."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

import numpy as np
import pytest
import simpy

from bmc.engine.runner import launcher_params
from bmc.scenario import Launcher
from bmc.testing import fdc_heartbeat, fire_order
from hil.devices.pi_launcher import PiConfig, PiLauncher
from launchers.node import LauncherNode
from protocols import messages as m
from protocols.bus import InProcessBus
from protocols.topics import Topics

KEY = bytes(range(40, 72))
POSITION = (500.0, 0.0, 0.0)
TOPICS = Topics("bmc/conformance")
Event = tuple[float, str, str]


def order(n: int, issued_s: float, key: bytes = KEY, **changes: object) -> m.FireOrder:
    return fire_order(n, issued_s, key, **changes)


def heartbeat(time_s: float, key: bytes = KEY) -> m.FdcHeartbeat:
    return fdc_heartbeat(time_s, key)


class Host(Protocol):
    """Hands messages to a launcher at simulated times and logs what it says."""

    def at(self, t: float, body: m.Body, sender: str = "FDC") -> None:
        """Deliver ``body`` from ``sender`` at simulated time ``t`` (calls in time order)."""

    def run(self, until: float) -> list[Event]:
        """Run to ``until``; the events said: (time, kind, detail)."""


def _event(t: float, body: m.Body) -> Event | None:
    if isinstance(body, m.EngagementStatus):
        return (round(t, 6), body.state.name, f"{body.order_id} {body.reason}".strip())
    if isinstance(body, m.LauncherStatus):
        return (round(t, 6), "status", f"{body.state.name} {body.missiles_ready}")
    return None


class SimHost:
    def __init__(self, **params: float) -> None:
        self.env = simpy.Environment()
        self.bus = InProcessBus(self.env, TOPICS)
        config = Launcher.model_validate(
            {
                "id": "L1",
                "position": {"east_m": POSITION[0], "north_m": 0.0},
                "status_period_s": 1e4,
                **params,
            }
        )
        params_ = launcher_params(config, POSITION, "FDC")  # as the composition root translates it
        self.node = LauncherNode(self.env, self.bus, TOPICS, np.random.default_rng(0), params_, 1e4, KEY)
        self.log: list[Event] = []
        for channel in ("status", "engagement"):
            self.bus.subscribe("monitor", TOPICS.topic("launcher", "L1", channel)).attach(self._said)
        self.node.start()
        self.env.run(until=1e-9)
        self.log.clear()  # power on

    def _said(self, msg: m.Message) -> None:
        if (e := _event(self.env.now, msg.body)) is not None:
            self.log.append(e)

    def at(self, t: float, body: m.Body, sender: str = "FDC") -> None:
        if t > self.env.now:
            self.env.run(until=t)
        channel = "heartbeat" if isinstance(body, m.FdcHeartbeat) else "order"
        topic = (
            TOPICS.topic("fdc", "FDC", "heartbeat")
            if channel == "heartbeat"
            else TOPICS.topic("launcher", "L1", "order")
        )
        self.bus.endpoint(sender).publish(topic, body)

    def run(self, until: float) -> list[Event]:
        if until > self.env.now:
            self.env.run(until=until)
        return self.log


class PiHost:
    SPEED = 10.0

    def __init__(self, **params: float) -> None:
        config = PiConfig(position_m=POSITION, speed=self.SPEED, status_period_s=1e4, **params)  # type: ignore[arg-type]
        self.log: list[Event] = []
        self.launcher = PiLauncher(config, KEY, self._send, boot_nonce=0)  # as the simulated one
        self.wall = 0.0
        self.launcher.start(self.wall)
        self.log.clear()
        self.seq = 0

    def _send(self, body: m.Body, sim_s: float) -> None:
        if (e := _event(sim_s, body)) is not None:
            self.log.append(e)

    def _advance(self, wall: float) -> None:
        while (due := self.launcher.poll(self.wall)) <= wall:
            self.wall = due
        self.wall = wall
        self.launcher.poll(wall)

    def at(self, t: float, body: m.Body, sender: str = "FDC") -> None:
        self._advance(t / self.SPEED)
        self.seq += 1
        self.launcher.handle(m.Message(m.Header(sender, self.seq, t), body), self.wall)

    def run(self, until: float) -> list[Event]:
        self._advance(until / self.SPEED)
        return self.log


HOSTS: dict[str, Callable[..., Host]] = {"sim": SimHost, "pi": PiHost}


@pytest.fixture(params=sorted(HOSTS))
def host_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make(kind: str, **params: float) -> Host:
    return HOSTS[kind](**params)


def beats(host: Host, start: float, stop: float, period: float = 1.0) -> None:
    t = start
    while t <= stop + 1e-9:
        host.at(t, heartbeat(t))
        t += period


def test_arms_on_heartbeat_executes_once_and_repeats_the_answer(host_kind: str) -> None:
    h = make(host_kind, reaction_time_s=2.0)
    h.at(10.0, heartbeat(10.0))
    h.at(10.5, order(1, 10.5))
    h.at(11.0, heartbeat(11.0))
    h.at(11.5, order(1, 10.5))  # the FDC resends: the same answer, no second launch
    beats(h, 12.0, 14.0)
    assert h.run(14.5) == [
        (10.0, "status", "READY 6"),
        (10.5, "ACCEPTED", "FDC-00001"),
        (10.5, "status", "ENGAGING 6"),
        (11.5, "ACCEPTED", "FDC-00001"),
        (12.5, "LAUNCHED", "FDC-00001"),
        (12.5, "status", "READY 5"),
    ]


def test_heartbeat_loss_holds_aborts_and_a_heartbeat_rearms(host_kind: str) -> None:
    h = make(host_kind, reaction_time_s=5.0, heartbeat_timeout_s=3.0)
    h.at(10.0, heartbeat(10.0))
    h.at(10.5, order(1, 10.5))
    h.at(14.0, order(2, 14.0))  # HOLD since 13 s
    h.at(15.0, heartbeat(15.0))
    assert h.run(16.0) == [
        (10.0, "status", "READY 6"),
        (10.5, "ACCEPTED", "FDC-00001"),
        (10.5, "status", "ENGAGING 6"),
        (13.0, "status", "HOLD 6"),
        (13.0, "ABORTED", "FDC-00001 heartbeat lost"),
        (14.0, "REJECTED", "FDC-00002 not ready (HOLD)"),
        (15.0, "status", "READY 6"),
    ]


def test_forged_orders_are_refused_and_decide_nothing(host_kind: str) -> None:
    h = make(host_kind, reaction_time_s=1.0)
    h.at(10.0, heartbeat(10.0))
    genuine = order(1, 10.0)
    h.at(10.1, replace(genuine, intercept_point_m=(100.0, 100.0, 300.0)))  # tampered
    h.at(10.2, order(1, 10.0, key=b"\x01" * 32))  # another key, the genuine id
    h.at(10.3, replace(genuine, auth_tag=b""))  # unsigned
    h.at(10.4, genuine)  # the genuine order is still answered on its merits
    beats(h, 11.0, 12.0)
    assert [e for e in h.run(12.0) if e[1] != "status"] == [
        (10.1, "REJECTED", "FDC-00001 authentication failed"),
        (10.2, "REJECTED", "FDC-00001 authentication failed"),
        (10.3, "REJECTED", "FDC-00001 authentication failed"),
        (10.4, "ACCEPTED", "FDC-00001"),
        (11.4, "LAUNCHED", "FDC-00001"),
    ]


def test_an_older_authentic_order_is_refused_as_a_replay(host_kind: str) -> None:
    h = make(host_kind, reaction_time_s=1.0)
    h.at(10.0, heartbeat(10.0))
    h.at(10.1, order(2, 10.0))
    beats(h, 11.0, 13.0)
    h.at(13.1, order(1, 9.5))  # in date, authentic, issued before the newest answered
    assert [e for e in h.run(13.5) if e[1] != "status"] == [
        (10.1, "ACCEPTED", "FDC-00002"),
        (11.1, "LAUNCHED", "FDC-00002"),
        (
            13.1,
            "REJECTED",
            "FDC-00001 replayed: issued 9.500 s, not newer than order FDC-00002 issued 10.000 s",
        ),
    ]


def test_expiry_before_launch_aborts_and_an_expired_order_is_refused(host_kind: str) -> None:
    h = make(host_kind, reaction_time_s=5.0)
    h.at(10.0, heartbeat(10.0))
    h.at(10.5, order(1, 10.5, expiry_time_s=13.0))
    beats(h, 11.0, 20.0)
    h.at(20.5, order(2, 18.0, expiry_time_s=20.0))  # newer, but expired
    events = [e for e in h.run(21.0) if e[1] != "status"]
    assert events[:2] == [
        (10.5, "ACCEPTED", "FDC-00001"),
        (15.5, "ABORTED", "FDC-00001 order expired before launch"),
    ]
    assert events[2][1:] == ("REJECTED", "FDC-00002 expired at 20.000 s (now 20.500 s)")


def test_another_senders_heartbeat_arms_nothing(host_kind: str) -> None:
    h = make(host_kind)
    h.at(10.0, heartbeat(10.0), sender="FDC2")
    h.at(10.5, order(1, 10.5))
    events = h.run(11.0)
    assert [e[1] for e in events] == ["REJECTED"]
    assert events[0][2].startswith("FDC-00001 ")
    assert "not ready (SAFE)" in events[0][2] or "no FDC heartbeat yet" in events[0][2]


def test_an_empty_magazine_reloads_and_rearms(host_kind: str) -> None:
    h = make(host_kind, missiles=2, reaction_time_s=1.0, salvo_interval_s=0.5, reload_time_s=3.0)
    h.at(10.0, heartbeat(10.0))
    h.at(10.1, order(1, 10.1, rounds=2))
    beats(h, 11.0, 16.0)
    h.at(16.1, order(2, 16.1))
    assert h.run(16.2) == [
        (10.0, "status", "READY 2"),
        (10.1, "ACCEPTED", "FDC-00001"),
        (10.1, "status", "ENGAGING 2"),
        (11.1, "LAUNCHED", "FDC-00001"),
        (11.6, "LAUNCHED", "FDC-00001"),
        (11.6, "status", "RELOADING 0"),
        (14.6, "status", "READY 2"),
        (16.1, "ACCEPTED", "FDC-00002"),
        (16.1, "status", "ENGAGING 2"),
    ]


def test_forged_untagged_and_replayed_heartbeats_neither_arm_nor_keep_armed(host_kind: str) -> None:
    h = make(host_kind, heartbeat_timeout_s=3.0)
    untagged = m.FdcHeartbeat("FDC", m.WeaponsControl.FREE, time_s=9.0)
    h.at(9.0, untagged)  # sender FDC, as anyone on the link may write
    h.at(9.5, heartbeat(9.5, key=b"\x02" * 32))  # tagged with a key that is not L1's
    assert h.run(9.9) == [], "a heartbeat without L1's tag armed it"
    recorded = heartbeat(10.0)
    h.at(10.0, recorded)
    # The FDC is gone; its recorded heartbeat is played again and again, and forgeries follow.
    for t in (11.0, 12.0, 13.5):
        h.at(t, recorded)
        h.at(t + 0.1, heartbeat(t, key=b"\x02" * 32))
        h.at(t + 0.2, m.FdcHeartbeat("FDC", m.WeaponsControl.FREE, time_s=t))
    h.at(14.0, heartbeat(14.0))  # the FDC is back
    assert h.run(14.5) == [
        (10.0, "status", "READY 6"),
        (13.0, "status", "HOLD 6"),  # 3 s after the last genuine heartbeat, whatever came since
        (14.0, "status", "READY 6"),
    ]


def test_refused_heartbeats_are_counted_by_reason(host_kind: str) -> None:
    h = make(host_kind)
    h.at(10.0, heartbeat(10.0))
    h.at(10.5, heartbeat(10.0))
    h.at(10.6, heartbeat(10.6, key=b"\x02" * 32))
    h.at(10.7, m.FdcHeartbeat("FDC", m.WeaponsControl.FREE, time_s=10.7))
    h.run(11.0)
    core = h.node.core if isinstance(h, SimHost) else h.launcher.core  # type: ignore[attr-defined]
    assert core.heartbeats_refused == {"replayed": 1, "authentication failed": 2}
