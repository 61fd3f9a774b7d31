"""Serial framing: COBS, CRC, the stream decoder, the type table and the test vectors."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hil import vectors
from hil.framing import (
    FRAME_TYPES,
    MAX_ENCODED,
    MAX_PAYLOAD,
    Frame,
    FrameDecoder,
    FrameError,
    cobs_decode,
    cobs_encode,
    decode_frame,
    encode_frame,
    frame_message,
    message_frame,
)
from protocols import codec
from protocols import messages as m

# Pure: bytes in, bytes out; no port is opened here (the pty tests are in test_pi_launcher.py etc.).

frames = st.builds(
    Frame,
    type=st.sampled_from(sorted(FRAME_TYPES.values())),
    seq=st.integers(0, 255),
    payload=st.binary(max_size=600) | st.binary(min_size=250, max_size=MAX_PAYLOAD),
)


@given(st.binary(max_size=2000))
def test_cobs_round_trip_and_no_zero(data: bytes) -> None:
    stuffed = cobs_encode(data)
    assert 0 not in stuffed
    assert cobs_decode(stuffed) == data
    assert len(stuffed) <= len(data) + len(data) // 254 + 1


def _reference_cobs(data: bytes) -> bytes:
    """COBS one byte at a time, as the format reads: a block ends at a zero or after 254 bytes."""
    out = bytearray([0])
    code_at, code = 0, 1
    for byte in data:
        if byte:
            out.append(byte)
            code += 1
        if not byte or code == 0xFF:
            out[code_at] = code
            code_at, code = len(out), 1
            out.append(0)
    out[code_at] = code
    return bytes(out)


# Runs of non-zero bytes up to two full blocks long, with or without a zero after each.
runs = st.lists(st.tuples(st.integers(0, 600), st.booleans()), max_size=6).map(
    lambda rs: b"".join(b"\x11" * n + (b"\x00" if zero else b"") for n, zero in rs)
)


@given(st.binary(max_size=2000) | runs)
def test_cobs_is_byte_for_byte_the_reference(data: bytes) -> None:
    # The encoder works block by block (bytes.split), the decoder in place: both must be exactly
    # the byte-at-a-time algorithm firmware authors implement.
    assert cobs_encode(data) == _reference_cobs(data)
    assert cobs_decode(_reference_cobs(data)) == data


@pytest.mark.parametrize("n", [0, 1, 253, 254, 255, 508, 509])
def test_cobs_block_boundaries(n: int) -> None:
    for data in (b"\x11" * n, b"\x11" * n + b"\x00", b"\x00" * n):
        assert cobs_decode(cobs_encode(data)) == data


@given(frames)
def test_frame_round_trip_and_single_delimiter(frame: Frame) -> None:
    wire = encode_frame(frame)
    assert wire.endswith(b"\x00")
    assert 0 not in wire[:-1]
    assert len(wire) - 1 <= MAX_ENCODED
    assert decode_frame(wire) == frame


@given(st.binary(max_size=3000))
@settings(max_examples=300)
def test_arbitrary_bytes_raise_only_frame_error(data: bytes) -> None:
    try:
        frame = decode_frame(data)
    except FrameError as exc:
        assert exc.reason in {"delimiter", "cobs", "short", "oversize", "crc", "unknown_type"}
    else:
        assert encode_frame(frame) == data


@given(st.lists(st.binary(max_size=700), max_size=8))
@settings(max_examples=300)
def test_stream_decoder_never_raises_and_only_returns_frames_present(chunks: list[bytes]) -> None:
    dec = FrameDecoder()
    stream = b"".join(chunks)
    got: list[Frame] = []
    for chunk in chunks:
        got += dec.feed(chunk)
    for frame in got:
        assert encode_frame(frame)[:-1] in stream
    s = dec.stats
    assert s.frames == len(got)
    assert s.bytes == len(stream)


@given(st.lists(frames, min_size=1, max_size=6), st.lists(st.binary(max_size=80), min_size=7, max_size=7))
@settings(max_examples=200)
def test_resynchronises_on_the_next_delimiter(fs: list[Frame], garbage: list[bytes]) -> None:
    # Garbage between frames, ended by a delimiter: every frame still decodes, in order.
    stream = b"".join(g + b"\x00" + encode_frame(f) for g, f in zip(garbage, fs, strict=False))
    dec = FrameDecoder()
    got = [f for i in range(0, len(stream), 37) for f in dec.feed(stream[i : i + 37])]
    assert [f for f in got if f in fs] == fs


@given(frames, st.data())
@settings(max_examples=300)
def test_any_single_bit_flip_is_refused(frame: Frame, data: st.DataObject) -> None:
    wire = bytearray(encode_frame(frame))
    i = data.draw(st.integers(0, len(wire) - 2))
    wire[i] ^= 1 << data.draw(st.integers(0, 7))
    dec = FrameDecoder()
    # The damaged frame never comes out (nor anything made of its pieces); the clean copy after it does.
    assert dec.feed(bytes(wire) + encode_frame(frame)) == [frame]
    assert dec.stats.dropped >= 1


def test_oversize_is_discarded_up_to_the_next_delimiter() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        Frame(1, 0, bytes(MAX_PAYLOAD + 1))
    good = Frame(8, 1, b"\x01\x02")
    dec = FrameDecoder()
    assert dec.feed(b"\x55" * (MAX_ENCODED + 10)) == []
    assert dec.feed(b"\x55" * 100 + b"\x00" + encode_frame(good)) == [good]
    assert dec.stats.oversize == 1
    with pytest.raises(FrameError) as exc:
        decode_frame(b"\x55" * (MAX_ENCODED + 1) + b"\x00")
    assert exc.value.reason == "oversize"


def test_sequence_gaps_are_counted_mod_256() -> None:
    dec = FrameDecoder()
    seqs = [250, 251, 253, 254, 1, 2]  # 252, 255 and 0 missing
    got = dec.feed(b"".join(encode_frame(Frame(8, s, b"")) for s in seqs))
    assert [f.seq for f in got] == seqs
    assert dec.stats.gaps == 3
    dec.reset()
    dec.feed(encode_frame(Frame(8, 100, b"")))
    assert dec.stats.gaps == 3  # a new baseline after a reset


def test_frames_are_decoded_one_at_a_time() -> None:
    # A link hands the first frame of a burst on before it decodes the next ones.
    burst = [Frame(8, s, bytes([s]) * 40) for s in (1, 2, 3)]
    dec = FrameDecoder()
    it = dec.frames(b"".join(encode_frame(f) for f in burst))
    assert dec.stats.bytes == sum(len(encode_frame(f)) for f in burst)  # the bytes are taken in at once
    assert next(it) == burst[0]
    assert dec.stats.frames == 1
    assert list(it) == burst[1:]
    assert dec.stats.frames == 3
    # A frame split over two reads comes out of the second, as with feed().
    wire = encode_frame(Frame(8, 5, b"abc"))
    assert list(dec.frames(wire[:3])) == []
    assert list(dec.frames(wire[3:])) == [Frame(8, 5, b"abc")]


def test_type_table_covers_every_body_once() -> None:
    assert set(FRAME_TYPES) == set(codec.BODY_FIELDS.values())
    assert sorted(FRAME_TYPES.values()) == list(range(1, 12))


def test_message_frames_round_trip_and_type_mismatch_is_refused() -> None:
    for _name, seq, header, body in vectors._messages():
        msg = frame_message(decode_frame(message_frame(seq, header, body)))
        assert msg.header == header
        assert vectors.jsonable(msg.body) == vectors.jsonable(body)
    payload = codec.encode(m.Header("FDC", 1, 1.0), m.FdcHeartbeat("FDC", m.WeaponsControl.FREE))
    with pytest.raises(FrameError) as exc:
        frame_message(Frame(FRAME_TYPES["fire_order"], 0, payload))
    assert exc.value.reason == "type_mismatch"
    with pytest.raises(FrameError) as exc:
        frame_message(Frame(FRAME_TYPES["fire_order"], 0, b"\xff\xff"))
    assert exc.value.reason == "payload"


def _documented_heartbeat_tag(envelope: bytes, launcher_id: str, key: bytes, boot_nonce: int) -> bytes:
    """The tag as hil/README.md and the .proto define it, from the generated classes and hashlib."""
    from protocols.generated import bmc_v1_pb2 as pb

    env = pb.Envelope.FromString(envelope)
    hb = env.fdc_heartbeat
    del hb.launcher_tags[:]
    data = b"bmc-heartbeat/1\x00" + launcher_id.encode() + b"\x00" + boot_nonce.to_bytes(8, "little")
    return hmac.new(key, data + hb.SerializeToString(deterministic=True), hashlib.sha256).digest()[:16]


def test_vectors_file_is_current_and_decodes_as_documented() -> None:
    on_disk = json.loads(vectors.PATH.read_text(encoding="utf-8"))
    assert on_disk == json.loads(vectors.render()), "regenerate with: python -m hil.vectors --write"
    assert any(v["decoded"]["body"].get("launcher_tags") for v in on_disk["valid"]), "no tagged heartbeat"
    for v in on_disk["valid"]:
        frame = decode_frame(bytes.fromhex(v["frame_hex"]))
        assert (frame.type, frame.seq, frame.payload.hex()) == (v["type"], v["seq"], v["payload_hex"])
        msg = frame_message(frame)
        assert {"header": vectors.jsonable(msg.header), "body": vectors.jsonable(msg.body)} == v["decoded"]
        if isinstance(msg.body, m.FireOrder):
            assert codec.verify_order(msg.body, bytes.fromhex(on_disk["fire_order_key_hex"]))
        if isinstance(msg.body, m.FdcHeartbeat) and msg.body.launcher_tags:
            key = bytes.fromhex(on_disk["fire_order_key_hex"])
            assert (
                _documented_heartbeat_tag(frame.payload, "L1", key, on_disk["heartbeat_boot_nonce"])
                == (dict(msg.body.launcher_tags)["L1"])
            )
            assert codec.verify_heartbeat(msg.body, "L1", key, on_disk["heartbeat_boot_nonce"])
            assert not codec.verify_heartbeat(msg.body, "L1", key, on_disk["heartbeat_boot_nonce"] + 1)
    for v in on_disk["invalid"]:
        with pytest.raises(FrameError) as exc:
            decode_frame(bytes.fromhex(v["frame_hex"]))
        assert exc.value.reason == v["error"]
