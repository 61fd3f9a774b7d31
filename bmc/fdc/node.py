"""The FDC node: glue between the bus and the pure fusion, threat, assignment and doctrine code."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import simpy

from bmc.engine.node import Node
from bmc.fdc.assign import FireUnits, assign, pair
from bmc.fdc.doctrine import engageable, identify, salvo_kill_probability
from bmc.fdc.fusion import SystemTracks
from bmc.fdc.threat import assess
from protocols import codec
from protocols import messages as m
from protocols.bus import Bus
from protocols.topics import Topics

log = logging.getLogger(__name__)

ASSESSMENT_MARGIN_S = 20.0
"""An engagement whose detonation has not been heard this long after the
predicted intercept is closed as a miss, so a lost report cannot pin a target."""

KILL_GRACE_S = 4.0
"""Fresh detections on a killed track later than this after the kill revive it."""

WCS = {"free": m.WeaponsControl.FREE, "tight": m.WeaponsControl.TIGHT, "hold": m.WeaponsControl.HOLD}


@dataclass(frozen=True, slots=True)
class FdcParams:
    """What the FDC needs of its configuration; names and units as in the scenario's ``fdc``."""

    fdc_id: str
    salvo_rounds: int
    """Missiles per engagement: 1 for shoot-look-shoot, N for salvo-N."""
    weapons_control: m.WeaponsControl
    heartbeat_period_s: float
    assignment_period_s: float
    order_expiry_s: float
    order_retry_s: float
    identification_time_s: float
    friend_memory_s: float
    track_timeout_s: float
    threat_margin_m: float
    fusion_gate_m: float
    publish_picture: bool = True
    """Publish the fused air picture (``AirPicture``) every assignment period."""

    def __post_init__(self) -> None:
        if not 1 <= self.salvo_rounds <= 8:
            raise ValueError(f"salvo_rounds must be 1..8 (got {self.salvo_rounds})")
        for name in ("heartbeat_period_s", "assignment_period_s", "order_expiry_s", "order_retry_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 (got {getattr(self, name)})")


@dataclass(frozen=True, slots=True)
class Assets:
    """Defended assets as columns."""

    ids: tuple[str, ...]
    centre_m: npt.NDArray[np.float64]
    radius_m: npt.NDArray[np.float64]
    value: npt.NDArray[np.float64]


@dataclass(slots=True)
class Engagement:
    """One fire order followed to its outcome."""

    order: m.FireOrder
    last_sent_s: float
    acked: bool = False
    launched: int = 0
    resolved: int = 0
    launching_over: bool = False
    killed: bool = False
    done: bool = False
    interceptors: list[str] = field(default_factory=list)
    detonated: list[str] = field(default_factory=list)


class FdcNode(Node):
    """Fuses radar tracks, evaluates threats, assigns launchers, follows orders to their outcome."""

    kind = "fdc"

    def __init__(
        self,
        env: simpy.Environment,
        bus: Bus,
        topics: Topics,
        rng: np.random.Generator,
        params: FdcParams,
        assets: Assets,
        launcher_ids: list[str],
        units: FireUnits,
        keys: dict[str, bytes],
        status_periods: dict[str, float] | None = None,
    ) -> None:
        super().__init__(params.fdc_id, env, bus, topics, rng)
        self.params = params
        self.assets = assets
        self.launcher_ids = launcher_ids
        self.units_index = {lid: i for i, lid in enumerate(launcher_ids)}
        self.units = units
        self.keys = keys
        self.boot_nonces: dict[str, int] = {}
        """Boot nonce of each launcher, from its last status: its heartbeat tag covers it."""
        self.rounds = params.salvo_rounds
        self._salvo_pk = salvo_kill_probability(units.pk, self.rounds)
        self.wcs = params.weapons_control
        self.tracks = SystemTracks(
            params.fusion_gate_m, params.track_timeout_s, friend_memory_s=params.friend_memory_s
        )
        self.launcher_status: dict[str, m.LauncherStatus] = {}
        self.busy: dict[str, str] = {}
        """Launcher -> order sent to it whose effect on its status is not yet seen."""
        self.engagements: dict[str, Engagement] = {}
        self._open: dict[str, Engagement] = {}
        """The engagements not done, in the order of ``engagements`` (most are done: skip those)."""
        self.engaged: dict[int, str] = {}
        """System track id -> order id of its open engagement."""
        self.killed: dict[int, float] = {}
        """System track id -> when the FDC heard it killed (forgotten when the track is dropped)."""
        self.status_time: dict[str, float] = {}
        self.status_period: dict[str, float] = dict(status_periods or {})
        self._silence_limit_s = {lid: 2.5 * p for lid, p in self.status_period.items() if p}
        """Launcher -> how long without a status before it is held lost."""
        self.births: dict[str, int] = {}
        """Launcher -> birth sequence of its current life."""
        self.lost: dict[str, str] = {}
        """Launcher -> why the FDC holds it lost (dead or silent)."""
        self.orders_issued = 0
        self.orders_resent = 0

    # ------------------------------------------------------------ inputs

    def _on_tracks(self, msg: m.Message) -> None:
        assert isinstance(msg.body, m.TrackReport)
        self.tracks.update(msg.header.sender, msg.body, self.now)

    def _on_status(self, msg: m.Message) -> None:
        s = msg.body
        assert isinstance(s, m.LauncherStatus)
        if s.launcher_id not in self.units_index or s.launcher_id != msg.header.sender:
            return
        self.launcher_status[s.launcher_id] = s
        self.boot_nonces[s.launcher_id] = s.boot_nonce
        self.status_time[s.launcher_id] = self.now
        if self.lost.pop(s.launcher_id, None) is not None:
            log.info("%s: launcher %s is back", self.id, s.launcher_id)
        if s.state != m.LauncherState.READY:
            self.busy.pop(s.launcher_id, None)

    def _on_engagement(self, msg: m.Message) -> None:
        e = msg.body
        assert isinstance(e, m.EngagementStatus)
        eng = self.engagements.get(e.order_id)
        if eng is None or eng.done:
            return
        st = e.state
        if st == m.EngagementState.ACCEPTED:
            eng.acked = True
        elif st == m.EngagementState.REJECTED:
            eng.acked = True
            self.busy.pop(eng.order.launcher_id, None)
            self._close(eng)
        elif st == m.EngagementState.LAUNCHED:
            eng.acked = True
            if e.interceptor_id not in eng.interceptors:
                eng.interceptors.append(e.interceptor_id)
                eng.launched += 1
            if eng.launched >= eng.order.rounds:
                eng.launching_over = True
        elif st == m.EngagementState.ABORTED:
            eng.launching_over = True
            self._settle(eng)

    def _on_detonation(self, msg: m.Message) -> None:
        d = msg.body
        assert isinstance(d, m.Detonation)
        eng = self.engagements.get(d.order_id)
        if eng is None or eng.done or d.interceptor_id not in eng.interceptors:
            return
        if d.interceptor_id in eng.detonated:
            return  # a redelivered report of the same missile
        eng.detonated.append(d.interceptor_id)
        eng.resolved += 1
        if d.outcome == m.DetonationOutcome.KILL:
            eng.killed = True
            self.killed[eng.order.target_track_id] = self.now
        self._settle(eng)

    def _on_node_state(self, msg: m.Message) -> None:
        st = msg.body
        assert isinstance(st, m.NodeState)
        lid = st.node_id
        if lid not in self.units_index:
            return
        if st.status == m.NodeStatus.BIRTH:
            self.births[lid] = st.birth_sequence
        elif st.birth_sequence >= self.births.get(lid, 0):
            # A death certificate of an earlier life (a late will) is older than the last birth.
            self._lose(lid, f"death certificate (life {st.birth_sequence})")

    def _lose(self, launcher_id: str, why: str) -> None:
        if launcher_id in self.lost:
            return
        self.lost[launcher_id] = why
        self.launcher_status.pop(launcher_id, None)
        self.busy.pop(launcher_id, None)
        log.warning("%s: launcher %s lost at %.3f s: %s", self.id, launcher_id, self.now, why)
        # Its open engagements will not be flown: free their targets for re-assignment.
        for eng in list(self._open.values()):
            if eng.order.launcher_id == launcher_id and eng.launched == 0:
                self._close(eng)
        self._heartbeat()

    def _check_silence(self) -> None:
        now = self.now
        limits = self._silence_limit_s
        for lid, seen in self.status_time.items():
            limit = limits.get(lid)
            if limit is not None and now - seen > limit and lid not in self.lost:
                self._lose(lid, f"silent for {now - seen:.1f} s")

    def _on_command(self, msg: m.Message) -> None:
        c = msg.body
        assert isinstance(c, m.OperatorCommand)
        if c.set_weapons_control is not None:
            self.wcs = c.set_weapons_control
            self._heartbeat()

    # ------------------------------------------------------------ engagements

    def _settle(self, eng: Engagement) -> None:
        if eng.killed or (eng.launching_over and eng.resolved >= eng.launched):
            self._close(eng)

    def _close(self, eng: Engagement) -> None:
        eng.done = True
        self._open.pop(eng.order.order_id, None)
        if self.engaged.get(eng.order.target_track_id) == eng.order.order_id:
            del self.engaged[eng.order.target_track_id]

    def _housekeeping(self) -> None:
        now = self.now
        for eng in list(self._open.values()):
            o = eng.order
            if not eng.acked:
                if now > o.expiry_time_s:
                    self.busy.pop(o.launcher_id, None)
                    self._close(eng)
                elif now - eng.last_sent_s >= self.params.order_retry_s:
                    eng.last_sent_s = now
                    self.orders_resent += 1
                    self.publish("order", o, kind="launcher", node_id=o.launcher_id)
            elif now > o.intercept_time_s + ASSESSMENT_MARGIN_S and (eng.launching_over or eng.launched == 0):
                self._close(eng)
        if self.busy:
            for lid, oid in list(self.busy.items()):
                if now > self.engagements[oid].order.expiry_time_s:
                    del self.busy[lid]

    def _revive(self) -> None:
        """Forget a kill when its system track keeps being fed by fresh (non-coasting) radar tracks.

        A killed target stops being detected, so its radar tracks coast and drop. A
        system track still confirmed by fresh detections well after the kill is
        following another, live object (two close targets joined in fusion): it
        must be engageable again.
        """
        tracks = self.tracks
        revived = sorted(
            (slot, tid)
            for tid, killed_at in self.killed.items()
            if (slot := tracks.slot_of(tid)) is not None and tracks.fresh[slot] > killed_at + KILL_GRACE_S
        )
        for _slot, tid in revived:  # in picture order, which is the order of slots
            del self.killed[tid]
            log.info(
                "%s: track %d still fed by fresh detections after its kill: engageable again",
                self.id,
                tid,
            )

    def _available(self) -> npt.NDArray[np.int64]:
        """Indices of the launchers that can take an order now."""
        status, lost, busy, rounds = self.launcher_status, self.lost, self.busy, self.rounds
        ready = m.LauncherState.READY
        return np.array(
            [
                i
                for i, lid in enumerate(self.launcher_ids)
                if (s := status.get(lid)) is not None
                and lid not in lost
                and s.state == ready
                and s.missiles_ready >= rounds
                and lid not in busy
            ],
            dtype=np.int64,
        )

    def _cycle(self) -> None:
        """One assignment period: decide, then tell the picture as it now stands."""
        self._assign()
        if self.params.publish_picture:
            self.publish("picture", self._picture())

    def _assign(self) -> None:
        now = self.now
        for track_id in self.tracks.prune(now):
            self.killed.pop(track_id, None)  # track ids are never reused
        self._housekeeping()
        self._check_silence()
        if self.wcs == m.WeaponsControl.HOLD or not self.launcher_ids:
            return
        if self.killed:
            self._revive()
        # Most cycles no launcher can take an order: learn that before the picture.
        cols = self._available()
        if not cols.size:
            return
        pic = self.tracks.picture(now)
        if not len(pic):
            return
        row_of = dict(zip(pic.track_id.tolist(), range(len(pic)), strict=True))
        ident = identify(
            pic.friend, pic.classification, now - pic.first_seen_s, self.params.identification_time_s
        )
        free = engageable(ident, self.wcs)
        for track_id in itertools.chain(self.engaged, self.killed):
            row = row_of.get(track_id)
            if row is not None:
                free[row] = False
        cand = free.nonzero()[0]  # np.flatnonzero costs 6x more on small arrays
        if not cand.size:
            return
        pos, vel = pic.state[cand, :3], pic.state[cand, 3:]
        threat = assess(
            pos,
            vel,
            self.assets.centre_m,
            self.assets.radius_m,
            self.assets.value,
            margin_m=self.params.threat_margin_m,
        )
        sel = threat.threatening.nonzero()[0]
        if not sel.size:
            return
        # Pair against the available launchers only (usually a few of them): the
        # others could not be feasible, so the assignment problem is the same.
        pairing = pair(
            pos[sel], vel[sel], threat.time_to_asset_s[sel], self.units.take(cols), np.ones(cols.size, bool)
        )
        value = threat.priority[sel, None] * self._salvo_pk[None, cols]
        for row, c in assign(value, pairing.feasible):
            k = int(cand[sel[row]])
            self._fire(
                int(pic.track_id[k]),
                pic.state[k],
                self.launcher_ids[int(cols[c])],
                pairing.intercept_point_m[row, c],
                float(pairing.time_to_intercept_s[row, c]),
            )

    def _fire(
        self,
        track_id: int,
        state: npt.NDArray[np.float64],
        launcher_id: str,
        pip: npt.NDArray[np.float64],
        tti_s: float,
    ) -> None:
        now = self.now
        self.orders_issued += 1
        order = m.FireOrder(
            order_id=f"{self.id}-{self.orders_issued:05d}",
            launcher_id=launcher_id,
            target_track_id=track_id,
            target_position_m=(float(state[0]), float(state[1]), float(state[2])),
            target_velocity_mps=(float(state[3]), float(state[4]), float(state[5])),
            intercept_point_m=(float(pip[0]), float(pip[1]), float(pip[2])),
            intercept_time_s=now + tti_s,
            rounds=self.rounds,
            issued_time_s=now,
            expiry_time_s=now + self.params.order_expiry_s,
        )
        order = codec.sign_order(order, self.keys[launcher_id])
        self.engagements[order.order_id] = self._open[order.order_id] = Engagement(order, now)
        self.engaged[track_id] = order.order_id
        self.busy[launcher_id] = order.order_id
        self.publish("order", order, kind="launcher", node_id=launcher_id)

    # ------------------------------------------------------------ outputs

    def _picture(self) -> m.AirPicture:
        """The live system tracks as this FDC judges them now: identity, threat rank, the
        asset threatened and what it does about each (the same rules as ``_assign``)."""
        now = self.now
        pic = self.tracks.picture(now)
        n = len(pic)
        ident = identify(
            pic.friend, pic.classification, now - pic.first_seen_s, self.params.identification_time_s
        )
        threat = assess(
            pic.state[:, :3],
            pic.state[:, 3:],
            self.assets.centre_m,
            self.assets.radius_m,
            self.assets.value,
            margin_m=self.params.threat_margin_m,
        )
        rank = np.zeros(n, dtype=np.int64)
        threatening = threat.threatening.nonzero()[0]
        # Most threatening first; ties in picture order.
        order = threatening[np.argsort(-threat.priority[threatening], kind="stable")]
        rank[order] = np.arange(1, order.size + 1)
        engagement = np.full(n, m.TrackEngagement.NONE, dtype=np.int64)
        ids = pic.track_id.tolist()
        for row, track_id in enumerate(ids):
            if track_id in self.killed:
                engagement[row] = m.TrackEngagement.KILLED
            elif track_id in self.engaged:
                engagement[row] = m.TrackEngagement.ENGAGED
        asset_ids = self.assets.ids
        return m.AirPicture(
            time_s=float(now),
            track_id=pic.track_id,
            state=pic.state,
            position_variance_m2=pic.position_variance_m2,
            identity=ident,
            classification=pic.classification,
            threat_rank=rank,
            asset_id=tuple(asset_ids[i] if i >= 0 else "" for i in threat.asset_index.tolist()),
            engagement=engagement,
            truth_id=pic.truth_id,
        )

    def _heartbeat(self) -> None:
        heartbeat = m.FdcHeartbeat(
            self.id,
            self.wcs,
            int(np.count_nonzero(self.tracks.alive)),
            len(self._open),
            tuple(sorted(self.lost)),
            float(self.now),
        )
        # One tag per launcher, with the key only it and this FDC hold: a bridge relaying
        # heartbeats to a device cannot forge them, a recorded one is stale (time_s), and one
        # recorded before a device booted lacks its new nonce.
        self.publish("heartbeat", codec.sign_heartbeat(heartbeat, self.keys, self.boot_nonces))

    def setup(self) -> None:
        t = self.topics
        self.on(t.any("radar", "tracks"), self._on_tracks)
        self.on(t.any("launcher", "status"), self._on_status)
        self.on(t.any("launcher", "engagement"), self._on_engagement)
        self.on(t.topic("world", "world", "detonation"), self._on_detonation)
        self.on(t.topic("fdc", self.id, "command"), self._on_command)
        self.on(t.any("launcher", "state"), self._on_node_state)
        self.every(self.params.heartbeat_period_s, self._heartbeat)
        self.every(self.params.assignment_period_s, self._cycle, first_s=self.params.assignment_period_s / 2)
