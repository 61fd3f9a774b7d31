"""Test vectors of the serial frame format, for firmware authors checking their own implementation.

    python -m hil.vectors            # print the vectors as JSON
    python -m hil.vectors --write    # regenerate hil/test_vectors.json

Each valid vector gives the frame on the wire (hex, delimiter included), its
type, sequence number, payload (hex) and CRC, and the decoded message. Each
invalid vector gives bytes a receiver must refuse and the reason
(:class:`hil.framing.FrameError`). A test checks the file against this module.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import struct
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from hil.framing import FRAME_TYPES, TYPE_NAMES, Frame, cobs_encode, encode_frame, message_frame
from protocols import codec
from protocols import messages as m

PATH = Path(__file__).with_name("test_vectors.json")

TEST_KEY = bytes(range(1, 33))
"""L1's fire-order key in the vectors, bytes 0x01..0x20 (never use it on a rig): the fire
order's HMAC and the heartbeat's tag for L1 are made with it."""

TEST_NONCE = 0x0123456789ABCDEF
"""L1's boot nonce the vectors' heartbeat is tagged for."""


def jsonable(value: Any) -> Any:
    """A message (or part of one) as plain JSON values: enums by name, arrays as lists, bytes as hex."""
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {"kind": type(value).__name__} if not isinstance(value, (m.Header, m.Message)) else {}
        out.update({f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)})
        return out
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    return value


def _messages() -> list[tuple[str, int, m.Header, m.Body]]:
    order = codec.sign_order(
        m.FireOrder(
            order_id="FDC-00001",
            launcher_id="L1",
            target_track_id=7,
            target_position_m=(9000.0, 6750.0, 300.0),
            target_velocity_mps=(-48.0, -36.0, 0.0),
            intercept_point_m=(6000.0, 4500.0, 300.0),
            intercept_time_s=112.5,
            rounds=1,
            issued_time_s=50.0,
            expiry_time_s=60.0,
        ),
        TEST_KEY,
    )
    cov = np.zeros((1, 6, 6))
    cov[0, :3, :3] = np.diag([900.0, 1600.0, 2500.0])
    return [
        (
            "fdc heartbeat (tagged for L1 with TEST_KEY)",
            0,
            m.Header("FDC", 1, 1.0),
            codec.sign_heartbeat(
                m.FdcHeartbeat("FDC", m.WeaponsControl.FREE, 0, 0, (), 1.0),
                {"L1": TEST_KEY},
                {"L1": TEST_NONCE},
            ),
        ),
        ("fire order (signed with TEST_KEY)", 1, m.Header("FDC", 3, 50.0), order),
        (
            "engagement status ACCEPTED",
            0,
            m.Header("L1", 1, 50.25),
            m.EngagementStatus("FDC-00001", "L1", m.EngagementState.ACCEPTED),
        ),
        (
            "engagement status LAUNCHED",
            1,
            m.Header("L1", 2, 52.25),
            m.EngagementStatus(
                "FDC-00001",
                "L1",
                m.EngagementState.LAUNCHED,
                "",
                1,
                (500.0, 0.0, 0.0),
                (9000.0, 6750.0, 300.0),
                (-48.0, -36.0, 0.0),
                50.0,
                "L1-M001",
            ),
        ),
        (
            "launcher status",
            2,
            m.Header("L1", 4, 1.5),
            m.LauncherStatus("L1", m.LauncherState.READY, 6, (500.0, 0.0, 0.0), "FDC heartbeat received"),
        ),
        (
            "device beacon (node state)",
            3,
            m.Header("L1", 9, 0.0),
            m.NodeState("L1", "launcher", m.NodeStatus.BIRTH, 1_700_000_000_000),
        ),
        (
            "sensor stimulation (truth relative to the antenna)",
            4,
            m.Header("R1", 1, 10.0),
            m.TruthReport(
                object_id=("T1",),
                kind=np.array([m.Classification.DRONE], dtype=np.int64),
                friendly=np.array([False]),
                iff=np.array([False]),
                rcs_m2=np.array([0.5]),
                status=np.array([m.ObjectStatus.ACTIVE], dtype=np.int64),
                state=np.array([[11400.0, 8050.0, 285.0, -48.0, -36.0, 0.0]]),
            ),
        ),
        (
            "sensor plots (track_id 0)",
            5,
            m.Header("R1", 1, 10.0),
            m.TrackReport(
                scan_time_s=10.0,
                track_id=np.zeros(1, dtype=np.int64),
                state=np.array([[11410.0, 8040.0, 290.0, 0.0, 0.0, 0.0]]),
                covariance=cov,
                status=np.array([m.TrackStatus.TENTATIVE], dtype=np.int64),
                identity=np.array([m.Identity.PENDING], dtype=np.int64),
                classification=np.array([m.Classification.UNKNOWN], dtype=np.int64),
                truth_id=("T1",),
            ),
        ),
        (
            "sequence number wraps after 255",
            255,
            m.Header("FDC", 300, 299.0),
            m.FdcHeartbeat("FDC", m.WeaponsControl.HOLD),
        ),
    ]


def _valid(name: str, seq: int, header: m.Header, body: m.Body) -> dict[str, Any]:
    wire = message_frame(seq, header, body)
    payload = codec.encode(header, body)
    kind = codec.BODY_FIELDS[type(body)]
    unstuffed = struct.pack("<BB", FRAME_TYPES[kind], seq) + payload
    return {
        "name": name,
        "type": FRAME_TYPES[kind],
        "type_name": kind,
        "seq": seq,
        "payload_hex": payload.hex(),
        "crc32_hex": f"{zlib.crc32(unstuffed):08x}",
        "unstuffed_hex": (unstuffed + struct.pack("<I", zlib.crc32(unstuffed))).hex(),
        "frame_hex": wire.hex(),
        "decoded": {"header": jsonable(header), "body": jsonable(body)},
    }


def _invalid() -> list[dict[str, Any]]:
    heartbeat = codec.encode(m.Header("FDC", 1, 1.0), m.FdcHeartbeat("FDC", m.WeaponsControl.FREE))
    good = bytearray(encode_frame(Frame(FRAME_TYPES["fdc_heartbeat"], 0, heartbeat)))
    bad_crc = bytearray(good)
    bad_crc[5] ^= 0x01
    unknown = struct.pack("<BB", 200, 0) + b"\x01\x02"
    unknown_frame = cobs_encode(unknown + struct.pack("<I", zlib.crc32(unknown))) + b"\x00"
    bad_code = bytearray(good)
    bad_code[0] = 0xFE  # the first COBS block now claims to run past the end
    return [
        {"name": "one bit flipped in the payload", "frame_hex": bytes(bad_crc).hex(), "error": "crc"},
        {"name": "COBS code runs past the end", "frame_hex": bytes(bad_code).hex(), "error": "cobs"},
        {"name": "too short for type, seq and CRC", "frame_hex": "03010200", "error": "short"},
        {"name": "unknown frame type 200", "frame_hex": unknown_frame.hex(), "error": "unknown_type"},
        {"name": "no delimiter at the end", "frame_hex": bytes(good[:-1]).hex(), "error": "delimiter"},
    ]


def vectors() -> dict[str, Any]:
    """All vectors, as written to ``hil/test_vectors.json``."""
    return {
        "format": "COBS(type u8 | seq u8 | payload | CRC-32 little-endian over type|seq|payload) 0x00",
        "types": {str(k): v for k, v in sorted(TYPE_NAMES.items())},
        "fire_order_key_hex": TEST_KEY.hex(),
        "heartbeat_boot_nonce": TEST_NONCE,
        "valid": [_valid(*case) for case in _messages()],
        "invalid": _invalid(),
    }


def render() -> str:
    """The JSON text of the vectors file."""
    return json.dumps(vectors(), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the vectors, or write them with ``--write``."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--write"]:
        PATH.write_text(render(), encoding="utf-8")
        print(f"wrote {PATH}")
        return 0
    if args:
        print("usage: python -m hil.vectors [--write]", file=sys.stderr)
        return 2
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
