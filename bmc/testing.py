"""Test support shipped with the package: a private Mosquitto on a free loopback port, the
messages an FDC sends a launcher (signed orders, tagged heartbeats) for tests of launchers, and
a UDP socket that keeps what a gateway sends it.

Used by this project's tests and benchmarks and by the pytest plugin (``bmc_broker``), so a
user's suite talks to a real broker, and drives a launcher, the same way ours does. Only
127.0.0.1 is ever used.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from protocols import brokerconf, codec
from protocols import messages as m
from protocols.errors import UsageError

HOST = "127.0.0.1"
"""The only address a test broker listens on."""

START_TIMEOUT_S = 5.0
"""How long mosquitto may take to accept connections."""


class BrokerStartError(UsageError):
    """Mosquitto is missing, or did not start; the message says which and how to fix it."""


def find_mosquitto() -> str:
    """The mosquitto executable; BrokerStartError naming the Debian package when there is none."""
    found = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None
    )
    if found is None:
        raise BrokerStartError(
            "mosquitto is not installed (not on PATH, nor /usr/sbin/mosquitto): tests against a real "
            "broker need it; install it (apt-get install mosquitto mosquitto-clients)"
        )
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


class Broker:
    """A mosquitto process with its configuration and log in ``directory``; restartable on the
    same port."""

    def __init__(self, directory: Path, extra_conf: str = "") -> None:
        self.exe = find_mosquitto()
        self.port = free_port()
        self.url = f"mqtt://{HOST}:{self.port}"
        self.conf = directory / "mosquitto.conf"
        self.conf.write_text(brokerconf.variant(self.port, HOST) + extra_conf, encoding="utf-8")
        self.log_path = directory / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        """True while the broker process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        """Everything mosquitto wrote so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def start(self) -> None:
        """Start (or restart) on the same port and wait until it accepts connections."""
        if self.running:
            raise BrokerStartError(f"the broker on port {self.port} is already running")
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [self.exe, "-c", str(self.conf)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not port_open(self.port):
            if self.proc.poll() is not None:
                raise BrokerStartError(
                    f"mosquitto exited with {self.proc.returncode} on port {self.port}:\n{self.log()}"
                )
            if time.monotonic() > deadline:
                self.stop(signal.SIGKILL)
                raise BrokerStartError(
                    f"mosquitto did not accept connections on {HOST}:{self.port} within "
                    f"{START_TIMEOUT_S:g} s:\n{self.log()}"
                )
            time.sleep(0.02)

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 5.0) -> None:
        """Send ``sig`` and wait for the process to end (SIGKILL if it does not)."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout_s)


# ---------------------------------------------------------------- messages to a launcher


def fire_order(n: int, issued_s: float, key: bytes, **changes: object) -> m.FireOrder:
    """Order ``FDC-<n>`` to L1, issued at ``issued_s``, valid 10 s, signed with ``key`` after ``changes``."""
    o = m.FireOrder(
        order_id=f"FDC-{n:05d}",
        launcher_id="L1",
        target_track_id=n,
        target_position_m=(9000.0, 6000.0, 300.0),
        target_velocity_mps=(-50.0, -30.0, 0.0),
        intercept_point_m=(5000.0, 3000.0, 300.0),
        intercept_time_s=issued_s + 60,
        rounds=1,
        issued_time_s=issued_s,
        expiry_time_s=issued_s + 10,
    )
    return codec.sign_order(replace(o, **changes), key)  # type: ignore[arg-type]


def fdc_heartbeat(time_s: float, key: bytes, boot_nonce: int = 0) -> m.FdcHeartbeat:
    """The FDC's heartbeat at ``time_s``, tagged for L1 (fire-order ``key``, booted with ``boot_nonce``)."""
    hb = m.FdcHeartbeat("FDC", m.WeaponsControl.FREE, time_s=time_s)
    return codec.sign_heartbeat(hb, {"L1": key}, {"L1": boot_nonce})


class UdpCapture:
    """A real UDP socket on a free loopback port keeping every datagram with its arrival time
    (``clock()``, ns; the Unix epoch by default), read by a thread of its own: what a test or a
    benchmark points a gateway at."""

    def __init__(self, clock: Callable[[], int] = time.time_ns) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind((HOST, 0))
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.datagrams: list[tuple[int, bytes]] = []
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            self.datagrams.append((self._clock(), data))

    def close(self) -> list[tuple[int, bytes]]:
        """Stop and return what arrived."""
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
        return list(self.datagrams)
