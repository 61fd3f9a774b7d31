"""Foxglove-native channels in every recording, so Foxglove's (or Lichtblick's) Map panel
shows the engagement without our code.

Three ``foxglove.GeoJSON`` channels (JSON encoding, Foxglove's published JSON schema), each
message a FeatureCollection in WGS-84 (through ``bmc.interop.frame``):

- ``/foxglove/sites``, once at the start: defended assets (their radius as a ring),
  radars (their instrumented range as a ring) and launchers (their maximum range as a
  ring), rings drawn with pymap3d's ``aer2geodetic``;
- ``/foxglove/picture``, with each FDC picture: every system track, with its id,
  identity, class, threat rank, the asset it threatens and its engagement state;
- ``/foxglove/truth``, with each truth report: every flying object, with its id and kind.

Every feature has ``properties.name``. The bus's own channels are unchanged; these are
extra channels (``protocols.recording``), left out of the bus's log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pymap3d

from bmc.interop.frame import Frame, frame_of
from bmc.scenario import Scenario
from protocols import messages as m
from protocols.recording import Recorder

GEOJSON_SCHEMA = json.dumps(
    {
        "title": "foxglove.GeoJSON",
        "description": "GeoJSON data for annotating maps",
        "$comment": "Foxglove's published schema (https://docs.foxglove.dev, message schemas: GeoJSON)",
        "type": "object",
        "properties": {
            "geojson": {"type": "string", "description": "GeoJSON data encoded as a UTF-8 string"}
        },
    }
).encode()

SITES, PICTURE, TRUTH = "/foxglove/sites", "/foxglove/picture", "/foxglove/truth"
BATCH = 64
"""Pictures and truth reports converted and written together (their log times are their own)."""
RING_POINTS = 72
"""Vertices of a range ring (5 degrees apart)."""

_ACTIVE = int(m.ObjectStatus.ACTIVE)
IDENTITY = {int(v): v.name.lower() for v in m.Identity}
CLASS = {int(v): v.name.lower() for v in m.Classification}
ENGAGEMENT = {int(v): v.name.lower() for v in m.TrackEngagement}


def _point(lon: float, lat: float, props: dict[str, object]) -> dict[str, object]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]},
        "properties": props,
    }


@dataclass(slots=True)
class FoxgloveChannels:
    """Writes the Foxglove channels of one run into ``recorder`` (its ``also`` hook)."""

    recorder: Recorder
    scenario: Scenario
    frame: Frame = field(init=False)
    _ids: dict[str, int] = field(init=False, default_factory=dict)
    _sites_written: bool = field(init=False, default=False)
    _quotes: dict[str, str] = field(init=False, default_factory=dict)
    _pending: list[tuple[str, float, m.AirPicture | m.TruthReport, npt.NDArray[np.intp]]] = field(
        init=False, default_factory=list
    )

    def __post_init__(self) -> None:
        self.frame = frame_of(self.scenario)
        for topic in (SITES, PICTURE, TRUTH):
            self._ids[topic] = self.recorder.extra_channel(
                topic, "foxglove.GeoJSON", "jsonschema", GEOJSON_SCHEMA, "json"
            )

    def __call__(self, time_s: float, topic: str, msg: m.Message) -> None:
        if not self._sites_written:
            self._sites_written = True
            self._write(SITES, max(time_s, 0.0), self._sites())
        body = msg.body
        if isinstance(body, m.AirPicture):
            self._pending.append((PICTURE, time_s, body, np.arange(len(body))))
        elif isinstance(body, m.TruthReport):
            self._pending.append((TRUTH, time_s, body, np.flatnonzero(body.status == _ACTIVE)))
        else:
            return
        if len(self._pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        """Write what is pending, converting all its points with one pymap3d call (its fixed
        cost, ~150 us a call, was most of the channels' cost message by message). The recorder
        calls it before it closes."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        enu = np.concatenate([body.state[rows, :3] for _t, _s, body, rows in pending]).reshape(-1, 3)
        lon, lat = self._lonlat(enu) if len(enu) else ([], [])
        at = 0
        for topic, time_s, body, rows in pending:
            n = len(rows)
            part = (lon[at : at + n], lat[at : at + n])
            at += n
            if isinstance(body, m.AirPicture):
                self._write(topic, time_s, self._picture(body, *part))
            else:
                self._write(topic, time_s, self._truth(body, rows, *part))

    def _write(self, topic: str, time_s: float, features: list[dict[str, object]] | list[str]) -> None:
        """One FeatureCollection message: features as dicts, or as JSON text already (the hot
        path: a picture or truth report each second, hundreds of points)."""
        parts = [f if isinstance(f, str) else json.dumps(f, separators=(",", ":")) for f in features]
        geojson = '{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}"
        self.recorder.write_extra(self._ids[topic], time_s, json.dumps({"geojson": geojson}).encode())

    def _quoted(self, text: str) -> str:
        """``text`` as a JSON string (remembered: the same ids come every second)."""
        q = self._quotes.get(text)
        if q is None:
            if len(self._quotes) > 100_000:
                self._quotes.clear()
            q = self._quotes[text] = json.dumps(text)
        return q

    def _lonlat(self, enu: npt.NDArray[np.float64]) -> tuple[list[float], list[float]]:
        """Longitudes and latitudes of (N, 3) local points (the first guess: within 7 cm)."""
        lat, lon, _h = self.frame.geodetic(enu[:, 0], enu[:, 1], enu[:, 2], corrections=0)
        return lon.tolist(), lat.tolist()

    def _ring(
        self, enu: tuple[float, float, float], radius_m: float, props: dict[str, object]
    ) -> dict[str, object]:
        lat0, lon0, h0 = self.frame.geodetic(*enu)
        az = np.linspace(0.0, 360.0, RING_POINTS + 1)
        lat, lon, _h = pymap3d.aer2geodetic(az, np.zeros_like(az), np.full_like(az, radius_m), lat0, lon0, h0)
        coords = [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat, strict=True)]
        return {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": coords},
            "properties": props,
        }

    def _sites(self) -> list[dict[str, object]]:
        s = self.scenario
        features: list[dict[str, object]] = []
        rows: list[tuple[str, str, tuple[float, float, float], float]] = []
        rows += [("asset", a.id, s.enu(a.position), a.radius_m) for a in s.assets]
        rows += [("radar", r.id, s.enu(r.position), r.max_range_m) for r in s.radars]
        rows += [("launcher", x.id, s.enu(x.position), x.max_range_m) for x in s.launchers]
        for kind, ident, enu, radius in rows:
            lat, lon, _h = self.frame.geodetic(*enu)
            features.append(_point(float(lon), float(lat), {"name": ident, "kind": kind}))
            features.append(
                self._ring(enu, radius, {"name": f"{ident} range", "kind": kind, "radius_m": radius})
            )
        return features

    def _picture(self, p: m.AirPicture, lon: list[float], lat: list[float]) -> list[str]:
        identity, cls, rank = p.identity.tolist(), p.classification.tolist(), p.threat_rank.tolist()
        engaged, q = p.engagement.tolist(), self._quoted
        return [
            f'{{"type":"Feature","geometry":{{"type":"Point","coordinates":[{lon[k]:.7f},{lat[k]:.7f}]}},'
            f'"properties":{{"name":"track {tid}","identity":"{IDENTITY.get(identity[k], "?")}",'
            f'"class":"{CLASS.get(cls[k], "?")}","threat_rank":{rank[k]},"asset":{q(p.asset_id[k])},'
            f'"engagement":"{ENGAGEMENT.get(engaged[k], "?")}"}}}}'
            for k, tid in enumerate(p.track_id.tolist())
        ]

    def _truth(
        self, r: m.TruthReport, live: npt.NDArray[np.intp], lon: list[float], lat: list[float]
    ) -> list[str]:
        kinds, q = r.kind[live].tolist(), self._quoted
        return [
            f'{{"type":"Feature","geometry":{{"type":"Point","coordinates":[{lon[j]:.7f},{lat[j]:.7f}]}},'
            f'"properties":{{"name":{q(r.object_id[k])},"kind":"{CLASS.get(kinds[j], "?")}"}}}}'
            for j, k in enumerate(live.tolist())
        ]
