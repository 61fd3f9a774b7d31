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

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

LENGTH_DELIMITED = 2
"""Wire type of strings, bytes, sub-messages and packed repeated fields."""


def varint(n: int) -> bytes:
    """Base-128 varint of a non-negative integer."""
    # Tags and the lengths of batch columns: one or two bytes, without the loop.
    if 0 <= n < 0x80:
        return bytes((n,))
    if 0 <= n < 0x4000:
        return bytes((n & 0x7F | 0x80, n >> 7))
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


def packed_fixed_columns(field_tags: Sequence[bytes], table: npt.NDArray[Any], dtype: str) -> list[bytes]:
    """Column ``i`` of a 2-D ``table`` as :func:`packed_fixed` with ``field_tags[i]``, for every column.

    One transposing copy of the whole table instead of one per column: numpy's
    per-call overhead, not the copying, is the cost at a few hundred rows.
    """
    if table.shape[1] != len(field_tags):
        raise ValueError(f"{len(field_tags)} tags for {table.shape[1]} columns")
    raw = np.ascontiguousarray(table.T, dtype=dtype).tobytes()
    if not raw:
        return [b""] * len(field_tags)
    size = len(raw) // len(field_tags)
    head = varint(size)
    return [t + head + raw[i * size : (i + 1) * size] for i, t in enumerate(field_tags)]


def packed_small_columns(
    field_tags: Sequence[bytes], columns: Sequence[npt.NDArray[Any]]
) -> list[bytes] | None:
    """:func:`packed_small` of each column with its tag, all or nothing: None when any value lies
    outside ``[0, 127]``. The columns are checked and converted together, in a few numpy calls."""
    lengths = [c.shape[0] for c in columns]
    values = np.concatenate(columns)
    if values.shape[0] == 0:
        return [b""] * len(columns)
    if values.dtype == np.int64:
        # Seen as unsigned, a negative value is huge: one reduction checks both ends.
        if np.maximum.reduce(values.view(np.uint64)) > 0x7F:
            return None
    elif values.min() < 0 or values.max() > 0x7F:
        return None
    raw = values.astype(np.uint8).tobytes()
    out = []
    start = 0
    for t, n in zip(field_tags, lengths, strict=True):
        out.append(t + varint(n) + raw[start : start + n] if n else b"")
        start += n
    return out


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
