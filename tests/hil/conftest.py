"""Fixtures of the hardware-in-the-loop tests: virtual serial cables (real pseudo-terminals,
opened with real pyserial) and device programs in subprocesses. The broker and the ``bmc``
process runner come from the transport tests: a real Mosquitto on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hil.cable import Cable, LineNoise
from tests.transport.conftest import REPO, bmc, broker, subscriber  # noqa: F401 - fixtures re-exported


@pytest.fixture
def cable(tmp_path: Path) -> Iterator[Callable[..., Cable]]:
    """Factory: ``cable(noise_ab=..., noise_ba=...)`` -> a started :class:`Cable` whose end 'a'
    is ``tmp_path/bridge-port`` and end 'b' ``tmp_path/device-port``; closed at teardown."""
    made: list[Cable] = []

    def make(noise_ab: LineNoise | None = None, noise_ba: LineNoise | None = None, seed: int = 0) -> Cable:
        n = len(made)
        c = Cable(
            tmp_path / f"bridge-port{n or ''}", tmp_path / f"device-port{n or ''}", noise_ab, noise_ba, seed
        )
        made.append(c.start())
        return c

    try:
        yield make
    finally:
        for c in made:
            c.close()
        for c in made:
            assert c.error is None, f"cable relay failed: {c.error!r}"


@dataclass
class DeviceProcess:
    """A device program in a subprocess, output in files."""

    name: str
    proc: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    def stdout(self) -> str:
        """Everything written to stdout so far."""
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        """Everything written to stderr so far."""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout_s: float = 10.0) -> dict[str, Any]:
        """SIGTERM, wait, and return the JSON summary the program prints on its way out."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            pytest.fail(f"{self.name} ignored SIGTERM for {timeout_s:g} s:\n{self.describe()}", pytrace=False)
        lines = [ln for ln in self.stdout().splitlines() if ln.startswith("{")]
        assert lines, f"{self.name} printed no summary\n{self.describe()}"
        summary = json.loads(lines[-1])
        assert isinstance(summary, dict)
        return summary

    def wait_stderr(self, text: str, timeout_s: float) -> None:
        """Wait until ``text`` appears on stderr; fails after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while text not in self.stderr():
            if time.monotonic() > deadline:
                pytest.fail(f"{self.name} never wrote {text!r}\n{self.describe()}", pytrace=False)
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited before writing {text!r}\n{self.describe()}", pytrace=False)
            time.sleep(0.02)

    def describe(self) -> str:
        """Exit code and output tails, for assertion messages."""
        return (
            f"{self.name} exit {self.proc.poll()}\n--- stdout\n{self.stdout()[-2000:]}\n"
            f"--- stderr\n{self.stderr()[-3000:]}"
        )


@pytest.fixture
def device(tmp_path: Path) -> Iterator[Callable[..., DeviceProcess]]:
    """Factory: ``device("pi_launcher", "--port", path, ...)`` runs ``python -m hil.devices.<name>``."""
    procs: list[DeviceProcess] = []
    directory = tmp_path / "devices"
    directory.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BMC_")}
    env["PYTHONUNBUFFERED"] = "1"

    def start(program: str, *args: str) -> DeviceProcess:
        name = f"{program}-{len(procs)}"
        out, err = directory / f"{name}.stdout", directory / f"{name}.stderr"
        with out.open("wb") as o, err.open("wb") as e:
            proc = subprocess.Popen(
                [sys.executable, "-m", f"hil.devices.{program}", *args],
                stdout=o,
                stderr=e,
                stdin=subprocess.DEVNULL,
                cwd=REPO,
                env=env,
            )
        d = DeviceProcess(name, proc, out, err)
        procs.append(d)
        return d

    try:
        yield start
    finally:
        for d in procs:
            if d.proc.poll() is None:
                d.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                d.proc.wait(10)
