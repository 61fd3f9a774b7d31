"""Recording format: header peeking, the embedded schema, exact times, write failures, overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from google.protobuf.descriptor_pb2 import FileDescriptorSet

from bmc.record import set_path
from bmc.scenario import ScenarioError
from protocols import codec
from protocols import messages as m
from protocols.recording import Recorder, RecordingError, read_recording

TOPIC = "bmc/v1/unit/fdc/FDC/heartbeat"


def _msg(time_s: float, seq: int = 1) -> tuple[bytes, m.Message]:
    header = m.Header("FDC", seq, time_s)
    body = m.FdcHeartbeat("FDC", m.WeaponsControl.FREE, 3, 1, ("L2",))
    payload = codec.encode(header, body)
    return payload, codec.decode(payload)


def test_header_of_reads_the_header_without_the_body() -> None:
    track = m.TrackReport(
        scan_time_s=1.5,
        track_id=np.array([4, 5]),
        state=np.arange(12.0).reshape(2, 6),
        covariance=np.tile(np.eye(6), (2, 1, 1)),
        status=np.array([2, 2]),
        identity=np.array([2, 4]),
        classification=np.array([2, 3]),
        truth_id=("a", "b"),
    )
    for body in (track, m.FdcHeartbeat("FDC", m.WeaponsControl.HOLD), m.OperatorCommand()):
        header = m.Header("R1", 2**40, 123.456789012345)
        assert codec.header_of(codec.encode(header, body)) == header


@pytest.mark.parametrize("payload", [b"", b"\x0a\x05ab", b"\xff", b"\x52\x00", b"\x0b"])
def test_header_of_refuses_garbage(payload: bytes) -> None:
    with pytest.raises(codec.DecodeError):
        codec.header_of(payload)


def test_envelope_schema_is_a_file_descriptor_set() -> None:
    fds = FileDescriptorSet.FromString(codec.envelope_file_descriptor_set())
    (file,) = fds.file
    assert file.package == "bmc.v1"
    assert "Envelope" in [msg.name for msg in file.message_type]
    assert codec.ENVELOPE_SCHEMA == "bmc.v1.Envelope"


def test_exact_times_survive_even_when_the_bus_time_differs_from_the_header(tmp_path: Path) -> None:
    path = tmp_path / "r.mcap"
    times = [0.0, 0.1 + 0.2, 1e-10, 12345.678901234567]
    with Recorder(path, {"x": {"k": "v"}}) as rec:
        for i, t in enumerate(times):
            payload, msg = _msg(t, i + 1)
            rec(t, TOPIC, payload, msg)
        payload, msg = _msg(5.0, 9)
        rec(7.25, TOPIC, payload, msg)  # injected: bus time differs from the header's
    got = list(read_recording(path).messages())
    assert [x.time_s for x in got] == [*times, 7.25]
    assert [x.index for x in got] == list(range(5))
    assert got[1].log_time_ns == 300_000_000
    assert read_recording(path).meta("x") == {"k": "v"}


def test_an_empty_recording_is_complete(tmp_path: Path) -> None:
    path = tmp_path / "empty.mcap"
    Recorder(path).close()
    rec = read_recording(path)
    assert rec.complete and rec.message_count == 0
    assert list(rec.messages()) == []


def test_unwritable_path_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match=r"cannot write recording: Is a directory$"):
        Recorder(tmp_path)


def test_a_write_failure_stops_the_recording_not_the_run(tmp_path: Path, monkeypatch: Any) -> None:
    rec = Recorder(tmp_path / "r.mcap")
    payload, msg = _msg(1.0)
    rec(1.0, TOPIC, payload, msg)

    def full(*_a: Any, **_k: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rec._writer, "add_message", full)
    rec(2.0, TOPIC, payload, msg)  # no exception into the bus
    rec(3.0, TOPIC, payload, msg)
    assert rec.count == 1
    with pytest.raises(RecordingError, match="recording stopped after 1 messages: No space left on device"):
        rec.close()


def test_unknown_compression_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="compression must be zstd, lz4 or none"):
        Recorder(tmp_path / "r.mcap", compression="bzip9")


@pytest.mark.parametrize("compression", ["zstd", "lz4", "none"])
def test_every_compression_reads_back(tmp_path: Path, compression: str) -> None:
    path = tmp_path / f"{compression}.mcap"
    with Recorder(path, compression=compression, chunk_size=256) as rec:
        for i in range(50):
            payload, msg = _msg(i * 0.5, i + 1)
            rec(i * 0.5, TOPIC, payload, msg)
    assert [x.time_s for x in read_recording(path).messages()] == [i * 0.5 for i in range(50)]


def test_set_path_edits_nested_scenario_data() -> None:
    data: dict[str, Any] = {"fdc": {"doctrine": "shoot-look-shoot"}, "launchers": [{"pk": 0.8}, {"pk": 0.7}]}
    set_path(data, "fdc.doctrine=salvo-2")
    set_path(data, "launchers.1.pk=0.5")
    set_path(data, "fdc.weapons_control=tight")
    assert data == {
        "fdc": {"doctrine": "salvo-2", "weapons_control": "tight"},
        "launchers": [{"pk": 0.8}, {"pk": 0.5}],
    }
    for bad in ("fdc.doctrine", "launchers.5.pk=1", "=3", "launchers.x.pk=1"):
        with pytest.raises(ScenarioError, match="--set"):
            set_path(data, bad)
