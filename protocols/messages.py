"""Plain typed messages that node code publishes and receives.

Protobuf classes stay inside :mod:`protocols.codec`; nodes see these frozen
dataclasses (batches carry numpy columns). Enum values equal the wire values.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SCHEMA_VERSION = 1
"""Major version of the wire schema (package ``bmc.v1``)."""


class TrackStatus(enum.IntEnum):
    """Lifecycle of a track."""

    TENTATIVE = 1
    CONFIRMED = 2
    COASTING = 3
    DROPPED = 4


class Identity(enum.IntEnum):
    """IFF-based identity of a track."""

    PENDING = 1
    UNKNOWN = 2
    FRIEND = 3
    HOSTILE = 4


class Classification(enum.IntEnum):
    """Kind of air object, from truth or from kinematic classification."""

    UNKNOWN = 1
    DRONE = 2
    CRUISE_MISSILE = 3
    FIGHTER = 4
    HELICOPTER = 5
    TRANSPORT = 6
    INTERCEPTOR = 7


class ObjectStatus(enum.IntEnum):
    """State of a truth object."""

    PENDING = 1
    ACTIVE = 2
    KILLED = 3
    LEAKED = 4
    LANDED = 5


class EngagementState(enum.IntEnum):
    """Progress of one fire order at a launcher."""

    ACCEPTED = 1
    REJECTED = 2
    LAUNCHED = 3
    KILL = 4
    MISS = 5
    ABORTED = 6


class LauncherState(enum.IntEnum):
    """Launcher lifecycle state."""

    SAFE = 1
    READY = 2
    ENGAGING = 3
    RELOADING = 4
    HOLD = 5
    FAULT = 6


class DetonationOutcome(enum.IntEnum):
    """What a detonation did."""

    KILL = 1
    MISS = 2
    ASSET_HIT = 3


class WeaponsControl(enum.IntEnum):
    """Weapons control status: FREE fires at any non-friend threat, TIGHT only
    at tracks identified hostile, HOLD not at all."""

    FREE = 1
    TIGHT = 2
    HOLD = 3


class TrackEngagement(enum.IntEnum):
    """What the FDC does about one system track (``AirPicture.engagement``)."""

    NONE = 1
    ENGAGED = 2
    """A fire order for it is open."""
    KILLED = 3
    """Reported killed; the track is expected to drop."""


class NodeStatus(enum.IntEnum):
    """Birth or death certificate."""

    BIRTH = 1
    DEATH = 2


Vec3 = tuple[float, float, float]
"""East, north, up in metres (or metres per second for velocities)."""


@dataclass(frozen=True, slots=True)
class Header:
    """Carried by every message on the wire."""

    sender: str
    sequence: int
    sim_time_s: float
    schema_version: int = SCHEMA_VERSION


@dataclass(frozen=True, slots=True, eq=False)
class TrackReport:
    """All tracks one radar holds after a scan, as columns of equal length N.

    ``state`` is (N, 6): east, north, up [m], v_east, v_north, v_up [m/s];
    ``covariance`` is (N, 6, 6).
    """

    scan_time_s: float
    track_id: IntArray
    state: FloatArray
    covariance: FloatArray
    status: IntArray
    identity: IntArray
    classification: IntArray
    truth_id: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.track_id.shape[0])


@dataclass(frozen=True, slots=True, eq=False)
class TruthReport:
    """Ground truth of every air object, as columns of equal length N.

    ``state`` is (N, 6) like :class:`TrackReport`.
    """

    object_id: tuple[str, ...]
    kind: IntArray
    friendly: npt.NDArray[np.bool_]
    iff: npt.NDArray[np.bool_]
    rcs_m2: FloatArray
    status: IntArray
    state: FloatArray

    def __len__(self) -> int:
        return len(self.object_id)

    @classmethod
    def empty(cls) -> TruthReport:
        """A report of no object."""
        return cls(
            object_id=(),
            kind=np.zeros(0, dtype=np.int64),
            friendly=np.zeros(0, dtype=bool),
            iff=np.zeros(0, dtype=bool),
            rcs_m2=np.zeros(0),
            status=np.zeros(0, dtype=np.int64),
            state=np.zeros((0, 6)),
        )


@dataclass(frozen=True, slots=True)
class FireOrder:
    """FDC to launcher: engage a target. ``auth_tag`` is set by the codec."""

    order_id: str
    launcher_id: str
    target_track_id: int
    target_position_m: Vec3
    target_velocity_mps: Vec3
    intercept_point_m: Vec3
    intercept_time_s: float
    rounds: int
    issued_time_s: float
    expiry_time_s: float
    auth_tag: bytes = b""


@dataclass(frozen=True, slots=True)
class EngagementStatus:
    """Launcher to FDC and world: acknowledgement and progress of one order."""

    order_id: str
    launcher_id: str
    state: EngagementState
    reason: str = ""
    round: int = 0
    launcher_position_m: Vec3 = (0.0, 0.0, 0.0)
    target_position_m: Vec3 = (0.0, 0.0, 0.0)
    target_velocity_mps: Vec3 = (0.0, 0.0, 0.0)
    target_time_s: float = 0.0
    interceptor_id: str = ""


@dataclass(frozen=True, slots=True)
class LauncherStatus:
    """A launcher's state, published on every change."""

    launcher_id: str
    state: LauncherState
    missiles_ready: int
    position_m: Vec3
    reason: str = ""
    boot_nonce: int = 0
    """Random per boot of a device (0: none); the FDC's heartbeat tags for this launcher cover it."""


@dataclass(frozen=True, slots=True)
class Flyout:
    """World: an interceptor is flying out."""

    interceptor_id: str
    order_id: str
    launcher_id: str
    target_object_id: str
    launch_time_s: float
    intercept_time_s: float
    intercept_point_m: Vec3


@dataclass(frozen=True, slots=True)
class Detonation:
    """World: an interceptor detonated, or a threat hit an asset."""

    interceptor_id: str
    order_id: str
    object_id: str
    asset_id: str
    outcome: DetonationOutcome
    position_m: Vec3


@dataclass(frozen=True, slots=True)
class FdcHeartbeat:
    """FDC liveness and weapons control status."""

    fdc_id: str
    weapons_control: WeaponsControl
    system_tracks: int = 0
    engagements_active: int = 0
    launchers_lost: tuple[str, ...] = ()
    time_s: float = 0.0
    """The FDC's simulated time when it sent this: the clock a device sets from it."""
    launcher_tags: tuple[tuple[str, bytes], ...] = ()
    """(launcher id, tag) per launcher: :func:`protocols.codec.heartbeat_tag`."""


@dataclass(frozen=True, slots=True)
class OperatorCommand:
    """Operator to FDC. ``set_weapons_control`` None leaves it unchanged."""

    set_weapons_control: WeaponsControl | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class NodeState:
    """Retained birth/death certificate of a node."""

    node_id: str
    kind: str
    status: NodeStatus
    birth_sequence: int
    speed: float = 0.0
    """Simulated seconds per wall second the node's process is paced at; 0 when it follows
    the cell's speed (learnt from the world's birth) or is not paced."""


@dataclass(frozen=True, slots=True, eq=False)
class AirPicture:
    """The FDC's fused air picture: every live system track predicted to ``time_s``, as
    columns of equal length N (``state`` (N, 6) like :class:`TrackReport`)."""

    time_s: float
    track_id: IntArray
    state: FloatArray
    position_variance_m2: FloatArray
    """Trace of the position covariance of the track's source [m^2]."""
    identity: IntArray
    classification: IntArray
    threat_rank: IntArray
    """1 for the most threatening track, 2 the next...; 0 for a track threatening no asset."""
    asset_id: tuple[str, ...]
    """The asset each track threatens most ('' for none)."""
    engagement: IntArray
    """:class:`TrackEngagement` of each track."""
    truth_id: tuple[str, ...]
    """Scoring annotation from simulated radars ('' when unknown)."""

    def __len__(self) -> int:
        return int(self.track_id.shape[0])


Body = (
    TrackReport
    | TruthReport
    | FireOrder
    | EngagementStatus
    | LauncherStatus
    | Flyout
    | Detonation
    | FdcHeartbeat
    | OperatorCommand
    | NodeState
    | AirPicture
)
"""Any message body."""


@dataclass(frozen=True, slots=True)
class Message:
    """A decoded message: header plus body."""

    header: Header
    body: Body = field()
