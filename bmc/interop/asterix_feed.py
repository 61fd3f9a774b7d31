"""The cell's air picture and radar reports as ASTERIX (encoder: ``protocols.asterix``).

- CAT062 (system tracks) from the FDC's ``picture``: one record per system track, the
  first of a track flagged track-begin, and one more record flagged track-end, at its
  last state, in the first picture without it;
- CAT048 (monoradar target reports) from each radar's ``tracks``: polar position from
  the radar's geodetic position (slant range and azimuth, pymap3d's ``geodetic2aer``),
  the cartesian position and ground velocity in the radar's own east/north;
- CAT034 (radar service messages) per radar scan: a north marker at the scan time and
  ``sectors`` sector crossings spread over the scan period after it.

Data sources: CAT062 is stamped ``sac``/``sic``; each radar its scenario ``sac``/``sic``,
by default ``sac`` and ``sic + 1 + index``. docs/INTEROP.md has the item tables.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np
import pymap3d

from bmc.interop.feed import ASTERIX, Datagram, TimeBase
from bmc.interop.frame import Frame, frame_of
from bmc.scenario import Scenario
from protocols import asterix
from protocols import messages as m
from protocols.topics import TopicParts

log = logging.getLogger(__name__)

CATEGORIES = (62, 48, 34)
"""What the feed sends by default (``--cat``)."""

DEFAULT_SECTORS = 8
"""CAT034 sector crossings per scan (45-degree sectors)."""

_TENTATIVE, _COASTING, _DROPPED = (
    int(m.TrackStatus.TENTATIVE),
    int(m.TrackStatus.COASTING),
    int(m.TrackStatus.DROPPED),
)


def parse_categories(text: str) -> frozenset[int]:
    """``"062,048"`` as {62, 48}; ValueError naming the unknown one."""
    cats: set[int] = set()
    for item in text.split(","):
        item = item.strip()
        if not item.isdigit() or int(item) not in CATEGORIES:
            raise ValueError(f"unknown ASTERIX category {item!r}: give some of 062,048,034")
        cats.add(int(item))
    return frozenset(cats)


@dataclass(frozen=True, slots=True)
class RadarSite:
    """What CAT048/CAT034 need of one radar."""

    sac: int
    sic: int
    lat_deg: float
    lon_deg: float
    height_m: float
    scan_period_s: float


@dataclass(slots=True)
class AsterixFeed:
    """ASTERIX of one scenario's cell."""

    scenario: Scenario
    time: TimeBase
    sac: int = 0
    sic: int = 1
    categories: frozenset[int] = frozenset(CATEGORIES)
    sectors: int = DEFAULT_SECTORS
    stream: str = ASTERIX
    frame: Frame = field(init=False)
    radars: dict[str, RadarSite] = field(init=False)
    _live: dict[int, asterix.SystemTrack] = field(init=False, default_factory=dict)
    records: int = field(init=False, default=0)
    """Track records sent (CAT062 and CAT048)."""
    skipped: dict[str, int] = field(init=False, default_factory=dict)
    """Records with a value out of its item's range, by category: not sent; ``CAT062 without
    altitude``: sent without their altitude and climb."""

    def __post_init__(self) -> None:
        for name in ("sac", "sic"):
            value = getattr(self, name)
            if not 0 <= value <= 255:
                raise ValueError(f"{name}: an ASTERIX SAC/SIC is 0..255 (got {value})")
        if not 0 <= self.sectors <= 256:
            raise ValueError(f"sectors: 0..256 per scan (got {self.sectors})")
        unknown = self.categories - set(CATEGORIES)
        if unknown or not self.categories:
            raise ValueError(f"categories: some of {CATEGORIES} (got {sorted(self.categories)})")
        self.frame = frame_of(self.scenario)
        self.radars = {}
        used = {(self.sac, self.sic): "the FDC (CAT062)"}
        for i, r in enumerate(self.scenario.radars):
            sac = self.sac if r.sac is None else r.sac
            sic = (self.sic + 1 + i) % 256 if r.sic is None else r.sic
            if (sac, sic) in used:
                raise ValueError(
                    f"radars[{i}] ({r.id}): SAC/SIC {sac}/{sic} is already {used[(sac, sic)]}'s: "
                    "give the radar its own sac/sic in the scenario"
                )
            used[(sac, sic)] = f"radar {r.id}"
            lat, lon, h = self.frame.geodetic(*self.scenario.enu(r.position))
            self.radars[r.id] = RadarSite(sac, sic, float(lat), float(lon), float(h), r.scan_period_s)

    def wanted(self, parts: TopicParts) -> bool:
        ch = parts.channel.name
        return (ch == "picture" and 62 in self.categories) or (
            ch == "tracks" and parts.node_id in self.radars and bool(self.categories & {48, 34})
        )

    def feed(self, parts: TopicParts, msg: m.Message, time_s: float) -> list[Datagram]:
        body = msg.body
        if isinstance(body, m.AirPicture) and 62 in self.categories:
            return self._cat062(body)
        if isinstance(body, m.TrackReport):
            site = self.radars.get(parts.node_id)
            if site is not None:
                return self._radar(site, body)
        return []

    # ------------------------------------------------------------ CAT062

    def _cat062(self, p: m.AirPicture) -> list[Datagram]:
        t = p.time_s
        tod = self.time.time_of_day_s(t)
        st = p.state
        lat, lon, h = self.frame.geodetic(st[:, 0], st[:, 1], st[:, 2])
        records: list[asterix.SystemTrack] = []
        live: dict[int, asterix.SystemTrack] = {}
        ids = p.track_id.tolist()
        for k, tid in enumerate(ids):
            number = int(tid) & 0xFFFF
            rec = self._system_track(
                track_number=number,
                time_of_day_s=tod,
                lat_deg=float(lat[k]),
                lon_deg=float(lon[k]),
                x_m=float(st[k, 0]),
                y_m=float(st[k, 1]),
                v_east_mps=float(st[k, 3]),
                v_north_mps=float(st[k, 4]),
                altitude_m=float(h[k]),
                rate_of_climb_mps=float(st[k, 5]),
                first=number not in self._live,
            )
            if rec is None:
                continue
            live[number] = rec
            records.append(rec)
        for number, last in self._live.items():
            if number not in live:
                records.append(_replace_ended(last, tod))
        self._live = live
        return self._blocks(t, asterix.encode_cat062(self.sac, self.sic, records), len(records))

    # ------------------------------------------------------------ CAT048 / CAT034

    def _radar(self, site: RadarSite, r: m.TrackReport) -> list[Datagram]:
        t = r.scan_time_s
        out: list[Datagram] = []
        if 34 in self.categories:
            out += self._cat034(site, t)
        if 48 in self.categories and len(r):
            out += self._cat048(site, r)
        return out

    def _cat034(self, site: RadarSite, t: float) -> list[Datagram]:
        tod = self.time.time_of_day_s
        period = site.scan_period_s
        out = [
            Datagram(
                t,
                asterix.encode_cat034_north_marker(site.sac, site.sic, tod(t), rotation_period_s=period),
                ASTERIX,
            )
        ]
        for k in range(1, self.sectors):
            at = t + period * k / self.sectors
            out.append(
                Datagram(
                    at,
                    asterix.encode_cat034_sector(site.sac, site.sic, tod(at), 360.0 * k / self.sectors),
                    ASTERIX,
                )
            )
        return out

    def _cat048(self, site: RadarSite, r: m.TrackReport) -> list[Datagram]:
        st = r.state
        lat, lon, h = self.frame.geodetic(st[:, 0], st[:, 1], st[:, 2])
        az, _el, rng = pymap3d.geodetic2aer(lat, lon, h, site.lat_deg, site.lon_deg, site.height_m)
        x, y, _u = pymap3d.geodetic2enu(lat, lon, h, site.lat_deg, site.lon_deg, site.height_m)
        ve, vn, _vu = Frame.velocity_local(
            site.lat_deg, site.lon_deg, *Frame.velocity_ecef(lat, lon, st[:, 3], st[:, 4], st[:, 5])
        )
        speed = np.hypot(ve, vn)
        heading = np.degrees(np.arctan2(ve, vn)) % 360.0
        tod = self.time.time_of_day_s(r.scan_time_s)
        status = r.status.tolist()
        records = []
        for k, tid in enumerate(r.track_id.tolist()):
            try:
                records.append(
                    asterix.TargetReport(
                        time_of_day_s=tod,
                        range_m=float(rng[k]),
                        azimuth_deg=float(az[k]) % 360.0,
                        track_number=int(tid) & 0xFFF,
                        x_m=float(x[k]),
                        y_m=float(y[k]),
                        ground_speed_mps=float(speed[k]),
                        heading_deg=float(heading[k]),
                        height_m=float(h[k]),
                        confirmed=status[k] != _TENTATIVE,
                        coasting=status[k] == _COASTING,
                        last=status[k] == _DROPPED,
                    )
                )
            except ValueError as exc:
                self._skip("CAT048", exc)
        return self._blocks(r.scan_time_s, asterix.encode_cat048(site.sac, site.sic, records), len(records))

    def _system_track(self, **fields: object) -> asterix.SystemTrack | None:
        """The record, or without its altitude and climb (a low track's estimate below the
        item's -1,500 ft), or None (counted) when even that is out of range."""
        try:
            return asterix.SystemTrack(**fields)  # type: ignore[arg-type]
        except ValueError as exc:
            try:
                rec = asterix.SystemTrack(**(fields | {"altitude_m": None, "rate_of_climb_mps": None}))  # type: ignore[arg-type]
            except ValueError:
                self._skip("CAT062", exc)
                return None
            self._skip("CAT062 without altitude", exc, "sent without its altitude and climb")
            return rec

    def _skip(self, category: str, exc: ValueError, what: str = "not sent") -> None:
        """A record the category cannot carry (a track beyond 256 NM for CAT048): counted, logged."""
        n = self.skipped[category] = self.skipped.get(category, 0) + 1
        if n <= 3:
            log.warning("%s record %s: %s", category.split()[0], what, exc)

    def _blocks(self, t: float, blocks: Iterable[bytes], records: int) -> list[Datagram]:
        self.records += records
        return [Datagram(t, b, ASTERIX) for b in blocks]


def _replace_ended(last: asterix.SystemTrack, tod: float) -> asterix.SystemTrack:
    """The track-end record of a track gone from the picture: its last state, stamped now."""
    return replace(last, time_of_day_s=tod, first=False, last=True)
