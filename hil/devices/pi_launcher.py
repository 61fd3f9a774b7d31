"""The program of a Raspberry Pi launcher mock, on the far end of a serial link from ``bmc hil launcher``.

    python -m hil.devices.pi_launcher --port /dev/serial0 --key-file l1.key [--id L1 ...]

It needs Python >= 3.11 with pyserial, protobuf and numpy (Raspberry Pi OS:
``apt install python3-serial python3-protobuf python3-numpy``) and this
repository's ``hil``, ``protocols`` and ``launchers`` packages; nothing else
(no simpy, no MQTT). It runs unchanged on a PC against a pseudo-terminal
(``python -m hil.cable``).

What it does, as the simulated launcher does (``launchers/node.py``):

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

Time: durations in the options are simulated seconds, as in the scenario; the
device runs them at ``--speed`` simulated seconds per wall second. It knows
"simulated time now" from the FDC heartbeats: the header time of the last
heartbeat plus the wall time elapsed since, times ``--speed`` (never going
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
import signal
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

from hil.framing import FrameError, frame_message, message_frame
from hil.serial_link import BlockingLink, SerialConfig
from launchers.launcher import Envelope, LauncherMachine, order_rejection
from protocols import codec
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
        if not self.launcher_id:
            raise ValueError("launcher id must not be empty")
        if self.missiles <= 0:
            raise ValueError(f"missiles must be > 0 (got {self.missiles})")
        for name in ("reaction_time_s", "salvo_interval_s", "reload_time_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (got {getattr(self, name)})")
        for name in ("heartbeat_timeout_s", "status_period_s", "speed", "max_clock_step_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 (got {getattr(self, name)})")
        if self.answers_kept < 1:
            raise ValueError(f"answers_kept must be >= 1 (got {self.answers_kept})")

    @property
    def beacon_period_s(self) -> float:
        """Simulated seconds between liveness beacons: three per heartbeat timeout."""
        return self.heartbeat_timeout_s / 3.0


class Gpio(Protocol):
    """What the launcher shows on hardware."""

    def show(self, state: m.LauncherState, missiles: int, reason: str) -> None:
        """A state change."""

    def launch(self, interceptor_id: str) -> None:
        """A missile left the rail."""


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
        return _NoGpio()
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


class _NoGpio:
    def show(self, state: m.LauncherState, missiles: int, reason: str) -> None:
        pass

    def launch(self, interceptor_id: str) -> None:
        pass


Send = Callable[[m.Body, float], None]
"""Sends a body with the given simulated time in its header."""


class PiLauncher:
    """The launcher logic, driven by messages and wall-clock seconds passed in (so tests need no clock)."""

    def __init__(self, config: PiConfig, key: bytes, send: Send, gpio: Gpio | None = None, boot_id: int = 1):
        self.config = config
        self.key = key
        self.boot_id = boot_id
        self._send = send
        self.gpio: Gpio = gpio or _NoGpio()
        self.machine = LauncherMachine(config.launcher_id, config.missiles)
        self.envelope = Envelope(
            config.position_m,
            config.min_range_m,
            config.max_range_m,
            config.min_altitude_m,
            config.max_altitude_m,
        )
        self.answers: OrderedDict[str, m.EngagementStatus] = OrderedDict()
        self.newest: tuple[float, str] | None = None
        """(issued_time_s, order_id) of the newest authentic order answered: the replay counter."""
        self.fired = 0
        self.launched: list[str] = []
        """Order id of every missile launched, in order."""
        self.rejections: dict[str, int] = {}
        self.clock_refused = 0
        """Heartbeats refused for moving the clock more than ``max_clock_step_s``."""
        self.last_heartbeat_wall: float | None = None
        self._ref: tuple[float, float] | None = None
        self._last_sim = float("-inf")
        self._timers: list[tuple[float, int, Callable[[float], None]]] = []
        self._timer_n = 0
        self._engagement_gen = 0
        self._engaging: m.FireOrder | None = None
        self._reloading = False

    # ------------------------------------------------------------ time

    def wall_s(self, sim_s: float) -> float:
        """Wall seconds lasting ``sim_s`` simulated seconds."""
        return sim_s / self.config.speed

    def sim_now(self, wall: float) -> float | None:
        """Simulated time now, from the last FDC heartbeat; None before the first one."""
        if self._ref is None:
            return None
        sim_ref, wall_ref = self._ref
        now = max(self._last_sim, sim_ref + (wall - wall_ref) * self.config.speed)
        self._last_sim = now
        return now

    def _at(self, due_wall: float, action: Callable[[float], None]) -> None:
        self._timer_n += 1
        heapq.heappush(self._timers, (due_wall, self._timer_n, action))

    def poll(self, wall: float) -> float:
        """Run everything due by ``wall``; returns when something is next due (wall seconds)."""
        self._watchdog(wall)
        while self._timers and self._timers[0][0] <= wall:
            _due, _n, action = heapq.heappop(self._timers)
            action(wall)
        due = self._timers[0][0] if self._timers else wall + 1.0
        if self.last_heartbeat_wall is not None and self.machine.state in (S.READY, S.ENGAGING, S.RELOADING):
            due = min(due, self.last_heartbeat_wall + self.wall_s(self.config.heartbeat_timeout_s))
        return due

    # ------------------------------------------------------------ reporting

    def _emit(self, body: m.Body, wall: float) -> None:
        sim = self.sim_now(wall)
        self._send(body, 0.0 if sim is None else sim)

    def status(self, wall: float, reason: str) -> None:
        """Report the current state."""
        mc = self.machine
        self._emit(
            m.LauncherStatus(self.config.launcher_id, mc.state, mc.missiles, self.config.position_m, reason),
            wall,
        )

    def _go(self, state: m.LauncherState, wall: float, reason: str) -> None:
        if self.machine.go(state):
            self.gpio.show(state, self.machine.missiles, reason)
            self.status(wall, reason)

    def _answer(self, status: m.EngagementStatus, wall: float) -> None:
        self._emit(status, wall)

    def start(self, wall: float) -> None:
        """Power on: first status, then periodic status and liveness beacons."""
        self.gpio.show(self.machine.state, self.machine.missiles, "power on")
        self.status(wall, "power on")
        self._beacon(wall)
        self._at(wall + self.wall_s(self.config.status_period_s), self._periodic)

    def _beacon(self, wall: float) -> None:
        self._emit(m.NodeState(self.config.launcher_id, "launcher", m.NodeStatus.BIRTH, self.boot_id), wall)
        self._at(wall + self.wall_s(self.config.beacon_period_s), self._beacon)

    def _periodic(self, wall: float) -> None:
        self.status(wall, "periodic")
        self._at(wall + self.wall_s(self.config.status_period_s), self._periodic)

    # ------------------------------------------------------------ inputs

    def handle(self, msg: m.Message, wall: float) -> None:
        """React to one message from the bridge."""
        body = msg.body
        if isinstance(body, m.FdcHeartbeat):
            self._on_heartbeat(msg, wall)
        elif isinstance(body, m.FireOrder):
            self._on_order(body, wall)
        elif isinstance(body, m.NodeState):
            # The bridge (re)connected or lost sight of us: tell it where we are.
            self.status(wall, "status requested")
        else:
            log.info("ignored a %s from the bridge", type(body).__name__)

    def _on_heartbeat(self, msg: m.Message, wall: float) -> None:
        if msg.header.sender != self.config.fdc_id:
            return
        t = msg.header.sim_time_s
        now = self.sim_now(wall)
        if now is not None and not abs(t - now) <= self.config.max_clock_step_s:
            # Neither a clock step nor a sign of life: a genuine FDC does not jump.
            self.clock_refused += 1
            log.warning("heartbeat at %.3f s refused: %.3f s from the device clock", t, t - now)
            return
        self._ref = (t, wall)
        self.last_heartbeat_wall = wall
        st = self.machine.state
        if st == S.SAFE:
            self._go(S.READY, wall, "FDC heartbeat received")
        elif st == S.HOLD:
            self._go(self.machine.after_engagement(), wall, "FDC heartbeat restored")
            if self.machine.state == S.RELOADING:
                self._start_reload(wall)

    def _watchdog(self, wall: float) -> None:
        last = self.last_heartbeat_wall
        timeout = self.config.heartbeat_timeout_s
        # The same expression as the deadline poll() reports, so reaching it always fires.
        if last is None or wall < last + self.wall_s(timeout):
            return
        if self.machine.state in (S.HOLD, S.SAFE, S.FAULT):
            return
        order = self._engaging
        self._go(S.HOLD, wall, f"no FDC heartbeat for {timeout:g} s")
        if order is not None:
            self._engagement_gen += 1
            self._engaging = None
            self._answer(
                m.EngagementStatus(order.order_id, self.config.launcher_id, E.ABORTED, "heartbeat lost"), wall
            )

    def _reject(self, order: m.FireOrder, reason: str, wall: float, remember: bool) -> None:
        answer = m.EngagementStatus(order.order_id, self.config.launcher_id, E.REJECTED, reason)
        key = reason.split(":")[0].split(" (")[0]
        self.rejections[key] = self.rejections.get(key, 0) + 1
        log.warning("order %s rejected: %s", order.order_id, reason)
        if remember:
            self._remember(answer)
        self._answer(answer, wall)

    def _remember(self, answer: m.EngagementStatus) -> None:
        self.answers[answer.order_id] = answer
        while len(self.answers) > self.config.answers_kept:
            self.answers.popitem(last=False)

    def _on_order(self, order: m.FireOrder, wall: float) -> None:
        if not codec.verify_order(order, self.key):
            # Not cached: a forgery must not decide the answer to the genuine order of that id.
            self._reject(order, "authentication failed", wall, remember=False)
            return
        previous = self.answers.get(order.order_id)
        if previous is not None:
            self._answer(previous, wall)  # idempotent: the same answer, never a second execution
            return
        now = self.sim_now(wall)
        stamp = (order.issued_time_s, order.order_id)
        if now is None:
            self._reject(order, "no FDC heartbeat yet (no time reference)", wall, remember=False)
            return
        if self.newest is not None and stamp <= self.newest:
            self._reject(
                order,
                f"replayed: issued {order.issued_time_s:.3f} s, not newer than order "
                f"{self.newest[1]} issued {self.newest[0]:.3f} s",
                wall,
                remember=True,
            )
            return
        self.newest = stamp
        reason = order_rejection(
            order,
            launcher_id=self.config.launcher_id,
            now_s=now,
            authentic=True,
            state=self.machine.state,
            missiles=self.machine.missiles,
            envelope=self.envelope,
        )
        if reason is not None:
            self._reject(order, reason, wall, remember=True)
            return
        answer = m.EngagementStatus(order.order_id, self.config.launcher_id, E.ACCEPTED)
        self._remember(answer)
        self._answer(answer, wall)
        self._go(S.ENGAGING, wall, f"order {order.order_id}")
        self._engaging = order
        self._engagement_gen += 1
        gen = self._engagement_gen
        self._at(wall + self.wall_s(self.config.reaction_time_s), lambda w: self._round(gen, order, 1, w))

    def _round(self, gen: int, order: m.FireOrder, rnd: int, wall: float) -> None:
        if gen != self._engagement_gen:
            return  # aborted meanwhile
        now = self.sim_now(wall)
        lid = self.config.launcher_id
        if now is not None and now > order.expiry_time_s:
            self._answer(
                m.EngagementStatus(order.order_id, lid, E.ABORTED, "order expired before launch", rnd), wall
            )
            self._engagement_done(wall, order)
            return
        self.machine.fire_one()
        self.fired += 1
        interceptor = f"{lid}-M{self.fired:03d}"
        self.launched.append(order.order_id)
        self.gpio.launch(interceptor)
        self._answer(
            m.EngagementStatus(
                order.order_id,
                lid,
                E.LAUNCHED,
                "",
                rnd,
                self.config.position_m,
                order.target_position_m,
                order.target_velocity_mps,
                order.issued_time_s,
                interceptor,
            ),
            wall,
        )
        if rnd < order.rounds:
            self._at(
                wall + self.wall_s(self.config.salvo_interval_s),
                lambda w: self._round(gen, order, rnd + 1, w),
            )
        else:
            self._engagement_done(wall, order)

    def _engagement_done(self, wall: float, order: m.FireOrder) -> None:
        self._engaging = None
        self._go(self.machine.after_engagement(), wall, f"order {order.order_id} done")
        if self.machine.state == S.RELOADING:
            self._start_reload(wall)

    def _start_reload(self, wall: float) -> None:
        if self._reloading:
            return
        self._reloading = True
        self._at(wall + self.wall_s(self.config.reload_time_s), self._reloaded)

    def _reloaded(self, wall: float) -> None:
        self._reloading = False
        self.machine.reloaded()
        if self.machine.state == S.RELOADING:
            self._go(S.READY, wall, "reloaded")


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
        "bad_frames": bad_frames,
        "link": link.stats.as_dict(),
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
