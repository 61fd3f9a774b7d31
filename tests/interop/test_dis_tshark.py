"""Our DIS PDUs as Wireshark's dissector reads them: tshark is the independent oracle.

tshark dissects DIS on UDP port 3000 by default; ``tshark_fields`` fails the test on any
malformed packet or error-level expert item. Field names are tshark 4.0's (``tshark -G fields``;
note that its quantity field is spelled ``dis.quality``).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from protocols import dis
from protocols.dis import Detonation, EntityId, EntityState, EntityType, EventId, Fire, decode, encode
from tests.interop.tshark import pcap_of, tshark_fields

SAM = EntityType(1, 1, 225, 28, 1)  # land platform
MISSILE = EntityType(2, 2, 225, 1, 4)
STATES = [
    EntityState(
        entity=EntityId(17, 4, 1001 + k),
        force_id=force,
        entity_type=EntityType(1, 2, 222, 1, 3),
        location_m=(4_190_000.0 + 123.4567891 * k, -170_000.0 - 0.0004 * k, 4_780_000.000789 + k),
        velocity_mps=(-120.5 + k, 210.25, -3.75),
        orientation_rad=(0.5, -0.25, 0.125 * k),
        marking=marking,
    )
    for k, (force, marking) in enumerate(
        [(dis.FORCE_OPPOSING, "RED01"), (dis.FORCE_FRIENDLY, "BLUE 2"), (dis.FORCE_NEUTRAL, "ELEVENCHARS")]
    )
]
FIRE = Fire(
    firing=EntityId(1, 3, 7),
    target=EntityId(17, 4, 1001),
    munition=EntityId(1, 3, 501),
    event=EventId(1, 3, 42),
    fire_mission_index=9,
    location_m=(4_180_000.25, 160_000.125, 4_790_000.0625),
    munition_type=MISSILE,
    warhead=1000,
    fuse=1000,
    quantity=1,
    rate=0,
    velocity_mps=(50.0, 120.0, 300.0),
    range_m=35_000.0,
)
DETONATION = Detonation(
    firing=EntityId(1, 3, 7),
    target=EntityId(17, 4, 1001),
    munition=EntityId(1, 3, 501),
    event=EventId(1, 3, 42),
    velocity_mps=(-400.0, 800.0, 100.5),
    location_m=(4_189_990.7512, 170_010.5034, 4_780_005.2501),
    munition_type=MISSILE,
    warhead=1000,
    fuse=1000,
    quantity=1,
    rate=0,
    result=dis.DETONATION_ENTITY_PROXIMATE,
)
EXERCISE = 12
STAMPS = [dis.timestamp(s) for s in (0.0, 1234.5, 1800.25, 3599.9)] + [dis.timestamp(60.0, absolute=False)]

FIELDS = [
    "dis.pdu_type",
    "dis.proto_ver",
    "dis.proto_fam",
    "dis.pdu_length",
    "dis.exer_id",
    "dis.timestamp",
    "dis.entity_id_site",
    "dis.entity_id_application",
    "dis.entity_id_entity",
    "dis.force_id",
    "dis.entity_location.x",
    "dis.entity_location.y",
    "dis.entity_location.z",
    "dis.entity_linear_velocity.x",
    "dis.entity_orientation.phi",
    "dis.entity_marking",
    "dis.num_articulation_params",
    "dis.event_number",
    "dis.fire.mission_index",
    "dis.fire.location.x",
    "dis.fire.location.y",
    "dis.fire.location.z",
    "dis.warhead",
    "dis.quality",
    "dis.range",
    "dis.detonation.location.x",
    "dis.detonation.location.y",
    "dis.detonation.location.z",
    "dis.detonation.result",
]


def _pdus() -> list[dis.Pdu]:
    return [*STATES, FIRE, DETONATION]


def _datagrams() -> list[bytes]:
    return [encode(p, exercise_id=EXERCISE, timestamp=ts) for p, ts in zip(_pdus(), STAMPS, strict=True)]


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, list[str]]]:
    path = pcap_of(tmp_path_factory.mktemp("dis"), _datagrams(), port=dis.DIS_PORT)
    found = tshark_fields(path, FIELDS)
    assert len(found) == len(_pdus())
    return found


def _one(row: dict[str, list[str]], field: str) -> str:
    values = row[field]
    assert len(values) == 1, (field, values)
    return values[0]


def test_headers(rows: list[dict[str, list[str]]]) -> None:
    for row, pdu, data, ts in zip(rows, _pdus(), _datagrams(), STAMPS, strict=True):
        kind = {EntityState: (1, 1), Fire: (2, 2), Detonation: (3, 2)}[type(pdu)]
        assert (int(_one(row, "dis.pdu_type")), int(_one(row, "dis.proto_fam"))) == kind
        assert int(_one(row, "dis.proto_ver")) == 7
        assert int(_one(row, "dis.pdu_length")) == len(data) == decode(data)[0].length
        assert int(_one(row, "dis.exer_id")) == EXERCISE
        # tshark shows the timestamp as seconds past the hour, to the microsecond.
        assert float(_one(row, "dis.timestamp")) == pytest.approx(dis.seconds_past_hour(ts), abs=2e-6)


def test_entity_states(rows: list[dict[str, list[str]]]) -> None:
    for row, es in zip(rows, STATES, strict=False):
        ident = (_one(row, f"dis.entity_id_{f}") for f in ("site", "application", "entity"))
        assert tuple(int(x) for x in ident) == (es.entity.site, es.entity.application, es.entity.entity)
        assert int(_one(row, "dis.force_id")) == es.force_id
        location = tuple(float(_one(row, f"dis.entity_location.{c}")) for c in "xyz")
        assert location == pytest.approx(es.location_m, abs=1e-3)  # float64: well within 1 mm
        assert float(_one(row, "dis.entity_linear_velocity.x")) == pytest.approx(es.velocity_mps[0], abs=1e-4)
        assert float(_one(row, "dis.entity_orientation.phi")) == pytest.approx(
            es.orientation_rad[2], abs=1e-6
        )
        assert _one(row, "dis.entity_marking") == es.marking
        assert int(_one(row, "dis.num_articulation_params")) == 0


def test_fire(rows: list[dict[str, list[str]]]) -> None:
    row = rows[len(STATES)]
    # Firing, target and munition ids, in that order.
    assert [int(x) for x in row["dis.entity_id_entity"]] == [7, 1001, 501]
    assert int(_one(row, "dis.event_number")) == FIRE.event.event_number
    assert int(_one(row, "dis.fire.mission_index")) == FIRE.fire_mission_index
    location = tuple(float(_one(row, f"dis.fire.location.{c}")) for c in "xyz")
    assert location == pytest.approx(FIRE.location_m, abs=1e-3)
    assert (int(_one(row, "dis.warhead")), int(_one(row, "dis.quality"))) == (FIRE.warhead, FIRE.quantity)
    assert float(_one(row, "dis.range")) == FIRE.range_m


def test_detonation(rows: list[dict[str, list[str]]]) -> None:
    row = rows[len(STATES) + 1]
    assert [int(x) for x in row["dis.entity_id_entity"]] == [7, 1001, 501]
    assert int(_one(row, "dis.event_number")) == DETONATION.event.event_number
    location = tuple(float(_one(row, f"dis.detonation.location.{c}")) for c in "xyz")
    assert location == pytest.approx(DETONATION.location_m, abs=1e-3)
    assert int(_one(row, "dis.detonation.result")) == dis.DETONATION_ENTITY_PROXIMATE == 2


def test_tshark_and_we_agree_on_articulation_parameters(tmp_path: Path) -> None:
    # Two articulated-part records (16 bytes each) after an Entity State, then a Fire in the
    # same datagram stream: both decoders must step over them by the same 32 bytes.
    records = b"".join(struct.pack(">BBHIf4x", 0, 0, k + 1, 4096 + 11, 0.5) for k in range(2))
    data = bytearray(encode(STATES[0], exercise_id=EXERCISE, timestamp=STAMPS[0]) + records)
    data[19] = 2
    struct.pack_into(">H", data, 8, len(data))
    path = pcap_of(tmp_path, [bytes(data)], port=dis.DIS_PORT)
    (row,) = tshark_fields(path, ["dis.pdu_length", "dis.num_articulation_params", "dis.entity_marking"])
    assert row == {
        "dis.pdu_length": ["176"],
        "dis.num_articulation_params": ["2"],
        "dis.entity_marking": ["RED01"],
    }
    header, es = decode(bytes(data))
    assert (header.length, es) == (176, STATES[0])
