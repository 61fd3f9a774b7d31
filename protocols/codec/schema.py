"""The schema side of the codec: the generated protobuf module (imported here and in the
codec's other modules only), the error every bad payload raises, field tags and index
tables the encoders and decoders share, and the schema as recordings embed it."""

from __future__ import annotations

from typing import Any

import numpy as np
from google.protobuf.descriptor_pb2 import FileDescriptorSet as _FileDescriptorSet

from protocols import messages as m
from protocols import wire
from protocols.generated import bmc_v1_pb2 as pb
from protocols.topics import CHANNELS


def wire_enum(value: int) -> Any:
    """Our IntEnum as a wire enum value. The stubs type enum fields as protobuf's enum
    classes, which are no constructors at run time: an int is what protobuf takes."""
    return int(value)


IU = np.triu_indices(6)


COV_LEN = len(IU[0])  # 21


_CELLS = np.empty((6, 6), dtype=np.intp)


_CELLS[IU] = _CELLS.T[IU] = np.arange(COV_LEN)


SYMMETRIC = _CELLS.ravel()
"""Index into the 21 upper-triangle values of each of the 36 cells of a covariance."""


UPPER = IU[0] * 6 + IU[1]
"""Flat index of the 21 upper-triangle cells among the 36 of a covariance."""


STATE_COLS = ("east_m", "north_m", "up_m", "v_east_mps", "v_north_mps", "v_up_mps")


def field_tags(message: Any) -> dict[str, bytes]:
    """Wire tag of each length-delimited field of ``message``, by field name."""
    return {f.name: wire.tag(f.number) for f in message.DESCRIPTOR.fields}


TRACK_TAG = field_tags(pb.TrackReport)


TRUTH_TAG = field_tags(pb.TruthReport)
PICTURE_TAG = field_tags(pb.AirPicture)


HEADER_TAG = wire.tag(pb.Envelope.DESCRIPTOR.fields_by_name["header"].number)


class DecodeError(ValueError):
    """A payload that is not a valid message of this schema.

    ``reason`` is a short stable key used for drop counters
    (``malformed``, ``schema_version``, ``no_body``, ``bad_columns``, ``bad_value``).
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def v3(v: Any) -> m.Vec3:
    return (v.east, v.north, v.up)


def set_v3(target: Any, v: m.Vec3) -> None:
    target.east, target.north, target.up = v


def finite_state(st: Any) -> Any:
    if not np.isfinite(st).all():
        raise DecodeError("bad_value", "non-finite position or velocity")
    return st


BODY_FIELDS: dict[type, str] = {c.body: c.field for c in CHANNELS.values()}
"""Body class -> name of its field in ``Envelope.body`` (from the channel table)."""


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
