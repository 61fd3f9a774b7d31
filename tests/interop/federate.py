"""A test federate: another simulator's Entity State PDUs, written with opendis.

opendis 1.0 needs three workarounds to write a valid PDU (each pinned by a test in
tests/unit/protocols/test_dis.py): int defaults for the status, appearance and capability
fields, the PDU type and family set on the instance, and the length field filled in.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence

from opendis.DataOutputStream import DataOutputStream
from opendis.dis7 import EntityStatePdu


def entity_state(
    entity: tuple[int, int, int],
    force: int,
    entity_type: tuple[int, int, int, int],
    location_m: Sequence[float],
    velocity_mps: Sequence[float],
    marking: str,
    *,
    exercise: int = 1,
    appearance: int = 0,
    version: int = 7,
) -> bytes:
    """One Entity State PDU (dead reckoning FPW) as opendis writes it, repaired."""
    p = EntityStatePdu()
    p.pduStatus, p.entityAppearance, p.capabilities = 0, appearance, 0  # opendis: bytes defaults
    p.pduType, p.protocolFamily = 1, 1  # opendis: 0 on instances
    p.protocolVersion, p.exerciseID = version, exercise
    p.entityID.siteID, p.entityID.applicationID, p.entityID.entityID = entity
    p.forceId = force
    t = p.entityType
    t.entityKind, t.domain, t.country, t.category = entity_type
    p.entityLocation.x, p.entityLocation.y, p.entityLocation.z = location_m
    v = p.entityLinearVelocity
    v.x, v.y, v.z = velocity_mps
    p.deadReckoningParameters.deadReckoningAlgorithm = 2
    p.marking.characterSet = 1
    p.marking.characters = list(marking.encode("ascii").ljust(11, b"\0"))
    out = io.BytesIO()
    p.serialize(DataOutputStream(out))
    data = bytearray(out.getvalue())
    struct.pack_into(">H", data, 8, len(data))  # opendis issue #11: the length it writes is 0
    return bytes(data)
