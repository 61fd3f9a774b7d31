"""Replaying a recording onto a real Mosquitto: every message, in order, byte for byte, at pace;
and recording a real-time run whose after-action report equals its live report."""

from __future__ import annotations

import asyncio
import json
import statistics
from pathlib import Path
from typing import Any

import paho.mqtt.publish as paho_publish
import pytest

from bmc.aar import report_from_recording
from bmc.engine.runner import run_virtual
from bmc.keys import derived
from bmc.record import close_recorder, open_recorder
from bmc.replay import PACING_TOLERANCE_MS, replay_into_fdc, replay_to_mqtt
from bmc.scenario import load_scenario, parse_scenario
from bmc.testing import free_port
from protocols import codec
from protocols import messages as m
from protocols.mqtt import BrokerConfig
from protocols.recording import RecordedMessage, read_recording
from tests.transport.conftest import (
    BmcRunner,
    Broker,
    Subscriber,
    no_traceback,
    read_report,
    short_single_engagement,
    write_scenario,
)

pytestmark = pytest.mark.mqtt

SPEED = 10.0
SUBSCRIBER_TOLERANCE_MS = 25.0
"""Arrival-time error at the subscriber (after removing the constant broker latency), p99."""


def _record(tmp_path: Path) -> tuple[Path, list[RecordedMessage]]:
    """A virtual run of the shortened tutorial (60 simulated seconds), recorded."""
    scenario_path = write_scenario(tmp_path, short_single_engagement(), "short.yaml")
    scenario = load_scenario(scenario_path)
    path = tmp_path / "short.mcap"
    recorder = open_recorder(path, scenario, source=scenario_path)
    close_recorder(recorder, run_virtual(scenario, taps=[recorder]).to_dict())
    return path, list(read_recording(path).messages())


def _wait_count(sub: Subscriber, n: int, timeout_s: float) -> None:
    sub.wait_for(lambda _s: len(sub.seen) >= n, timeout_s, what=f"{n}th message")


def test_replay_at_speed_10_delivers_every_message_in_order_at_pace(
    tmp_path: Path, broker: Broker, subscriber: Any
) -> None:
    path, recorded = _record(tmp_path)
    assert len(recorded) > 100
    sub = subscriber("bmc/v1/#")
    result = asyncio.run(replay_to_mqtt(path, BrokerConfig.from_url(broker.url), speed=SPEED))
    _wait_count(sub, len(recorded), 10.0)
    seen = sub.snapshot()
    assert result.sent == len(recorded) and result.problem is None
    assert [(s.topic, s.payload) for s in seen] == [(x.topic, x.payload) for x in recorded]

    # Publisher side: how late each publication left its deadline.
    pacing = result.pacing()
    assert result.within_tolerance(), (pacing, PACING_TOLERANCE_MS)
    span = recorded[-1].time_s - recorded[0].time_s
    assert result.wall_s == pytest.approx(span / SPEED, abs=0.5)

    # Subscriber side: arrival times follow the recorded pace, up to a constant broker latency.
    offsets = [
        (s.wall_s - seen[0].wall_s) - (x.time_s - recorded[0].time_s) / SPEED
        for s, x in zip(seen, recorded, strict=True)
    ]
    centre = statistics.median(offsets)
    errors_ms = sorted(abs(o - centre) * 1e3 for o in offsets)
    p99 = errors_ms[int(0.99 * (len(errors_ms) - 1))]
    assert p99 <= SUBSCRIBER_TOLERANCE_MS, (p99, errors_ms[-5:])


def test_replay_window_from_to_with_the_retained_state_first(
    tmp_path: Path, broker: Broker, subscriber: Any, bmc: BmcRunner
) -> None:
    path, recorded = _record(tmp_path)
    sub = subscriber("bmc/v1/#")
    p = bmc.run(
        "replay", str(path), "--mqtt", broker.url, "--speed", "20", "--from", "20", "--to", "40", timeout_s=30
    )
    assert p.proc.returncode == 0, p.describe()
    no_traceback(p)
    window = [x for x in recorded if 20.0 <= x.time_s <= 40.0]
    births = {x.topic: x for x in recorded if x.topic.endswith("/state") and x.time_s < 20.0}
    expected = len(births) + len(window)
    _wait_count(sub, expected, 10.0)
    seen = sub.snapshot()
    assert len(seen) == expected
    assert {s.topic for s in seen[: len(births)]} == set(births)  # nodes alive at --from, announced first
    assert [(s.topic, s.payload) for s in seen[len(births) :]] == [(x.topic, x.payload) for x in window]
    assert f"replayed {len(window)} messages (+{len(births)} retained" in p.stdout()


def test_replay_to_an_unreachable_broker_is_one_line_exit_2(tmp_path: Path, bmc: BmcRunner) -> None:
    path, _ = _record(tmp_path)
    url = f"mqtt://127.0.0.1:{free_port()}"
    p = bmc.run("replay", str(path), "--mqtt", url, timeout_s=30)
    assert p.proc.returncode == 2, p.describe()
    no_traceback(p)
    lines = p.stderr().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bmc: cannot reach the broker at 127.0.0.1:"), lines


def test_recorded_realtime_run_reports_as_it_ran_and_replays(
    tmp_path: Path, broker: Broker, bmc: BmcRunner
) -> None:
    data = short_single_engagement()
    scenario = write_scenario(tmp_path, data, "short.yaml")
    # A retained birth an earlier run (an earlier life of R1, sealed with the same demo keys)
    # left on the broker: the monitor hears it first, with that run's (late) time, before this
    # run's clock starts.
    root = f"bmc/v1/{data['name']}"
    stale_topic = f"{root}/radar/R1/state"
    content = codec.encode(m.Header("R1", 3, 999.0), m.NodeState("R1", "radar", m.NodeStatus.BIRTH, 2))
    stale = derived(parse_scenario(data)).keyring(["R1"], epoch=1000).seal(root, stale_topic, "R1", content)
    paho_publish.single(stale_topic, stale, qos=1, retain=True, hostname="127.0.0.1", port=broker.port)
    rec, out = tmp_path / "rt.mcap", tmp_path / "rt.json"
    p = bmc.run(
        "run",
        str(scenario),
        "--mqtt",
        broker.url,
        "--speed",
        "20",
        "--record",
        str(rec),
        "--json",
        str(out),
        "--quiet",
        timeout_s=60,
    )
    assert p.proc.returncode == 0, p.describe()
    no_traceback(p)
    live = read_report(out, p)
    assert live["threats"]["killed"] == 1
    recording = read_recording(rec)
    assert recording.meta("bmc.scenario")["mode"] == "realtime"
    assert recording.meta("bmc.scenario")["speed"] == "20.0"
    rebuilt = report_from_recording(rec).to_dict()
    assert {k: v for k, v in rebuilt.items() if k != "wall_time_s"} == {
        k: v for k, v in live.items() if k != "wall_time_s"
    }
    assert json.loads(recording.meta("bmc.run")["report"])["digest"] == live["digest"]
    first = next(iter(recording.messages()))
    assert (first.topic, first.time_s) == (stale_topic, 999.0)

    # The stale message does not throw the replays' clocks to 999 s, and the recording logged
    # when the live FDC was handed each input: a fresh FDC fed them so issues the same orders.
    assert read_recording(rec).deliveries() is not None
    fdc = replay_into_fdc(rec)
    assert fdc.recorded and fdc.identical, fdc.differences
    assert fdc.inputs > 0 and not fdc.notes, fdc.notes
    replay = asyncio.run(replay_to_mqtt(rec, BrokerConfig.from_url(broker.url), speed=50))
    assert replay.sent == len(list(read_recording(rec).messages()))
    assert replay.wall_s < live["sim_time_s"] / 50 + 2.0, replay.summary()
