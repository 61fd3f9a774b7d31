"""Protobuf wire-format pieces built and read with numpy, for columnar batches.

A packed repeated field is, on the wire, a tag, a byte length and the values
back to back: little-endian IEEE for ``double``/``float``, base-128 varints for
integers, enums and bools. Building those bytes from a numpy column (and
reading float columns back with ``np.frombuffer``) costs a few microseconds per
column, where handing the values to protobuf one Python object at a time costs
tens. Nothing here knows the schema: :mod:`protocols.codec` says which field is
which, and tests check the bytes against protobuf's own serialisation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

LENGTH_DELIMITED = 2
"""Wire type of strings, bytes, sub-messages and packed repeated fields."""


def varint(n: int) -> bytes:
    """Base-128 varint of a non-negative integer."""
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(field_number: int, wire_type: int = LENGTH_DELIMITED) -> bytes:
    """The key that starts a field on the wire."""
    return varint((field_number << 3) | wire_type)


def length_delimited(field_tag: bytes, payload: bytes) -> bytes:
    """One length-delimited field: tag, length, payload."""
    return field_tag + varint(len(payload)) + payload


def packed_fixed(field_tag: bytes, values: npt.ArrayLike, dtype: str) -> bytes:
    """A packed ``double`` (``dtype="<f8"``) or ``float`` (``"<f4"``) column; empty -> nothing."""
    raw = np.ascontiguousarray(values, dtype=dtype).tobytes()
    return field_tag + varint(len(raw)) + raw if raw else b""


def packed_small(field_tag: bytes, values: npt.NDArray[Any]) -> bytes | None:
    """A packed column of integers in ``[0, 127]`` (enums, flags) as one-byte varints; empty -> nothing.

    None when a value lies outside: the caller then lets protobuf encode the column
    (multi-byte varints and range rules are its business).
    """
    if values.shape[0] == 0:
        return b""
    if values.min() < 0 or values.max() > 0x7F:
        return None
    raw = values.astype(np.uint8).tobytes()
    return field_tag + varint(len(raw)) + raw


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, next position) of the varint at ``pos``; ValueError when truncated or too long."""
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
