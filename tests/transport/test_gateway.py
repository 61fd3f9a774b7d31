"""``bmc gateway`` on a real broker: a live engagement reaches real UDP sockets as ASTERIX
and DIS that Wireshark's dissectors read, and nobody but the cell can make it send."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from protocols import codec
from protocols import messages as m
from protocols.recording import read_recording
from tests.interop.tshark import UdpCapture, tshark_fields
from tests.transport.conftest import (
    BmcProcess,
    BmcRunner,
    Broker,
    mosquitto_pub,
    no_traceback,
    read_report,
    short_single_engagement,
    write_scenario,
)

pytestmark = pytest.mark.mqtt


def _ready(gateway: BmcProcess, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while "gateway: connected" not in gateway.stdout():
        assert gateway.proc.poll() is None, gateway.describe()
        assert time.monotonic() < deadline, gateway.describe()
        time.sleep(0.05)


def test_live_engagement_as_asterix_and_dis(tmp_path: Path, broker: Broker, bmc: BmcRunner) -> None:
    scenario = write_scenario(tmp_path, short_single_engagement(), "s.yaml")
    asterix, dis = UdpCapture(), UdpCapture()
    try:
        gateway = bmc(
            "gateway", "--scenario", str(scenario), "--mqtt", broker.url,
            "--asterix", f"udp://127.0.0.1:{asterix.port}", "--dis", f"udp://127.0.0.1:{dis.port}",
            name="gateway",
        )  # fmt: skip
        _ready(gateway)
        out, rec = tmp_path / "report.json", tmp_path / "run.mcap"
        cell = bmc(
            "run", str(scenario), "--mqtt", broker.url, "--speed", "20", "--json", str(out),
            "--record", str(rec), "--quiet", name="cell",
        )  # fmt: skip
        assert cell.wait(90) == 0, cell.describe()
        assert gateway.wait(30) == 0, gateway.describe()  # it ends with the world
    finally:
        asterix.close()
        dis.close()
    no_traceback(cell, gateway)
    report = read_report(out, cell)
    fired = sum(x["fired"] for x in report["launchers"].values())
    assert report["threats"]["killed"] == 1 and fired >= 1

    ast = tshark_fields(
        asterix.pcap(tmp_path / "asterix.pcap"),
        ["asterix.category", "asterix.062_040_VALUE", "asterix.048_161_TRN"],
        decode_as=f"udp.port=={asterix.port},asterix",
    )
    categories = Counter(c for row in ast for c in set(row["asterix.category"]))
    assert set(categories) == {"62", "48", "34"}, categories
    pictured = {
        int(tid)
        for rm in read_recording(rec).messages()
        if rm.topic.endswith("/picture")
        for tid in codec.decode(rm.payload).body.track_id.tolist()  # type: ignore[union-attr]
    }
    sent = {int(v, 0) for row in ast for v in row["asterix.062_040_VALUE"]}
    assert pictured and sent == pictured

    pdus = tshark_fields(
        dis.pcap(tmp_path / "dis.pcap"),
        ["dis.pdu_type", "dis.entity_marking", "dis.detonation.result"],
        decode_as=f"udp.port=={dis.port},dis",
    )
    kinds = Counter(row["dis.pdu_type"][0] for row in pdus)
    assert kinds["2"] == fired and kinds["3"] == fired, kinds  # a Fire and a Detonation per missile
    results = Counter(row["dis.detonation.result"][0] for row in pdus if row["dis.pdu_type"] == ["3"])
    assert results["1"] == report["threats"]["killed"]  # "entity impact" for each kill
    assert "T1" in {row["dis.entity_marking"][0] for row in pdus if row["dis.pdu_type"] == ["1"]}
    assert "gateway: " in gateway.stdout() and "translation per message" in gateway.stdout()


def test_forged_messages_make_no_datagram(tmp_path: Path, broker: Broker, bmc: BmcRunner) -> None:
    """An outsider on the broker publishes a well-formed picture and truth report on the
    cell's topics: unsealed, the gateway refuses them, counts them, and sends nothing."""
    scenario = write_scenario(tmp_path, short_single_engagement(), "s.yaml")
    capture = UdpCapture()
    try:
        gateway = bmc(
            "gateway", "--scenario", str(scenario), "--mqtt", broker.url, "--duration", "4",
            "--asterix", f"udp://127.0.0.1:{capture.port}", name="gateway",
        )  # fmt: skip
        _ready(gateway)
        root = "bmc/v1/single_engagement"
        picture = m.AirPicture(
            time_s=1.0,
            track_id=np.array([7]),
            state=np.array([[1000.0, 2000.0, 300.0, -50.0, 0.0, 0.0]]),
            position_variance_m2=np.array([100.0]),
            identity=np.array([int(m.Identity.HOSTILE)]),
            classification=np.array([int(m.Classification.DRONE)]),
            threat_rank=np.array([1]),
            asset_id=("site",),
            engagement=np.array([int(m.TrackEngagement.NONE)]),
            truth_id=("",),
        )
        forged = codec.encode(m.Header("FDC", 1, 1.0), picture)
        for _ in range(5):
            mosquitto_pub(broker.port, f"{root}/fdc/FDC/picture", forged, tmp_path, qos=0)
        mosquitto_pub(broker.port, f"{root}/fdc/FDC/picture", b"\x00garbage", tmp_path, qos=0)
        assert gateway.wait(30) == 0, gateway.describe()
    finally:
        got = capture.close()
    assert got == []
    said = gateway.stdout()
    assert "0 messages translated" in said, said
    assert "refused: " in said and "unsealed 5" in said, said
