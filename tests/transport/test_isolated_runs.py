"""Two runs of one scenario on one broker, even with the same keys: with their own run ids
(`--run`) neither sees the other, and a retained birth of an earlier run is not heard.
Without run ids they do interfere (the control: the test above is not vacuous)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import paho.mqtt.publish as paho_publish
import pytest

from bmc.keys import derived
from bmc.scenario import parse_scenario
from protocols import codec
from protocols import messages as m
from protocols.recording import read_recording
from tests.transport.conftest import (
    BmcRunner,
    Broker,
    no_traceback,
    read_report,
    short_single_engagement,
    virtual_report,
    write_scenario,
)

pytestmark = pytest.mark.mqtt

SPEED = "5"
"""Two whole cells share two cores: at x20 a heartbeat late by 0.15 s of wall time (3 s
simulated, the launcher's timeout) holds a launcher and changes the outcome; at x5 the
margin is 0.6 s."""


def _two_cells(
    tmp_path: Path, broker: Broker, bmc: BmcRunner, runs: tuple[str, str] | None
) -> list[dict[str, Any]]:
    data = short_single_engagement()
    path = write_scenario(tmp_path, data, "twice.yaml")
    keys = tmp_path / "keys"
    assert bmc.run("keys", "init", str(path), "--out", str(keys), timeout_s=60).proc.returncode == 0
    cells = []
    for k in range(2):
        # Without run ids, distinct client ids: the control shows the shared topics, not evictions.
        extra: tuple[str, ...] = ("--run", runs[k]) if runs else ("--client-id", f"cell{k}")
        if k == 0:
            extra += ("--record", str(tmp_path / "cell0.mcap"))
        out = tmp_path / f"cell{k}.json"
        cells.append((out, bmc(
            "run", str(path), "--mqtt", broker.url, "--speed", SPEED, "--keys", str(keys), *extra,
            "--json", str(out), "--quiet", name=f"cell{k}",
        )))  # fmt: skip
    reports = []
    for out, cell in cells:
        cell.wait(90)
        no_traceback(cell)
        reports.append(read_report(out, cell))
    return reports


def test_runs_with_their_own_ids_never_see_each_other(tmp_path: Path, broker: Broker, bmc: BmcRunner) -> None:
    data = short_single_engagement()
    clean = virtual_report(bmc, write_scenario(tmp_path, data, "virtual.yaml"), tmp_path / "virtual.json")
    # An earlier run's retained birth, under the scenario's plain root and sealed with the
    # public keys: a run with its own id does not even hear it.
    root = f"bmc/v1/{data['name']}"
    topic = f"{root}/radar/R1/state"
    content = codec.encode(m.Header("R1", 1, 999.0), m.NodeState("R1", "radar", m.NodeStatus.BIRTH, 1))
    stale = derived(parse_scenario(data)).keyring(["R1"], epoch=5).seal(root, topic, "R1", content)
    paho_publish.single(topic, stale, qos=1, retain=True, hostname="127.0.0.1", port=broker.port)
    for report in _two_cells(tmp_path, broker, bmc, ("alpha", "bravo")):
        assert (report["threats"], report["missiles_fired"]) == (clean["threats"], clean["missiles_fired"])
        assert report["realtime"]["rejected_by_topic"] == {}, report["realtime"]
        # Their client ids carry the run id too: no connection evicted another.
        assert report["realtime"]["reconnects"] == 0, report["realtime"]
    # What the first cell's monitor heard: its own run's topics, nothing else.
    recording = read_recording(tmp_path / "cell0.mcap")
    topics = {rm.topic for rm in recording.messages()}
    assert topics and all(t.startswith(f"{root}/alpha/") for t in topics), sorted(topics)[:5]
    assert recording.meta("bmc.scenario")["topic_root"] == f"{root}/alpha"


def test_without_run_ids_two_runs_interfere(tmp_path: Path, broker: Broker, bmc: BmcRunner) -> None:
    reports = _two_cells(tmp_path, broker, bmc, None)
    # Each monitor hears both cells: the later life of every sender wins, the other is refused.
    refused = [sum(r["realtime"]["rejected_by_topic"].values()) for r in reports]
    assert sum(refused) > 0, [r["realtime"] for r in reports]
