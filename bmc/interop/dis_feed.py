"""The engagement as DIS 7 PDUs (codec: ``protocols.dis``), for viewers, loggers and federates.

- Entity State for every truth object while it flies (each truth report: 1 s by default,
  inside DIS's 5 s heartbeat), then one last one when it ends: damage "destroyed" when
  killed or when it hit an asset, and state "deactivated";
- Entity State for our launchers (static, every 5 s) and for each interceptor in flight,
  on its straight path from the launcher to the intercept point the flyout announced;
- a Fire PDU at each launch (firing: the launcher, target: the object the seeker locked,
  munition: the interceptor) and a Detonation PDU at each outcome with the same event id,
  result "entity impact" for a kill, "detonation" for a miss; a hostile reaching an asset
  fires its own Detonation, result "ground impact".

Entity ids are ``site:application:number``; numbers go to launchers first (scenario order),
then to objects and interceptors as they first appear: the same recording always gives the
same ids. Positions and velocities are ECEF (``bmc.interop.frame``); orientation points the
body's x axis along the velocity, wings level. docs/INTEROP.md has the field tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from bmc.interop.feed import DIS, Datagram, TimeBase
from bmc.interop.frame import Frame, frame_of
from bmc.scenario import Scenario
from protocols import dis
from protocols import messages as m
from protocols.topics import TopicParts

C = m.Classification
ENTITY_TYPES: dict[int, dis.EntityType] = {
    C.DRONE: dis.EntityType(1, 2, 0, 50),  # platform, air, unmanned
    C.FIGHTER: dis.EntityType(1, 2, 0, 1),  # platform, air, fighter/air defence
    C.HELICOPTER: dis.EntityType(1, 2, 0, 21),  # platform, air, utility helicopter
    C.TRANSPORT: dis.EntityType(1, 2, 0, 4),  # platform, air, cargo/tanker
    C.CRUISE_MISSILE: dis.EntityType(2, 11, 0, 1),  # munition, tactical, guided
    C.UNKNOWN: dis.EntityType(1, 2, 0, 0),  # platform, air, other
}
"""SISO-REF-010 entity types of our object kinds (country 0: other)."""

INTERCEPTOR_TYPE = dis.EntityType(2, 1, 0, 1)
"""Munition, anti-air, guided."""

LAUNCHER_TYPE = dis.EntityType(1, 1, 0, 28)
"""Platform, land, air defence / missile defence unit equipment."""

WARHEAD_HE, FUSE_PROXIMITY = 1000, 5000
"""SISO-REF-010 munition descriptor: high explosive; proximity fuse."""

HEARTBEAT_S = 5.0
"""DIS's default Entity State heartbeat: static entities (launchers) are sent this often."""

APPEARANCE_DESTROYED = 3 << 3
"""General appearance, damage bits 3-4: destroyed."""
APPEARANCE_DEACTIVATED = dis.APPEARANCE_DEACTIVATED

_ACTIVE = int(m.ObjectStatus.ACTIVE)
_DESTROYED = (int(m.ObjectStatus.KILLED), int(m.ObjectStatus.LEAKED))
_NO_ENTITY = dis.EntityId(0, 0, 0)

KINDS = ("entity", "fire", "detonation")
"""PDU kinds the feed sends by default (``--pdu``)."""


def parse_kinds(text: str) -> frozenset[str]:
    """``"entity,fire"``; ValueError naming the unknown kind."""
    kinds = {k.strip() for k in text.split(",")}
    unknown = kinds - set(KINDS)
    if unknown:
        raise ValueError(f"unknown DIS PDU kind {sorted(unknown)[0]!r}: give some of {','.join(KINDS)}")
    return frozenset(kinds)


@dataclass(slots=True)
class _Flight:
    """One interceptor in the air."""

    entity: dis.EntityId
    launcher: dis.EntityId
    target: dis.EntityId
    event: dis.EventId
    start_m: npt.NDArray[np.float64]
    velocity_mps: npt.NDArray[np.float64]
    launch_s: float


@dataclass(slots=True)
class DisFeed:
    """DIS of one scenario's cell."""

    scenario: Scenario
    time: TimeBase
    exercise_id: int = 1
    site: int = 1
    application: int = 1
    kinds: frozenset[str] = frozenset(KINDS)
    stream: str = DIS
    frame: Frame = field(init=False)
    _numbers: dict[str, int] = field(init=False, default_factory=dict)
    _launchers: dict[str, npt.NDArray[np.float64]] = field(init=False, default_factory=dict)
    _launchers_sent_s: float = field(init=False, default=-math.inf)
    _active: set[str] = field(init=False, default_factory=set)
    _types: dict[str, dis.EntityType] = field(init=False, default_factory=dict)
    _flights: dict[str, _Flight] = field(init=False, default_factory=dict)
    _events: int = field(init=False, default=0)
    records: int = field(init=False, default=0)
    """PDUs made."""

    def __post_init__(self) -> None:
        for name, top in (("exercise_id", 255), ("site", 65535), ("application", 65535)):
            value = getattr(self, name)
            if not 0 < value <= top:
                raise ValueError(f"{name}: 1..{top} (got {value})")
        unknown = self.kinds - set(KINDS)
        if unknown or not self.kinds:
            raise ValueError(f"kinds: some of {KINDS} (got {sorted(self.kinds)})")
        self.frame = frame_of(self.scenario)
        for x in self.scenario.launchers:
            self._launchers[x.id] = np.array(self.scenario.enu(x.position), dtype=np.float64)
            self.entity(f"launcher/{x.id}")

    def entity(self, key: str) -> dis.EntityId:
        """The entity id of ``key`` (``launcher/L1``, ``object/T1``, ``interceptor/<id>``)."""
        n = self._numbers.get(key)
        if n is None:
            n = self._numbers[key] = len(self._numbers) + 1
            if n > 0xFFFE:
                raise ValueError("more than 65,534 DIS entities in one exercise")
        return dis.EntityId(self.site, self.application, n)

    def wanted(self, parts: TopicParts) -> bool:
        return parts.kind == "world" and parts.channel.name in ("truth", "flyout", "detonation")

    def feed(self, parts: TopicParts, msg: m.Message, time_s: float) -> list[Datagram]:
        body = msg.body
        if isinstance(body, m.TruthReport):
            return self._truth(body, msg.header.sim_time_s)
        if isinstance(body, m.Flyout):
            return self._flyout(body)
        if isinstance(body, m.Detonation):
            return self._detonation(body, msg.header.sim_time_s)
        return []

    # ------------------------------------------------------------ encoding

    def _pdu(self, t: float, pdu: dis.EntityState | dis.Fire | dis.Detonation) -> Datagram:
        self.records += 1
        ts = dis.timestamp(self.time.past_hour_s(t))
        return Datagram(t, dis.encode(pdu, exercise_id=self.exercise_id, timestamp=ts), DIS)

    def _states(
        self,
        t: float,
        entities: list[tuple[dis.EntityId, int, dis.EntityType, str, int]],
        enu: npt.NDArray[np.float64],
        dead_reckoning: int = 2,
    ) -> list[Datagram]:
        """Entity State PDUs: ``entities`` = (id, force, type, marking, appearance) per row of
        ``enu`` (N, 6: position and velocity, local)."""
        if "entity" not in self.kinds or not entities:
            return []
        lat, lon, h = self.frame.geodetic(enu[:, 0], enu[:, 1], enu[:, 2])
        x, y, z = Frame.geodetic_to_ecef(lat, lon, h)
        vx, vy, vz = Frame.velocity_ecef(lat, lon, enu[:, 3], enu[:, 4], enu[:, 5])
        ux, uy, uz = Frame.velocity_ecef(lat, lon, 0.0, 0.0, 1.0)
        nx, ny, nz = Frame.velocity_ecef(lat, lon, 0.0, 1.0, 0.0)
        out = []
        for k, (eid, force, etype, marking, appearance) in enumerate(entities):
            v = np.array([vx[k], vy[k], vz[k]])
            up = np.array([ux[k], uy[k], uz[k]])
            speed = float(np.linalg.norm(v))
            forward = v / speed if speed > 1e-6 else np.array([nx[k], ny[k], nz[k]])
            down = -up - float(np.dot(-up, forward)) * forward
            if float(np.linalg.norm(down)) < 1e-6:  # straight up or down: wings towards north
                north = np.array([nx[k], ny[k], nz[k]])
                down = north - float(np.dot(north, forward)) * forward
            down /= np.linalg.norm(down)
            state = dis.EntityState(
                entity=eid,
                force_id=force,
                entity_type=etype,
                location_m=(float(x[k]), float(y[k]), float(z[k])),
                velocity_mps=(float(vx[k]), float(vy[k]), float(vz[k])),
                orientation_rad=dis.euler_from_axes(tuple(forward.tolist()), tuple(down.tolist())),
                dead_reckoning=dead_reckoning,
                marking=marking,
                appearance=appearance,
            )
            out.append(self._pdu(t, state))
        return out

    # ------------------------------------------------------------ truth

    def _truth(self, r: m.TruthReport, t: float) -> list[Datagram]:
        rows: list[tuple[dis.EntityId, int, dis.EntityType, str, int]] = []
        keep: list[int] = []
        status = r.status.tolist()
        for k, oid in enumerate(r.object_id):
            live = status[k] == _ACTIVE
            if not live and oid not in self._active:
                continue
            appearance = 0
            if not live:
                self._active.discard(oid)
                appearance = APPEARANCE_DEACTIVATED | (APPEARANCE_DESTROYED if status[k] in _DESTROYED else 0)
            else:
                self._active.add(oid)
            force = dis.FORCE_FRIENDLY if bool(r.friendly[k]) else dis.FORCE_OPPOSING
            etype = self._types[oid] = ENTITY_TYPES.get(int(r.kind[k]), ENTITY_TYPES[C.UNKNOWN])
            rows.append((self.entity(f"object/{oid}"), force, etype, oid, appearance))
            keep.append(k)
        out = self._states(t, rows, r.state[keep]) if keep else []
        out += self._interceptors(t)
        if t - self._launchers_sent_s >= HEARTBEAT_S:
            self._launchers_sent_s = t
            out += self._launcher_states(t)
        return out

    def _launcher_states(self, t: float) -> list[Datagram]:
        ids = list(self._launchers)
        rows = [(self.entity(f"launcher/{i}"), dis.FORCE_FRIENDLY, LAUNCHER_TYPE, i, 0) for i in ids]
        enu = np.array([[*self._launchers[i], 0.0, 0.0, 0.0] for i in ids]).reshape(-1, 6)
        return self._states(t, rows, enu, dead_reckoning=1)

    def _interceptors(self, t: float, only: str | None = None, appearance: int = 0) -> list[Datagram]:
        keys = [only] if only is not None else list(self._flights)
        rows, enu = [], []
        for key in keys:
            f = self._flights[key]
            rows.append((f.entity, dis.FORCE_FRIENDLY, INTERCEPTOR_TYPE, key[-11:], appearance))
            enu.append([*(f.start_m + f.velocity_mps * (t - f.launch_s)), *f.velocity_mps])
        return self._states(t, rows, np.array(enu).reshape(-1, 6))

    # ------------------------------------------------------------ fire and detonation

    def _flyout(self, f: m.Flyout) -> list[Datagram]:
        start = self._launchers.get(f.launcher_id)
        if start is None or f.interceptor_id in self._flights:
            return []
        end = np.array(f.intercept_point_m, dtype=np.float64)
        flight_s = max(f.intercept_time_s - f.launch_time_s, 1e-3)
        velocity = (end - start) / flight_s
        self._events += 1
        flight = _Flight(
            entity=self.entity(f"interceptor/{f.interceptor_id}"),
            launcher=self.entity(f"launcher/{f.launcher_id}"),
            target=self.entity(f"object/{f.target_object_id}") if f.target_object_id else _NO_ENTITY,
            event=dis.EventId(self.site, self.application, self._events & 0xFFFF),
            start_m=start,
            velocity_mps=velocity,
            launch_s=f.launch_time_s,
        )
        self._flights[f.interceptor_id] = flight
        t = f.launch_time_s
        out = []
        if "fire" in self.kinds:
            lat, lon, h = self.frame.geodetic(*start)
            x, y, z = Frame.geodetic_to_ecef(lat, lon, h)
            v = Frame.velocity_ecef(lat, lon, *velocity)
            fire = dis.Fire(
                firing=flight.launcher,
                target=flight.target,
                munition=flight.entity,
                event=flight.event,
                fire_mission_index=0,
                location_m=(float(x), float(y), float(z)),
                munition_type=INTERCEPTOR_TYPE,
                warhead=WARHEAD_HE,
                fuse=FUSE_PROXIMITY,
                quantity=1,
                rate=0,
                velocity_mps=(float(v[0]), float(v[1]), float(v[2])),
                range_m=float(np.linalg.norm(end - start)),
            )
            out.append(self._pdu(t, fire))
        out += self._interceptors(t, only=f.interceptor_id)
        return out

    def _detonation(self, d: m.Detonation, t: float) -> list[Datagram]:
        out: list[Datagram] = []
        pos = np.array(d.position_m, dtype=np.float64)
        lat, lon, h = self.frame.geodetic(*pos)
        x, y, z = Frame.geodetic_to_ecef(lat, lon, h)
        if d.interceptor_id:
            flight = self._flights.get(d.interceptor_id)
            if flight is None:
                return []
            result = (
                dis.DETONATION_ENTITY_IMPACT
                if d.outcome == m.DetonationOutcome.KILL
                else dis.DETONATION_DETONATION
            )
            firing, target, munition, event = flight.launcher, flight.target, flight.entity, flight.event
            munition_type, velocity = INTERCEPTOR_TYPE, flight.velocity_mps
        else:
            self._events += 1
            result = dis.DETONATION_GROUND_IMPACT
            firing = munition = self.entity(f"object/{d.object_id}")
            target, event = _NO_ENTITY, dis.EventId(self.site, self.application, self._events & 0xFFFF)
            munition_type = self._types.get(d.object_id, ENTITY_TYPES[C.UNKNOWN])
            velocity = np.zeros(3)
        if "detonation" in self.kinds:
            v = Frame.velocity_ecef(lat, lon, *velocity)
            det = dis.Detonation(
                firing=firing,
                target=target,
                munition=munition,
                event=event,
                velocity_mps=(float(v[0]), float(v[1]), float(v[2])),
                location_m=(float(x), float(y), float(z)),
                munition_type=munition_type,
                warhead=WARHEAD_HE,
                fuse=FUSE_PROXIMITY,
                quantity=1,
                rate=0,
                result=result,
            )
            out.append(self._pdu(t, det))
        if d.interceptor_id:
            out += self._interceptors(t, only=d.interceptor_id, appearance=APPEARANCE_DEACTIVATED)
            del self._flights[d.interceptor_id]
        return out
