"""IEEE 1278.1-2012 (DIS version 7) Entity State, Fire and Detonation PDUs: a pure codec.

Hand-written because the one Python DIS codec, opendis 1.0, requires numpy<2 and the project
pins numpy 2 (the tests still use opendis, and Wireshark's dissector, as independent decoders).
Pure: no sockets and no clock. The UDP gateway owns the socket and passes receive times in,
so :class:`EntityTable` replays a capture exactly as it ran live.

Layouts (big-endian, IEEE 1278.1-2012 §7.2.2, §7.3.2, §7.3.3): Entity State 144 bytes plus
16 per variable (articulation) parameter, Fire 96, Detonation 104 plus 16 per variable
parameter. Locations are ECEF metres as float64, velocities ECEF m/s as float32, orientation
the Z-Y-X Euler angles (psi, theta, phi) of the body relative to ECEF as float32.

Decoding is the untrusted side: :func:`decode` raises :class:`DisError`, and only that, for
any bytes, with a short stable ``reason`` a receiver can count drops by.
"""

from __future__ import annotations

import math
import struct
from collections import Counter
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

Vec3: TypeAlias = tuple[float, float, float]

DIS_VERSION: Final = 7
"""The protocol version we write (IEEE 1278.1-2012)."""
ACCEPTED_VERSIONS: Final = frozenset({6, 7})
"""Versions we read: 1278.1a-1998 (6) lays these three PDUs out byte for byte as version 7
(its header's last two bytes are padding where 7 has the PDU status; articulation parameters
are the same 16-byte records as 7's variable parameters)."""
DIS_PORT: Final = 3000
"""The usual DIS UDP port (Wireshark dissects DIS there by default)."""

PDU_ENTITY_STATE, PDU_FIRE, PDU_DETONATION = 1, 2, 3
FAMILY_ENTITY_INFORMATION, FAMILY_WARFARE = 1, 2

HEADER_SIZE: Final = 12
ENTITY_STATE_SIZE: Final = 144
"""Without variable (articulation) parameters."""
FIRE_SIZE: Final = 96
DETONATION_SIZE: Final = 104
"""Without variable parameters."""
VARIABLE_PARAMETER_SIZE: Final = 16

FORCE_OTHER, FORCE_FRIENDLY, FORCE_OPPOSING, FORCE_NEUTRAL = 0, 1, 2, 3

# Detonation results (SISO-REF-010 UID 62), named as Wireshark 4.0 labels them.
DETONATION_OTHER = 0
DETONATION_ENTITY_IMPACT = 1
DETONATION_ENTITY_PROXIMATE = 2
"""'Entity proximate detonation': a proximity fuse went off near the target."""
DETONATION_PROXIMATE = DETONATION_ENTITY_PROXIMATE
DETONATION_GROUND_IMPACT = 3
DETONATION_GROUND_PROXIMATE = 4
DETONATION_DETONATION = 5
"""'Detonation': went off away from any entity or the ground (e.g. self-destruct)."""
DETONATION_NONE = 6
"""'None or no detonation (dud)'."""
DETONATION_AIR_HIT = 17
DETONATION_AIR_BURST = 25
DETONATION_MISS_FLY_OUT = 31
"""'Miss due to fly-out failure'."""
DETONATION_MISS_END_GAME = 32
"""'Miss due to end-game failure'."""

# Dead-reckoning algorithms (IEEE 1278.1-2012 Annex E): Fixed/Rotating, Position/Velocity,
# World/Body axes.
DRM_OTHER, DRM_STATIC, DRM_FPW, DRM_RPW, DRM_RVW, DRM_FVW, DRM_FPB, DRM_RPB, DRM_RVB, DRM_FVB = range(10)

APPEARANCE_FROZEN: Final = 1 << 21
"""Appearance bit 21 (DIS 7 general appearance): the entity's simulation is frozen, so it is
not dead-reckoned."""
APPEARANCE_DEACTIVATED: Final = 1 << 23
"""Appearance bit 23, 'State' (DIS 7 general appearance): 1 = deactivated, the entity leaves
the exercise (its last Entity State PDU says so)."""

MARKING_ASCII: Final = 1
"""Entity marking character set 1, ASCII."""
MARKING_LENGTH: Final = 11

_FLT_MAX: Final = 3.4028234663852886e38
_HEARTBEAT_S: Final = 5.0
"""IEEE 1278.1-2012 default Entity State heartbeat."""
DEFAULT_TIMEOUT_S: Final = 2.4 * _HEARTBEAT_S
"""IEEE 1278.1-2012 default entity timeout: 2.4 heartbeats (12 s)."""

# One precompiled layout per PDU ('>' = network order, no alignment padding).
_HEADER = struct.Struct(">BBBBIHBx")
_ENTITY_STATE = struct.Struct(
    ">BBBBIHBx"  # header
    "HHHBB"  # entity id, force, number of variable parameters
    "BBHBBBB"  # entity type
    "BBHBBBB"  # alternative entity type
    "3f3d3fI"  # velocity, location, orientation, appearance
    "B15x3f3f"  # dead reckoning: algorithm, other parameters (zero), acceleration, angular velocity
    "B11sI"  # marking (character set, text), capabilities
)
_FIRE = struct.Struct(
    ">BBBBIHBx"  # header
    "HHHHHHHHH"  # firing, target, munition entity ids
    "HHHI3d"  # event id, fire mission index, location
    "BBHBBBBHHHH"  # munition descriptor: type, warhead, fuse, quantity, rate
    "3ff"  # velocity, range
)
_DETONATION = struct.Struct(
    ">BBBBIHBx"  # header
    "HHHHHHHHH"  # firing, target, munition entity ids
    "HHH3f3d"  # event id, velocity, location
    "BBHBBBBHHHH"  # munition descriptor
    "3fBBxx"  # location in entity coordinates, result, number of variable parameters
)
_F3 = struct.Struct(">3f")
assert (_ENTITY_STATE.size, _FIRE.size, _DETONATION.size) == (ENTITY_STATE_SIZE, FIRE_SIZE, DETONATION_SIZE)

_UNITS_PER_HOUR: Final = 1 << 31
"""DIS timestamps count 3600 s / 2**31 (about 1.676 us) units in bits 31..1."""

_PRINTABLE = frozenset(range(0x20, 0x7F))


class DisError(ValueError):
    """A datagram that is not a PDU we accept; ``reason`` is a short stable key to count by:
    ``truncated``, ``version``, ``unknown-type``, ``family``, ``length`` or ``bad-value``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    def __reduce__(self) -> tuple[type[DisError], tuple[str, str]]:
        return (DisError, (self.reason, str(self)))


def _uint(owner: str, name: str, value: int, bits: int) -> None:
    if not isinstance(value, int) or not 0 <= value < (1 << bits):
        raise ValueError(f"{owner}.{name}: must be an unsigned {bits}-bit integer (got {value!r})")


def _vector(owner: str, name: str, value: Any) -> Vec3:
    """``value`` as three finite floats, or a ValueError naming the field."""
    try:
        x, y, z = value
        v = (float(x), float(y), float(z))
    except (TypeError, ValueError):
        raise ValueError(f"{owner}.{name}: must be three numbers (got {value!r})") from None
    if not (math.isfinite(v[0]) and math.isfinite(v[1]) and math.isfinite(v[2])):
        raise ValueError(f"{owner}.{name}: must be finite (got {value!r})")
    return v


def _vector32(owner: str, name: str, value: Any) -> Vec3:
    """``value`` rounded to the float32 the wire carries, so decode(encode(x)) == x."""
    v = _vector(owner, name, value)
    if abs(v[0]) > _FLT_MAX or abs(v[1]) > _FLT_MAX or abs(v[2]) > _FLT_MAX:
        raise ValueError(f"{owner}.{name}: exceeds the float32 range (got {value!r})")
    r: Vec3 = _F3.unpack(_F3.pack(*v))
    return r


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True, slots=True)
class EntityId:
    """Entity Identifier record: (site, application, entity), 16 bits each."""

    site: int
    application: int
    entity: int

    def __post_init__(self) -> None:
        _uint("EntityId", "site", self.site, 16)
        _uint("EntityId", "application", self.application, 16)
        _uint("EntityId", "entity", self.entity, 16)


@dataclass(frozen=True, slots=True)
class EventId:
    """Event Identifier record: ties a Fire to its Detonation (site, application, number)."""

    site: int
    application: int
    event_number: int

    def __post_init__(self) -> None:
        _uint("EventId", "site", self.site, 16)
        _uint("EventId", "application", self.application, 16)
        _uint("EventId", "event_number", self.event_number, 16)


@dataclass(frozen=True, slots=True)
class EntityType:
    """Entity Type record (SISO-REF-010): kind, domain, country (16 bits) and the rest 8 bits."""

    kind: int
    domain: int
    country: int
    category: int
    subcategory: int = 0
    specific: int = 0
    extra: int = 0

    def __post_init__(self) -> None:
        _uint("EntityType", "kind", self.kind, 8)
        _uint("EntityType", "domain", self.domain, 8)
        _uint("EntityType", "country", self.country, 16)
        _uint("EntityType", "category", self.category, 8)
        _uint("EntityType", "subcategory", self.subcategory, 8)
        _uint("EntityType", "specific", self.specific, 8)
        _uint("EntityType", "extra", self.extra, 8)

    def _fields(self) -> tuple[int, int, int, int, int, int, int]:
        return (
            self.kind,
            self.domain,
            self.country,
            self.category,
            self.subcategory,
            self.specific,
            self.extra,
        )


@dataclass(frozen=True, slots=True)
class EntityState:
    """What an Entity State PDU says of one entity. Float32 fields are rounded to float32 on
    construction: the object holds exactly what the wire carries."""

    entity: EntityId
    force_id: int
    """FORCE_OTHER, FORCE_FRIENDLY, FORCE_OPPOSING, FORCE_NEUTRAL (or another SISO force)."""
    entity_type: EntityType
    location_m: Vec3
    """ECEF metres (float64)."""
    velocity_mps: Vec3
    """ECEF m/s (float32); body axes for the body-axis DR algorithms (6..9)."""
    orientation_rad: Vec3 = (0.0, 0.0, 0.0)
    """psi, theta, phi: Z-Y-X Euler angles of the body relative to ECEF (float32)."""
    dead_reckoning: int = DRM_FPW
    """DR algorithm 0..9 (:func:`dead_reckon`); 2 = FPW, constant velocity."""
    acceleration_mps2: Vec3 = (0.0, 0.0, 0.0)
    """m/s², world or body axes as ``velocity_mps`` (float32)."""
    angular_velocity_rps: Vec3 = (0.0, 0.0, 0.0)
    """rad/s about the body axes (float32)."""
    marking: str = ""
    """Printable ASCII, up to 11 characters (character set 1)."""
    appearance: int = 0
    """32 appearance bits (:data:`APPEARANCE_DEACTIVATED`, :data:`APPEARANCE_FROZEN`)."""
    capabilities: int = 0
    alternative_type: EntityType | None = None
    """Alternative Entity Type (what other forces see); None = ``entity_type`` (one equal to it
    is stored as None)."""

    def __post_init__(self) -> None:
        o = "EntityState"
        _uint(o, "force_id", self.force_id, 8)
        _set(self, "location_m", _vector(o, "location_m", self.location_m))
        _set(self, "velocity_mps", _vector32(o, "velocity_mps", self.velocity_mps))
        _set(self, "orientation_rad", _vector32(o, "orientation_rad", self.orientation_rad))
        _set(self, "acceleration_mps2", _vector32(o, "acceleration_mps2", self.acceleration_mps2))
        _set(self, "angular_velocity_rps", _vector32(o, "angular_velocity_rps", self.angular_velocity_rps))
        if not isinstance(self.dead_reckoning, int) or not DRM_OTHER <= self.dead_reckoning <= DRM_FVB:
            raise ValueError(f"{o}.dead_reckoning: must be a DR algorithm 0..9 (got {self.dead_reckoning!r})")
        m = self.marking
        if not (isinstance(m, str) and len(m) <= MARKING_LENGTH and m.isascii() and m.isprintable()):
            raise ValueError(f"{o}.marking: must be up to 11 printable ASCII characters (got {m!r})")
        _uint(o, "appearance", self.appearance, 32)
        _uint(o, "capabilities", self.capabilities, 32)
        if not isinstance(self.entity, EntityId):
            raise ValueError(f"{o}.entity: must be an EntityId (got {self.entity!r})")
        for name in ("entity_type", "alternative_type"):
            t = getattr(self, name)
            if not isinstance(t, EntityType) and not (t is None and name == "alternative_type"):
                raise ValueError(f"{o}.{name}: must be an EntityType (got {t!r})")
        if self.alternative_type == self.entity_type:  # one spelling of "the same", for ==
            _set(self, "alternative_type", None)

    @property
    def deactivated(self) -> bool:
        """The appearance says the entity has left the exercise."""
        return bool(self.appearance & APPEARANCE_DEACTIVATED)


def _munition(owner: str, warhead: int, fuse: int, quantity: int, rate: int, munition_type: object) -> None:
    _uint(owner, "warhead", warhead, 16)
    _uint(owner, "fuse", fuse, 16)
    _uint(owner, "quantity", quantity, 16)
    _uint(owner, "rate", rate, 16)
    if not isinstance(munition_type, EntityType):
        raise ValueError(f"{owner}.munition_type: must be an EntityType (got {munition_type!r})")


def _ids(owner: str, obj: Fire | Detonation) -> None:
    for name in ("firing", "target", "munition"):
        if not isinstance(getattr(obj, name), EntityId):
            raise ValueError(f"{owner}.{name}: must be an EntityId (got {getattr(obj, name)!r})")
    if not isinstance(obj.event, EventId):
        raise ValueError(f"{owner}.event: must be an EventId (got {obj.event!r})")


@dataclass(frozen=True, slots=True)
class Fire:
    """A Fire PDU: ``firing`` launched ``munition`` at ``target``; ``event`` ties it to the
    Detonation."""

    firing: EntityId
    target: EntityId
    munition: EntityId
    """The munition's own entity id, or (0, 0, 0) when it is not simulated as an entity."""
    event: EventId
    fire_mission_index: int
    """32 bits; 0 = no fire mission."""
    location_m: Vec3
    """Launch point, ECEF metres (float64)."""
    munition_type: EntityType
    warhead: int
    """SISO-REF-010 warhead (16 bits)."""
    fuse: int
    """SISO-REF-010 fuse (16 bits)."""
    quantity: int
    rate: int
    """Rounds per minute; 0 for a single round."""
    velocity_mps: Vec3
    """Munition velocity at launch, ECEF m/s (float32)."""
    range_m: float
    """The fire control solution's range (float32, >= 0); 0 = unknown."""

    def __post_init__(self) -> None:
        o = "Fire"
        _ids(o, self)
        _uint(o, "fire_mission_index", self.fire_mission_index, 32)
        _set(self, "location_m", _vector(o, "location_m", self.location_m))
        _munition(o, self.warhead, self.fuse, self.quantity, self.rate, self.munition_type)
        _set(self, "velocity_mps", _vector32(o, "velocity_mps", self.velocity_mps))
        r = self.range_m
        if not (isinstance(r, int | float) and math.isfinite(r) and 0 <= r <= _FLT_MAX):
            raise ValueError(f"{o}.range_m: must be a finite float32 >= 0 (got {r!r})")
        _set(self, "range_m", _F3.unpack(_F3.pack(r, 0.0, 0.0))[0])


@dataclass(frozen=True, slots=True)
class Detonation:
    """A Detonation PDU: where and how ``munition`` (fired by ``firing`` at ``target``) ended."""

    firing: EntityId
    target: EntityId
    munition: EntityId
    event: EventId
    velocity_mps: Vec3
    """Munition velocity just before detonation, ECEF m/s (float32)."""
    location_m: Vec3
    """ECEF metres (float64)."""
    munition_type: EntityType
    warhead: int
    fuse: int
    quantity: int
    rate: int
    result: int
    """A DETONATION_* result (SISO-REF-010 UID 62, 8 bits)."""
    location_in_entity_m: Vec3 = (0.0, 0.0, 0.0)
    """Detonation point in the target's body coordinates (float32)."""

    def __post_init__(self) -> None:
        o = "Detonation"
        _ids(o, self)
        _set(self, "velocity_mps", _vector32(o, "velocity_mps", self.velocity_mps))
        _set(self, "location_m", _vector(o, "location_m", self.location_m))
        _munition(o, self.warhead, self.fuse, self.quantity, self.rate, self.munition_type)
        _uint(o, "result", self.result, 8)
        _set(self, "location_in_entity_m", _vector32(o, "location_in_entity_m", self.location_in_entity_m))


Pdu: TypeAlias = EntityState | Fire | Detonation


@dataclass(frozen=True, slots=True)
class Header:
    """The PDU header as received (12 bytes)."""

    exercise_id: int
    pdu_type: int
    family: int
    timestamp: int
    """Raw DIS timestamp (:func:`seconds_past_hour`)."""
    length: int
    """The length field: bytes of this PDU, variable parameters included."""
    version: int = DIS_VERSION
    status: int = 0
    """PDU status bits (version 7; padding in version 6)."""

    def __post_init__(self) -> None:
        for name, bits in (("exercise_id", 8), ("pdu_type", 8), ("family", 8), ("version", 8), ("status", 8)):
            _uint("Header", name, getattr(self, name), bits)
        _uint("Header", "timestamp", self.timestamp, 32)
        _uint("Header", "length", self.length, 16)

    @property
    def seconds_past_hour(self) -> float:
        """The timestamp in seconds past the hour."""
        return seconds_past_hour(self.timestamp)

    @property
    def absolute(self) -> bool:
        """Absolute (clocks synchronised to UTC) rather than relative timestamp."""
        return bool(self.timestamp & 1)


def timestamp(seconds_past_hour: float, *, absolute: bool = True) -> int:
    """The DIS timestamp of ``seconds_past_hour`` (0 <= s < 3600): bits 31..1 count units of
    3600/2**31 s, rounded to nearest (the hour itself wraps to 0); bit 0 set = absolute time."""
    s = seconds_past_hour
    if not (math.isfinite(s) and 0.0 <= s < 3600.0):
        raise ValueError(f"seconds_past_hour: must be in [0, 3600) (got {s!r})")
    units = round(s * _UNITS_PER_HOUR / 3600.0) % _UNITS_PER_HOUR
    return (units << 1) | (1 if absolute else 0)


def seconds_past_hour(ts: int) -> float:
    """Seconds past the hour of the DIS timestamp ``ts`` (the absolute bit ignored)."""
    _uint("timestamp", "ts", ts, 32)
    return (ts >> 1) * 3600.0 / _UNITS_PER_HOUR


def encode(pdu: Pdu, *, exercise_id: int, timestamp: int) -> bytes:
    """``pdu`` as a DIS 7 PDU of exercise ``exercise_id`` (8 bits), stamped ``timestamp`` (a
    raw DIS timestamp, :func:`timestamp`); the length field is the PDU's size."""
    if not isinstance(exercise_id, int) or not 0 <= exercise_id <= 0xFF:
        raise ValueError(f"exercise_id: must be an unsigned 8-bit integer (got {exercise_id!r})")
    if not isinstance(timestamp, int) or not 0 <= timestamp <= 0xFFFFFFFF:
        raise ValueError(f"timestamp: must be an unsigned 32-bit DIS timestamp (got {timestamp!r})")
    if type(pdu) is EntityState:
        e, t = pdu.entity, pdu.entity_type
        alt = t if pdu.alternative_type is None else pdu.alternative_type
        return _ENTITY_STATE.pack(
            DIS_VERSION, exercise_id, PDU_ENTITY_STATE, FAMILY_ENTITY_INFORMATION, timestamp,
            ENTITY_STATE_SIZE, 0,
            e.site, e.application, e.entity, pdu.force_id, 0,
            t.kind, t.domain, t.country, t.category, t.subcategory, t.specific, t.extra,
            alt.kind, alt.domain, alt.country, alt.category, alt.subcategory, alt.specific, alt.extra,
            *pdu.velocity_mps, *pdu.location_m, *pdu.orientation_rad, pdu.appearance,
            pdu.dead_reckoning, *pdu.acceleration_mps2, *pdu.angular_velocity_rps,
            MARKING_ASCII, pdu.marking.encode("ascii"), pdu.capabilities,
        )  # fmt: skip
    if type(pdu) is Fire:
        f, tg, mu, ev = pdu.firing, pdu.target, pdu.munition, pdu.event
        return _FIRE.pack(
            DIS_VERSION, exercise_id, PDU_FIRE, FAMILY_WARFARE, timestamp, FIRE_SIZE, 0,
            f.site, f.application, f.entity, tg.site, tg.application, tg.entity,
            mu.site, mu.application, mu.entity, ev.site, ev.application, ev.event_number,
            pdu.fire_mission_index, *pdu.location_m,
            *pdu.munition_type._fields(), pdu.warhead, pdu.fuse, pdu.quantity, pdu.rate,
            *pdu.velocity_mps, pdu.range_m,
        )  # fmt: skip
    if type(pdu) is Detonation:
        f, tg, mu, ev = pdu.firing, pdu.target, pdu.munition, pdu.event
        return _DETONATION.pack(
            DIS_VERSION, exercise_id, PDU_DETONATION, FAMILY_WARFARE, timestamp, DETONATION_SIZE, 0,
            f.site, f.application, f.entity, tg.site, tg.application, tg.entity,
            mu.site, mu.application, mu.entity, ev.site, ev.application, ev.event_number,
            *pdu.velocity_mps, *pdu.location_m,
            *pdu.munition_type._fields(), pdu.warhead, pdu.fuse, pdu.quantity, pdu.rate,
            *pdu.location_in_entity_m, pdu.result, 0,
        )  # fmt: skip
    raise TypeError(f"encode: not an EntityState, Fire or Detonation (got {type(pdu).__name__})")


_LAYOUTS: Final = {
    PDU_ENTITY_STATE: (FAMILY_ENTITY_INFORMATION, ENTITY_STATE_SIZE, "Entity State"),
    PDU_FIRE: (FAMILY_WARFARE, FIRE_SIZE, "Fire"),
    PDU_DETONATION: (FAMILY_WARFARE, DETONATION_SIZE, "Detonation"),
}


def _marking(raw: bytes) -> str:
    """The marking text up to its first NUL; bytes that are not printable ASCII become '?'
    (a peer's odd marking is cosmetic, not a reason to drop its entity)."""
    raw = raw.split(b"\0", 1)[0]
    if _PRINTABLE.issuperset(raw):
        return raw.decode("ascii")
    return "".join(chr(b) if b in _PRINTABLE else "?" for b in raw)


def decode(datagram: bytes | bytearray | memoryview) -> tuple[Header, Pdu]:
    """The header and PDU at the start of ``datagram`` (bytes after its length field, such as
    further bundled PDUs, are not read). Raises :class:`DisError`, nothing else."""
    n = len(datagram)
    if n < HEADER_SIZE:
        raise DisError("truncated", f"DIS: a PDU starts with a 12-byte header (got {n} bytes)")
    version, exercise, pdu_type, family, ts, length, status = _HEADER.unpack_from(datagram)
    if version not in ACCEPTED_VERSIONS:
        raise DisError("version", f"DIS: protocol version 6 or 7 expected (got {version})")
    layout = _LAYOUTS.get(pdu_type)
    if layout is None:
        raise DisError("unknown-type", f"DIS: PDU type {pdu_type} is not Entity State, Fire or Detonation")
    want_family, size, name = layout
    if family != want_family:
        raise DisError("family", f"DIS {name}: protocol family {want_family} expected (got {family})")
    if length > n:
        raise DisError("truncated", f"DIS {name}: length field {length} exceeds the {n}-byte datagram")
    if length < size:
        raise DisError("length", f"DIS {name}: length field {length} is below the PDU's {size} bytes")
    header = Header(exercise, pdu_type, family, ts, length, version, status)
    try:
        if pdu_type == PDU_ENTITY_STATE:
            return header, _decode_entity_state(datagram, length)
        if pdu_type == PDU_FIRE:
            return header, _decode_fire(datagram)
        return header, _decode_detonation(datagram, length)
    except ValueError as e:  # a field our dataclasses refuse, e.g. a DR algorithm above 9
        if isinstance(e, DisError):
            raise
        raise DisError("bad-value", f"DIS {name}: {e}") from None


def _variable_parameters(name: str, count: int, size: int, length: int) -> None:
    need = size + count * VARIABLE_PARAMETER_SIZE
    if length < need:
        raise DisError(
            "length",
            f"DIS {name}: length field {length} is below the {need} bytes of {count} variable parameters",
        )


def _decode_entity_state(data: bytes | bytearray | memoryview, length: int) -> EntityState:
    v = _ENTITY_STATE.unpack_from(data)
    _variable_parameters("Entity State", v[11], ENTITY_STATE_SIZE, length)
    entity_type = EntityType(*v[12:19])
    alt = EntityType(*v[19:26])
    return EntityState(
        entity=EntityId(v[7], v[8], v[9]),
        force_id=v[10],
        entity_type=entity_type,
        location_m=v[29:32],
        velocity_mps=v[26:29],
        orientation_rad=v[32:35],
        dead_reckoning=v[36],
        acceleration_mps2=v[37:40],
        angular_velocity_rps=v[40:43],
        marking=_marking(v[44]),
        appearance=v[35],
        capabilities=v[45],
        alternative_type=alt,
    )


def _decode_fire(data: bytes | bytearray | memoryview) -> Fire:
    v = _FIRE.unpack_from(data)
    return Fire(
        firing=EntityId(v[7], v[8], v[9]),
        target=EntityId(v[10], v[11], v[12]),
        munition=EntityId(v[13], v[14], v[15]),
        event=EventId(v[16], v[17], v[18]),
        fire_mission_index=v[19],
        location_m=v[20:23],
        munition_type=EntityType(*v[23:30]),
        warhead=v[30],
        fuse=v[31],
        quantity=v[32],
        rate=v[33],
        velocity_mps=v[34:37],
        range_m=v[37],
    )


def _decode_detonation(data: bytes | bytearray | memoryview, length: int) -> Detonation:
    v = _DETONATION.unpack_from(data)
    _variable_parameters("Detonation", v[40], DETONATION_SIZE, length)
    return Detonation(
        firing=EntityId(v[7], v[8], v[9]),
        target=EntityId(v[10], v[11], v[12]),
        munition=EntityId(v[13], v[14], v[15]),
        event=EventId(v[16], v[17], v[18]),
        velocity_mps=v[19:22],
        location_m=v[22:25],
        munition_type=EntityType(*v[25:32]),
        warhead=v[32],
        fuse=v[33],
        quantity=v[34],
        rate=v[35],
        location_in_entity_m=v[36:39],
        result=v[39],
    )


def _body_axes(orientation_rad: Vec3) -> tuple[Vec3, Vec3, Vec3]:
    """The body's x (forward), y (right) and z (down) axes in ECEF: the columns of the
    body-to-world rotation Rz(psi) Ry(theta) Rx(phi) (IEEE 1278.1-2012 §6.2.32, Annex E)."""
    psi, theta, phi = orientation_rad
    cps, sps = math.cos(psi), math.sin(psi)
    cth, sth = math.cos(theta), math.sin(theta)
    cph, sph = math.cos(phi), math.sin(phi)
    x = (cth * cps, cth * sps, -sth)
    y = (sph * sth * cps - cph * sps, sph * sth * sps + cph * cps, sph * cth)
    z = (cph * sth * cps + sph * sps, cph * sth * sps - sph * cps, cph * cth)
    return x, y, z


def axes_from_euler(orientation_rad: Vec3) -> tuple[Vec3, Vec3]:
    """The body's forward (x) and down (z) unit vectors in ECEF of the DIS Euler angles
    (psi, theta, phi): the inverse of :func:`euler_from_axes`."""
    x, _y, z = _body_axes(_vector("axes_from_euler", "orientation_rad", orientation_rad))
    return x, z


_GIMBAL_LOCK: Final = 1e-9
"""Below this horizontal (ECEF x-y) part of the forward axis, theta is ±90° and psi and phi
turn about the same axis: we then take phi = 0."""


def euler_from_axes(forward_ecef: Vec3, down_ecef: Vec3) -> Vec3:
    """DIS (psi, theta, phi), the Z-Y-X Euler angles of the body relative to ECEF, of its
    forward (x) and down (z) axes in ECEF. ``down`` need only be roughly perpendicular (its
    part along ``forward`` is removed); psi and phi are in (-pi, pi], theta in [-pi/2, pi/2].
    At theta = ±pi/2 (heading north on the equator, say) phi is 0 and psi carries the roll."""
    f = _vector("euler_from_axes", "forward_ecef", forward_ecef)
    d = _vector("euler_from_axes", "down_ecef", down_ecef)
    fn = math.hypot(*f)
    if fn == 0.0:
        raise ValueError(f"euler_from_axes.forward_ecef: must not be zero (got {forward_ecef!r})")
    f = (f[0] / fn, f[1] / fn, f[2] / fn)
    k = d[0] * f[0] + d[1] * f[1] + d[2] * f[2]
    d = (d[0] - k * f[0], d[1] - k * f[1], d[2] - k * f[2])
    dn = math.hypot(*d)
    if dn <= 1e-9 * max(1.0, abs(k)):
        raise ValueError(f"euler_from_axes.down_ecef: must not be parallel to forward (got {down_ecef!r})")
    z = (d[0] / dn, d[1] / dn, d[2] / dn)
    y = (z[1] * f[2] - z[2] * f[1], z[2] * f[0] - z[0] * f[2], z[0] * f[1] - z[1] * f[0])  # z × x
    horizontal = math.hypot(f[0], f[1])
    theta = math.atan2(-f[2], horizontal)
    if horizontal < _GIMBAL_LOCK:
        return (math.atan2(-y[0], y[1]), theta, 0.0)
    return (math.atan2(f[1], f[0]), theta, math.atan2(y[2], z[2]))


def _cross(a: Vec3, b: Vec3) -> Vec3:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _rotating_body_displacement(v: Vec3, a: Vec3, w: Vec3, t: float) -> Vec3:
    """Body-axis displacement over ``t`` of body velocity ``v`` and acceleration ``a`` while
    the body turns at ``w``: [R1] v + [R2] a of IEEE 1278.1-2012 Annex E, written as
    R = c0 I + c1 Ω + c2 Ω² (Ω v = w × v), which is the Annex's form with Ω² = wwᵀ - |w|² I."""
    omega = math.sqrt(w[0] * w[0] + w[1] * w[1] + w[2] * w[2])
    x = omega * t
    x2 = x * x
    if abs(x) < 1e-2:  # the closed forms cancel catastrophically; two series terms suffice
        t2 = t * t
        r1_1, r1_2 = t2 * (0.5 - x2 / 24.0), t2 * t * (1.0 / 6.0 - x2 / 120.0)
        r2_1, r2_2 = t2 * t * (1.0 / 3.0 - x2 / 30.0), t2 * t2 * (0.125 - x2 / 144.0)
    else:
        s, c = math.sin(x), math.cos(x)
        o2 = omega * omega
        r1_1, r1_2 = (1.0 - c) / o2, (x - s) / (o2 * omega)
        r2_1, r2_2 = (s - x * c) / (o2 * omega), (0.5 * x2 - c - x * s + 1.0) / (o2 * o2)
    wv, wa = _cross(w, v), _cross(w, a)
    wwv, wwa = _cross(w, wv), _cross(w, wa)
    half_t2 = 0.5 * t * t
    return (
        t * v[0] + r1_1 * wv[0] + r1_2 * wwv[0] + half_t2 * a[0] + r2_1 * wa[0] + r2_2 * wwa[0],
        t * v[1] + r1_1 * wv[1] + r1_2 * wwv[1] + half_t2 * a[1] + r2_1 * wa[1] + r2_2 * wwa[1],
        t * v[2] + r1_1 * wv[2] + r1_2 * wwv[2] + half_t2 * a[2] + r2_1 * wa[2] + r2_2 * wwa[2],
    )


def dead_reckon(es: EntityState, dt_s: float) -> Vec3:
    """ECEF location ``dt_s`` after ``es`` by its DR algorithm (IEEE 1278.1-2012 Annex E).

    0 (other) and 1 (static): where it was. 2 FPW, 3 RPW: P + V dt. 4 RVW, 5 FVW: P + V dt +
    A dt²/2 (world axes; the rotating ones differ only in orientation). 6..9 (body axes):
    velocity and acceleration are in body coordinates; the displacement is rotated to ECEF
    with the orientation at the PDU. 6 FPB: V dt; 8 FVB: V dt + A dt²/2; 7 RPB and 9 RVB
    integrate the body's turn at ``angular_velocity_rps`` over dt ([R1] V, + [R2] A for 9),
    so a turning aircraft is reckoned along its arc. A frozen entity stays put."""
    if not math.isfinite(dt_s):
        raise ValueError(f"dt_s: must be finite (got {dt_s!r})")
    drm, p = es.dead_reckoning, es.location_m
    if drm <= DRM_STATIC or es.appearance & APPEARANCE_FROZEN:
        return p
    v, a = es.velocity_mps, es.acceleration_mps2
    if drm in (DRM_FPW, DRM_RPW):
        return (p[0] + v[0] * dt_s, p[1] + v[1] * dt_s, p[2] + v[2] * dt_s)
    h = 0.5 * dt_s * dt_s
    if drm in (DRM_RVW, DRM_FVW):
        return (p[0] + v[0] * dt_s + a[0] * h, p[1] + v[1] * dt_s + a[1] * h, p[2] + v[2] * dt_s + a[2] * h)
    if drm == DRM_FPB:
        d = (v[0] * dt_s, v[1] * dt_s, v[2] * dt_s)
    elif drm == DRM_FVB:
        d = (v[0] * dt_s + a[0] * h, v[1] * dt_s + a[1] * h, v[2] * dt_s + a[2] * h)
    else:
        d = _rotating_body_displacement(
            v, a if drm == DRM_RVB else (0.0, 0.0, 0.0), es.angular_velocity_rps, dt_s
        )
    x, y, z = _body_axes(es.orientation_rad)
    return (
        p[0] + x[0] * d[0] + y[0] * d[1] + z[0] * d[2],
        p[1] + x[1] * d[0] + y[1] * d[1] + z[1] * d[2],
        p[2] + x[2] * d[0] + y[2] * d[1] + z[2] * d[2],
    )


class EntityTable:
    """The DIS-in side: the other simulators' entities, from their Entity State PDUs.

    Pure: every call takes the receive time (seconds on any one clock), so a capture replays
    as it ran live. Entities are reckoned from the time their last PDU arrived, not from the
    PDU's timestamp, whose clock (often relative) is the sender's. Nothing that fails to decode,
    belongs to another exercise or overflows ``max_entities`` enters the table; each such drop
    is counted in ``dropped`` by reason (:class:`DisError` reasons, ``exercise``, ``table-full``).
    ``received`` counts the PDUs read, by kind (``entity-state``, ``fire``, ``detonation``);
    Fire and Detonation do not change the table.
    """

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S, *, max_entities: int = 10_000) -> None:
        """``timeout_s``: an entity silent this long is gone (IEEE 1278.1 default 12 s, 2.4
        heartbeats of 5 s). ``max_entities``: a bound, so a flood of invented ids cannot grow
        the table without limit."""
        if not (math.isfinite(timeout_s) and timeout_s > 0):
            raise ValueError(f"timeout_s: must be a finite time > 0 (got {timeout_s!r})")
        if not (isinstance(max_entities, int) and max_entities > 0):
            raise ValueError(f"max_entities: must be an integer > 0 (got {max_entities!r})")
        self.timeout_s = timeout_s
        self.max_entities = max_entities
        self.dropped: Counter[str] = Counter()
        self.received: Counter[str] = Counter()
        self._entities: dict[EntityId, tuple[EntityState, float]] = {}

    def __len__(self) -> int:
        return len(self._entities)

    def __contains__(self, entity: object) -> bool:
        return entity in self._entities

    def feed(self, datagram: bytes, time_s: float, *, exercise_id: int | None = None) -> EntityState | None:
        """Read one datagram received at ``time_s``; ``exercise_id``: the one exercise to keep
        (None = any). Returns the entity state it put in the table, else None (a drop, a Fire
        or Detonation, or a deactivated entity, which is removed)."""
        if not math.isfinite(time_s):
            raise ValueError(f"time_s: must be finite (got {time_s!r})")
        try:
            header, pdu = decode(datagram)
        except DisError as e:
            self.dropped[e.reason] += 1
            return None
        if exercise_id is not None and header.exercise_id != exercise_id:
            self.dropped["exercise"] += 1
            return None
        if not isinstance(pdu, EntityState):
            self.received["fire" if isinstance(pdu, Fire) else "detonation"] += 1
            return None
        self.received["entity-state"] += 1
        if pdu.deactivated:
            self._entities.pop(pdu.entity, None)
            return None
        if pdu.entity not in self._entities and len(self._entities) >= self.max_entities:
            self.dropped["table-full"] += 1
            return None
        self._entities[pdu.entity] = (pdu, time_s)
        return pdu

    def positions(self, time_s: float) -> dict[EntityId, tuple[EntityState, Vec3]]:
        """Each live entity's last state and its dead-reckoned ECEF location at ``time_s``
        (entities past ``timeout_s`` are left out, though only :meth:`expire` removes them)."""
        return {
            eid: (es, dead_reckon(es, time_s - t))
            for eid, (es, t) in self._entities.items()
            if time_s - t <= self.timeout_s
        }

    def expire(self, time_s: float) -> list[EntityId]:
        """Remove and return the entities whose last PDU is more than ``timeout_s`` old."""
        gone = [eid for eid, (_es, t) in self._entities.items() if time_s - t > self.timeout_s]
        for eid in gone:
            del self._entities[eid]
        return gone
