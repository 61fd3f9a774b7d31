"""Classic pcap files of UDP datagrams, for Wireshark and ``tshark``.

``bmc export`` writes a recorded engagement's ASTERIX or DIS datagrams this way, and
the interop tests hand what the encoders make to ``tshark`` through it. The format is
the original libpcap one (magic ``0xa1b2c3d4``, version 2.4, microsecond timestamps,
link type 1 = Ethernet), which every capture tool reads; each datagram is wrapped in
an Ethernet II, IPv4 (header checksum filled) and UDP (checksum 0 = not computed,
RFC 768) header.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

LINKTYPE_ETHERNET = 1
SNAPLEN = 65535
MAX_PAYLOAD = SNAPLEN - 14 - 20 - 8
"""Largest UDP payload a frame can hold here (IPv4 without options)."""

_GLOBAL = struct.Struct("<IHHiIII")
_RECORD = struct.Struct("<IIII")
_ETH = struct.Struct("!6s6sH")
_IP = struct.Struct("!BBHHHBBH4s4s")
_UDP = struct.Struct("!HHHH")


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Addresses the frames claim (documentation ranges: nothing real is named)."""

    src_ip: str = "192.0.2.1"
    dst_ip: str = "192.0.2.2"
    src_port: int = 50000
    dst_port: int = 8600

    def __post_init__(self) -> None:
        for name in ("src_port", "dst_port"):
            port = getattr(self, name)
            if not 0 < port < 65536:
                raise ValueError(f"{name}: a UDP port is 1..65535 (got {port})")
        for name in ("src_ip", "dst_ip"):
            _ip(getattr(self, name), name)


def _ip(text: str, name: str = "address") -> bytes:
    parts = text.split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
        raise ValueError(f"{name}: not an IPv4 address: {text!r}")
    return bytes(int(p) for p in parts)


def _checksum(header: bytes) -> int:
    total: int = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def frame(payload: bytes, ends: Endpoints, ident: int = 0) -> bytes:
    """``payload`` as an Ethernet/IPv4/UDP frame from ``ends.src_*`` to ``ends.dst_*``."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"UDP payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    udp = _UDP.pack(ends.src_port, ends.dst_port, 8 + len(payload), 0)
    total = 20 + len(udp) + len(payload)
    src, dst = _ip(ends.src_ip), _ip(ends.dst_ip)
    ip = _IP.pack(0x45, 0, total, ident & 0xFFFF, 0x4000, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    eth = _ETH.pack(b"\x02\x00\x00\x00\x00\x02", b"\x02\x00\x00\x00\x00\x01", 0x0800)
    return eth + ip + udp + payload


class PcapWriter:
    """Writes datagrams, each with its capture time, to an open binary file."""

    def __init__(self, out: BinaryIO, ends: Endpoints | None = None) -> None:
        self._out = out
        self._ends = ends or Endpoints()
        self._count = 0
        out.write(_GLOBAL.pack(0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET))

    @property
    def count(self) -> int:
        """Datagrams written."""
        return self._count

    def write(self, time_ns: int, payload: bytes, ends: Endpoints | None = None) -> None:
        """One datagram captured at ``time_ns`` (ns since the Unix epoch, >= 0)."""
        if time_ns < 0:
            raise ValueError(f"capture time before the Unix epoch: {time_ns} ns")
        data = frame(payload, ends or self._ends, self._count)
        sec, usec = divmod(time_ns // 1000, 1_000_000)
        if sec > 0xFFFFFFFF:
            raise ValueError(f"capture time beyond the pcap format's year 2106: {time_ns} ns")
        self._out.write(_RECORD.pack(sec, usec, len(data), len(data)) + data)
        self._count += 1


def write_pcap(
    path: str | Path, datagrams: Iterable[tuple[int, bytes]], ends: Endpoints | None = None
) -> int:
    """Write ``(time_ns, payload)`` datagrams to ``path``; returns how many."""
    with open(path, "wb") as f:
        writer = PcapWriter(f, ends)
        for time_ns, payload in datagrams:
            writer.write(time_ns, payload)
        return writer.count
