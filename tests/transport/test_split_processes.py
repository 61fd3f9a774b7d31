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
    common = ("--scenario", str(split), "--mqtt", broker.url, "--wait", "30")
    # R1 follows the cell's speed (from the world's birth); L1 is told the same speed.
    r1 = bmc("node", "R1", *common, name="R1")
    l1 = bmc("node", "L1", *common, "--speed", SPEED, name="L1")
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
    # Without --quiet the mode is said at the start: a real-time run may take a while.
    assert (
        f"bmc: real time over the broker at 127.0.0.1:{broker.port} at speed 20: 60 s simulated take 3 s"
        in err
    )
    assert "Traceback" not in err, err
    # 2 s of waiting plus interpreter start-up; far below the 30 s default.
    assert elapsed < 15, f"took {elapsed:.1f} s"
    assert not out.exists()


def test_a_node_at_another_speed_is_refused_by_itself_and_by_the_cell(
    tmp_path: Path, broker: Broker, bmc: BmcRunner
) -> None:
    # The cell checks the births of its external nodes before its own nodes are born, so it is
    # the one that names the mismatch; the node hears no world and gives up after its --wait.
    split = write_scenario(tmp_path, external(short_single_engagement(), "L1"), "split.yaml")
    common = ("--scenario", str(split), "--mqtt", broker.url, "--wait", "5")
    l1 = bmc("node", "L1", *common, "--speed", "25", name="L1")
    out = tmp_path / "never.json"
    cell = bmc(
        "run", str(split), "--mqtt", broker.url, "--speed", "50", "--json", str(out), "--quiet", name="cell"
    )
    assert cell.wait(30) == 2, cell.describe()
    assert l1.wait(30) == 2, l1.describe()
    no_traceback(cell, l1)
    assert "L1 runs at --speed 25 but the cell at 50: start it with --speed 50" in cell.stderr(), (
        cell.stderr()
    )
    assert "did it accept this node (it refuses one at another --speed)?" in l1.stderr(), l1.stderr()
    assert not out.exists()
