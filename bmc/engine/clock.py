"""Clocks. Virtual time is SimPy's own; the asyncio-paced real-time clock lives here too."""

from __future__ import annotations

import time

import simpy


def virtual() -> simpy.Environment:
    """An environment that runs as fast as possible in simulated seconds."""
    return simpy.Environment()


def wall_seconds() -> float:
    """Monotonic wall-clock seconds: for measuring runs, never for simulated behaviour."""
    return time.perf_counter()
