"""Speed of the serial HIL path: fire order -> acknowledgement, next to the bytes' time on a real wire.

    python benchmarks/bench_hil.py [--quick] [--serial-only]

Everything runs on this machine over pseudo-terminals (``python -m hil.cable``
in its own process joins the two ptys, as a null-modem cable would), with the
real device program (``python -m hil.devices.pi_launcher``) in a subprocess:

1. pty floor: a raw 64-byte echo through the cable (os.read/os.write, no
   framing, no pyserial): what the ptys and the relay process cost by themselves.
   Measured twice: back to back, and paced as the orders of part 2 (each echo
   sent as long after the previous one came in as the matching order was after
   the device's previous frame). Processes that have been idle wake up slower
   (CPU idle states, cold caches: on the 2-core VM a 1 ms pause about doubles the
   echo's p50), and every order follows such a pause, so the paced floor is the
   one to compare with;
2. serial path: a signed fire order framed by ``hil.framing`` and written by
   ``hil.serial_link.SerialLink`` (asyncio, pyserial) to the Pi program, which
   decodes it, checks its HMAC, freshness and envelope, accepts it and answers;
   the round trip ends when the ACCEPTED frame is decoded back in the bridge
   process. The next order goes once the device has reported READY again, so
   every round trip starts, as the floor's do, with nothing else on the line.
   Where each round trip went, from both programs' stamps (the Pi program's
   ``--timing-log``, this process's ``perf_counter``/``thread_time``):
   software = bridge send + Pi (bytes in -> answer written) + bridge receive,
   in wall and CPU time (the figure for the 0.5 ms goal); transport = round
   trip - software (pty hops, the cable relay, wake-ups), next to the floor.
   Round trip - floor p50 is printed too;
3. full bridge: the same order published on MQTT (QoS 1) to a running
   ``bmc hil launcher`` (its own process), forwarded over the cable to the Pi
   program, the acknowledgement published back by the bridge and received here;
   next to a bare MQTT QoS 1 round trip through the same broker.

A pty moves bytes instantly whatever the baud rate, so the wire time of the
same bytes is computed (8N1: 10 bits per byte) at 115200 and 921600 baud: a
real line adds it to the round trip (plus the USB-serial chip's latency, e.g.
the FTDI latency timer, 1-16 ms).

Parts 1 and 2 first run ``WARMUP`` round trips that are not counted. The
machine's 1-minute load average is printed: other work on the cores shows in
the p99 of both the floor and the serial path.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import resource
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import termios
import time
import tty
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import yaml

from bmc import testing
from bmc.engine.clock import nearest_rank as pct
from bmc.keys import derived
from bmc.scenario import parse_scenario
from bmc.testing import find_mosquitto, free_port
from hil.devices.pi_launcher import PiConfig, PiLauncher
from hil.framing import FrameDecoder, frame_message, message_frame
from hil.serial_link import SerialConfig, SerialLink
from protocols import brokerconf, codec
from protocols import messages as m
from protocols.auth import Keyring
from protocols.mqtt import birth_base

REPO = Path(__file__).resolve().parents[1]
KEY = bytes(range(7, 39))


def signed_heartbeat(sim_s: float, boot_nonce: int = 0) -> m.FdcHeartbeat:
    """A heartbeat of the FDC at ``sim_s``, tagged as the FDC tags them for L1 booted with ``boot_nonce``."""
    return testing.fdc_heartbeat(sim_s, KEY, boot_nonce)


BAUDS = (115200, 921600)
WARMUP = 20
"""Round trips run and not counted at the start of the pty floor and of the serial path: the first
ones pay for first-time costs (imports done lazily, caches, the relay's first wake-ups) that a
bridge pays once, not per order."""


def ms(v: float) -> str:
    """Seconds as milliseconds, 3 decimals."""
    return f"{v * 1e3:7.3f}"


def row(name: str, values: list[float]) -> str:
    """One result line: p50, p99, max in ms."""
    return f"  {name:<44} p50 {ms(pct(values, 0.5))}  p99 {ms(pct(values, 0.99))}  max {ms(max(values))} ms"


class OtherLoad:
    """Share of the machine's CPU time that went elsewhere between ``start`` and ``stop``.

    ``share``: everything but this program and its children (other programs, kernel threads,
    interrupts, and time the hypervisor gave to other guests while this one wanted the CPU);
    ``steal``: that last part alone. The load average lags by a minute; this covers exactly the
    measurement. Linux only (None elsewhere). Children count once they have been waited for."""

    def __init__(self) -> None:
        self.share: float | None = None
        self.steal: float | None = None
        self._start: tuple[float, float, float, float] | None = None

    @staticmethod
    def _busy_s() -> tuple[float, float] | None:
        """(all but idle and iowait, steal), CPU seconds since boot."""
        try:
            with open("/proc/stat", encoding="ascii") as f:
                ticks = [int(v) for v in f.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        hz = os.sysconf("SC_CLK_TCK")
        return (sum(ticks) - ticks[3] - ticks[4]) / hz, ticks[7] / hz

    @staticmethod
    def _ours_s() -> float:
        me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime

    def start(self) -> None:
        busy = self._busy_s()
        self._start = None if busy is None else (*busy, self._ours_s(), time.monotonic())

    def stop(self) -> None:
        busy = self._busy_s()
        if self._start is None or busy is None:
            return
        busy0, steal0, ours0, t0 = self._start
        capacity = (time.monotonic() - t0) * (os.cpu_count() or 1)
        others = (busy[0] - busy0) - (self._ours_s() - ours0)
        self.share = max(0.0, others) / capacity
        self.steal = (busy[1] - steal0) / capacity


@contextlib.contextmanager
def process(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A subprocess with output in ``log``; terminated on the way out."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=REPO
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def wait_for(path: Path, timeout_s: float = 10.0) -> None:
    """Wait until ``path`` exists."""
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench_hil: {path} did not appear within {timeout_s} s")
        time.sleep(0.02)


# ---------------------------------------------------------------- 1. pty floor

ECHO = """
import os, select, sys, tty
fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)
tty.setraw(fd)
while True:
    select.select([fd], [], [])
    data = os.read(fd, 4096)
    if not data:
        break
    os.write(fd, data)
"""


def pty_floor(a: Path, b: Path, n: int, tmp: Path, pauses_s: list[float] | None = None) -> list[float]:
    """Round trips of 64 raw bytes through the cable to an echo process.

    Back to back, or, with ``pauses_s``, each one sent that long after the previous echo came
    in (this process busy meanwhile, as the bridge is while it prepares the next order)."""
    out: list[float] = []
    pauses = pauses_s or []
    warm_pause = statistics.median(pauses) if pauses else 0.0
    with process([sys.executable, "-c", ECHO, str(b)], tmp / "echo.log"):
        time.sleep(0.3)
        fd = os.open(a, os.O_RDWR | os.O_NOCTTY)
        try:
            tty.setraw(fd)
            termios.tcflush(fd, termios.TCIFLUSH)  # whatever a previous program left in flight
            payload = bytes(range(1, 65))
            t_in = time.perf_counter()
            for i in range(WARMUP + n):
                due = t_in + (pauses[i - WARMUP] if i >= WARMUP and pauses else warm_pause)
                while time.perf_counter() < due:
                    pass
                t0 = time.perf_counter()
                os.write(fd, payload)
                got = b""
                while len(got) < len(payload):
                    select.select([fd], [], [], 1.0)
                    got += os.read(fd, 4096)
                t_in = time.perf_counter()
                if i >= WARMUP:
                    out.append(t_in - t0)
        finally:
            os.close(fd)
    return out


# ---------------------------------------------------------------- 2. serial path


def pi_command(port: Path, key_file: Path, timing_log: Path | None = None) -> list[str]:
    """The Pi program, set up to accept an order every time (no reaction, no reload time)."""
    return [
        sys.executable, "-m", "hil.devices.pi_launcher", "--port", str(port), "--key-file", str(key_file),
        "--position", "500,0,0", "--missiles", "64", "--reaction-time-s", "0", "--reload-time-s", "0",
        "--heartbeat-timeout-s", "30", "--status-period-s", "600", "--gpio", "off",
    ] + ([] if timing_log is None else ["--timing-log", str(timing_log)])  # fmt: skip


def fire_order(n: int, sim_s: float) -> m.FireOrder:
    """A signed order as the FDC sends it (valid 1000 s: the benchmark paces orders itself)."""
    return testing.fire_order(n, sim_s, KEY, expiry_time_s=sim_s + 1000)


@dataclass(slots=True)
class RoundTrip:
    """One order's stamps on the bridge side (``time.perf_counter``, ``time.thread_time``)."""

    order_id: str
    pause_s: float
    """From the device's previous frame in to this order out."""
    sent_at: float
    """When the framed order was handed to the link."""
    written_at: float
    """When the link's write returned."""
    send_cpu_s: float
    answer: str = ""
    read_at: float = 0.0
    """When the read that brought the answer in returned."""
    decoded_at: float = 0.0
    """When the answer was decoded (the round trip's end)."""
    receive_cpu_s: float = 0.0

    @property
    def rtt_s(self) -> float:
        return self.decoded_at - self.sent_at


async def serial_path(a: Path, n: int) -> tuple[list[RoundTrip], int, int]:
    """Order -> answer round trips through SerialLink and the Pi program, with their stamps."""
    loop = asyncio.get_running_loop()
    waiting: dict[str, tuple[RoundTrip, asyncio.Future[None]]] = {}
    launched: dict[str, asyncio.Future[None]] = {}
    sizes: dict[str, int] = {}

    heard = asyncio.Event()
    ready = asyncio.Event()
    last_in = 0.0
    nonce = 0

    def on_frame(frame: Any) -> None:
        nonlocal last_in, nonce
        last_in = time.perf_counter()
        body = frame_message(frame).body
        if isinstance(body, m.LauncherStatus):
            nonce = body.boot_nonce  # the FDC tags its heartbeats for the device's boot
            heard.set()
        if isinstance(body, m.LauncherStatus) and body.state == m.LauncherState.READY:
            ready.set()
        if not isinstance(body, m.EngagementStatus):
            return
        if body.state == m.EngagementState.LAUNCHED and body.order_id in launched:
            launched.pop(body.order_id).set_result(None)
        elif body.order_id in waiting:
            rt, fut = waiting.pop(body.order_id)
            rt.decoded_at, cpu = time.perf_counter(), time.thread_time()
            rt.read_at, rt.receive_cpu_s = link.last_read.at_s, cpu - link.last_read.cpu_s
            rt.answer = body.state.name
            fut.set_result(None)
            sizes["ack"] = len(frame.payload) + 6 + 2  # + type, seq, CRC, COBS code, delimiter

    link = SerialLink(SerialConfig(str(a)), on_frame)
    link.last_read.with_cpu = True
    link.start()
    await link.wait_open(5)
    # The Pi program is up and has its port open: ask it for its status (and boot nonce).
    hello = m.NodeState("L1-bridge", "bridge", m.NodeStatus.BIRTH, 1)
    deadline = time.perf_counter() + 20
    while not heard.is_set():
        if time.perf_counter() > deadline:
            raise TimeoutError("the Pi program never reported its status")
        link.send(message_frame(link.next_seq(), m.Header("L1-bridge", 1, 0.0), hello))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(heard.wait(), 0.5)
    t_start = time.perf_counter()
    hb_seq = 0

    def heartbeat() -> None:
        nonlocal hb_seq
        hb_seq += 1
        sim = time.perf_counter() - t_start
        link.send(message_frame(link.next_seq(), m.Header("FDC", hb_seq, sim), signed_heartbeat(sim, nonce)))

    heartbeat()
    await asyncio.sleep(0.5)
    trips: list[RoundTrip] = []
    order_bytes = 0
    for i in range(1, WARMUP + n + 1):
        if i % 50 == 0:
            heartbeat()
            await asyncio.sleep(0.002)
        order = fire_order(i, time.perf_counter() - t_start)
        wire = message_frame(link.next_seq(), m.Header("FDC", i, order.issued_time_s), order)
        order_bytes = len(wire)
        fut: asyncio.Future[None] = loop.create_future()
        done: asyncio.Future[None] = loop.create_future()
        launched[order.order_id] = done
        ready.clear()
        last_before = last_in
        t0, cpu0 = time.perf_counter(), time.thread_time()
        link.send(wire)
        t1, cpu1 = time.perf_counter(), time.thread_time()
        rt = RoundTrip(order.order_id, t0 - last_before, t0, t1, cpu1 - cpu0)
        waiting[order.order_id] = (rt, fut)
        await asyncio.wait_for(fut, 2.0)
        if i > WARMUP:
            trips.append(rt)
        if rt.answer == "ACCEPTED":
            # The engagement's last frames (LAUNCHED, then the READY status) in before the next
            # order: each round trip starts from an idle device and an idle line, as the floor's do.
            await asyncio.wait_for(done, 2.0)
            await asyncio.wait_for(ready.wait(), 2.0)
        else:
            launched.pop(order.order_id, None)
    link.close()
    return trips, order_bytes, sizes.get("ack", 0)


@dataclass(frozen=True, slots=True)
class Breakdown:
    """Where each round trip went, from both programs' stamps (seconds, one entry per order)."""

    rtt: list[float]
    software: list[float]
    """Bridge send + Pi (bytes in to answer written) + bridge receive (bytes in to decoded)."""
    software_cpu: list[float]
    """The same spans in CPU time of the threads doing them."""
    pi: list[float]
    order_leg: list[float]
    """Bridge write returned -> the Pi's read returned."""
    answer_leg: list[float]
    """The Pi's answer write returned -> the bridge's read returned."""


def breakdown(trips: list[RoundTrip], timing_log: Path) -> Breakdown:
    """Join the bridge's stamps with the Pi program's ``--timing-log`` by order id."""
    pi = {}
    for line in timing_log.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        pi[entry["order_id"]] = entry
    missing = [rt.order_id for rt in trips if rt.order_id not in pi]
    if missing:
        raise SystemExit(f"bench_hil: no Pi timing for {len(missing)} order(s), e.g. {missing[:3]}")
    b = Breakdown([], [], [], [], [], [])
    for rt in trips:
        p = pi[rt.order_id]
        b.rtt.append(rt.rtt_s)
        b.pi.append(p["wall_s"])
        b.software.append((rt.written_at - rt.sent_at) + p["wall_s"] + (rt.decoded_at - rt.read_at))
        b.software_cpu.append(rt.send_cpu_s + p["cpu_s"] + rt.receive_cpu_s)
        b.order_leg.append(p["read_at_s"] - rt.written_at)
        b.answer_leg.append(rt.read_at - p["answered_at_s"])
    return b


# ---------------------------------------------------------------- 3. full bridge over MQTT


def _client(port: int, name: str) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1",
        port,
        identifier=f"bench-hil-{name}-{os.getpid()}",
        protocol=aiomqtt.ProtocolVersion.V5,
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        max_inflight_messages=1000,
    )


async def bridge_path(port: int, n: int, ring: Keyring) -> tuple[list[float], list[float], dict[str, int]]:
    """Order published on MQTT -> bridge -> Pi program -> acknowledgement back on MQTT; and raw QoS 1 RTTs.

    The bench speaks as the world and the FDC, sealing with ``ring`` (the demo keys the bridge runs on)."""
    root = "bmc/v1/bench_hil"
    arrived: asyncio.Queue[tuple[float, m.Message]] = asyncio.Queue()
    async with _client(port, "fdc") as fdc:
        await fdc.subscribe(f"{root}/launcher/L1/engagement", qos=1)
        await fdc.subscribe(f"{root}/launcher/L1/status", qos=1)
        await fdc.subscribe(f"{root}/bench/echo", qos=1)

        async def reader() -> None:
            async for message in fdc.messages:
                payload = message.payload
                assert isinstance(payload, bytes)
                await arrived.put((time.perf_counter(), codec.decode(payload)))

        task = asyncio.create_task(reader())
        t_start = time.perf_counter()
        truth_topic = f"{root}/world/world/truth"
        truth_seq = 0
        # The world's birth: the bridge takes the cell's speed (1) from it, and its clock from truth.
        state_topic = f"{root}/world/world/state"
        birth = codec.encode(
            m.Header("world", 1, 0.0), m.NodeState("world", "world", m.NodeStatus.BIRTH, 1, 1.0)
        )
        await fdc.publish(state_topic, ring.seal(root, state_topic, "world", birth), qos=1, retain=True)
        hb = 0
        nonce = 0

        async def heartbeat() -> None:
            nonlocal hb
            hb += 1
            sim = time.perf_counter() - t_start
            topic = f"{root}/fdc/FDC/heartbeat"
            body = codec.encode(m.Header("FDC", hb, sim), signed_heartbeat(sim, nonce))
            await fdc.publish(topic, ring.seal(root, topic, "FDC", body), qos=0)

        # Until the bridge has synchronised and the device is armed: truth for the clock, heartbeats.
        deadline = time.perf_counter() + 60
        ready = False
        while not ready:
            if time.perf_counter() > deadline:
                raise TimeoutError("the bridge never reported L1 READY")
            truth_seq += 1
            empty = codec.encode(m.Header("world", truth_seq, 0.0), m.TruthReport.empty())
            await fdc.publish(truth_topic, ring.seal(root, truth_topic, "world", empty), qos=0)
            await heartbeat()
            await asyncio.sleep(0.05)
            while not arrived.empty():
                _t, msg = arrived.get_nowait()
                if isinstance(msg.body, m.LauncherStatus):
                    nonce = msg.body.boot_nonce  # as the FDC learns it
                ready = ready or (
                    isinstance(msg.body, m.LauncherStatus) and msg.body.state == m.LauncherState.READY
                )
        rtts: list[float] = []
        answers: dict[str, int] = {}
        for i in range(1, n + 1):
            if i % 20 == 0:
                await heartbeat()
            order = fire_order(i, time.perf_counter() - t_start)
            order_topic = f"{root}/launcher/L1/order"
            content = codec.encode(m.Header("FDC", i, order.issued_time_s), order)
            t0 = time.perf_counter()
            payload = ring.seal(root, order_topic, "FDC", content)  # timed: the FDC seals every order
            await fdc.publish(order_topic, payload, qos=1)
            while True:
                t1, msg = await asyncio.wait_for(arrived.get(), 5.0)
                if isinstance(msg.body, m.EngagementStatus) and msg.body.order_id == order.order_id:
                    break
            assert isinstance(msg.body, m.EngagementStatus)
            rtts.append(t1 - t0)
            state = msg.body.state
            answers[state.name] = answers.get(state.name, 0) + 1
            while state == m.EngagementState.ACCEPTED:  # READY again before the next order
                _t, msg = await asyncio.wait_for(arrived.get(), 5.0)
                if isinstance(msg.body, m.EngagementStatus) and msg.body.order_id == order.order_id:
                    state = msg.body.state
        raw: list[float] = []
        for _ in range(n):
            t0 = time.perf_counter()
            await fdc.publish(f"{root}/bench/echo", payload, qos=1)
            while True:
                t1, msg = await asyncio.wait_for(arrived.get(), 5.0)
                if isinstance(msg.body, m.FireOrder):
                    break
            raw.append(t1 - t0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await task
    return rtts, raw, answers


def components(n: int) -> dict[str, list[float]]:
    """CPU time of each software step of one round trip, in this process, without I/O."""
    out: dict[str, list[float]] = {k: [] for k in ("encode order", "decode order", "Pi logic", "decode ack")}
    answers: list[bytes] = []
    seq = [0]

    def send(body: m.Body, sim_s: float) -> None:
        seq[0] += 1
        answers.append(message_frame(seq[0], m.Header("L1", seq[0], sim_s), body))

    config = PiConfig(position_m=(500.0, 0.0, 0.0), missiles=64, reaction_time_s=0.0, reload_time_s=0.0)
    pi = PiLauncher(config, KEY, send, boot_nonce=0)
    pi.handle(m.Message(m.Header("FDC", 1, 0.0), signed_heartbeat(0.0)), 0.0)
    rx_device, rx_bridge = FrameDecoder(), FrameDecoder()
    clock = time.perf_counter
    for i in range(1, n + 1):
        wall = i * 1e-3
        pi.handle(m.Message(m.Header("FDC", i + 1, wall), signed_heartbeat(wall)), wall)
        order = fire_order(i, wall)
        t0 = clock()
        wire = message_frame(i % 256, m.Header("FDC", i, wall), order)
        t1 = clock()
        msg = frame_message(rx_device.feed(wire)[0])
        t2 = clock()
        answers.clear()
        pi.handle(msg, wall)
        t3 = clock()
        ack = answers[0]
        t4 = clock()
        frame_message(rx_bridge.feed(ack)[0])
        t5 = clock()
        pi.poll(wall)  # launch
        pi.poll(wall)  # reloaded (every 64th order), READY again
        for k, v in zip(out, (t1 - t0, t2 - t1, t3 - t2, t5 - t4), strict=True):
            out[k].append(v)
    out["total"] = [sum(v) for v in zip(*out.values(), strict=True)]
    return out


def _rounded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return round(value, 3) if isinstance(value, float) else value


def main() -> int:
    """Run the three parts and print the figures."""
    logging.getLogger("pi_launcher").setLevel(logging.ERROR)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer samples")
    p.add_argument("--serial-only", action="store_true", help="parts 0-2 only (no broker, no bridge)")
    args = p.parse_args()
    n = 300 if args.quick else 2000
    n_mqtt = 100 if args.quick else 500
    mosquitto = find_mosquitto()
    with tempfile.TemporaryDirectory(prefix="bench-hil-") as td:
        tmp = Path(td)
        a, b = tmp / "bridge-port", tmp / "device-port"
        key_file = tmp / "l1.key"
        key_file.write_text(KEY.hex())
        print(
            f"bench_hil: {n} serial round trips, {n_mqtt} through the bridge; load {os.getloadavg()[0]:.2f}"
        )
        parts = components(n)
        print("\n0. CPU per round trip, in one process, no I/O (what the software itself costs)")
        for name, values in parts.items():
            print(row(name, values))
        others = OtherLoad()
        others.start()
        with process([sys.executable, "-m", "hil.cable", str(a), str(b)], tmp / "cable.log"):
            wait_for(a)
            wait_for(b)
            floor = pty_floor(a, b, n, tmp)
            with process(pi_command(b, key_file, tmp / "pi-timing.jsonl"), tmp / "pi.log"):
                trips, order_len, ack_len = asyncio.run(serial_path(a, n))
            pauses = [rt.pause_s for rt in trips]
            paced = pty_floor(a, b, n, tmp, pauses)
        others.stop()
        bd = breakdown(trips, tmp / "pi-timing.jsonl")
        rtts = bd.rtt
        answers: dict[str, int] = {}
        for rt in trips:
            answers[rt.answer] = answers.get(rt.answer, 0) + 1
        print("\n1-2. serial path over a pty (bridge process <-> cable process <-> Pi program)")
        if others.share is not None:
            print(
                f"  the {os.cpu_count()} CPUs were {others.share:.0%} busy with other work meanwhile "
                f"({others.steal:.0%} stolen by the host for other guests; load average "
                f"{os.getloadavg()[0]:.2f}): it shows in every p99 below"
            )
        print(row("pty floor: raw 64-byte echo, back to back", floor))
        print(row("pty floor: the same, paced as the orders", paced))
        print(row("fire order -> ACCEPTED (framing, pyserial, Pi)", rtts))
        print("  where each round trip went (both programs' stamps, per order):")
        print(row("  software: bridge send + Pi + bridge receive", bd.software))
        print(row("    the same in CPU time (not preempted)", bd.software_cpu))
        print(row("    of which the Pi: bytes in -> answer written", bd.pi))
        transport = [r - sw for r, sw in zip(rtts, bd.software, strict=True)]
        print(row("  transport: round trip - software", transport))
        print(row("    order: bridge write -> Pi read", bd.order_leg))
        print(row("    answer: Pi write -> bridge read", bd.answer_leg))
        over = [max(0.0, r - pct(paced, 0.5)) for r in rtts]
        over_hot = [max(0.0, r - pct(floor, 0.5)) for r in rtts]
        print(row("round trip - paced floor p50", over))
        print(row("round trip - back-to-back floor p50", over_hot))
        print(
            f"  pause before each order (device's last frame in -> order out): p50 {ms(pct(pauses, 0.5))} ms"
        )
        print(f"  answers: {answers}; order frame {order_len} bytes, acknowledgement frame {ack_len} bytes")
        wire_bytes = order_len + ack_len
        for baud in BAUDS:
            wire = wire_bytes * 10 / baud
            print(
                f"  at {baud:>6} baud the same bytes take {ms(wire)} ms on the wire: with the round trip "
                f"measured here, p50 {ms(wire + pct(rtts, 0.5))}, p99 {ms(wire + pct(rtts, 0.99))} ms"
            )

        def p50_99(values: list[float]) -> dict[str, float]:
            return {"p50": pct(values, 0.5) * 1e3, "p99": pct(values, 0.99) * 1e3}

        summary = {
            "cpu_per_round_trip_ms": p50_99(parts["total"]),
            "pty_floor_ms": p50_99(floor),
            "pty_floor_paced_ms": p50_99(paced),
            "serial_rtt_ms": p50_99(rtts),
            "software_ms": p50_99(bd.software),
            "software_cpu_ms": p50_99(bd.software_cpu),
            "pi_ms": p50_99(bd.pi),
            "transport_ms": p50_99(transport),
            "rtt_minus_paced_floor_ms": p50_99(over),
            "rtt_minus_floor_ms": p50_99(over_hot),
            "wire_ms": {str(b): (order_len + ack_len) * 10 / b * 1e3 for b in BAUDS},
            "mean_serial_rtt_ms": statistics.fmean(rtts) * 1e3,
            "other_programs_cpu_share": others.share,
            "steal_cpu_share": others.steal,
        }
        if args.serial_only:
            summary["load_average_1min"] = os.getloadavg()[0]
            print("\n" + json.dumps(_rounded(summary)))
            return 0

        # ------------------------------------------------ 3. the bridge process over MQTT
        port = free_port()
        (tmp / "mosquitto.conf").write_text(brokerconf.variant(port, testing.HOST))
        scenario = yaml.safe_load((REPO / "sim_configs" / "single_engagement.yaml").read_text())
        scenario.update(name="bench_hil", duration_s=3600, threats=[], expect=[])
        scenario["launchers"][0].update(external=True, missiles=64, reaction_time_s=0, reload_time_s=0)
        # The Pi checks orders with KEY (bench-signed); the bus runs on the public demo keys.
        ring = derived(parse_scenario(scenario)).keyring(["FDC", "world"], epoch=birth_base())
        (tmp / "s.yaml").write_text(yaml.safe_dump(scenario))
        c2a, c2b = tmp / "bridge-port2", tmp / "device-port2"
        with (
            process([mosquitto, "-c", str(tmp / "mosquitto.conf")], tmp / "mosquitto.log"),
            process([sys.executable, "-m", "hil.cable", str(c2a), str(c2b)], tmp / "cable2.log"),
        ):
            time.sleep(0.3)
            wait_for(c2a)
            with process(pi_command(c2b, key_file), tmp / "pi2.log"), process(
                [sys.executable, "-m", "bmc", "hil", "launcher", "L1", "--scenario", str(tmp / "s.yaml"),
                 "--port", str(c2a), "--mqtt", f"mqtt://127.0.0.1:{port}", "--insecure-demo-keys"],
                tmp / "bridge.log",
            ):  # fmt: skip
                try:
                    bridge_rtts, raw, answers3 = asyncio.run(bridge_path(port, n_mqtt, ring))
                except (TimeoutError, aiomqtt.MqttError) as exc:
                    print(f"bench_hil: the bridge path failed ({exc!r}); bridge log:", file=sys.stderr)
                    print((tmp / "bridge.log").read_text()[-3000:], file=sys.stderr)
                    return 1
        print("\n3. through `bmc hil launcher` (MQTT QoS 1 in, serial, Pi program, MQTT QoS 1 out)")
        print(row("fire order -> ACCEPTED on MQTT", bridge_rtts))
        print(row("bare MQTT QoS 1 round trip (same broker)", raw))
        print(
            "  the bridge path crosses the broker twice (order in, answer out) and the serial path "
            f"once: 2 x bare p50 + serial p50 = {ms(2 * pct(raw, 0.5) + pct(rtts, 0.5))} ms"
        )
        print(f"  answers: {answers3}")
        summary.update(
            bridge_rtt_ms={
                "p50": pct(bridge_rtts, 0.5) * 1e3,
                "p99": pct(bridge_rtts, 0.99) * 1e3,
            },
            mqtt_rtt_ms={"p50": pct(raw, 0.5) * 1e3, "p99": pct(raw, 0.99) * 1e3},
            load_average_1min=os.getloadavg()[0],
        )
        print("\n" + json.dumps(_rounded(summary)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
