"""bmc.interop.frame: the exact inverse of Scenario.enu, and consistent ECEF conversions."""

from __future__ import annotations

import math

import numpy as np
import pymap3d
from hypothesis import given, settings
from hypothesis import strategies as st

from bmc.interop.frame import Frame, frame_of
from bmc.scenario import Position, load_scenario

SCENARIO = load_scenario("sim_configs/single_engagement.yaml")
FRAME = frame_of(SCENARIO)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(-0.8, 0.8), st.floats(-1.2, 1.2), st.floats(0.0, 20_000.0)
)  # about +-90 km around Brussels, up to 20 km
def test_geodetic_inverts_the_scenario_s_own_conversion(dlat: float, dlon: float, alt: float) -> None:
    lat, lon = SCENARIO.origin.lat_deg + dlat, SCENARIO.origin.lon_deg + dlon
    e, n, u = SCENARIO.enu(Position(lat_deg=lat, lon_deg=lon, alt_m=alt))
    la, lo, h = FRAME.geodetic(e, n, u)
    assert abs(float(la) - lat) * 111_000 < 5e-5 and abs(float(lo) - lon) * 70_000 < 5e-5
    assert abs(float(h) - (alt + SCENARIO.origin.alt_m)) < 1e-9
    back = FRAME.local(la, lo, h)
    assert math.dist([float(x) for x in back], (e, n, u)) < 5e-5


def test_ecef_is_pymap3d_s_of_the_geodetic_point_and_back() -> None:
    e, n, u = (
        np.array([0.0, 30_000.0, -45_000.0]),
        np.array([0.0, -12_000.0, 60_000.0]),
        np.array([0.0, 300.0, 9_000.0]),
    )
    x, y, z = FRAME.ecef(e, n, u)
    lat, lon, h = FRAME.geodetic(e, n, u)
    want = pymap3d.geodetic2ecef(lat, lon, h)
    assert np.allclose([x, y, z], want, atol=1e-6, rtol=0)
    assert np.allclose(FRAME.from_ecef(x, y, z), [e, n, u], atol=1e-5, rtol=0)
    # The origin itself.
    ox, oy, oz = pymap3d.geodetic2ecef(
        SCENARIO.origin.lat_deg, SCENARIO.origin.lon_deg, SCENARIO.origin.alt_m
    )
    assert math.dist((x[0], y[0], z[0]), (ox, oy, oz)) < 1e-6


def test_velocity_rotates_both_ways_and_keeps_its_length() -> None:
    lat, lon = np.array([50.0, 51.0]), np.array([4.0, 5.5])
    v = (np.array([100.0, -30.0]), np.array([0.0, 250.0]), np.array([5.0, -2.0]))
    ecef = Frame.velocity_ecef(lat, lon, *v)
    assert np.allclose(np.linalg.norm(np.array(ecef), axis=0), np.linalg.norm(np.array(v), axis=0))
    assert np.allclose(Frame.velocity_local(lat, lon, *ecef), v)
    # Due east at lon 0, lat 0 is ECEF +y.
    assert np.allclose(Frame.velocity_ecef(0.0, 0.0, 1.0, 0.0, 0.0), (0.0, 1.0, 0.0), atol=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.floats(-0.8, 0.8), st.floats(-1.2, 1.2), st.floats(0.0, 20_000.0))
def test_the_first_guess_is_within_a_tenth_of_cat062_s_lsb(dlat: float, dlon: float, alt: float) -> None:
    lat, lon = SCENARIO.origin.lat_deg + dlat, SCENARIO.origin.lon_deg + dlon
    e, n, u = SCENARIO.enu(Position(lat_deg=lat, lon_deg=lon, alt_m=alt))
    la, lo, _h = FRAME.geodetic(e, n, u, corrections=0)
    off_m = math.hypot((float(la) - lat) * 111_200, (float(lo) - lon) * 111_200 * math.cos(math.radians(lat)))
    assert off_m < 0.07  # CAT062's LSB is 180/2^25 degrees: 0.6 m
