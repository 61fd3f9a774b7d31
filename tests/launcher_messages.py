"""Messages an FDC sends a launcher, for tests of both launcher hosts (simulated and Pi)."""

from __future__ import annotations

from dataclasses import replace

from protocols import codec
from protocols import messages as m


def fire_order(n: int, issued_s: float, key: bytes, **changes: object) -> m.FireOrder:
    """Order ``FDC-<n>`` to L1, issued at ``issued_s``, valid 10 s, signed with ``key`` after ``changes``."""
    o = m.FireOrder(
        order_id=f"FDC-{n:05d}",
        launcher_id="L1",
        target_track_id=n,
        target_position_m=(9000.0, 6000.0, 300.0),
        target_velocity_mps=(-50.0, -30.0, 0.0),
        intercept_point_m=(5000.0, 3000.0, 300.0),
        intercept_time_s=issued_s + 60,
        rounds=1,
        issued_time_s=issued_s,
        expiry_time_s=issued_s + 10,
    )
    return codec.sign_order(replace(o, **changes), key)  # type: ignore[arg-type]


def fdc_heartbeat(time_s: float, key: bytes, boot_nonce: int = 0) -> m.FdcHeartbeat:
    """The FDC's heartbeat at ``time_s``, tagged for L1 (fire-order ``key``, booted with ``boot_nonce``)."""
    hb = m.FdcHeartbeat("FDC", m.WeaponsControl.FREE, time_s=time_s)
    return codec.sign_heartbeat(hb, {"L1": key}, {"L1": boot_nonce})
