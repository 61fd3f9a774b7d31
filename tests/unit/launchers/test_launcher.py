"""Launcher state machine, magazine, envelope and fire-order acceptance rules."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from launchers.launcher import (
    TRANSITIONS,
    Envelope,
    IllegalTransitionError,
    LauncherMachine,
    order_rejection,
)
from protocols.messages import FireOrder, LauncherState

S = LauncherState

# The lifecycle as specified, written out independently of the production table.
LEGAL = {
    (S.SAFE, S.READY),
    (S.SAFE, S.HOLD),
    (S.SAFE, S.FAULT),
    (S.READY, S.ENGAGING),
    (S.READY, S.HOLD),
    (S.READY, S.FAULT),
    (S.READY, S.SAFE),
    (S.ENGAGING, S.READY),
    (S.ENGAGING, S.RELOADING),
    (S.ENGAGING, S.HOLD),
    (S.ENGAGING, S.FAULT),
    (S.RELOADING, S.READY),
    (S.RELOADING, S.HOLD),
    (S.RELOADING, S.FAULT),
    (S.HOLD, S.READY),
    (S.HOLD, S.RELOADING),
    (S.HOLD, S.FAULT),
    (S.HOLD, S.SAFE),
    (S.FAULT, S.SAFE),
}


def machine_in(state: LauncherState, missiles: int = 4) -> LauncherMachine:
    lm = LauncherMachine("L1", missiles)
    lm.state = state
    return lm


def test_table_matches_specification() -> None:
    assert set(TRANSITIONS) == set(S)
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == LEGAL
    assert TRANSITIONS[S.FAULT] == frozenset({S.SAFE})


def test_starts_safe_and_full() -> None:
    lm = LauncherMachine("L1", 4)
    assert lm.state == S.SAFE
    assert lm.missiles == lm.capacity == 4


@pytest.mark.parametrize(("old", "new"), sorted(LEGAL))
def test_legal_transition(old: LauncherState, new: LauncherState) -> None:
    lm = machine_in(old)
    assert lm.go(new) is True
    assert lm.state == new


ILLEGAL = sorted((a, b) for a, b in itertools.product(S, S) if a != b and (a, b) not in LEGAL)


@pytest.mark.parametrize(("old", "new"), ILLEGAL)
def test_illegal_transition_raises_and_keeps_state(old: LauncherState, new: LauncherState) -> None:
    lm = machine_in(old)
    with pytest.raises(IllegalTransitionError, match=f"L1: {old.name} -> {new.name}"):
        lm.go(new)
    assert lm.state == old


def test_illegal_examples() -> None:
    assert (S.FAULT, S.READY) in ILLEGAL
    assert (S.SAFE, S.ENGAGING) in ILLEGAL
    assert (S.RELOADING, S.ENGAGING) in ILLEGAL
    assert (S.HOLD, S.ENGAGING) in ILLEGAL
    assert len(ILLEGAL) == 30 - len(LEGAL)


@pytest.mark.parametrize("state", list(S))
def test_same_state_is_a_no_op(state: LauncherState) -> None:
    lm = machine_in(state)
    assert lm.go(state) is False
    assert lm.state == state


def test_typical_lifecycle() -> None:
    lm = LauncherMachine("L1", 2)
    log = []
    for new in (S.READY, S.ENGAGING):
        lm.go(new)
        log.append(lm.state)
    lm.fire_one()
    lm.go(lm.after_engagement())
    log.append(lm.state)
    lm.go(S.ENGAGING)
    lm.fire_one()
    lm.go(lm.after_engagement())
    log.append(lm.state)
    lm.reloaded()
    lm.go(S.READY)
    log.append(lm.state)
    assert log == [S.READY, S.ENGAGING, S.READY, S.RELOADING, S.READY]
    assert lm.missiles == 2


def test_fire_one_decrements_until_empty() -> None:
    lm = LauncherMachine("L7", 3)
    seen = []
    for _ in range(3):
        lm.fire_one()
        seen.append(lm.missiles)
    assert seen == [2, 1, 0]
    with pytest.raises(IllegalTransitionError, match="L7: no missile left"):
        lm.fire_one()
    assert lm.missiles == 0
    lm.reloaded()
    assert lm.missiles == 3


def test_after_engagement() -> None:
    lm = LauncherMachine("L1", 2)
    assert lm.after_engagement() == S.READY
    lm.fire_one()
    assert lm.after_engagement() == S.READY
    lm.fire_one()
    assert lm.after_engagement() == S.RELOADING


@pytest.mark.parametrize("missiles", [0, -1])
def test_machine_needs_missiles(missiles: int) -> None:
    with pytest.raises(ValueError, match=rf"missiles must be > 0 \(got {missiles}\)"):
        LauncherMachine("L1", missiles)


# ------------------------------------------------------------------ envelope

POS = (100.0, 200.0, 0.0)


def envelope(**kw: float) -> Envelope:
    args = {
        "min_range_m": 1000.0,
        "max_range_m": 40_000.0,
        "min_altitude_m": 50.0,
        "max_altitude_m": 20_000.0,
    }
    args.update(kw)
    return Envelope(POS, **args)


@pytest.mark.parametrize(
    ("kw", "quoted"),
    [
        ({"min_range_m": -5.0}, r"\(got -5.0, 40000.0\)"),
        ({"min_range_m": 500.0, "max_range_m": 500.0}, r"\(got 500.0, 500.0\)"),
        ({"min_range_m": 3000.0, "max_range_m": 2000.0}, r"\(got 3000.0, 2000.0\)"),
        ({"min_altitude_m": 100.0, "max_altitude_m": 100.0}, r"\(got 100.0, 100.0\)"),
        ({"min_altitude_m": 900.0, "max_altitude_m": -1.5}, r"\(got 900.0, -1.5\)"),
    ],
)
def test_envelope_validation_quotes_values(kw: dict[str, float], quoted: str) -> None:
    with pytest.raises(ValueError, match=quoted):
        envelope(**kw)


def test_envelope_contains() -> None:
    env = envelope()
    x, y, _ = POS
    assert env.contains((x, y, 1000.0))  # min range exactly, above min altitude
    assert not env.contains((x, y, 999.0))
    assert not env.contains((x + 24_000.0, y, 32_000.0))  # range 40 km exactly, but too high
    assert env.contains((x + 32_000.0, y, 20_000.0))  # range 37.7 km, max altitude exactly
    assert not env.contains((x + 24_000.0, y + 32_000.0, 0.0))  # range 40 km exactly, too low
    assert Envelope(POS, 0.0, 40_000.0, -10.0, 20_000.0).contains((x + 24_000.0, y + 32_000.0, 0.0))
    assert not env.contains((x + 40_000.0, y, 50.0))  # just beyond max range
    assert env.contains((x + 5000.0, y, 50.0))
    assert not env.contains((x + 5000.0, y, 49.99))
    assert not env.contains((x + 5000.0, y, 20_000.01))
    assert not env.contains((float("nan"), y, 1000.0))
    assert not env.contains((float("inf"), y, 1000.0))


# ------------------------------------------------------------------ order acceptance

NOW = 100.0


def good_order(**kw: object) -> FireOrder:
    order = FireOrder(
        order_id="O1",
        launcher_id="L1",
        target_track_id=3,
        target_position_m=(20_000.0, 0.0, 3000.0),
        target_velocity_mps=(-250.0, 0.0, 0.0),
        intercept_point_m=(10_000.0, 200.0, 3000.0),
        intercept_time_s=130.0,
        rounds=2,
        issued_time_s=99.5,
        expiry_time_s=105.0,
    )
    return dataclasses.replace(order, **kw)  # type: ignore[arg-type]


def reject(
    order: FireOrder,
    *,
    authentic: bool = True,
    state: LauncherState = S.READY,
    missiles: int = 4,
    now_s: float = NOW,
) -> str | None:
    return order_rejection(
        order,
        launcher_id="L1",
        now_s=now_s,
        authentic=authentic,
        state=state,
        missiles=missiles,
        envelope=envelope(),
    )


def test_good_order_is_accepted() -> None:
    assert reject(good_order()) is None
    # Boundaries: exactly at expiry, issued up to 1 s in the future, missiles exactly enough.
    assert reject(good_order(), now_s=105.0) is None
    assert reject(good_order(issued_time_s=NOW + 1.0)) is None
    assert reject(good_order(), missiles=2) is None


# Everything wrong at once; fixing the reasons one by one, in order, must reveal the next one.
ALL_WRONG = {
    "authentic": False,
    "launcher_id": "L2",
    "expiry_time_s": NOW - 1.0,
    "issued_time_s": NOW + 5.0,
    "rounds": 0,
    "state": S.HOLD,
    "missiles": 0,
    "intercept_point_m": (90_000.0, 0.0, 3000.0),
}


def _reject_with(wrong: dict[str, object]) -> str | None:
    order_fields = {"launcher_id", "expiry_time_s", "issued_time_s", "rounds", "intercept_point_m"}
    order = good_order(**{k: v for k, v in wrong.items() if k in order_fields})
    return reject(
        order,
        authentic=bool(wrong.get("authentic", True)),
        state=wrong.get("state", S.READY),  # type: ignore[arg-type]
        missiles=int(wrong.get("missiles", 4)),  # type: ignore[call-overload]
    )


def test_rejection_reasons_in_order() -> None:
    wrong = dict(ALL_WRONG)
    reasons = []
    for key in ALL_WRONG:
        reasons.append(_reject_with(wrong))
        del wrong[key]
    reasons.append(_reject_with(wrong))
    assert reasons == [
        "authentication failed",
        "addressed to 'L2'",
        "expired at 99.000 s (now 100.000 s)",
        "issued in the future (105.000 s, now 100.000 s)",
        "rounds must be >= 1 (got 0)",
        "not ready (HOLD)",
        "0 missile(s) ready, 2 ordered",
        "intercept point outside the envelope",
        None,
    ]


@pytest.mark.parametrize(
    ("wrong", "expected"),
    [
        ({"authentic": False}, "authentication failed"),
        ({"launcher_id": "L9"}, "addressed to 'L9'"),
        ({"expiry_time_s": 99.9}, "expired at 99.900 s (now 100.000 s)"),
        ({"issued_time_s": 101.5}, "issued in the future (101.500 s, now 100.000 s)"),
        ({"rounds": 0}, "rounds must be >= 1 (got 0)"),
        ({"state": S.SAFE}, "not ready (SAFE)"),
        ({"state": S.ENGAGING}, "not ready (ENGAGING)"),
        ({"state": S.RELOADING}, "not ready (RELOADING)"),
        ({"state": S.FAULT}, "not ready (FAULT)"),
        ({"missiles": 1}, "1 missile(s) ready, 2 ordered"),
        ({"intercept_point_m": (0.0, 0.0, 500.0)}, "intercept point outside the envelope"),  # too close
        ({"intercept_point_m": (10_000.0, 0.0, 10.0)}, "intercept point outside the envelope"),  # too low
        ({"intercept_point_m": (float("nan"),) * 3}, "intercept point outside the envelope"),
    ],
)
def test_each_rejection_alone(wrong: dict[str, object], expected: str) -> None:
    assert _reject_with(wrong) == expected


@pytest.mark.parametrize("key", [k for k in ALL_WRONG if k != "authentic"])
def test_unauthentic_order_learns_nothing_else(key: str) -> None:
    assert _reject_with({"authentic": False, key: ALL_WRONG[key]}) == "authentication failed"
