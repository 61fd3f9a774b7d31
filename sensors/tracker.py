"""Pure, vectorised multi-target Kalman tracker for one radar.

Constant-velocity model with state (east, north, up [m], v_east, v_north, v_up [m/s])
fed with converted-measurement position plots (each with its own 3x3 covariance).
Association is global nearest neighbour: gated on the Mahalanobis distance, scored by
the Gaussian negative log-likelihood.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from bmc.engine import detmath
from protocols.messages import Classification, Identity, TrackStatus

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Conflict sets up to this many matrix cells go to the assignment solver in one piece;
# beyond it, splitting into connected clusters is cheaper than the cubic solve.
_DENSE_ASSIGN_MAX_CELLS = 96 * 96

# Plain ints: numpy converts IntEnum members noticeably slower than ints.
_TENTATIVE, _CONFIRMED = int(TrackStatus.TENTATIVE), int(TrackStatus.CONFIRMED)
_COASTING, _DROPPED = int(TrackStatus.COASTING), int(TrackStatus.DROPPED)
_PENDING, _UNKNOWN_ID, _FRIEND = int(Identity.PENDING), int(Identity.UNKNOWN), int(Identity.FRIEND)
_NEVER = 1 << 40
"""Scans-since-reply of a track that never had an IFF reply."""
_UNKNOWN_CLASS, _DRONE = int(Classification.UNKNOWN), int(Classification.DRONE)
_CRUISE_MISSILE, _FIGHTER = int(Classification.CRUISE_MISSILE), int(Classification.FIGHTER)
_HELICOPTER, _TRANSPORT = int(Classification.HELICOPTER), int(Classification.TRANSPORT)

# Block patterns of the white-acceleration process noise Q in (position, velocity) order.
_Q_POS_POS = np.kron(np.array([[1.0, 0.0], [0.0, 0.0]]), np.eye(3))
_Q_POS_VEL = np.kron(np.array([[0.0, 1.0], [1.0, 0.0]]), np.eye(3))
_Q_VEL_VEL = np.kron(np.array([[0.0, 0.0], [0.0, 1.0]]), np.eye(3))

# Each track is one column of 27 floats: the state (6) and the upper triangle of its
# symmetric 6x6 covariance, row by row (21), the order the wire's covariance field uses.
_N_ROWS = 27
_STATE_ROWS = 6
_IU = np.triu_indices(6)
_UPPER = np.zeros((6, 6), dtype=np.intp)
"""Row of covariance entry (i, j) in a track column (both triangles)."""
_UPPER[_IU] = _UPPER[_IU[1], _IU[0]] = _STATE_ROWS + np.arange(21)
_COV_ROWS = _UPPER.reshape(36)
"""Rows of the full 6x6 covariance, row-major."""
_POS_ROWS = _UPPER[[0, 0, 0, 1, 1, 2], [0, 1, 2, 1, 2, 2]]
"""Rows of the position block's 6 distinct entries (xx, xy, xz, yy, yz, zz)."""
_PHT_ROWS = _UPPER[:, :3].reshape(18)
"""Rows of P H^T (the first three columns of P), row-major (6, 3)."""
_VEL_VAR_ROWS = _UPPER[[3, 4, 5], [3, 4, 5]]
"""Rows of the velocity variances."""


class _Motion(NamedTuple):
    """column' = sum_k coefficient[:, k] * column[source[:, k]] + noise, the prediction of
    every track ``dt_s`` ahead, as a sparse matrix with a fixed summation order."""

    dt_s: float
    source: tuple[IntArray, ...]
    """Per term k, the row each of the 27 rows takes its k-th term from."""
    coefficient: tuple[FloatArray, ...]
    """Per term k, the (27, 1) coefficients (0 where a row has fewer terms)."""
    noise: FloatArray
    """(27, 1) process noise Q added to the covariance entries."""


def _motion_matrices(dt_s: float, q: float) -> _Motion:
    """The prediction by ``dt_s`` [s] with white-acceleration noise density ``q``.

    The dense form is A with column' = A column + c: A applies the constant-velocity
    transition F to the state and F P F^T to the covariance's 21 entries (row (i, j) of
    kron(F, F), with the coefficients of P's (k, l) and (l, k) added together since both
    are one stored entry); c adds Q. A has at most four non-zeros a row, so the product is
    formed term by term, left to right in column order: a BLAS matrix product would give
    bits that depend on the CPU's kernel, its thread count and the arrays' alignment.
    """
    f = np.eye(6)
    f[:3, 3:] = dt_s * np.eye(3)
    a = np.zeros((_N_ROWS, _N_ROWS))
    a[:_STATE_ROWS, :_STATE_ROWS] = f
    kron = np.kron(f, f)[_IU[0] * 6 + _IU[1]]
    for full, stored in enumerate(_COV_ROWS):  # fold both triangles onto the stored entry
        a[_STATE_ROWS:, stored] += kron[:, full]
    dt2_s2 = dt_s * dt_s
    q_matrix = q * (dt2_s2 * dt_s / 3.0 * _Q_POS_POS + dt2_s2 / 2.0 * _Q_POS_VEL + dt_s * _Q_VEL_VEL)
    c = np.zeros((_N_ROWS, 1))
    c[_STATE_ROWS:, 0] = q_matrix[_IU]
    terms = int((a != 0.0).sum(axis=1).max())
    source = np.zeros((_N_ROWS, terms), dtype=np.intp)
    coefficient = np.zeros((_N_ROWS, terms))
    for row in range(_N_ROWS):
        cols = a[row].nonzero()[0]
        source[row, : cols.shape[0]] = cols
        coefficient[row, : cols.shape[0]] = a[row, cols]
    return _Motion(
        dt_s=dt_s,
        source=tuple(np.ascontiguousarray(source[:, k]) for k in range(terms)),
        coefficient=tuple(np.ascontiguousarray(coefficient[:, k : k + 1]) for k in range(terms)),
        noise=c,
    )


# Integer bookkeeping, one row each in a (5, N) array.
_ID, _HITS, _MISSES, _SINCE_REPLY, _TRUTH = range(5)

# Track status by (dropped, confirmed, misses == 0) read as a 3-bit number.
_STATUS_OF = np.array([_TENTATIVE, _TENTATIVE, _COASTING, _CONFIRMED] + [_DROPPED] * 4, dtype=np.int64)
# Identity by (recent IFF reply, fewer hits than confirm_hits) read as a 2-bit number.
_IDENTITY_OF = np.array([_UNKNOWN_ID, _PENDING, _FRIEND, _FRIEND], dtype=np.int64)


def classify(state: npt.ArrayLike) -> IntArray:
    """Kinematic classification of (N, 6) states; a deliberately simple heuristic.

    With speed = |velocity| [m/s] and up [m], the first matching rule wins:

    1. 150 <= speed < 350 and up < 300      -> CRUISE_MISSILE (fast and sea-skimming)
    2. speed >= 150                         -> FIGHTER
    3. 90 <= speed < 150 and up < 1000      -> HELICOPTER
    4. 90 <= speed < 150                    -> TRANSPORT
    5. speed < 90 and up < 1500             -> DRONE (hovering included)
    6. otherwise (slow and high)            -> UNKNOWN
    """
    return _classify_columns(np.asarray(state, dtype=np.float64).reshape(-1, 6).T)


# Speed bands [m/s] and, per band, the height [m] below which the first class applies.
_SPEED_BANDS_MPS = (90.0, 150.0, 350.0)
_LOW_BELOW_M = np.array([1500.0, 1000.0, 300.0, -np.inf])
_CLASS_OF = np.array(
    [
        [_UNKNOWN_CLASS, _DRONE],  # slow: high or low
        [_TRANSPORT, _HELICOPTER],  # medium
        [_FIGHTER, _CRUISE_MISSILE],  # fast
        [_FIGHTER, _FIGHTER],  # very fast, at any height
    ],
    dtype=np.int64,
).reshape(8)


def _classify_columns(x: FloatArray) -> IntArray:
    """:func:`classify` of component-major states (6, N), as a table lookup by speed band
    and height (the rules' nested choices as a few whole-array operations)."""
    speed_mps = np.sqrt(x[3] * x[3] + x[4] * x[4] + x[5] * x[5])
    slow, fast, very_fast = _SPEED_BANDS_MPS
    band = (speed_mps >= slow).astype(np.intp) + (speed_mps >= fast) + (speed_mps >= very_fast)
    low = x[2] < _LOW_BELOW_M[band]
    return np.asarray(_CLASS_OF[2 * band + low], dtype=np.int64)


@dataclass(frozen=True, slots=True)
class TrackerParams:
    """Tuning of the tracker.

    confirm_hits: associated plots needed to confirm a track.
    drop_misses: consecutive missed scans after which a confirmed track is dropped.
    gate_sigma: association gate as a Mahalanobis distance [sigma].
    process_noise_mps2: white-acceleration process noise spectral density q [m/s^2 / sqrt(Hz)].
    initial_speed_sigma_mps: 1-sigma velocity uncertainty per axis of a new track [m/s].
    iff_memory_scans: a track is FRIEND while an IFF reply came within this many scans; a
        hostile that once took a friend's plot (and its reply) when their paths crossed
        loses the mark instead of keeping it for good.
    """

    confirm_hits: int = 3
    drop_misses: int = 3
    gate_sigma: float = 4.0
    process_noise_mps2: float = 10.0
    initial_speed_sigma_mps: float = 300.0
    iff_memory_scans: int = 10

    def __post_init__(self) -> None:
        if self.confirm_hits < 1:
            raise ValueError(f"confirm_hits must be >= 1, got {self.confirm_hits!r}")
        if self.drop_misses < 1:
            raise ValueError(f"drop_misses must be >= 1, got {self.drop_misses!r}")
        if self.iff_memory_scans < 1:
            raise ValueError(f"iff_memory_scans must be >= 1, got {self.iff_memory_scans!r}")
        for name in ("gate_sigma", "initial_speed_sigma_mps"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(f"{name} must be finite and > 0, got {value!r}")
        if not (math.isfinite(self.process_noise_mps2) and self.process_noise_mps2 >= 0.0):
            raise ValueError(f"process_noise_mps2 must be finite and >= 0, got {self.process_noise_mps2!r}")


@dataclass(frozen=True, slots=True, eq=False)
class TrackSet:
    """Tracks of one radar after a scan, as columns of equal length N, ordered by track_id.

    track_id: unique per tracker, increasing from 1, never reused.
    state: (N, 6) east, north, up [m], v_east, v_north, v_up [m/s].
    covariance: (N, 6, 6) state covariance [m^2, m^2/s, m^2/s^2].
    status: TrackStatus values; DROPPED tracks are reported once, then forgotten.
    identity: Identity values (FRIEND sticky once any plot had an IFF reply).
    classification: Classification values from :func:`classify`; UNKNOWN until a track has
        two plots, since one plot gives no velocity.
    truth_index: truth index of the last associated plot, -1 for a false alarm.
    """

    track_id: IntArray
    state: FloatArray
    covariance: FloatArray
    status: IntArray
    identity: IntArray
    classification: IntArray
    truth_index: IntArray

    def __len__(self) -> int:
        return int(self.track_id.shape[0])


def _gnn_assign(rows: IntArray, cols: IntArray, cost: FloatArray, n_rows: int, n_cols: int) -> IntArray:
    """Global-nearest-neighbour assignment over gated candidate (row, col, cost) triples.

    Returns the indices of the chosen triples. Unambiguous pairs (row and col each
    with a single candidate) are taken directly; the conflicting rest is solved
    with the Hungarian-type solver, as one dense matrix when small, else per
    connected cluster: first as many pairs as possible, then the least total cost
    among those.
    """
    row_count = np.bincount(rows, minlength=n_rows)
    col_count = np.bincount(cols, minlength=n_cols)
    simple = (row_count[rows] == 1) & (col_count[cols] == 1)
    if simple.all():
        return np.arange(rows.shape[0], dtype=np.int64)
    chosen = [simple.nonzero()[0]]
    hard_pairs = (~simple).nonzero()[0]
    h_rows, h_cols, h_cost = rows[hard_pairs], cols[hard_pairs], cost[hard_pairs]
    # Unique ids and local indices by counting (cheaper than np.unique's sort at these sizes).
    row_ids = np.bincount(h_rows, minlength=n_rows).nonzero()[0]
    col_ids = np.bincount(h_cols, minlength=n_cols).nonzero()[0]
    row_lookup = np.empty(n_rows, dtype=np.int64)
    row_lookup[row_ids] = np.arange(row_ids.shape[0])
    col_lookup = np.empty(n_cols, dtype=np.int64)
    col_lookup[col_ids] = np.arange(col_ids.shape[0])
    row_local, col_local = row_lookup[h_rows], col_lookup[h_cols]
    n_r, n_c = row_ids.shape[0], col_ids.shape[0]
    clusters: list[tuple[IntArray | None, IntArray, IntArray]]
    if n_r * n_c <= _DENSE_ASSIGN_MAX_CELLS:
        clusters = [(None, np.arange(n_r), np.arange(n_c))]
    else:
        # Large conflict sets are almost always many small clusters; solving them one
        # by one avoids the cubic cost of one big matrix.
        graph = coo_array(
            (np.ones(h_rows.shape[0]), (row_local, col_local + n_r)), shape=(n_r + n_c, n_r + n_c)
        )
        n_clusters, labels = connected_components(graph, directed=False)
        edges = np.arange(n_clusters + 1)

        def split(label: IntArray) -> list[IntArray]:
            """Indices grouped by cluster label, each group ascending."""
            order = np.argsort(label, kind="stable")
            bounds = np.searchsorted(label[order], edges)
            return [order[bounds[c] : bounds[c + 1]] for c in range(n_clusters)]

        clusters = list(zip(split(labels[row_local]), split(labels[:n_r]), split(labels[n_r:]), strict=True))
    for members, c_rows, c_cols in clusters:
        # Shifted costs lie in [0, span]; a forbidden pairing then costs more than all
        # real pairings of the cluster together, so the solver first maximises the
        # number of real pairs. The bound stays small to keep its arithmetic exact.
        if members is None:  # the whole conflict set in one matrix: local indices are the cells
            c_cost, cell, c_pairs = h_cost, (row_local, col_local), hard_pairs
        else:
            c_cost, c_pairs = h_cost[members], hard_pairs[members]
            cell = (np.searchsorted(c_rows, row_local[members]), np.searchsorted(c_cols, col_local[members]))
        c_cost = c_cost - c_cost.min()
        forbidden = float(c_cost.max()) * (min(c_rows.shape[0], c_cols.shape[0]) + 1) + 1.0
        dense = np.full((c_rows.shape[0], c_cols.shape[0]), forbidden)
        dense[cell] = c_cost
        pair_of_cell = np.empty(dense.shape, dtype=np.int64)
        pair_of_cell[cell] = c_pairs
        r_sel, c_sel = linear_sum_assignment(dense)
        ok = dense[r_sel, c_sel] < forbidden
        chosen.append(pair_of_cell[r_sel[ok], c_sel[ok]])
    return np.concatenate(chosen).astype(np.int64)


def _candidate_pairs(
    track_m: FloatArray, half_width_m: FloatArray, plot_m: FloatArray
) -> tuple[IntArray, IntArray, FloatArray]:
    """(track, plot) pairs whose offset lies inside the track's box, with that offset
    (3, K); positions and box half-widths are (3, N), plots (3, M); pairs grouped by track.

    Sort-and-sweep along the horizontal axis where the plots spread most, then the
    exact box check on all three axes: fully vectorised, unlike a k-d tree's per-point
    lists.
    """
    n_tracks = track_m.shape[1]
    horizontal = plot_m[:2]
    spread = horizontal.max(axis=1) - horizontal.min(axis=1)
    axis = 0 if spread[0] >= spread[1] else 1
    # Array methods rather than np.* functions below: no Python-level dispatch per call.
    order = plot_m[axis].argsort(kind="stable")
    key = plot_m[axis][order]
    centre, half = track_m[axis], half_width_m[axis]
    lo = key.searchsorted(centre - half, side="left")
    counts = key.searchsorted(centre + half, side="right") - lo
    ends = counts.cumsum()
    rows = np.arange(n_tracks, dtype=np.int64).repeat(counts)
    # Position inside the sorted plots: window start of the row plus rank within the row.
    cols = order[np.arange(int(ends[-1])) + (lo - (ends - counts)).repeat(counts)]
    offset = plot_m.take(cols, axis=1) - track_m.take(rows, axis=1)
    inside = np.abs(offset) <= half_width_m.take(rows, axis=1)
    near = (inside[0] & inside[1] & inside[2]).nonzero()[0]
    return rows[near], cols[near].astype(np.int64, copy=False), offset.take(near, axis=1)


# A symmetric 3x3 matrix per column as its 6 distinct entries (xx, xy, xz, yy, yz, zz):
# row k of a (6, K) array is one entry for all K matrices, so taking a subset of
# matrices is one contiguous 2-D take instead of a strided 3-D one.
_SYM6_OF_33 = np.array([0, 1, 2, 4, 5, 8])
"""Positions of the 6 entries in a flattened 3x3 matrix."""
_FULL_OF_SYM6 = np.array([0, 1, 2, 1, 3, 4, 2, 4, 5])
"""Entry of the 6 for each cell of the flattened 3x3 matrix."""
_DIAG_OF_SYM6 = np.array([0, 3, 5])
"""Entries of the 6 on the diagonal."""
# Adjugate of [[a, b, c], [b, d, e], [c, e, f]] in the same 6-entry order: adj = p * q - r * s,
# formed as one (12, K) product of the (p, r) entries with the (q, s) entries.
_ADJ_PR = np.array([3, 2, 1, 0, 1, 0, 4, 1, 2, 2, 0, 1])
_ADJ_QS = np.array([5, 4, 4, 5, 2, 3, 4, 5, 3, 2, 4, 1])
# v^T A v = sum over the 6 entries of weight * a * v_i v_j, off-diagonal entries twice.
_VV_I, _VV_J = np.array([0, 0, 0, 1, 1, 2]), np.array([0, 1, 2, 1, 2, 2])
_VV_WEIGHT_COLUMN = np.array([[1.0], [2.0], [2.0], [1.0], [2.0], [1.0]])


class Tracker:
    """Holds the tracks of one radar. step() is the only mutator."""

    # Tracks are columns: floats (27, N) = state and covariance upper triangle, ints
    # (5, N) = id, hits, misses, scans since an IFF reply, truth index. Every matrix entry
    # is then a contiguous length-N row, so the tiny 3x3/6x6 algebra runs as a few
    # whole-array operations, and keeping, dropping or appending tracks is one operation
    # per array (numpy's per-call overhead, not arithmetic, dominates at N ~ 100-300).

    def __init__(self, params: TrackerParams) -> None:
        """Start with no tracks; the first step() sets the clock."""
        self._params = params
        self._time_s: float | None = None
        self._next_id = 1
        self._f: FloatArray = np.zeros((_N_ROWS, 0))
        self._n: IntArray = np.zeros((5, 0), dtype=np.int64)
        self._motion: _Motion | None = None
        """The last prediction's matrices."""

    @property
    def params(self) -> TrackerParams:
        """Tuning in use."""
        return self._params

    @property
    def time_s(self) -> float | None:
        """Time [s] of the last step, None before the first."""
        return self._time_s

    def __len__(self) -> int:
        """Number of live (not dropped) tracks."""
        return int(self._f.shape[1])

    def _predict(self, dt_s: float) -> None:
        """Propagate all tracks by ``dt_s`` [s] with the constant-velocity model."""
        if dt_s == 0.0 or self._f.shape[1] == 0:
            return
        motion = self._motion
        if motion is None or motion.dt_s != dt_s:
            # A radar steps by the same dt every scan: keep the matrices for the next one.
            q = self._params.process_noise_mps2
            motion = self._motion = _motion_matrices(dt_s, q * q)
        f = self._f
        predicted = f.take(motion.source[0], axis=0)
        predicted *= motion.coefficient[0]
        for source, coefficient in zip(motion.source[1:], motion.coefficient[1:], strict=True):
            term = f.take(source, axis=0)
            term *= coefficient
            predicted += term
        predicted += motion.noise
        self._f = predicted

    def _associate(self, z: FloatArray, r6: FloatArray) -> tuple[IntArray, IntArray, FloatArray]:
        """Matched (track, plot) index pairs by gated global nearest neighbour, with the
        inverse innovation covariance (6 entries, K) of each pair for the update.

        ``z`` is (3, M) positions, ``r6`` (6, M) their covariances as 6 entries.
        """
        f = self._f
        n_tracks, n_plots = f.shape[1], z.shape[1]
        if n_tracks == 0 or n_plots == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros((6, 0))
        hph = f.take(_POS_ROWS, axis=0)
        gate2 = self._params.gate_sigma * self._params.gate_sigma
        # Pre-gate: for any axis e, (e.v)^2 <= d^2 (e^T S e) (Cauchy-Schwarz in the metric
        # of S), so a pair inside the gate has |v_e| <= gate * sqrt(S_ee) on each axis, and
        # S_ee <= HPH^T_ee + max R_ee: a plot outside that box cannot pass the gate.
        max_r = r6.take(_DIAG_OF_SYM6, axis=0).max(axis=1, keepdims=True)
        half_width_m = np.sqrt(gate2 * (hph.take(_DIAG_OF_SYM6, axis=0) + max_r))
        rows, cols, v = _candidate_pairs(f[:3], half_width_m, z)
        s = hph.take(rows, axis=1) + r6.take(cols, axis=1)
        products = s.take(_ADJ_PR, axis=0) * s.take(_ADJ_QS, axis=0)
        adj = products[:6] - products[6:]
        det = s[0] * adj[0] + s[1] * adj[1] + s[2] * adj[2]
        # d^2 = v^T S^-1 v = v^T adj(S) v / det(S): gate on the numerator against
        # gate^2 * det, so no pair needs a division before it passes. A singular S
        # (an ideal sensor re-observed at the same instant) has det 0 and never passes.
        terms = adj * v.take(_VV_I, axis=0) * v.take(_VV_J, axis=0)
        terms *= _VV_WEIGHT_COLUMN
        quad = terms[0] + terms[1] + terms[2] + terms[3] + terms[4] + terms[5]
        gated = ((quad <= gate2 * det) & (det > 0.0)).nonzero()[0]
        det = det[gated]
        # The gate is on d^2, but pairs are scored by their negative log-likelihood,
        # d^2 + ln|S|: an uncertain (e.g. tentative) track must not outbid a precise one
        # for a plot merely because its wide S makes every plot look close.
        cost = quad[gated] / det + detmath.log(det)
        pick = _gnn_assign(rows[gated], cols[gated], cost, n_tracks, n_plots)
        chosen = gated[pick]
        return rows[chosen], cols[chosen], adj.take(chosen, axis=1) / det[pick]

    def _update(self, tracks: IntArray, z: FloatArray, s_inv: FloatArray) -> None:
        """Kalman update of ``tracks`` with position plots ``z`` (3, K), given the inverse
        innovation covariances ``s_inv`` (6 entries, K) from the association."""
        k = tracks.shape[0]
        if k == 0:
            return
        column = self._f.take(tracks, axis=1)
        pht = column.take(_PHT_ROWS, axis=0).reshape(6, 3, k)
        # Gain K = P H^T S^-1, then x += K v and P -= K H P, whose entry (a, b) is
        # sum_j K[a, j] P[b, j] (H P is the first three rows of P, and P is symmetric):
        # only the 21 stored entries are formed, so P stays exactly symmetric.
        # Each sum over j (length 3) is written out left to right: einsum's summation
        # order is not specified and may follow the CPU's vector width.
        s_full = s_inv.take(_FULL_OF_SYM6, axis=0).reshape(3, 3, k)
        gain = pht[:, 0, None] * s_full[0] + pht[:, 1, None] * s_full[1] + pht[:, 2, None] * s_full[2]
        innovation = z - column[:3]
        column[:_STATE_ROWS] += (
            gain[:, 0] * innovation[0] + gain[:, 1] * innovation[1] + gain[:, 2] * innovation[2]
        )
        left, right = gain.take(_IU[0], axis=0), pht.take(_IU[1], axis=0)
        column[_STATE_ROWS:] -= left[:, 0] * right[:, 0] + left[:, 1] * right[:, 1] + left[:, 2] * right[:, 2]
        self._f[:, tracks] = column

    def step(
        self,
        time_s: float,
        plots_position_m: npt.ArrayLike,
        plots_covariance_m2: npt.ArrayLike,
        plots_truth_index: npt.ArrayLike,
        plots_iff_reply: npt.ArrayLike,
    ) -> TrackSet:
        """Predict to ``time_s`` [s], associate and update with the plots, manage tracks.

        Plots are (M, 3) ENU positions [m], (M, 3, 3) covariances [m^2], (M,) truth
        indices and (M,) IFF replies. Returns every live track plus, once, each track
        dropped in this step, ordered by track_id.
        """
        params = self._params
        z_rows = np.asarray(plots_position_m, dtype=np.float64).reshape(-1, 3)
        n_plots = z_rows.shape[0]
        r_rows = np.asarray(plots_covariance_m2, dtype=np.float64).reshape(n_plots, 9)
        plot_truth = np.asarray(plots_truth_index, dtype=np.int64).reshape(-1)
        plot_iff = np.asarray(plots_iff_reply, dtype=np.bool_).reshape(-1)
        if plot_truth.shape[0] != n_plots or plot_iff.shape[0] != n_plots:
            raise ValueError(
                f"{n_plots} plot positions but {plot_truth.shape[0]} truth indices "
                f"and {plot_iff.shape[0]} IFF flags"
            )
        if not math.isfinite(time_s):
            raise ValueError(f"time_s must be finite, got {time_s!r}")
        if self._time_s is not None:
            dt_s = time_s - self._time_s
            if dt_s < 0.0:
                raise ValueError(f"time_s {time_s!r} is before the previous step at {self._time_s!r}")
            self._predict(dt_s)
        self._time_s = float(time_s)
        z = z_rows.T
        r6 = r_rows.T.take(_SYM6_OF_33, axis=0)

        tracks, plots, s_inv = self._associate(z, r6)
        self._update(tracks, z.take(plots, axis=1), s_inv)

        n = self._n
        n[_HITS, tracks] += 1
        n[_MISSES] += 1
        n[_MISSES, tracks] = 0
        n[_SINCE_REPLY] += 1
        n[_SINCE_REPLY, tracks[plot_iff[plots]]] = 0
        n[_TRUTH, tracks] = plot_truth[plots]
        # Hits only grow, so a track is confirmed for good once it has confirm_hits.
        # Tentative tracks get one miss of grace; confirmed ones coast drop_misses - 1 scans.
        confirmed = n[_HITS] >= params.confirm_hits
        dropped = n[_MISSES] >= np.where(confirmed, params.drop_misses, 2)

        free = np.ones(n_plots, dtype=np.bool_)
        free[plots] = False
        new_plots = free.nonzero()[0]
        if new_plots.shape[0]:
            self._start_tracks(
                z.take(new_plots, axis=1),
                r6.take(new_plots, axis=1),
                plot_truth[new_plots],
                plot_iff[new_plots],
            )
            dropped = np.concatenate([dropped, np.zeros(new_plots.shape[0], dtype=np.bool_)])

        result = self._track_set(dropped)
        if dropped.any():
            keep = ~dropped
            self._f = self._f.compress(keep, axis=1)
            self._n = self._n.compress(keep, axis=1)
        return result

    def _start_tracks(self, z: FloatArray, r6: FloatArray, truth: IntArray, iff_reply: BoolArray) -> None:
        """Append tentative tracks at plots ``z`` (3, K) with covariances ``r6`` (6, K):
        zero velocity, wide velocity prior."""
        n_new = z.shape[1]
        f = np.zeros((_N_ROWS, n_new))
        f[:3] = z
        f[_POS_ROWS] = r6
        sigma_mps = self._params.initial_speed_sigma_mps
        f[_VEL_VAR_ROWS] = sigma_mps * sigma_mps
        n = np.empty((5, n_new), dtype=np.int64)
        n[_ID] = np.arange(self._next_id, self._next_id + n_new)
        n[_HITS] = 1
        n[_MISSES] = 0
        n[_SINCE_REPLY] = np.where(iff_reply, 0, _NEVER)
        n[_TRUTH] = truth
        self._next_id += n_new
        self._f = np.concatenate([self._f, f], axis=1)
        self._n = np.concatenate([self._n, n], axis=1)

    def _track_set(self, dropped: BoolArray) -> TrackSet:
        """Snapshot of all tracks, marking ``dropped`` ones."""
        f, n, params = self._f, self._n, self._params
        confirmed = n[_HITS] >= params.confirm_hits
        status = _STATUS_OF[4 * dropped + 2 * confirmed + (n[_MISSES] == 0)]
        identity = _IDENTITY_OF[2 * (n[_SINCE_REPLY] < params.iff_memory_scans) + ~confirmed]
        classification = _classify_columns(f)
        # A single plot says nothing about velocity; calling its zero velocity a hovering
        # drone would be a guess, not a measurement.
        classification[n[_HITS] < 2] = _UNKNOWN_CLASS
        # Fresh arrays throughout: the snapshot must not alias state that later steps mutate.
        return TrackSet(
            track_id=n[_ID].copy(),
            state=f[:_STATE_ROWS].T.copy(),
            covariance=f.take(_COV_ROWS, axis=0).T.reshape(-1, 6, 6),
            status=status,
            identity=identity,
            classification=classification,
            truth_index=n[_TRUTH].copy(),
        )
