"""protocols.pcap: the classic pcap format, frames tshark accepts (IPv4 checksum checked)."""

from __future__ import annotations

import io
import struct
import subprocess
from pathlib import Path

import pytest

from protocols.pcap import MAX_PAYLOAD, Endpoints, PcapWriter, frame, write_pcap
from tests.interop.tshark import tshark_path


def test_global_and_record_headers() -> None:
    out = io.BytesIO()
    w = PcapWriter(out, Endpoints(dst_port=9))
    w.write(1_767_225_600 * 10**9 + 123_456_789, b"abc")
    data = out.getvalue()
    assert struct.unpack_from("<IHHiIII", data, 0) == (0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    sec, usec, incl, orig = struct.unpack_from("<IIII", data, 24)
    assert (sec, usec) == (1_767_225_600, 123_456)  # microseconds, truncated
    assert incl == orig == 14 + 20 + 8 + 3 == len(data) - 40
    assert w.count == 1


def test_tshark_reads_addresses_ports_and_a_valid_ip_checksum(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    ends = Endpoints("10.1.2.3", "10.4.5.6", 1234, 4321)
    assert write_pcap(path, [(10**9, b"hello"), (2 * 10**9, b"")], ends) == 2
    out = subprocess.run(
        [tshark_path(), "-n", "-r", str(path), "-o", "ip.check_checksum:TRUE", "-T", "fields",
         "-e", "ip.src", "-e", "ip.dst", "-e", "udp.srcport", "-e", "udp.dstport", "-e", "udp.length",
         "-e", "ip.checksum.status", "-e", "frame.time_epoch"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.splitlines()  # fmt: skip
    assert [line.split("\t")[:6] for line in out] == [
        ["10.1.2.3", "10.4.5.6", "1234", "4321", "13", "1"],  # checksum status 1 = good
        ["10.1.2.3", "10.4.5.6", "1234", "4321", "8", "1"],
    ]
    assert [float(line.split("\t")[6]) for line in out] == [1.0, 2.0]


def test_bad_input_is_refused_with_the_value_quoted() -> None:
    with pytest.raises(ValueError, match=r"dst_port: a UDP port is 1\.\.65535 \(got 0\)"):
        Endpoints(dst_port=0)
    with pytest.raises(ValueError, match=r"not an IPv4 address: '300\.1\.1\.1'"):
        Endpoints(src_ip="300.1.1.1")
    with pytest.raises(ValueError, match="exceeds"):
        frame(bytes(MAX_PAYLOAD + 1), Endpoints())
    with pytest.raises(ValueError, match="before the Unix epoch"):
        PcapWriter(io.BytesIO()).write(-1, b"")
