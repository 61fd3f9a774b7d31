"""Encode and decode messages: plain dataclasses <-> protobuf ``Envelope`` bytes.

The only place (with the generated module) where protobuf classes live. Also
signs and verifies fire orders: HMAC-SHA256 over the serialised order with an
empty tag, keyed per launcher.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import struct
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
from google.protobuf import descriptor_pb2 as _dpb
from google.protobuf import descriptor_pool as _descriptor_pool
from google.protobuf import message_factory as _message_factory
from google.protobuf.descriptor_pb2 import FileDescriptorSet as _FileDescriptorSet
from google.protobuf.message import DecodeError as _PbDecodeError
from google.protobuf.unknown_fields import UnknownFieldSet as _UnknownFieldSet

from protocols import messages as m
from protocols import wire
from protocols.generated import bmc_v1_pb2 as _pb
from protocols.topics import CHANNELS

pb = _pb
"""The generated module, typed by its stubs (``generated/bmc_v1_pb2.pyi``)."""


def _wire_enum(value: int) -> Any:
    """Our IntEnum as a wire enum value. The stubs type enum fields as protobuf's enum
    classes, which are no constructors at run time: an int is what protobuf takes."""
    return int(value)


_IU = np.triu_indices(6)
_COV_LEN = len(_IU[0])  # 21
_CELLS = np.empty((6, 6), dtype=np.intp)
_CELLS[_IU] = _CELLS.T[_IU] = np.arange(_COV_LEN)
_SYMMETRIC = _CELLS.ravel()
"""Index into the 21 upper-triangle values of each of the 36 cells of a covariance."""


class DecodeError(ValueError):
    """A payload that is not a valid message of this schema.

    ``reason`` is a short stable key used for drop counters
    (``malformed``, ``schema_version``, ``no_body``, ``bad_columns``, ``bad_value``).
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _v3(v: Any) -> m.Vec3:
    return (v.east, v.north, v.up)


def _set_v3(target: Any, v: m.Vec3) -> None:
    target.east, target.north, target.up = v


# ---------------------------------------------------------------- bodies -> pb


def _tags(message: Any) -> dict[str, bytes]:
    """Wire tag of each length-delimited field of ``message``, by field name."""
    return {f.name: wire.tag(f.number) for f in message.DESCRIPTOR.fields}


_STATE_COLS = ("east_m", "north_m", "up_m", "v_east_mps", "v_north_mps", "v_up_mps")
_TRACK_TAG = _tags(pb.TrackReport)
_TRUTH_TAG = _tags(pb.TruthReport)
_SCAN_TIME_TAG = wire.tag(pb.TrackReport.DESCRIPTOR.fields_by_name["scan_time_s"].number, 1)
_HEADER_TAG = wire.tag(pb.Envelope.DESCRIPTOR.fields_by_name["header"].number)
_TRACK_STATE_TAGS = tuple(_TRACK_TAG[c] for c in _STATE_COLS)
_TRUTH_STATE_TAGS = tuple(_TRUTH_TAG[c] for c in _STATE_COLS)
_TRACK_SMALL_TAGS = (_TRACK_TAG["status"], _TRACK_TAG["identity"], _TRACK_TAG["classification"])
_TRUTH_SMALL_TAGS = (_TRUTH_TAG["kind"], _TRUTH_TAG["friendly"], _TRUTH_TAG["iff"], _TRUTH_TAG["status"])
_UPPER = _IU[0] * 6 + _IU[1]
"""Flat index of the 21 upper-triangle cells among the 36 of a covariance."""


def _fill_track_report(p: pb.TrackReport, r: m.TrackReport) -> None:
    p.scan_time_s = r.scan_time_s
    p.track_id.extend(r.track_id.tolist())
    p.status.extend(r.status.tolist())
    p.identity.extend(r.identity.tolist())
    p.classification.extend(r.classification.tolist())
    p.truth_id.extend(r.truth_id)
    st = r.state
    columns = b"".join(wire.packed_fixed(_TRACK_TAG[c], st[:, i], "<f8") for i, c in enumerate(_STATE_COLS))
    # Raw packed bytes merged in one go: ~10 us for 6,000 values, against ~250 us for
    # extend(array.tolist()), which converts every value in Python.
    covariance = wire.packed_fixed(_TRACK_TAG["covariance"], r.covariance[:, _IU[0], _IU[1]], "<f4")
    p.MergeFromString(columns + covariance)


def _fill_truth_report(p: pb.TruthReport, r: m.TruthReport) -> None:
    p.object_id.extend(r.object_id)
    p.kind.extend(r.kind.tolist())
    p.friendly.extend(r.friendly.tolist())
    p.iff.extend(r.iff.tolist())
    p.status.extend(r.status.tolist())
    st = r.state
    columns = b"".join(wire.packed_fixed(_TRUTH_TAG[c], st[:, i], "<f8") for i, c in enumerate(_STATE_COLS))
    p.MergeFromString(wire.packed_fixed(_TRUTH_TAG["rcs_m2"], r.rcs_m2, "<f4") + columns)


def _fill_fire_order(p: pb.FireOrder, o: m.FireOrder) -> None:
    p.order_id = o.order_id
    p.launcher_id = o.launcher_id
    p.target_track_id = o.target_track_id
    _set_v3(p.target_position_m, o.target_position_m)
    _set_v3(p.target_velocity_mps, o.target_velocity_mps)
    _set_v3(p.intercept_point_m, o.intercept_point_m)
    p.intercept_time_s = o.intercept_time_s
    p.rounds = o.rounds
    p.issued_time_s = o.issued_time_s
    p.expiry_time_s = o.expiry_time_s
    p.auth_tag = o.auth_tag


def _fill_engagement(p: pb.EngagementStatus, s: m.EngagementStatus) -> None:
    p.order_id = s.order_id
    p.launcher_id = s.launcher_id
    p.state = _wire_enum(s.state)
    p.reason = s.reason
    p.round = s.round
    _set_v3(p.launcher_position_m, s.launcher_position_m)
    _set_v3(p.target_position_m, s.target_position_m)
    _set_v3(p.target_velocity_mps, s.target_velocity_mps)
    p.target_time_s = s.target_time_s
    p.interceptor_id = s.interceptor_id


def _fill_launcher_status(p: pb.LauncherStatus, s: m.LauncherStatus) -> None:
    p.launcher_id = s.launcher_id
    p.state = _wire_enum(s.state)
    p.missiles_ready = s.missiles_ready
    _set_v3(p.position_m, s.position_m)
    p.reason = s.reason
    p.boot_nonce = s.boot_nonce


def _fill_flyout(p: pb.Flyout, f: m.Flyout) -> None:
    p.interceptor_id = f.interceptor_id
    p.order_id = f.order_id
    p.launcher_id = f.launcher_id
    p.target_object_id = f.target_object_id
    p.launch_time_s = f.launch_time_s
    p.intercept_time_s = f.intercept_time_s
    _set_v3(p.intercept_point_m, f.intercept_point_m)


def _fill_detonation(p: pb.Detonation, d: m.Detonation) -> None:
    p.interceptor_id = d.interceptor_id
    p.order_id = d.order_id
    p.object_id = d.object_id
    p.asset_id = d.asset_id
    p.outcome = _wire_enum(d.outcome)
    _set_v3(p.position_m, d.position_m)


def _fill_heartbeat(p: pb.FdcHeartbeat, h: m.FdcHeartbeat) -> None:
    p.fdc_id = h.fdc_id
    p.weapons_control = _wire_enum(h.weapons_control)
    p.system_tracks = h.system_tracks
    p.engagements_active = h.engagements_active
    p.launchers_lost.extend(h.launchers_lost)
    p.time_s = h.time_s
    for launcher_id, tag in h.launcher_tags:
        t = p.launcher_tags.add()
        t.launcher_id = launcher_id
        t.tag = tag


def _fill_command(p: pb.OperatorCommand, c: m.OperatorCommand) -> None:
    p.set_weapons_control = _wire_enum(c.set_weapons_control or 0)
    p.note = c.note


def _fill_node_state(p: pb.NodeState, s: m.NodeState) -> None:
    p.node_id = s.node_id
    p.kind = s.kind
    p.status = _wire_enum(s.status)
    p.birth_sequence = s.birth_sequence
    p.speed = s.speed


_FILLERS: dict[type, Callable[[Any, Any], None]] = {
    m.TrackReport: _fill_track_report,
    m.TruthReport: _fill_truth_report,
    m.FireOrder: _fill_fire_order,
    m.EngagementStatus: _fill_engagement,
    m.LauncherStatus: _fill_launcher_status,
    m.Flyout: _fill_flyout,
    m.Detonation: _fill_detonation,
    m.FdcHeartbeat: _fill_heartbeat,
    m.OperatorCommand: _fill_command,
    m.NodeState: _fill_node_state,
}

BODY_FIELDS: dict[type, str] = {c.body: c.field for c in CHANNELS.values()}
"""Body class -> name of its field in ``Envelope.body`` (from the channel table)."""

_FILL: dict[type, tuple[str, Callable[[Any, Any], None]]] = {
    cls: (name, _FILLERS[cls]) for cls, name in BODY_FIELDS.items()
}


# Batches straight to wire bytes: fields in field-number order, as protobuf writes them
# (a test compares the bytes with protobuf's own serialisation of the same report).


def _track_report_wire(r: m.TrackReport) -> bytes | None:
    """``TrackReport`` bytes; None when an enum column needs protobuf's own rules."""
    t = _TRACK_TAG
    small = wire.packed_small_columns(_TRACK_SMALL_TAGS, (r.status, r.identity, r.classification))
    if small is None:
        return None
    # Multi-byte varints and strings are cheapest through protobuf, one field per scratch message.
    ids = pb.TrackReport()
    ids.track_id.extend(r.track_id.tolist())
    strings = pb.TrackReport()
    strings.truth_id.extend(r.truth_id)
    scan_time = struct.pack("<d", r.scan_time_s)
    n = r.covariance.shape[0]
    # The 21 upper-triangle cells by one flat index: cheaper than indexing with row and column arrays.
    upper = r.covariance.reshape(n, 36).take(_UPPER, axis=1)
    return b"".join(
        (
            _SCAN_TIME_TAG + scan_time if scan_time != _ZERO_DOUBLE else b"",
            ids.SerializeToString(),
            *wire.packed_fixed_columns(_TRACK_STATE_TAGS, r.state, "<f8"),
            wire.packed_fixed(t["covariance"], upper, "<f4"),
            *small,
            strings.SerializeToString(),
        )
    )


class _LastStrings:
    """The last column of strings of one field encoded or decoded, with its wire bytes.

    A run's truth reports name the same objects every time, in the same tuple:
    protobuf need not encode those few hundred strings again, nor a decode build
    them again as Python strings when the payload carries the very same bytes.
    """

    def __init__(self, message: Any, field: str) -> None:
        self._message = message
        self._field = field
        self._last: tuple[tuple[str, ...], bytes] = ((), b"")

    def _wire(self, values: tuple[str, ...]) -> bytes:
        scratch = self._message()
        getattr(scratch, self._field).extend(values)
        data: bytes = scratch.SerializeToString()
        return data

    def encode(self, values: tuple[str, ...]) -> bytes:
        """The field's wire bytes for ``values``."""
        values = tuple(values)  # the same object when it is a tuple already
        last = self._last  # one read: safe if another thread replaces it meanwhile
        if last[0] is values or last[0] == values:
            return last[1]
        data = self._wire(values)
        self._last = (values, data)
        return data

    def decoded(self, parsed: Any, payload: bytes, start: int | None) -> tuple[str, ...]:
        """``tuple(parsed)``: the field as a column view parsed it from ``payload``, where the
        message holding it starts at ``start`` (None: unknown).

        The last column again when the message opens with exactly its bytes and holds
        as many strings: those bytes are then all of the field's occurrences.
        """
        values, data = self._last
        if start is not None and len(parsed) == len(values) and payload.startswith(data, start):
            return values
        values = tuple(parsed)
        if start is not None:
            data = self._wire(values)
            if payload.startswith(data, start):  # written first, as we write it: worth keeping
                self._last = (values, data)
        return values


def _body_start(payload: bytes, body_tag: bytes) -> int | None:
    """Where the body's bytes start in an ``Envelope`` laid out as :func:`encode` lays it
    out, the header then the body; None when it is laid out otherwise."""
    if not payload.startswith(_HEADER_TAG):
        return None
    size, pos = wire.read_varint(payload, len(_HEADER_TAG))
    pos += size
    if not payload.startswith(body_tag, pos):
        return None
    return wire.read_varint(payload, pos + len(body_tag))[1]


_OBJECT_IDS = _LastStrings(pb.TruthReport, "object_id")


def _truth_report_wire(r: m.TruthReport) -> bytes | None:
    """``TruthReport`` bytes; None when an enum column needs protobuf's own rules."""
    small = wire.packed_small_columns(_TRUTH_SMALL_TAGS, (r.kind, r.friendly, r.iff, r.status))
    if small is None:
        return None
    kind, friendly, iff, status = small
    return b"".join(
        (
            _OBJECT_IDS.encode(r.object_id),
            kind,
            friendly,
            iff,
            wire.packed_fixed(_TRUTH_TAG["rcs_m2"], r.rcs_m2, "<f4"),
            status,
            *wire.packed_fixed_columns(_TRUTH_STATE_TAGS, r.state, "<f8"),
        )
    )


_ZERO_DOUBLE = bytes(8)
_TRUTH_BODY_TAG = wire.tag(pb.Envelope.DESCRIPTOR.fields_by_name["truth_report"].number)
_WIRE: dict[type, Callable[[Any], bytes | None]] = {
    m.TrackReport: _track_report_wire,
    m.TruthReport: _truth_report_wire,
}
_BODY_TAG = {
    name: wire.tag(pb.Envelope.DESCRIPTOR.fields_by_name[name].number) for name in BODY_FIELDS.values()
}


def encode(header: m.Header, body: m.Body) -> bytes:
    """Serialise ``body`` with ``header`` into ``Envelope`` bytes."""
    to_wire = _WIRE.get(type(body))
    if to_wire is not None:
        raw = to_wire(body)
        if raw is not None:
            h = pb.Header(
                schema_version=header.schema_version,
                sender=header.sender,
                sequence=header.sequence,
                sim_time_s=header.sim_time_s,
            )
            return b"".join(
                (
                    wire.length_delimited(_HEADER_TAG, h.SerializeToString()),
                    wire.length_delimited(_BODY_TAG[BODY_FIELDS[type(body)]], raw),
                )
            )
    return encode_reference(header, body)


def encode_reference(header: m.Header, body: m.Body) -> bytes:
    """:func:`encode` through protobuf message objects only: the reference that
    batches' direct wire encoding is tested against, and its fallback."""
    env = pb.Envelope()
    h = env.header
    h.schema_version = header.schema_version
    h.sender = header.sender
    h.sequence = header.sequence
    h.sim_time_s = header.sim_time_s
    name, fill = _FILL[type(body)]
    fill(getattr(env, name), body)
    if name in ("operator_command", "node_state", "fdc_heartbeat"):
        # An all-default body serialises to nothing; mark the oneof explicitly.
        getattr(env, name).SetInParent()
    data: bytes = env.SerializeToString()
    return data


# ---------------------------------------------------------------- pb -> bodies


def _column(values: Any, dtype: type, n: int, name: str) -> Any:
    if len(values) != n:
        raise DecodeError("bad_columns", f"column {name} has {len(values)} values, expected {n}")
    return np.array(values, dtype=dtype)


_ENUM_MAX: dict[type, int] = {}


def _enum_column(values: Any, n: int, name: str, valid: type[enum.IntEnum]) -> Any:
    arr = _column(values, np.int64, n, name)
    top = _ENUM_MAX.get(valid)
    if top is None:
        top = _ENUM_MAX[valid] = max(v.value for v in valid)
    if n and (arr.min() < 1 or arr.max() > top):
        raise DecodeError("bad_value", f"column {name} holds a value outside {valid.__name__}")
    return arr


def _state(p: Any, n: int) -> Any:
    st = np.empty((n, 6))
    for i, c in enumerate(_STATE_COLS):
        st[:, i] = _column(getattr(p, c), np.float64, n, c)
    return _finite_state(st)


def _finite_state(st: Any) -> Any:
    if not np.isfinite(st).all():
        raise DecodeError("bad_value", "non-finite position or velocity")
    return st


def _raw_state(p: Any, n: int) -> Any | None:
    """(n, 6) state from a column view's raw float bytes; None when a column is not n values."""
    raw = [getattr(p, c) for c in _STATE_COLS]
    if any(len(b) != 8 * n for b in raw):
        return None
    columns = np.frombuffer(b"".join(raw), dtype="<f8").reshape(6, n)
    return _finite_state(columns.T.astype(np.float64, order="C"))


_VALID_BYTES = {
    cls: bytes(range(1, max(cls) + 1))
    for cls in (m.TrackStatus, m.Identity, m.Classification, m.ObjectStatus)
}
"""Per enum, the one-byte varints that :func:`_enum_column` accepts (every enum here tops out below 128)."""
_BOOL_BYTES = b"\x00\x01"
"""A bool's varints as protobuf writes them."""


def _byte_column(raw: bytes, n: int, valid: bytes, dtype: type) -> Any | None:
    """A packed enum or bool column of ``n`` values from a column view's bytes; None unless every
    byte is one of ``valid``, each then a whole one-byte varint. Anything else (a count that
    does not match, a value out of range or of several bytes) is the reference decode's to
    read or to refuse with the precise error."""
    # bytes.translate deletes the valid bytes in one C loop, cheaper than numpy's min and max.
    if len(raw) != n or raw.translate(None, valid):
        return None
    return np.frombuffer(raw, dtype=np.uint8).astype(dtype)


def _read_track_report(p: pb.TrackReport) -> m.TrackReport:
    n = len(p.track_id)
    flat = _column(p.covariance, np.float64, n * _COV_LEN, "covariance").reshape(n, _COV_LEN)
    if len(p.truth_id) not in (0, n):
        raise DecodeError("bad_columns", f"column truth_id has {len(p.truth_id)} values, expected {n}")
    return m.TrackReport(
        scan_time_s=p.scan_time_s,
        track_id=np.array(p.track_id, dtype=np.int64),
        state=_state(p, n),
        covariance=flat.take(_SYMMETRIC, axis=1).reshape(n, 6, 6),
        status=_enum_column(p.status, n, "status", m.TrackStatus),
        identity=_enum_column(p.identity, n, "identity", m.Identity),
        classification=_enum_column(p.classification, n, "classification", m.Classification),
        truth_id=tuple(p.truth_id) if len(p.truth_id) else ("",) * n,
    )


def _read_track_report_view(p: Any, _payload: bytes) -> m.TrackReport | None:
    n = len(p.track_id)
    state = _raw_state(p, n)
    if state is None or len(p.covariance) != 4 * _COV_LEN * n or len(p.truth_id) not in (0, n):
        return None
    status = _byte_column(p.status, n, _VALID_BYTES[m.TrackStatus], np.int64)
    identity = _byte_column(p.identity, n, _VALID_BYTES[m.Identity], np.int64)
    classification = _byte_column(p.classification, n, _VALID_BYTES[m.Classification], np.int64)
    if status is None or identity is None or classification is None:
        return None
    # Cells copied out while still float32: half the bytes to move, and widening is exact.
    flat = np.frombuffer(p.covariance, dtype="<f4").reshape(n, _COV_LEN)
    return m.TrackReport(
        scan_time_s=p.scan_time_s,
        track_id=np.array(p.track_id, dtype=np.int64),
        state=state,
        covariance=flat.take(_SYMMETRIC, axis=1).astype(np.float64).reshape(n, 6, 6),
        status=status,
        identity=identity,
        classification=classification,
        truth_id=tuple(p.truth_id) if len(p.truth_id) else ("",) * n,
    )


def _read_truth_report(p: pb.TruthReport) -> m.TruthReport:
    n = len(p.object_id)
    return m.TruthReport(
        object_id=tuple(p.object_id),
        kind=_enum_column(p.kind, n, "kind", m.Classification),
        friendly=_column(p.friendly, np.bool_, n, "friendly"),
        iff=_column(p.iff, np.bool_, n, "iff"),
        rcs_m2=_column(p.rcs_m2, np.float64, n, "rcs_m2"),
        status=_enum_column(p.status, n, "status", m.ObjectStatus),
        state=_state(p, n),
    )


def _read_truth_report_view(p: Any, payload: bytes) -> m.TruthReport | None:
    n = len(p.object_id)
    state = _raw_state(p, n)
    if state is None or len(p.rcs_m2) != 4 * n:
        return None
    kind = _byte_column(p.kind, n, _VALID_BYTES[m.Classification], np.int64)
    friendly = _byte_column(p.friendly, n, _BOOL_BYTES, np.bool_)
    iff = _byte_column(p.iff, n, _BOOL_BYTES, np.bool_)
    status = _byte_column(p.status, n, _VALID_BYTES[m.ObjectStatus], np.int64)
    if kind is None or friendly is None or iff is None or status is None:
        return None
    return m.TruthReport(
        object_id=_OBJECT_IDS.decoded(p.object_id, payload, _body_start(payload, _TRUTH_BODY_TAG)),
        kind=kind,
        friendly=friendly,
        iff=iff,
        rcs_m2=np.frombuffer(p.rcs_m2, dtype="<f4").astype(np.float64),
        status=status,
        state=state,
    )


_MEMBERS: dict[type, dict[int, enum.IntEnum]] = {}
"""Per enum, its members by value: a dict lookup costs a tenth of calling the enum class."""


def _enum(cls: type[enum.IntEnum], value: int, name: str) -> Any:
    members = _MEMBERS.get(cls)
    if members is None:
        members = _MEMBERS[cls] = {member.value: member for member in cls}
    member = members.get(value)
    if member is None:
        raise DecodeError("bad_value", f"{name}={value} is not a {cls.__name__}")
    return member


def _read_fire_order(p: pb.FireOrder) -> m.FireOrder:
    return m.FireOrder(
        order_id=p.order_id,
        launcher_id=p.launcher_id,
        target_track_id=p.target_track_id,
        target_position_m=_v3(p.target_position_m),
        target_velocity_mps=_v3(p.target_velocity_mps),
        intercept_point_m=_v3(p.intercept_point_m),
        intercept_time_s=p.intercept_time_s,
        rounds=p.rounds,
        issued_time_s=p.issued_time_s,
        expiry_time_s=p.expiry_time_s,
        auth_tag=p.auth_tag,
    )


def _read_engagement(p: pb.EngagementStatus) -> m.EngagementStatus:
    return m.EngagementStatus(
        order_id=p.order_id,
        launcher_id=p.launcher_id,
        state=_enum(m.EngagementState, p.state, "state"),
        reason=p.reason,
        round=p.round,
        launcher_position_m=_v3(p.launcher_position_m),
        target_position_m=_v3(p.target_position_m),
        target_velocity_mps=_v3(p.target_velocity_mps),
        target_time_s=p.target_time_s,
        interceptor_id=p.interceptor_id,
    )


def _read_launcher_status(p: pb.LauncherStatus) -> m.LauncherStatus:
    return m.LauncherStatus(
        launcher_id=p.launcher_id,
        state=_enum(m.LauncherState, p.state, "state"),
        missiles_ready=p.missiles_ready,
        position_m=_v3(p.position_m),
        reason=p.reason,
        boot_nonce=p.boot_nonce,
    )


def _read_flyout(p: pb.Flyout) -> m.Flyout:
    return m.Flyout(
        interceptor_id=p.interceptor_id,
        order_id=p.order_id,
        launcher_id=p.launcher_id,
        target_object_id=p.target_object_id,
        launch_time_s=p.launch_time_s,
        intercept_time_s=p.intercept_time_s,
        intercept_point_m=_v3(p.intercept_point_m),
    )


def _read_detonation(p: pb.Detonation) -> m.Detonation:
    return m.Detonation(
        interceptor_id=p.interceptor_id,
        order_id=p.order_id,
        object_id=p.object_id,
        asset_id=p.asset_id,
        outcome=_enum(m.DetonationOutcome, p.outcome, "outcome"),
        position_m=_v3(p.position_m),
    )


def _read_heartbeat(p: pb.FdcHeartbeat) -> m.FdcHeartbeat:
    return m.FdcHeartbeat(
        fdc_id=p.fdc_id,
        weapons_control=_enum(m.WeaponsControl, p.weapons_control, "weapons_control"),
        system_tracks=p.system_tracks,
        engagements_active=p.engagements_active,
        launchers_lost=tuple(p.launchers_lost),
        time_s=p.time_s,
        launcher_tags=tuple((t.launcher_id, t.tag) for t in p.launcher_tags),
    )


def _read_command(p: pb.OperatorCommand) -> m.OperatorCommand:
    wcs = p.set_weapons_control
    return m.OperatorCommand(
        set_weapons_control=_enum(m.WeaponsControl, wcs, "set_weapons_control") if wcs else None,
        note=p.note,
    )


def _read_node_state(p: pb.NodeState) -> m.NodeState:
    return m.NodeState(
        node_id=p.node_id,
        kind=p.kind,
        status=_enum(m.NodeStatus, p.status, "status"),
        birth_sequence=p.birth_sequence,
        speed=p.speed,
    )


_READ: dict[str, Callable[[Any], m.Body]] = {
    "track_report": _read_track_report,
    "truth_report": _read_truth_report,
    "fire_order": _read_fire_order,
    "engagement_status": _read_engagement,
    "launcher_status": _read_launcher_status,
    "flyout": _read_flyout,
    "detonation": _read_detonation,
    "fdc_heartbeat": _read_heartbeat,
    "operator_command": _read_command,
    "node_state": _read_node_state,
}


def _column_view() -> Any:
    """Class of a wire-compatible twin of ``Envelope`` whose batches keep float, enum and
    bool columns as bytes.

    A packed ``double``/``float`` column and a ``bytes`` field look the same on the
    wire (length-delimited), so parsing with this twin hands each column over as
    one bytes object for ``np.frombuffer`` instead of N Python floats. So does a
    packed enum or bool column, one byte per value while every value is below 128
    (see :func:`_byte_column`). Built at import from the real descriptor, so it
    cannot drift from the schema.
    """
    real = pb.Envelope.DESCRIPTOR.file
    proto = _dpb.FileDescriptorProto()
    real.CopyToProto(proto)
    package = proto.package + ".column_view"
    proto.name = real.name.removesuffix(".proto") + "_column_view.proto"
    batches = {pb.TrackReport.DESCRIPTOR.name, pb.TruthReport.DESCRIPTOR.name}
    t = _dpb.FieldDescriptorProto
    as_bytes = {t.TYPE_DOUBLE, t.TYPE_FLOAT, t.TYPE_ENUM, t.TYPE_BOOL}
    for message in proto.message_type:
        for f in message.field:
            if f.type_name.startswith(f".{proto.package}."):
                f.type_name = f".{package}.{f.type_name[len(proto.package) + 2 :]}"
            if message.name in batches and f.label == f.LABEL_REPEATED and f.type in as_bytes:
                f.label, f.type = f.LABEL_OPTIONAL, f.TYPE_BYTES
                f.ClearField("options")
                f.ClearField("type_name")
    proto.package = package
    pool = _descriptor_pool.DescriptorPool()
    for dep in real.dependencies:
        pool.AddSerializedFile(dep.serialized_pb)
    pool.Add(proto)
    return _message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.Envelope"))


_ColumnView = _column_view()
_READ_VIEW: dict[str, Callable[[Any, bytes], m.Body | None]] = {
    "track_report": _read_track_report_view,
    "truth_report": _read_truth_report_view,
}


def decode(payload: bytes) -> m.Message:
    """Parse ``Envelope`` bytes. Raises :class:`DecodeError` for anything invalid.

    Parsed once with the column view; anything it might read differently from
    the real schema (a repeated or unknown field, a column split in chunks or
    not packed) goes to :func:`decode_reference`, the plain protobuf parse.
    """
    view = _ColumnView()
    try:
        view.ParseFromString(payload)
    except _PbDecodeError:
        return decode_reference(payload)
    h = view.header
    name = view.WhichOneof("body")
    if name is None or not view.HasField("header") or h.schema_version != m.SCHEMA_VERSION:
        return decode_reference(payload)  # which raises the precise error
    p = getattr(view, name)
    reader = _READ_VIEW.get(name)
    if reader is None:
        body: m.Body | None = _READ[name](p)  # same message types as the real schema
    elif view.ByteSize() != len(payload) or len(_UnknownFieldSet(p)):
        # The size differs when something was merged away (a column in chunks, a
        # repeated field); unknown fields appear where a column is not packed.
        body = None
    else:
        body = reader(p, payload)
    if body is None:
        return decode_reference(payload)
    return m.Message(m.Header(h.sender, h.sequence, h.sim_time_s, h.schema_version), body)


def decode_reference(payload: bytes) -> m.Message:
    """:func:`decode` with the real schema only (the reference, and the path for odd input)."""
    env = pb.Envelope()
    try:
        env.ParseFromString(payload)
    except _PbDecodeError as exc:
        raise DecodeError("malformed", str(exc) or "not a protobuf Envelope") from None
    if not env.HasField("header"):
        raise DecodeError("malformed", "envelope has no header")
    h = env.header
    if h.schema_version != m.SCHEMA_VERSION:
        raise DecodeError("schema_version", f"schema version {h.schema_version}, expected {m.SCHEMA_VERSION}")
    name = env.WhichOneof("body")
    if name is None:
        raise DecodeError("no_body", "envelope carries no message body")
    body = _READ[name](getattr(env, name))
    return m.Message(m.Header(h.sender, h.sequence, h.sim_time_s, h.schema_version), body)


def header_of(payload: bytes) -> m.Header:
    """The header of ``Envelope`` bytes without decoding the body (a recording's exact times
    come from here). Raises :class:`DecodeError` when there is no readable header."""
    header = pb.Header()
    found = False
    pos, end = 0, len(payload)
    try:
        while pos < end:
            tag, pos = _read_varint(payload, pos)
            field_number, wire_type = tag >> 3, tag & 7
            if wire_type == 0:
                _, pos = _read_varint(payload, pos)
            elif wire_type == 1:
                pos += 8
            elif wire_type == 5:
                pos += 4
            elif wire_type == 2:
                length, pos = _read_varint(payload, pos)
                if field_number == 1:
                    # Repeated occurrences merge, as a full parse would.
                    header.MergeFromString(payload[pos : pos + length])
                    found = True
                pos += length
            else:
                raise DecodeError("malformed", f"wire type {wire_type} at byte {pos}")
    except _PbDecodeError as exc:
        raise DecodeError("malformed", str(exc) or "bad header") from None
    if pos != end or not found:
        raise DecodeError("malformed", "envelope has no header" if pos == end else "truncated envelope")
    return m.Header(header.sender, header.sequence, header.sim_time_s, header.schema_version)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    try:
        return wire.read_varint(data, pos)
    except ValueError as exc:
        raise DecodeError("malformed", str(exc)) from None


# ---------------------------------------------------------------- schema


ENVELOPE_SCHEMA = "bmc.v1.Envelope"
"""Full name of the message every payload is, as recordings name their schema."""


def envelope_file_descriptor_set() -> bytes:
    """The schema of every payload as a serialised ``google.protobuf.FileDescriptorSet``
    (the file and its imports, dependencies first): what MCAP's protobuf profile embeds."""
    fds = _FileDescriptorSet()
    seen: set[str] = set()

    def add(file: Any) -> None:
        for dep in file.dependencies:
            if dep.name not in seen:
                seen.add(dep.name)
                add(dep)
        file.CopyToProto(fds.file.add())

    add(pb.Envelope.DESCRIPTOR.file)
    data: bytes = fds.SerializeToString(deterministic=True)
    return data


# ---------------------------------------------------------------- authentication


def order_tag(order: m.FireOrder, key: bytes) -> bytes:
    """HMAC-SHA256 over the canonical bytes of ``order`` with an empty tag."""
    p = pb.FireOrder()
    _fill_fire_order(p, order)
    p.auth_tag = b""
    return hmac.new(key, p.SerializeToString(deterministic=True), hashlib.sha256).digest()


def sign_order(order: m.FireOrder, key: bytes) -> m.FireOrder:
    """Return ``order`` with its authentication tag set."""
    return replace(order, auth_tag=order_tag(order, key))


def verify_order(order: m.FireOrder, key: bytes) -> bool:
    """True when ``order`` carries the right tag for ``key`` (constant-time compare)."""
    return hmac.compare_digest(order.auth_tag, order_tag(order, key))


HEARTBEAT_TAG_LEN = 16
"""Bytes of a heartbeat's tag per launcher (128 bits: a forger's chance per try is 2**-128)."""

_HEARTBEAT_DOMAIN = b"bmc-heartbeat/1\x00"


def _heartbeat_content(heartbeat: m.FdcHeartbeat) -> bytes:
    p = pb.FdcHeartbeat()
    _fill_heartbeat(p, replace(heartbeat, launcher_tags=()))
    return bytes(p.SerializeToString(deterministic=True))


def _heartbeat_tag(content: bytes, launcher_id: str, key: bytes, boot_nonce: int) -> bytes:
    data = b"".join(
        (_HEARTBEAT_DOMAIN, launcher_id.encode("utf-8"), b"\x00", struct.pack("<Q", boot_nonce), content)
    )
    return hmac.digest(key, data, "sha256")[:HEARTBEAT_TAG_LEN]


def heartbeat_tag(heartbeat: m.FdcHeartbeat, launcher_id: str, key: bytes, boot_nonce: int = 0) -> bytes:
    """The tag proving ``heartbeat`` to launcher ``launcher_id``: HMAC-SHA256 (first
    :data:`HEARTBEAT_TAG_LEN` bytes) with its fire-order key over a domain string, the
    launcher id, its boot nonce and the heartbeat's canonical bytes without tags. The
    fire-order key is the one secret a device shares with its FDC and not with the bridge
    relaying to it; the nonce makes a heartbeat recorded before the device booted useless."""
    return _heartbeat_tag(_heartbeat_content(heartbeat), launcher_id, key, boot_nonce)


def sign_heartbeat(
    heartbeat: m.FdcHeartbeat, keys: Mapping[str, bytes], boot_nonces: Mapping[str, int] | None = None
) -> m.FdcHeartbeat:
    """``heartbeat`` with one tag per launcher of ``keys`` (launcher id -> fire-order key), in
    id order, each for that launcher's boot nonce (``boot_nonces``, default 0)."""
    nonces = boot_nonces or {}
    content = _heartbeat_content(heartbeat)  # once: only the launcher part differs per tag
    tags = tuple((lid, _heartbeat_tag(content, lid, keys[lid], nonces.get(lid, 0))) for lid in sorted(keys))
    return replace(heartbeat, launcher_tags=tags)


def verify_heartbeat(heartbeat: m.FdcHeartbeat, launcher_id: str, key: bytes, boot_nonce: int = 0) -> bool:
    """True when ``heartbeat`` carries the right tag for ``launcher_id`` booted with
    ``boot_nonce`` (constant-time compare)."""
    expected = heartbeat_tag(heartbeat, launcher_id, key, boot_nonce)
    found = [tag for lid, tag in heartbeat.launcher_tags if lid == launcher_id]
    return len(found) == 1 and hmac.compare_digest(found[0], expected)
