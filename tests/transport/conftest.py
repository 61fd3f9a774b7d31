"""Fixtures for tests against a real Mosquitto broker on the loopback interface.

- ``broker``: a private mosquitto on a free 127.0.0.1 port, stoppable and restartable.
- ``bmc``: starts ``python -m bmc ...`` subprocesses with output in files; kills them at teardown.
- ``subscriber``: a real MQTT client (paho, in its own thread) that decodes every message it
  receives and keeps its arrival wall time; it reconnects quickly when the broker comes back.
- scenario helpers: shortened copies of ``sim_configs`` files written to ``tmp_path``.

Nothing here is mocked: every byte goes through mosquitto over TCP on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
import yaml

from bmc.testing import HOST, Broker
from protocols import codec
from protocols import messages as m

REPO = Path(__file__).resolve().parents[2]
SIM_CONFIGS = REPO / "sim_configs"


def _client_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: apt-get install mosquitto-clients", pytrace=False)
    return found


# ---------------------------------------------------------------- broker


@pytest.fixture
def broker(bmc_broker: Broker) -> Broker:
    """A running private mosquitto (the package's pytest plugin's ``bmc_broker``); killed at
    teardown whatever happened."""
    return bmc_broker


# ---------------------------------------------------------------- bmc processes


@dataclass
class BmcProcess:
    """One ``bmc`` subprocess with its output in files."""

    name: str
    args: list[str]
    proc: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    started_s: float

    def stdout(self) -> str:
        """Everything written to stdout so far."""
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        """Everything written to stderr so far."""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def wait(self, timeout_s: float) -> int:
        """The exit code; fails the test (with the process's stderr) if it runs longer."""
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            pytest.fail(
                f"`bmc {' '.join(self.args)}` ({self.name}) still running after {timeout_s:g} s; "
                f"stderr:\n{self.stderr()[-3000:]}",
                pytrace=False,
            )

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Signal the process (no-op once it has ended) and reap it."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)

    def describe(self) -> str:
        """Command, exit code and output tails, for assertion messages."""
        return (
            f"`bmc {' '.join(self.args)}` exit {self.proc.returncode}\n"
            f"--- stdout\n{self.stdout()[-2000:]}\n--- stderr\n{self.stderr()[-3000:]}"
        )


class BmcRunner:
    """Starts ``bmc`` subprocesses; every one is killed at teardown."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.procs: list[BmcProcess] = []
        # The CLI reads BMC_MQTT_*: a value from the developer's shell must not leak in.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BMC_")}
        self.env["PYTHONUNBUFFERED"] = "1"

    def __call__(self, *args: str, name: str | None = None) -> BmcProcess:
        label = name or f"{args[0]}-{len(self.procs)}"
        if args[0] in ("run", "node", "hil", "gateway") and "--mqtt" in args and "--keys" not in args:
            # Tests on a private loopback broker: the public demo keys, unless a test brings its own
            # (tests/transport/test_spoofing.py does, and checks that this flag warns).
            args = (*args, "--insecure-demo-keys")
        out = self.directory / f"{label}.stdout"
        err = self.directory / f"{label}.stderr"
        with out.open("wb") as o, err.open("wb") as e:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bmc", *args],
                stdout=o,
                stderr=e,
                stdin=subprocess.DEVNULL,
                cwd=REPO,
                env=self.env,
            )
        p = BmcProcess(label, list(args), proc, out, err, time.monotonic())
        self.procs.append(p)
        return p

    def run(self, *args: str, timeout_s: float, name: str | None = None) -> BmcProcess:
        """Start and wait for the end."""
        p = self(*args, name=name)
        p.wait(timeout_s)
        return p

    def close(self) -> None:
        """Kill whatever still runs."""
        for p in self.procs:
            if p.proc.poll() is None:
                p.proc.kill()
        for p in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.proc.wait(10)


@pytest.fixture
def bmc(tmp_path: Path) -> Iterator[BmcRunner]:
    """Factory of ``bmc`` subprocesses: ``bmc("run", path, "--mqtt", url, name="cell")``."""
    directory = tmp_path / "procs"
    directory.mkdir()
    runner = BmcRunner(directory)
    try:
        yield runner
    finally:
        runner.close()


# ---------------------------------------------------------------- subscriber


@dataclass(frozen=True, slots=True)
class Seen:
    """One message as a subscriber received it."""

    wall_s: float
    """time.monotonic() at arrival."""
    topic: str
    payload: bytes
    retain: bool
    msg: m.Message | None
    """Decoded message, None when the payload did not decode."""
    error: str | None
    """DecodeError reason when it did not."""

    @property
    def body(self) -> Any:
        """The decoded body (None for garbage)."""
        return None if self.msg is None else self.msg.body

    @property
    def sim_time_s(self) -> float:
        """Simulated time in the header."""
        assert self.msg is not None
        return self.msg.header.sim_time_s


class Subscriber:
    """A paho client in its own thread: subscribes ``topic_filter`` at QoS 1 (again after every
    reconnect) and keeps every message with its arrival time."""

    def __init__(self, port: int, topic_filter: str, client_id: str) -> None:
        self.port = port
        self.topic_filter = topic_filter
        self.seen: list[Seen] = []
        self.connects = 0
        self.disconnects = 0
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        # Back on a restarted broker well before the cell (whose backoff doubles from 0.05 s), so
        # that the QoS 1 messages the cell queued while disconnected are not missed.
        self.client.reconnect_delay_set(min_delay=0.02, max_delay=0.05)  # type: ignore[arg-type]
        self.client.on_socket_open = self._on_socket_open
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    @staticmethod
    def _on_socket_open(_client: Any, _userdata: Any, sock: Any) -> None:
        # Without it, delayed PUBACKs (Nagle) throttle QoS 1 deliveries to this client.
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _on_connect(self, client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if not reason.is_failure:
            self.connects += 1
            client.subscribe(self.topic_filter, qos=1)

    def _on_subscribe(self, *_args: Any) -> None:
        self._subscribed.set()
        with self._cond:
            self._cond.notify_all()

    def _on_disconnect(self, *_args: Any) -> None:
        self.disconnects += 1
        self._subscribed.clear()

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        now = time.monotonic()
        payload = bytes(message.payload)
        try:
            msg: m.Message | None = codec.decode(payload)
            error = None
        except codec.DecodeError as exc:
            msg, error = None, exc.reason
        with self._cond:
            self.seen.append(Seen(now, message.topic, payload, bool(message.retain), msg, error))
            self._cond.notify_all()

    def start(self, timeout_s: float = 5.0) -> Subscriber:
        """Connect and wait until the subscription is acknowledged."""
        self.client.connect_async(HOST, self.port, keepalive=5)
        self.client.loop_start()
        if not self._subscribed.wait(timeout_s):
            pytest.fail(f"subscriber could not subscribe on {HOST}:{self.port} within {timeout_s:g} s")
        return self

    def stop(self) -> None:
        """Disconnect and end the network thread."""
        self.client.disconnect()
        self.client.loop_stop()

    def snapshot(self) -> list[Seen]:
        """Everything seen so far, in arrival order."""
        with self._cond:
            return list(self.seen)

    def wait_for(
        self,
        predicate: Callable[[Seen], bool],
        timeout_s: float,
        what: str = "",
        watch: Sequence[BmcProcess] = (),
    ) -> Seen:
        """The first message (already seen or arriving) matching ``predicate``. Fails after
        ``timeout_s``, or at once (with its output) when a process in ``watch`` has ended."""
        deadline = time.monotonic() + timeout_s
        checked = 0
        ended: BmcProcess | None = None
        with self._cond:
            while True:
                for s in self.seen[checked:]:
                    if predicate(s):
                        return s
                checked = len(self.seen)
                now = time.monotonic()
                if ended is None:
                    ended = next((p for p in watch if p.proc.poll() is not None), None)
                    if ended is not None:
                        deadline = min(deadline, now + 0.5)  # what it sent last may still be on its way
                left = deadline - now
                if left <= 0:
                    why = f"{ended.name} ended" if ended else f"within {timeout_s:g} s"
                    pytest.fail(
                        f"subscriber saw no {what or 'matching message'} ({why}; {checked} messages seen)\n"
                        + "\n".join(p.describe() for p in watch),
                        pytrace=False,
                    )
                self._cond.wait(min(left, 0.1))

    def wait_subscribed(self, timeout_s: float) -> None:
        """Wait until (re)subscribed."""
        if not self._subscribed.wait(timeout_s):
            pytest.fail(f"subscriber not (re)subscribed within {timeout_s:g} s", pytrace=False)


@pytest.fixture
def subscriber(broker: Broker) -> Iterator[Callable[[str], Subscriber]]:
    """Factory: ``subscriber(topic_filter)`` returns a started :class:`Subscriber` on the test broker."""
    subs: list[Subscriber] = []

    def make(topic_filter: str) -> Subscriber:
        sub = Subscriber(broker.port, topic_filter, f"test-sub-{os.getpid()}-{len(subs)}")
        subs.append(sub)
        return sub.start()

    try:
        yield make
    finally:
        for sub in subs:
            sub.stop()


# ---------------------------------------------------------------- publishing with mosquitto_pub


def mosquitto_pub(port: int, topic: str, payload: bytes, directory: Path, qos: int = 1) -> None:
    """Publish raw bytes with the mosquitto_pub tool (a foreign client, not our code)."""
    directory.mkdir(exist_ok=True)
    path = directory / f"payload-{time.monotonic_ns()}.bin"
    path.write_bytes(payload)
    done = subprocess.run(
        [
            _client_tool("mosquitto_pub"),
            "-h",
            HOST,
            "-p",
            str(port),
            "-t",
            topic,
            "-q",
            str(qos),
            "-f",
            str(path),
        ],
        capture_output=True,
        timeout=10,
        check=False,
    )
    assert done.returncode == 0, f"mosquitto_pub on {topic} failed: {done.stderr.decode(errors='replace')}"


# ---------------------------------------------------------------- scenarios


def load_config(name: str) -> dict[str, Any]:
    """A fresh copy of ``sim_configs/<name>.yaml`` as a dict."""
    data = yaml.safe_load((SIM_CONFIGS / f"{name}.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return copy.deepcopy(data)


def short_single_engagement() -> dict[str, Any]:
    """The tutorial, shortened: the drone starts 15 km out, killed by ~40 s, run ends at 60 s."""
    d = load_config("single_engagement")
    d["duration_s"] = 60
    d["threats"][0]["waypoints"][0]["position"] = {"east_m": 12000, "north_m": 9000, "up_m": 300}
    return d


def write_scenario(directory: Path, data: dict[str, Any], filename: str) -> Path:
    """Write ``data`` as YAML under ``directory``."""
    path = directory / filename
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def external(data: dict[str, Any], *node_ids: str) -> dict[str, Any]:
    """A copy of ``data`` with the named radars/launchers (or the FDC) marked external."""
    d = copy.deepcopy(data)
    for group in ("radars", "launchers"):
        for node in d.get(group, []):
            if node["id"] in node_ids:
                node["external"] = True
    if d.get("fdc", {}).get("id", "FDC") in node_ids:
        d.setdefault("fdc", {})["external"] = True
    return d


def read_report(path: Path, proc: BmcProcess | None = None) -> dict[str, Any]:
    """A ``--json`` report; fails with the process's output when missing."""
    if not path.exists():
        pytest.fail(f"no JSON report at {path}\n{proc.describe() if proc else ''}", pytrace=False)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def virtual_report(bmc: BmcRunner, scenario: Path, out: Path, timeout_s: float = 60.0) -> dict[str, Any]:
    """Run ``bmc run`` in virtual time (subprocess) and return its JSON report."""
    p = bmc.run("run", str(scenario), "--json", str(out), "--quiet", timeout_s=timeout_s, name="virtual")
    assert p.proc.returncode in (0, 1), p.describe()
    return read_report(out, p)


def no_traceback(*procs: BmcProcess) -> None:
    """No process printed a Python traceback."""
    for p in procs:
        assert "Traceback" not in p.stderr(), p.describe()
