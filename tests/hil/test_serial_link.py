"""The serial link over real pseudo-terminals with real pyserial: frames both ways, exclusive
open, a device that disappears and comes back, a receiver that stops reading."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from hil import serial_link
from hil.cable import Cable
from hil.framing import MAX_PAYLOAD, Frame, encode_frame
from hil.serial_link import BlockingLink, LinkError, SerialConfig, SerialLink, open_port

pytestmark = pytest.mark.serial


def _frame(link: SerialLink | BlockingLink, payload: bytes, kind: int = 8) -> bytes:
    return encode_frame(Frame(kind, link.next_seq(), payload))


def _read(link: BlockingLink, n: int, timeout_s: float = 5.0) -> list[Frame]:
    got: list[Frame] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < n and time.monotonic() < deadline:
        got += link.read_frames(0.05)
    return got


def test_frames_flow_both_ways(cable: Callable[..., Cable]) -> None:
    c = cable()
    device = BlockingLink(SerialConfig(str(c.ends["b"].link)))
    assert device.try_open(), device.last_error

    async def main() -> tuple[list[Frame], list[Frame], dict[str, int]]:
        received: list[Frame] = []
        link = SerialLink(SerialConfig(str(c.ends["a"].link)), received.append)
        link.start()
        await link.wait_open(2)
        sent = [Frame(3, link.next_seq(), bytes([i % 251 + 1]) * (i * 37 % 900)) for i in range(60)]
        for f in sent:
            assert link.send(encode_frame(f))
        at_device = await asyncio.to_thread(_read, device, len(sent))
        replies = [Frame(4, device.next_seq(), b"ack" + bytes([i])) for i in range(60)]
        for f in replies:
            assert device.send(encode_frame(f))
        deadline = asyncio.get_running_loop().time() + 5
        while len(received) < len(replies) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        assert at_device == sent
        stats = link.stats.as_dict()
        link.close()
        return received, replies, stats

    received, replies, stats = asyncio.run(main())
    assert received == replies
    assert stats["rx_frames"] == 60 and stats["frames_tx"] == 60
    assert stats["rx_crc_errors"] == stats["rx_cobs_errors"] == stats["rx_gaps"] == 0
    assert device.stats.rx.frames == 60 and device.stats.rx.gaps == 0
    device.close()


class _ShortWrites:
    """``os`` for the links, except that a write takes at most 700 bytes (as a busy driver may)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    @staticmethod
    def write(fd: int, data: Any) -> int:
        return os.write(fd, bytes(data[:700]))


def test_short_writes_lose_nothing(cable: Callable[..., Cable], monkeypatch: pytest.MonkeyPatch) -> None:
    # Both links write straight to the descriptor: what it does not take must go out next, in order.
    monkeypatch.setattr(serial_link, "os", _ShortWrites())
    c = cable()
    device = BlockingLink(SerialConfig(str(c.ends["b"].link)))
    assert device.try_open(), device.last_error

    async def main() -> tuple[list[Frame], list[Frame], list[Frame], SerialLink]:
        received: list[Frame] = []
        link = SerialLink(SerialConfig(str(c.ends["a"].link)), received.append)
        link.start()
        await link.wait_open(2)
        sent = [Frame(3, link.next_seq(), bytes([i + 1]) * (MAX_PAYLOAD - 97 * i)) for i in range(30)]
        for f in sent:
            assert link.send(encode_frame(f))
        at_device = await asyncio.to_thread(_read, device, len(sent))
        replies = [Frame(4, device.next_seq(), bytes([i + 1]) * (150 * i)) for i in range(25)]
        # From a thread: more than the ptys hold, so the loop must read meanwhile.
        assert all(await asyncio.to_thread(lambda: [device.send(encode_frame(f)) for f in replies]))
        await _until(lambda: len(received) == len(replies))
        link.close()
        return at_device, sent, received, link

    at_device, sent, received, link = asyncio.run(main())
    assert at_device == sent
    assert [f.payload for f in received] == [bytes([i + 1]) * (150 * i) for i in range(25)]
    assert link.stats.bytes_tx == sum(len(encode_frame(f)) for f in sent)
    assert link.stats.dropped_tx == link.stats.write_timeouts == 0
    assert device.stats.frames_tx == 25 and device.stats.dropped_tx == 0
    assert device.stats.rx.gaps == device.stats.rx.crc_errors == device.stats.rx.cobs_errors == 0
    device.close()


def test_a_port_is_opened_exclusively(cable: Callable[..., Cable]) -> None:
    c = cable()
    config = SerialConfig(str(c.ends["a"].link))
    first = open_port(config, read_timeout_s=0, write_timeout_s=0)
    try:
        with pytest.raises(LinkError, match="in use by another program"):
            open_port(config, read_timeout_s=0, write_timeout_s=0)
    finally:
        first.close()
    with pytest.raises(LinkError, match="cannot open"):
        open_port(SerialConfig(str(c.ends["a"].link) + "-missing"), read_timeout_s=0, write_timeout_s=0)


def test_unplugged_device_is_reopened_when_it_returns(cable: Callable[..., Cable]) -> None:
    c = cable()
    device = BlockingLink(SerialConfig(str(c.ends["b"].link)))
    assert device.try_open()
    states: list[bool] = []

    async def main() -> tuple[list[Frame], SerialLink]:
        received: list[Frame] = []
        link = SerialLink(
            SerialConfig(str(c.ends["a"].link), reopen_interval_s=0.05), received.append, states.append
        )
        link.start()
        await link.wait_open(2)
        device.send(_frame(device, b"before"))
        await _until(lambda: len(received) == 1)
        await asyncio.to_thread(c.unplug, "a")
        await _until(lambda: not link.connected)
        assert not link.send(_frame(link, b"nobody there"))
        await asyncio.sleep(0.3)  # several reopen attempts fail meanwhile: the link is gone
        assert not link.connected
        await asyncio.to_thread(c.replug, "a")
        await link.wait_open(3)
        device.send(_frame(device, b"after"))
        link.send(_frame(link, b"hello again"))
        await _until(lambda: len(received) == 2)
        link.close()
        return received, link

    received, link = asyncio.run(main())
    assert [f.payload for f in received] == [b"before", b"after"]
    assert states == [True, False, True]
    s = link.stats
    assert (s.opens, s.losses, s.dropped_tx) == (2, 1, 1)
    assert [f.payload for f in _read(device, 1)] == [b"hello again"]


def test_write_timeout_drops_frames_and_never_blocks_the_loop(cable: Callable[..., Cable]) -> None:
    c = cable()  # nothing ever reads end b: the ptys and the relay fill up

    async def main() -> tuple[SerialLink, float]:
        link = SerialLink(SerialConfig(str(c.ends["a"].link), write_timeout_s=0.2), lambda _f: None)
        link.start()
        await link.wait_open(2)
        worst = 0.0
        loop = asyncio.get_running_loop()
        t_end = loop.time() + 1.5
        while loop.time() < t_end:
            link.send(_frame(link, bytes(range(1, 256)) * 16))
            t0 = loop.time()
            await asyncio.sleep(0.005)
            worst = max(worst, loop.time() - t0)
        link.close()
        return link, worst

    link, worst = asyncio.run(main())
    assert link.stats.write_timeouts >= 1
    assert link.stats.dropped_tx >= 1
    assert link.connected is False
    assert worst < 0.1, f"the event loop stalled {worst:.3f} s"


def test_pyserial_url_ports_work_too() -> None:
    async def main() -> list[Frame]:
        received: list[Frame] = []
        link = SerialLink(SerialConfig("loop://"), received.append)
        link.start()
        await link.wait_open(1)
        frames = [Frame(5, link.next_seq(), b"x" * i) for i in (0, 1, 300)]
        for f in frames:
            link.send(encode_frame(f))
        await _until(lambda: len(received) == 3)
        link.close()
        assert received == frames
        return received

    assert len(asyncio.run(main())) == 3


async def _until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


def test_blocking_link_survives_an_unplug(cable: Callable[..., Cable]) -> None:
    c = cable()
    device = BlockingLink(SerialConfig(str(c.ends["b"].link), reopen_interval_s=0.05))
    host = BlockingLink(SerialConfig(str(c.ends["a"].link)))
    assert device.try_open() and host.try_open()
    c.unplug("b")
    assert device.read_frames(0.2) == []
    assert device.stats.losses == 1 and not device.connected
    stop = threading.Event()
    c.replug("b")
    got: list[Frame] = []
    deadline = time.monotonic() + 3
    while not got and time.monotonic() < deadline and not stop.is_set():
        host.send(_frame(host, b"ping"))
        got = device.read_frames(0.05)
    assert [f.payload for f in got][:1] == [b"ping"]
    assert device.stats.opens == 2
