"""A recording as Tacview ACMI 2.2 text: ``bmc export REC.mcap --format acmi --out F.acmi``.

Tacview is the debriefing tool of flight simulation and military training. The file holds:

- the scene at time 0: defended assets (``Radius``), radars (``RadarRange``: the scenario's
  instrumented range) and launchers (``EngagementRange``: the envelope's maximum range, drawn
  by Tacview as a dome), each with its id as ``Name``;
- one frame (``#t``) per truth report with every flying object's position (WGS-84 through
  ``bmc.interop.frame``), its type (fighter and transport ``Air+FixedWing``, helicopter
  ``Air+Rotorcraft``, drone ``Air+FixedWing`` named drone, cruise missile
  ``Weapon+Missile``), coalition (hostile ``Enemies`` red, friendly ``Allies`` blue) and
  heading; and every interceptor in flight (``Weapon+Missile``, ``Parent`` its launcher);
- events: a ``Message`` at each launch (launcher, target), ``Destroyed`` at each kill, a
  ``Message`` when a hostile hits an asset, ``LeftArea`` when an object lands or an
  interceptor self-destructs; each ended object is removed (``-id``) then.

Times are seconds since ``ReferenceTime`` = the recording's start (UTC); positions are
offsets from ``ReferenceLongitude``/``ReferenceLatitude`` (the origin, whole degrees), as
the format asks. Object ids are hexadecimal, stable for one recording.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from bmc.interop.export import open_recorded
from bmc.interop.frame import Frame, frame_of
from bmc.scenario import Scenario
from protocols import codec
from protocols import messages as m
from protocols.recording import RecordingError

C = m.Classification
TYPES = {
    int(C.DRONE): ("Air+FixedWing", "drone"),
    int(C.FIGHTER): ("Air+FixedWing", "fighter"),
    int(C.TRANSPORT): ("Air+FixedWing", "transport"),
    int(C.HELICOPTER): ("Air+Rotorcraft", "helicopter"),
    int(C.CRUISE_MISSILE): ("Weapon+Missile", "cruise missile"),
}
"""Tacview type tags and a readable kind per object class."""

_ACTIVE = int(m.ObjectStatus.ACTIVE)


def _text(value: str) -> str:
    """A property value with the format's separators escaped."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("\n", "\\n")


@dataclass(slots=True)
class AcmiSummary:
    """What an ACMI export wrote."""

    path: Path
    objects: int = 0
    frames: int = 0
    events: int = 0
    damage: str | None = None

    def lines(self) -> list[str]:
        what = f"{self.objects} objects, {self.frames} frames, {self.events} events"
        out = [f"{self.path}: {what} (Tacview ACMI 2.2)"]
        if self.damage:
            out.append(f"recording damaged, exported what was readable: {self.damage}")
        return out


@dataclass(slots=True)
class _Flight:
    ident: int
    start_m: np.ndarray
    velocity_mps: np.ndarray
    launch_s: float


@dataclass(slots=True)
class AcmiWriter:
    """Writes one scenario's engagement as ACMI lines to ``out``, message by message."""

    scenario: Scenario
    out: TextIO
    epoch_unix_s: float
    frame: Frame = field(init=False)
    summary: AcmiSummary = field(init=False)
    _ids: dict[str, int] = field(init=False, default_factory=dict)
    _flying: set[str] = field(init=False, default_factory=set)
    _flights: dict[str, _Flight] = field(init=False, default_factory=dict)
    _launchers: dict[str, np.ndarray] = field(init=False, default_factory=dict)
    _time_s: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.frame = frame_of(self.scenario)
        self.summary = AcmiSummary(Path(getattr(self.out, "name", "-")))
        self._header()

    def ident(self, key: str) -> int:
        """The object id of ``key`` (``asset/x``, ``radar/R1``, ``launcher/L1``, ``object/T1``...)."""
        n = self._ids.get(key)
        if n is None:
            n = self._ids[key] = 0x100 + len(self._ids)
            self.summary.objects += 1
        return n

    def _write(self, line: str) -> None:
        self.out.write(line + "\n")

    def _at(self, t: float) -> None:
        if self._time_s is None or t > self._time_s:
            self._time_s = t
            self._write(f"#{t:.3f}")
            self.summary.frames += 1

    def _event(self, kind: str, ids: Iterable[int], text: str) -> None:
        self._write(f"0,Event={kind}|{'|'.join(f'{i:x}' for i in ids)}|{_text(text)}")
        self.summary.events += 1

    def _where(self, enu: np.ndarray) -> list[str]:
        """``T=`` values (lon|lat|alt offsets from the reference) of (N, 3) local points."""
        lat, lon, h = self.frame.geodetic(enu[:, 0], enu[:, 1], enu[:, 2])
        ref_lon, ref_lat = self._reference()
        return [
            f"{lo - ref_lon:.7f}|{la - ref_lat:.7f}|{alt:.1f}"
            for lo, la, alt in zip(lon.tolist(), lat.tolist(), h.tolist(), strict=True)
        ]

    def _reference(self) -> tuple[int, int]:
        return math.floor(self.frame.lon_deg), math.floor(self.frame.lat_deg)

    # ------------------------------------------------------------ the scene

    def _header(self) -> None:
        s = self.scenario
        ref_lon, ref_lat = self._reference()
        start = datetime.datetime.fromtimestamp(self.epoch_unix_s, datetime.UTC)
        self._write("FileType=text/acmi/tacview")
        self._write("FileVersion=2.2")
        self._write(f"0,ReferenceTime={start.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z")
        self._write(f"0,ReferenceLongitude={ref_lon}")
        self._write(f"0,ReferenceLatitude={ref_lat}")
        self._write(f"0,Title={_text(f'{s.name} (seed {s.seed})')}")
        self._write("0,DataSource=bmc-emulator")
        self._write("0,Category=Training")
        self._at(0.0)
        statics: list[tuple[str, str, tuple[float, float, float], str]] = []
        for a in s.assets:
            statics.append(
                (
                    f"asset/{a.id}",
                    a.id,
                    s.enu(a.position),
                    f"Type=Ground+Static+Building,Radius={a.radius_m:g}",
                )
            )
        for r in s.radars:
            statics.append(
                (f"radar/{r.id}", r.id, s.enu(r.position), f"Type=Ground+Static,RadarRange={r.max_range_m:g}")
            )
        for x in s.launchers:
            self._launchers[x.id] = np.array(s.enu(x.position), dtype=np.float64)
            extra = f"Type=Ground+Vehicle+AntiAircraft,EngagementRange={x.max_range_m:g}"
            statics.append((f"launcher/{x.id}", x.id, s.enu(x.position), extra))
        if not statics:
            return
        where = self._where(np.array([p for _k, _n, p, _e in statics], dtype=np.float64))
        for (key, name, _p, extra), t in zip(statics, where, strict=True):
            self._write(f"{self.ident(key):x},T={t},Name={_text(name)},Coalition=Allies,Color=Blue,{extra}")

    # ------------------------------------------------------------ messages

    def feed(self, msg: m.Message) -> None:
        body, t = msg.body, msg.header.sim_time_s
        if isinstance(body, m.TruthReport):
            self._truth(body, t)
        elif isinstance(body, m.Flyout):
            self._flyout(body)
        elif isinstance(body, m.Detonation):
            self._detonation(body, t)

    def _truth(self, r: m.TruthReport, t: float) -> None:
        status = r.status.tolist()
        # Active objects, and a landed one's last row; killed and leaked ones ended at their detonation.
        live = [
            k
            for k, oid in enumerate(r.object_id)
            if status[k] == _ACTIVE or (oid in self._flying and status[k] == int(m.ObjectStatus.LANDED))
        ]
        if not live and not self._flights:
            return
        self._at(t)
        if live:
            where = self._where(r.state[live, :3])
            for k, pos in zip(live, where, strict=True):
                oid = r.object_id[k]
                ident = self.ident(f"object/{oid}")
                heading = math.degrees(math.atan2(r.state[k, 3], r.state[k, 4])) % 360.0
                line = f"{ident:x},T={pos}|||{heading:.1f}"
                if oid not in self._flying:
                    tag, kind = TYPES.get(int(r.kind[k]), ("Air+FixedWing", "unknown"))
                    side = "Allies,Color=Blue" if bool(r.friendly[k]) else "Enemies,Color=Red"
                    line += f",Type={tag},Name={_text(oid)},Coalition={side},Label={_text(kind)}"
                    self._flying.add(oid)
                self._write(line)
                if status[k] != _ACTIVE:  # landed (kills and hits end at their detonation)
                    self._end(oid, "LeftArea", [ident], f"{oid} landed")
        self._interceptors(t)

    def _interceptors(self, t: float, only: str | None = None) -> None:
        keys = [only] if only is not None else list(self._flights)
        if not keys:
            return
        enu = np.array(
            [
                self._flights[k].start_m + self._flights[k].velocity_mps * (t - self._flights[k].launch_s)
                for k in keys
            ]
        )
        for key, pos in zip(keys, self._where(enu), strict=True):
            f = self._flights[key]
            heading = math.degrees(math.atan2(f.velocity_mps[0], f.velocity_mps[1])) % 360.0
            self._write(f"{f.ident:x},T={pos}|||{heading:.1f}")

    def _flyout(self, f: m.Flyout) -> None:
        start = self._launchers.get(f.launcher_id)
        if start is None or f.interceptor_id in self._flights:
            return
        self._at(f.launch_time_s)
        end = np.array(f.intercept_point_m, dtype=np.float64)
        ident = self.ident(f"interceptor/{f.interceptor_id}")
        launcher = self.ident(f"launcher/{f.launcher_id}")
        self._flights[f.interceptor_id] = _Flight(
            ident, start, (end - start) / max(f.intercept_time_s - f.launch_time_s, 1e-3), f.launch_time_s
        )
        [pos] = self._where(start[None, :])
        self._write(
            f"{ident:x},T={pos},Type=Weapon+Missile,Name={_text(f.interceptor_id)},Parent={launcher:x},"
            "Coalition=Allies,Color=Blue"
        )
        target = f"at {f.target_object_id}" if f.target_object_id else "with no target in its seeker's gate"
        ids = [launcher, ident] + ([self.ident(f"object/{f.target_object_id}")] if f.target_object_id else [])
        self._event("Message", ids, f"{f.launcher_id} fires {f.interceptor_id} {target}")

    def _detonation(self, d: m.Detonation, t: float) -> None:
        self._at(t)
        target = self.ident(f"object/{d.object_id}") if d.object_id else None
        if d.interceptor_id:
            flight = self._flights.get(d.interceptor_id)
            if flight is None:
                return
            self._interceptors(t, only=d.interceptor_id)  # its last position: the detonation's
            del self._flights[d.interceptor_id]
            if d.outcome == m.DetonationOutcome.KILL and target is not None:
                self._write(f"-{flight.ident:x}")
                self._end(
                    d.object_id,
                    "Destroyed",
                    [target, flight.ident],
                    f"{d.object_id} killed by {d.interceptor_id}",
                )
            else:
                self._event("LeftArea", [flight.ident], f"{d.interceptor_id} missed and self-destructed")
                self._write(f"-{flight.ident:x}")
        elif d.outcome == m.DetonationOutcome.ASSET_HIT and target is not None:
            asset = self.ident(f"asset/{d.asset_id}")
            self._end(d.object_id, "Message", [target, asset], f"{d.object_id} hit {d.asset_id}")

    def _end(self, oid: str, event: str, ids: list[int], text: str) -> None:
        """The object's event, then its removal (once; its later truth rows are left out)."""
        if oid in self._flying:
            self._flying.discard(oid)
            self._event(event, ids, text)
            self._write(f"-{ids[0]:x}")


def export_acmi(recording: str | Path, out: str | Path, *, epoch_unix_s: float | None = None) -> AcmiSummary:
    """Write ``recording`` as Tacview ACMI text to ``out``. ScenarioError/RecordingError when the
    recording has no usable scenario or nothing is readable; a damaged one exports what is readable."""
    rec, scenario, time = open_recorded(recording, epoch_unix_s)
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        writer = AcmiWriter(scenario, f, time.epoch_unix_s)
        try:
            for rm in rec.messages():
                if rm.topic.endswith(("/truth", "/flyout", "/detonation")):
                    try:
                        writer.feed(codec.decode(rm.payload))
                    except codec.DecodeError:
                        continue
        except RecordingError as exc:
            writer.summary.damage = str(exc)
    writer.summary.path = Path(out)
    return writer.summary
