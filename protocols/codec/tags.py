"""Authentication tags carried inside messages: a fire order's (HMAC-SHA256 keyed per
launcher, over the order's canonical bytes) and a heartbeat's (one tag per launcher)."""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Mapping
from dataclasses import replace

from protocols import messages as m
from protocols.codec.reference import fill_fire_order, fill_heartbeat
from protocols.generated import bmc_v1_pb2 as pb


def order_tag(order: m.FireOrder, key: bytes) -> bytes:
    """HMAC-SHA256 over the canonical bytes of ``order`` with an empty tag."""
    p = pb.FireOrder()
    fill_fire_order(p, order)
    p.auth_tag = b""
    return hmac.new(key, p.SerializeToString(deterministic=True), hashlib.sha256).digest()


def sign_order(order: m.FireOrder, key: bytes) -> m.FireOrder:
    """Return ``order`` with its authentication tag set."""
    return replace(order, auth_tag=order_tag(order, key))


def verify_order(order: m.FireOrder, key: bytes) -> bool:
    """True when ``order`` carries the right tag for ``key`` (constant-time compare)."""
    return hmac.compare_digest(order.auth_tag, order_tag(order, key))


HEARTBEAT_TAG_LEN = 16
"""Bytes of a heartbeat's tag per launcher (128 bits: a forger's chance per try is 2**-128)."""


_HEARTBEAT_DOMAIN = b"bmc-heartbeat/1\x00"


def _heartbeat_content(heartbeat: m.FdcHeartbeat) -> bytes:
    p = pb.FdcHeartbeat()
    fill_heartbeat(p, replace(heartbeat, launcher_tags=()))
    return bytes(p.SerializeToString(deterministic=True))


def _heartbeat_tag(content: bytes, launcher_id: str, key: bytes, boot_nonce: int) -> bytes:
    data = b"".join(
        (_HEARTBEAT_DOMAIN, launcher_id.encode("utf-8"), b"\x00", struct.pack("<Q", boot_nonce), content)
    )
    return hmac.digest(key, data, "sha256")[:HEARTBEAT_TAG_LEN]


def heartbeat_tag(heartbeat: m.FdcHeartbeat, launcher_id: str, key: bytes, boot_nonce: int = 0) -> bytes:
    """The tag proving ``heartbeat`` to launcher ``launcher_id``: HMAC-SHA256 (first
    :data:`HEARTBEAT_TAG_LEN` bytes) with its fire-order key over a domain string, the
    launcher id, its boot nonce and the heartbeat's canonical bytes without tags. The
    fire-order key is the one secret a device shares with its FDC and not with the bridge
    relaying to it; the nonce makes a heartbeat recorded before the device booted useless."""
    return _heartbeat_tag(_heartbeat_content(heartbeat), launcher_id, key, boot_nonce)


def sign_heartbeat(
    heartbeat: m.FdcHeartbeat, keys: Mapping[str, bytes], boot_nonces: Mapping[str, int] | None = None
) -> m.FdcHeartbeat:
    """``heartbeat`` with one tag per launcher of ``keys`` (launcher id -> fire-order key), in
    id order, each for that launcher's boot nonce (``boot_nonces``, default 0)."""
    nonces = boot_nonces or {}
    content = _heartbeat_content(heartbeat)  # once: only the launcher part differs per tag
    tags = tuple((lid, _heartbeat_tag(content, lid, keys[lid], nonces.get(lid, 0))) for lid in sorted(keys))
    return replace(heartbeat, launcher_tags=tags)


def verify_heartbeat(heartbeat: m.FdcHeartbeat, launcher_id: str, key: bytes, boot_nonce: int = 0) -> bool:
    """True when ``heartbeat`` carries the right tag for ``launcher_id`` booted with
    ``boot_nonce`` (constant-time compare)."""
    expected = heartbeat_tag(heartbeat, launcher_id, key, boot_nonce)
    found = [tag for lid, tag in heartbeat.launcher_tags if lid == launcher_id]
    return len(found) == 1 and hmac.compare_digest(found[0], expected)
