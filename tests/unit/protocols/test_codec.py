"""Codec: round trips of every message type, rejection of bad payloads, fire-order tags."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from protocols import codec
from protocols import messages as m
from protocols.generated import bmc_v1_pb2

pb: Any = bmc_v1_pb2

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ------------------------------------------------------------------ strategies

texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
finite = st.floats(allow_nan=False, allow_infinity=False)
uint32 = st.integers(0, 2**32 - 1)
uint64 = st.integers(0, 2**64 - 1)
vec3 = st.tuples(finite, finite, finite)
float32s = st.floats(allow_nan=False, allow_infinity=False, width=32)


def enum_of(cls: type[enum.Enum]) -> st.SearchStrategy[Any]:
    return st.sampled_from(list(cls))


headers = st.builds(m.Header, sender=texts, sequence=uint64, sim_time_s=finite)


@st.composite
def track_reports(draw: st.DrawFn) -> m.TrackReport:
    n = draw(st.integers(0, 4))
    state = np.array([[draw(finite) for _ in range(6)] for _ in range(n)], dtype=float).reshape(n, 6)
    # Symmetric covariance; values away from float32 overflow and underflow so rtol applies.
    mag = st.one_of(st.just(0.0), st.floats(1e-30, 1e30), st.floats(-1e30, -1e-30))
    cov = np.zeros((n, 6, 6))
    for k in range(n):
        for i in range(6):
            for j in range(i, 6):
                cov[k, i, j] = cov[k, j, i] = draw(mag)
    return m.TrackReport(
        scan_time_s=draw(finite),
        track_id=np.array([draw(uint32) for _ in range(n)], dtype=np.int64),
        state=state,
        covariance=cov,
        status=np.array([int(draw(enum_of(m.TrackStatus))) for _ in range(n)], dtype=np.int64),
        identity=np.array([int(draw(enum_of(m.Identity))) for _ in range(n)], dtype=np.int64),
        classification=np.array([int(draw(enum_of(m.Classification))) for _ in range(n)], dtype=np.int64),
        truth_id=tuple(draw(texts) for _ in range(n)),
    )


@st.composite
def truth_reports(draw: st.DrawFn) -> m.TruthReport:
    n = draw(st.integers(0, 4))
    return m.TruthReport(
        object_id=tuple(draw(texts) for _ in range(n)),
        kind=np.array([int(draw(enum_of(m.Classification))) for _ in range(n)], dtype=np.int64),
        friendly=np.array([draw(st.booleans()) for _ in range(n)], dtype=bool),
        iff=np.array([draw(st.booleans()) for _ in range(n)], dtype=bool),
        # rcs_m2 is a float32 on the wire: draw float32-representable values to compare exactly.
        rcs_m2=np.array([draw(float32s) for _ in range(n)], dtype=float),
        status=np.array([int(draw(enum_of(m.ObjectStatus))) for _ in range(n)], dtype=np.int64),
        state=np.array([[draw(finite) for _ in range(6)] for _ in range(n)], dtype=float).reshape(n, 6),
    )


@st.composite
def air_pictures(draw: st.DrawFn) -> m.AirPicture:
    n = draw(st.integers(0, 4))
    return m.AirPicture(
        time_s=draw(finite),
        track_id=np.array([draw(uint32) for _ in range(n)], dtype=np.int64),
        state=np.array([[draw(finite) for _ in range(6)] for _ in range(n)], dtype=float).reshape(n, 6),
        # float32 on the wire: float32-representable values compare exactly.
        position_variance_m2=np.array([draw(float32s) for _ in range(n)], dtype=float),
        identity=np.array([int(draw(enum_of(m.Identity))) for _ in range(n)], dtype=np.int64),
        classification=np.array([int(draw(enum_of(m.Classification))) for _ in range(n)], dtype=np.int64),
        threat_rank=np.array([draw(uint32) for _ in range(n)], dtype=np.int64),
        asset_id=tuple(draw(texts) for _ in range(n)),
        engagement=np.array([int(draw(enum_of(m.TrackEngagement))) for _ in range(n)], dtype=np.int64),
        truth_id=tuple(draw(texts) for _ in range(n)),
    )


fire_orders = st.builds(
    m.FireOrder,
    order_id=texts,
    launcher_id=texts,
    target_track_id=uint32,
    target_position_m=vec3,
    target_velocity_mps=vec3,
    intercept_point_m=vec3,
    intercept_time_s=finite,
    rounds=uint32,
    issued_time_s=finite,
    expiry_time_s=finite,
    auth_tag=st.binary(max_size=40),
)

engagement_statuses = st.builds(
    m.EngagementStatus,
    order_id=texts,
    launcher_id=texts,
    state=enum_of(m.EngagementState),
    reason=texts,
    round=uint32,
    launcher_position_m=vec3,
    target_position_m=vec3,
    target_velocity_mps=vec3,
    target_time_s=finite,
    interceptor_id=texts,
)

launcher_statuses = st.builds(
    m.LauncherStatus,
    launcher_id=texts,
    state=enum_of(m.LauncherState),
    missiles_ready=uint32,
    position_m=vec3,
    reason=texts,
)

flyouts = st.builds(
    m.Flyout,
    interceptor_id=texts,
    order_id=texts,
    launcher_id=texts,
    target_object_id=texts,
    launch_time_s=finite,
    intercept_time_s=finite,
    intercept_point_m=vec3,
)

detonations = st.builds(
    m.Detonation,
    interceptor_id=texts,
    order_id=texts,
    object_id=texts,
    asset_id=texts,
    outcome=enum_of(m.DetonationOutcome),
    position_m=vec3,
)

heartbeats = st.builds(
    m.FdcHeartbeat,
    fdc_id=texts,
    weapons_control=enum_of(m.WeaponsControl),
    system_tracks=uint32,
    engagements_active=uint32,
    launchers_lost=st.lists(texts, max_size=4).map(tuple),
    time_s=finite,
    launcher_tags=st.lists(st.tuples(texts, st.binary(max_size=32)), max_size=3).map(tuple),
)

commands = st.builds(m.OperatorCommand, set_weapons_control=st.none() | enum_of(m.WeaponsControl), note=texts)

node_states = st.builds(
    m.NodeState, node_id=texts, kind=texts, status=enum_of(m.NodeStatus), birth_sequence=uint64
)

SCALAR_BODIES: dict[type, st.SearchStrategy[Any]] = {
    m.FireOrder: fire_orders,
    m.EngagementStatus: engagement_statuses,
    m.LauncherStatus: launcher_statuses,
    m.Flyout: flyouts,
    m.Detonation: detonations,
    m.FdcHeartbeat: heartbeats,
    m.OperatorCommand: commands,
    m.NodeState: node_states,
}

any_body = st.one_of(track_reports(), truth_reports(), air_pictures(), *SCALAR_BODIES.values())


def _body_classes() -> set[type]:
    return set(m.Body.__args__)


# ------------------------------------------------------------------ round trips


def test_every_body_type_is_covered() -> None:
    covered = {m.TrackReport, m.TruthReport, m.AirPicture, *SCALAR_BODIES}
    assert covered == _body_classes()
    assert set(codec.BODY_FIELDS) == _body_classes()


@pytest.mark.parametrize("cls", list(SCALAR_BODIES), ids=lambda c: c.__name__)
@FAST
@given(data=st.data())
def test_scalar_body_round_trip(cls: type, data: st.DataObject) -> None:
    header = data.draw(headers)
    body = data.draw(SCALAR_BODIES[cls])
    msg = codec.decode(codec.encode(header, body))
    assert msg.header == header
    assert type(msg.body) is cls
    assert msg.body == body


def test_default_bodies_round_trip() -> None:
    """All-default bodies still carry their type (the oneof is marked explicitly)."""
    header = m.Header("N", 1, 0.0)
    for body in (
        m.OperatorCommand(),
        m.FdcHeartbeat("", m.WeaponsControl.FREE),
        m.NodeState("", "", m.NodeStatus.BIRTH, 0),
        m.FireOrder("", "", 0, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), 0.0, 0, 0.0, 0.0),
    ):
        assert codec.decode(codec.encode(header, body)).body == body
    empty = codec.decode(codec.encode(header, _picture_of([]))).body
    assert isinstance(empty, m.AirPicture) and len(empty) == 0 and empty.time_s == 0.0


def _picture_of(rows: list[int]) -> m.AirPicture:
    n = len(rows)
    ints = np.array(rows, dtype=np.int64)
    return m.AirPicture(
        time_s=0.0,
        track_id=ints,
        state=np.zeros((n, 6)),
        position_variance_m2=np.zeros(n),
        identity=np.full(n, m.Identity.HOSTILE, dtype=np.int64),
        classification=np.full(n, m.Classification.DRONE, dtype=np.int64),
        threat_rank=ints,
        asset_id=("A",) * n,
        engagement=np.full(n, m.TrackEngagement.NONE, dtype=np.int64),
        truth_id=("",) * n,
    )


@FAST
@given(header=headers, body=air_pictures())
def test_air_picture_round_trip(header: m.Header, body: m.AirPicture) -> None:
    msg = codec.decode(codec.encode(header, body))
    assert msg.header == header
    got = msg.body
    assert isinstance(got, m.AirPicture)
    assert got.time_s == body.time_s
    for name in ("track_id", "state", "position_variance_m2", "identity", "classification"):
        np.testing.assert_array_equal(getattr(got, name), getattr(body, name))
    for name in ("threat_rank", "engagement"):
        np.testing.assert_array_equal(getattr(got, name), getattr(body, name))
    assert got.asset_id == body.asset_id and got.truth_id == body.truth_id


def test_a_picture_whose_columns_disagree_is_refused() -> None:
    good = codec.encode(m.Header("FDC", 1, 1.0), _picture_of([1, 2]))
    from protocols.generated import bmc_v1_pb2 as pb

    env = pb.Envelope.FromString(good)
    env.air_picture.asset_id.append("extra")
    with pytest.raises(codec.DecodeError, match="column asset_id has 3 values, expected 2"):
        codec.decode(env.SerializeToString())
    env = pb.Envelope.FromString(good)
    env.air_picture.engagement[0] = 9
    with pytest.raises(codec.DecodeError, match="outside TrackEngagement"):
        codec.decode(env.SerializeToString())


def _assert_track_reports_equal(got: m.TrackReport, want: m.TrackReport) -> None:
    assert got.scan_time_s == want.scan_time_s
    assert len(got) == len(want)
    np.testing.assert_array_equal(got.track_id, want.track_id)
    np.testing.assert_array_equal(got.state, want.state)
    assert got.covariance.shape == want.covariance.shape
    np.testing.assert_allclose(got.covariance, want.covariance, rtol=1e-6, atol=1e-37)
    np.testing.assert_array_equal(got.covariance, np.swapaxes(got.covariance, 1, 2))
    np.testing.assert_array_equal(got.status, want.status)
    np.testing.assert_array_equal(got.identity, want.identity)
    np.testing.assert_array_equal(got.classification, want.classification)
    assert got.truth_id == want.truth_id


@FAST
@given(header=headers, body=track_reports())
def test_track_report_round_trip(header: m.Header, body: m.TrackReport) -> None:
    msg = codec.decode(codec.encode(header, body))
    assert msg.header == header
    assert isinstance(msg.body, m.TrackReport)
    _assert_track_reports_equal(msg.body, body)


@FAST
@given(header=headers, body=truth_reports())
def test_truth_report_round_trip(header: m.Header, body: m.TruthReport) -> None:
    msg = codec.decode(codec.encode(header, body))
    assert msg.header == header
    got = msg.body
    assert isinstance(got, m.TruthReport)
    assert got.object_id == body.object_id
    np.testing.assert_array_equal(got.kind, body.kind)
    np.testing.assert_array_equal(got.friendly, body.friendly)
    assert got.friendly.dtype == np.bool_
    np.testing.assert_array_equal(got.iff, body.iff)
    np.testing.assert_array_equal(got.rcs_m2, body.rcs_m2)
    np.testing.assert_array_equal(got.status, body.status)
    np.testing.assert_array_equal(got.state, body.state)
    assert got.state.shape == (len(body), 6)


def test_track_report_without_truth_ids_decodes_to_empty_strings() -> None:
    p = pb.Envelope()
    p.header.schema_version = m.SCHEMA_VERSION
    tr = p.track_report
    _fill_columns(tr, 2)
    del tr.truth_id[:]
    body = codec.decode(p.SerializeToString()).body
    assert isinstance(body, m.TrackReport)
    assert body.truth_id == ("", "")


# ------------------------------------------------------------------ bad input


@settings(max_examples=200, deadline=None)
@given(payload=st.binary(max_size=200))
def test_random_bytes_raise_only_decode_error(payload: bytes) -> None:
    try:
        codec.decode(payload)
    except codec.DecodeError as exc:
        assert exc.reason in {"malformed", "schema_version", "no_body", "bad_columns", "bad_value"}


@settings(max_examples=100, deadline=None)
@given(header=headers, body=any_body, data=st.data())
def test_corrupted_valid_payloads_raise_only_decode_error(
    header: m.Header, body: Any, data: st.DataObject
) -> None:
    payload = bytearray(codec.encode(header, body))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(payload) - 1))
        payload[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(payload)))
    try:
        codec.decode(bytes(payload[:cut]))
    except codec.DecodeError as exc:
        assert exc.reason in {"malformed", "schema_version", "no_body", "bad_columns", "bad_value"}


def _reason(payload: bytes) -> str:
    with pytest.raises(codec.DecodeError) as info:
        codec.decode(payload)
    assert str(info.value).startswith(info.value.reason + ": ")
    return info.value.reason


def test_not_protobuf_is_malformed() -> None:
    assert _reason(b"\xff\xff\xff\xff") == "malformed"


@pytest.mark.parametrize("version", [0, 2, 99])
def test_wrong_schema_version(version: int) -> None:
    payload = codec.encode(m.Header("N", 1, 0.0, schema_version=version), m.OperatorCommand(note="x"))
    assert _reason(payload) == "schema_version"


def test_empty_payload_has_wrong_schema_version() -> None:
    assert _reason(b"") == "malformed"


def test_envelope_without_body() -> None:
    p = pb.Envelope()
    p.header.schema_version = m.SCHEMA_VERSION
    p.header.sender = "N"
    assert _reason(p.SerializeToString()) == "no_body"


def _fill_columns(tr: Any, n: int) -> None:
    tr.track_id.extend(range(1, n + 1))
    for col in ("east_m", "north_m", "up_m", "v_east_mps", "v_north_mps", "v_up_mps"):
        getattr(tr, col).extend([1.0] * n)
    tr.covariance.extend([0.5] * (21 * n))
    tr.status.extend([pb.TRACK_STATUS_CONFIRMED] * n)
    tr.identity.extend([pb.IDENTITY_UNKNOWN] * n)
    tr.classification.extend([pb.CLASSIFICATION_DRONE] * n)
    tr.truth_id.extend(["T"] * n)


def _track_envelope(n: int = 2) -> Any:
    p = pb.Envelope()
    p.header.schema_version = m.SCHEMA_VERSION
    _fill_columns(p.track_report, n)
    return p


def test_hand_built_track_report_decodes() -> None:
    body = codec.decode(_track_envelope(3).SerializeToString()).body
    assert isinstance(body, m.TrackReport)
    assert len(body) == 3
    assert body.covariance.shape == (3, 6, 6)
    assert (body.covariance == 0.5).all()


@pytest.mark.parametrize(
    "column", ["east_m", "v_up_mps", "covariance", "status", "identity", "classification", "truth_id"]
)
def test_track_report_mismatched_columns(column: str) -> None:
    p = _track_envelope(2)
    values = getattr(p.track_report, column)
    values.append(values[0])
    assert _reason(p.SerializeToString()) == "bad_columns"


def test_track_report_short_column() -> None:
    p = _track_envelope(2)
    del p.track_report.north_m[-1]
    assert _reason(p.SerializeToString()) == "bad_columns"


def test_truth_report_mismatched_columns() -> None:
    p = pb.Envelope()
    p.header.schema_version = m.SCHEMA_VERSION
    tr = p.truth_report
    tr.object_id.extend(["A", "B"])
    tr.kind.extend([pb.CLASSIFICATION_DRONE] * 2)
    tr.friendly.extend([False])  # one short
    tr.iff.extend([False, False])
    tr.rcs_m2.extend([1.0, 1.0])
    tr.status.extend([pb.OBJECT_STATUS_ACTIVE] * 2)
    for col in ("east_m", "north_m", "up_m", "v_east_mps", "v_north_mps", "v_up_mps"):
        getattr(tr, col).extend([0.0, 0.0])
    assert _reason(p.SerializeToString()) == "bad_columns"


@pytest.mark.parametrize("value", [0, 5, 99, -1])
def test_track_status_out_of_range(value: int) -> None:
    p = _track_envelope(2)
    p.track_report.status[1] = value
    assert _reason(p.SerializeToString()) == "bad_value"


@pytest.mark.parametrize("value", [0, 8])
def test_classification_out_of_range(value: int) -> None:
    p = _track_envelope(1)
    p.track_report.classification[0] = value
    assert _reason(p.SerializeToString()) == "bad_value"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("launcher_status", 0),
        ("launcher_status", 7),
        ("engagement_status", 7),
        ("detonation", 4),
        ("fdc_heartbeat", 4),
        ("node_state", 3),
    ],
)
def test_scalar_enum_out_of_range(field: str, value: int) -> None:
    p = pb.Envelope()
    p.header.schema_version = m.SCHEMA_VERSION
    body = getattr(p, field)
    attr = {
        "launcher_status": "state",
        "engagement_status": "state",
        "detonation": "outcome",
        "fdc_heartbeat": "weapons_control",
        "node_state": "status",
    }[field]
    setattr(body, attr, value)
    body.SetInParent()
    assert _reason(p.SerializeToString()) == "bad_value"


def test_operator_command_enum_out_of_range() -> None:
    p = pb.Envelope()
    p.header.schema_version = m.SCHEMA_VERSION
    p.operator_command.set_weapons_control = 9
    assert _reason(p.SerializeToString()) == "bad_value"


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("column", ["east_m", "up_m", "v_north_mps"])
def test_track_report_non_finite_state(column: str, bad: float) -> None:
    p = _track_envelope(2)
    getattr(p.track_report, column)[1] = bad
    assert _reason(p.SerializeToString()) == "bad_value"


def test_truth_report_non_finite_position() -> None:
    body = m.TruthReport(
        object_id=("A",),
        kind=np.array([2]),
        friendly=np.array([False]),
        iff=np.array([False]),
        rcs_m2=np.array([1.0]),
        status=np.array([2]),
        state=np.array([[np.nan, 0.0, 0.0, 0.0, 0.0, 0.0]]),
    )
    assert _reason(codec.encode(m.Header("W", 1, 0.0), body)) == "bad_value"


# ------------------------------------------------------------------ fire-order authentication

KEY = b"launcher-L1-key"


def _order() -> m.FireOrder:
    return m.FireOrder(
        order_id="O1",
        launcher_id="L1",
        target_track_id=7,
        target_position_m=(1000.0, 2000.0, 300.0),
        target_velocity_mps=(-100.0, 0.0, 0.0),
        intercept_point_m=(500.0, 2000.0, 300.0),
        intercept_time_s=12.5,
        rounds=2,
        issued_time_s=10.0,
        expiry_time_s=15.0,
    )


ORDER_FIELDS = [f.name for f in dataclasses.fields(m.FireOrder) if f.name != "auth_tag"]


@FAST
@given(order=fire_orders, key=st.binary(min_size=1, max_size=64))
def test_sign_then_verify(order: m.FireOrder, key: bytes) -> None:
    signed = codec.sign_order(order, key)
    assert len(signed.auth_tag) == 32
    assert codec.verify_order(signed, key)
    # The tag does not depend on a previous tag, and it survives the wire.
    assert codec.sign_order(signed, key).auth_tag == signed.auth_tag
    wire = codec.decode(codec.encode(m.Header("FDC", 1, 0.0), signed)).body
    assert isinstance(wire, m.FireOrder)
    assert codec.verify_order(wire, key)


def _changed(value: Any, data: st.DataObject) -> Any:
    new: Any
    if isinstance(value, str):
        new = data.draw(texts)
    elif isinstance(value, tuple):
        i = data.draw(st.integers(0, 2))
        comp = data.draw(finite)
        new = (*value[:i], comp, *value[i + 1 :])
    elif isinstance(value, int):
        new = data.draw(uint32)
    else:
        new = data.draw(finite)
    assume(new != value)
    return new


@settings(max_examples=100, deadline=None)
@given(order=fire_orders, field=st.sampled_from(ORDER_FIELDS), data=st.data())
def test_any_field_change_breaks_the_tag(order: m.FireOrder, field: str, data: st.DataObject) -> None:
    signed = codec.sign_order(order, KEY)
    tampered = dataclasses.replace(signed, **{field: _changed(getattr(signed, field), data)})
    assert tampered.auth_tag == signed.auth_tag
    assert not codec.verify_order(tampered, KEY)


@pytest.mark.parametrize("field", ORDER_FIELDS)
def test_each_field_is_covered_by_the_tag(field: str) -> None:
    signed = codec.sign_order(_order(), KEY)
    value = getattr(signed, field)
    if isinstance(value, str):
        new: Any = value + "x"
    elif isinstance(value, tuple):
        new = (value[0], value[1], value[2] + 1.0)
    else:
        new = value + 1
    assert not codec.verify_order(dataclasses.replace(signed, **{field: new}), KEY)


def test_different_key_fails() -> None:
    signed = codec.sign_order(_order(), KEY)
    assert codec.verify_order(signed, KEY)
    assert not codec.verify_order(signed, b"launcher-L2-key")
    assert codec.sign_order(_order(), b"other").auth_tag != signed.auth_tag


def test_tampered_or_missing_tag_fails() -> None:
    signed = codec.sign_order(_order(), KEY)
    flipped = bytes([signed.auth_tag[0] ^ 1]) + signed.auth_tag[1:]
    assert not codec.verify_order(dataclasses.replace(signed, auth_tag=flipped), KEY)
    assert not codec.verify_order(_order(), KEY)
    assert not codec.verify_order(dataclasses.replace(signed, auth_tag=signed.auth_tag[:16]), KEY)
