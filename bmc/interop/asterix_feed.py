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
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pymap3d

from bmc.interop.feed import ASTERIX, Datagram, TimeBase
from bmc.interop.frame import Frame, frame_of
from bmc.scenario import Scenario
from protocols import asterix
from protocols import messages as m
from protocols.topics import TopicParts

log = logging.getLogger(__name__)

MODE4 = np.zeros(max(int(v) for v in m.Identity) + 1, dtype=np.int64)
MODE4[[int(m.Identity.FRIEND), int(m.Identity.UNKNOWN), int(m.Identity.HOSTILE)]] = (1, 2, 3)
"""I062/080 MD4 of each identity: friend "friendly target", unknown "unknown target", hostile
"no reply" (our hostiles give no valid IFF answer); pending (not yet interrogated) 0."""

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
    _live: dict[int, npt.NDArray[np.float64]] = field(init=False, default_factory=dict)
    """Track number -> its last row (lat, lon, x, y, vx, vy, altitude, climb, MD4): a track gone
    from the picture gets one more record, flagged track-end, at that state."""
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
        st = p.state
        lat, lon, h = self.frame.geodetic(st[:, 0], st[:, 1], st[:, 2], corrections=0)
        numbers = p.track_id.astype(np.int64) & 0xFFFF
        # Columns: this picture's tracks, then one track-end row per track gone since the last.
        rows = np.column_stack(
            [lat, lon, st[:, 0], st[:, 1], st[:, 3], st[:, 4], h, st[:, 5], MODE4.take(p.identity)]
        )
        now = set(numbers.tolist())
        ended = [n for n in self._live if n not in now]
        if ended:
            rows = np.vstack([rows, np.array([self._live[n] for n in ended])])
        live = dict(zip(numbers.tolist(), rows[: len(numbers)], strict=True))
        first = np.array([n not in self._live for n in numbers.tolist()] + [False] * len(ended), dtype=bool)
        last = np.array([False] * len(numbers) + [True] * len(ended), dtype=bool)
        self._live = live
        tracks = asterix.SystemTracks(
            time_of_day_s=self.time.time_of_day_s(p.time_s),
            track_number=np.concatenate([numbers, np.array(ended, dtype=np.int64)]),
            lat_deg=rows[:, 0],
            lon_deg=rows[:, 1],
            x_m=rows[:, 2],
            y_m=rows[:, 3],
            v_east_mps=rows[:, 4],
            v_north_mps=rows[:, 5],
            altitude_m=rows[:, 6],
            rate_of_climb_mps=rows[:, 7],
            first=first,
            last=last,
            mode4=rows[:, 8].astype(np.int64),
        )
        blocks, sent, without = asterix.encode_cat062_tracks(self.sac, self.sic, tracks)
        if not sent.all():
            self._skip("CAT062", int(np.count_nonzero(~sent)), "not sent: a value beyond its item's range")
        if without.any():
            self._skip(
                "CAT062 without altitude",
                int(np.count_nonzero(without)),
                "sent without its altitude and climb",
            )
        return self._blocks(p.time_s, blocks, int(np.count_nonzero(sent)))

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
        lat, lon, h = self.frame.geodetic(st[:, 0], st[:, 1], st[:, 2], corrections=0)
        # In the radar's own frame: east/north on its tangent plane, slant range and azimuth.
        x, y, u = pymap3d.geodetic2enu(lat, lon, h, site.lat_deg, site.lon_deg, site.height_m)
        az, _el, rng = pymap3d.enu2aer(x, y, u)
        ve, vn, _vu = Frame.velocity_local(
            site.lat_deg, site.lon_deg, *Frame.velocity_ecef(lat, lon, st[:, 3], st[:, 4], st[:, 5])
        )
        status = r.status
        reports = asterix.TargetReports(
            time_of_day_s=self.time.time_of_day_s(r.scan_time_s),
            range_m=np.asarray(rng, dtype=np.float64),
            azimuth_deg=np.asarray(az, dtype=np.float64) % 360.0,
            track_number=r.track_id.astype(np.int64) & 0xFFF,
            x_m=np.asarray(x, dtype=np.float64),
            y_m=np.asarray(y, dtype=np.float64),
            ground_speed_mps=np.hypot(ve, vn),
            heading_deg=np.degrees(np.arctan2(ve, vn)) % 360.0,
            height_m=h,
            confirmed=status != _TENTATIVE,
            coasting=status == _COASTING,
            last=status == _DROPPED,
        )
        blocks, sent = asterix.encode_cat048_reports(site.sac, site.sic, reports)
        if not sent.all():
            self._skip("CAT048", int(np.count_nonzero(~sent)), "not sent: a value beyond its item's range")
        return self._blocks(r.scan_time_s, blocks, int(np.count_nonzero(sent)))

    def _skip(self, category: str, count: int, what: str) -> None:
        """Records with a value an item cannot hold (a track beyond 256 NM for CAT048): counted, logged."""
        before = self.skipped.get(category, 0)
        self.skipped[category] = before + count
        if before < 3:
            log.warning("%s: %d record(s) %s", category.split()[0], count, what)

    def _blocks(self, t: float, blocks: Iterable[bytes], records: int) -> list[Datagram]:
        self.records += records
        return [Datagram(t, b, ASTERIX) for b in blocks]
