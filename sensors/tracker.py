"""Pure, vectorised multi-target Kalman tracker for one radar.

Constant-velocity model with state (east, north, up [m], v_east, v_north, v_up [m/s])
fed with converted-measurement position plots (each with its own 3x3 covariance).
Association is global nearest neighbour: gated on the Mahalanobis distance, scored by
the Gaussian negative log-likelihood.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

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

# Pieces of kron(F, F) for the transition F = I + dt * _NILPOTENT (position += dt * velocity).
_NILPOTENT = np.kron(np.array([[0.0, 1.0], [0.0, 0.0]]), np.eye(3))
_KRON_EYE = np.eye(36)
_KRON_LINEAR = np.kron(_NILPOTENT, np.eye(6)) + np.kron(np.eye(6), _NILPOTENT)
_KRON_QUADRATIC = np.kron(_NILPOTENT, _NILPOTENT)


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


def _classify_columns(x: FloatArray) -> IntArray:
    """:func:`classify` of component-major states (6, N)."""
    speed_mps = np.sqrt(x[3] ** 2 + x[4] ** 2 + x[5] ** 2)
    up_m = x[2]
    fast = np.where((speed_mps < 350.0) & (up_m < 300.0), _CRUISE_MISSILE, _FIGHTER)
    medium = np.where(up_m < 1000.0, _HELICOPTER, _TRANSPORT)
    slow = np.where(up_m < 1500.0, _DRONE, _UNKNOWN_CLASS)
    return np.where(speed_mps >= 150.0, fast, np.where(speed_mps >= 90.0, medium, slow)).astype(np.int64)


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
    chosen = [np.flatnonzero(simple)]
    hard_pairs = np.flatnonzero(~simple)
    h_rows, h_cols, h_cost = rows[hard_pairs], cols[hard_pairs], cost[hard_pairs]
    # Unique ids and local indices by counting (cheaper than np.unique's sort at these sizes).
    row_ids = np.flatnonzero(np.bincount(h_rows, minlength=n_rows))
    col_ids = np.flatnonzero(np.bincount(h_cols, minlength=n_cols))
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
    track_m: FloatArray, radius_m: FloatArray, plot_m: FloatArray
) -> tuple[IntArray, IntArray]:
    """(track, plot) pairs closer than the track's radius; positions are (3, N) and (3, M).

    Sort-and-sweep along the horizontal axis where the plots spread most, then an
    exact Euclidean check: fully vectorised, unlike a k-d tree's per-point lists.
    """
    n_tracks = track_m.shape[1]
    horizontal = plot_m[:2]
    spread = horizontal.max(axis=1) - horizontal.min(axis=1)
    axis = 0 if spread[0] >= spread[1] else 1
    order = np.argsort(plot_m[axis], kind="stable")
    key = plot_m[axis, order]
    lo = np.searchsorted(key, track_m[axis] - radius_m, side="left")
    hi = np.searchsorted(key, track_m[axis] + radius_m, side="right")
    counts = hi - lo
    total = int(counts.sum())
    rows = np.repeat(np.arange(n_tracks, dtype=np.int64), counts)
    # Position inside the sorted plots: window start of the row plus rank within the row.
    first = np.cumsum(counts) - counts
    cols = order[np.arange(total) + np.repeat(lo - first, counts)].astype(np.int64)
    d2 = (
        (plot_m[0, cols] - track_m[0, rows]) ** 2
        + (plot_m[1, cols] - track_m[1, rows]) ** 2
        + (plot_m[2, cols] - track_m[2, rows]) ** 2
    )
    near = d2 <= radius_m[rows] ** 2
    return rows[near], cols[near]


# A symmetric 3x3 matrix per column as its 6 distinct entries (xx, xy, xz, yy, yz, zz):
# row k of a (6, K) array is one entry for all K matrices, so taking a subset of
# matrices is one contiguous 2-D take instead of a strided 3-D one.
_SYM6_OF_33 = np.array([0, 1, 2, 4, 5, 8])
"""Positions of the 6 entries in a flattened 3x3 matrix."""
_SYM6_OF_66 = np.array([0, 1, 2, 7, 8, 14])
"""Positions of the position block's 6 entries in a flattened 6x6 matrix."""
_FULL_OF_SYM6 = np.array([0, 1, 2, 1, 3, 4, 2, 4, 5])
"""Entry of the 6 for each cell of the flattened 3x3 matrix."""
# Adjugate of [[a, b, c], [b, d, e], [c, e, f]] in the same 6-entry order: adj = p * q - r * s.
_ADJ_P, _ADJ_Q = np.array([3, 2, 1, 0, 1, 0]), np.array([5, 4, 4, 5, 2, 3])
_ADJ_R, _ADJ_S = np.array([4, 1, 2, 2, 0, 1]), np.array([4, 5, 3, 2, 4, 1])
# Innovation products v_i v_j in the order (00, 11, 22, 01, 02, 12), and the inverse's entries to match.
_VV_I, _VV_J = np.array([0, 1, 2, 0, 0, 1]), np.array([0, 1, 2, 1, 2, 2])
_INV_FOR_VV = np.array([0, 3, 5, 1, 2, 4])


def _sym3_inverse(s: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Inverses and determinants (K,) of symmetric 3x3 matrices given as 6 entries (6, K)."""
    adj = s[_ADJ_P] * s[_ADJ_Q] - s[_ADJ_R] * s[_ADJ_S]
    det = s[0] * adj[0] + s[1] * adj[1] + s[2] * adj[2]
    # Singular input (an ideal sensor re-observed at the same instant) has det 0: its
    # inverse is left at 0 and callers reject it through det > 0 (a masked divide is
    # cheaper than np.errstate, whose context costs more than the division).
    inverse = np.zeros_like(adj)
    np.divide(adj, det, out=inverse, where=det != 0.0)
    return inverse, det


class Tracker:
    """Holds the tracks of one radar. step() is the only mutator."""

    # Internal arrays are component-major (state (6, N), covariance (6, 6, N)): every
    # matrix entry is then a contiguous length-N vector, so the tiny 3x3/6x6 algebra
    # runs as a few whole-array operations (numpy's per-call overhead, not arithmetic,
    # dominates at N ~ 300).

    def __init__(self, params: TrackerParams) -> None:
        """Start with no tracks; the first step() sets the clock."""
        self._params = params
        self._time_s: float | None = None
        self._next_id = 1
        self._id: IntArray = np.zeros(0, dtype=np.int64)
        self._x: FloatArray = np.zeros((6, 0))
        self._p: FloatArray = np.zeros((6, 6, 0))
        self._hits: IntArray = np.zeros(0, dtype=np.int64)
        self._misses: IntArray = np.zeros(0, dtype=np.int64)
        self._confirmed: BoolArray = np.zeros(0, dtype=np.bool_)
        self._since_reply: IntArray = np.zeros(0, dtype=np.int64)
        """Scans since the last IFF reply on each track (_NEVER when none)."""
        self._truth: IntArray = np.zeros(0, dtype=np.int64)
        self._motion: tuple[float, FloatArray, FloatArray] | None = None
        """(dt, kron(F, F), Q) of the last prediction."""

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
        return int(self._id.shape[0])

    def _predict(self, dt_s: float) -> None:
        """Propagate all tracks by ``dt_s`` [s] with the constant-velocity model."""
        if dt_s == 0.0 or self._id.shape[0] == 0:
            return
        self._x[:3] += dt_s * self._x[3:]
        if self._motion is None or self._motion[0] != dt_s:
            # F P F^T for every track as one (36 x 36) @ (36 x N) product on the flattened
            # covariances, with kron(F, F) = I + dt (N x I + I x N) + dt^2 (N x N); a radar
            # steps by the same dt every scan, so both matrices are kept for the next one.
            transition = _KRON_EYE + dt_s * _KRON_LINEAR + dt_s**2 * _KRON_QUADRATIC
            q = self._params.process_noise_mps2**2
            q_matrix = q * (dt_s**3 / 3.0 * _Q_POS_POS + dt_s**2 / 2.0 * _Q_POS_VEL + dt_s * _Q_VEL_VEL)
            self._motion = (dt_s, transition, q_matrix[:, :, None])
        _, transition, q_matrix = self._motion
        n_tracks = self._id.shape[0]
        self._p = (transition @ self._p.reshape(36, n_tracks)).reshape(6, 6, n_tracks) + q_matrix

    def _associate(self, z: FloatArray, r6: FloatArray) -> tuple[IntArray, IntArray, FloatArray]:
        """Matched (track, plot) index pairs by gated global nearest neighbour, with the
        inverse innovation covariance (3, 3, K) of each pair for the update.

        ``z`` is (3, M) positions, ``r6`` (6, M) their covariances as 6 entries.
        """
        n_tracks, n_plots = self._id.shape[0], z.shape[1]
        empty = np.zeros(0, dtype=np.int64)
        if n_tracks == 0 or n_plots == 0:
            return empty, empty, np.zeros((3, 3, 0))
        hph = self._p.reshape(36, n_tracks)[_SYM6_OF_66]
        gate2 = self._params.gate_sigma**2
        # Pre-gate: lambda_max(S) <= trace(S) <= trace(HPH^T) + max trace(R), and
        # d^2 >= |v|^2 / lambda_max(S), so a plot outside this ball cannot pass the gate.
        max_trace_r = float((r6[0] + r6[3] + r6[5]).max())
        radius_m = np.sqrt(gate2 * (hph[0] + hph[3] + hph[5] + max_trace_r))
        rows, cols = _candidate_pairs(self._x[:3], radius_m, z)
        if rows.shape[0] == 0:
            return empty, empty, np.zeros((3, 3, 0))
        v = z[:, cols] - self._x[:3, rows]
        s_inv, s_det = _sym3_inverse(hph[:, rows] + r6[:, cols])
        terms = s_inv[_INV_FOR_VV] * v[_VV_I] * v[_VV_J]
        d2 = terms[0] + terms[1] + terms[2] + 2.0 * (terms[3] + terms[4] + terms[5])
        gated = np.flatnonzero((d2 <= gate2) & (s_det > 0.0))
        # The gate is on d^2, but pairs are scored by their negative log-likelihood,
        # d^2 + ln|S|: an uncertain (e.g. tentative) track must not outbid a precise one
        # for a plot merely because its wide S makes every plot look close.
        cost = d2[gated] + np.log(s_det[gated])
        chosen = gated[_gnn_assign(rows[gated], cols[gated], cost, n_tracks, n_plots)]
        return rows[chosen], cols[chosen], s_inv[:, chosen][_FULL_OF_SYM6].reshape(3, 3, -1)

    def _update(self, tracks: IntArray, z: FloatArray, s_inv: FloatArray) -> None:
        """Kalman update of ``tracks`` with position plots ``z`` (3, K), given the inverse
        innovation covariances ``s_inv`` (3, 3, K) from the association."""
        if tracks.shape[0] == 0:
            return
        x = self._x[:, tracks]
        p = self._p[:, :, tracks]
        # Gain K = P H^T S^-1; P H^T is the first three columns of P. Batched matmul on
        # transposed views beats broadcasting here.
        gain = (p[:, :3].transpose(2, 0, 1) @ s_inv.transpose(2, 0, 1)).transpose(1, 2, 0)
        v = z - x[:3]
        x += gain[:, 0] * v[0] + gain[:, 1] * v[1] + gain[:, 2] * v[2]
        # P - K H P (H P is the first three rows of P), symmetrised against rounding drift.
        p = p - (gain.transpose(2, 0, 1) @ p[:3].transpose(2, 0, 1)).transpose(1, 2, 0)
        self._x[:, tracks] = x
        self._p[:, :, tracks] = 0.5 * (p + p.transpose(1, 0, 2))

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
        r_rows = np.asarray(plots_covariance_m2, dtype=np.float64).reshape(n_plots, 3, 3)
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
        z = np.ascontiguousarray(z_rows.T)
        r6 = np.ascontiguousarray(r_rows.reshape(n_plots, 9)[:, _SYM6_OF_33].T)

        matched_tracks, matched_plots, matched_s_inv = self._associate(z, r6)
        self._update(matched_tracks, z[:, matched_plots], matched_s_inv)

        n_tracks = self._id.shape[0]
        matched = np.zeros(n_tracks, dtype=np.bool_)
        matched[matched_tracks] = True
        self._hits[matched_tracks] += 1
        self._misses[matched] = 0
        self._misses[~matched] += 1
        self._confirmed |= self._hits >= params.confirm_hits
        self._since_reply += 1
        self._since_reply[matched_tracks[plot_iff[matched_plots]]] = 0
        self._truth[matched_tracks] = plot_truth[matched_plots]
        # Tentative tracks get one miss of grace; confirmed ones coast drop_misses - 1 scans.
        dropped = np.where(self._confirmed, self._misses >= params.drop_misses, self._misses >= 2)

        free = np.ones(n_plots, dtype=np.bool_)
        free[matched_plots] = False
        new_plots = np.flatnonzero(free)
        n_new = new_plots.shape[0]
        if n_new:
            self._start_tracks(z[:, new_plots], r6[:, new_plots], plot_truth[new_plots], plot_iff[new_plots])
            dropped = np.concatenate([dropped, np.zeros(n_new, dtype=np.bool_)])

        result = self._track_set(dropped)
        if np.any(dropped):
            keep = ~dropped
            self._id = self._id[keep]
            self._x = self._x[:, keep]
            self._p = self._p[:, :, keep]
            self._hits = self._hits[keep]
            self._misses = self._misses[keep]
            self._confirmed = self._confirmed[keep]
            self._since_reply = self._since_reply[keep]
            self._truth = self._truth[keep]
        return result

    def _start_tracks(self, z: FloatArray, r6: FloatArray, truth: IntArray, iff_reply: BoolArray) -> None:
        """Append tentative tracks at plots ``z`` (3, K) with covariances ``r6`` (6, K):
        zero velocity, wide velocity prior."""
        n_new = z.shape[1]
        p = np.zeros((6, 6, n_new))
        p[:3, :3] = r6[_FULL_OF_SYM6].reshape(3, 3, n_new)
        speed_var = self._params.initial_speed_sigma_mps**2
        p[3, 3] = p[4, 4] = p[5, 5] = speed_var
        hits = np.ones(n_new, dtype=np.int64)
        self._id = np.concatenate([self._id, np.arange(self._next_id, self._next_id + n_new, dtype=np.int64)])
        self._next_id += n_new
        self._x = np.concatenate([self._x, np.concatenate([z, np.zeros((3, n_new))])], axis=1)
        self._p = np.concatenate([self._p, p], axis=2)
        self._hits = np.concatenate([self._hits, hits])
        self._misses = np.concatenate([self._misses, np.zeros(n_new, dtype=np.int64)])
        self._confirmed = np.concatenate([self._confirmed, hits >= self._params.confirm_hits])
        self._since_reply = np.concatenate([self._since_reply, np.where(iff_reply, 0, _NEVER)])
        self._truth = np.concatenate([self._truth, truth])

    def _track_set(self, dropped: BoolArray) -> TrackSet:
        """Snapshot of all tracks, marking ``dropped`` ones."""
        status = np.where(
            dropped,
            _DROPPED,
            np.where(self._confirmed, np.where(self._misses == 0, _CONFIRMED, _COASTING), _TENTATIVE),
        ).astype(np.int64)
        identity = np.where(
            self._since_reply < self._params.iff_memory_scans,
            _FRIEND,
            np.where(self._hits < self._params.confirm_hits, _PENDING, _UNKNOWN_ID),
        ).astype(np.int64)
        # Explicit copies: the snapshot must not alias state that later steps mutate in place.
        state = self._x.T.copy()
        classification = _classify_columns(self._x)
        # A single plot says nothing about velocity; calling its zero velocity a hovering
        # drone would be a guess, not a measurement.
        classification[self._hits < 2] = _UNKNOWN_CLASS
        return TrackSet(
            track_id=self._id.copy(),
            state=state,
            covariance=self._p.transpose(2, 0, 1).copy(),
            status=status,
            identity=identity,
            classification=classification,
            truth_index=self._truth.copy(),
        )
