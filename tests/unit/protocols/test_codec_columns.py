"""The batches' fast paths agree with protobuf: direct wire encoding byte for byte, the
column-view decode value for value, including wire forms our encoder never writes."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import pytest
from hypothesis import given

from protocols import codec, wire
from protocols import messages as m
from protocols.generated import bmc_v1_pb2
from tests.unit.protocols.test_codec import FAST, headers, track_reports, truth_reports

pb: Any = bmc_v1_pb2
HEADER = m.Header("R1", 7, 12.5)


def _same(got: m.Message, want: m.Message) -> None:
    assert got.header == want.header
    assert type(got.body) is type(want.body)
    for name in got.body.__slots__:
        a, b = getattr(got.body, name), getattr(want.body, name)
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and a.shape == b.shape and a.flags.c_contiguous
            np.testing.assert_array_equal(a, b)
        else:
            assert a == b, name


@FAST
@given(header=headers, body=track_reports())
def test_track_report_bytes_are_protobufs_own(header: m.Header, body: m.TrackReport) -> None:
    payload = codec.encode(header, body)
    assert payload == codec.encode_reference(header, body)
    _same(codec.decode(payload), codec.decode_reference(payload))


@FAST
@given(header=headers, body=truth_reports())
def test_truth_report_bytes_are_protobufs_own(header: m.Header, body: m.TruthReport) -> None:
    payload = codec.encode(header, body)
    assert payload == codec.encode_reference(header, body)
    _same(codec.decode(payload), codec.decode_reference(payload))


@pytest.mark.parametrize("scan_time_s", [0.0, -0.0, 1e-300])
def test_empty_track_report_keeps_its_body(scan_time_s: float) -> None:
    empty = m.TrackReport(
        scan_time_s=scan_time_s,
        track_id=np.zeros(0, dtype=np.int64),
        state=np.zeros((0, 6)),
        covariance=np.zeros((0, 6, 6)),
        status=np.zeros(0, dtype=np.int64),
        identity=np.zeros(0, dtype=np.int64),
        classification=np.zeros(0, dtype=np.int64),
        truth_id=(),
    )
    payload = codec.encode(HEADER, empty)
    assert payload == codec.encode_reference(HEADER, empty)
    body = codec.decode(payload).body
    assert isinstance(body, m.TrackReport) and len(body) == 0
    assert struct.pack("<d", body.scan_time_s) == struct.pack("<d", scan_time_s)


def test_enum_beyond_one_byte_takes_protobufs_path() -> None:
    # 300 is a legal proto3 enum number (open enums), written as a two-byte varint.
    report = _report(2)
    odd = m.TrackReport(**{**_fields(report), "status": np.array([2, 300])})
    payload = codec.encode(HEADER, odd)
    assert payload == codec.encode_reference(HEADER, odd)
    with pytest.raises(codec.DecodeError, match="bad_value"):
        codec.decode(payload)


# ---------------------------------------------------------------- wire forms we never write


def _report(n: int) -> m.TrackReport:
    rng = np.random.default_rng(n)
    cov = rng.normal(size=(n, 6, 6))
    return m.TrackReport(
        scan_time_s=3.0,
        track_id=np.arange(200, 200 + n, dtype=np.int64),
        state=rng.normal(size=(n, 6)) * 1e3,
        covariance=(cov + cov.transpose(0, 2, 1)).astype(np.float32).astype(np.float64),
        status=np.full(n, 2, dtype=np.int64),
        identity=np.full(n, 3, dtype=np.int64),
        classification=np.full(n, 4, dtype=np.int64),
        truth_id=tuple(f"T{i}" for i in range(n)),
    )


def _fields(report: m.TrackReport) -> dict[str, Any]:
    return {name: getattr(report, name) for name in report.__slots__}


def _envelope(body: bytes) -> bytes:
    header = pb.Header(schema_version=m.SCHEMA_VERSION, sender="R1", sequence=7, sim_time_s=12.5)
    return wire.length_delimited(wire.tag(1), header.SerializeToString()) + wire.length_delimited(
        wire.tag(10), body
    )


def _body_without(report: m.TrackReport, column: str) -> bytes:
    env = pb.Envelope()
    env.ParseFromString(codec.encode(HEADER, report))
    env.track_report.ClearField(column)
    data: bytes = env.track_report.SerializeToString()
    return data


def test_envelope_helper_matches_encoder() -> None:
    report = _report(3)
    payload = codec.encode(HEADER, report)
    assert payload == _envelope(_body_without(report, "truth_id") + _truth_ids(report))


def _truth_ids(report: m.TrackReport) -> bytes:
    p = pb.TrackReport()
    p.truth_id.extend(report.truth_id)
    data: bytes = p.SerializeToString()
    return data


def _decoded_both_ways(payload: bytes) -> m.Message:
    fast, reference = codec.decode(payload), codec.decode_reference(payload)
    _same(fast, reference)
    return fast


def test_column_in_two_packed_chunks_decodes_whole() -> None:
    report = _report(4)
    east = report.state[:, 0]
    tag = wire.tag(pb.TrackReport.DESCRIPTOR.fields_by_name["east_m"].number)
    chunks = wire.packed_fixed(tag, east[:1], "<f8") + wire.packed_fixed(tag, east[1:], "<f8")
    got = _decoded_both_ways(_envelope(_body_without(report, "east_m") + chunks)).body
    assert isinstance(got, m.TrackReport)
    np.testing.assert_array_equal(got.state, report.state)


def test_unpacked_column_decodes() -> None:
    report = _report(3)
    number = pb.TrackReport.DESCRIPTOR.fields_by_name["v_up_mps"].number
    unpacked = b"".join(wire.tag(number, 1) + struct.pack("<d", v) for v in report.state[:, 5])
    got = _decoded_both_ways(_envelope(_body_without(report, "v_up_mps") + unpacked)).body
    assert isinstance(got, m.TrackReport)
    np.testing.assert_array_equal(got.state, report.state)


def test_column_repeated_whole_is_refused_not_half_read() -> None:
    report = _report(3)
    tag = wire.tag(pb.TrackReport.DESCRIPTOR.fields_by_name["north_m"].number)
    twice = wire.packed_fixed(tag, report.state[:, 1], "<f8") * 2
    payload = _envelope(_body_without(report, "north_m") + twice)
    for decode in (codec.decode, codec.decode_reference):
        with pytest.raises(codec.DecodeError, match="bad_columns"):
            decode(payload)


def test_unknown_field_in_report_is_ignored_like_protobuf() -> None:
    report = _report(2)
    unknown = wire.length_delimited(wire.tag(99), b"future")
    got = _decoded_both_ways(_envelope(_body_without(report, "truth_id") + _truth_ids(report) + unknown))
    assert len(got.body) == 2  # type: ignore[arg-type]


def test_float_column_of_odd_length_is_malformed() -> None:
    report = _report(2)
    tag = wire.tag(pb.TrackReport.DESCRIPTOR.fields_by_name["up_m"].number)
    payload = _envelope(_body_without(report, "up_m") + wire.length_delimited(tag, bytes(15)))
    with pytest.raises(codec.DecodeError, match="malformed"):
        codec.decode(payload)


def test_packed_small_refuses_what_needs_more_than_a_byte() -> None:
    tag = wire.tag(5)
    assert wire.packed_small(tag, np.array([0, 127])) == tag + b"\x02\x00\x7f"
    assert wire.packed_small(tag, np.array([True, False])) == tag + b"\x02\x01\x00"
    assert wire.packed_small(tag, np.zeros(0, dtype=np.int64)) == b""
    assert wire.packed_small(tag, np.array([1, 128])) is None
    assert wire.packed_small(tag, np.array([-1, 1])) is None
