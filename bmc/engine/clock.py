"""Clocks. Virtual time is SimPy's own; the asyncio-paced real-time clock lives here too."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

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


async def sleep_until(deadline_s: float, spin_s: float = 0.0015) -> float:
    """Wait until ``wall_seconds()`` reaches ``deadline_s``; return how late it woke, seconds.

    asyncio timers fire up to ~1 ms late, so this sleeps to ``spin_s`` short of the
    deadline and spins the rest, yielding to the loop at every turn: other tasks and
    socket writes go on while it spins."""
    early = deadline_s - time.perf_counter() - spin_s
    if early > 0:
        await asyncio.sleep(early)
    while (now := time.perf_counter()) < deadline_s:
        await asyncio.sleep(0)
    return now - deadline_s


class Pacer:
    """Steps a SimPy environment at wall-clock deadlines from inside asyncio.

    SimPy's own ``RealtimeEnvironment`` blocks its thread and cannot take
    events from outside; this pacer instead waits in asyncio until the next
    event's deadline or until ``wake`` signals an external message, which is
    then delivered at the current simulated time (``deliver``). To beat the
    event loop's ~1 ms timer granularity it sleeps to just short of the
    deadline and spins the rest. Lateness of every deadline is recorded.
    """

    SPIN_S = 0.0015
    """How long before a deadline sleeping stops and spinning starts."""

    def __init__(self, env: simpy.Environment, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0 (got {speed})")
        self.env = env
        self.speed = speed
        self.lateness_s: list[float] = []
        self._wake = asyncio.Event()
        self._t0_wall = 0.0
        self._t0_sim = 0.0

    def wake(self) -> None:
        """Ask the pacer to deliver external messages now."""
        self._wake.set()

    def sim_now(self) -> float:
        """Simulated time that corresponds to the wall clock now."""
        return self._t0_sim + (time.perf_counter() - self._t0_wall) * self.speed

    async def run(
        self, until_s: float, deliver: Callable[[], int], stop: asyncio.Event | None = None
    ) -> None:
        """Run to simulated ``until_s`` (or until ``stop`` is set), delivering via ``deliver``."""
        env = self.env
        self._t0_wall = time.perf_counter()
        self._t0_sim = float(env.now)
        loop_time = time.perf_counter
        while env.now < until_s and not (stop is not None and stop.is_set()):
            target = min(env.peek(), until_s)
            deadline = self._t0_wall + (target - self._t0_sim) / self.speed
            early = deadline - loop_time() - self.SPIN_S
            if early > 0 and not self._wake.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=early)
            if self._wake.is_set():
                self._wake.clear()
                now_sim = min(self.sim_now(), target)
                if now_sim > env.now:
                    env.run(until=now_sim)
                deliver()
                continue
            while loop_time() < deadline:
                pass
            self.lateness_s.append(loop_time() - deadline)
            if target >= until_s:
                env.run(until=until_s)
                break
            while env.peek() <= target:
                env.step()
            # Let the transport breathe between event bursts.
            await asyncio.sleep(0)

    def lateness_summary(self) -> dict[str, float | None]:
        """p50, p99 and max of deadline lateness, milliseconds."""
        if not self.lateness_s:
            return {"p50_ms": None, "p99_ms": None, "max_ms": None}
        arr = sorted(self.lateness_s)

        def pct(q: float) -> float:
            return round(arr[min(len(arr) - 1, int(q * (len(arr) - 1) + 0.5))] * 1e3, 3)

        return {"p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": round(arr[-1] * 1e3, 3)}
