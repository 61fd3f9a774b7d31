"""``encode`` and ``decode``: the fast paths, with the reference codec as their fallback.

Batches (track and truth reports) go straight to wire bytes and are read back through a
column view that hands packed columns over as bytes for ``np.frombuffer``; anything they
might read differently from the real schema goes to ``reference``. ``header_of`` reads a
payload's header alone.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import numpy as np
from google.protobuf import descriptor_pb2 as _dpb
from google.protobuf import descriptor_pool as _descriptor_pool
from google.protobuf import message_factory as _message_factory
from google.protobuf.message import DecodeError as PbDecodeError
from google.protobuf.unknown_fields import UnknownFieldSet as _UnknownFieldSet

from protocols import messages as m
from protocols import wire
from protocols.codec.reference import READ, decode_reference, encode_reference
from protocols.codec.schema import (
    BODY_FIELDS,
    COV_LEN,
    HEADER_TAG,
    STATE_COLS,
    SYMMETRIC,
    TRACK_TAG,
    TRUTH_TAG,
    UPPER,
    DecodeError,
    finite_state,
)
from protocols.generated import bmc_v1_pb2 as pb

_SCAN_TIME_TAG = wire.tag(pb.TrackReport.DESCRIPTOR.fields_by_name["scan_time_s"].number, 1)


_TRACK_STATE_TAGS = tuple(TRACK_TAG[c] for c in STATE_COLS)


_TRUTH_STATE_TAGS = tuple(TRUTH_TAG[c] for c in STATE_COLS)


_TRACK_SMALL_TAGS = (TRACK_TAG["status"], TRACK_TAG["identity"], TRACK_TAG["classification"])


_TRUTH_SMALL_TAGS = (TRUTH_TAG["kind"], TRUTH_TAG["friendly"], TRUTH_TAG["iff"], TRUTH_TAG["status"])


# Batches straight to wire bytes: fields in field-number order, as protobuf writes them
# (a test compares the bytes with protobuf's own serialisation of the same report).


def _track_report_wire(r: m.TrackReport) -> bytes | None:
    """``TrackReport`` bytes; None when an enum column needs protobuf's own rules."""
    t = TRACK_TAG
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
    upper = r.covariance.reshape(n, 36).take(UPPER, axis=1)
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
    if not payload.startswith(HEADER_TAG):
        return None
    size, pos = wire.read_varint(payload, len(HEADER_TAG))
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
            wire.packed_fixed(TRUTH_TAG["rcs_m2"], r.rcs_m2, "<f4"),
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
                    wire.length_delimited(HEADER_TAG, h.SerializeToString()),
                    wire.length_delimited(_BODY_TAG[BODY_FIELDS[type(body)]], raw),
                )
            )
    return encode_reference(header, body)


def _raw_state(p: Any, n: int) -> Any | None:
    """(n, 6) state from a column view's raw float bytes; None when a column is not n values."""
    raw = [getattr(p, c) for c in STATE_COLS]
    if any(len(b) != 8 * n for b in raw):
        return None
    columns = np.frombuffer(b"".join(raw), dtype="<f8").reshape(6, n)
    return finite_state(columns.T.astype(np.float64, order="C"))


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


def _read_track_report_view(p: Any, _payload: bytes) -> m.TrackReport | None:
    n = len(p.track_id)
    state = _raw_state(p, n)
    if state is None or len(p.covariance) != 4 * COV_LEN * n or len(p.truth_id) not in (0, n):
        return None
    status = _byte_column(p.status, n, _VALID_BYTES[m.TrackStatus], np.int64)
    identity = _byte_column(p.identity, n, _VALID_BYTES[m.Identity], np.int64)
    classification = _byte_column(p.classification, n, _VALID_BYTES[m.Classification], np.int64)
    if status is None or identity is None or classification is None:
        return None
    # Cells copied out while still float32: half the bytes to move, and widening is exact.
    flat = np.frombuffer(p.covariance, dtype="<f4").reshape(n, COV_LEN)
    return m.TrackReport(
        scan_time_s=p.scan_time_s,
        track_id=np.array(p.track_id, dtype=np.int64),
        state=state,
        covariance=flat.take(SYMMETRIC, axis=1).astype(np.float64).reshape(n, 6, 6),
        status=status,
        identity=identity,
        classification=classification,
        truth_id=tuple(p.truth_id) if len(p.truth_id) else ("",) * n,
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
    except PbDecodeError:
        return decode_reference(payload)
    h = view.header
    name = view.WhichOneof("body")
    if name is None or not view.HasField("header") or h.schema_version != m.SCHEMA_VERSION:
        return decode_reference(payload)  # which raises the precise error
    p = getattr(view, name)
    reader = _READ_VIEW.get(name)
    if reader is None:
        body: m.Body | None = READ[name](p)  # same message types as the real schema
    elif view.ByteSize() != len(payload) or len(_UnknownFieldSet(p)):
        # The size differs when something was merged away (a column in chunks, a
        # repeated field); unknown fields appear where a column is not packed.
        body = None
    else:
        body = reader(p, payload)
    if body is None:
        return decode_reference(payload)
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
    except PbDecodeError as exc:
        raise DecodeError("malformed", str(exc) or "bad header") from None
    if pos != end or not found:
        raise DecodeError("malformed", "envelope has no header" if pos == end else "truncated envelope")
    return m.Header(header.sender, header.sequence, header.sim_time_s, header.schema_version)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    try:
        return wire.read_varint(data, pos)
    except ValueError as exc:
        raise DecodeError("malformed", str(exc)) from None
