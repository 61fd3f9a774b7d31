"""bmc.engine.detmath: accurate, and the same bits whatever the CPU, layout or alignment."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bmc.engine import detmath

ANGLE = st.floats(-detmath.MAX_TRIG_ARGUMENT, detmath.MAX_TRIG_ARGUMENT, allow_nan=False)
COORD = st.floats(-1e12, 1e12, allow_nan=False) | st.floats(-1e-3, 1e-3, allow_nan=False)


def _ulps(ours: float, reference: float) -> float:
    """Distance in units of the last place of ``reference`` (of 1e-300 near zero)."""
    return abs(ours - reference) / math.ulp(max(abs(reference), 1e-300))


@given(ANGLE)
def test_sin_cos_within_an_ulp_of_the_platform(x: float) -> None:
    s, c = detmath.sin_cos(x)
    # Near a zero of sin or cos the platform's own result is the only fair yardstick
    # in absolute terms: the range reduction keeps x - n pi/2 to ~1e-16 absolute.
    assert abs(float(s) - math.sin(x)) <= max(2 * math.ulp(math.sin(x)), 2.3e-16 * max(1.0, abs(x) * 2**-20))
    assert abs(float(c) - math.cos(x)) <= max(2 * math.ulp(math.cos(x)), 2.3e-16 * max(1.0, abs(x) * 2**-20))


@given(COORD, COORD)
def test_arctan2_within_two_ulps(y: float, x: float) -> None:
    assert _ulps(float(detmath.arctan2(y, x)), math.atan2(y, x)) <= 2.0


@given(st.floats(-745.0, 709.0))
def test_exp_within_an_ulp(x: float) -> None:
    reference = math.exp(x)
    if reference < 2.3e-308:  # subnormal results: one ulp of the smallest normal
        assert abs(float(detmath.exp(x)) - reference) <= 5e-324 * 2
    else:
        assert _ulps(float(detmath.exp(x)), reference) <= 1.0


@given(st.floats(5e-324, 1.7e308))
def test_log_within_an_ulp(x: float) -> None:
    assert _ulps(float(detmath.log(x)), math.log(x)) <= 1.0


def test_special_values() -> None:
    inf, nan = math.inf, math.nan
    assert detmath.exp(np.array([-inf, inf, 0.0, -800.0, 800.0])).tolist() == [0.0, inf, 1.0, 0.0, inf]
    assert np.isnan(detmath.exp(nan))
    logs = detmath.log(np.array([0.0, 1.0, inf, -1.0, nan]))
    assert logs[:3].tolist() == [-inf, 0.0, inf] and np.isnan(logs[3:]).all()
    s, c = detmath.sin_cos(np.array([0.0, inf, nan, 1e300]))
    assert (s[0], c[0]) == (0.0, 1.0) and np.isnan(s[1:]).all() and np.isnan(c[1:]).all()
    quadrants = detmath.arctan2(np.array([0.0, 1.0, 0.0, -1.0, 1.0]), np.array([1.0, 0.0, -1.0, 0.0, -inf]))
    assert quadrants.tolist() == [0.0, math.pi / 2, math.pi, -math.pi / 2, math.pi]
    assert float(detmath.arctan2(0.0, 0.0)) == 0.0
    with pytest.raises(ValueError, match="base > 0"):
        detmath.power(0.0, 1.0)
    assert float(detmath.power(2.0, 10.0)) == pytest.approx(1024.0, rel=1e-15)


def test_power_and_helpers() -> None:
    assert float(detmath.power(0.25, 0.5)) == pytest.approx(0.5, rel=2e-16)
    assert float(detmath.hypot(3.0, 4.0)) == 5.0
    assert float(detmath.norm3(2.0, 3.0, 6.0)) == 7.0
    assert detmath.dot3(np.array([[1.0, 2.0, 3.0]]), np.array([[4.0, 5.0, 6.0]])).tolist() == [32.0]
    assert float(detmath.dot3(np.array([1.0, 2.0]), np.array([3.0, 4.0]))) == 11.0
    with pytest.raises(ValueError, match="2 or 3 components"):
        detmath.dot3(np.ones(4), np.ones(4))


def _grid() -> tuple[np.ndarray, np.ndarray]:
    # Inputs built from exact operations only, so every machine starts from the same bits.
    k = np.arange(-5000, 5001, dtype=np.float64)
    return k * (1.0 / 512.0), (k * k + 1.0) * (1.0 / 4096.0)


def _all_results(x: np.ndarray, p: np.ndarray) -> list[np.ndarray]:
    s, c = detmath.sin_cos(x)
    return [s, c, detmath.arctan2(x, p - 3000.0), detmath.exp(x * 0.05), detmath.log(p), detmath.hypot(x, p)]


def test_same_bits_whatever_the_memory_layout() -> None:
    # numpy's own kernels choose SIMD or scalar paths by contiguity and alignment; these
    # functions must not care: contiguous, offset by one element (misaligned for any
    # vector width), strided and reversed copies give the same bits.
    x, p = _grid()
    reference = _all_results(x, p)

    def offset_by_one(a: np.ndarray) -> np.ndarray:
        buffer = np.empty(a.shape[0] + 1)
        buffer[1:] = a
        return buffer[1:]

    def strided(a: np.ndarray) -> np.ndarray:
        buffer = np.empty(a.shape[0] * 2)
        buffer[::2] = a
        return buffer[::2]

    layouts = [(f(x), f(p)) for f in (offset_by_one, strided, lambda a: a[::-1].copy()[::-1])]
    for lx, lp in layouts:
        for ours, ref in zip(_all_results(lx, lp), reference, strict=True):
            assert ours.tobytes() == ref.tobytes()
    # Element by element (a scalar at a time) equals the vector result too.
    for i in range(0, x.shape[0], 997):
        assert detmath.sin_cos(float(x[i]))[0].tobytes() == reference[0][i : i + 1].tobytes()


def test_same_bits_as_on_the_machine_that_wrote_this_test() -> None:
    # The digest of every function's results on a fixed grid, as first computed here: on
    # another CPU (with or without AVX-512, another BLAS, an ARM machine) the same numpy
    # version must give these bits, or the run digests cannot agree either.
    x, p = _grid()
    digest = hashlib.sha256(b"".join(r.tobytes() for r in _all_results(x, p))).hexdigest()
    assert digest == GRID_DIGEST


GRID_DIGEST = "34c2dd286f069dee2350852c7d7e30ce300d43fb6c14e87bbc7a0806b578abe1"
