"""pytest plugin (entry point ``pytest11: bmc``): scenario runs and a real broker as fixtures.

    def test_doctrine(bmc_run):
        report = bmc_run("s.yaml", seed=3, overrides={"fdc.doctrine": "salvo-2"})
        assert report.threats.leaked == 0

    def test_rig(bmc_broker, bmc_cell):
        cell = bmc_cell("s.yaml", speed=20)          # bmc run --mqtt on bmc_broker, in a subprocess
        ...                                          # connect your external nodes to bmc_broker.url
        assert cell.wait().threats.killed >= 1

Fixtures:

- ``bmc_run(scenario, seed=None, overrides=None)``: a virtual run (``bmc.run``), recorded to
  the test's temporary directory; the typed ``RunReport``.
- ``bmc_broker``: a private Mosquitto on a free 127.0.0.1 port (``.url``, ``.port``,
  ``.stop()``, ``.start()``); needs the ``mosquitto`` executable (Debian package ``mosquitto``).
- ``bmc_cell(scenario, speed=10, args=())``: ``bmc run SCENARIO --mqtt <bmc_broker>`` in a
  subprocess (demo keys: a private broker), for tests whose own code plays external nodes;
  ``.wait(timeout_s)`` returns its report, ``.stop()`` interrupts it.

Option ``--bmc-keep-recordings DIR``: the recordings of a failed test's ``bmc_run`` calls are
copied to DIR (for ``bmc report`` and ``bmc replay``); the failure report names them either way.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from bmc.engine.report import RunReport

_RECORDINGS = pytest.StashKey[list[Path]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("bmc", "air-defence cell emulator")
    group.addoption(
        "--bmc-keep-recordings",
        metavar="DIR",
        default=None,
        help="copy the MCAP recordings of failed tests' bmc_run calls into DIR",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        recordings = item.stash.get(_RECORDINGS, [])
        if report.failed and recordings:
            keep = item.config.getoption("--bmc-keep-recordings")
            shown = [str(p) for p in recordings]
            if keep:
                out = Path(keep)
                out.mkdir(parents=True, exist_ok=True)
                shown = []
                for p in recordings:
                    target = out / f"{_safe(item.nodeid)}-{p.name}"
                    shutil.copyfile(p, target)
                    shown.append(str(target))
            report.sections.append(("bmc recordings", "\n".join(shown) + "\n(bmc report REC --out DIR)"))
    return report


def _safe(nodeid: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in nodeid)[-120:]


@pytest.fixture
def bmc_run(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., RunReport]:
    """Run a scenario in virtual time; the typed report. Each run is recorded in ``tmp_path``."""
    import bmc

    recordings: list[Path] = []
    request.node.stash[_RECORDINGS] = recordings

    def run(
        scenario: str | Path | Mapping[str, Any],
        seed: int | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> RunReport:
        path = tmp_path / f"run-{len(recordings) + 1}.mcap"
        recordings.append(path)
        return bmc.run(scenario, seed=seed, overrides=overrides, record=path)

    return run


@pytest.fixture
def bmc_broker(tmp_path: Path) -> Iterator[Any]:
    """A running private Mosquitto on 127.0.0.1; killed at teardown."""
    from bmc.testing import Broker, BrokerStartError

    directory = tmp_path / "bmc-broker"
    directory.mkdir()
    try:
        broker = Broker(directory)
        broker.start()
    except BrokerStartError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield broker
    finally:
        broker.stop(signal.SIGKILL)


class Cell:
    """A ``bmc run --mqtt`` process of one test."""

    def __init__(self, args: Sequence[str], directory: Path) -> None:
        self.report_path = directory / "report.json"
        self.log_path = directory / "cell.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bmc", "run", *args, "--json", str(self.report_path), "--quiet"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def log(self) -> str:
        """What the cell printed so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait(self, timeout_s: float = 120.0) -> RunReport:
        """Wait for the run to end; its report (fails the test, with the log, if there is none)."""
        try:
            code = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"the cell did not finish within {timeout_s:g} s:\n{self.log()}", pytrace=False)
        if code not in (0, 1) or not self.report_path.exists():
            pytest.fail(f"the cell exited with {code} and no report:\n{self.log()}", pytrace=False)
        return RunReport.from_dict(json.loads(self.report_path.read_text(encoding="utf-8")))

    def stop(self) -> None:
        """Interrupt the run (as Ctrl-C) and wait for it; kill it if it does not end."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def bmc_cell(bmc_broker: Any, tmp_path: Path) -> Iterator[Callable[..., Cell]]:
    """Start ``bmc run SCENARIO --mqtt <bmc_broker>`` in real time; stopped at teardown."""
    cells: list[Cell] = []

    def start(scenario: str | Path, speed: float = 10.0, args: Sequence[str] = ()) -> Cell:
        directory = tmp_path / f"bmc-cell-{len(cells) + 1}"
        directory.mkdir()
        argv = [
            str(scenario),
            "--mqtt",
            bmc_broker.url,
            "--speed",
            f"{speed:g}",
            "--insecure-demo-keys",
            *args,
        ]
        cells.append(Cell(argv, directory))
        return cells[-1]

    try:
        yield start
    finally:
        for c in cells:
            c.stop()
