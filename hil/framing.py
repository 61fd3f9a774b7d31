"""Serial frames: ``COBS( type u8 | seq u8 | payload | CRC-32 LE ) 0x00``. Pure: no I/O, no clock.

- ``type`` says which ``bmc.v1.Envelope`` body the payload carries (:data:`FRAME_TYPES`);
- ``seq`` counts frames per direction of one link, wrapping at 256, so a receiver
  counts lost frames (mod 256);
- ``payload`` is the same protobuf ``Envelope`` bytes as on MQTT (header inside);
- the CRC is ``zlib.crc32`` over ``type | seq | payload``, little-endian;
- COBS removes every 0x00 from the frame, so 0x00 only ever delimits frames and a
  receiver resynchronises on the next one after any corruption.

:class:`FrameDecoder` turns an arbitrary byte stream into frames and never raises;
:func:`decode_frame` decodes exactly one frame and raises only :class:`FrameError`.
The byte-by-byte layout and test vectors are in ``hil/README.md`` and
``hil/test_vectors.json``.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from protocols import codec
from protocols import messages as m
from protocols.topics import CHANNELS

MAX_PAYLOAD = 4096
"""Largest payload (protobuf bytes) of one frame; larger frames are refused on both sides."""

HEADER_LEN = 2
CRC_LEN = 4
MAX_BODY = HEADER_LEN + MAX_PAYLOAD + CRC_LEN
"""Largest unstuffed frame: type, seq, payload, CRC."""
MAX_ENCODED = MAX_BODY + MAX_BODY // 254 + 2
"""Largest COBS-encoded frame, without its delimiter."""

DELIMITER = b"\x00"

FRAME_TYPES: dict[str, int] = {c.field: c.frame_type for c in CHANNELS.values()}
"""``Envelope`` body field name -> frame type (from the channel table). Stable: firmware
hard-codes these numbers (each is the body's ``Envelope`` field number minus 9)."""

TYPE_NAMES: dict[int, str] = {v: k for k, v in FRAME_TYPES.items()}


class FrameError(ValueError):
    """Bytes that are not one valid frame. ``reason`` is a stable key:
    ``delimiter``, ``cobs``, ``short``, ``oversize``, ``crc``, ``unknown_type``,
    ``payload`` (not a valid Envelope) or ``type_mismatch`` (body is not what ``type`` says)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame: type (1..255), sequence number (0..255) and payload bytes."""

    type: int
    seq: int
    payload: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.type <= 255:
            raise ValueError(f"frame type must be 0..255 (got {self.type})")
        if not 0 <= self.seq <= 255:
            raise ValueError(f"frame seq must be 0..255 (got {self.seq})")
        if len(self.payload) > MAX_PAYLOAD:
            raise ValueError(f"payload of {len(self.payload)} bytes exceeds {MAX_PAYLOAD}")


# ---------------------------------------------------------------- COBS


def cobs_encode(data: bytes) -> bytes:
    """Consistent Overhead Byte Stuffing: ``data`` without any 0x00 (no delimiter added)."""
    out = bytearray()
    _cobs_into(out, data)
    return bytes(out)


def _cobs_into(out: bytearray, data: bytes) -> None:
    # One block per run between zeros: bytes.split finds them in C, so the Python loop runs
    # once per zero (not once per byte, nor with a find() call of its own per block).
    for block in data.split(b"\x00"):
        while len(block) >= 254:
            # A full 254-byte block (code 0xFF) implies no zero: the rest of the run (maybe
            # nothing) follows in blocks of its own.
            out.append(0xFF)
            out += block[:254]
            block = block[254:]
        out.append(len(block) + 1)
        out += block


def cobs_decode(data: bytes | bytearray) -> bytes:
    """Inverse of :func:`cobs_encode`; raises :class:`FrameError` (``cobs``) on invalid input."""
    if 0 in data:
        raise FrameError("cobs", "0x00 inside a COBS block")
    n = len(data)
    if not n:
        raise FrameError("cobs", "empty COBS block")
    # In place: every code byte but the first becomes the zero it stands for, except after a
    # full block (code 0xFF), which implies none; those and the first code are cut out at the end.
    out = bytearray(data)
    cut: list[int] = []
    i = 0
    code = out[0]
    while True:  # once per block: kept to the bare minimum, it is the decoder's inner loop
        i += code
        if i >= n:
            break
        if code == 0xFF:
            cut.append(i)
        code = out[i]
        out[i] = 0
    if i > n:
        raise FrameError("cobs", f"code {code} at offset {i - code} runs past the end ({n} bytes)")
    for at in reversed(cut):
        del out[at]
    del out[0]
    return bytes(out)


# ---------------------------------------------------------------- frames

_HEAD = struct.Struct("<BB")
_CRC = struct.Struct("<I")


def encode_frame(frame: Frame) -> bytes:
    """The bytes on the wire: COBS-stuffed frame followed by the 0x00 delimiter."""
    body = _HEAD.pack(frame.type, frame.seq) + frame.payload
    out = bytearray()
    _cobs_into(out, body + _CRC.pack(zlib.crc32(body)))
    out.append(0)
    return bytes(out)


def _decode_stuffed(stuffed: bytes | bytearray) -> Frame:
    if len(stuffed) > MAX_ENCODED:
        raise FrameError("oversize", f"{len(stuffed)} stuffed bytes, at most {MAX_ENCODED}")
    body = cobs_decode(stuffed)
    if len(body) < HEADER_LEN + CRC_LEN:
        raise FrameError("short", f"{len(body)} bytes, at least {HEADER_LEN + CRC_LEN} needed")
    if len(body) > MAX_BODY:
        raise FrameError(
            "oversize", f"payload of {len(body) - HEADER_LEN - CRC_LEN} bytes, at most {MAX_PAYLOAD}"
        )
    end = len(body) - CRC_LEN
    (crc,) = _CRC.unpack_from(body, end)
    actual = zlib.crc32(memoryview(body)[:end])
    if actual != crc:
        raise FrameError("crc", f"CRC {crc:08x} does not match {actual:08x}")
    kind, seq = body[0], body[1]
    if kind not in TYPE_NAMES:
        raise FrameError("unknown_type", f"frame type {kind}")
    return Frame(kind, seq, body[HEADER_LEN:end])


def decode_frame(data: bytes) -> Frame:
    """Decode exactly one frame (stuffed bytes plus the trailing 0x00). Raises only :class:`FrameError`."""
    if not data.endswith(DELIMITER):
        raise FrameError("delimiter", "a frame ends with 0x00")
    return _decode_stuffed(bytes(data[:-1]))


# ---------------------------------------------------------------- stream decoder


@dataclass(slots=True)
class DecoderStats:
    """What a :class:`FrameDecoder` saw. Every dropped frame is counted under one reason."""

    frames: int = 0
    """Valid frames delivered."""
    bytes: int = 0
    """Bytes fed."""
    crc_errors: int = 0
    cobs_errors: int = 0
    """Undecodable stuffing, or too short to hold type, seq and CRC."""
    oversize: int = 0
    """Frames longer than the limit (discarded up to the next delimiter)."""
    unknown_type: int = 0
    gaps: int = 0
    """Frames missing by sequence number (mod 256)."""

    @property
    def dropped(self) -> int:
        """Frames received but refused."""
        return self.crc_errors + self.cobs_errors + self.oversize + self.unknown_type

    def as_dict(self) -> dict[str, int]:
        """The counters by name."""
        return {
            "frames": self.frames,
            "bytes": self.bytes,
            "crc_errors": self.crc_errors,
            "cobs_errors": self.cobs_errors,
            "oversize": self.oversize,
            "unknown_type": self.unknown_type,
            "gaps": self.gaps,
        }


@dataclass(slots=True)
class FrameDecoder:
    """Byte stream -> frames, in the manner of pyserial's ``FramedPacket`` protocol object.

    Never raises: a corrupt frame is dropped and counted, and decoding resumes
    after the next 0x00. Bytes beyond :data:`MAX_ENCODED` without a delimiter are
    discarded up to the next one.
    """

    stats: DecoderStats = field(default_factory=DecoderStats)
    _buffer: bytearray = field(default_factory=bytearray)
    _discarding: bool = False
    _expected_seq: int | None = None

    def reset(self) -> None:
        """Forget a partial frame and the sequence baseline (after the link reopens)."""
        self._buffer.clear()
        self._discarding = False
        self._expected_seq = None

    def feed(self, data: bytes) -> list[Frame]:
        """Every complete valid frame in ``data`` (plus what earlier calls left)."""
        return list(self.frames(data))

    def frames(self, data: bytes) -> Iterator[Frame]:
        """The same frames as :meth:`feed`, each decoded only when the iterator reaches it.

        A reader that acts on each frame as it comes (the links) thus answers the first frame
        of a burst before decoding the rest. The bytes are taken in at once; run the iterator
        to its end (frames left in it are neither delivered nor counted)."""
        self.stats.bytes += len(data)
        buf = self._buffer
        buf += data
        chunks: list[bytearray] = []
        discarding = self._discarding
        if 0 in data:  # the buffer never holds a delimiter: only new bytes can complete a frame
            # One split (in C) finds every delimiter; the last piece is the next frame's start.
            *chunks, rest = buf.split(DELIMITER)
            self._buffer = buf = rest
            if discarding:
                del chunks[0]  # the end of the oversize frame being discarded
                discarding = False
        if len(buf) > MAX_ENCODED:
            if not discarding:
                self.stats.oversize += 1
            discarding = True
            buf.clear()
        self._discarding = discarding
        return self._decode_chunks(chunks)

    def _decode_chunks(self, chunks: list[bytearray]) -> Iterator[Frame]:
        for chunk in chunks:
            if chunk:  # empty: idle fill or a leading delimiter
                frame = self._one(chunk)
                if frame is not None:
                    yield frame

    def _one(self, chunk: bytes | bytearray) -> Frame | None:
        s = self.stats
        try:
            frame = _decode_stuffed(chunk)
        except FrameError as exc:
            if exc.reason == "crc":
                s.crc_errors += 1
            elif exc.reason == "oversize":
                s.oversize += 1
            elif exc.reason == "unknown_type":
                s.unknown_type += 1
            else:
                s.cobs_errors += 1
            return None
        s.frames += 1
        if self._expected_seq is not None:
            s.gaps += (frame.seq - self._expected_seq) % 256
        self._expected_seq = (frame.seq + 1) % 256
        return frame


# ---------------------------------------------------------------- messages


def message_frame(seq: int, header: m.Header, body: m.Body) -> bytes:
    """Wire bytes of one message: its ``Envelope`` in a frame of the body's type."""
    kind = FRAME_TYPES[codec.BODY_FIELDS[type(body)]]
    return encode_frame(Frame(kind, seq % 256, codec.encode(header, body)))


def frame_message(frame: Frame) -> m.Message:
    """The message a frame carries. Raises :class:`FrameError` (``payload``, ``type_mismatch``)."""
    try:
        msg = codec.decode(frame.payload)
    except codec.DecodeError as exc:
        raise FrameError("payload", str(exc)) from None
    name = codec.BODY_FIELDS[type(msg.body)]
    if FRAME_TYPES[name] != frame.type:
        raise FrameError("type_mismatch", f"frame type {frame.type} carries a {name}")
    return msg
