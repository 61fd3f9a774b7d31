"""The scenario's local frame in the standards' coordinates: WGS-84 geodetic and ECEF.

Our kinematics are flat-earth: ``east``/``north`` on the tangent plane at the scenario
origin and ``up`` = height above the origin's altitude (``Scenario.enu``). :meth:`Frame.geodetic`
is the exact inverse of ``Scenario.enu``, so a waypoint given as lat/lon/alt in a scenario
comes back out of a gateway as the same lat/lon/alt. All conversions are pymap3d's; the
only arithmetic here is the fixed-point iteration that inverts ``Scenario.enu`` (pymap3d's
tangent plane depends on height, ours keeps height separate).

Velocities are local east/north/up at the object's own position (``up`` is climb rate),
rotated to ECEF there with pymap3d's ``enu2uvw``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pymap3d

from bmc.scenario import Scenario

Array = npt.NDArray[np.float64]

_ITERATIONS = 1
"""Corrections of the tangent-plane height in :meth:`Frame.geodetic` after its first guess
(the height less the earth's fall over the distance, on a sphere). Each costs one pymap3d
call (~120 us per 100 points); the errors measured are in tests/unit/bmc/test_interop_frame.py."""

_MEAN_EARTH_RADIUS_M = 6_371_008.8
"""For the first guess only (IUGG mean radius)."""


@dataclass(frozen=True, slots=True)
class Frame:
    """The local frame of one scenario, anchored at its geodetic origin."""

    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0

    def geodetic(
        self,
        east_m: npt.ArrayLike,
        north_m: npt.ArrayLike,
        up_m: npt.ArrayLike,
        corrections: int = _ITERATIONS,
    ) -> tuple[Array, Array, Array]:
        """(lat_deg, lon_deg, height_m) of local points: the inverse of ``Scenario.enu``.

        ``Scenario.enu`` keeps a point's east/north on the origin's tangent plane and its
        height apart. Here the point's tangent-plane up is found whose geodetic height is that
        height (a 1-D fixed point), and pymap3d's ``enu2geodetic`` of it is the answer.
        ``corrections=0`` stops at the first guess: within 7 cm over +-90 km and 20 km up, a
        tenth of CAT062's 0.6 m LSB, at half the cost (what the live feeds use)."""
        e, n, u = (np.asarray(x, dtype=np.float64) for x in (east_m, north_m, up_m))
        h = u + self.alt_m
        o = (self.lat_deg, self.lon_deg, self.alt_m)
        tangent_up = u - (e * e + n * n) / (2.0 * _MEAN_EARTH_RADIUS_M)
        lat, lon, got_h = pymap3d.enu2geodetic(e, n, tangent_up, *o)
        for _ in range(corrections):
            tangent_up = tangent_up + (h - got_h)
            lat, lon, got_h = pymap3d.enu2geodetic(e, n, tangent_up, *o)
        return np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64), h

    def local(
        self, lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike, height_m: npt.ArrayLike
    ) -> tuple[Array, Array, Array]:
        """Local (east, north, up) of geodetic points, as ``Scenario.enu`` gives them."""
        h = np.asarray(height_m, dtype=np.float64)
        e, n, _u = pymap3d.geodetic2enu(lat_deg, lon_deg, h, self.lat_deg, self.lon_deg, self.alt_m)
        return np.asarray(e, dtype=np.float64), np.asarray(n, dtype=np.float64), h - self.alt_m

    def ecef(
        self, east_m: npt.ArrayLike, north_m: npt.ArrayLike, up_m: npt.ArrayLike
    ) -> tuple[Array, Array, Array]:
        """ECEF (x, y, z) metres of local points."""
        return self.geodetic_to_ecef(*self.geodetic(east_m, north_m, up_m))

    def from_ecef(
        self, x_m: npt.ArrayLike, y_m: npt.ArrayLike, z_m: npt.ArrayLike
    ) -> tuple[Array, Array, Array]:
        """Local (east, north, up) of ECEF points."""
        return self.local(*self.ecef_to_geodetic(x_m, y_m, z_m))

    @staticmethod
    def geodetic_to_ecef(
        lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike, height_m: npt.ArrayLike
    ) -> tuple[Array, Array, Array]:
        """ECEF (x, y, z) metres of geodetic points (for a caller that has them already)."""
        x, y, z = pymap3d.geodetic2ecef(lat_deg, lon_deg, height_m)
        return (
            np.asarray(x, dtype=np.float64),
            np.asarray(y, dtype=np.float64),
            np.asarray(z, dtype=np.float64),
        )

    @staticmethod
    def ecef_to_geodetic(
        x_m: npt.ArrayLike, y_m: npt.ArrayLike, z_m: npt.ArrayLike
    ) -> tuple[Array, Array, Array]:
        """(lat_deg, lon_deg, height_m) of ECEF points."""
        lat, lon, h = pymap3d.ecef2geodetic(x_m, y_m, z_m)
        return (
            np.asarray(lat, dtype=np.float64),
            np.asarray(lon, dtype=np.float64),
            np.asarray(h, dtype=np.float64),
        )

    @staticmethod
    def velocity_ecef(
        lat_deg: npt.ArrayLike,
        lon_deg: npt.ArrayLike,
        v_east: npt.ArrayLike,
        v_north: npt.ArrayLike,
        v_up: npt.ArrayLike,
    ) -> tuple[Array, Array, Array]:
        """ECEF velocity of local velocities at the given geodetic positions."""
        u, v, w = pymap3d.enu2uvw(v_east, v_north, v_up, lat_deg, lon_deg)
        return (
            np.asarray(u, dtype=np.float64),
            np.asarray(v, dtype=np.float64),
            np.asarray(w, dtype=np.float64),
        )

    @staticmethod
    def velocity_local(
        lat_deg: npt.ArrayLike,
        lon_deg: npt.ArrayLike,
        vx: npt.ArrayLike,
        vy: npt.ArrayLike,
        vz: npt.ArrayLike,
    ) -> tuple[Array, Array, Array]:
        """Local (east, north, up) velocity of ECEF velocities at the given geodetic positions."""
        e, n, u = pymap3d.uvw2enu(vx, vy, vz, lat_deg, lon_deg)
        return (
            np.asarray(e, dtype=np.float64),
            np.asarray(n, dtype=np.float64),
            np.asarray(u, dtype=np.float64),
        )


def frame_of(scenario: Scenario) -> Frame:
    """The frame of a scenario (its ``origin``)."""
    o = scenario.origin
    return Frame(float(o.lat_deg), float(o.lon_deg), float(o.alt_m))
