"""protocols.dis: sizes and layout, round trips, opendis as a second decoder (and its bugs),
robustness of decode, dead reckoning, Euler angles, and the DIS-in entity table."""

from __future__ import annotations

import dataclasses
import io
import math
import pickle
import random
import struct
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opendis.DataOutputStream import DataOutputStream
from opendis.dis7 import DetonationPdu, EntityStatePdu, FirePdu
from opendis.PduFactory import createPdu
from opendis.RangeCoordinates import GPS
from scipy.spatial.transform import Rotation

from protocols import dis
from protocols.dis import (
    Detonation,
    DisError,
    EntityId,
    EntityState,
    EntityTable,
    EntityType,
    EventId,
    Fire,
    decode,
    encode,
)

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

F16 = EntityType(kind=1, domain=2, country=225, category=1, subcategory=3, specific=2)
PATRIOT = EntityType(kind=2, domain=2, country=225, category=1, subcategory=4)

ES = EntityState(
    entity=EntityId(17, 4, 1001),
    force_id=dis.FORCE_OPPOSING,
    entity_type=F16,
    location_m=(4_190_000.123456, 170_000.654321, 4_780_000.000789),
    velocity_mps=(-120.5, 210.25, -3.75),
    orientation_rad=(0.5, -0.25, 0.125),
    dead_reckoning=dis.DRM_FVW,
    acceleration_mps2=(1.5, -2.0, 0.25),
    angular_velocity_rps=(0.0, 0.0, 0.0625),
    marking="RED 01",
    appearance=0x0000_0010,
    capabilities=0x0000_0004,
)
FIRE = Fire(
    firing=EntityId(1, 3, 7),
    target=EntityId(17, 4, 1001),
    munition=EntityId(1, 3, 501),
    event=EventId(1, 3, 42),
    fire_mission_index=9,
    location_m=(4_180_000.5, 160_000.25, 4_790_000.125),
    munition_type=PATRIOT,
    warhead=1000,
    fuse=1000,
    quantity=1,
    rate=0,
    velocity_mps=(50.0, 120.0, 300.0),
    range_m=35_000.0,
)
DET = Detonation(
    firing=EntityId(1, 3, 7),
    target=EntityId(17, 4, 1001),
    munition=EntityId(1, 3, 501),
    event=EventId(1, 3, 42),
    velocity_mps=(-400.0, 800.0, 100.5),
    location_m=(4_189_990.75, 170_010.5, 4_780_005.25),
    munition_type=PATRIOT,
    warhead=1000,
    fuse=1000,
    quantity=1,
    rate=0,
    result=dis.DETONATION_ENTITY_PROXIMATE,
    location_in_entity_m=(3.0, -1.5, 0.5),
)
TS = dis.timestamp(1234.5)


def es_bytes(es: EntityState = ES, exercise_id: int = 5) -> bytes:
    return encode(es, exercise_id=exercise_id, timestamp=TS)


def patched(data: bytes, offset: int, fmt: str, *values: Any) -> bytes:
    b = bytearray(data)
    struct.pack_into(fmt, b, offset, *values)
    return bytes(b)


def with_variable_parameters(data: bytes, count_offset: int, n: int) -> bytes:
    """``data`` carrying ``n`` articulated-part variable parameter records (16 bytes each:
    type 0, change, part id, parameter type 4106 = azimuth of part 4096, float32 value)."""
    records = b"".join(struct.pack(">BBHIf4x", 0, 0, k + 1, 4096 + 11, 0.5 * k) for k in range(n))
    b = bytearray(data + records)
    b[count_offset] = n
    struct.pack_into(">H", b, 8, len(b))
    return bytes(b)


VALID = (es_bytes(), encode(FIRE, exercise_id=5, timestamp=TS), encode(DET, exercise_id=5, timestamp=TS))
"""One valid datagram of each kind, exercise 5."""


# ------------------------------------------------------------------ sizes, header, layout


@pytest.mark.parametrize(
    ("pdu", "size", "pdu_type", "family"),
    [(ES, 144, 1, 1), (FIRE, 96, 2, 2), (DET, 104, 3, 2)],
    ids=["entity-state", "fire", "detonation"],
)
def test_size_length_field_and_header_bytes(pdu: dis.Pdu, size: int, pdu_type: int, family: int) -> None:
    data = encode(pdu, exercise_id=9, timestamp=0x1234_5679)
    assert len(data) == size
    assert (
        data[:12]
        == bytes([7, 9, pdu_type, family, 0x12, 0x34, 0x56, 0x79]) + struct.pack(">H", size) + b"\0\0"
    )


def test_entity_state_field_offsets_follow_the_standard() -> None:
    # IEEE 1278.1-2012 §7.2.2: header 0-11, entity id 12, force 18, #parameters 19, type 20,
    # alternative type 28, velocity 36 (3×f32), location 48 (3×f64), orientation 72, appearance 84,
    # DR algorithm 88, other parameters 89-103, acceleration 104, angular velocity 116,
    # marking 128 (character set + 11 chars), capabilities 140.
    b = es_bytes()
    assert struct.unpack_from(">3H", b, 12) == (17, 4, 1001)
    assert (b[18], b[19]) == (dis.FORCE_OPPOSING, 0)
    assert b[20:28] == b[28:36] == bytes([1, 2, 0, 225, 1, 3, 2, 0])
    assert struct.unpack_from(">3f", b, 36) == (-120.5, 210.25, -3.75)
    assert struct.unpack_from(">3d", b, 48) == ES.location_m
    assert b[48:56] == struct.pack(">d", 4_190_000.123456)  # big-endian IEEE 754 double
    assert struct.unpack_from(">3f", b, 72) == ES.orientation_rad
    assert struct.unpack_from(">I", b, 84) == (0x10,)
    assert (b[88], b[89:104]) == (dis.DRM_FVW, bytes(15))
    assert struct.unpack_from(">3f", b, 104) == (1.5, -2.0, 0.25)
    assert struct.unpack_from(">3f", b, 116) == (0.0, 0.0, 0.0625)
    assert b[128:140] == b"\x01RED 01\0\0\0\0\0"
    assert struct.unpack_from(">I", b, 140) == (4,)


def test_fire_and_detonation_field_offsets_follow_the_standard() -> None:
    # §7.3.2 Fire: firing 12, target 18, munition 24, event 30, fire mission 36, location 40,
    # descriptor 64 (type, warhead, fuse, quantity, rate), velocity 80, range 92.
    f = encode(FIRE, exercise_id=1, timestamp=0)
    assert struct.unpack_from(">12H", f, 12) == (1, 3, 7, 17, 4, 1001, 1, 3, 501, 1, 3, 42)
    assert struct.unpack_from(">I3d", f, 36) == (9, *FIRE.location_m)
    assert f[64:72] == bytes([2, 2, 0, 225, 1, 4, 0, 0]) and struct.unpack_from(">4H", f, 72) == (
        1000,
        1000,
        1,
        0,
    )
    assert struct.unpack_from(">4f", f, 80) == (50.0, 120.0, 300.0, 35_000.0)
    # §7.3.3 Detonation: ids and event as Fire, velocity 36, location 48, descriptor 72,
    # location in entity 88, result 100, #parameters 101, padding 102.
    d = encode(DET, exercise_id=1, timestamp=0)
    assert struct.unpack_from(">3f3d", d, 36) == (*DET.velocity_mps, *DET.location_m)
    assert struct.unpack_from(">3f", d, 88) == (3.0, -1.5, 0.5)
    assert d[100:104] == bytes([dis.DETONATION_ENTITY_PROXIMATE, 0, 0, 0])


def test_detonation_results_are_the_values_wireshark_names() -> None:
    # tshark 4.0 `-G values`: 1 Entity impact, 2 Entity proximate detonation, 3 Ground impact,
    # 5 Detonation, 6 None or no detonation (dud), 17 Air hit, 25 Air burst, 31/32 Miss due to
    # fly-out / end-game failure.
    assert (dis.DETONATION_OTHER, dis.DETONATION_ENTITY_IMPACT, dis.DETONATION_ENTITY_PROXIMATE) == (0, 1, 2)
    assert (dis.DETONATION_GROUND_IMPACT, dis.DETONATION_GROUND_PROXIMATE) == (3, 4)
    assert (dis.DETONATION_DETONATION, dis.DETONATION_NONE, dis.DETONATION_PROXIMATE) == (5, 6, 2)
    assert (dis.DETONATION_AIR_HIT, dis.DETONATION_AIR_BURST) == (17, 25)
    assert (dis.DETONATION_MISS_FLY_OUT, dis.DETONATION_MISS_END_GAME) == (31, 32)


# ------------------------------------------------------------------ timestamps


def test_timestamp_lsb_absolute_bit_and_wrap() -> None:
    unit_s = 3600 / 2**31
    assert dis.timestamp(0.0) == 1
    assert dis.timestamp(0.0, absolute=False) == 0
    assert dis.timestamp(unit_s) == 0b11
    assert dis.timestamp(unit_s, absolute=False) == 0b10
    assert dis.timestamp(1800.0) == 2**31 + 1
    assert dis.timestamp(3600 - unit_s / 4) == 1  # rounds to the next hour's 0
    assert dis.seconds_past_hour(0b11) == dis.seconds_past_hour(0b10) == unit_s
    assert dis.seconds_past_hour(0xFFFF_FFFF) == pytest.approx(3600 - unit_s, abs=1e-12)
    for bad in (-0.001, 3600.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="seconds_past_hour"):
            dis.timestamp(bad)
    with pytest.raises(ValueError, match="4294967296"):
        dis.seconds_past_hour(2**32)


@given(st.floats(0.0, 3600.0, exclude_max=True))
def test_timestamp_round_trip_within_half_a_unit(s: float) -> None:
    back = dis.seconds_past_hour(dis.timestamp(s))
    assert abs(back - s) <= 3600 / 2**32 * (1 + 1e-9) or abs(back - s + 3600) <= 3600 / 2**32


def test_header_of_decoded_pdu() -> None:
    header, _ = decode(es_bytes(exercise_id=33))
    assert header == dis.Header(exercise_id=33, pdu_type=1, family=1, timestamp=TS, length=144, version=7)
    assert header.absolute and header.seconds_past_hour == pytest.approx(1234.5, abs=1e-6)


# ------------------------------------------------------------------ round trips

f32 = st.floats(-3e38, 3e38, allow_nan=False)
f64 = st.floats(allow_nan=False, allow_infinity=False)
vec32 = st.tuples(f32, f32, f32)
vec64 = st.tuples(f64, f64, f64)
u8, u16, u32 = st.integers(0, 255), st.integers(0, 2**16 - 1), st.integers(0, 2**32 - 1)
ids = st.builds(EntityId, u16, u16, u16)
events = st.builds(EventId, u16, u16, u16)
types = st.builds(EntityType, u8, u8, u16, u8, u8, u8, u8)
markings = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=11)
entity_states = st.builds(
    EntityState,
    entity=ids,
    force_id=u8,
    entity_type=types,
    location_m=vec64,
    velocity_mps=vec32,
    orientation_rad=vec32,
    dead_reckoning=st.integers(0, 9),
    acceleration_mps2=vec32,
    angular_velocity_rps=vec32,
    marking=markings,
    appearance=u32,
    capabilities=u32,
    alternative_type=st.none() | types,
)
fires = st.builds(
    Fire, ids, ids, ids, events, u32, vec64, types, u16, u16, u16, u16, vec32, st.floats(0, 3e38)
)  # fmt: skip
detonations = st.builds(Detonation, ids, ids, ids, events, vec32, vec64, types, u16, u16, u16, u16, u8, vec32)


@FUZZ
@given(st.one_of(entity_states, fires, detonations), u8, u32)
def test_round_trip(pdu: dis.Pdu, exercise_id: int, ts: int) -> None:
    data = encode(pdu, exercise_id=exercise_id, timestamp=ts)
    header, back = decode(data)
    assert back == pdu
    assert (header.exercise_id, header.timestamp, header.length, header.version) == (
        exercise_id,
        ts,
        len(data),
        7,
    )


def test_float32_fields_hold_what_the_wire_carries() -> None:
    es = EntityState(EntityId(1, 1, 1), 1, F16, (0.1, 0.2, 0.3), (0.1, 0.2, 0.3))
    assert es.location_m == (0.1, 0.2, 0.3)  # float64 on the wire: kept
    assert es.velocity_mps == struct.unpack(">3f", struct.pack(">3f", 0.1, 0.2, 0.3)) != (0.1, 0.2, 0.3)
    assert decode(es_bytes(es))[1] == es


def test_alternative_type_defaults_to_the_entity_type_and_travels_when_different() -> None:
    alt = EntityType(1, 2, 222, 50)
    es = EntityState(EntityId(1, 1, 1), 1, F16, (1.0, 2.0, 3.0), (0.0, 0.0, 0.0), alternative_type=alt)
    b = es_bytes(es)
    assert b[28:36] == bytes([1, 2, 0, 222, 50, 0, 0, 0])
    assert decode(b)[1] == es


def test_version_6_is_read() -> None:
    # IEEE 1278.1a-1998 lays these PDUs out as version 7 does (its header ends in padding).
    for data, pdu in zip(VALID, (ES, FIRE, DET), strict=True):
        header, back = decode(patched(data, 0, ">B", 6))
        assert (header.version, back) == (6, pdu)


def test_variable_parameters_are_skipped_by_the_length_they_take() -> None:
    es7 = with_variable_parameters(es_bytes(), 19, 2)
    det = with_variable_parameters(encode(DET, exercise_id=5, timestamp=TS), 101, 3)
    bundle = es7 + det  # IEEE 1278.1-2012 allows several PDUs in one datagram
    header, es = decode(bundle)
    assert (header.length, es) == (144 + 32, ES)
    header2, d = decode(bundle[header.length :])
    assert (header2.length, d) == (104 + 48, DET)
    # A length field that leaves out part of the records is refused, whatever the datagram holds.
    for data, count_offset, size in ((es7, 19, 144), (det, 101, 104)):
        n = data[count_offset]
        short = patched(data, 8, ">H", size + 16 * n - 1)
        with pytest.raises(DisError, match=f"{size + 16 * n} bytes of {n} variable parameters") as info:
            decode(short)
        assert info.value.reason == "length"
    # opendis, decoding independently, sees the same records.
    assert len(createPdu(es7).variableParameters) == 2
    assert len(createPdu(det).variableParameters) == 3


def test_marking_bytes_that_are_not_printable_ascii_read_as_question_marks() -> None:
    b = bytearray(es_bytes())
    b[129:140] = b"AB\xffC\x07D\0ZZZZ"
    es = decode(bytes(b))[1]
    assert isinstance(es, EntityState) and es.marking == "AB?C?D"


# ------------------------------------------------------------------ opendis: an independent decoder


def test_opendis_reads_our_entity_state() -> None:
    p = createPdu(es_bytes())
    assert type(p) is EntityStatePdu
    assert (p.protocolVersion, p.exerciseID, p.pduType, p.protocolFamily, p.timestamp) == (7, 5, 1, 1, TS)
    assert (p.length, p.pduStatus, p.padding) == (144, 0, 0)
    assert (p.entityID.siteID, p.entityID.applicationID, p.entityID.entityID) == (17, 4, 1001)
    assert p.forceId == dis.FORCE_OPPOSING
    t = p.entityType
    assert (t.entityKind, t.domain, t.country, t.category, t.subcategory, t.specific, t.extra) == (
        1,
        2,
        225,
        1,
        3,
        2,
        0,
    )
    loc = p.entityLocation
    assert (loc.x, loc.y, loc.z) == ES.location_m
    vel = p.entityLinearVelocity
    assert (vel.x, vel.y, vel.z) == ES.velocity_mps
    ori = p.entityOrientation
    assert (ori.psi, ori.theta, ori.phi) == ES.orientation_rad
    assert (p.entityAppearance, p.capabilities) == (0x10, 4)
    dr = p.deadReckoningParameters
    assert dr.deadReckoningAlgorithm == dis.DRM_FVW
    acc, ang = dr.entityLinearAcceleration, dr.entityAngularVelocity
    assert (acc.x, acc.y, acc.z, ang.x, ang.y, ang.z) == (*ES.acceleration_mps2, *ES.angular_velocity_rps)
    assert (p.marking.characterSet, p.marking.charactersString()) == (1, "RED 01")


def test_opendis_reads_our_fire() -> None:
    p = createPdu(encode(FIRE, exercise_id=5, timestamp=TS))
    assert type(p) is FirePdu
    assert (p.pduType, p.protocolFamily, p.length) == (2, 2, 96)
    assert (p.firingEntityID.entityID, p.targetEntityID.entityID, p.munitionExpendableID.entityID) == (
        7,
        1001,
        501,
    )
    ev = p.eventID
    assert (ev.simulationAddress.site, ev.simulationAddress.application, ev.eventNumber) == (1, 3, 42)
    assert p.fireMissionIndex == 9
    assert (p.location.x, p.location.y, p.location.z) == FIRE.location_m
    d = p.descriptor
    mt = d.munitionType
    assert (mt.entityKind, mt.domain, mt.country, mt.category, mt.subcategory) == (2, 2, 225, 1, 4)
    assert (d.warhead, d.fuse, d.quantity, d.rate) == (1000, 1000, 1, 0)
    assert (p.velocity.x, p.velocity.y, p.velocity.z) == FIRE.velocity_mps
    assert p.range == 35_000.0


def test_opendis_reads_our_detonation() -> None:
    p = createPdu(encode(DET, exercise_id=5, timestamp=TS))
    assert type(p) is DetonationPdu
    assert (p.pduType, p.protocolFamily, p.length) == (3, 2, 104)
    assert (p.firingEntityID.entityID, p.targetEntityID.entityID, p.explodingEntityID.entityID) == (
        7,
        1001,
        501,
    )
    assert p.eventID.eventNumber == 42
    assert (p.velocity.x, p.velocity.y, p.velocity.z) == DET.velocity_mps
    assert (p.location.x, p.location.y, p.location.z) == DET.location_m
    le = p.locationInEntityCoordinates
    assert (le.x, le.y, le.z) == DET.location_in_entity_m
    assert p.detonationResult == dis.DETONATION_ENTITY_PROXIMATE
    assert p.numberOfVariableParameters == 0


@settings(max_examples=100, deadline=None)
@given(entity_states)
def test_opendis_agrees_on_any_entity_state(es: EntityState) -> None:
    p = createPdu(es_bytes(es))
    assert (p.entityID.siteID, p.entityID.applicationID, p.entityID.entityID) == (
        es.entity.site,
        es.entity.application,
        es.entity.entity,
    )
    assert p.forceId == es.force_id
    assert (p.entityLocation.x, p.entityLocation.y, p.entityLocation.z) == es.location_m
    v = p.entityLinearVelocity
    assert (v.x, v.y, v.z) == es.velocity_mps
    assert p.marking.charactersString() == es.marking
    assert (p.entityAppearance, p.deadReckoningParameters.deadReckoningAlgorithm) == (
        es.appearance,
        es.dead_reckoning,
    )


def _opendis_bytes(pdu: Any) -> bytes:
    out = io.BytesIO()
    pdu.serialize(DataOutputStream(out))
    return out.getvalue()


def test_opendis_bug_default_entity_state_cannot_serialize() -> None:
    """Documents an opendis 1.0 bug we work around (one reason we encode ourselves): a default
    EntityStatePdu does not serialize, since its pduStatus is a PduStatus object and its
    entityAppearance and capabilities default to b'0000', none an int. Fails, and so tells
    us, once a fixed opendis is installed."""
    with pytest.raises(struct.error):
        _opendis_bytes(EntityStatePdu())
    p = EntityStatePdu()
    p.pduStatus = 0
    with pytest.raises(struct.error):  # the bytes defaults alone still break it
        _opendis_bytes(p)
    p.entityAppearance = p.capabilities = 0
    assert len(_opendis_bytes(p)) == 144  # with all three made ints, it does


def test_opendis_bug_pdu_type_and_family_are_zero_on_instances() -> None:
    """Documents an opendis 1.0 bug: the class says pduType 1 / protocolFamily 1, but the base
    constructor sets both to 0 on every instance, so what opendis writes has type 0 and its
    own PduFactory.createPdu returns None for it. Fails once opendis is fixed."""
    p = EntityStatePdu()
    assert (EntityStatePdu.pduType, EntityStatePdu.protocolFamily) == (1, 1)
    assert (p.pduType, p.protocolFamily) == (0, 0)
    p.pduStatus, p.entityAppearance, p.capabilities = 0, 0, 0
    data = _opendis_bytes(p)
    assert (data[2], data[3]) == (0, 0)
    assert createPdu(data) is None
    for cls in (FirePdu, DetonationPdu):
        q = cls()
        q.pduStatus = 0
        assert createPdu(_opendis_bytes(q)) is None


def test_opendis_bug_length_field_is_always_zero() -> None:
    """Documents opendis issue #11: serialize writes the length field as 0 (it is never
    computed), where IEEE 1278.1 wants the PDU's size. Fails once opendis is fixed."""
    p = EntityStatePdu()
    p.pduStatus, p.entityAppearance, p.capabilities = 0, 0, 0
    p.pduType, p.protocolFamily = 1, 1
    data = _opendis_bytes(p)
    assert len(data) == 144
    assert struct.unpack_from(">H", data, 8) == (0,)
    assert createPdu(data).length == 0
    q = FirePdu()
    q.pduStatus = 0
    assert struct.unpack_from(">H", _opendis_bytes(q), 8) == (0,)


# ------------------------------------------------------------------ decode robustness


def _decode_or_reason(data: bytes) -> str:
    try:
        decode(data)
    except DisError as e:
        assert e.reason in {"truncated", "version", "unknown-type", "family", "length", "bad-value"}, e.reason
        return e.reason
    return "ok"


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_dis_error(data: bytes) -> None:
    _decode_or_reason(data)


@FUZZ
@given(st.sampled_from(VALID), st.lists(st.tuples(st.integers(0, 175), st.integers(0, 255)), max_size=6))
def test_mutated_pdus_raise_only_dis_error(data: bytes, flips: list[tuple[int, int]]) -> None:
    b = bytearray(data)
    for pos, value in flips:
        b[pos % len(b)] = value
    _decode_or_reason(bytes(b))


@FUZZ
@given(st.sampled_from(VALID), st.binary(min_size=132, max_size=200), st.integers(0, 2))
def test_valid_header_with_random_body_raises_only_dis_error(valid: bytes, body: bytes, keep: int) -> None:
    # Random bytes rarely get past the header: keep a valid one so the body decoding is fuzzed.
    _decode_or_reason(valid[: 12 + 8 * keep] + body)


@pytest.mark.parametrize("valid", VALID, ids=["entity-state", "fire", "detonation"])
def test_every_truncation_is_truncated(valid: bytes) -> None:
    assert {_decode_or_reason(valid[:k]) for k in range(len(valid))} == {"truncated"}
    assert _decode_or_reason(valid) == "ok"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda b: patched(b, 0, ">B", 5), "version"),
        (lambda b: patched(b, 0, ">B", 8), "version"),
        (lambda b: patched(b, 2, ">B", 4), "unknown-type"),
        (lambda b: patched(b, 3, ">B", 2), "family"),
        (lambda b: patched(b, 8, ">H", 143), "length"),
        (lambda b: patched(b, 8, ">H", 145), "truncated"),
        (lambda b: patched(b, 19, ">B", 1), "length"),  # one variable parameter the length leaves out
        (lambda b: patched(b, 48, ">d", math.nan), "bad-value"),
        (lambda b: patched(b, 64, ">d", -math.inf), "bad-value"),
        (lambda b: patched(b, 40, ">f", math.inf), "bad-value"),
        (lambda b: patched(b, 76, ">f", math.nan), "bad-value"),
        (lambda b: patched(b, 88, ">B", 10), "bad-value"),  # no such DR algorithm
    ],
)
def test_entity_state_rejections(mutate: Any, reason: str) -> None:
    with pytest.raises(DisError) as info:
        decode(mutate(es_bytes()))
    assert info.value.reason == reason


def test_fire_and_detonation_rejections() -> None:
    fire, det = VALID[1], VALID[2]
    for data, reason in [
        (patched(fire, 40, ">d", math.nan), "bad-value"),
        (patched(fire, 92, ">f", math.nan), "bad-value"),
        (patched(fire, 92, ">f", -5.0), "bad-value"),
        (patched(fire, 8, ">H", 95), "length"),
        (patched(fire, 3, ">B", 1), "family"),
        (patched(det, 48, ">d", math.inf), "bad-value"),
        (patched(det, 36, ">f", math.nan), "bad-value"),
        (patched(det, 101, ">B", 2), "length"),
    ]:
        with pytest.raises(DisError) as info:
            decode(data)
        assert info.value.reason == reason, data


def test_dis_error_is_a_value_error_with_a_reason_and_pickles() -> None:
    with pytest.raises(ValueError, match="version 6 or 7 expected \\(got 5\\)"):
        decode(patched(es_bytes(), 0, ">B", 5))
    e = pickle.loads(pickle.dumps(DisError("length", "too short")))
    assert (e.reason, str(e)) == ("length", "too short")


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("build", "quoted"),
    [
        (lambda: EntityId(1, 70_000, 1), "70000"),
        (lambda: EntityId(65_536, 0, 0), "65536"),
        (lambda: EventId(0, 0, -1), "-1"),
        (lambda: EntityType(300, 1, 1, 1), "300"),
        (lambda: EntityState(EntityId(1, 1, 1), 1, F16, (math.nan, 0, 0), (0, 0, 0)), "nan"),
        (lambda: EntityState(EntityId(1, 1, 1), 1, F16, (0, 0, 0), (1e39, 0, 0)), "1e+39"),
        (lambda: EntityState(EntityId(1, 1, 1), 1, F16, (0, 0, 0), (0, 0)), "(0, 0)"),
        (
            lambda: EntityState(EntityId(1, 1, 1), 1, F16, (0, 0, 0), (0, 0, 0), marking="TWELVE CHARS"),
            "TWELVE",
        ),
        (lambda: EntityState(EntityId(1, 1, 1), 1, F16, (0, 0, 0), (0, 0, 0), marking="é"), "é"),
        (lambda: EntityState(EntityId(1, 1, 1), 1, F16, (0, 0, 0), (0, 0, 0), dead_reckoning=10), "10"),
        (lambda: EntityState(EntityId(1, 1, 1), 256, F16, (0, 0, 0), (0, 0, 0)), "256"),
        (lambda: dataclasses.replace(FIRE, range_m=-1.0), "-1.0"),
        (lambda: dataclasses.replace(FIRE, target="17:4:1001"), "17:4:1001"),
        (lambda: dataclasses.replace(DET, result=256), "256"),
    ],
)
def test_construction_rejects_and_quotes_bad_values(build: Any, quoted: str) -> None:
    with pytest.raises(ValueError) as info:
        build()
    assert quoted in str(info.value)


def test_encode_rejects_bad_exercise_and_timestamp() -> None:
    with pytest.raises(ValueError, match="256"):
        encode(ES, exercise_id=256, timestamp=0)
    with pytest.raises(ValueError, match="-1"):
        encode(ES, exercise_id=1, timestamp=-1)


# ------------------------------------------------------------------ dead reckoning

P0, V0, A0 = (1000.0, 2000.0, 3000.0), (10.0, 20.0, 30.0), (1.0, 2.0, 4.0)


def moving(drm: int, **kw: Any) -> EntityState:
    args: dict[str, Any] = {"velocity_mps": V0, "acceleration_mps2": A0, **kw}
    return EntityState(EntityId(1, 1, 1), 1, F16, P0, dead_reckoning=drm, **args)


@pytest.mark.parametrize(
    ("drm", "expected"),
    [
        (dis.DRM_OTHER, P0),
        (dis.DRM_STATIC, P0),
        (dis.DRM_FPW, (1020.0, 2040.0, 3060.0)),  # P + V·2
        (dis.DRM_RPW, (1020.0, 2040.0, 3060.0)),
        (dis.DRM_RVW, (1022.0, 2044.0, 3068.0)),  # P + V·2 + A·2²/2
        (dis.DRM_FVW, (1022.0, 2044.0, 3068.0)),
    ],
)
def test_world_axis_dead_reckoning(drm: int, expected: tuple[float, float, float]) -> None:
    es = moving(drm, angular_velocity_rps=(0.5, 0.0, 0.0), orientation_rad=(1.0, 0.5, 0.25))
    assert dis.dead_reckon(es, 2.0) == expected
    assert dis.dead_reckon(es, 0.0) == P0


def test_fixed_body_axis_dead_reckoning_rotates_to_world() -> None:
    # psi = 90°: body x (forward) = ECEF +y, body y (right) = ECEF -x, body z (down) = ECEF +z.
    kw: dict[str, Any] = {"velocity_mps": (10.0, 0.0, 0.0), "acceleration_mps2": (0.0, 1.0, 0.0)}
    fpb = moving(dis.DRM_FPB, orientation_rad=(math.pi / 2, 0.0, 0.0), **kw)
    assert dis.dead_reckon(fpb, 2.0) == pytest.approx((1000.0, 2020.0, 3000.0), abs=1e-5)
    fvb = moving(dis.DRM_FVB, orientation_rad=(math.pi / 2, 0.0, 0.0), **kw)  # + (0, 2, 0) body
    assert dis.dead_reckon(fvb, 2.0) == pytest.approx((998.0, 2020.0, 3000.0), abs=1e-5)


def test_rotating_body_axis_dead_reckoning_follows_the_turn() -> None:
    # Level, heading ECEF +x, forward 100 m/s, yawing right (about body z) at 0.125 rad/s (exact
    # in float32): a quarter circle of radius 800 m in t = 4π s ends 800 m ahead, 800 m right (+y).
    w, v, t = 0.125, 100.0, 4 * math.pi
    rpb = moving(dis.DRM_RPB, velocity_mps=(v, 0.0, 0.0), angular_velocity_rps=(0.0, 0.0, w))
    assert dis.dead_reckon(rpb, t) == pytest.approx((P0[0] + 800.0, P0[1] + 800.0, P0[2]), abs=1e-6)
    # With 2 m/s² along the body x axis as well: ∫(v + a s)(cos ws, sin ws) ds.
    a = 2.0
    rvb = moving(
        dis.DRM_RVB, velocity_mps=(v, 0, 0), acceleration_mps2=(a, 0, 0), angular_velocity_rps=(0, 0, w)
    )
    ahead = v / w + a * (t / w - 1 / w**2)
    right = v / w + a / w**2
    assert dis.dead_reckon(rvb, t) == pytest.approx((P0[0] + ahead, P0[1] + right, P0[2]), abs=1e-6)


def _integrated_body_path(es: EntityState, t: float) -> np.ndarray:
    """Reference: the world velocity C(s)(V + A s), C(s) = C0 exp(Ω s), integrated by Simpson."""
    c0 = Rotation.from_euler("ZYX", es.orientation_rad).as_matrix()
    s = np.linspace(0.0, t, 4001)
    turn = Rotation.from_rotvec(np.outer(s, es.angular_velocity_rps)).as_matrix()
    accel = es.acceleration_mps2 if es.dead_reckoning == dis.DRM_RVB else (0.0, 0.0, 0.0)
    body_v = np.asarray(es.velocity_mps) + np.outer(s, accel)
    world_v = np.einsum("ij,njk,nk->ni", c0, turn, body_v)
    h = s[1] - s[0]
    weights = np.ones_like(s)
    weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0
    return np.asarray(es.location_m) + h / 3.0 * (weights @ world_v)


small = st.floats(-1.0, 1.0)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([dis.DRM_RPB, dis.DRM_RVB]),
    st.tuples(st.floats(-3.1, 3.1), st.floats(-1.5, 1.5), st.floats(-3.1, 3.1)),
    st.tuples(st.floats(-300, 300), st.floats(-300, 300), st.floats(-300, 300)),
    st.tuples(small, small, small),
    st.tuples(st.floats(-20, 20), st.floats(-20, 20), st.floats(-20, 20)),
    st.floats(-10.0, 10.0),
)
def test_rotating_body_axis_matches_numerical_integration(
    drm: int, orientation: Any, v: Any, w: Any, a: Any, t: float
) -> None:
    es = EntityState(EntityId(1, 1, 1), 1, F16, (6.4e6, 1e5, -2e5), v, orientation, drm, a, w)
    assert dis.dead_reckon(es, t) == pytest.approx(tuple(_integrated_body_path(es, t)), abs=1e-6)


def test_rotating_body_axis_without_turn_is_the_fixed_one() -> None:
    for rotating, fixed in ((dis.DRM_RPB, dis.DRM_FPB), (dis.DRM_RVB, dis.DRM_FVB)):
        kw: dict[str, Any] = {"orientation_rad": (0.3, -0.2, 0.1)}
        still = moving(fixed, **kw)
        assert dis.dead_reckon(moving(rotating, **kw), 3.0) == dis.dead_reckon(still, 3.0)
        turning = moving(rotating, angular_velocity_rps=(1e-12, -1e-12, 1e-12), **kw)
        assert dis.dead_reckon(turning, 3.0) == pytest.approx(dis.dead_reckon(still, 3.0), abs=1e-9)
        # Either side of the switch from series to closed form (|w| t = 0.01), the same path.
        lo = moving(rotating, angular_velocity_rps=(0.0, 0.0, 0.00999 / 3.0), **kw)
        hi = moving(rotating, angular_velocity_rps=(0.0, 0.0, 0.01001 / 3.0), **kw)
        assert dis.dead_reckon(lo, 3.0) == pytest.approx(dis.dead_reckon(hi, 3.0), abs=1e-3)
        assert dis.dead_reckon(lo, 3.0) == pytest.approx(tuple(_integrated_body_path(lo, 3.0)), abs=1e-7)


def test_frozen_entities_stay_put_and_dt_must_be_finite() -> None:
    frozen = moving(dis.DRM_FVW, appearance=dis.APPEARANCE_FROZEN)
    assert dis.dead_reckon(frozen, 5.0) == P0
    with pytest.raises(ValueError, match="nan"):
        dis.dead_reckon(moving(dis.DRM_FPW), math.nan)


# ------------------------------------------------------------------ Euler angles

A_WGS84 = 6_378_137.0


def test_euler_at_lat_0_lon_0() -> None:
    # ECEF there: up = +x, east = +y, north = +z. Heading north level, the body's nose points
    # along +z: theta = -90° (the gimbal lock, phi taken as 0); heading east it is a roll of -90°.
    assert dis.euler_from_axes((0, 0, 1), (-1, 0, 0)) == pytest.approx((0.0, -math.pi / 2, 0.0))
    assert dis.euler_from_axes((0, 1, 0), (-1, 0, 0)) == pytest.approx((math.pi / 2, 0.0, -math.pi / 2))
    gps = GPS()  # opendis's independent conversion from latitude, longitude, heading
    for yaw_deg, expected in ((0.0, (0.0, -math.pi / 2, 0.0)), (90.0, (math.pi / 2, 0.0, -math.pi / 2))):
        assert gps.llarpy2ecef(0.0, 0.0, 0.0, 0.0, 0.0, math.radians(yaw_deg))[3:] == pytest.approx(expected)


def test_euler_at_lat_0_lon_90_heading_north() -> None:
    # Up = +y, north = +z: theta = -90° again, and psi carries the 90° of longitude.
    assert dis.euler_from_axes((0, 0, 1), (0, -1, 0)) == pytest.approx((math.pi / 2, -math.pi / 2, 0.0))


def _ned_axes(lat: float, lon: float, yaw: float, pitch: float, roll: float) -> tuple[np.ndarray, np.ndarray]:
    """Forward and down in ECEF of a body at (lat, lon) with heading/pitch/roll, via scipy."""
    sl, cl, so, co = math.sin(lat), math.cos(lat), math.sin(lon), math.cos(lon)
    ned = np.column_stack([(-sl * co, -sl * so, cl), (-so, co, 0.0), (-cl * co, -cl * so, -sl)])
    body = Rotation.from_euler("ZYX", [yaw, pitch, roll]).as_matrix()
    return ned @ body[:, 0], ned @ body[:, 2]


def _wrapped(a: float, b: float) -> float:
    return abs(math.remainder(a - b, 2 * math.pi))


@pytest.mark.parametrize(
    "lla_hpr_deg",
    [(45, 30, 60, 10, 5), (-33.9, 151.2, 200, -5, 30), (52, -1, 350, 80, -170), (10, 100, 0, 0, 0)],
)
def test_euler_from_axes_agrees_with_opendis(lla_hpr_deg: tuple[float, ...]) -> None:
    lat, lon, yaw, pitch, roll = (math.radians(x) for x in lla_hpr_deg)
    forward, down = _ned_axes(lat, lon, yaw, pitch, roll)
    ours = dis.euler_from_axes(tuple(forward), tuple(down))
    theirs = GPS().llarpy2ecef(lat, lon, 0.0, roll, pitch, yaw)[3:]
    assert max(_wrapped(a, b) for a, b in zip(ours, theirs, strict=True)) < 1e-9


angles = st.tuples(
    st.floats(-math.pi, math.pi), st.floats(-math.pi / 2, math.pi / 2), st.floats(-math.pi, math.pi)
)


@given(angles)
def test_axes_from_euler_agrees_with_scipy(orientation: tuple[float, float, float]) -> None:
    matrix = Rotation.from_euler("ZYX", orientation).as_matrix()
    forward, down = dis.axes_from_euler(orientation)
    assert np.allclose(forward, matrix[:, 0], atol=1e-12) and np.allclose(down, matrix[:, 2], atol=1e-12)


@given(angles)
def test_euler_round_trip(orientation: tuple[float, float, float]) -> None:
    forward, down = dis.axes_from_euler(orientation)
    back = dis.euler_from_axes(forward, down)
    # The axes always come back; the angles do away from the gimbal lock (theta = ±90°).
    assert np.allclose(dis.axes_from_euler(back), (forward, down), atol=1e-9)
    if abs(orientation[1]) < math.pi / 2 - 1e-6:
        assert max(_wrapped(a, b) for a, b in zip(back, orientation, strict=True)) < 1e-6


def test_euler_from_axes_orthogonalises_down_and_rejects_degenerate_axes() -> None:
    assert dis.euler_from_axes((0, 2, 0), (-1, 0.3, 0)) == pytest.approx((math.pi / 2, 0.0, -math.pi / 2))
    with pytest.raises(ValueError, match="zero"):
        dis.euler_from_axes((0, 0, 0), (1, 0, 0))
    with pytest.raises(ValueError, match="parallel"):
        dis.euler_from_axes((0, 0, 1), (0, 0, -3))


def test_body_axis_reckoning_of_an_aircraft_heading_east_at_lat_0_lon_0() -> None:
    orientation = dis.euler_from_axes((0, 1, 0), (-1, 0, 0))
    es = EntityState(
        EntityId(1, 1, 1), 1, F16, (A_WGS84 + 5000, 0, 0), (250, 0, 0), orientation, dis.DRM_FPB
    )  # fmt: skip
    assert dis.dead_reckon(es, 2.0) == pytest.approx((A_WGS84 + 5000, 500.0, 0.0), abs=1e-3)


# ------------------------------------------------------------------ the entity table


def test_table_accepts_an_entity_and_reckons_it() -> None:
    table = EntityTable()
    assert table.feed(es_bytes(), 100.0) == ES
    assert len(table) == 1 and ES.entity in table
    assert table.positions(101.5) == {ES.entity: (ES, dis.dead_reckon(ES, 1.5))}
    assert (table.received, table.dropped) == (Counter({"entity-state": 1}), Counter())


def test_table_counts_drops_by_reason_and_keeps_nothing_dropped() -> None:
    table = EntityTable()
    feeds = [
        es_bytes()[:100],
        patched(es_bytes(), 0, ">B", 5),
        patched(es_bytes(), 2, ">B", 22),
        patched(es_bytes(), 48, ">d", math.nan),
        patched(es_bytes(), 8, ">H", 100),
        es_bytes(exercise_id=6),
    ]
    assert [table.feed(d, 1.0, exercise_id=5) for d in feeds] == [None] * len(feeds)
    assert table.dropped == Counter(
        {"truncated": 1, "version": 1, "unknown-type": 1, "bad-value": 1, "length": 1, "exercise": 1}
    )
    assert len(table) == 0 and table.received == Counter()
    assert table.feed(es_bytes(exercise_id=6), 1.0) == ES  # no exercise filter: any exercise


def test_table_counts_fire_and_detonation_without_entities() -> None:
    table = EntityTable()
    assert table.feed(VALID[1], 0.0) is None and table.feed(VALID[2], 0.0) is None
    assert table.received == Counter({"fire": 1, "detonation": 1}) and len(table) == 0


def test_table_times_entities_out() -> None:
    table = EntityTable()  # IEEE 1278.1 default: 2.4 × 5 s heartbeat
    other = dataclasses.replace(ES, entity=EntityId(17, 4, 1002))
    table.feed(es_bytes(), 0.0)
    table.feed(es_bytes(other), 5.0)
    assert set(table.positions(12.0)) == {ES.entity, other.entity}
    assert set(table.positions(12.5)) == {other.entity}  # stale, left out, not yet removed
    assert table.expire(12.0) == [] and len(table) == 2
    assert table.expire(12.5) == [ES.entity] and len(table) == 1
    table.feed(es_bytes(other), 16.0)  # a heartbeat refreshes it
    assert table.expire(27.0) == [] and table.expire(28.5) == [other.entity] and len(table) == 0
    with pytest.raises(ValueError, match="timeout_s"):
        EntityTable(timeout_s=0.0)


def test_table_removes_a_deactivated_entity() -> None:
    table = EntityTable()
    table.feed(es_bytes(), 0.0)
    gone = dataclasses.replace(ES, appearance=ES.appearance | dis.APPEARANCE_DEACTIVATED)
    assert gone.deactivated and not ES.deactivated
    assert table.feed(es_bytes(gone), 1.0) is None
    assert len(table) == 0 and table.received == Counter({"entity-state": 2})


def test_table_has_a_bound() -> None:
    table = EntityTable(max_entities=2)
    for k in range(3):
        table.feed(es_bytes(dataclasses.replace(ES, entity=EntityId(1, 1, k))), 0.0)
    assert len(table) == 2 and table.dropped == Counter({"table-full": 1})
    assert table.feed(es_bytes(dataclasses.replace(ES, entity=EntityId(1, 1, 0))), 1.0) is not None  # updates


def test_a_flood_of_junk_is_counted_and_enters_nothing() -> None:
    rng = random.Random(1278)
    valid = es_bytes()
    junk = (
        [bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 200))) for _ in range(2500)]
        + [valid[: rng.randrange(0, 144)] for _ in range(2500)]
        + [patched(valid, 48 + 8 * rng.randrange(3), ">d", rng.choice([math.nan, math.inf, -math.inf]))
           for _ in range(2500)]
        + [patched(valid, 1, ">B", rng.choice([k for k in range(256) if k != 5])) for _ in range(2500)]
    )  # fmt: skip
    table = EntityTable()
    for k, d in enumerate(junk):
        assert table.feed(d, k * 1e-4, exercise_id=5) is None
    assert len(table) == 0 and table.received == Counter()
    assert sum(table.dropped.values()) == 10_000
    assert table.dropped["exercise"] == 2500 and table.dropped["bad-value"] == 2500
    assert table.dropped["truncated"] >= 2500
    assert set(table.dropped) <= {
        "truncated",
        "version",
        "unknown-type",
        "family",
        "length",
        "bad-value",
        "exercise",
    }
