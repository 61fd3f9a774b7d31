"""Replay helpers: delivery times of recorded messages, and the fire-order comparison."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest

from bmc.replay import OrderSeen, compare_orders, delivery_times
from protocols import messages as m
from protocols.recording import RecordedMessage, RecordingError


def _msgs(times: list[float]) -> list[RecordedMessage]:
    return [RecordedMessage(i, t, "t", b"", 0, 0) for i, t in enumerate(times)]


def _reference(times: list[float], lookahead: int) -> list[float]:
    out, last = [], -np.inf
    for i in range(len(times)):
        last = max(last, min(times[i : i + lookahead + 1]))
        out.append(float(last))
    return out


@pytest.mark.parametrize("lookahead", [1, 3, 16])
def test_delivery_time_is_the_least_time_ahead_never_going_back(lookahead: int) -> None:
    rng = np.random.default_rng(4)
    for _ in range(200):
        times = [float(x) for x in rng.integers(0, 30, size=int(rng.integers(0, 50)))]
        got = [d for d, _ in delivery_times(_msgs(times), lookahead)]
        assert got == _reference(times, lookahead)


def test_in_order_times_are_kept_exactly() -> None:
    times = [0.0, 0.3, 0.1 + 0.2, 1.5, 1.5, 7.25]  # 0.3 < 0.1 + 0.2 in floating point
    assert [d for d, _ in delivery_times(_msgs(times))] == times


def test_retained_messages_of_an_earlier_run_are_delivered_at_the_start() -> None:
    got = [d for d, _ in delivery_times(_msgs([400.0, 400.0, 0.0, 0.0, 1.0, 2.0, 1.999, 3.0]))]
    assert got == [0.0, 0.0, 0.0, 0.0, 1.0, 1.999, 1.999, 3.0]


def test_a_damaged_recording_still_delivers_what_was_read_then_raises() -> None:
    def damaged() -> Iterator[RecordedMessage]:
        yield from _msgs([0.0, 1.0, 2.0])
        raise RecordingError("r.mcap: damaged recording")

    seen: list[float] = []
    with pytest.raises(RecordingError, match="damaged"):
        for d, _ in delivery_times(damaged()):
            seen.append(d)
    assert seen == [0.0, 1.0, 2.0]


ORDER = m.FireOrder(
    order_id="FDC-00001",
    launcher_id="L1",
    target_track_id=3,
    target_position_m=(1000.0, 2000.0, 300.0),
    target_velocity_mps=(-50.0, 0.0, 0.0),
    intercept_point_m=(800.0, 2000.0, 300.0),
    intercept_time_s=14.0,
    rounds=1,
    issued_time_s=10.5,
    expiry_time_s=20.5,
)


def test_identical_orders_and_resends_give_no_difference() -> None:
    log = [OrderSeen(10.5, ORDER, 1), OrderSeen(11.5, ORDER, 2)]
    tiny = replace(ORDER, intercept_point_m=(800.0 + 1e-7, 2000.0, 300.0))
    assert compare_orders(log, [OrderSeen(10.5, tiny, 1), OrderSeen(11.5, tiny, 2)]) == []


def test_differences_are_one_line_per_order() -> None:
    other = replace(ORDER, launcher_id="L2", rounds=2, intercept_point_m=(900.0, 2000.0, 300.0))
    second = replace(ORDER, order_id="FDC-00002")
    diffs = compare_orders(
        [OrderSeen(10.5, ORDER, 1), OrderSeen(30.5, second, 1)],
        [
            OrderSeen(10.5, other, 1),
            OrderSeen(11.5, other, 2),
            OrderSeen(40.5, replace(ORDER, order_id="X"), 1),
        ],
    )
    assert diffs == [
        "FDC-00001 (10.500 s): launcher L1 -> L2; rounds 1 -> 2; intercept_point_m (800.0, 2000.0, 300.0) -> "
        "(900.0, 2000.0, 300.0); resent 1 time(s), recorded 0",
        "FDC-00002 (30.500 s): recorded at 30.500 s (L1, track 3, 1 round(s)), "
        "not issued by the replayed FDC",
        "X: issued only by the replayed FDC, at 40.500 s (L1, track 3, 1 round(s))",
    ]
