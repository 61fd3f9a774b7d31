"""bmc.interop.dis_in without a socket: DIS entities as the world's external objects (ids,
kinds, forces, frame, timeout, ends), fed our own PDUs (the codec is checked against opendis)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bmc.interop.dis_in import DisEntities, parse_listen
from bmc.interop.frame import frame_of
from bmc.scenario import DisIn, ScenarioError, load_scenario, parse_scenario
from protocols import dis
from protocols import messages as m

SCENARIO = load_scenario("sim_configs/single_engagement.yaml")
FRAME = frame_of(SCENARIO)
FIGHTER, TANK = dis.EntityType(1, 2, 0, 1), dis.EntityType(1, 1, 0, 1)


def _pdu(
    n: int, force: int, marking: str, enu: tuple[float, float, float], v_enu=(0.0, 0.0, 0.0), kind=FIGHTER
) -> bytes:
    x, y, z = FRAME.ecef(*enu)
    lat, lon, _h = FRAME.geodetic(*enu)
    vx, vy, vz = FRAME.velocity_ecef(lat, lon, *v_enu)
    es = dis.EntityState(
        entity=dis.EntityId(9, 1, n),
        force_id=force,
        entity_type=kind,
        location_m=(float(x), float(y), float(z)),
        velocity_mps=(float(vx), float(vy), float(vz)),
        marking=marking,
    )
    return dis.encode(es, exercise_id=1, timestamp=0)


def _entities(**config: object) -> DisEntities:
    return DisEntities(DisIn(**config), FRAME, reserved=frozenset({"T1"}), raids=frozenset({"R"}))


def test_ids_kinds_forces_and_the_local_frame() -> None:
    d = _entities(entities=[{"id": "blue", "marking": "BLUE1"}])
    d.receive(_pdu(1, dis.FORCE_OPPOSING, "BANDIT", (10_000.0, 5_000.0, 800.0), (-200.0, 0.0, 0.0)), 10.0)
    d.receive(_pdu(2, dis.FORCE_FRIENDLY, "BLUE1", (0.0, 9_000.0, 900.0)), 10.0)
    d.receive(_pdu(3, dis.FORCE_NEUTRAL, "T1", (1_000.0, 1_000.0, 500.0)), 10.0)  # a scenario threat's id
    d.receive(_pdu(4, dis.FORCE_NEUTRAL, "BANDIT", (2_000.0, 1_000.0, 500.0)), 10.0)  # the same marking
    d.receive(_pdu(5, dis.FORCE_NEUTRAL, "R-001", (3_000.0, 1_000.0, 500.0)), 10.0)  # a raid object's id
    d.receive(_pdu(6, dis.FORCE_OPPOSING, "TANK1", (3_000.0, 0.0, 0.0), kind=TANK), 10.0)
    ext = d.sample(12.0)
    assert ext.object_id == ("BANDIT", "blue", "dis-9-1-3", "dis-9-1-4", "dis-9-1-5")
    assert ext.friendly.tolist() == [False, True, False, False, False]
    assert ext.iff.tolist() == [False, True, True, True, True]
    assert set(ext.kind.tolist()) == {int(m.Classification.FIGHTER)}
    # Dead-reckoned 2 s along its ECEF velocity (FPW: a straight line in ECEF), then in our frame:
    # its own east is turned from the origin's by the meridians' convergence (0.77 m of north here).
    x0, y0, z0 = FRAME.ecef(10_000.0, 5_000.0, 800.0)
    lat0, lon0, _ = FRAME.geodetic(10_000.0, 5_000.0, 800.0)
    v = np.array(FRAME.velocity_ecef(lat0, lon0, -200.0, 0.0, 0.0), dtype=np.float32).astype(float)
    want = FRAME.from_ecef(x0 + 2 * v[0], y0 + 2 * v[1], z0 + 2 * v[2])
    assert np.allclose(ext.state[0, :3], [float(w) for w in want], atol=1e-3)
    assert abs(float(want[1]) - 5_000.0) > 0.5  # (so the frame's turn is really in the check)
    assert math.hypot(*ext.state[0, 3:]) == pytest.approx(200.0, abs=1e-3)
    assert d.refused == {"not-air": 1}
    d.sample(12.5)
    assert d.refused == {"not-air": 1}  # counted once per entity, not per sample
    assert d.sample(13.0).object_id == ext.object_id  # ids are fixed at first sight


def test_timeout_end_and_exercise() -> None:
    d = _entities(timeout_s=3.0, exercise_id=1)
    d.receive(_pdu(1, dis.FORCE_OPPOSING, "A", (5_000.0, 0.0, 300.0)), 0.0)
    d.receive(_pdu(2, dis.FORCE_OPPOSING, "B", (6_000.0, 0.0, 300.0)), 0.0)
    assert d.sample(2.9).object_id == ("A", "B")
    d.end("A")  # killed in our world: what its simulator says afterwards is ignored
    d.receive(_pdu(1, dis.FORCE_OPPOSING, "A", (4_000.0, 0.0, 300.0)), 3.0)
    assert d.sample(3.1).object_id == ()  # B silent for 3.1 s > 3 s
    other = dis.EntityState(dis.EntityId(9, 1, 7), 2, FIGHTER, FRAME.ecef(0.0, 0.0, 0.0), (0.0, 0.0, 0.0))
    d.receive(dis.encode(other, exercise_id=2, timestamp=0), 4.0)
    assert d.table.dropped["exercise"] == 1 and d.sample(4.0).object_id == ()
    assert d.summary() == "dis-in: received entity-state 3; 2 entities flew; dropped exercise 1"


def test_only_declared_and_the_listen_address() -> None:
    d = _entities(only_declared=True, entities=[{"id": "x", "entity": "9:1:2"}])
    d.receive(_pdu(1, dis.FORCE_OPPOSING, "A", (5_000.0, 0.0, 300.0)), 0.0)
    d.receive(_pdu(2, dis.FORCE_OPPOSING, "B", (6_000.0, 0.0, 300.0)), 0.0)
    assert d.sample(1.0).object_id == ("x",) and d.refused == {"undeclared": 1}
    assert parse_listen("udp://127.0.0.1:3001") == ("127.0.0.1", 3001)
    for bad in ("tcp://h:1", "udp://h", "udp://:5", "udp://h:99999"):
        with pytest.raises(ScenarioError, match="udp://HOST:PORT"):
            parse_listen(bad)


def test_a_declared_id_may_not_take_another_object_s() -> None:
    data = {**SCENARIO.model_dump(exclude_none=True), "dis_in": {"entities": [{"id": "T1", "marking": "X"}]}}
    with pytest.raises(ScenarioError, match=r"dis_in\.entities\[0\]\.id: duplicate id 'T1'"):
        parse_scenario(data)
    assert math.isfinite(SCENARIO.dis_in.timeout_s)
