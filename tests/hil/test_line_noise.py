"""Line noise between device and bridge (bit flips, dropped and inserted bytes), over real ptys:
no corrupt frame is ever accepted, every loss is counted, and the receiver resynchronises within
one frame: every frame the noise did not touch arrives."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

from hil.cable import Cable, LineNoise
from hil.framing import Frame, encode_frame
from hil.serial_link import BlockingLink, SerialConfig, SerialLink

pytestmark = pytest.mark.serial

N_FRAMES = 400


def _frames(rng: np.random.Generator) -> list[Frame]:
    out = []
    for i in range(N_FRAMES):
        n = int(rng.integers(0, 300))
        # Zeros included, so stuffing has work to do.
        payload = bytes(rng.integers(0, 256, n, dtype=np.uint8) * (rng.random(n) > 0.1))
        out.append(Frame(int(rng.integers(1, 11)), i % 256, payload))
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_noise_never_passes_a_corrupt_frame_and_every_untouched_frame_arrives(
    cable: Callable[..., Cable], seed: int
) -> None:
    noise = LineNoise(flip=0.001, drop=0.001, insert=0.001)
    c = cable(noise_ba=noise, seed=seed)
    sent = _frames(np.random.default_rng(seed))
    wire = [encode_frame(f) for f in sent]

    async def main() -> tuple[list[Frame], SerialLink]:
        received: list[Frame] = []
        link = SerialLink(SerialConfig(str(c.ends["a"].link)), received.append)
        link.start()
        await link.wait_open(2)
        device = BlockingLink(SerialConfig(str(c.ends["b"].link)))

        def send_all() -> None:
            assert device.try_open()  # writes one 0x00 first: stream offset 0
            for w in wire:
                assert device.send(w)

        await asyncio.to_thread(send_all)
        total = 1 + sum(len(w) for w in wire)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while (c.ba.bytes_in < total or c.ba.pending) and loop.time() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        link.close()
        device.close()
        return received, link

    received, link = asyncio.run(main())
    assert c.ba.events, "the noise did nothing: the test proves nothing"

    # Zero corrupt frames accepted: whatever came out is byte-for-byte a frame that was sent, in order.
    index = {(f.seq, f.type, f.payload): i for i, f in enumerate(sent)}
    positions = [index.get((f.seq, f.type, f.payload)) for f in received]
    assert None not in positions, "a corrupt frame was accepted"
    assert positions == sorted(positions)

    # Resynchronisation within one frame: a frame whose bytes and the delimiter before it were not
    # touched arrives, even right after a damaged one.
    starts, offset = [], 1
    for w in wire:
        starts.append(offset)
        offset += len(w)
    touched = set()
    for pos, kind, _value in c.ba.events:
        for k, (s, w) in enumerate(zip(starts, wire, strict=True)):
            end = s + len(w) - 1  # this frame's delimiter
            if s - 1 <= pos <= end - (1 if kind == "insert" else 0):
                touched.add(k)
    untouched = set(range(N_FRAMES)) - touched
    got = set(p for p in positions if p is not None)
    assert untouched <= got, f"untouched frames lost: {sorted(untouched - got)[:10]}"
    assert touched, "no frame was damaged"

    # Every loss is counted: by sequence gaps (no run of 256 losses here) and by a refusal reason.
    lost = N_FRAMES - len(received)
    s = link.stats.rx
    assert lost >= 1
    assert s.gaps == lost - positions[0] - (N_FRAMES - 1 - positions[-1])
    assert s.dropped >= 1
    assert s.frames == len(received)


def test_a_garbage_burst_costs_at_most_the_frame_it_hits(cable: Callable[..., Cable]) -> None:
    c = cable()
    sent = [Frame(8, i, bytes([i + 1]) * 50) for i in range(20)]
    host = BlockingLink(SerialConfig(str(c.ends["a"].link)))
    device = BlockingLink(SerialConfig(str(c.ends["b"].link)))
    assert host.try_open() and device.try_open()
    received: list[Frame] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            received.extend(host.read_frames(0.05))

    t = threading.Thread(target=reader)
    t.start()
    for i, f in enumerate(sent):
        w = encode_frame(f)
        if i == 7:
            w = w[:20] + b"\xa5\x5a\x00\x13\x37" + w[20:]  # burst with a stray delimiter inside frame 7
        device.send(w)
    time.sleep(0.5)
    done.set()
    t.join()
    assert [f.seq for f in received] == [i for i in range(20) if i != 7]
    assert host.stats.rx.gaps == 1
    assert host.stats.rx.dropped == 2  # the two pieces of frame 7
