"""Pure radar detection model: visibility, probability of detection, noisy plots.

Coordinates are local ENU metres (east, north, up); "up" doubles as height above
ground for the radar horizon. Azimuth is clockwise from north, elevation up from
the horizontal plane. Nothing here keeps state; randomness comes only from the
``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

from bmc.engine import detmath

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

EARTH_RADIUS_M = 6_371_000.0
"""Mean earth radius [m]."""

FALSE_ALARM_MIN_RANGE_M = 500.0
"""Lower bound [m] of the range interval false alarms are drawn from."""

FALSE_ALARM_MAX_ELEVATION_RAD = math.radians(10.0)
"""Upper bound [rad] of false-alarm elevation (clutter and noise sit low)."""

# Beyond this SNR the steady-target Pd is 1 to double precision; clipping keeps the
# non-central chi-square routine away from overflow (it returns NaN near nc ~ 1e20).
_MAX_SNR = 1.0e9
_NEGLIGIBLE_SNR = 1.0e-12
"""Linear SNR below which a steady target's Pd comes from its series, not chndtr."""


def horizon_range_m(
    radar_height_m: npt.ArrayLike, target_height_m: npt.ArrayLike, k: float = 4.0 / 3.0
) -> FloatArray | float:
    """Radio horizon range [m] for the two heights [m] with effective earth factor ``k``.

    ``sqrt(2 k R h1) + sqrt(2 k R h2)``, heights clipped at 0. Returns a float for
    scalar inputs, an array otherwise.
    """
    two_k_r = 2.0 * k * EARTH_RADIUS_M
    # np.maximum, not np.clip: the same values at a quarter of the call overhead.
    h1 = np.maximum(np.asarray(radar_height_m, dtype=np.float64), 0.0)
    h2 = np.maximum(np.asarray(target_height_m, dtype=np.float64), 0.0)
    result: FloatArray = np.sqrt(two_k_r * h1) + np.sqrt(two_k_r * h2)
    if result.ndim == 0:
        return float(result)
    return result


def _swerling0_pd(snr: FloatArray | float, threshold: float) -> FloatArray:
    """Marcum Q1(sqrt(2 SNR), sqrt(threshold)) = ncx2.sf(threshold, 2, 2 SNR)."""
    # chndtr is the ncx2 CDF as a plain ufunc: same values as stats.ncx2.sf to ~1e-16
    # absolute, about 3x faster than going through the rv_continuous machinery.
    snr_arr = np.asarray(snr, dtype=np.float64)
    pd = 1.0 - special.chndtr(threshold, 2.0, 2.0 * snr_arr)
    # Below _NEGLIGIBLE_SNR, Pd - Pfa is smaller than chndtr's own error (~3e-17 at
    # Pfa 1e-6), which is not monotone in SNR: a fainter target could come out a hair
    # likelier to be seen. The first-order series Pfa (1 + SNR threshold / 2) is exact there.
    faint = detmath.exp(-0.5 * threshold) * (1.0 + 0.5 * threshold * snr_arr)
    return np.asarray(np.where(snr_arr < _NEGLIGIBLE_SNR, faint, pd), dtype=np.float64)


def _validate_pd_pfa(reference_pd: float, false_alarm_probability: float) -> None:
    if not 0.0 < false_alarm_probability < 1.0:
        raise ValueError(f"false_alarm_probability must be in (0, 1), got {false_alarm_probability!r}")
    if not reference_pd < 1.0:
        raise ValueError(f"reference_pd must be < 1, got {reference_pd!r}")
    if not reference_pd > false_alarm_probability:
        raise ValueError(
            f"reference_pd ({reference_pd!r}) must exceed "
            f"false_alarm_probability ({false_alarm_probability!r})"
        )


@functools.lru_cache(maxsize=64)
def _log(value: float) -> float:
    """Natural log of a model constant, the same on every machine; cached, as scans ask every time."""
    return detmath.scalar(detmath.log(value))


@functools.lru_cache(maxsize=64)
def _reference_snr_cached(reference_pd: float, false_alarm_probability: float, swerling: int) -> float:
    _validate_pd_pfa(reference_pd, false_alarm_probability)
    log_pfa = _log(false_alarm_probability)
    if swerling == 1:
        return log_pfa / _log(reference_pd) - 1.0
    if swerling == 0:
        threshold = -2.0 * log_pfa

        def excess(snr: float) -> float:
            return float(_swerling0_pd(snr, threshold)) - reference_pd

        upper = 1.0
        while excess(upper) < 0.0:
            upper *= 2.0
        # At SNR 0 Pd equals Pfa < reference_pd, so [0, upper] brackets the root.
        return float(optimize.brentq(excess, 0.0, upper, xtol=1e-12, rtol=1e-12))
    raise ValueError(f"swerling must be 0 or 1, got {swerling!r}")


def reference_snr(reference_pd: float, false_alarm_probability: float, swerling: int) -> float:
    """Linear SNR giving ``reference_pd`` at ``false_alarm_probability`` for Swerling 0 or 1."""
    # Cached because Swerling 0 needs a root search and radars call this every scan.
    return _reference_snr_cached(float(reference_pd), float(false_alarm_probability), int(swerling))


def detection_probability(
    range_m: npt.ArrayLike,
    rcs_m2: npt.ArrayLike,
    *,
    reference_range_m: float,
    reference_rcs_m2: float,
    reference_pd: float,
    false_alarm_probability: float,
    swerling: int,
) -> FloatArray:
    """Single-look Pd for targets at ``range_m`` [m] with ``rcs_m2`` [m^2].

    SNR scales as ``rcs / rcs_ref * (R_ref / R) ** 4`` from the SNR that yields
    ``reference_pd`` at the reference point; range is clipped at 1 m.
    """
    if not reference_range_m > 0.0:
        raise ValueError(f"reference_range_m must be > 0, got {reference_range_m!r}")
    if not reference_rcs_m2 > 0.0:
        raise ValueError(f"reference_rcs_m2 must be > 0, got {reference_rcs_m2!r}")
    snr_ref = reference_snr(reference_pd, false_alarm_probability, swerling)
    pd = _detection_probability(
        np.asarray(range_m, dtype=np.float64),
        np.asarray(rcs_m2, dtype=np.float64),
        snr_ref,
        reference_range_m,
        reference_rcs_m2,
        false_alarm_probability,
        swerling,
    )
    return np.asarray(np.minimum(pd, 1.0), dtype=np.float64)


def _detection_probability(
    range_m: FloatArray,
    rcs_m2: FloatArray,
    snr_ref: float,
    reference_range_m: float,
    reference_rcs_m2: float,
    false_alarm_probability: float,
    swerling: int,
) -> FloatArray:
    """:func:`detection_probability` without the checks and the clip at 1, for float64 arrays.

    ``scan`` calls this every scan with a model whose parameters were checked when it was
    built, and compares the result with uniforms in [0, 1), which compare the same against
    ``min(pd, 1)`` as against ``pd``; so it leaves out that clip (a NaN stays a NaN either way).
    """
    r = np.maximum(range_m, 1.0)
    rcs = np.maximum(rcs_m2, 0.0)
    ratio_sq = reference_range_m / r
    ratio_sq *= ratio_sq
    # (R_ref / R) ** 4 as two squarings: numpy's power takes CPU-specific paths.
    snr = snr_ref * (rcs / reference_rcs_m2) * (ratio_sq * ratio_sq)
    if swerling == 1:
        # Pfa ** (1 / (1 + SNR)), with ln Pfa taken once per model.
        pd = detmath.exp(_log(false_alarm_probability) / (1.0 + snr))
    else:
        threshold = -2.0 * _log(false_alarm_probability)
        pd = _swerling0_pd(np.minimum(snr, _MAX_SNR), threshold)
    # Rounding in the special function can leave Pd a hair outside [Pfa, 1].
    result: FloatArray = np.maximum(pd, false_alarm_probability)
    return result


def polar_to_enu(
    radar_position_m: npt.ArrayLike,
    range_m: npt.ArrayLike,
    azimuth_rad: npt.ArrayLike,
    elevation_rad: npt.ArrayLike,
) -> FloatArray:
    """ENU positions [m], shape (..., 3), of polar measurements taken from ``radar_position_m``."""
    r = np.asarray(range_m, dtype=np.float64)
    az = np.asarray(azimuth_rad, dtype=np.float64)
    el = np.asarray(elevation_rad, dtype=np.float64)
    sin_az, cos_az = detmath.sin_cos(az)
    sin_el, cos_el = detmath.sin_cos(el)
    horizontal_m = r * cos_el
    local = np.empty((*np.broadcast(r, az, el).shape, 3))
    local[..., 0] = horizontal_m * sin_az
    local[..., 1] = horizontal_m * cos_az
    local[..., 2] = r * sin_el
    return np.asarray(local + np.asarray(radar_position_m, dtype=np.float64), dtype=np.float64)


def enu_to_polar(
    radar_position_m: npt.ArrayLike, position_m: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Range [m], azimuth [rad, 0..2pi clockwise from north], elevation [rad] of ENU points (..., 3)."""
    d = np.asarray(position_m, dtype=np.float64) - np.asarray(radar_position_m, dtype=np.float64)
    east, north, up = d[..., 0], d[..., 1], d[..., 2]
    horizontal_m = detmath.hypot(east, north)
    range_m = detmath.hypot(horizontal_m, up)
    angles = detmath.arctan2(np.stack((east, up)), np.stack((north, horizontal_m)))
    azimuth_rad = np.mod(angles[0], 2.0 * np.pi)
    elevation_rad = angles[1]
    return (
        np.asarray(range_m, dtype=np.float64),
        np.asarray(azimuth_rad, dtype=np.float64),
        np.asarray(elevation_rad, dtype=np.float64),
    )


def polar_covariance_to_enu(
    range_m: npt.ArrayLike,
    azimuth_rad: npt.ArrayLike,
    elevation_rad: npt.ArrayLike,
    sigma_range_m: float,
    sigma_azimuth_rad: float,
    sigma_elevation_rad: float,
) -> FloatArray:
    """ENU covariance [m^2], shape (M, 3, 3), of converted measurements: J diag(sigma^2) J^T."""
    r = np.atleast_1d(np.asarray(range_m, dtype=np.float64))
    az = np.atleast_1d(np.asarray(azimuth_rad, dtype=np.float64))
    el = np.atleast_1d(np.asarray(elevation_rad, dtype=np.float64))
    sin_az, cos_az = detmath.sin_cos(az)
    sin_el, cos_el = detmath.sin_cos(el)
    # Component-major Jacobian (3, 3, ...): each entry is one contiguous vector.
    jac = np.empty((3, 3, *r.shape), dtype=np.float64)
    # Columns: d/d range, d/d azimuth, d/d elevation of (east, north, up).
    jac[0, 0] = cos_el * sin_az
    jac[0, 1] = r * cos_el * cos_az
    jac[0, 2] = -r * sin_el * sin_az
    jac[1, 0] = cos_el * cos_az
    jac[1, 1] = -r * cos_el * sin_az
    jac[1, 2] = -r * sin_el * cos_az
    jac[2, 0] = sin_el
    jac[2, 1] = 0.0
    jac[2, 2] = r * cos_el
    variances = np.array([sigma_range_m, sigma_azimuth_rad, sigma_elevation_rad])
    variances *= variances
    weighted = jac * variances.reshape(1, 3, *(1,) * r.ndim)
    return _jdjt(weighted, jac)


def _jdjt(weighted: FloatArray, jac: FloatArray) -> FloatArray:
    """(..., 3, 3) products ``weighted_i . jac_j`` over the middle axis of two (3, 3, ...)
    arrays, summed left to right (no BLAS or einsum, whose summation order may vary)."""
    products = weighted[:, None] * jac[None, :]  # (i, j, k, ...)
    total = products[:, :, 0] + products[:, :, 1]
    total += products[:, :, 2]
    return np.ascontiguousarray(np.moveaxis(total, (0, 1), (-2, -1)), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class RadarModel:
    """Static parameters of one search radar.

    position_m: ENU position of the antenna [m]; its "up" is the antenna height.
    max_range_m: instrumented range [m]; nothing further is reported.
    reference_range_m: range [m] at which a ``reference_rcs_m2`` target has ``reference_pd``.
    reference_rcs_m2: radar cross section [m^2] of the reference target.
    reference_pd: single-scan detection probability of the reference target [0..1].
    false_alarm_probability: per-cell false alarm probability setting the threshold [0..1].
    swerling: target fluctuation model, 0 (steady) or 1 (scan-to-scan Rayleigh).
    false_alarms_per_scan: mean number of false plots per scan (Poisson) [1/scan].
    max_elevation_rad: upper edge of the elevation coverage [rad].
    sigma_range_m: 1-sigma range measurement noise [m].
    sigma_azimuth_rad: 1-sigma azimuth measurement noise [rad].
    sigma_elevation_rad: 1-sigma elevation measurement noise [rad].
    iff: whether the radar has an IFF interrogator.
    iff_reply_probability: probability [0..1] that a detected IFF-equipped target replies.
    """

    position_m: tuple[float, float, float]
    max_range_m: float
    reference_range_m: float
    reference_rcs_m2: float
    reference_pd: float
    false_alarm_probability: float
    swerling: int
    false_alarms_per_scan: float
    max_elevation_rad: float
    sigma_range_m: float
    sigma_azimuth_rad: float
    sigma_elevation_rad: float
    iff: bool
    iff_reply_probability: float

    def __post_init__(self) -> None:
        if len(self.position_m) != 3 or not all(math.isfinite(v) for v in self.position_m):
            raise ValueError(f"position_m must be 3 finite numbers, got {self.position_m!r}")
        # A tuple whatever sequence was given: scan() caches per model, which must hash.
        object.__setattr__(self, "position_m", tuple(float(v) for v in self.position_m))
        for name in ("max_range_m", "reference_range_m", "reference_rcs_m2"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(f"{name} must be finite and > 0, got {value!r}")
        # Zero noise is allowed (an ideal sensor for tests); negative noise is not.
        for name in ("sigma_range_m", "sigma_azimuth_rad", "sigma_elevation_rad"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
        if self.swerling not in (0, 1):
            raise ValueError(f"swerling must be 0 or 1, got {self.swerling!r}")
        _validate_pd_pfa(self.reference_pd, self.false_alarm_probability)
        if not (math.isfinite(self.false_alarms_per_scan) and self.false_alarms_per_scan >= 0.0):
            raise ValueError(
                f"false_alarms_per_scan must be finite and >= 0, got {self.false_alarms_per_scan!r}"
            )
        if not 0.0 < self.max_elevation_rad <= math.pi / 2.0:
            raise ValueError(f"max_elevation_rad must be in (0, pi/2], got {self.max_elevation_rad!r}")
        if not 0.0 <= self.iff_reply_probability <= 1.0:
            raise ValueError(f"iff_reply_probability must be in [0, 1], got {self.iff_reply_probability!r}")


@dataclass(frozen=True, slots=True, eq=False)
class Plots:
    """Plots of one scan as columns of equal length M.

    position_m: (M, 3) ENU position [m] of the converted measurement.
    covariance_m2: (M, 3, 3) ENU covariance [m^2] of that position.
    truth_index: (M,) index into the scanned truth arrays, -1 for false alarms.
    iff_reply: (M,) whether an IFF reply came with the plot.
    """

    position_m: FloatArray
    covariance_m2: FloatArray
    truth_index: IntArray
    iff_reply: BoolArray

    def __len__(self) -> int:
        return int(self.truth_index.shape[0])


_TWO_K_R_M = 2.0 * (4.0 / 3.0) * EARTH_RADIUS_M
"""``2 k R`` [m] of :func:`horizon_range_m` at its default ``k``, in the same evaluation order."""


class _ScanConstants(NamedTuple):
    """What :func:`scan` derives from the model alone; arrays are read-only (they are shared)."""

    radar_position_m: FloatArray
    """(3,) antenna position [m]."""
    radar_horizon_m: float
    """The radar's term of :func:`horizon_range_m` [m]."""
    snr_ref: float
    """:func:`reference_snr` of the model."""
    sigmas: FloatArray
    """(3, 1) measurement sigmas of range [m], azimuth [rad], elevation [rad]."""
    variances: FloatArray
    """(3, 1) their squares."""
    false_alarm_min_range_m: float
    """Lower bound [m] of false-alarm range."""
    false_alarm_scale: FloatArray
    """(3, 1) factors of the false-alarm uniforms: range span [m], 2 (times pi after), max elevation [rad]."""


def _read_only(values: list[list[float]] | tuple[float, ...]) -> FloatArray:
    array = np.array(values, dtype=np.float64)
    array.flags.writeable = False
    return array


@functools.lru_cache(maxsize=64)
def _scan_constants(model: RadarModel) -> _ScanConstants:
    # Cached because building a few tiny arrays costs more than the lookup, every scan.
    min_range_m = min(FALSE_ALARM_MIN_RANGE_M, 0.5 * model.max_range_m)
    return _ScanConstants(
        radar_position_m=_read_only(model.position_m),
        radar_horizon_m=math.sqrt(_TWO_K_R_M * max(model.position_m[2], 0.0)),
        snr_ref=reference_snr(model.reference_pd, model.false_alarm_probability, model.swerling),
        sigmas=_read_only([[model.sigma_range_m], [model.sigma_azimuth_rad], [model.sigma_elevation_rad]]),
        variances=_read_only(
            [
                [model.sigma_range_m * model.sigma_range_m],
                [model.sigma_azimuth_rad * model.sigma_azimuth_rad],
                [model.sigma_elevation_rad * model.sigma_elevation_rad],
            ]
        ),
        false_alarm_min_range_m=min_range_m,
        false_alarm_scale=_read_only(
            [
                [model.max_range_m - min_range_m],
                [2.0],
                [min(model.max_elevation_rad, FALSE_ALARM_MAX_ELEVATION_RAD)],
            ]
        ),
    )


def scan(
    model: RadarModel,
    truth_position_m: npt.ArrayLike,
    rcs_m2: npt.ArrayLike,
    iff: npt.ArrayLike,
    rng: np.random.Generator,
) -> Plots:
    """One scan over N truth objects (positions (N, 3) [m], RCS [m^2], IFF fitted).

    Draw order is fixed and independent of geometry (N detection uniforms, N x 3
    normals, N IFF uniforms, Poisson count, count x 3 uniforms), so the plots are
    a pure function of the inputs and the generator state. Real plots come first,
    in truth order, then false alarms.
    """
    # Radars call this every scan with a few hundred objects, where numpy's per-call overhead,
    # not arithmetic, is the cost. So the public helpers (enu_to_polar, horizon_range_m,
    # detection_probability, polar_to_enu, polar_covariance_to_enu) are inlined here with
    # fewer calls but the same floating-point operations in the same order: the plots are
    # bit for bit what composing the helpers gives (tests/unit/sensors/test_detection.py checks it).
    truth = np.asarray(truth_position_m, dtype=np.float64).reshape(-1, 3)
    n_truth = truth.shape[0]
    rcs = np.asarray(rcs_m2, dtype=np.float64).reshape(-1)
    has_iff = np.asarray(iff, dtype=np.bool_).reshape(-1)
    if rcs.shape[0] != n_truth or has_iff.shape[0] != n_truth:
        raise ValueError(
            f"truth_position_m has {n_truth} rows but rcs_m2 has {rcs.shape[0]} and iff {has_iff.shape[0]}"
        )
    const = _scan_constants(model)

    # Draw everything up front for all N so the stream does not depend on visibility.
    # (The false-alarm uniforms are drawn below, still last; none are drawn for a count of 0.)
    detect_draw = rng.random(n_truth)
    noise = rng.standard_normal((n_truth, 3))
    iff_draw = rng.random(n_truth)
    n_false = int(rng.poisson(model.false_alarms_per_scan))

    # enu_to_polar, writing range, azimuth and elevation as the rows of one (3, N) array
    # so the noise is added to all three at once below.
    d = truth - const.radar_position_m
    east, north, up = d[:, 0], d[:, 1], d[:, 2]
    polar = np.empty((3, n_truth))
    horizontal_m = detmath.hypot(east, north)
    range_m = polar[0]
    range_m[...] = detmath.hypot(horizontal_m, up)
    # Azimuth and elevation in one call: (east, up) over (north, horizontal).
    numerator = np.empty((2, n_truth))
    numerator[0] = east
    numerator[1] = up
    denominator = np.empty((2, n_truth))
    denominator[0] = north
    denominator[1] = horizontal_m
    polar[1:] = detmath.arctan2(numerator, denominator)
    np.mod(polar[1], 2.0 * np.pi, out=polar[1])
    elevation_rad = polar[2]

    # Within the instrumented range, the radio horizon (horizon_range_m of the truth's
    # height) and the elevation coverage. min(horizon, max range) leaves one range
    # comparison; a NaN still compares false.
    limit_m = np.maximum(truth[:, 2], 0.0)
    limit_m *= _TWO_K_R_M
    np.sqrt(limit_m, out=limit_m)
    limit_m += const.radar_horizon_m
    np.minimum(limit_m, model.max_range_m, out=limit_m)
    visible = range_m <= limit_m
    visible &= elevation_rad <= model.max_elevation_rad

    # Pd only for the visible objects; usually all are, and then nothing needs gathering.
    candidate = visible.nonzero()[0]
    all_visible = candidate.shape[0] == n_truth
    if all_visible:
        candidate_range_m, candidate_rcs, candidate_draw = range_m, rcs, detect_draw
    else:
        candidate_range_m = range_m.take(candidate)
        candidate_rcs = rcs.take(candidate)
        candidate_draw = detect_draw.take(candidate)
    pd = _detection_probability(
        candidate_range_m,
        candidate_rcs,
        const.snr_ref,
        model.reference_range_m,
        model.reference_rcs_m2,
        model.false_alarm_probability,
        model.swerling,
    )
    detected = candidate_draw < pd
    hit = detected.nonzero()[0] if all_visible else candidate[detected]

    # Noise in the radar's own polar frame; range kept positive and elevation physical.
    # Scaling and adding it for all N takes two calls, then the hits are gathered.
    # order="C" gives the product polar's layout, which makes the addition cheaper.
    meas = np.multiply(noise.T, const.sigmas, order="C")
    meas += polar
    plot_polar = meas.take(hit, axis=1)
    np.maximum(plot_polar[0], 1.0, out=plot_polar[0])
    np.mod(plot_polar[1], 2.0 * np.pi, out=plot_polar[1])
    np.maximum(plot_polar[2], -np.pi / 2.0, out=plot_polar[2])
    np.minimum(plot_polar[2], np.pi / 2.0, out=plot_polar[2])
    truth_index = hit.astype(np.int64, copy=False)
    if model.iff:
        reply = iff_draw < model.iff_reply_probability
        reply &= has_iff
        iff_reply = reply.take(hit)
    else:
        iff_reply = np.zeros(hit.shape[0], dtype=np.bool_)

    if n_false:
        false_draw = rng.random((n_false, 3))
        # Rows range, azimuth, elevation: min + u * span, u * 2 * pi (in that order), u * max.
        false_polar = false_draw.T * const.false_alarm_scale
        false_polar[0] += const.false_alarm_min_range_m
        false_polar[1] *= np.pi
        plot_polar = np.concatenate((plot_polar, false_polar), axis=1)
        truth_index = np.concatenate((truth_index, np.full(n_false, -1, dtype=np.int64)))
        iff_reply = np.concatenate((iff_reply, np.zeros(n_false, dtype=np.bool_)))

    position_m, covariance_m2 = _plots_to_enu(const.radar_position_m, plot_polar, const.variances)
    return Plots(
        position_m=position_m, covariance_m2=covariance_m2, truth_index=truth_index, iff_reply=iff_reply
    )


def _plots_to_enu(
    radar_position_m: FloatArray, plot_polar: FloatArray, variances: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """ENU positions (M, 3) [m] and covariances (M, 3, 3) [m^2] of plots given as polar rows (3, M).

    Bit for bit ``polar_to_enu`` and ``polar_covariance_to_enu`` of the rows (range [m],
    azimuth [rad], elevation [rad]) with ``variances`` (3, 1) the squared sigmas, but each
    sine and cosine is taken once and the products the two share are formed once.
    """
    range_m = plot_polar[0]
    n_plots = plot_polar.shape[1]
    # One call each for the sines and cosines of azimuth and elevation (rows 1 and 2).
    sin_az_el, cos_az_el = detmath.sin_cos(plot_polar[1:])
    sin_az, sin_el = sin_az_el[0], sin_az_el[1]
    cos_az, cos_el = cos_az_el[0], cos_az_el[1]

    # Component-major Jacobian (3, 3, M) as polar_covariance_to_enu builds it; columns are
    # d/d range, d/d azimuth, d/d elevation of (east, north, up). Entries are written in
    # place by one-dimensional operations (broadcasting ones cost more per call at this
    # size), keeping the order of the products there: r * cos_el * cos_az is
    # (r * cos_el) * cos_az and -r * sin_el * sin_az is ((-r) * sin_el) * sin_az.
    jac = np.empty((3, 3, n_plots), dtype=np.float64)
    horizontal_m = np.multiply(range_m, cos_el, out=jac[2, 2])
    np.multiply(cos_el, sin_az, out=jac[0, 0])
    north_m = np.multiply(horizontal_m, cos_az, out=jac[0, 1])
    neg_range_m = -range_m
    neg_range_sin_el = neg_range_m * sin_el
    np.multiply(neg_range_sin_el, sin_az, out=jac[0, 2])
    np.multiply(cos_el, cos_az, out=jac[1, 0])
    np.multiply(np.multiply(neg_range_m, cos_el, out=jac[1, 1]), sin_az, out=jac[1, 1])
    np.multiply(neg_range_sin_el, cos_az, out=jac[1, 2])
    jac[2, 0] = sin_el
    jac[2, 1] = 0.0
    covariance_m2 = _jdjt(jac * variances, jac)

    # polar_to_enu: (horizontal sin az, horizontal cos az, r sin el) plus the radar position.
    position_m = np.empty((n_plots, 3))
    np.multiply(horizontal_m, sin_az, out=position_m[:, 0])
    position_m[:, 1] = north_m
    np.multiply(range_m, sin_el, out=position_m[:, 2])
    position_m += radar_position_m
    return position_m, covariance_m2
