"""Serial ports for the bridges and the device programs. The only module that imports pyserial.

Two faces over the same framing and counters:

- :class:`SerialLink` for asyncio programs (the bridges): reads through the event
  loop's reader callbacks (no thread, no polling), writes without ever blocking
  the loop (a frame still unsent after ``write_timeout_s`` is dropped and
  counted), and reopens the port after the device disappears (USB unplug, a
  pseudo-terminal closed);
- :class:`BlockingLink` for the single-threaded device programs (the Pi launcher
  mock, the sensor-board emulator): read frames with a timeout, write frames,
  reopen on loss.

Ports are opened exclusively (``flock``) where the OS supports it, so a second
bridge on the same device fails at once instead of stealing half the bytes.
pyserial opens, configures and closes the port; once open, a port with a file
descriptor (any device path or pty) is read and written through that descriptor,
non-blocking, without pyserial's extra ``select()`` per call (a fire order's round
trip crosses four of these calls).
``port`` may be a device path or any pyserial URL (``loop://``, ``socket://``...).

For latency accounting, both links note when their last read returned
(:class:`ReadStamp`), before the bytes are decoded, so a program that stamps its
answer's write the same way knows what its own handling of the frames just read
took.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import serial

from hil.framing import DecoderStats, Frame, FrameDecoder

log = logging.getLogger(__name__)

BAUD_RATES = (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 1000000, 2000000, 3000000)
"""Rates the CLI accepts (what common USB-serial chips and the Pi's PL011 UART do)."""


class LinkError(OSError):
    """A port that cannot be opened or used; the message names it and says why."""


@dataclass(frozen=True, slots=True)
class SerialConfig:
    """Where and how to talk to one device."""

    port: str
    """Device path (``/dev/ttyUSB0``, ``/dev/serial0``, a pty) or a pyserial URL."""
    baudrate: int = 115200
    """Line rate, bits per second (8N1: 10 bits per byte)."""
    exclusive: bool = True
    """Lock the port against a second opener (POSIX ``flock``)."""
    write_timeout_s: float = 0.5
    """A frame not written within this long (wall seconds) is dropped and counted."""
    reopen_interval_s: float = 0.1
    """First wait before reopening a lost port; doubles up to ``reopen_max_s``."""
    reopen_max_s: float = 1.0

    def __post_init__(self) -> None:
        if not self.port:
            raise ValueError("serial port must be named (got '')")
        if self.baudrate <= 0:
            raise ValueError(f"baud rate must be > 0 (got {self.baudrate})")
        if not self.write_timeout_s > 0:
            raise ValueError(f"write_timeout_s must be > 0 (got {self.write_timeout_s})")
        if not 0 < self.reopen_interval_s <= self.reopen_max_s:
            raise ValueError(
                "need 0 < reopen_interval_s <= reopen_max_s "
                f"(got {self.reopen_interval_s}, {self.reopen_max_s})"
            )


@dataclass(slots=True)
class ReadStamp:
    """When a link's last read returned, before its bytes were decoded."""

    at_s: float = 0.0
    """``time.perf_counter()`` then."""
    cpu_s: float = 0.0
    """``time.thread_time()`` then, when ``with_cpu`` is set."""
    with_cpu: bool = False
    """Also stamp ``cpu_s`` (off by default: a system call per read, ~1 us)."""

    def take(self) -> None:
        """Stamp now."""
        self.at_s = time.perf_counter()
        if self.with_cpu:
            self.cpu_s = time.thread_time()


@dataclass(slots=True)
class LinkStats:
    """Counters of one link: the receiver's (frames, CRC failures, gaps...) and the sender's."""

    rx: DecoderStats = field(default_factory=DecoderStats)
    frames_tx: int = 0
    bytes_tx: int = 0
    dropped_tx: int = 0
    """Frames not sent: port down, or write timeout."""
    write_timeouts: int = 0
    opens: int = 0
    losses: int = 0
    """Times the open port failed (device gone, I/O error)."""

    def as_dict(self) -> dict[str, int]:
        """Flat counters by name (``rx_*`` for the receiving side)."""
        out = {f"rx_{k}": v for k, v in self.rx.as_dict().items()}
        out.update(
            frames_tx=self.frames_tx,
            bytes_tx=self.bytes_tx,
            dropped_tx=self.dropped_tx,
            write_timeouts=self.write_timeouts,
            opens=self.opens,
            losses=self.losses,
        )
        return out


def open_port(config: SerialConfig, *, read_timeout_s: float | None, write_timeout_s: float | None) -> Any:
    """Open the port raw (8N1, no flow control); raises :class:`LinkError` with the reason.

    Timeouts as pyserial takes them: 0 is non-blocking, None blocks."""
    kwargs: dict[str, Any] = {
        "baudrate": config.baudrate,
        "timeout": read_timeout_s,
        "write_timeout": write_timeout_s,
    }
    if config.exclusive and "://" not in config.port:
        kwargs["exclusive"] = True
    try:
        port = serial.serial_for_url(config.port, **kwargs)
    except (serial.SerialException, OSError, ValueError) as exc:
        text = str(exc)
        if "exclusively lock" in text:
            raise LinkError(f"{config.port}: in use by another program ({text})") from None
        raise LinkError(f"{config.port}: cannot open ({text})") from None
    return port


def _fileno(port: Any) -> int | None:
    """The port's descriptor, made non-blocking; None for ports without one (pyserial URLs)."""
    try:
        fd = port.fileno()
    except (AttributeError, NotImplementedError, OSError, ValueError, serial.SerialException):
        return None
    if not isinstance(fd, int):
        return None
    # pyserial opens POSIX ports non-blocking already; the links rely on it, so make sure.
    os.set_blocking(fd, False)
    return fd


def _read_ready(fd: int) -> bytes:
    """What a readable descriptor holds; raises when it reports readable but has nothing (gone)."""
    data = os.read(fd, 4096)
    if not data:
        raise serial.SerialException("readable but no data (device disconnected?)")
    return data


class SerialLink:
    """An asyncio-driven framed link. Frames go to ``on_frame``; up/down changes to ``on_state``.

    Call :meth:`start` inside a running loop: it opens the port (or keeps
    trying, with backoff, until it can) and reopens it whenever it is lost.
    """

    def __init__(
        self,
        config: SerialConfig,
        on_frame: Callable[[Frame], None],
        on_state: Callable[[bool], None] | None = None,
    ) -> None:
        self.config = config
        self.stats = LinkStats()
        self.decoder = FrameDecoder(self.stats.rx)
        self.last_error: str | None = None
        self._on_frame = on_frame
        self._on_state = on_state or (lambda _up: None)
        self._port: Any = None
        self._fd: int | None = None
        self._seq = 0
        self._tx: deque[bytes] = deque()
        self._tx_offset = 0
        self._tx_blocked_since: float | None = None
        self._resync = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._retry: asyncio.TimerHandle | None = None
        self._backoff = config.reopen_interval_s
        self._closed = False
        self.up = asyncio.Event()
        self.last_read = ReadStamp()

    @property
    def connected(self) -> bool:
        """True while the port is open."""
        return self._port is not None

    def start(self) -> None:
        """Open now if possible, else keep trying in the background."""
        self._loop = asyncio.get_running_loop()
        self._try_open()

    async def wait_open(self, timeout_s: float) -> None:
        """Wait until the port is open; :class:`LinkError` naming the last error after ``timeout_s``."""
        try:
            await asyncio.wait_for(self.up.wait(), timeout_s)
        except TimeoutError:
            raise LinkError(
                f"{self.config.port}: not open within {timeout_s:g} s "
                f"({self.last_error or 'no reason given'})"
            ) from None

    def close(self) -> None:
        """Close the port and stop reopening it."""
        self._closed = True
        if self._retry is not None:
            self._retry.cancel()
        self._drop_port()

    # ------------------------------------------------------------ sending

    def next_seq(self) -> int:
        """The sequence number for the next frame (advances it)."""
        seq = self._seq
        self._seq = (seq + 1) % 256
        return seq

    def send(self, data: bytes) -> bool:
        """Queue one encoded frame (from :func:`hil.framing.encode_frame`); False when the port is down."""
        if self._port is None:
            self.stats.dropped_tx += 1
            return False
        if self._resync:
            # The previous frame was cut short: terminate it so the receiver resynchronises here.
            data = b"\x00" + data
            self._resync = False
        self._tx.append(data)
        self.stats.frames_tx += 1
        if len(self._tx) == 1:
            self._flush()
        return True

    def _write(self, data: bytes | memoryview) -> int:
        """Bytes of ``data`` the port took now; 0 when it takes none (its buffer is full)."""
        fd = self._fd
        if fd is None:
            n = self._port.write(data)
            return len(data) if n is None else int(n)
        try:
            # Straight to the non-blocking descriptor: pyserial's write() adds a select() and
            # timeout bookkeeping per call that a non-blocking write does not need.
            return os.write(fd, data)
        except BlockingIOError:
            return 0

    def _flush(self) -> None:
        if self._port is None:
            return
        tx = self._tx
        try:
            while tx:
                head = tx[0]
                offset = self._tx_offset
                n = self._write(memoryview(head)[offset:] if offset else head)
                if n == 0:
                    self._wait_writable()
                    return
                self.stats.bytes_tx += n
                offset += n
                if offset >= len(head):
                    tx.popleft()
                    offset = 0
                self._tx_offset = offset
        except (serial.SerialException, OSError) as exc:
            self._lost(f"write failed: {exc}")
            return
        if self._tx_blocked_since is not None:
            # It had been waiting for the port: stop watching it.
            self._tx_blocked_since = None
            if self._fd is not None and self._loop is not None:
                with contextlib.suppress(ValueError, OSError):
                    self._loop.remove_writer(self._fd)

    def _wait_writable(self) -> None:
        loop = self._loop
        assert loop is not None and self._fd is not None
        now = loop.time()
        if self._tx_blocked_since is None:
            self._tx_blocked_since = now
            loop.add_writer(self._fd, self._flush)
            loop.call_later(self.config.write_timeout_s, self._check_write_timeout)
        elif now - self._tx_blocked_since >= self.config.write_timeout_s:
            self._check_write_timeout()

    def _check_write_timeout(self) -> None:
        loop = self._loop
        since = self._tx_blocked_since
        if loop is None or since is None or loop.time() - since < self.config.write_timeout_s * 0.999:
            return
        dropped = len(self._tx)
        self.stats.write_timeouts += 1
        self.stats.dropped_tx += dropped
        self._resync = self._tx_offset > 0
        self._tx.clear()
        self._tx_offset = 0
        self._tx_blocked_since = None
        if self._fd is not None:
            with contextlib.suppress(ValueError, OSError):
                loop.remove_writer(self._fd)
        log.warning("%s: write timeout, %d frame(s) dropped", self.config.port, dropped)

    # ------------------------------------------------------------ receiving

    def _readable(self) -> None:
        port = self._port
        if port is None:
            return
        fd = self._fd
        try:
            # The loop said the descriptor is readable: read it directly (pyserial's read() would
            # select() on it once more first).
            data = port.read(4096) if fd is None else _read_ready(fd)
        except BlockingIOError:
            return
        except (serial.SerialException, OSError) as exc:
            self._lost(f"read failed: {exc}")
            return
        if not data:
            return
        self.last_read.take()
        for frame in self.decoder.frames(data):  # each frame handed on as soon as it is decoded
            self._on_frame(frame)

    # ------------------------------------------------------------ open, lose, reopen

    def _try_open(self) -> None:
        self._retry = None
        if self._closed or self._port is not None:
            return
        loop = self._loop
        assert loop is not None
        try:
            # Non-blocking both ways: writes happen only when select() says the port takes bytes.
            port = open_port(self.config, read_timeout_s=0.0, write_timeout_s=0.0)
        except LinkError as exc:
            if exc.args and str(exc) != self.last_error:
                log.info("%s", exc)
            self.last_error = str(exc)
            self._retry = loop.call_later(self._backoff, self._try_open)
            self._backoff = min(self._backoff * 2, self.config.reopen_max_s)
            return
        self._port = port
        self._fd = _fileno(port)
        self._backoff = self.config.reopen_interval_s
        self.decoder.reset()
        self.stats.opens += 1
        if self._fd is not None:
            loop.add_reader(self._fd, self._readable)
        else:
            # URL handlers (loop://, socket://) cannot be selected on: poll them, and let their
            # writes complete (they model no wire time worth waiting for).
            port.write_timeout = None
            self._retry = loop.call_later(0.001, self._poll)
        self.up.set()
        # A lone delimiter ends whatever garbage the device may hold from before.
        with contextlib.suppress(serial.SerialException, OSError):
            port.write(b"\x00")
        log.info("%s: open at %d baud", self.config.port, self.config.baudrate)
        self._on_state(True)

    def _poll(self) -> None:
        # Ports without a file descriptor (pyserial URL handlers such as loop://).
        self._retry = None
        if self._port is None or self._loop is None:
            return
        self._readable()
        if self._port is not None:
            self._retry = self._loop.call_later(0.001, self._poll)

    def _lost(self, why: str) -> None:
        self.stats.losses += 1
        self.last_error = f"{self.config.port}: {why}"
        log.warning("%s: device lost (%s); reopening", self.config.port, why)
        self._drop_port()
        self._on_state(False)
        if not self._closed and self._loop is not None:
            self._retry = self._loop.call_later(self._backoff, self._try_open)

    def _drop_port(self) -> None:
        port, fd, loop = self._port, self._fd, self._loop
        self._port = None
        self._fd = None
        self.up.clear()
        if self._tx:
            self.stats.dropped_tx += len(self._tx)
            self._tx.clear()
        self._tx_offset = 0
        self._tx_blocked_since = None
        if fd is not None and loop is not None:
            with contextlib.suppress(ValueError, OSError):
                loop.remove_reader(fd)
            with contextlib.suppress(ValueError, OSError):
                loop.remove_writer(fd)
        if port is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()


class BlockingLink:
    """A framed link for single-threaded device programs (no asyncio).

    :meth:`read_frames` waits up to a timeout and returns the frames that came
    in; a lost port is reopened on the next calls (with backoff), never raised.
    """

    def __init__(self, config: SerialConfig) -> None:
        self.config = config
        self.stats = LinkStats()
        self.decoder = FrameDecoder(self.stats.rx)
        self.last_error: str | None = None
        self._port: Any = None
        self._fd: int | None = None
        self._seq = 0
        self._next_try = 0.0
        self._backoff = config.reopen_interval_s
        self.last_read = ReadStamp()

    @property
    def connected(self) -> bool:
        """True while the port is open."""
        return self._port is not None

    def next_seq(self) -> int:
        """The sequence number for the next frame (advances it)."""
        seq = self._seq
        self._seq = (seq + 1) % 256
        return seq

    def try_open(self) -> bool:
        """Open the port unless open; False (and the reason in ``last_error``) when it cannot yet."""
        if self._port is not None:
            return True
        now = time.monotonic()
        if now < self._next_try:
            return False
        try:
            port = open_port(self.config, read_timeout_s=0.0, write_timeout_s=self.config.write_timeout_s)
        except LinkError as exc:
            self.last_error = str(exc)
            self._next_try = now + self._backoff
            self._backoff = min(self._backoff * 2, self.config.reopen_max_s)
            return False
        self._port = port
        self._fd = _fileno(port)
        self._backoff = self.config.reopen_interval_s
        self.decoder.reset()
        self.stats.opens += 1
        with contextlib.suppress(serial.SerialException, OSError):
            port.write(b"\x00")
        return True

    def read_frames(self, timeout_s: float) -> list[Frame]:
        """Frames received within ``timeout_s`` (wall seconds); [] on timeout or while the port is down."""
        timeout_s = max(0.0, timeout_s)
        if not self.try_open():
            time.sleep(min(timeout_s, max(0.0, self._next_try - time.monotonic())))
            return []
        port = self._port
        fd = self._fd
        try:
            if fd is not None:
                ready, _w, _x = select.select([fd], [], [], timeout_s)
                if not ready:
                    return []
                data = _read_ready(fd)  # not port.read(): it would select() a second time
            else:
                port.timeout = timeout_s
                data = port.read(max(1, port.in_waiting))
        except BlockingIOError:
            return []
        except (serial.SerialException, OSError) as exc:
            self._lost(f"read failed: {exc}")
            return []
        self.last_read.take()
        return self.decoder.feed(data)

    def send(self, data: bytes) -> bool:
        """Write one encoded frame (blocking up to the write timeout); False when not sent."""
        port = self._port
        if port is None:
            self.stats.dropped_tx += 1
            return False
        try:
            # A frame usually fits in the driver's buffer at once: one non-blocking write. Only
            # what it does not take goes through pyserial, which waits up to the write timeout.
            sent = 0
            if self._fd is not None:
                with contextlib.suppress(BlockingIOError):
                    sent = os.write(self._fd, data)
            if sent < len(data):
                port.write(memoryview(data)[sent:] if sent else data)
        except serial.SerialTimeoutException:
            self.stats.write_timeouts += 1
            self.stats.dropped_tx += 1
            with contextlib.suppress(serial.SerialException, OSError):
                port.reset_output_buffer()
                port.write(b"\x00")
            return False
        except (serial.SerialException, OSError) as exc:
            self.stats.dropped_tx += 1
            self._lost(f"write failed: {exc}")
            return False
        self.stats.frames_tx += 1
        self.stats.bytes_tx += len(data)
        return True

    def _lost(self, why: str) -> None:
        self.stats.losses += 1
        self.last_error = f"{self.config.port}: {why}"
        log.warning("%s", self.last_error)
        self.close()
        self._next_try = time.monotonic() + self._backoff

    def close(self) -> None:
        """Close the port (it is reopened by the next read)."""
        port = self._port
        self._port = None
        self._fd = None
        if port is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()
