"""The launcher node: fire orders in, engagement reports and status out."""

from __future__ import annotations

import numpy as np
import simpy

from bmc.engine.node import Node, Process
from bmc.scenario import Launcher
from launchers.launcher import Envelope, LauncherMachine, order_rejection
from protocols import codec
from protocols import messages as m
from protocols.bus import Bus
from protocols.topics import Topics

S = m.LauncherState


class LauncherNode(Node):
    """A simulated launcher.

    Starts SAFE and arms (READY) on the first FDC heartbeat. Without a
    heartbeat for ``heartbeat_timeout_s`` it goes to HOLD by itself and aborts
    what it was doing; it returns to READY on the next heartbeat and needs a
    fresh order. Orders are idempotent by order id: a repeat gets the same
    answer again and is never executed twice.
    """

    kind = "launcher"

    def __init__(
        self,
        env: simpy.Environment,
        bus: Bus,
        topics: Topics,
        rng: np.random.Generator,
        config: Launcher,
        position_m: tuple[float, float, float],
        key: bytes,
        fdc_id: str,
    ) -> None:
        super().__init__(config.id, env, bus, topics, rng)
        self.config = config
        self.position_m = position_m
        self.key = key
        self.fdc_id = fdc_id
        self.machine = LauncherMachine(config.id, config.missiles)
        self.envelope = Envelope(
            position_m, config.min_range_m, config.max_range_m, config.min_altitude_m, config.max_altitude_m
        )
        self.answers: dict[str, m.EngagementStatus] = {}
        self.last_heartbeat_s: float | None = None
        self.heartbeat_event: simpy.Event = env.event()
        self.engagement: simpy.Process | None = None
        self.reloading: simpy.Process | None = None
        self.fired = 0

    # ------------------------------------------------------------ reporting

    def _status(self, reason: str = "") -> None:
        self.publish(
            "status",
            m.LauncherStatus(self.id, self.machine.state, self.machine.missiles, self.position_m, reason),
        )

    def _go(self, state: m.LauncherState, reason: str = "") -> None:
        if self.machine.go(state):
            self._status(reason)

    def _answer(self, status: m.EngagementStatus) -> None:
        self.publish("engagement", status)

    # ------------------------------------------------------------ heartbeat

    def _on_heartbeat(self, msg: m.Message) -> None:
        if msg.header.sender != self.fdc_id:
            return
        self.last_heartbeat_s = self.now
        if not self.heartbeat_event.triggered:
            self.heartbeat_event.succeed()
        st = self.machine.state
        if st == S.SAFE:
            self._go(S.READY, "FDC heartbeat received")
        elif st == S.HOLD:
            self._go(self.machine.after_engagement(), "FDC heartbeat restored")
            if self.machine.state == S.RELOADING:
                self._start_reload()

    def _watchdog(self) -> Process:
        timeout = self.config.heartbeat_timeout_s
        while True:
            if self.last_heartbeat_s is None:
                yield self.heartbeat_event
                self.heartbeat_event = self.env.event()
                continue
            deadline = self.last_heartbeat_s + timeout
            if self.now < deadline:
                yield self.env.timeout(deadline - self.now)
                continue
            if self.machine.state not in (S.HOLD, S.SAFE, S.FAULT):
                if self.engagement is not None and self.engagement.is_alive:
                    self.engagement.interrupt("heartbeat lost")
                self._go(S.HOLD, f"no FDC heartbeat for {timeout:g} s")
            yield self.heartbeat_event
            self.heartbeat_event = self.env.event()

    # ------------------------------------------------------------ orders

    def _on_order(self, msg: m.Message) -> None:
        order = msg.body
        assert isinstance(order, m.FireOrder)
        previous = self.answers.get(order.order_id)
        authentic = codec.verify_order(order, self.key)
        if previous is not None and authentic:
            self._answer(previous)  # idempotent: same answer, no second execution
            return
        reason = order_rejection(
            order,
            launcher_id=self.id,
            now_s=self.now,
            authentic=authentic,
            state=self.machine.state,
            missiles=self.machine.missiles,
            envelope=self.envelope,
        )
        if reason is not None:
            answer = m.EngagementStatus(order.order_id, self.id, m.EngagementState.REJECTED, reason)
            if authentic:
                self.answers[order.order_id] = answer
            self._answer(answer)
            return
        answer = m.EngagementStatus(order.order_id, self.id, m.EngagementState.ACCEPTED)
        self.answers[order.order_id] = answer
        self._answer(answer)
        self._go(S.ENGAGING, f"order {order.order_id}")
        self.engagement = self.env.process(self._engage(order))

    def _engage(self, order: m.FireOrder) -> Process:
        try:
            yield self.env.timeout(self.config.reaction_time_s)
            for rnd in range(1, order.rounds + 1):
                if rnd > 1:
                    yield self.env.timeout(self.config.salvo_interval_s)
                if self.now > order.expiry_time_s:
                    self._answer(
                        m.EngagementStatus(
                            order.order_id,
                            self.id,
                            m.EngagementState.ABORTED,
                            "order expired before launch",
                            rnd,
                        )
                    )
                    break
                self.machine.fire_one()
                self.fired += 1
                self._answer(
                    m.EngagementStatus(
                        order.order_id,
                        self.id,
                        m.EngagementState.LAUNCHED,
                        "",
                        rnd,
                        self.position_m,
                        order.target_position_m,
                        order.target_velocity_mps,
                        order.issued_time_s,
                        f"{self.id}-M{self.fired:03d}",
                    )
                )
        except simpy.Interrupt as why:
            self._answer(
                m.EngagementStatus(order.order_id, self.id, m.EngagementState.ABORTED, str(why.cause))
            )
            return
        self._go(self.machine.after_engagement(), f"order {order.order_id} done")
        if self.machine.state == S.RELOADING:
            self._start_reload()

    def _start_reload(self) -> None:
        if self.reloading is None or not self.reloading.is_alive:
            self.reloading = self.env.process(self._reload())

    def _reload(self) -> Process:
        yield self.env.timeout(self.config.reload_time_s)
        self.machine.reloaded()
        if self.machine.state == S.RELOADING:
            self._go(S.READY, "reloaded")

    def setup(self) -> None:
        self._status("power on")
        period = self.config.status_period_s
        self.every(period, lambda: self._status("periodic"), first_s=period)
        self.on(self.topics.topic("launcher", self.id, "order"), self._on_order)
        self.on(self.topics.topic("fdc", self.fdc_id, "heartbeat"), self._on_heartbeat)
        self.env.process(self._watchdog())
