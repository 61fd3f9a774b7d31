"""The launcher node: fire orders in, engagement reports and status out (SimPy host of ``LauncherCore``)."""

from __future__ import annotations

import numpy as np
import simpy

from bmc.engine.node import Node, Process
from launchers.core import Activity, CancelledError, LauncherCore, LauncherParams
from protocols import messages as m
from protocols.bus import Bus
from protocols.topics import Topics

CHANNEL: dict[type, str] = {m.LauncherStatus: "status", m.EngagementStatus: "engagement"}


class SimClock:
    """Simulated time is the engine's; a heartbeat never moves it."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env

    def now(self) -> float:
        return float(self.env.now)

    def heartbeat(self, time_s: float) -> str | None:
        return None


class SimTask:
    """An activity run as a SimPy process; cancelling interrupts it."""

    def __init__(self, env: simpy.Environment, activity: Activity) -> None:
        self.process = env.process(self._drive(env, activity))

    @staticmethod
    def _drive(env: simpy.Environment, activity: Activity) -> Process:
        try:
            delay = next(activity)
        except StopIteration:
            return
        while True:
            try:
                yield env.timeout(delay)
                delay = next(activity)
            except simpy.Interrupt as why:
                try:
                    delay = activity.throw(CancelledError(str(why.cause)))
                except StopIteration:
                    return
            except StopIteration:
                return

    @property
    def alive(self) -> bool:
        return bool(self.process.is_alive)

    def cancel(self, reason: str) -> None:
        self.process.interrupt(reason)


class LauncherNode(Node):
    """A simulated launcher: ``LauncherCore`` on the bus, with a watchdog in virtual time.

    Without a heartbeat for ``heartbeat_timeout_s`` it goes to HOLD by itself and aborts
    what it was doing; it returns to READY on the next heartbeat and needs a fresh order.
    """

    kind = "launcher"

    def __init__(
        self,
        env: simpy.Environment,
        bus: Bus,
        topics: Topics,
        rng: np.random.Generator,
        params: LauncherParams,
        status_period_s: float,
        key: bytes,
    ) -> None:
        super().__init__(params.launcher_id, env, bus, topics, rng)
        self.params = params
        self.status_period_s = status_period_s
        self.fdc_id = params.fdc_id
        self.core = LauncherCore(
            params, key, SimClock(env), self._send, lambda activity: SimTask(env, activity)
        )
        self.last_heartbeat_s: float | None = None
        self.heartbeat_event: simpy.Event = env.event()

    def _send(self, body: m.Body) -> None:
        self.publish(CHANNEL[type(body)], body)

    def _on_heartbeat(self, msg: m.Message) -> None:
        if not self.core.on_heartbeat(msg):
            return
        self.last_heartbeat_s = self.now
        if not self.heartbeat_event.triggered:
            self.heartbeat_event.succeed()

    def _watchdog(self) -> Process:
        timeout = self.params.heartbeat_timeout_s
        while True:
            if self.last_heartbeat_s is None:
                yield self.heartbeat_event
                self.heartbeat_event = self.env.event()
                continue
            deadline = self.last_heartbeat_s + timeout
            if self.now < deadline:
                yield self.env.timeout(deadline - self.now)
                continue
            self.core.expire()
            yield self.heartbeat_event
            self.heartbeat_event = self.env.event()

    def _on_order(self, msg: m.Message) -> None:
        assert isinstance(msg.body, m.FireOrder)
        self.core.on_order(msg.body)

    def setup(self) -> None:
        self.core.start()
        period = self.status_period_s
        self.every(period, lambda: self.core.status("periodic"), first_s=period)
        self.on(self.topics.topic("launcher", self.id, "order"), self._on_order)
        self.on(self.topics.topic("fdc", self.fdc_id, "heartbeat"), self._on_heartbeat)
        self.env.process(self._watchdog())
