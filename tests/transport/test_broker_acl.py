"""The broker configuration `bmc broker-config --acl` writes, on a real Mosquitto: no
anonymous client, a node publishing outside its topics refused (MQTT 5 reason 0x87) and
unseen, and a split cell under the ACL with the virtual run's outcome."""

from __future__ import annotations

import contextlib
import os
import pwd
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bmc.cli import main
from tests.transport.conftest import (
    HOST,
    BmcRunner,
    Broker,
    _client_tool,
    external,
    no_traceback,
    read_report,
    short_single_engagement,
    virtual_report,
    write_scenario,
)

pytestmark = pytest.mark.mqtt


def _acl_broker(tmp_path: Path, tls: bool) -> Iterator[tuple[Broker, Path, dict[str, Any]]]:
    """A Mosquitto running the generated configuration of a split cell (L1 external)."""
    data = external(short_single_engagement(), "L1")
    data["name"] = "acl_cell"
    (tmp_path / "broker").mkdir()
    b = Broker(tmp_path / "broker")
    # Mosquitto reads its password, ACL and key files after dropping to its own user: outside
    # the test's private tmp directory (the files hold hashes, topics and certificates).
    public = Path(tempfile.mkdtemp(prefix="bmc-acl-"))
    os.chmod(public, 0o755)
    out = public / "conf"
    # The README's command (its synopsis, with this test's scenario and port).
    scenario = write_scenario(tmp_path, data, "acl.yaml")
    args = ["broker-config", "--scenario", str(scenario), "--acl", "--out", str(out), "--port", str(b.port)]
    assert main(args + (["--tls"] if tls else [])) == 0
    os.chmod(out, 0o755)
    if tls:
        # As the generated configuration says: the broker's key belongs to the broker's user.
        with contextlib.suppress(KeyError):
            os.chown(out / "tls" / "server.key", pwd.getpwnam("mosquitto").pw_uid, -1)
        b.url = f"mqtts://127.0.0.1:{b.port}"
    b.conf.write_text((out / "mosquitto.conf").read_text(encoding="utf-8"), encoding="utf-8")
    b.start()
    try:
        yield b, out, data
    finally:
        b.stop()
        subprocess.run(["rm", "-rf", str(public)], check=False)


@pytest.fixture
def acl_broker(tmp_path: Path) -> Iterator[tuple[Broker, Path, dict[str, Any]]]:
    yield from _acl_broker(tmp_path, tls=False)


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Broker, Path, dict[str, Any]]]:
    yield from _acl_broker(tmp_path, tls=True)


def _password(out: Path, who: str) -> str:
    return (out / "clients" / f"{who}.password").read_text(encoding="utf-8").strip()


def _pub(b: Broker, topic: str, *login: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_client_tool("mosquitto_pub"), "-h", HOST, "-p", str(b.port), "-V", "mqttv5", "-q", "1", "-d",
         "-t", topic, "-m", "x", *login],
        capture_output=True, text=True, timeout=20,
    )  # fmt: skip


def test_no_anonymous_client_and_no_publication_outside_a_nodes_topics(
    acl_broker: tuple[Broker, Path, dict[str, Any]],
) -> None:
    b, out, data = acl_broker
    root = f"bmc/v1/{data['name']}"
    assert (out / "clients").stat().st_mode & 0o777 == 0o700
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in (out / "clients").iterdir())
    assert _password(out, "L1") not in (out / "passwords").read_text()  # hashes only
    anonymous = _pub(b, f"{root}/launcher/L1/status")
    assert anonymous.returncode != 0 and "received CONNACK (135)" in anonymous.stdout, anonymous.stdout

    # The monitor's login reads everything under the root: it must see nothing of the refused one.
    login = ("-u", "monitor", "-P", _password(out, "monitor"))
    monitor = subprocess.Popen(
        [_client_tool("mosquitto_sub"), "-h", HOST, "-p", str(b.port), *login,
         "-t", f"{root}/#", "-v", "-W", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(0.5)
    l1 = ("-u", "L1", "-P", _password(out, "L1"))
    own = _pub(b, f"{root}/launcher/L1/status", *l1)
    forged = _pub(b, f"{root}/fdc/FDC/heartbeat", *l1)
    order = _pub(b, f"{root}/launcher/L1/order", *l1)  # only the FDC may write orders
    seen, _ = monitor.communicate(timeout=10)
    assert "received PUBACK (Mid: 1, RC:0)" in own.stdout, own.stdout
    for refused in (forged, order):
        assert "RC:135" in refused.stdout, refused.stdout  # 0x87 not authorised
    lines = seen.splitlines()
    assert f"{root}/launcher/L1/status x" in lines, lines
    assert not [line for line in lines if "heartbeat" in line or "/order" in line], lines


def _split_cell(
    tmp_path: Path, b: Broker, out: Path, data: dict[str, Any], bmc: BmcRunner, *tls: str
) -> None:
    path = write_scenario(tmp_path, data, "acl.yaml")
    simulated = {**data, "launchers": [{**x, "external": False} for x in data["launchers"]]}
    virtual = virtual_report(bmc, write_scenario(tmp_path, simulated, "virtual.yaml"), tmp_path / "v.json")
    keys = tmp_path / "keys"
    assert bmc.run("keys", "init", str(path), "--out", str(keys), timeout_s=60).proc.returncode == 0
    common = (
        "--mqtt",
        b.url,
        *tls,
        "--speed",
        "20",
        "--keys",
        str(keys),
        "--credentials",
        str(out / "clients"),
    )
    l1 = bmc("node", "L1", "--scenario", str(path), *common, name="L1")
    report_path = tmp_path / "report.json"
    cell = bmc("run", str(path), *common, "--json", str(report_path), "--quiet", name="cell")
    assert cell.wait(90) == 0, cell.describe()
    assert l1.wait(30) == 0, l1.describe()
    no_traceback(cell, l1)
    report = read_report(report_path, cell)
    assert (report["threats"], report["missiles_fired"]) == (virtual["threats"], virtual["missiles_fired"])
    assert report["realtime"]["rejected_by_topic"] == {}, report["realtime"]
    assert "not authorised" not in b.log().lower(), b.log()[-2000:]


def test_split_cell_under_the_acl_gives_the_virtual_outcome(
    tmp_path: Path, acl_broker: tuple[Broker, Path, dict[str, Any]], bmc: BmcRunner
) -> None:
    _split_cell(tmp_path, *acl_broker, bmc)


def test_split_cell_over_tls_with_a_certificate_per_node_gives_the_virtual_outcome(
    tmp_path: Path, tls_broker: tuple[Broker, Path, dict[str, Any]], bmc: BmcRunner
) -> None:
    b, out, data = tls_broker
    assert "require_certificate true" in b.conf.read_text()
    assert (out / "tls" / "server.key").stat().st_mode & 0o777 == 0o600
    assert not (out / "tls" / "ca.key").exists()  # nobody can issue another certificate
    # Without a client certificate the broker lets nobody in, password or not.
    login = ("-u", "L1", "-P", _password(out, "L1"), "--cafile", str(out / "tls" / "ca.crt"))
    refused = _pub(b, "bmc/v1/acl_cell/launcher/L1/status", *login)
    assert refused.returncode != 0, refused.stdout
    _split_cell(tmp_path, b, out, data, bmc, "--tls-ca", str(out / "tls" / "ca.crt"))
