"""Message logs: the canonical record of one published message."""

from __future__ import annotations

import struct


def log_record(time_s: float, topic: str, payload: bytes) -> bytes:
    """Canonical bytes of one message-log entry, as hashed into the run digest:
    time (float64 LE), topic length (u32 LE), topic UTF-8, payload length (u32 LE), payload."""
    t = topic.encode("utf-8")
    return struct.pack("<dI", time_s, len(t)) + t + struct.pack("<I", len(payload)) + payload
