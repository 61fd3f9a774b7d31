"""A virtual null-modem cable: two pseudo-terminals joined back to back, with optional line noise.

    python -m hil.cable BRIDGE_LINK DEVICE_LINK [--flip P] [--drop P] [--insert P] [--seed N]

creates two pty pairs and the symlinks ``BRIDGE_LINK`` and ``DEVICE_LINK`` to
their slave ends (like udev's ``/dev/serial/by-id`` names), then relays bytes
between the masters until interrupted. Point ``bmc hil ... --port BRIDGE_LINK``
at one end and a device program (``--port DEVICE_LINK``) at the other, and the
Pi launcher mock or the sensor-board emulator runs on a PC exactly as on a rig.

The tests use :class:`Cable` directly: it can unplug and replug one end (the
pty disappears and a new one takes the same link name, as a USB adapter does)
and corrupts bytes per direction with :class:`LineNoise`, recording where, so a
test knows exactly which frames were touched. The relay is lossless otherwise:
when one side does not read, it stops reading the other (back pressure).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pty
import queue
import select
import signal
import sys
import threading
import tty
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True, slots=True)
class LineNoise:
    """Per-byte corruption probabilities of one direction of the cable."""

    flip: float = 0.0
    """Probability that a byte has one random bit inverted."""
    drop: float = 0.0
    """Probability that a byte is lost."""
    insert: float = 0.0
    """Probability that a random byte is inserted after a byte."""

    def __post_init__(self) -> None:
        for name in ("flip", "drop", "insert"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"line noise {name} must be in [0, 1) (got {value})")

    @property
    def clean(self) -> bool:
        """True when nothing is ever corrupted."""
        return self.flip == 0 and self.drop == 0 and self.insert == 0


Event = tuple[int, str, int]
"""(stream offset of the byte, 'flip'|'drop'|'insert', byte written: new value, inserted value, -1)."""


def corrupt(
    data: bytes, noise: LineNoise, rng: np.random.Generator, offset: int = 0
) -> tuple[bytes, list[Event]]:
    """``data`` after the noise, and what the noise did (an insertion comes after its byte)."""
    if noise.clean or not data:
        return data, []
    n = len(data)
    draws = rng.random((n, 3))
    bits = rng.integers(0, 8, n)
    extra = rng.integers(0, 256, n)
    out = bytearray()
    events: list[Event] = []
    for i, b in enumerate(data):
        if draws[i, 1] < noise.drop:
            events.append((offset + i, "drop", -1))
        elif draws[i, 0] < noise.flip:
            out.append(b ^ (1 << int(bits[i])))
            events.append((offset + i, "flip", out[-1]))
        else:
            out.append(b)
        if draws[i, 2] < noise.insert:
            out.append(int(extra[i]))
            events.append((offset + i, "insert", out[-1]))
    return bytes(out), events


@dataclass(slots=True)
class Direction:
    """Counters and noise events of one direction (a->b or b->a)."""

    noise: LineNoise
    bytes_in: int = 0
    """Bytes read from the source end (the offsets of ``events`` count these)."""
    bytes_out: int = 0
    bytes_cut: int = 0
    """Bytes lost because the other end was unplugged."""
    events: list[Event] = field(default_factory=list)
    pending: bytearray = field(default_factory=bytearray)


class _End:
    def __init__(self, link: Path) -> None:
        self.link = link
        self.master = -1
        self.slave = -1
        self.name = ""

    @property
    def plugged(self) -> bool:
        return self.master >= 0

    def plug(self) -> None:
        master, slave = pty.openpty()
        # Raw from the start: no echo, no line editing, before any program opens the slave.
        tty.setraw(slave)
        os.set_blocking(master, False)
        self.master, self.slave, self.name = master, slave, os.ttyname(slave)
        tmp = self.link.with_name(self.link.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(self.name)
        os.replace(tmp, self.link)

    def unplug(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()
        for fd in (self.master, self.slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.master = self.slave = -1


class Cable:
    """Two ptys back to back, relayed by a thread. Ends are 'a' and 'b'."""

    def __init__(
        self,
        link_a: Path,
        link_b: Path,
        noise_ab: LineNoise | None = None,
        noise_ba: LineNoise | None = None,
        seed: int = 0,
    ) -> None:
        self.ends = {"a": _End(Path(link_a)), "b": _End(Path(link_b))}
        self.ab = Direction(noise_ab or LineNoise())
        self.ba = Direction(noise_ba or LineNoise())
        self._rng = np.random.default_rng(seed)
        self._commands: queue.Queue[tuple[str, str | LineNoise, threading.Event]] = queue.Queue()
        self._wake_r, self._wake_w = os.pipe()
        self._thread: threading.Thread | None = None
        self._stop = False
        self.error: BaseException | None = None

    def start(self) -> Cable:
        """Create both ptys and their links and start relaying."""
        for end in self.ends.values():
            end.plug()
        self._thread = threading.Thread(target=self._relay, name="hil-cable", daemon=True)
        self._thread.start()
        return self

    def unplug(self, end: str = "a", timeout_s: float = 5.0) -> None:
        """Pull one end: its pty is closed (the program on it sees an I/O error) and its link removed."""
        self._command("unplug", self._end(end), timeout_s)

    def replug(self, end: str = "a", timeout_s: float = 5.0) -> None:
        """Plug a new pty in under the same link name."""
        self._command("replug", self._end(end), timeout_s)

    def set_noise(self, direction: str, noise: LineNoise, timeout_s: float = 5.0) -> None:
        """Change the noise of 'ab' or 'ba' from now on."""
        if direction not in ("ab", "ba"):
            raise ValueError(f"cable direction must be 'ab' or 'ba' (got {direction!r})")
        self._command(direction, noise, timeout_s)

    @staticmethod
    def _end(end: str) -> str:
        if end not in ("a", "b"):
            raise ValueError(f"cable end must be 'a' or 'b' (got {end!r})")
        return end

    def _command(self, what: str, arg: str | LineNoise, timeout_s: float) -> None:
        done = threading.Event()
        self._commands.put((what, arg, done))
        os.write(self._wake_w, b"x")
        if not done.wait(timeout_s):
            raise TimeoutError(f"cable did not {what} {arg} within {timeout_s} s")

    def close(self) -> None:
        """Stop relaying and close every pty."""
        self._stop = True
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(5)
        for end in self.ends.values():
            end.unplug()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    # ------------------------------------------------------------ relay thread

    def _run_commands(self) -> None:
        while True:
            try:
                what, arg, done = self._commands.get_nowait()
            except queue.Empty:
                return
            if isinstance(arg, LineNoise):
                (self.ab if what == "ab" else self.ba).noise = arg
            elif what == "unplug":
                self.ends[arg].unplug()
                # What was on its way to or from the pulled end is gone with it.
                for d in (self.ab, self.ba):
                    d.bytes_cut += len(d.pending)
                    d.pending.clear()
            elif not self.ends[arg].plugged:
                self.ends[arg].plug()
            done.set()

    def _relay(self) -> None:
        a, b = self.ends["a"], self.ends["b"]
        try:
            while not self._stop:
                self._run_commands()
                readers = [self._wake_r]
                writers = []
                for src, dst, d in ((a, b, self.ab), (b, a, self.ba)):
                    if d.pending:
                        if dst.plugged:
                            writers.append(dst.master)
                    elif src.plugged:
                        readers.append(src.master)
                r, w, _x = select.select(readers, writers, [])
                if self._wake_r in r:
                    os.read(self._wake_r, 4096)
                for src, dst, d in ((a, b, self.ab), (b, a, self.ba)):
                    if src.plugged and src.master in r and not d.pending:
                        self._pull(src, dst, d)
                    if dst.plugged and dst.master in w and d.pending:
                        self._push(dst, d)
        except BaseException as exc:  # reported to the owner (error), not swallowed
            self.error = exc

    def _pull(self, src: _End, dst: _End, d: Direction) -> None:
        try:
            data = os.read(src.master, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""  # no program has the slave open right now: nothing to relay
        if not data:
            return
        out, events = corrupt(data, d.noise, self._rng, d.bytes_in)
        d.bytes_in += len(data)
        d.events += events
        if dst.plugged:
            d.pending += out
            self._push(dst, d)
        else:
            d.bytes_cut += len(out)

    def _push(self, dst: _End, d: Direction) -> None:
        try:
            n = os.write(dst.master, d.pending)
        except BlockingIOError:
            return
        d.bytes_out += n
        del d.pending[:n]


def main(argv: list[str] | None = None) -> int:
    """Run a cable until interrupted."""
    p = argparse.ArgumentParser(prog="python -m hil.cable", description=__doc__.split("\n\n")[0])
    p.add_argument("link_a", type=Path, help="symlink to create for one end (e.g. the bridge's --port)")
    p.add_argument("link_b", type=Path, help="symlink for the other end (e.g. the device's --port)")
    p.add_argument("--flip", type=float, default=0.0, help="probability per byte of a bit flip")
    p.add_argument("--drop", type=float, default=0.0, help="probability per byte of a lost byte")
    p.add_argument("--insert", type=float, default=0.0, help="probability per byte of an inserted byte")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise")
    args = p.parse_args(argv)
    try:
        noise = LineNoise(args.flip, args.drop, args.insert)
    except ValueError as exc:
        print(f"hil.cable: {exc}", file=sys.stderr)
        return 2
    cable = Cable(args.link_a, args.link_b, noise, noise, args.seed).start()
    print(f"{args.link_a} -> {cable.ends['a'].name}", flush=True)
    print(f"{args.link_b} -> {cable.ends['b'].name}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            if cable.error is not None:
                print(f"hil.cable: relay failed: {cable.error}", file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        pass
    finally:
        cable.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
