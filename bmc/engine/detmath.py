"""Elementary functions that give the same bits on every machine.

numpy's ``exp``, ``log``, ``arctan2`` and ``power`` take different code paths on
different CPUs (AVX-512 kernels on one machine, libm on another), and libm itself
differs between C libraries and between its FMA and non-FMA variants; the results
differ in the last bit, and in a simulation a last bit decides a gate or an
assignment sooner or later. The functions here are built from IEEE-754 operations
that are correctly rounded everywhere (``+ - * /``, ``sqrt``, ``rint``, ``frexp``,
``ldexp``, comparisons), one numpy ufunc per operation, so no compiler can fuse two
of them into an FMA. Their algorithms and coefficients are fdlibm's (Sun's freely
distributable libm, the ancestor of most C libraries' ``sin``/``exp``/``log``);
accuracy is about 1 ulp (the tests bound it against numpy) over the domains the
docstrings give.

Every function takes and returns float64 arrays (scalars are accepted and come back
as 0-d arrays; :func:`scalar` turns one into a float).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# pi/2 in two parts (fdlibm's pio2_1 has 33 significant bits, so n * PIO2_HI is exact
# for |n| < 2**20).
_PIO2_HI = 1.57079632673412561417e00
_PIO2_LO = 6.07710050650619224932e-11
_TWO_OVER_PI = 6.36619772367581382433e-01
MAX_TRIG_ARGUMENT = 524288.0 * _PIO2_HI  # 2**19 pi/2
"""|x| [rad] up to which :func:`sin_cos` keeps its accuracy (the range reduction is exact)."""

# fdlibm __kernel_sin / __kernel_cos on [-pi/4, pi/4].
_S = (
    -1.66666666666666324348e-01,
    8.33333333332248946124e-03,
    -1.98412698298579493134e-04,
    2.75573137070700676789e-06,
    -2.50507602534068634195e-08,
    1.58969099521155010221e-10,
)
_C = (
    4.16666666666666019037e-02,
    -1.38888888888741095749e-03,
    2.48015872894767294178e-05,
    -2.75573143513906633035e-07,
    2.08757232129817482790e-09,
    -1.13596475577881948265e-11,
)

# fdlibm s_atan: reduction points c = 0, 1/2, 1 (rows: c, atan c in two parts), polynomial.
_ATAN_BREAKS = np.array([0.4375, 0.6875])
_ATAN_TABLE = np.array(
    [
        [0.0, 0.5, 1.0],
        [0.0, 4.63647609000806093515e-01, 7.85398163397448278999e-01],
        [0.0, 2.26987774529616870924e-17, 3.06161699786838301793e-17],
    ]
)
_AT = (
    3.33333333333329318027e-01,
    -1.99999999998764832476e-01,
    1.42857142725034663711e-01,
    -1.11111104054623557880e-01,
    9.09088713343650656196e-02,
    -7.69187620504482999495e-02,
    6.66107313738753120669e-02,
    -5.83357013379057348645e-02,
    4.97687799461593236017e-02,
    -3.65315727442169155270e-02,
    1.62858201153657823623e-02,
)
# Octant of (x, y) by (|y| > |x|) + 2 (x < 0): angle = hi + sign * atan(small / big) + lo.
_OCTANT_TABLE = np.array(
    [
        [0.0, 1.57079632679489655800e00, 3.14159265358979311600e00, 1.57079632679489655800e00],
        [1.0, -1.0, -1.0, 1.0],
        [0.0, 6.12323399573676603587e-17, 1.22464679914735317720e-16, 6.12323399573676603587e-17],
    ]
)
_TINY = 5e-324

# fdlibm e_exp.
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_EXP_P = (
    1.66666666666666019037e-01,
    -2.77777777770155933842e-03,
    6.61375632143793436117e-05,
    -1.65339022054652515390e-06,
    4.13813679705723846039e-08,
)
_EXP_MAX = 709.782712893383973096
_EXP_MIN = -745.13321910194110842

# fdlibm e_log.
_LG_ODD = (
    6.666666666666735130e-01,
    2.857142874366239149e-01,
    1.818357216161805012e-01,
    1.479819860511658591e-01,
)
_LG_EVEN = (3.999999999940941908e-01, 2.222219843214978396e-01, 1.531383769920937332e-01)
_SQRT_HALF = 7.07106781186547524401e-01


def _horner(x: FloatArray, coefficients: tuple[float, ...]) -> FloatArray:
    """c0 + x (c1 + x (c2 + ...)), evaluated innermost first, in place on one buffer."""
    result = x * coefficients[-1]
    result += coefficients[-2]
    for c in coefficients[-3::-1]:
        result *= x
        result += c
    return result


def _as_array(x: npt.ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def sin_cos(x: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """(sin x, cos x) of angles ``x`` [rad], |x| <= :data:`MAX_TRIG_ARGUMENT`; NaN beyond."""
    x = _as_array(x)
    out_of_range = ~(np.abs(x) <= MAX_TRIG_ARGUMENT)  # NaN and inf included
    any_out = bool(out_of_range.any())
    if any_out:
        x = np.where(out_of_range, 0.0, x)
    n = np.rint(x * _TWO_OVER_PI)
    # Cody-Waite: n * _PIO2_HI is exact, so r carries x - n pi/2 to ~85 bits before rounding.
    r = x - n * _PIO2_HI
    r -= n * _PIO2_LO
    z = r * r
    # sin r = r + r z (S1 + z S2 + ...), cos r = 1 - (z/2 - z^2 (C1 + z C2 + ...)).
    sin_r = _horner(z, _S)
    sin_r *= z
    sin_r *= r
    sin_r += r
    cos_r = _horner(z, _C)
    cos_r *= z * z
    cos_r = 1.0 - (0.5 * z - cos_r)
    # Quadrant n mod 4: (sin, cos) = (s, c), (c, -s), (-s, -c), (-c, s).
    quadrant = np.bitwise_and(n.astype(np.int64), 3)
    swap = (quadrant & 1).astype(np.bool_)
    sin_x = np.where(swap, cos_r, sin_r)
    cos_x = np.where(swap, sin_r, cos_r)
    sin_x[...] = np.where(quadrant >= 2, -sin_x, sin_x)
    cos_x[...] = np.where((quadrant == 1) | (quadrant == 2), -cos_x, cos_x)
    if any_out:
        sin_x[out_of_range] = np.nan
        cos_x[out_of_range] = np.nan
    return sin_x, cos_x


def arctan2(y: npt.ArrayLike, x: npt.ArrayLike) -> FloatArray:
    """Angle [rad] in [-pi, pi] of the points (x, y), as C's atan2 (signed zeros included)."""
    y = _as_array(y)
    x = _as_array(x)
    ay, ax = np.abs(y), np.abs(x)
    # small / big in [0, 1]; at the origin 0 / tiny = 0 (big >= tiny whenever big > 0).
    t = np.minimum(ay, ax)
    t /= np.maximum(np.maximum(ay, ax), _TINY)
    # Reduce t around c = 0, 1/2 or 1: atan t = atan c + atan((t - c) / (1 + c t)).
    c, atan_hi, atan_lo = _ATAN_TABLE.take(_ATAN_BREAKS.searchsorted(t, side="right"), axis=1)
    u = t - c
    c *= t
    c += 1.0
    u /= c
    # atan u = u - u z (aT0 + z aT1 + ...), z = u^2, as fdlibm adds it to atan c.
    z = u * u
    poly = _horner(z, _AT)
    poly *= z
    poly *= u
    poly -= atan_lo
    poly -= u
    atan_t = atan_hi - poly  # in [0, pi/4]
    # The octant from |y| > |x| and x < 0 (-0 too), with pi/2 and pi in two parts.
    octant = np.signbit(x).astype(np.intp)
    octant += octant
    octant += ay > ax
    hi, sign, lo = _OCTANT_TABLE.take(octant, axis=1)
    atan_t *= sign
    atan_t += hi
    atan_t += lo
    result: FloatArray = np.copysign(atan_t, y)
    return result


def exp(x: npt.ArrayLike) -> FloatArray:
    """e ** x; 0 below -745.13, inf above 709.78, NaN for NaN."""
    x = _as_array(x)
    # NaN becomes 0 here (and NaN again at the end), so the integer cast below stays defined.
    clipped = np.minimum(np.maximum(np.where(np.isnan(x), 0.0, x), _EXP_MIN - 1.0), _EXP_MAX + 1.0)
    k = np.rint(clipped * _INV_LN2)
    hi = clipped - k * _LN2_HI
    lo = k * _LN2_LO
    r = hi - lo
    z = r * r
    c = _horner(z, _EXP_P)
    c *= z
    c = r - c
    y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)
    with np.errstate(over="ignore", under="ignore"):
        result: FloatArray = np.ldexp(y, k.astype(np.int64))
    result = np.where(x > _EXP_MAX, np.inf, result)
    result = np.where(x < _EXP_MIN, 0.0, result)
    return np.where(np.isnan(x), np.nan, result)


def log(x: npt.ArrayLike) -> FloatArray:
    """Natural logarithm; -inf at 0, NaN below 0 and for NaN, inf at inf."""
    x = _as_array(x)
    special = ~(x > 0.0) | (x == np.inf)
    any_special = bool(special.any())
    m, e = np.frexp(np.where(special, 1.0, x) if any_special else x)  # x = m 2**e, m in [0.5, 1)
    low = m < _SQRT_HALF
    m = np.where(low, m + m, m)  # now in [sqrt(1/2), sqrt(2))
    k = np.subtract(e, low, dtype=np.float64)
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = _horner(w, _LG_EVEN)
    t1 *= w
    r = _horner(w, _LG_ODD)
    r *= z
    r += t1
    hfsq = 0.5 * f
    hfsq *= f
    r += hfsq
    r *= s
    r += k * _LN2_LO
    r = hfsq - r
    r -= f
    result: FloatArray = k * _LN2_HI - r
    if any_special:
        result = np.where(x == 0.0, -np.inf, result)
        result = np.where(x == np.inf, np.inf, result)
        result = np.where((x < 0.0) | np.isnan(x), np.nan, result)
    return result


def power(base: float, exponent: npt.ArrayLike) -> FloatArray:
    """``base ** exponent`` for a positive base, as exp(exponent ln base)."""
    if not base > 0.0:
        raise ValueError(f"power needs a base > 0, got {base!r}")
    return exp(_as_array(exponent) * scalar(log(base)))


def hypot(x: npt.ArrayLike, y: npt.ArrayLike) -> FloatArray:
    """sqrt(x^2 + y^2), for values far from overflow (|x|, |y| < 1e150)."""
    x = _as_array(x)
    y = _as_array(y)
    result: FloatArray = np.sqrt(x * x + y * y)
    return result


def norm3(x: npt.ArrayLike, y: npt.ArrayLike, z: npt.ArrayLike) -> FloatArray:
    """sqrt(x^2 + y^2 + z^2), summed left to right (what np.linalg.norm does for a row of 3)."""
    x = _as_array(x)
    y = _as_array(y)
    z = _as_array(z)
    result: FloatArray = np.sqrt(x * x + y * y + z * z)
    return result


def dot3(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """Sum over the last axis (length 2 or 3) of a * b, left to right; no BLAS."""
    a = _as_array(a)
    b = _as_array(b)
    result: FloatArray = a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1]
    if a.shape[-1] == 3:
        result = result + a[..., 2] * b[..., 2]
    elif a.shape[-1] != 2:
        raise ValueError(f"dot3 takes vectors of 2 or 3 components, got {a.shape[-1]}")
    return result


def scalar(x: FloatArray) -> float:
    """The one value of a 0-d or single-element result as a Python float."""
    return float(np.asarray(x).reshape(-1)[0])
