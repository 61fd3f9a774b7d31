"""One launcher's behaviour, whatever drives it: the simulated node and the Raspberry Pi program.

``LauncherCore`` holds everything a launcher decides: which fire orders it executes
(authentic, newer than every order answered, in date, addressed to it, inside its
envelope, while READY), the answer it gives to a repeat, when it arms and when it
holds. It has no clock and no I/O of its own; its host passes in

- a ``Clock``: simulated seconds now (None before the device has a time reference)
  and the check of a heartbeat's time;
- ``send``: puts a body on the host's link (the bus, a serial line);
- ``spawn``: runs a timed activity (an engagement, a reload), written here as a
  generator that yields the simulated seconds to wait; the host's ``Task.cancel``
  throws ``CancelledError`` into it;
- the heartbeat watchdog: the host calls ``expire()`` when no heartbeat was accepted
  for ``heartbeat_timeout_s`` (virtual seconds in SimPy, wall seconds scaled by the
  speed on the Pi).

So the simulated launcher (``launchers/node.py``, SimPy) and the Pi program
(``hil/devices/pi_launcher.py``, a timer heap on the wall clock) cannot drift apart:
the conformance tests in ``tests/unit/launchers/test_launcher_core.py`` run both.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Protocol

from launchers.launcher import Envelope, LauncherMachine, order_rejection
from protocols import codec
from protocols import messages as m

S = m.LauncherState
E = m.EngagementState

Activity = Generator[float, None, None]
"""A timed activity: yields the simulated seconds to wait before it goes on."""


class CancelledError(Exception):
    """Thrown into an activity its host cancels; the message says why."""


class Task(Protocol):
    """A running activity, as its host sees it."""

    @property
    def alive(self) -> bool:
        """True until the activity has returned."""

    def cancel(self, reason: str) -> None:
        """Throw ``CancelledError(reason)`` into the activity (at once or at the host's next step)."""


class Clock(Protocol):
    """The launcher's idea of simulated time."""

    def now(self) -> float | None:
        """Simulated seconds now; None before there is a time reference."""

    def heartbeat(self, time_s: float) -> str | None:
        """Take an authentic heartbeat's time: why it is refused, or None (then the clock may follow it)."""


class Gpio(Protocol):
    """What the launcher shows on hardware."""

    def show(self, state: m.LauncherState, missiles: int, reason: str) -> None:
        """A state change."""

    def launch(self, interceptor_id: str) -> None:
        """A missile left the rail."""


class NoGpio:
    """No hardware to show anything on."""

    def show(self, state: m.LauncherState, missiles: int, reason: str) -> None:
        pass

    def launch(self, interceptor_id: str) -> None:
        pass


@dataclass(frozen=True, slots=True)
class LauncherParams:
    """What the core needs of a launcher; names and units as in the scenario's ``launchers[]``."""

    launcher_id: str
    fdc_id: str
    position_m: m.Vec3
    missiles: int
    reaction_time_s: float
    salvo_interval_s: float
    reload_time_s: float
    min_range_m: float
    max_range_m: float
    min_altitude_m: float
    max_altitude_m: float
    heartbeat_timeout_s: float
    answers_kept: int = 1024
    """Order ids whose answer is remembered for idempotent repeats (older ones are still
    refused as replays by the order counter)."""

    def __post_init__(self) -> None:
        if not self.launcher_id:
            raise ValueError("launcher id must not be empty")
        if self.missiles <= 0:
            raise ValueError(f"missiles must be > 0 (got {self.missiles})")
        for name in ("reaction_time_s", "salvo_interval_s", "reload_time_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (got {getattr(self, name)})")
        if not self.heartbeat_timeout_s > 0:
            raise ValueError(f"heartbeat_timeout_s must be > 0 (got {self.heartbeat_timeout_s})")
        if self.answers_kept < 1:
            raise ValueError(f"answers_kept must be >= 1 (got {self.answers_kept})")

    @property
    def envelope(self) -> Envelope:
        return Envelope(
            self.position_m, self.min_range_m, self.max_range_m, self.min_altitude_m, self.max_altitude_m
        )


def reason_key(reason: str) -> str:
    """A reason without its figures, for counting: 'expired at 9.0 s (now 12.0 s)' -> 'expired at 9.0 s'."""
    return reason.split(":")[0].split(" (")[0]


class LauncherCore:
    """The launcher's decisions. Starts SAFE and arms (READY) on the first authentic FDC
    heartbeat; ``expire()`` puts it on HOLD and aborts what it was doing; the next heartbeat
    returns it to READY and it needs a fresh order. Orders are idempotent by order id: a
    repeat gets the same answer again and is never executed twice."""

    def __init__(
        self,
        params: LauncherParams,
        order_key: bytes,
        clock: Clock,
        send: Callable[[m.Body], None],
        spawn: Callable[[Activity], Task],
        gpio: Gpio | None = None,
        log: logging.Logger | None = None,
        boot_nonce: int = 0,
    ) -> None:
        self.params = params
        self.key = order_key
        self.clock = clock
        self._send = send
        self._spawn = spawn
        self.gpio: Gpio = gpio or NoGpio()
        self.log = log
        self.boot_nonce = boot_nonce
        """Random per boot of a device (0 for a simulated launcher): sent in every status, and
        a heartbeat counts only when its tag covers it, so none recorded before this boot does."""
        self.machine = LauncherMachine(params.launcher_id, params.missiles)
        self.envelope = params.envelope
        self.answers: OrderedDict[str, m.EngagementStatus] = OrderedDict()
        self.newest: tuple[float, str] | None = None
        """(issued_time_s, order_id) of the newest authentic order answered: the replay counter."""
        self.fired = 0
        self.launched: list[str] = []
        """Order id of every missile launched, in order."""
        self.rejections: dict[str, int] = {}
        """Orders refused, by reason (without figures)."""
        self.heartbeats_refused: dict[str, int] = {}
        """Heartbeats that armed nothing, by reason."""
        self.heartbeat_time_s: float | None = None
        """FDC time of the newest heartbeat accepted: an older or equal one is refused."""
        self.engagement: Task | None = None
        self.reloading: Task | None = None

    # ------------------------------------------------------------ reporting

    def start(self) -> None:
        """Power on: the first status."""
        self.gpio.show(self.machine.state, self.machine.missiles, "power on")
        self.status("power on")

    def status(self, reason: str) -> None:
        """Report the current state."""
        mc = self.machine
        p = self.params
        self._send(
            m.LauncherStatus(p.launcher_id, mc.state, mc.missiles, p.position_m, reason, self.boot_nonce)
        )

    def _go(self, state: m.LauncherState, reason: str) -> None:
        if self.machine.go(state):
            self.gpio.show(state, self.machine.missiles, reason)
            self.status(reason)

    def _answer(self, status: m.EngagementStatus) -> None:
        self._send(status)

    # ------------------------------------------------------------ heartbeat

    def _refuse_heartbeat(self, reason: str) -> bool:
        key = reason_key(reason)
        self.heartbeats_refused[key] = self.heartbeats_refused.get(key, 0) + 1
        if self.log is not None:
            self.log.warning("heartbeat refused: %s", reason)
        return False

    def on_heartbeat(self, msg: m.Message) -> bool:
        """Take a heartbeat; True when it counts as a sign of life (the host resets its watchdog).

        Counts when it is from our FDC, carries the right tag for this launcher (its fire-order
        key), is newer than the last one accepted, and the clock takes its time."""
        hb = msg.body
        assert isinstance(hb, m.FdcHeartbeat)
        if msg.header.sender != self.params.fdc_id:
            return False  # another FDC's: not ours to judge
        if not codec.verify_heartbeat(hb, self.params.launcher_id, self.key, self.boot_nonce):
            # Whoever relays or shares the link may set any sender; only the FDC holds our key.
            return self._refuse_heartbeat("authentication failed")
        last = self.heartbeat_time_s
        if last is not None and not hb.time_s > last:
            # A recorded heartbeat played again is authentic but not a sign of life now.
            return self._refuse_heartbeat(f"replayed: at {hb.time_s:.3f} s, not after {last:.3f} s")
        why = self.clock.heartbeat(hb.time_s)
        if why is not None:
            return self._refuse_heartbeat(why)
        self.heartbeat_time_s = hb.time_s
        st = self.machine.state
        if st == S.SAFE:
            self._go(S.READY, "FDC heartbeat received")
        elif st == S.HOLD:
            self._go(self.machine.after_engagement(), "FDC heartbeat restored")
            if self.machine.state == S.RELOADING:
                self._start_reload()
        return True

    def expire(self) -> None:
        """No heartbeat accepted for ``heartbeat_timeout_s``: HOLD, and abort the engagement."""
        if self.machine.state in (S.HOLD, S.SAFE, S.FAULT):
            return
        self._go(S.HOLD, f"no FDC heartbeat for {self.params.heartbeat_timeout_s:g} s")
        if self.engagement is not None and self.engagement.alive:
            self.engagement.cancel("heartbeat lost")

    # ------------------------------------------------------------ orders

    def _reject(self, order: m.FireOrder, reason: str, remember: bool) -> None:
        answer = m.EngagementStatus(order.order_id, self.params.launcher_id, E.REJECTED, reason)
        key = reason_key(reason)
        self.rejections[key] = self.rejections.get(key, 0) + 1
        if self.log is not None:
            self.log.warning("order %s rejected: %s", order.order_id, reason)
        if remember:
            self._remember(answer)
        self._answer(answer)

    def _remember(self, answer: m.EngagementStatus) -> None:
        self.answers[answer.order_id] = answer
        while len(self.answers) > self.params.answers_kept:
            self.answers.popitem(last=False)

    def on_order(self, order: m.FireOrder) -> None:
        """Answer a fire order: ACCEPTED (and execute it) or REJECTED with the reason."""
        if not codec.verify_order(order, self.key):
            # Not cached: a forgery must not decide the answer to the genuine order of that id.
            self._reject(order, "authentication failed", remember=False)
            return
        previous = self.answers.get(order.order_id)
        if previous is not None:
            self._answer(previous)  # idempotent: the same answer, never a second execution
            return
        now = self.clock.now()
        if now is None:
            self._reject(order, "no FDC heartbeat yet (no time reference)", remember=False)
            return
        stamp = (order.issued_time_s, order.order_id)
        if self.newest is not None and stamp <= self.newest:
            self._reject(
                order,
                f"replayed: issued {order.issued_time_s:.3f} s, not newer than order "
                f"{self.newest[1]} issued {self.newest[0]:.3f} s",
                remember=True,
            )
            return
        self.newest = stamp
        reason = order_rejection(
            order,
            launcher_id=self.params.launcher_id,
            now_s=now,
            authentic=True,
            state=self.machine.state,
            missiles=self.machine.missiles,
            envelope=self.envelope,
        )
        if reason is not None:
            self._reject(order, reason, remember=True)
            return
        answer = m.EngagementStatus(order.order_id, self.params.launcher_id, E.ACCEPTED)
        self._remember(answer)
        self._answer(answer)
        self._go(S.ENGAGING, f"order {order.order_id}")
        self.engagement = self._spawn(self._engage(order))

    def _engage(self, order: m.FireOrder) -> Activity:
        p = self.params
        try:
            yield p.reaction_time_s
            for rnd in range(1, order.rounds + 1):
                if rnd > 1:
                    yield p.salvo_interval_s
                now = self.clock.now()
                if now is not None and now > order.expiry_time_s:
                    self._answer(
                        m.EngagementStatus(
                            order.order_id, p.launcher_id, E.ABORTED, "order expired before launch", rnd
                        )
                    )
                    break
                self.machine.fire_one()
                self.fired += 1
                interceptor = f"{p.launcher_id}-M{self.fired:03d}"
                self.launched.append(order.order_id)
                self.gpio.launch(interceptor)
                self._answer(
                    m.EngagementStatus(
                        order.order_id,
                        p.launcher_id,
                        E.LAUNCHED,
                        "",
                        rnd,
                        p.position_m,
                        order.target_position_m,
                        order.target_velocity_mps,
                        order.issued_time_s,
                        interceptor,
                    )
                )
        except CancelledError as why:
            self._answer(m.EngagementStatus(order.order_id, p.launcher_id, E.ABORTED, str(why)))
            return
        self._go(self.machine.after_engagement(), f"order {order.order_id} done")
        if self.machine.state == S.RELOADING:
            self._start_reload()

    def _start_reload(self) -> None:
        if self.reloading is None or not self.reloading.alive:
            self.reloading = self._spawn(self._reload())

    def _reload(self) -> Activity:
        yield self.params.reload_time_s
        self.machine.reloaded()
        if self.machine.state == S.RELOADING:
            self._go(S.READY, "reloaded")
