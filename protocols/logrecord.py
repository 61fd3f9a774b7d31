"""One entry of the message log, as the run digest hashes it and recordings keep it. Pure:
the digest (``bmc.engine.metrics``) needs this format and nothing of the recording machinery."""

from __future__ import annotations

import struct


def log_record(time_s: float, topic: str, payload: bytes) -> bytes:
    """Canonical bytes of one message-log entry, as hashed into the run digest:
    time (float64 LE), topic length (u32 LE), topic UTF-8, payload length (u32 LE), payload."""
    return log_record_head(time_s, topic, len(payload)) + payload


def log_record_head(time_s: float, topic: str, payload_size: int) -> bytes:
    """:func:`log_record` up to its payload: a hash can take the payload after it without
    copying both into one buffer first."""
    t = topic.encode("utf-8")
    return struct.pack("<dI", time_s, len(t)) + t + struct.pack("<I", payload_size)
