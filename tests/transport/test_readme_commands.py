"""The README's real-time commands, run as written (only the port and the path to bmc change):
the shipped mosquitto.conf, the tutorial over MQTT, and the two ways it shows to watch traffic."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.transport.conftest import REPO, Broker

pytestmark = pytest.mark.mqtt

README = REPO / "README.md"


def _block_with(marker: str) -> list[str]:
    """The command lines of the README's sh block that contains ``marker`` (continuations joined)."""
    blocks = re.findall(r"^( *)```sh\n(.*?)^\1```", README.read_text(encoding="utf-8"), re.S | re.M)
    for _indent, body in blocks:
        if marker in body:
            joined = re.sub(r"\\\n\s*", "", body)
            return [
                line.strip()
                for line in joined.splitlines()
                if line.strip() and not line.strip().startswith("#")
            ]
    raise AssertionError(f"no sh block in README.md contains {marker!r}")


def _localised(command: str, port: int) -> str:
    return (
        command.replace(".venv/bin/bmc", f"{sys.executable} -m bmc")
        .replace("127.0.0.1:1883", f"127.0.0.1:{port}")
        .replace("-h 127.0.0.1", f"-h 127.0.0.1 -p {port}")
    )


def test_readme_real_time_commands_run_as_written(tmp_path: Path) -> None:
    start, keys, run = _block_with("mosquitto -c protocols/mosquitto.conf")
    assert start == "mosquitto -c protocols/mosquitto.conf &", start
    # The keys go to a fresh directory of the test's (the command refuses to overwrite any).
    keys, run = (c.replace("keys/single_engagement", str(tmp_path / "keys")) for c in (keys, run))
    made = subprocess.run(
        _localised(keys, 0), shell=True, cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "keys" / "FDC.key").stat().st_mode & 0o777 == 0o600
    watch_all, decode = _block_with("mosquitto_sub")
    broker = Broker(tmp_path)
    # The shipped configuration, on a free port.
    shipped = (REPO / "protocols" / "mosquitto.conf").read_text(encoding="utf-8")
    assert "listener 1883 127.0.0.1" in shipped
    broker.conf.write_text(shipped.replace("listener 1883", f"listener {broker.port}"), encoding="utf-8")
    broker.start()
    try:
        watcher = subprocess.Popen(
            "exec " + _localised(watch_all, broker.port),
            shell=True,
            cwd=REPO,
            stdout=subprocess.PIPE,
        )
        decoder = subprocess.Popen(
            _localised(decode, broker.port),
            shell=True,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(0.3)  # both subscribed before the cell starts
        t0 = time.monotonic()
        cell = subprocess.run(
            _localised(run, broker.port), shell=True, cwd=REPO, capture_output=True, text=True, timeout=120
        )
        wall_s = time.monotonic() - t0
        decoded, decode_err = decoder.communicate(timeout=30)
        watcher.terminate()
        watched = watcher.communicate(timeout=10)[0].decode("utf-8", errors="replace")  # binary payloads
    finally:
        broker.stop()
    assert cell.returncode == 0, cell.stderr[-3000:]
    assert "real time over the broker" in cell.stderr and "at speed 40" in cell.stderr, cell.stderr
    assert re.search(r"threats +1 total: 1 killed, 0 leaked", cell.stdout), cell.stdout
    assert 10.0 <= wall_s < 60, wall_s  # 400 s simulated at speed 40
    # protoc decoded one heartbeat envelope (without -N the trailing newline breaks the parse).
    assert decoder.returncode == 0, decode_err
    assert 'sender: "FDC"' in decoded and "fdc_heartbeat {" in decoded, decoded
    topics = {line.split(" ", 1)[0] for line in watched.splitlines() if line.startswith("bmc/v1/")}
    root = "bmc/v1/single_engagement"
    assert {f"{root}/fdc/FDC/heartbeat", f"{root}/world/world/truth", f"{root}/radar/R1/tracks"} <= topics, (
        topics
    )
