"""World paths: the single-object evaluation agrees with the vectorised one."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bmc.engine.world import Paths, first_entry_time
from bmc.scenario import FlightPlan


def _plans() -> list[FlightPlan]:
    return [
        FlightPlan(
            id="A",
            kind="drone",
            friendly=False,
            iff=False,
            rcs_m2=0.1,
            start_s=5.0,
            points_m=[(0.0, 0.0, 100.0), (1000.0, 0.0, 100.0), (1000.0, 2000.0, 0.0)],
            speeds_mps=[50.0, 100.0],
            target=None,
        ),
        FlightPlan(
            id="B",
            kind="fighter",
            friendly=True,
            iff=True,
            rcs_m2=5.0,
            start_s=0.0,
            points_m=[(0.0, 5000.0, 3000.0), (0.0, -5000.0, 3000.0)],
            speeds_mps=[250.0],
            target=None,
        ),
    ]


@settings(max_examples=200, deadline=None)
@given(t=st.floats(-10.0, 100.0))
def test_state_of_matches_state_at(t: float) -> None:
    paths = Paths(_plans())
    all_states = paths.state_at(t)
    for i in range(paths.n):
        assert np.allclose(paths.state_of(i, t), all_states[i])


def test_leg_times_and_entry() -> None:
    paths = Paths(_plans())
    # A: 20 s on its first leg (1000 m at 50 m/s), then 2000 m at 100 m/s.
    assert np.allclose(paths.state_of(0, 25.0)[:3], [1000.0, 0.0, 100.0])
    assert paths.end_s[0] == 5.0 + 20.0 + np.hypot(2000.0, 100.0) / 100.0
    starts, points, vels = paths.legs(1)
    # B crosses north = 0 at t = 20 s; a 1 km circle around the origin is entered at t = 16 s.
    t = first_entry_time(starts, points, vels, float(paths.end_s[1]), (0.0, 0.0), 1000.0)
    assert t is not None and abs(t - 16.0) < 1e-9
