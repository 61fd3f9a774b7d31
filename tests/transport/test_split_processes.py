"""The tutorial split over three processes on a real broker gives the virtual run's outcome."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.transport.conftest import (
    BmcRunner,
    Broker,
    external,
    no_traceback,
    read_report,
    short_single_engagement,
    virtual_report,
    write_scenario,
)

pytestmark = pytest.mark.mqtt

SPEED = "20"


def test_three_processes_match_the_virtual_run(tmp_path: Path, broker: Broker, bmc: BmcRunner) -> None:
    data = short_single_engagement()
    virtual = virtual_report(bmc, write_scenario(tmp_path, data, "virtual.yaml"), tmp_path / "virtual.json")
    assert virtual["threats"]["killed"] == 1  # the reference itself engages (else the comparison is empty)

    split = write_scenario(tmp_path, external(data, "R1", "L1"), "split.yaml")
    common = ("--scenario", str(split), "--mqtt", broker.url, "--speed", SPEED, "--wait", "30")
    r1 = bmc("node", "R1", *common, name="R1")
    l1 = bmc("node", "L1", *common, name="L1")
    out = tmp_path / "realtime.json"
    cell = bmc(
        "run", str(split), "--mqtt", broker.url, "--speed", SPEED, "--json", str(out), "--quiet", name="cell"
    )
    code = cell.wait(90)
    assert code == 0, cell.describe()
    for node in (r1, l1):
        assert node.wait(30) == 0, node.describe()
    no_traceback(cell, r1, l1)

    report = read_report(out, cell)
    assert (report["threats"]["killed"], report["threats"]["leaked"]) == (
        virtual["threats"]["killed"],
        virtual["threats"]["leaked"],
    )
    assert report["launchers"].get("L1", {}).get("fired", 0) >= 1  # fired by the L1 process
    assert report["messages"]["rejected"] == 0
    rt = report["realtime"]
    assert rt["rejected_by_topic"] == {}
    assert rt["reconnects"] == 0
    p99 = rt["pacing_lateness"]["p99_ms"]
    assert isinstance(p99, float | int), rt["pacing_lateness"]
    # Loose: three processes share two cores; a pacer that stalls for a scan period would exceed it.
    assert 0 <= p99 < 100, rt["pacing_lateness"]


def test_missing_external_nodes_are_named(tmp_path: Path, broker: Broker, bmc: BmcRunner) -> None:
    split = write_scenario(tmp_path, external(short_single_engagement(), "R1", "L1"), "split.yaml")
    out = tmp_path / "never.json"
    t0 = time.monotonic()
    cell = bmc(
        "run",
        str(split),
        "--mqtt",
        broker.url,
        "--speed",
        SPEED,
        "--wait",
        "2",
        "--json",
        str(out),
        name="cell",
    )
    code = cell.wait(30)
    elapsed = time.monotonic() - t0
    assert code == 2, cell.describe()
    err = cell.stderr()
    assert "R1" in err and "L1" in err, err
    assert "not born" in err, err
    assert "Traceback" not in err, err
    # 2 s of waiting plus interpreter start-up; far below the 30 s default.
    assert elapsed < 15, f"took {elapsed:.1f} s"
    assert not out.exists()
