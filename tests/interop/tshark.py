"""Interop tests: what we encode is read back by independent decoders.

Wireshark's ``tshark`` is the oracle (installed by ``.ci/run`` and the Makefile, like
mosquitto); ``libasterix`` and ``opendis`` decode the same bytes a second way.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from bmc import testing
from protocols.pcap import Endpoints, write_pcap


def tshark_path() -> str:
    path = shutil.which("tshark")
    if path is None:
        pytest.fail("tshark is not installed (apt-get install tshark; .ci/run installs it)")
    return path


def tshark_fields(
    pcap: Path,
    fields: Sequence[str],
    *,
    decode_as: str | None = None,
    display_filter: str | None = None,
) -> list[dict[str, list[str]]]:
    """One dict per packet: field name -> its values in the packet (several when a datagram
    holds several records). Fails the test on any malformed-packet or error-level expert
    item tshark reports."""
    cmd = [tshark_path(), "-n", "-r", str(pcap), "-T", "fields", "-E", "separator=\t", "-E", "aggregator=;"]
    if decode_as:
        cmd += ["-d", decode_as]
    if display_filter:
        cmd += ["-Y", display_filter]
    for f in ("_ws.malformed", "_ws.expert.severity", *fields):
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    rows: list[dict[str, list[str]]] = []
    for line in out.splitlines():
        cols = line.split("\t")
        malformed, severity, values = cols[0], cols[1], cols[2:]
        assert not malformed, f"tshark: malformed packet {len(rows) + 1}: {line!r}"
        # 8388608 = PI_ERROR (epan/proto.h): a dissector found a field it cannot accept.
        assert "8388608" not in severity.split(";"), f"tshark: error in packet {len(rows) + 1}: {line!r}"
        rows.append({f: (v.split(";") if v else []) for f, v in zip(fields, values, strict=False)})
    return rows


class UdpCapture(testing.UdpCapture):
    """:class:`bmc.testing.UdpCapture` that can write what arrived as a pcap for tshark."""

    def pcap(self, path: Path) -> Path:
        """What arrived so far, as a pcap to this port."""
        write_pcap(path, list(self.datagrams), Endpoints(dst_port=self.port, src_port=self.port))
        return path


def pcap_of(tmp_path: Path, payloads: Iterable[bytes], port: int, name: str = "out.pcap") -> Path:
    """The payloads as UDP datagrams to ``port``, one per millisecond from 2026-01-01."""
    path = tmp_path / name
    t0 = 1_767_225_600 * 10**9
    write_pcap(path, ((t0 + i * 10**6, p) for i, p in enumerate(payloads)), Endpoints(dst_port=port))
    return path
