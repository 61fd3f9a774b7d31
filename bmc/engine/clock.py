"""Clocks. Virtual time is SimPy's own; the asyncio-paced real-time clock lives here too."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Sequence

import simpy


def virtual() -> simpy.Environment:
    """An environment that runs as fast as possible in simulated seconds."""
    return simpy.Environment()


def wall_seconds() -> float:
    """Monotonic wall-clock seconds: for measuring runs, never for simulated behaviour."""
    return time.perf_counter()


def epoch_ns_clock() -> Callable[[], int]:
    """A wall clock in nanoseconds since the Unix epoch that never steps back: the epoch time
    read once, plus monotonic time since. For stamping recordings, never for simulated behaviour."""
    base = time.time_ns() - time.perf_counter_ns()
    return lambda: base + time.perf_counter_ns()


TIMER_SLACK_S = 0.0025
"""How late an asyncio timer may fire on Linux with Python 3.11: epoll waits whole milliseconds,
and the selector rounds the timeout up twice (to the millisecond, then again converting it),
so a timer fires up to 2 ms late before any scheduling delay."""


async def sleep_until(deadline_s: float, spin_s: float = TIMER_SLACK_S) -> float:
    """Wait until ``wall_seconds()`` reaches ``deadline_s``; return how late it woke, seconds.

    asyncio timers fire up to ~2 ms late, so this sleeps to ``spin_s`` short of the
    deadline and spins the rest, yielding to the loop at every turn: other tasks and
    socket writes go on while it spins."""
    early = deadline_s - time.perf_counter() - spin_s
    if early > 0:
        await asyncio.sleep(early)
    while (now := time.perf_counter()) < deadline_s:
        await asyncio.sleep(0)
    return now - deadline_s


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Pacer:
    """Steps a SimPy environment at wall-clock deadlines from inside asyncio.

    SimPy's own ``RealtimeEnvironment`` blocks its thread and cannot take
    events from outside; this pacer instead waits in asyncio until the next
    event's deadline or until ``wake`` signals an external message, which is
    then delivered at the current simulated time (``deliver``). Lateness of
    every deadline is recorded.

    Approaching a deadline it sleeps until ``GUARD_S`` before it (asyncio's
    timers are that coarse; a long sleep ends a little earlier still and is
    followed by a short one), then yields to the event loop in a tight loop, so
    sockets are still served, and spins the last ``SPIN_S`` without yielding.
    Messages that arrive inside the guard window are delivered right after the
    deadline's events rather than before them: their node work would otherwise
    make the deadline late.
    """

    GUARD_S = TIMER_SLACK_S
    """How long before a deadline sleeping stops; external messages arriving after that are
    delivered just after the deadline's events (at most this much later in simulated time/speed)."""

    SPIN_S = 0.0003
    """How long before a deadline the pacer stops yielding to the event loop and spins."""

    SLACK_FRACTION = 0.002
    """Linux lets an epoll timeout of a normal process end up to 0.1 % of its length late
    (timer slack): a long sleep is cut short by twice that, and the rest slept again."""

    def __init__(self, env: simpy.Environment, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0 (got {speed})")
        self.env = env
        self.speed = speed
        self.lateness_s: list[float] = []
        self._woken = False
        self._waiter: asyncio.Future[None] | None = None
        self._t0_wall = 0.0
        self._t0_sim = 0.0
        self._settled = False

    def wake(self) -> None:
        """Ask the pacer to deliver external messages now."""
        self._woken = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def sim_now(self) -> float:
        """Simulated time that corresponds to the wall clock now."""
        return self._t0_sim + (time.perf_counter() - self._t0_wall) * self.speed

    def _settle(self) -> None:
        # Everything built before the run (scenario, nodes, connections, numpy and protobuf
        # modules: ~75k objects, 20-100 ms per full collection) lives until the end. Frozen,
        # it is out of the collector's reach, so a full collection during the run walks only
        # what the run allocated. No collection first: it would take as long, and the caller
        # may have just read the clock (a node synchronised to the world's).
        if not self._settled:
            self._settled = True
            gc.freeze()

    async def _nap(self, seconds: float) -> None:
        """Sleep ``seconds`` or until ``wake``, whichever comes first."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter
        timer = loop.call_later(seconds, _resolve, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def _deliver(self, deliver: Callable[[], int], not_after_s: float) -> None:
        """Advance to the simulated time of the wall clock now (not past ``not_after_s``,
        the next event) and deliver there."""
        self._woken = False
        now_sim = min(self.sim_now(), not_after_s)
        if now_sim > self.env.now:
            self.env.run(until=now_sim)
        deliver()

    async def run(
        self, until_s: float, deliver: Callable[[], int], stop: asyncio.Event | None = None
    ) -> None:
        """Run to simulated ``until_s`` (or until ``stop`` is set), delivering via ``deliver``."""
        env = self.env
        self._settle()
        self._t0_wall = time.perf_counter()
        self._t0_sim = float(env.now)
        now = time.perf_counter
        guard_s = self.GUARD_S
        spin_s = self.SPIN_S
        while env.now < until_s and not (stop is not None and stop.is_set()):
            target = min(env.peek(), until_s)
            deadline = self._t0_wall + (target - self._t0_sim) / self.speed
            left = deadline - now() - guard_s
            if left > 0:
                if not self._woken:
                    await self._nap(left * (1.0 - self.SLACK_FRACTION))
                    continue
                self._deliver(deliver, target)
                continue
            # Close to the deadline: keep serving sockets, then spin the last stretch.
            spin_from = deadline - spin_s
            while now() < spin_from:
                await asyncio.sleep(0)
            while now() < deadline:
                pass
            self.lateness_s.append(now() - deadline)
            if target >= until_s:
                env.run(until=until_s)
                break
            while env.peek() <= target:
                env.step()
            if self._woken:
                # Arrived inside the guard window: delivered now, after the deadline's events.
                self._deliver(deliver, min(env.peek(), until_s))
            # Let the transport breathe between event bursts.
            await asyncio.sleep(0)

    def lateness_summary(self) -> dict[str, float | None]:
        """p50, p99 and max of deadline lateness, milliseconds."""
        return lateness_summary(self.lateness_s)


def lateness_summary(lateness_s: list[float]) -> dict[str, float | None]:
    """p50, p99 and max of lateness values [s], in milliseconds (None when there are none)."""
    if not lateness_s:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    arr = sorted(lateness_s)

    def pct(q: float) -> float:
        return round(nearest_rank(arr, q, presorted=True) * 1e3, 3)

    return {"p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": round(arr[-1] * 1e3, 3)}


def nearest_rank(values: Sequence[float], q: float, presorted: bool = False) -> float:
    """The nearest-rank ``q`` quantile (0..1) of ``values``: one of the values themselves,
    as the pacer and the benchmarks report latencies."""
    arr = values if presorted else sorted(values)
    return arr[min(len(arr) - 1, int(q * (len(arr) - 1) + 0.5))]
