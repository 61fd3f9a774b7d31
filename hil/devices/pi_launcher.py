"""The program of a Raspberry Pi launcher mock, on the far end of a serial link from ``bmc hil launcher``.

    python -m hil.devices.pi_launcher --port /dev/serial0 --key-file l1.key [--id L1 ...]

It needs Python >= 3.11 with pyserial, protobuf and numpy (Raspberry Pi OS:
``apt install python3-serial python3-protobuf python3-numpy``) and this
repository's ``hil``, ``protocols`` and ``launchers`` packages; nothing else
(no simpy, no MQTT). It runs unchanged on a PC against a pseudo-terminal
(``python -m hil.cable``).

What it does is decided by ``launchers.core.LauncherCore``, the same code the simulated
launcher (``launchers/node.py``) runs; this program hosts it on a serial line:

- starts SAFE, arms (READY) on the first FDC heartbeat, goes to HOLD by itself
  when heartbeats stop for ``--heartbeat-timeout-s`` and aborts what it was doing;
- accepts a fire order only when it is authentic (HMAC-SHA256 with this
  launcher's key), newer than every order it has answered (a recorded order
  replayed later is refused), not expired, addressed to it, inside its
  envelope and while READY; a repeated order id gets the same answer again and
  is never executed twice;
- reports every state change and, every ``--status-period-s``, its status;
  beacons a ``NodeState`` every third of the heartbeat timeout so the bridge
  knows it is alive, and answers a bridge's ``NodeState`` with its status;
- drives an optional GPIO hook: gpiozero LED (READY) and relay (launch pulse)
  when gpiozero and the pins are there, a console line on stderr otherwise.

Heartbeats: one counts (arms, keeps armed, sets the clock) only when it carries
this launcher's tag (HMAC-SHA256 with the fire-order key, which the bridge relaying
it does not hold) for this boot's random nonce (sent in every status, so the FDC
tags for it once it has heard one) and a time after the last one accepted; any
other is refused and counted by reason in the summary's ``heartbeats_refused``.

Time: durations in the options are simulated seconds, as in the scenario; the
device runs them at ``--speed`` simulated seconds per wall second. It knows
"simulated time now" from the FDC heartbeats: the authenticated time of the last
one accepted plus the wall time elapsed since, times ``--speed`` (never going
backwards). A heartbeat more than ``--max-clock-step-s`` away from that clock is
refused and counted (it neither moves the clock nor counts as a sign of life).
Order expiry is checked against that clock.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import importlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from hil.framing import FrameError, frame_message, message_frame
from hil.serial_link import BlockingLink, SerialConfig
from launchers.core import Activity, CancelledError, Gpio, LauncherCore, LauncherParams, NoGpio
from protocols import messages as m

log = logging.getLogger("pi_launcher")

S = m.LauncherState
E = m.EngagementState


@dataclass(frozen=True, slots=True)
class PiConfig:
    """The launcher's parameters; names, units and defaults as in the scenario's ``launchers[]``."""

    launcher_id: str = "L1"
    fdc_id: str = "FDC"
    position_m: m.Vec3 = (0.0, 0.0, 0.0)
    missiles: int = 6
    reaction_time_s: float = 2.0
    salvo_interval_s: float = 1.0
    reload_time_s: float = 600.0
    min_range_m: float = 1_000.0
    max_range_m: float = 25_000.0
    min_altitude_m: float = 10.0
    max_altitude_m: float = 15_000.0
    heartbeat_timeout_s: float = 3.0
    status_period_s: float = 10.0
    speed: float = 1.0
    """Simulated seconds per wall second (the cell's ``--speed``)."""
    answers_kept: int = 1024
    """Order ids whose answer is remembered for idempotent repeats."""
    max_clock_step_s: float = 5.0
    """Farthest a heartbeat may move the device's clock from where it runs by itself,
    simulated seconds: one heartbeat stamped far ahead (a bug, a forgery) would otherwise
    make every later genuine order look expired."""

    def __post_init__(self) -> None:
        for name in ("status_period_s", "speed", "max_clock_step_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 (got {getattr(self, name)})")
        self.params()  # checks the rest

    def params(self) -> LauncherParams:
        """The core's share of the configuration."""
        return LauncherParams(
            launcher_id=self.launcher_id,
            fdc_id=self.fdc_id,
            position_m=self.position_m,
            missiles=self.missiles,
            reaction_time_s=self.reaction_time_s,
            salvo_interval_s=self.salvo_interval_s,
            reload_time_s=self.reload_time_s,
            min_range_m=self.min_range_m,
            max_range_m=self.max_range_m,
            min_altitude_m=self.min_altitude_m,
            max_altitude_m=self.max_altitude_m,
            heartbeat_timeout_s=self.heartbeat_timeout_s,
            answers_kept=self.answers_kept,
        )

    @property
    def beacon_period_s(self) -> float:
        """Simulated seconds between liveness beacons: three per heartbeat timeout."""
        return self.heartbeat_timeout_s / 3.0


class ConsoleGpio:
    """The GPIO hook without hardware: one line per event on a stream."""

    def __init__(self, launcher_id: str, stream: TextIO) -> None:
        self.launcher_id = launcher_id
        self.stream = stream

    def show(self, state: m.LauncherState, missiles: int, reason: str) -> None:
        self.stream.write(f"GPIO {self.launcher_id}: state {state.name} missiles {missiles} ({reason})\n")
        self.stream.flush()

    def launch(self, interceptor_id: str) -> None:
        self.stream.write(f"GPIO {self.launcher_id}: LAUNCH {interceptor_id}\n")
        self.stream.flush()


class GpioZeroHook:
    """LED lit while READY (blinking while ENGAGING), relay pulsed per launch (gpiozero)."""

    def __init__(self, led: Any, relay: Any, console: ConsoleGpio) -> None:
        self.led = led
        self.relay = relay
        self.console = console

    def show(self, state: m.LauncherState, missiles: int, reason: str) -> None:
        if state == S.READY:
            self.led.on()
        elif state == S.ENGAGING:
            self.led.blink(on_time=0.1, off_time=0.1)
        else:
            self.led.off()
        self.console.show(state, missiles, reason)

    def launch(self, interceptor_id: str) -> None:
        self.relay.blink(on_time=0.2, off_time=0.0, n=1)
        self.console.launch(interceptor_id)


def make_gpio(mode: str, launcher_id: str, led_pin: int, relay_pin: int, stream: TextIO) -> Gpio:
    """'console', 'off', 'gpiozero' (must work) or 'auto' (gpiozero when it works, else console)."""
    console = ConsoleGpio(launcher_id, stream)
    if mode == "off":
        return NoGpio()
    if mode == "console":
        return console
    try:
        gz = importlib.import_module("gpiozero")
        return GpioZeroHook(gz.LED(led_pin), gz.LED(relay_pin), console)
    except Exception as exc:  # gpiozero raises many kinds when there are no pins
        if mode == "gpiozero":
            raise RuntimeError(f"gpiozero unusable: {exc}") from None
        log.info("no GPIO (%s): console lines instead", exc)
        return console


class HeartbeatClock:
    """The device's simulated time, from FDC heartbeats: the time of the last one accepted plus
    the wall time elapsed since, times the speed, never going backwards. A heartbeat more than
    ``max_clock_step_s`` away from it is refused. The host sets ``wall`` before each step."""

    def __init__(self, speed: float, max_clock_step_s: float) -> None:
        self.speed = speed
        self.max_clock_step_s = max_clock_step_s
        self.wall = 0.0
        self._ref: tuple[float, float] | None = None
        self._last = float("-inf")

    def now(self) -> float | None:
        if self._ref is None:
            return None
        sim_ref, wall_ref = self._ref
        self._last = max(self._last, sim_ref + (self.wall - wall_ref) * self.speed)
        return self._last

    def heartbeat(self, time_s: float) -> str | None:
        now = self.now()
        if now is not None and not abs(time_s - now) <= self.max_clock_step_s:
            # Neither a clock step nor a sign of life: a genuine FDC does not jump.
            return f"clock step: at {time_s:.3f} s, {time_s - now:+.3f} s from the device clock"
        self._ref = (time_s, self.wall)
        return None


class _WallTask:
    """An activity on the device's timer heap: each yielded delay is a timer."""

    def __init__(self, host: PiLauncher, activity: Activity) -> None:
        self.host = host
        self.activity = activity
        self.alive = True
        self._step: int = 0
        self._resume(None)

    def _resume(self, exc: CancelledError | None) -> None:
        try:
            delay = next(self.activity) if exc is None else self.activity.throw(exc)
        except StopIteration:
            self.alive = False
            return
        self._step += 1
        step = self._step
        self.host._at(self.host.clock.wall + self.host.wall_s(delay), lambda _w: self._due(step))

    def _due(self, step: int) -> None:
        if self.alive and step == self._step:
            self._resume(None)

    def cancel(self, reason: str) -> None:
        if self.alive:
            self._resume(CancelledError(reason))


Send = Callable[[m.Body, float], None]
"""Sends a body with the given simulated time in its header."""


class PiLauncher:
    """The device host of ``LauncherCore``: a timer heap and a watchdog on the wall clock, the
    clock from heartbeats, beacons and periodic status. Wall seconds are passed in (so tests
    need no clock)."""

    def __init__(
        self,
        config: PiConfig,
        key: bytes,
        send: Send,
        gpio: Gpio | None = None,
        boot_id: int = 1,
        boot_nonce: int | None = None,
    ):
        self.config = config
        self.boot_id = boot_id
        self._send = send
        self.clock = HeartbeatClock(config.speed, config.max_clock_step_s)
        # Unpredictable, never 0 (the simulated launcher's): heartbeats recorded before this
        # boot were tagged for another nonce, so none can arm it or set its clock.
        nonce = boot_nonce if boot_nonce is not None else int.from_bytes(os.urandom(8), "little") | 1
        self.core = LauncherCore(
            config.params(), key, self.clock, self._emit, lambda a: _WallTask(self, a), gpio, log, nonce
        )
        self.machine = self.core.machine
        self.last_heartbeat_wall: float | None = None
        self._timers: list[tuple[float, int, Callable[[float], None]]] = []
        self._timer_n = 0

    # What the program's summary and the tests read.
    @property
    def fired(self) -> int:
        return self.core.fired

    @property
    def launched(self) -> list[str]:
        return self.core.launched

    @property
    def answers(self) -> dict[str, m.EngagementStatus]:
        return self.core.answers

    @property
    def rejections(self) -> dict[str, int]:
        return self.core.rejections

    @property
    def clock_refused(self) -> int:
        """Heartbeats refused for moving the clock more than ``max_clock_step_s``."""
        return self.core.heartbeats_refused.get("clock step", 0)

    # ------------------------------------------------------------ time

    def wall_s(self, sim_s: float) -> float:
        """Wall seconds lasting ``sim_s`` simulated seconds."""
        return sim_s / self.config.speed

    def _at(self, due_wall: float, action: Callable[[float], None]) -> None:
        self._timer_n += 1
        heapq.heappush(self._timers, (due_wall, self._timer_n, action))

    def poll(self, wall: float) -> float:
        """Run everything due by ``wall``; returns when something is next due (wall seconds)."""
        self.clock.wall = wall
        self._watchdog(wall)
        while self._timers and self._timers[0][0] <= wall:
            _due, _n, action = heapq.heappop(self._timers)
            action(wall)
        due = self._timers[0][0] if self._timers else wall + 1.0
        if self.last_heartbeat_wall is not None and self.machine.state in (S.READY, S.ENGAGING, S.RELOADING):
            due = min(due, self.last_heartbeat_wall + self.wall_s(self.config.heartbeat_timeout_s))
        return due

    def _watchdog(self, wall: float) -> None:
        last = self.last_heartbeat_wall
        # The same expression as the deadline poll() reports, so reaching it always fires.
        if last is not None and wall >= last + self.wall_s(self.config.heartbeat_timeout_s):
            self.core.expire()

    # ------------------------------------------------------------ reporting

    def _emit(self, body: m.Body) -> None:
        sim = self.clock.now()
        self._send(body, 0.0 if sim is None else sim)

    def start(self, wall: float) -> None:
        """Power on: first status, then periodic status and liveness beacons."""
        self.clock.wall = wall
        self.core.start()
        self._beacon(wall)
        self._at(wall + self.wall_s(self.config.status_period_s), self._periodic)

    def _beacon(self, wall: float) -> None:
        self._emit(m.NodeState(self.config.launcher_id, "launcher", m.NodeStatus.BIRTH, self.boot_id))
        self._at(wall + self.wall_s(self.config.beacon_period_s), self._beacon)

    def _periodic(self, wall: float) -> None:
        self.core.status("periodic")
        self._at(wall + self.wall_s(self.config.status_period_s), self._periodic)

    # ------------------------------------------------------------ inputs

    def handle(self, msg: m.Message, wall: float) -> None:
        """React to one message from the bridge."""
        self.clock.wall = wall
        body = msg.body
        if isinstance(body, m.FdcHeartbeat):
            if self.core.on_heartbeat(msg):
                self.last_heartbeat_wall = wall
        elif isinstance(body, m.FireOrder):
            self.core.on_order(body)
        elif isinstance(body, m.NodeState):
            # The bridge (re)connected or lost sight of us: tell it where we are.
            self.core.status("status requested")
        else:
            log.info("ignored a %s from the bridge", type(body).__name__)


# ---------------------------------------------------------------- the program


def read_key(path: Path) -> bytes:
    """The launcher's HMAC key from a file holding it in hex (16-64 bytes); ValueError naming the problem."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the key file ({exc})") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"{path}: the key must be hex digits (got {text[:12]!r}...)") from None
    if not 16 <= len(key) <= 64:
        raise ValueError(f"{path}: the key must be 16-64 bytes (got {len(key)})")
    return key


def _vec3(text: str) -> m.Vec3:
    try:
        e, n, u = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be EAST,NORTH,UP in metres (got {text!r})") from None
    return (e, n, u)


def _parser() -> argparse.ArgumentParser:
    d = PiConfig()
    p = argparse.ArgumentParser(
        prog="python -m hil.devices.pi_launcher", description="Raspberry Pi launcher mock on a serial link."
    )
    p.add_argument("--port", required=True, help="serial device (/dev/serial0, /dev/ttyUSB0, a pty link)")
    p.add_argument("--baud", type=int, default=115200, help="line rate (default 115200)")
    p.add_argument("--key-file", type=Path, required=True, help="this launcher's HMAC key, in hex")
    p.add_argument("--id", default=d.launcher_id, help=f"launcher id (default {d.launcher_id})")
    p.add_argument(
        "--fdc", default=d.fdc_id, help=f"id of the FDC whose heartbeat arms it (default {d.fdc_id})"
    )
    p.add_argument(
        "--position", type=_vec3, default=d.position_m, metavar="E,N,U", help="launcher position, m"
    )
    p.add_argument("--missiles", type=int, default=d.missiles)
    p.add_argument("--reaction-time-s", type=float, default=d.reaction_time_s)
    p.add_argument("--salvo-interval-s", type=float, default=d.salvo_interval_s)
    p.add_argument("--reload-time-s", type=float, default=d.reload_time_s)
    p.add_argument("--min-range-m", type=float, default=d.min_range_m)
    p.add_argument("--max-range-m", type=float, default=d.max_range_m)
    p.add_argument("--min-altitude-m", type=float, default=d.min_altitude_m)
    p.add_argument("--max-altitude-m", type=float, default=d.max_altitude_m)
    p.add_argument("--heartbeat-timeout-s", type=float, default=d.heartbeat_timeout_s)
    p.add_argument("--status-period-s", type=float, default=d.status_period_s)
    p.add_argument(
        "--max-clock-step-s",
        type=float,
        default=d.max_clock_step_s,
        help="farthest a heartbeat may move the clock, simulated s (default 5; farther: refused)",
    )
    p.add_argument(
        "--speed", type=float, default=d.speed, help="simulated seconds per wall second (default 1)"
    )
    p.add_argument(
        "--gpio",
        choices=("auto", "gpiozero", "console", "off"),
        default="auto",
        help="LED/relay through gpiozero, console lines, or nothing (default auto)",
    )
    p.add_argument("--led-pin", type=int, default=17, help="BCM pin of the READY LED (default 17)")
    p.add_argument("--relay-pin", type=int, default=27, help="BCM pin of the launch relay (default 27)")
    p.add_argument("--duration-s", type=float, default=None, help="stop after this many wall seconds")
    p.add_argument(
        "--timing-log",
        type=Path,
        default=None,
        metavar="FILE",
        help="append a JSON line per fire order: how long from its bytes in to its answer out",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the launcher mock until interrupted; prints a JSON summary at the end."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        key = read_key(args.key_file)
        config = PiConfig(
            launcher_id=args.id,
            fdc_id=args.fdc,
            position_m=args.position,
            missiles=args.missiles,
            reaction_time_s=args.reaction_time_s,
            salvo_interval_s=args.salvo_interval_s,
            reload_time_s=args.reload_time_s,
            min_range_m=args.min_range_m,
            max_range_m=args.max_range_m,
            min_altitude_m=args.min_altitude_m,
            max_clock_step_s=args.max_clock_step_s,
            max_altitude_m=args.max_altitude_m,
            heartbeat_timeout_s=args.heartbeat_timeout_s,
            status_period_s=args.status_period_s,
            speed=args.speed,
        )
        serial_config = SerialConfig(args.port, args.baud)
        gpio = make_gpio(args.gpio, args.id, args.led_pin, args.relay_pin, sys.stderr)
    except (ValueError, RuntimeError) as exc:
        print(f"pi_launcher: {exc}", file=sys.stderr)
        return 2
    try:
        timing = None if args.timing_log is None else args.timing_log.open("a", encoding="utf-8")
    except OSError as exc:
        print(f"pi_launcher: cannot write the timing log: {exc}", file=sys.stderr)
        return 2
    try:
        return run(config, key, serial_config, gpio, args.duration_s, timing)
    finally:
        if timing is not None:
            timing.close()


class OrderTimer:
    """How long each fire order took from its bytes read to its answer written (``--timing-log``).

    One JSON line per answered order: ``order_id``, ``answer`` (the state answered),
    ``read_at_s`` and ``answered_at_s`` (``time.perf_counter()``: CLOCK_MONOTONIC on Linux,
    so comparable with another program's stamps on the same machine), ``wall_s`` (their
    difference: decoding, the checks, encoding and writing the answer) and ``cpu_s`` (this
    thread's CPU time over the same span: ``wall_s`` minus the time the program was not
    running). Lines are written after the frames of a read are handled, not between an
    order and its answer."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._read: dict[str, tuple[float, float]] = {}
        self._lines: list[str] = []

    def order_in(self, order_id: str, read_at_s: float, read_cpu_s: float) -> None:
        """An order came in with the read that returned at these stamps."""
        self._read[order_id] = (read_at_s, read_cpu_s)

    def sent(self, body: m.Body) -> None:
        """A message was just written: stamp it if it answers a timed order."""
        if self._read and isinstance(body, m.EngagementStatus):
            stamps = self._read.pop(body.order_id, None)
            if stamps is not None:
                t, cpu = time.perf_counter(), time.thread_time()
                read_at, read_cpu = stamps
                self._lines.append(
                    json.dumps(
                        {
                            "order_id": body.order_id,
                            "answer": body.state.name,
                            "read_at_s": read_at,
                            "answered_at_s": t,
                            "wall_s": t - read_at,
                            "cpu_s": cpu - read_cpu,
                        }
                    )
                )

    def flush(self) -> None:
        """Write what was stamped; forget orders left unanswered (an answer is always immediate)."""
        self._read.clear()
        if self._lines:
            self.out.write("\n".join(self._lines) + "\n")
            self.out.flush()
            self._lines.clear()


def run(
    config: PiConfig,
    key: bytes,
    serial_config: SerialConfig,
    gpio: Gpio,
    duration_s: float | None,
    timing_log: TextIO | None = None,
) -> int:
    """The device loop: read frames, drive the launcher, write its messages."""
    link = BlockingLink(serial_config)
    sequences: dict[type, int] = {}
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: stopping.append(signum))
    timer = None if timing_log is None else OrderTimer(timing_log)
    link.last_read.with_cpu = timer is not None

    def send(body: m.Body, sim_s: float) -> None:
        seq = sequences[type(body)] = sequences.get(type(body), 0) + 1
        link.send(message_frame(link.next_seq(), m.Header(config.launcher_id, seq, sim_s), body))
        if timer is not None:
            timer.sent(body)

    # Milliseconds since the epoch: every boot of the device numbers above the previous ones.
    launcher = PiLauncher(config, key, send, gpio, boot_id=time.time_ns() // 1_000_000)
    started = time.monotonic()
    said = ""
    while not link.try_open():
        if link.last_error != said:
            said = link.last_error or ""
            print(f"pi_launcher: waiting for the port: {said}", file=sys.stderr, flush=True)
        time.sleep(0.05)
        if stopping or (duration_s is not None and time.monotonic() - started > duration_s):
            return 1
    print(
        f"pi_launcher: {config.launcher_id} on {serial_config.port} at {serial_config.baudrate} baud",
        file=sys.stderr,
    )
    bad_frames = 0
    # What exists now (modules, the launcher) lives as long as the program: out of the collector's
    # sight, a full collection cannot hold an order up while it walks it (~15 ms on a PC).
    gc.collect()
    gc.freeze()
    launcher.start(time.monotonic())
    try:
        while not stopping:
            now = time.monotonic()
            if duration_s is not None and now - started > duration_s:
                break
            due = launcher.poll(now)
            for frame in link.read_frames(min(max(due - time.monotonic(), 0.0), 0.2)):
                try:
                    msg = frame_message(frame)
                except FrameError as exc:
                    bad_frames += 1
                    log.warning("bad frame payload: %s", exc)
                    continue
                if timer is not None and isinstance(msg.body, m.FireOrder):
                    timer.order_in(msg.body.order_id, link.last_read.at_s, link.last_read.cpu_s)
                launcher.handle(msg, time.monotonic())
            if timer is not None:
                timer.flush()
    except KeyboardInterrupt:
        pass
    finally:
        link.close()
    summary = {
        "launcher": config.launcher_id,
        "state": launcher.machine.state.name,
        "missiles": launcher.machine.missiles,
        "fired": launcher.fired,
        "launched_orders": launcher.launched,
        "answers": {k: v.state.name for k, v in launcher.answers.items()},
        "rejections": launcher.rejections,
        "clock_refused": launcher.clock_refused,
        "heartbeats_refused": launcher.core.heartbeats_refused,
        "bad_frames": bad_frames,
        "link": link.stats.as_dict(),
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
