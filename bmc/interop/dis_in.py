"""DIS in: other simulators' entities fly in our world (``bmc run --mqtt ... --dis-in udp://HOST:PORT``).

A UDP socket hands every datagram to a ``protocols.dis.EntityTable`` with the cell's
simulated time of arrival; what cannot be read, belongs to another exercise or overflows
the table is counted by reason and goes no further. At each truth report (and each launch)
the world asks :meth:`DisEntities.sample` for the live entities: each dead-reckoned to now
by its PDU's own algorithm, converted to our local frame (pymap3d), and mapped to an air
object: its force to hostile/friendly/neutral, its entity type to one of our kinds (or the
kind the scenario's ``dis_in.entities`` declares). Only air platforms and munitions fly in
our world; an entity silent for ``dis_in.timeout_s`` is removed (it stays in truth as
landed where last seen); one our world kills or sees reach an asset is ended, and whatever
its simulator sends about it afterwards is ignored.

Forces: friendly (1) answers IFF and counts as friendly; opposing (2) is hostile, without
IFF; neutral (3) and other (0) answer IFF (a civil transponder) and are not friendly: the
FDC holds fire at a track that answers IFF, and the report does not count them as threats
killed or friendlies engaged.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from bmc.engine.world import KIND_CLASS, ExternalObjects
from bmc.interop.feed import parse_udp
from bmc.interop.frame import Frame, frame_of
from bmc.scenario import KIND_DEFAULTS, DisIn, Scenario, ScenarioError
from protocols import dis

log = logging.getLogger(__name__)


_HELICOPTER = frozenset(range(20, 26)) | frozenset(range(90, 94))
_TRANSPORT = frozenset({4, 57}) | frozenset(range(83, 89))

_VELOCITY_STEP_S = 0.05
"""Half the interval over which velocity is taken from the dead-reckoned path (exact for
algorithms 1-5; for the body-axis ones it is the path's own tangent)."""


def kind_of(t: dis.EntityType) -> str | None:
    """Our kind of a SISO-REF-010 entity type; None for what does not fly (land, sea, life forms...)."""
    if t.kind == 2:  # munition
        return "cruise_missile"
    if t.kind != 1 or t.domain != 2:  # not an air platform
        return None
    if t.category == 50:
        return "drone"
    if t.category in _HELICOPTER:
        return "helicopter"
    if t.category in _TRANSPORT:
        return "transport"
    return "fighter"


def parse_listen(url: str) -> tuple[str, int]:
    """``--dis-in udp://HOST:PORT`` -> (host, port) (no default port: say where to listen);
    ScenarioError otherwise."""
    return parse_udp(url, "--dis-in")


@dataclass(slots=True)
class DisEntities:
    """The external objects of one run, from DIS (a ``bmc.engine.world.ExternalSource``)."""

    config: DisIn
    frame: Frame
    reserved: frozenset[str] = frozenset()
    """The scenario's own object ids (threats): no entity takes one."""
    raids: frozenset[str] = frozenset()
    """The scenario's raid ids (their objects are ``<raid>-NNN``)."""
    table: dis.EntityTable = field(init=False)
    refused: Counter[str] = field(init=False, default_factory=Counter)
    """Entities (not PDUs) kept out of our world: ``not-air``, ``undeclared``."""
    _ended: dict[dis.EntityId, str] = field(init=False, default_factory=dict)
    _refused_ids: set[dis.EntityId] = field(init=False, default_factory=set)
    _by_marking: dict[str, int] = field(init=False, default_factory=dict)
    _by_entity: dict[dis.EntityId, int] = field(init=False, default_factory=dict)
    _ids: dict[str, dis.EntityId] = field(init=False, default_factory=dict)
    _ids_of: dict[dis.EntityId, str] = field(init=False, default_factory=dict)
    accepted: set[str] = field(init=False, default_factory=set)
    """Object ids that flew in our world."""

    def __post_init__(self) -> None:
        self.table = dis.EntityTable(self.config.timeout_s, max_entities=self.config.max_entities)
        for i, e in enumerate(self.config.entities):
            if e.marking is not None:
                self._by_marking[e.marking] = i
            else:
                assert e.entity is not None
                site, app, number = (int(x) for x in e.entity.split(":"))
                self._by_entity[dis.EntityId(site, app, number)] = i

    def receive(self, datagram: bytes, time_s: float) -> None:
        """One datagram, arrived at simulated ``time_s``."""
        self.table.feed(datagram, time_s, exercise_id=self.config.exercise_id)

    def _declared(self, es: dis.EntityState) -> int | None:
        i = self._by_entity.get(es.entity)
        return self._by_marking.get(es.marking) if i is None else i

    def sample(self, time_s: float) -> ExternalObjects:
        self.table.expire(time_s)
        ids: list[str] = []
        kinds: list[int] = []
        friendly: list[bool] = []
        iff: list[bool] = []
        rcs: list[float] = []
        ecef: list[tuple[float, ...]] = []
        now = self.table.positions(time_s)
        before = self.table.positions(time_s - _VELOCITY_STEP_S)
        after = self.table.positions(time_s + _VELOCITY_STEP_S)
        for eid in sorted(now, key=lambda e: (e.site, e.application, e.entity)):
            es, location = now[eid]
            if eid in self._ended or eid in self._refused_ids:
                continue
            i = self._declared(es)
            declared = self.config.entities[i] if i is not None else None
            kind = declared.kind if declared is not None and declared.kind else kind_of(es.entity_type)
            why = (
                "undeclared"
                if declared is None and self.config.only_declared
                else None
                if kind
                else "not-air"
            )
            if why or kind is None:
                self._refused_ids.add(eid)
                self.refused[why or "not-air"] += 1
                log.warning("DIS entity %s (%r) kept out: %s", eid, es.marking, why)
                continue
            oid = self._object_id(eid, declared.id if declared is not None else es.marking)
            p0, p1 = (before.get(eid, now[eid])[1], after.get(eid, now[eid])[1])
            velocity = tuple((a - b) / (2 * _VELOCITY_STEP_S) for a, b in zip(p1, p0, strict=True))
            self._ids[oid] = eid
            ids.append(oid)
            kinds.append(int(KIND_CLASS[kind]))
            friendly.append(es.force_id == dis.FORCE_FRIENDLY)
            iff.append(es.force_id != dis.FORCE_OPPOSING)
            rcs.append(
                declared.rcs_m2 if declared is not None and declared.rcs_m2 else KIND_DEFAULTS[kind][0]
            )
            ecef.append((*location, *velocity))
            self.accepted.add(oid)
        state = np.zeros((len(ids), 6))
        if ids:
            xyz = np.array(ecef)
            lat, lon, h = Frame.ecef_to_geodetic(xyz[:, 0], xyz[:, 1], xyz[:, 2])
            e, n, u = self.frame.local(lat, lon, h)
            ve, vn, vu = Frame.velocity_local(lat, lon, xyz[:, 3], xyz[:, 4], xyz[:, 5])
            state = np.column_stack([e, n, u, ve, vn, vu])
        return ExternalObjects(
            tuple(ids),
            np.array(kinds, dtype=np.int64),
            np.array(friendly, dtype=bool),
            np.array(iff, dtype=bool),
            np.array(rcs, dtype=np.float64),
            state,
        )

    def _object_id(self, eid: dis.EntityId, wanted: str) -> str:
        """The entity's object id, fixed at first sight: the declared id or its marking, unless
        another object has it (a scenario threat, a raid's ``<raid>-NNN``, another entity with
        the same marking): then ``dis-<site>-<application>-<entity>``, unique."""
        oid = self._ids_of.get(eid)
        if oid is None:
            taken = not wanted or wanted in self._ids or wanted in self.reserved
            taken = taken or any(re.fullmatch(rf"{re.escape(r)}-\d{{3}}", wanted) for r in self.raids)
            oid = f"dis-{eid.site}-{eid.application}-{eid.entity}" if taken else wanted
            self._ids_of[eid] = oid
        return oid

    def end(self, object_id: str) -> None:
        eid = self._ids.get(object_id)
        if eid is not None:
            self._ended[eid] = object_id

    def summary(self) -> str:
        """One line: PDUs read, entities flown, what was dropped and why."""
        got = ", ".join(f"{k} {v}" for k, v in sorted(self.table.received.items())) or "nothing"
        dropped = Counter(self.table.dropped) + self.refused
        lost = ", ".join(f"{k} {v}" for k, v in sorted(dropped.items()))
        return f"dis-in: received {got}; {len(self.accepted)} entities flew" + (
            f"; dropped {lost}" if lost else ""
        )


class DisReceiver(asyncio.DatagramProtocol):
    """The socket side: every datagram to :meth:`DisEntities.receive` at the cell's time."""

    def __init__(self, entities: DisEntities, sim_now: Callable[[], float]) -> None:
        self.entities = entities
        self.sim_now = sim_now

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        try:
            self.entities.receive(data, self.sim_now())
        except Exception:  # a bug here must not stop the socket: counted, logged
            self.entities.table.dropped["error"] += 1
            log.exception("DIS datagram from %s not handled", addr)


@dataclass(slots=True)
class DisInput:
    """``--dis-in``: where to listen; holds the run's entities once open."""

    host: str
    port: int
    entities: DisEntities | None = None
    _transport: asyncio.DatagramTransport | None = None

    @classmethod
    def parse(cls, url: str) -> DisInput:
        return cls(*parse_listen(url))

    def source(self, scenario: Scenario) -> DisEntities:
        """The world's external source for ``scenario`` (made once)."""
        if self.entities is None:
            self.entities = DisEntities(
                scenario.dis_in,
                frame_of(scenario),
                reserved=frozenset(t.id for t in scenario.threats),
                raids=frozenset(r.id for r in scenario.raids),
            )
        return self.entities

    async def open(self, sim_now: Callable[[], float]) -> None:
        """Start listening (after :meth:`source`). ScenarioError when the port cannot be bound."""
        assert self.entities is not None
        entities = self.entities
        loop = asyncio.get_running_loop()
        try:
            transport, _protocol = await loop.create_datagram_endpoint(
                lambda: DisReceiver(entities, sim_now), local_addr=(self.host, self.port)
            )
        except OSError as exc:
            raise ScenarioError(
                f"--dis-in: cannot listen on udp://{self.host}:{self.port}: {exc.strerror or exc}"
            ) from None
        self._transport = transport

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
