"""Launcher state machine and fire-order acceptance rules. Pure: no clock, no I/O.

States and the transitions allowed between them are explicit; an illegal
transition raises, so a wrong sequence in a node shows up in tests instead of
as a silent odd state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from protocols.messages import FireOrder, LauncherState

S = LauncherState

TRANSITIONS: dict[LauncherState, frozenset[LauncherState]] = {
    S.SAFE: frozenset({S.READY, S.HOLD, S.FAULT}),
    S.READY: frozenset({S.ENGAGING, S.HOLD, S.FAULT, S.SAFE}),
    S.ENGAGING: frozenset({S.READY, S.RELOADING, S.HOLD, S.FAULT}),
    S.RELOADING: frozenset({S.READY, S.HOLD, S.FAULT}),
    S.HOLD: frozenset({S.READY, S.RELOADING, S.FAULT, S.SAFE}),
    S.FAULT: frozenset({S.SAFE}),
}


class IllegalTransitionError(RuntimeError):
    """A state change the machine does not allow."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """Where a launcher can intercept (slant range from the launcher, height above origin)."""

    position_m: tuple[float, float, float]
    min_range_m: float
    max_range_m: float
    min_altitude_m: float
    max_altitude_m: float

    def __post_init__(self) -> None:
        if not 0 <= self.min_range_m < self.max_range_m:
            raise ValueError(
                f"need 0 <= min_range_m < max_range_m (got {self.min_range_m}, {self.max_range_m})"
            )
        if not self.min_altitude_m < self.max_altitude_m:
            raise ValueError(
                f"need min_altitude_m < max_altitude_m (got {self.min_altitude_m}, {self.max_altitude_m})"
            )

    def contains(self, point_m: tuple[float, float, float]) -> bool:
        """True when ``point_m`` is inside the envelope."""
        # Plain floats: numpy's per-call cost (~50 us here) dwarfs the work for one point,
        # and a HIL launcher checks every order on this path.
        x, y, z = (float(v) for v in point_m)
        if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
            return False
        r = math.dist((x, y, z), self.position_m)
        return self.min_range_m <= r <= self.max_range_m and self.min_altitude_m <= z <= self.max_altitude_m


class LauncherMachine:
    """State and magazine of one launcher."""

    def __init__(self, launcher_id: str, missiles: int) -> None:
        if missiles <= 0:
            raise ValueError(f"missiles must be > 0 (got {missiles})")
        self.launcher_id = launcher_id
        self.capacity = missiles
        self.missiles = missiles
        self.state = S.SAFE

    def go(self, new: LauncherState) -> bool:
        """Move to ``new``; False when already there. Raises on an illegal transition."""
        if new == self.state:
            return False
        if new not in TRANSITIONS[self.state]:
            raise IllegalTransitionError(
                f"{self.launcher_id}: {self.state.name} -> {new.name} is not allowed"
            )
        self.state = new
        return True

    def fire_one(self) -> None:
        """Take one missile off the rail."""
        if self.missiles <= 0:
            raise IllegalTransitionError(f"{self.launcher_id}: no missile left to fire")
        self.missiles -= 1

    def reloaded(self) -> None:
        """Magazine full again."""
        self.missiles = self.capacity

    def after_engagement(self) -> LauncherState:
        """Where an engagement ends: READY with missiles left, else RELOADING."""
        return S.READY if self.missiles > 0 else S.RELOADING


def order_rejection(
    order: FireOrder,
    *,
    launcher_id: str,
    now_s: float,
    authentic: bool,
    state: LauncherState,
    missiles: int,
    envelope: Envelope,
) -> str | None:
    """Why ``order`` must be refused, or None to accept. Checked in this order:
    authenticity first (an unauthenticated order learns nothing else), then
    addressee, freshness, state, magazine and envelope."""
    if not authentic:
        return "authentication failed"
    if order.launcher_id != launcher_id:
        return f"addressed to {order.launcher_id!r}"
    if now_s > order.expiry_time_s:
        return f"expired at {order.expiry_time_s:.3f} s (now {now_s:.3f} s)"
    if order.issued_time_s > now_s + 1.0:
        return f"issued in the future ({order.issued_time_s:.3f} s, now {now_s:.3f} s)"
    if order.rounds < 1:
        return f"rounds must be >= 1 (got {order.rounds})"
    if state != S.READY:
        return f"not ready ({state.name})"
    if missiles < order.rounds:
        return f"{missiles} missile(s) ready, {order.rounds} ordered"
    if not envelope.contains(order.intercept_point_m):
        return "intercept point outside the envelope"
    return None
