"""Sweep building blocks: parameter paths and values, seeds, fingerprints, the check grammar, intervals."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from bmc.engine.stats import (
    SweepCheck,
    describe,
    is_statistical,
    mean_interval,
    parse_sweep_check,
    wilson_interval,
)
from bmc.scenario import ScenarioError, parse_scenario
from bmc.sweep import STAR, Vary, apply_params, combinations, fingerprint, parse_path, parse_vary, run_seed
from tests.sim.conftest import BASE

# ---------------------------------------------------------------- paths


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("duration_s", ("duration_s",)),
        ("fdc.doctrine", ("fdc", "doctrine")),
        ("launchers[*].pk", ("launchers", STAR, "pk")),
        ("launchers[0].missiles", ("launchers", 0, "missiles")),
        ("radars[12].tracker.confirm_hits", ("radars", 12, "tracker", "confirm_hits")),
        ("links.default.loss", ("links", "default", "loss")),
        ("threats[*].waypoints[0].position.up_m", ("threats", STAR, "waypoints", 0, "position", "up_m")),
    ],
)
def test_paths_split_into_fields_indexes_and_stars(text: str, segments: tuple[Any, ...]) -> None:
    assert parse_path(text) == segments


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "starts with a field name"),
        ("[0].pk", "starts with a field name"),
        ("launchers[].pk", "cannot read the path at '[].pk'"),
        ("launchers[-1].pk", "cannot read the path at '[-1].pk'"),
        ("launchers..pk", "cannot read the path at '..pk'"),
        ("launchers[*]pk", "cannot read the path at 'pk'"),
        ("fdc.doctrine ", "cannot read the path at ' '"),
        ("seed", "seed cannot be varied"),
        ("expect[0]", "expect cannot be varied"),
    ],
)
def test_malformed_paths_are_refused_naming_the_spot(text: str, why: str) -> None:
    with pytest.raises(ScenarioError, match=r"^--vary ") as info:
        parse_path(text)
    assert why in str(info.value)


def test_vary_values_are_yaml_scalars() -> None:
    v = parse_vary("launchers[*].pk=0.6, 0.8,1")
    assert v == Vary("launchers[*].pk", (0.6, 0.8, 1))
    assert parse_vary("fdc.doctrine=shoot-look-shoot,salvo-2").values == ("shoot-look-shoot", "salvo-2")
    assert parse_vary("radars[0].iff=true,false").values == (True, False)
    assert parse_vary("threats[0].rcs_m2=null,0.5").values == (None, 0.5)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("launchers[*].pk", "must read PATH=v1,v2"),
        ("=0.5", "must read PATH=v1,v2"),
        ("launchers[*].pk=", "empty value"),
        ("launchers[*].pk=0.5,,0.6", "empty value"),
        ("launchers[*].pk=0.5,0.5", "'0.5' is repeated"),
        ("launchers[*].pk={a: 1}", "must be a single number or word"),
    ],
)
def test_bad_vary_options_are_refused(text: str, why: str) -> None:
    with pytest.raises(ScenarioError, match=r"^--vary ") as info:
        parse_vary(text)
    assert why in str(info.value)


def _base() -> dict[str, Any]:
    return parse_scenario(BASE).model_dump(mode="json")


def test_apply_sets_every_element_or_one_and_leaves_the_input_alone() -> None:
    base = _base()
    base["launchers"].append({**base["launchers"][0], "id": "L2"})
    out = apply_params(base, {"launchers[*].pk": 0.5, "launchers[1].missiles": 2, "fdc.doctrine": "salvo-2"})
    assert [x["pk"] for x in out["launchers"]] == [0.5, 0.5]
    assert [x["missiles"] for x in out["launchers"]] == [6, 2]
    assert out["fdc"]["doctrine"] == "salvo-2"
    assert [x["pk"] for x in base["launchers"]] == [1.0, 1.0]
    assert base["fdc"]["doctrine"] == "shoot-look-shoot"


def test_apply_creates_mapping_keys_so_validation_can_judge_them() -> None:
    out = apply_params(_base(), {"links.default.loss": 0.1})
    assert out["links"] == {"default": {"loss": 0.1}}
    parse_scenario(out)


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"launchers[3].pk": 0.5}, "--vary launchers[3].pk: launchers has 1 element(s), no [3]"),
        ({"raids[*].count": 5}, "--vary raids[*].count: raids[*] matches nothing (raids is empty)"),
        ({"duration_s[0]": 5}, "--vary duration_s[0]: duration_s is not a list (got 500"),
        (
            {"launchers[0].pk.x": 5},
            "--vary launchers[0].pk.x: launchers[0].pk is not a set of fields (got 1.0)",
        ),
    ],
)
def test_impossible_paths_name_the_path(params: dict[str, Any], why: str) -> None:
    with pytest.raises(ScenarioError) as info:
        apply_params(_base(), params)
    assert str(info.value).startswith(why)


def test_combinations_are_the_product_in_option_order_and_validated() -> None:
    scenario = parse_scenario(BASE)
    combos = combinations(
        scenario,
        [Vary("launchers[*].pk", (0.6, 0.8)), Vary("fdc.doctrine", ("shoot-look-shoot", "salvo-2"))],
    )
    assert [c.params for c in combos] == [
        {"launchers[*].pk": 0.6, "fdc.doctrine": "shoot-look-shoot"},
        {"launchers[*].pk": 0.6, "fdc.doctrine": "salvo-2"},
        {"launchers[*].pk": 0.8, "fdc.doctrine": "shoot-look-shoot"},
        {"launchers[*].pk": 0.8, "fdc.doctrine": "salvo-2"},
    ]
    assert [c.index for c in combos] == [0, 1, 2, 3]
    assert combos[1].data["fdc"]["doctrine"] == "salvo-2"
    assert combos[1].label == "launchers[*].pk=0.6, fdc.doctrine=salvo-2"
    assert len({c.fingerprint for c in combos}) == 4
    (only,) = combinations(scenario, [])
    assert only.params == {} and only.label == "base"
    assert only.fingerprint == fingerprint(scenario.model_dump(mode="json"))


@pytest.mark.parametrize(
    ("vary", "why"),
    [
        (Vary("launchers[*].pk", (1.5,)), "s.yaml with launchers[*].pk=1.5: launchers[0].pk: "),
        (Vary("fdc.doctrine", ("salvo-9",)), "s.yaml with fdc.doctrine=salvo-9: fdc.doctrine: "),
        (Vary("launchers[*].pkk", (1,)), "s.yaml with launchers[*].pkk=1: launchers[0].pkk: "),
        (Vary("launchers[0].missiles", (2.5,)), "launchers[0].missiles: "),
    ],
)
def test_a_bad_value_is_a_scenario_error_naming_path_and_value(vary: Vary, why: str) -> None:
    with pytest.raises(ScenarioError) as info:
        combinations(parse_scenario(BASE), [vary], "s.yaml")
    assert why in str(info.value)
    assert repr(vary.values[0]) in str(info.value) or str(vary.values[0]) in str(info.value)


def test_the_same_path_twice_is_refused() -> None:
    with pytest.raises(ScenarioError, match="given twice"):
        combinations(parse_scenario(BASE), [Vary("duration_s", (100,)), Vary("duration_s", (200,))])


# ---------------------------------------------------------------- seeds and fingerprints


def test_run_seeds_are_stable_distinct_and_match_seedsequence_spawn() -> None:
    seeds = [run_seed(7, i) for i in range(1000)]
    assert len(set(seeds)) == 1000
    assert all(0 <= s < 2**63 for s in seeds)
    assert seeds == [run_seed(7, i) for i in range(1000)]
    assert run_seed(8, 0) != seeds[0]
    children = np.random.SeedSequence(7).spawn(3)
    assert [int(c.generate_state(1, dtype=np.uint64)[0]) >> 1 for c in children] == seeds[:3]
    # Pinned: changing the scheme silently would make old sweep directories lie.
    assert seeds[0] == run_seed(7, 0) and fingerprint({"seed": 7}) == fingerprint(
        {"seed": 7, "expect": ["x"]}
    )


def test_fingerprint_ignores_expect_and_key_order_but_not_values() -> None:
    a = _base()
    b = dict(reversed(list(a.items())))
    b["expect"] = ["leaked <= 0"]
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint({**a, "seed": 8})
    assert fingerprint(a) != fingerprint(apply_params(a, {"launchers[0].pk": 0.5}))


# ---------------------------------------------------------------- checks


def test_check_grammar() -> None:
    assert parse_sweep_check("leaked.mean <= 0.5") == SweepCheck(
        "leaked.mean <= 0.5", "stat", "threats.leaked", "<=", 0.5, "mean"
    )
    assert parse_sweep_check("P(leaked == 0) >= 0.9") == SweepCheck(
        "P(leaked == 0) >= 0.9", "prob", "threats.leaked", ">=", 0.9, None, "==", 0.0
    )
    assert parse_sweep_check(" leaked <= 0 ") == SweepCheck(
        "leaked <= 0", "every", "threats.leaked", ">=", 1.0, None, "<=", 0.0
    )
    # A metric whose own name ends in a statistic stays a single-run check ...
    c = parse_sweep_check("reaction_time_s.p50 <= 12")
    assert (c.kind, c.metric) == ("every", "reaction_time_s.p50")
    # ... and takes a statistic of its own.
    c = parse_sweep_check("reaction_time_s.p50.p95 < 12")
    assert (c.kind, c.metric, c.stat) == ("stat", "reaction_time_s.p50", "p95")
    c = parse_sweep_check("P(assets.site > 0) <= 0.05")
    assert (c.kind, c.metric, c.cond_op, c.op) == ("prob", "assets.site", ">", "<=")
    assert parse_sweep_check("missiles_per_kill.max < 2").stat == "max"


def test_statistical_checks_are_told_apart_from_single_run_ones() -> None:
    assert is_statistical("leaked.mean <= 0.5")
    assert is_statistical("P(leaked == 0) >= 0.9")
    assert not is_statistical("leaked <= 0")
    assert not is_statistical("reaction_time_s.p50 <= 12")
    assert is_statistical("reaction_time_s.p50.mean <= 12")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("leaked is zero", "'<metric> <op> <number>'"),
        ("P(leaked == 0 >= 0.9", "P(<metric> <op> <number>) <op> <number>"),
        ("kills.mean <= 1", "unknown metric 'kills' in 'kills.mean <= 1'"),
        ("P(kills == 0) >= 0.9", "unknown metric 'kills' in 'P(kills == 0) >= 0.9'"),
        ("leaked.median <= 1", "unknown metric 'leaked.median'"),
    ],
)
def test_bad_checks_say_why(text: str, why: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_sweep_check(text)
    assert why in str(info.value)


def test_a_scenario_may_carry_statistical_checks_and_a_single_run_skips_them() -> None:
    from tests.sim.conftest import simulate

    data = {
        **BASE,
        "duration_s": 60,
        "expect": ["leaked.mean <= 0.5", "P(leaked == 0) >= 0.9", "leaked <= 0"],
    }
    assert parse_scenario(data).expect == data["expect"]
    assert [e.check for e in simulate(data).report.expect] == ["leaked <= 0"]
    with pytest.raises(ScenarioError, match="unknown asset 'nowhere'"):
        parse_scenario({**BASE, "expect": ["P(assets.nowhere > 0) <= 0.1"]})


def _rows(metric: str, values: list[Any]) -> list[dict[str, Any]]:
    return [{metric: v} for v in values]


def test_checks_judge_point_estimates_and_report_intervals() -> None:
    rows = _rows("threats.leaked", [0, 0, 1, 0, 2, 0, 0, 0, 0, 1])
    r = parse_sweep_check("leaked.mean <= 0.5").evaluate(rows)
    assert r["ok"] and r["value"] == pytest.approx(0.4) and r["n"] == 10
    lo, hi = r["ci95"]
    assert lo < 0.4 < hi
    r = parse_sweep_check("P(leaked == 0) >= 0.9").evaluate(rows)
    assert not r["ok"] and r["value"] == pytest.approx(0.7) and r["hits"] == 7
    r = parse_sweep_check("leaked <= 2").evaluate(rows)
    assert r["ok"] and r["value"] == 1.0 and r["hits"] == 10
    assert not parse_sweep_check("leaked <= 1").evaluate(rows)["ok"]
    assert parse_sweep_check("leaked.max == 2").evaluate(rows)["ok"]
    assert parse_sweep_check("leaked.p50 == 0").evaluate(rows)["ok"]


def test_undefined_values_are_left_out_of_statistics_and_fail_conditions() -> None:
    rows = _rows("missiles_per_kill", [1.0, None, 2.0, None])
    r = parse_sweep_check("missiles_per_kill.mean <= 1.5").evaluate(rows)
    assert r["ok"] and r["value"] == 1.5 and r["n"] == 2
    r = parse_sweep_check("P(missiles_per_kill <= 2) >= 0.5").evaluate(rows)
    assert r["ok"] and r["value"] == 0.5 and r["n"] == 4
    r = parse_sweep_check("missiles_per_kill.mean <= 9").evaluate(_rows("missiles_per_kill", [None, None]))
    assert not r["ok"] and r["value"] is None
    d = describe([None, 3.0, None, 1.0])
    assert d["n"] == 2 and d["mean"] == 2.0 and d["min"] == 1.0 and d["max"] == 3.0
    assert describe([None])["mean"] is None


# ---------------------------------------------------------------- intervals


def test_student_t_interval_matches_the_textbook() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    lo, hi = mean_interval(values) or (0, 0)
    # mean 3, sd sqrt(2.5), t(0.975, 4) = 2.776445
    half = 2.776445 * math.sqrt(2.5) / math.sqrt(5)
    assert (lo, hi) == (pytest.approx(3 - half, abs=1e-5), pytest.approx(3 + half, abs=1e-5))
    assert mean_interval([1.0]) is None
    assert mean_interval([2.0, 2.0]) == (2.0, 2.0)


def test_wilson_interval_matches_the_textbook() -> None:
    # Wilson 95 % for 8 of 10: 0.4902 .. 0.9433
    lo, hi = wilson_interval(8, 10) or (0, 0)
    assert (lo, hi) == (pytest.approx(0.4902, abs=1e-4), pytest.approx(0.9433, abs=1e-4))
    lo, hi = wilson_interval(10, 10) or (0, 0)
    assert hi == 1.0 and lo == pytest.approx(0.7225, abs=1e-4)
    assert wilson_interval(0, 0) is None


def test_a_path_through_a_list_says_so_briefly() -> None:
    with pytest.raises(ScenarioError) as info:
        apply_params(_base(), {"launchers.pk": 0.5})
    assert str(info.value) == "--vary launchers.pk: launchers is not a set of fields (got a list of 1)"
