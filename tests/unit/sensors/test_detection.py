"""Unit tests of the pure radar detection model."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import ArrayLike

from sensors.detection import (
    RadarModel,
    detection_probability,
    enu_to_polar,
    horizon_range_m,
    polar_covariance_to_enu,
    polar_to_enu,
    reference_snr,
    scan,
)

PFA = 1e-6


def make_model(**changes: Any) -> RadarModel:
    """A plausible surveillance radar; tests override what they exercise."""
    model = RadarModel(
        position_m=(0.0, 0.0, 10.0),
        max_range_m=150_000.0,
        reference_range_m=100_000.0,
        reference_rcs_m2=1.0,
        reference_pd=0.9,
        false_alarm_probability=PFA,
        swerling=1,
        false_alarms_per_scan=0.0,
        max_elevation_rad=math.radians(60.0),
        sigma_range_m=25.0,
        sigma_azimuth_rad=math.radians(0.2),
        sigma_elevation_rad=math.radians(0.3),
        iff=True,
        iff_reply_probability=0.8,
    )
    return dataclasses.replace(model, **changes)


def pd_of(range_m: ArrayLike, rcs_m2: ArrayLike, swerling: int, reference_pd: float = 0.9) -> np.ndarray:
    return detection_probability(
        range_m,
        rcs_m2,
        reference_range_m=100_000.0,
        reference_rcs_m2=1.0,
        reference_pd=reference_pd,
        false_alarm_probability=PFA,
        swerling=swerling,
    )


def detections_of(plots_truth_index: np.ndarray, index: int) -> int:
    return int(np.count_nonzero(plots_truth_index == index))


# --- horizon -------------------------------------------------------------------------------------


def test_horizon_range_known_heights() -> None:
    # sqrt(2 * 4/3 * 6_371_000 * h) worked out by hand: h = 10 m -> 13_034.31 m, 50 m -> 29_145.61 m.
    assert horizon_range_m(10.0, 0.0) == pytest.approx(13_034.31, abs=1.0)
    assert horizon_range_m(10.0, 50.0) == pytest.approx(13_034.31 + 29_145.61, abs=1.0)
    # k = 1 (geometric horizon): sqrt(2 * 6_371_000 * 10) = 11_288.05 m.
    assert horizon_range_m(10.0, 0.0, k=1.0) == pytest.approx(11_288.05, abs=1.0)


def test_horizon_range_clips_negative_heights_and_vectorises() -> None:
    assert horizon_range_m(-5.0, -100.0) == 0.0
    result = horizon_range_m(10.0, np.array([0.0, 50.0, -3.0]))
    assert isinstance(result, np.ndarray)
    np.testing.assert_allclose(result, [13_034.31, 42_179.92, 13_034.31], atol=1.0)


# --- detection probability -----------------------------------------------------------------------


def test_reference_snr_swerling1_closed_form() -> None:
    assert reference_snr(0.9, PFA, 1) == pytest.approx(math.log(PFA) / math.log(0.9) - 1.0, rel=1e-12)


def marcum_q1_series(snr: float, false_alarm_probability: float) -> float:
    """Pd of a steady target, independently: ncx2.sf(x, 2, 2 SNR) as a Poisson mixture of
    central chi-square tails with even degrees of freedom (closed-form finite sums)."""
    half_x = -math.log(false_alarm_probability)  # threshold x = -2 ln Pfa, halved
    weight = math.exp(-snr)  # Poisson(SNR) probability of j = 0
    term = tail = math.exp(-half_x)  # chi-square(2) tail: e^(-x/2)
    total = weight * tail
    for j in range(1, 400):
        weight *= snr / j
        term *= half_x / j
        tail += term  # chi-square(2 + 2j) tail: e^(-x/2) sum_{i <= j} (x/2)^i / i!
        total += weight * tail
    return total


def test_reference_snr_swerling0_inverts_marcum_q() -> None:
    snr = reference_snr(0.9, PFA, 0)
    assert marcum_q1_series(snr, PFA) == pytest.approx(0.9, abs=1e-9)
    assert marcum_q1_series(0.0, PFA) == pytest.approx(PFA, rel=1e-9)  # the series itself is sane
    # A steady target needs far less SNR than a fluctuating one for the same Pd.
    assert snr < reference_snr(0.9, PFA, 1) / 3.0


@pytest.mark.parametrize(
    ("pd", "pfa", "swerling"),
    [(1e-6, 1e-6, 1), (1e-7, 1e-6, 0), (1.0, 1e-6, 1), (0.9, 0.0, 1), (0.9, 1e-6, 2)],
)
def test_reference_snr_rejects_bad_values(pd: float, pfa: float, swerling: int) -> None:
    with pytest.raises(ValueError):
        reference_snr(pd, pfa, swerling)


def test_reference_snr_error_quotes_values() -> None:
    with pytest.raises(ValueError) as excinfo:
        reference_snr(0.001, 0.01, 1)
    assert "0.001" in str(excinfo.value) and "0.01" in str(excinfo.value)


@pytest.mark.parametrize("swerling", [0, 1])
@pytest.mark.parametrize("reference_pd", [0.5, 0.9, 0.99])
def test_pd_at_reference_point_is_reference_pd(swerling: int, reference_pd: float) -> None:
    pd = pd_of(100_000.0, 1.0, swerling, reference_pd)
    assert float(pd) == pytest.approx(reference_pd, abs=1e-9)


@pytest.mark.parametrize("swerling", [0, 1])
def test_pd_limits(swerling: int) -> None:
    assert float(pd_of(0.0, 1.0, swerling)) == pytest.approx(1.0, abs=1e-12)
    assert float(pd_of(1e9, 1.0, swerling)) == pytest.approx(PFA, rel=1e-3)
    assert float(pd_of(50_000.0, 0.0, swerling)) == pytest.approx(PFA, rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    swerling=st.sampled_from([0, 1]),
    ranges_m=st.lists(st.floats(0.0, 2e6), min_size=2, max_size=20),
    rcs_m2=st.floats(1e-4, 1e3),
)
def test_pd_decreases_with_range(swerling: int, ranges_m: list[float], rcs_m2: float) -> None:
    r = np.sort(np.array(ranges_m))
    pd = pd_of(r, rcs_m2, swerling)
    assert np.all(np.diff(pd) <= 1e-12)
    assert np.all((pd >= PFA) & (pd <= 1.0))


@settings(max_examples=60, deadline=None)
@given(
    swerling=st.sampled_from([0, 1]),
    range_m=st.floats(1.0, 2e6),
    rcs_m2=st.lists(st.floats(0.0, 1e4), min_size=2, max_size=20),
)
def test_pd_increases_with_rcs(swerling: int, range_m: float, rcs_m2: list[float]) -> None:
    rcs = np.sort(np.array(rcs_m2))
    pd = pd_of(range_m, rcs, swerling)
    assert np.all(np.diff(pd) >= -1e-12)
    assert np.all((pd >= PFA) & (pd <= 1.0))


@pytest.mark.parametrize("rcs_m2", [[0.0, 5e-324, 2.2250738585072014e-308, 1e-30], [1e-20, 1e-16, 1e-12]])
def test_steady_pd_of_vanishing_targets_is_monotone_from_the_pfa(rcs_m2: list[float]) -> None:
    # Hypothesis found chndtr's rounding making a fainter target likelier to be seen.
    pd = pd_of(6092.0, np.array(rcs_m2), swerling=0)
    assert np.all(np.diff(pd) >= 0.0)
    assert pd[0] >= PFA and pd[0] == pytest.approx(PFA, rel=1e-9)


# --- coordinates ---------------------------------------------------------------------------------


def test_polar_to_enu_convention() -> None:
    radar = (100.0, 200.0, 10.0)
    east = polar_to_enu(radar, 1000.0, math.pi / 2.0, 0.0)
    north = polar_to_enu(radar, 1000.0, 0.0, 0.0)
    up = polar_to_enu(radar, 1000.0, 0.0, math.pi / 2.0)
    np.testing.assert_allclose(east, [1100.0, 200.0, 10.0], atol=1e-9)
    np.testing.assert_allclose(north, [100.0, 1200.0, 10.0], atol=1e-9)
    np.testing.assert_allclose(up, [100.0, 200.0, 1010.0], atol=1e-9)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(1.0, 3e5), st.floats(0.0, 6.28), st.floats(-1.5, 1.5)), min_size=1, max_size=10
    )
)
def test_polar_enu_round_trip(points: list[tuple[float, float, float]]) -> None:
    r, az, el = (np.array(v) for v in zip(*points, strict=True))
    radar = np.array([5.0, -7.0, 30.0])
    back_r, back_az, back_el = enu_to_polar(radar, polar_to_enu(radar, r, az, el))
    np.testing.assert_allclose(back_r, r, rtol=1e-9)
    np.testing.assert_allclose(back_el, el, atol=1e-9)
    # Azimuth is ill-defined straight up; compare it through the horizontal unit vector.
    np.testing.assert_allclose(np.cos(el) * np.sin(back_az), np.cos(el) * np.sin(az), atol=1e-9)
    np.testing.assert_allclose(np.cos(el) * np.cos(back_az), np.cos(el) * np.cos(az), atol=1e-9)


def test_converted_covariance_due_north_is_diagonal() -> None:
    cov = polar_covariance_to_enu(10_000.0, 0.0, 0.0, 25.0, 0.002, 0.003)
    np.testing.assert_allclose(cov[0], np.diag([20.0**2, 25.0**2, 30.0**2]), atol=1e-9)


# --- scan ----------------------------------------------------------------------------------------


def test_low_target_beyond_horizon_is_never_detected() -> None:
    # Radar at 10 m, targets at 20 m: horizon 13.0 km + 18.4 km = 31.5 km.
    model = make_model(reference_range_m=140_000.0, reference_pd=0.99)
    truth = np.array([[0.0, 40_000.0, 20.0], [0.0, 25_000.0, 20.0]])
    rng = np.random.default_rng(1)
    beyond = inside = 0
    for _ in range(300):
        plots = scan(model, truth, np.array([100.0, 100.0]), np.zeros(2, dtype=bool), rng)
        beyond += detections_of(plots.truth_index, 0)
        inside += detections_of(plots.truth_index, 1)
    assert beyond == 0
    assert inside >= 290  # the control target at the same height but inside the horizon is seen


def test_targets_outside_range_or_above_max_elevation_are_never_detected() -> None:
    model = make_model(max_range_m=50_000.0, max_elevation_rad=math.radians(30.0), reference_pd=0.99)
    truth = np.array([[0.0, 60_000.0, 5_000.0], [0.0, 5_000.0, 5_000.0], [0.0, 20_000.0, 5_000.0]])
    rng = np.random.default_rng(2)
    seen = np.zeros(3, dtype=int)
    for _ in range(200):
        plots = scan(model, truth, np.full(3, 10.0), np.zeros(3, dtype=bool), rng)
        seen += np.bincount(plots.truth_index, minlength=3)
    assert seen[0] == 0 and seen[1] == 0
    assert seen[2] == 200


# Targets draw independently, so many copies of one target in a single scan give the
# same statistics as many scans of one target, at a fraction of the cost.
COPIES = 4000


@pytest.mark.parametrize("swerling", [0, 1])
def test_detection_fraction_matches_pd(swerling: int) -> None:
    model = make_model(swerling=swerling, reference_pd=0.7)
    truth = np.tile([0.0, 100_000.0, 5_000.0], (COPIES, 1))  # about the reference range
    expected = float(pd_of(float(np.hypot(100_000.0, 4_990.0)), 1.0, swerling, 0.7))
    plots = scan(model, truth, np.ones(COPIES), np.zeros(COPIES, dtype=bool), np.random.default_rng(3))
    # Binomial std of the fraction is ~0.007; allow 5 sigma.
    assert len(plots) / COPIES == pytest.approx(expected, abs=0.035)
    assert np.array_equal(np.unique(plots.truth_index), plots.truth_index)  # one plot per target at most


def test_measurement_noise_matches_sigmas() -> None:
    model = make_model(reference_pd=0.999)
    radar = np.array(model.position_m)
    truth = np.tile([30_000.0, 40_000.0, 3_000.0], (COPIES, 1))
    true_r, true_az, true_el = enu_to_polar(radar, truth[0])
    plots = scan(model, truth, np.full(COPIES, 10.0), np.zeros(COPIES, dtype=bool), np.random.default_rng(4))
    r, az, el = enu_to_polar(radar, plots.position_m)
    assert len(plots) > 0.99 * COPIES
    # The sample std over ~4000 draws is within ~3 % of the truth; allow 8 %.
    assert np.std(r - true_r) == pytest.approx(model.sigma_range_m, rel=0.08)
    assert np.std(az - true_az) == pytest.approx(model.sigma_azimuth_rad, rel=0.08)
    assert np.std(el - true_el) == pytest.approx(model.sigma_elevation_rad, rel=0.08)
    assert abs(np.mean(r - true_r)) < 3.0  # unbiased in range


def test_ideal_sensor_reports_truth() -> None:
    model = make_model(reference_pd=0.999, sigma_range_m=0.0, sigma_azimuth_rad=0.0, sigma_elevation_rad=0.0)
    truth = np.array([[30_000.0, 40_000.0, 3_000.0], [-5_000.0, 12_000.0, 800.0]])
    plots = scan(model, truth, np.full(2, 10.0), np.zeros(2, dtype=bool), np.random.default_rng(8))
    np.testing.assert_allclose(plots.position_m, truth[plots.truth_index], atol=1e-6)
    assert np.all(plots.covariance_m2 == 0.0)


def test_plot_covariance_matches_spread_of_plots() -> None:
    model = make_model(reference_pd=0.999, sigma_azimuth_rad=0.01)
    truth = np.tile([30_000.0, 40_000.0, 3_000.0], (COPIES, 1))
    plots = scan(model, truth, np.full(COPIES, 10.0), np.zeros(COPIES, dtype=bool), np.random.default_rng(5))
    reported = np.mean(plots.covariance_m2, axis=0)
    empirical = np.cov(plots.position_m.T)
    assert np.trace(empirical) == pytest.approx(np.trace(reported), rel=0.08)
    # Dominant (cross-range) direction: 50 km * 0.01 rad = 500 m, horizontal and normal to the line of sight.
    cross = np.array([0.8, -0.6, 0.0])
    assert cross @ empirical @ cross == pytest.approx(cross @ reported @ cross, rel=0.08)
    assert cross @ reported @ cross == pytest.approx(500.0**2, rel=0.01)
    np.testing.assert_allclose(plots.covariance_m2, plots.covariance_m2.transpose(0, 2, 1), atol=1e-9)
    assert np.all(np.linalg.eigvalsh(plots.covariance_m2) > 0.0)


def test_false_alarm_count_and_distribution() -> None:
    model = make_model(false_alarms_per_scan=4.0, max_elevation_rad=math.radians(45.0))
    rng = np.random.default_rng(6)
    no_truth = (np.zeros((0, 3)), np.zeros(0), np.zeros(0, dtype=bool))
    all_plots = [scan(model, *no_truth, rng) for _ in range(400)]
    counts = np.array([len(p) for p in all_plots])
    assert counts.mean() == pytest.approx(4.0, abs=0.4)  # std of the mean 0.1
    assert counts.var() == pytest.approx(4.0, rel=0.3)  # Poisson
    positions = np.concatenate([p.position_m for p in all_plots])
    r, az, el = enu_to_polar(np.array(model.position_m), positions)
    assert r.min() >= 500.0 - 1e-6 and r.max() <= model.max_range_m + 1e-6
    assert el.min() >= -1e-9 and el.max() <= math.radians(10.0) + 1e-9
    assert np.mean(az < np.pi) == pytest.approx(0.5, abs=0.05)
    assert all(np.all(p.truth_index == -1) and not np.any(p.iff_reply) for p in all_plots)


def test_iff_replies() -> None:
    truth = np.tile([0.0, 20_000.0, 3_000.0], (COPIES, 1))
    iff = np.arange(COPIES) % 2 == 0
    rng = np.random.default_rng(7)
    plots = scan(make_model(reference_pd=0.999), truth, np.full(COPIES, 10.0), iff, rng)
    equipped = iff[plots.truth_index]
    assert np.mean(plots.iff_reply[equipped]) == pytest.approx(0.8, abs=0.04)
    assert not np.any(plots.iff_reply[~equipped])
    no_interrogator = make_model(reference_pd=0.999, iff=False)
    assert not np.any(scan(no_interrogator, truth, np.full(COPIES, 10.0), iff, rng).iff_reply)


def test_same_seed_same_plots() -> None:
    model = make_model(false_alarms_per_scan=3.0, reference_pd=0.6)
    truth = np.random.default_rng(0).uniform([-50e3, -50e3, 100.0], [50e3, 50e3, 8e3], (50, 3))
    rcs = np.full(50, 2.0)
    iff = np.arange(50) % 2 == 0

    def run(seed: int) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(5):
            p = scan(model, truth, rcs, iff, rng)
            out += [p.position_m, p.covariance_m2, p.truth_index, p.iff_reply]
        return out

    first, again, other = run(42), run(42), run(43)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_scan_without_targets_or_false_alarms_has_empty_shapes() -> None:
    rng = np.random.default_rng(0)
    plots = scan(make_model(), np.zeros((0, 3)), np.zeros(0), np.zeros(0, dtype=bool), rng)
    assert len(plots) == 0
    assert plots.position_m.shape == (0, 3)
    assert plots.covariance_m2.shape == (0, 3, 3)
    assert plots.truth_index.shape == (0,) and plots.truth_index.dtype == np.int64
    assert plots.iff_reply.shape == (0,) and plots.iff_reply.dtype == np.bool_


def test_scan_rejects_mismatched_inputs() -> None:
    with pytest.raises(ValueError, match="2 rows"):
        scan(make_model(), np.zeros((2, 3)), np.zeros(3), np.zeros(2, dtype=bool), np.random.default_rng(0))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_range_m", -5.0),
        ("reference_range_m", 0.0),
        ("sigma_range_m", -1.0),
        ("reference_pd", 1e-7),
        ("false_alarm_probability", 1.5),
        ("swerling", 3),
        ("false_alarms_per_scan", -0.5),
        ("max_elevation_rad", 2.0),
        ("iff_reply_probability", 1.2),
    ],
)
def test_radar_model_validation_quotes_bad_value(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"{field}.*{repr(value).replace('.', '[.]')}"):
        make_model(**{field: value})


# --- scan against its reference composition -------------------------------------------------------


def reference_scan(
    model: RadarModel, truth: np.ndarray, rcs: np.ndarray, iff: np.ndarray, rng: np.random.Generator
) -> list[np.ndarray]:
    """scan() written plainly with the public helpers; scan() inlines them and must agree bit for bit."""
    n = int(truth.shape[0])
    radar = np.asarray(model.position_m, dtype=np.float64)
    detect_draw = rng.random(n)
    noise = rng.standard_normal((n, 3))
    iff_draw = rng.random(n)
    n_false = int(rng.poisson(model.false_alarms_per_scan))
    false_draw = rng.random((n_false, 3))
    range_m, azimuth_rad, elevation_rad = enu_to_polar(radar, truth)
    visible = (
        (range_m <= model.max_range_m)
        & (range_m <= horizon_range_m(radar[2], truth[:, 2]))
        & (elevation_rad <= model.max_elevation_rad)
    )
    detected = visible.copy()
    if np.any(visible):
        pd = detection_probability(
            range_m[visible],
            rcs[visible],
            reference_range_m=model.reference_range_m,
            reference_rcs_m2=model.reference_rcs_m2,
            reference_pd=model.reference_pd,
            false_alarm_probability=model.false_alarm_probability,
            swerling=model.swerling,
        )
        detected[visible] = detect_draw[visible] < pd
    hit = np.flatnonzero(detected)
    sigmas = np.array([model.sigma_range_m, model.sigma_azimuth_rad, model.sigma_elevation_rad])
    meas = np.stack([range_m[hit], azimuth_rad[hit], elevation_rad[hit]], axis=-1) + noise[hit] * sigmas
    min_range_m = min(500.0, 0.5 * model.max_range_m)
    all_range_m = np.concatenate(
        [np.maximum(meas[:, 0], 1.0), min_range_m + false_draw[:, 0] * (model.max_range_m - min_range_m)]
    )
    all_azimuth_rad = np.concatenate([np.mod(meas[:, 1], 2.0 * np.pi), false_draw[:, 1] * 2.0 * np.pi])
    all_elevation_rad = np.concatenate(
        [
            np.minimum(np.maximum(meas[:, 2], -np.pi / 2.0), np.pi / 2.0),
            false_draw[:, 2] * min(model.max_elevation_rad, math.radians(10.0)),
        ]
    )
    reply = iff[hit] & (iff_draw[hit] < model.iff_reply_probability) & model.iff
    return [
        polar_to_enu(radar, all_range_m, all_azimuth_rad, all_elevation_rad).reshape(-1, 3),
        polar_covariance_to_enu(all_range_m, all_azimuth_rad, all_elevation_rad, *sigmas.tolist()),
        np.concatenate([hit.astype(np.int64), np.full(n_false, -1, dtype=np.int64)]),
        np.concatenate([reply, np.zeros(n_false, dtype=np.bool_)]),
    ]


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"swerling": 0, "reference_pd": 0.5},
        {"iff": False},
        {"sigma_range_m": 0.0, "sigma_azimuth_rad": 0.0, "sigma_elevation_rad": 0.0},
        {"max_range_m": 40_000.0, "max_elevation_rad": math.radians(20.0)},
        {"position_m": (1_000.0, -2_000.0, -5.0), "reference_rcs_m2": 3.0},
    ],
)
def test_scan_is_bit_for_bit_its_reference_composition(changes: dict[str, Any]) -> None:
    model = make_model(false_alarms_per_scan=1.5, **changes)
    rng = np.random.default_rng(11)
    truth = rng.uniform([-80e3, -80e3, -50.0], [80e3, 80e3, 20e3], (300, 3))
    truth[:4] = [model.position_m, [0.0, 30e3, 10.0], [0.0, 0.0, 5e3], [-20e3, 0.0, model.position_m[2]]]
    rcs = rng.uniform(-0.5, 20.0, 300)  # a few negative: clipped at 0
    iff = rng.random(300) < 0.5
    generator, reference_generator = np.random.default_rng(12), np.random.default_rng(12)
    seen = np.zeros(2, dtype=int)  # real plots, false alarms
    for n in (300, 300, 37, 37, 1, 0, 0):
        plots = scan(model, truth[:n], rcs[:n], iff[:n], generator)
        reference = reference_scan(model, truth[:n], rcs[:n], iff[:n], reference_generator)
        columns = (plots.position_m, plots.covariance_m2, plots.truth_index, plots.iff_reply)
        for got, want in zip(columns, reference, strict=True):
            assert got.dtype == want.dtype and got.shape == want.shape
            assert got.tobytes() == want.tobytes()
            assert got.size == 0 or got.strides == want.strides  # the tracker sees the same layout
        assert plots.position_m.flags.c_contiguous
        assert generator.bit_generator.state == reference_generator.bit_generator.state
        seen += np.count_nonzero(plots.truth_index >= 0), np.count_nonzero(plots.truth_index < 0)
    assert np.all(seen > 0)  # both kinds of plot were compared
