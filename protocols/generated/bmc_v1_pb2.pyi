from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TrackStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRACK_STATUS_UNSPECIFIED: _ClassVar[TrackStatus]
    TRACK_STATUS_TENTATIVE: _ClassVar[TrackStatus]
    TRACK_STATUS_CONFIRMED: _ClassVar[TrackStatus]
    TRACK_STATUS_COASTING: _ClassVar[TrackStatus]
    TRACK_STATUS_DROPPED: _ClassVar[TrackStatus]

class Identity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IDENTITY_UNSPECIFIED: _ClassVar[Identity]
    IDENTITY_PENDING: _ClassVar[Identity]
    IDENTITY_UNKNOWN: _ClassVar[Identity]
    IDENTITY_FRIEND: _ClassVar[Identity]
    IDENTITY_HOSTILE: _ClassVar[Identity]

class Classification(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLASSIFICATION_UNSPECIFIED: _ClassVar[Classification]
    CLASSIFICATION_UNKNOWN: _ClassVar[Classification]
    CLASSIFICATION_DRONE: _ClassVar[Classification]
    CLASSIFICATION_CRUISE_MISSILE: _ClassVar[Classification]
    CLASSIFICATION_FIGHTER: _ClassVar[Classification]
    CLASSIFICATION_HELICOPTER: _ClassVar[Classification]
    CLASSIFICATION_TRANSPORT: _ClassVar[Classification]
    CLASSIFICATION_INTERCEPTOR: _ClassVar[Classification]

class ObjectStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OBJECT_STATUS_UNSPECIFIED: _ClassVar[ObjectStatus]
    OBJECT_STATUS_PENDING: _ClassVar[ObjectStatus]
    OBJECT_STATUS_ACTIVE: _ClassVar[ObjectStatus]
    OBJECT_STATUS_KILLED: _ClassVar[ObjectStatus]
    OBJECT_STATUS_LEAKED: _ClassVar[ObjectStatus]
    OBJECT_STATUS_LANDED: _ClassVar[ObjectStatus]

class EngagementState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENGAGEMENT_STATE_UNSPECIFIED: _ClassVar[EngagementState]
    ENGAGEMENT_STATE_ACCEPTED: _ClassVar[EngagementState]
    ENGAGEMENT_STATE_REJECTED: _ClassVar[EngagementState]
    ENGAGEMENT_STATE_LAUNCHED: _ClassVar[EngagementState]
    ENGAGEMENT_STATE_KILL: _ClassVar[EngagementState]
    ENGAGEMENT_STATE_MISS: _ClassVar[EngagementState]
    ENGAGEMENT_STATE_ABORTED: _ClassVar[EngagementState]

class LauncherState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LAUNCHER_STATE_UNSPECIFIED: _ClassVar[LauncherState]
    LAUNCHER_STATE_SAFE: _ClassVar[LauncherState]
    LAUNCHER_STATE_READY: _ClassVar[LauncherState]
    LAUNCHER_STATE_ENGAGING: _ClassVar[LauncherState]
    LAUNCHER_STATE_RELOADING: _ClassVar[LauncherState]
    LAUNCHER_STATE_HOLD: _ClassVar[LauncherState]
    LAUNCHER_STATE_FAULT: _ClassVar[LauncherState]

class DetonationOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DETONATION_OUTCOME_UNSPECIFIED: _ClassVar[DetonationOutcome]
    DETONATION_OUTCOME_KILL: _ClassVar[DetonationOutcome]
    DETONATION_OUTCOME_MISS: _ClassVar[DetonationOutcome]
    DETONATION_OUTCOME_ASSET_HIT: _ClassVar[DetonationOutcome]

class WeaponsControl(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WEAPONS_CONTROL_UNSPECIFIED: _ClassVar[WeaponsControl]
    WEAPONS_CONTROL_FREE: _ClassVar[WeaponsControl]
    WEAPONS_CONTROL_TIGHT: _ClassVar[WeaponsControl]
    WEAPONS_CONTROL_HOLD: _ClassVar[WeaponsControl]

class NodeStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_STATUS_UNSPECIFIED: _ClassVar[NodeStatus]
    NODE_STATUS_BIRTH: _ClassVar[NodeStatus]
    NODE_STATUS_DEATH: _ClassVar[NodeStatus]

class TrackEngagement(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRACK_ENGAGEMENT_UNSPECIFIED: _ClassVar[TrackEngagement]
    TRACK_ENGAGEMENT_NONE: _ClassVar[TrackEngagement]
    TRACK_ENGAGEMENT_ENGAGED: _ClassVar[TrackEngagement]
    TRACK_ENGAGEMENT_KILLED: _ClassVar[TrackEngagement]
TRACK_STATUS_UNSPECIFIED: TrackStatus
TRACK_STATUS_TENTATIVE: TrackStatus
TRACK_STATUS_CONFIRMED: TrackStatus
TRACK_STATUS_COASTING: TrackStatus
TRACK_STATUS_DROPPED: TrackStatus
IDENTITY_UNSPECIFIED: Identity
IDENTITY_PENDING: Identity
IDENTITY_UNKNOWN: Identity
IDENTITY_FRIEND: Identity
IDENTITY_HOSTILE: Identity
CLASSIFICATION_UNSPECIFIED: Classification
CLASSIFICATION_UNKNOWN: Classification
CLASSIFICATION_DRONE: Classification
CLASSIFICATION_CRUISE_MISSILE: Classification
CLASSIFICATION_FIGHTER: Classification
CLASSIFICATION_HELICOPTER: Classification
CLASSIFICATION_TRANSPORT: Classification
CLASSIFICATION_INTERCEPTOR: Classification
OBJECT_STATUS_UNSPECIFIED: ObjectStatus
OBJECT_STATUS_PENDING: ObjectStatus
OBJECT_STATUS_ACTIVE: ObjectStatus
OBJECT_STATUS_KILLED: ObjectStatus
OBJECT_STATUS_LEAKED: ObjectStatus
OBJECT_STATUS_LANDED: ObjectStatus
ENGAGEMENT_STATE_UNSPECIFIED: EngagementState
ENGAGEMENT_STATE_ACCEPTED: EngagementState
ENGAGEMENT_STATE_REJECTED: EngagementState
ENGAGEMENT_STATE_LAUNCHED: EngagementState
ENGAGEMENT_STATE_KILL: EngagementState
ENGAGEMENT_STATE_MISS: EngagementState
ENGAGEMENT_STATE_ABORTED: EngagementState
LAUNCHER_STATE_UNSPECIFIED: LauncherState
LAUNCHER_STATE_SAFE: LauncherState
LAUNCHER_STATE_READY: LauncherState
LAUNCHER_STATE_ENGAGING: LauncherState
LAUNCHER_STATE_RELOADING: LauncherState
LAUNCHER_STATE_HOLD: LauncherState
LAUNCHER_STATE_FAULT: LauncherState
DETONATION_OUTCOME_UNSPECIFIED: DetonationOutcome
DETONATION_OUTCOME_KILL: DetonationOutcome
DETONATION_OUTCOME_MISS: DetonationOutcome
DETONATION_OUTCOME_ASSET_HIT: DetonationOutcome
WEAPONS_CONTROL_UNSPECIFIED: WeaponsControl
WEAPONS_CONTROL_FREE: WeaponsControl
WEAPONS_CONTROL_TIGHT: WeaponsControl
WEAPONS_CONTROL_HOLD: WeaponsControl
NODE_STATUS_UNSPECIFIED: NodeStatus
NODE_STATUS_BIRTH: NodeStatus
NODE_STATUS_DEATH: NodeStatus
TRACK_ENGAGEMENT_UNSPECIFIED: TrackEngagement
TRACK_ENGAGEMENT_NONE: TrackEngagement
TRACK_ENGAGEMENT_ENGAGED: TrackEngagement
TRACK_ENGAGEMENT_KILLED: TrackEngagement

class Header(_message.Message):
    __slots__ = ("schema_version", "sender", "sequence", "sim_time_s")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SIM_TIME_S_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    sender: str
    sequence: int
    sim_time_s: float
    def __init__(self, schema_version: _Optional[int] = ..., sender: _Optional[str] = ..., sequence: _Optional[int] = ..., sim_time_s: _Optional[float] = ...) -> None: ...

class TrackReport(_message.Message):
    __slots__ = ("scan_time_s", "track_id", "east_m", "north_m", "up_m", "v_east_mps", "v_north_mps", "v_up_mps", "covariance", "status", "identity", "classification", "truth_id")
    SCAN_TIME_S_FIELD_NUMBER: _ClassVar[int]
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    EAST_M_FIELD_NUMBER: _ClassVar[int]
    NORTH_M_FIELD_NUMBER: _ClassVar[int]
    UP_M_FIELD_NUMBER: _ClassVar[int]
    V_EAST_MPS_FIELD_NUMBER: _ClassVar[int]
    V_NORTH_MPS_FIELD_NUMBER: _ClassVar[int]
    V_UP_MPS_FIELD_NUMBER: _ClassVar[int]
    COVARIANCE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    TRUTH_ID_FIELD_NUMBER: _ClassVar[int]
    scan_time_s: float
    track_id: _containers.RepeatedScalarFieldContainer[int]
    east_m: _containers.RepeatedScalarFieldContainer[float]
    north_m: _containers.RepeatedScalarFieldContainer[float]
    up_m: _containers.RepeatedScalarFieldContainer[float]
    v_east_mps: _containers.RepeatedScalarFieldContainer[float]
    v_north_mps: _containers.RepeatedScalarFieldContainer[float]
    v_up_mps: _containers.RepeatedScalarFieldContainer[float]
    covariance: _containers.RepeatedScalarFieldContainer[float]
    status: _containers.RepeatedScalarFieldContainer[TrackStatus]
    identity: _containers.RepeatedScalarFieldContainer[Identity]
    classification: _containers.RepeatedScalarFieldContainer[Classification]
    truth_id: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, scan_time_s: _Optional[float] = ..., track_id: _Optional[_Iterable[int]] = ..., east_m: _Optional[_Iterable[float]] = ..., north_m: _Optional[_Iterable[float]] = ..., up_m: _Optional[_Iterable[float]] = ..., v_east_mps: _Optional[_Iterable[float]] = ..., v_north_mps: _Optional[_Iterable[float]] = ..., v_up_mps: _Optional[_Iterable[float]] = ..., covariance: _Optional[_Iterable[float]] = ..., status: _Optional[_Iterable[_Union[TrackStatus, str]]] = ..., identity: _Optional[_Iterable[_Union[Identity, str]]] = ..., classification: _Optional[_Iterable[_Union[Classification, str]]] = ..., truth_id: _Optional[_Iterable[str]] = ...) -> None: ...

class TruthReport(_message.Message):
    __slots__ = ("object_id", "kind", "friendly", "iff", "rcs_m2", "status", "east_m", "north_m", "up_m", "v_east_mps", "v_north_mps", "v_up_mps")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    FRIENDLY_FIELD_NUMBER: _ClassVar[int]
    IFF_FIELD_NUMBER: _ClassVar[int]
    RCS_M2_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EAST_M_FIELD_NUMBER: _ClassVar[int]
    NORTH_M_FIELD_NUMBER: _ClassVar[int]
    UP_M_FIELD_NUMBER: _ClassVar[int]
    V_EAST_MPS_FIELD_NUMBER: _ClassVar[int]
    V_NORTH_MPS_FIELD_NUMBER: _ClassVar[int]
    V_UP_MPS_FIELD_NUMBER: _ClassVar[int]
    object_id: _containers.RepeatedScalarFieldContainer[str]
    kind: _containers.RepeatedScalarFieldContainer[Classification]
    friendly: _containers.RepeatedScalarFieldContainer[bool]
    iff: _containers.RepeatedScalarFieldContainer[bool]
    rcs_m2: _containers.RepeatedScalarFieldContainer[float]
    status: _containers.RepeatedScalarFieldContainer[ObjectStatus]
    east_m: _containers.RepeatedScalarFieldContainer[float]
    north_m: _containers.RepeatedScalarFieldContainer[float]
    up_m: _containers.RepeatedScalarFieldContainer[float]
    v_east_mps: _containers.RepeatedScalarFieldContainer[float]
    v_north_mps: _containers.RepeatedScalarFieldContainer[float]
    v_up_mps: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, object_id: _Optional[_Iterable[str]] = ..., kind: _Optional[_Iterable[_Union[Classification, str]]] = ..., friendly: _Optional[_Iterable[bool]] = ..., iff: _Optional[_Iterable[bool]] = ..., rcs_m2: _Optional[_Iterable[float]] = ..., status: _Optional[_Iterable[_Union[ObjectStatus, str]]] = ..., east_m: _Optional[_Iterable[float]] = ..., north_m: _Optional[_Iterable[float]] = ..., up_m: _Optional[_Iterable[float]] = ..., v_east_mps: _Optional[_Iterable[float]] = ..., v_north_mps: _Optional[_Iterable[float]] = ..., v_up_mps: _Optional[_Iterable[float]] = ...) -> None: ...

class Vector3(_message.Message):
    __slots__ = ("east", "north", "up")
    EAST_FIELD_NUMBER: _ClassVar[int]
    NORTH_FIELD_NUMBER: _ClassVar[int]
    UP_FIELD_NUMBER: _ClassVar[int]
    east: float
    north: float
    up: float
    def __init__(self, east: _Optional[float] = ..., north: _Optional[float] = ..., up: _Optional[float] = ...) -> None: ...

class FireOrder(_message.Message):
    __slots__ = ("order_id", "launcher_id", "target_track_id", "target_position_m", "target_velocity_mps", "intercept_point_m", "intercept_time_s", "rounds", "issued_time_s", "expiry_time_s", "auth_tag")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    LAUNCHER_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_POSITION_M_FIELD_NUMBER: _ClassVar[int]
    TARGET_VELOCITY_MPS_FIELD_NUMBER: _ClassVar[int]
    INTERCEPT_POINT_M_FIELD_NUMBER: _ClassVar[int]
    INTERCEPT_TIME_S_FIELD_NUMBER: _ClassVar[int]
    ROUNDS_FIELD_NUMBER: _ClassVar[int]
    ISSUED_TIME_S_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_TIME_S_FIELD_NUMBER: _ClassVar[int]
    AUTH_TAG_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    launcher_id: str
    target_track_id: int
    target_position_m: Vector3
    target_velocity_mps: Vector3
    intercept_point_m: Vector3
    intercept_time_s: float
    rounds: int
    issued_time_s: float
    expiry_time_s: float
    auth_tag: bytes
    def __init__(self, order_id: _Optional[str] = ..., launcher_id: _Optional[str] = ..., target_track_id: _Optional[int] = ..., target_position_m: _Optional[_Union[Vector3, _Mapping]] = ..., target_velocity_mps: _Optional[_Union[Vector3, _Mapping]] = ..., intercept_point_m: _Optional[_Union[Vector3, _Mapping]] = ..., intercept_time_s: _Optional[float] = ..., rounds: _Optional[int] = ..., issued_time_s: _Optional[float] = ..., expiry_time_s: _Optional[float] = ..., auth_tag: _Optional[bytes] = ...) -> None: ...

class EngagementStatus(_message.Message):
    __slots__ = ("order_id", "launcher_id", "state", "reason", "round", "launcher_position_m", "target_position_m", "target_velocity_mps", "target_time_s", "interceptor_id")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    LAUNCHER_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    LAUNCHER_POSITION_M_FIELD_NUMBER: _ClassVar[int]
    TARGET_POSITION_M_FIELD_NUMBER: _ClassVar[int]
    TARGET_VELOCITY_MPS_FIELD_NUMBER: _ClassVar[int]
    TARGET_TIME_S_FIELD_NUMBER: _ClassVar[int]
    INTERCEPTOR_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    launcher_id: str
    state: EngagementState
    reason: str
    round: int
    launcher_position_m: Vector3
    target_position_m: Vector3
    target_velocity_mps: Vector3
    target_time_s: float
    interceptor_id: str
    def __init__(self, order_id: _Optional[str] = ..., launcher_id: _Optional[str] = ..., state: _Optional[_Union[EngagementState, str]] = ..., reason: _Optional[str] = ..., round: _Optional[int] = ..., launcher_position_m: _Optional[_Union[Vector3, _Mapping]] = ..., target_position_m: _Optional[_Union[Vector3, _Mapping]] = ..., target_velocity_mps: _Optional[_Union[Vector3, _Mapping]] = ..., target_time_s: _Optional[float] = ..., interceptor_id: _Optional[str] = ...) -> None: ...

class LauncherStatus(_message.Message):
    __slots__ = ("launcher_id", "state", "missiles_ready", "position_m", "reason", "boot_nonce")
    LAUNCHER_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MISSILES_READY_FIELD_NUMBER: _ClassVar[int]
    POSITION_M_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    BOOT_NONCE_FIELD_NUMBER: _ClassVar[int]
    launcher_id: str
    state: LauncherState
    missiles_ready: int
    position_m: Vector3
    reason: str
    boot_nonce: int
    def __init__(self, launcher_id: _Optional[str] = ..., state: _Optional[_Union[LauncherState, str]] = ..., missiles_ready: _Optional[int] = ..., position_m: _Optional[_Union[Vector3, _Mapping]] = ..., reason: _Optional[str] = ..., boot_nonce: _Optional[int] = ...) -> None: ...

class Flyout(_message.Message):
    __slots__ = ("interceptor_id", "order_id", "launcher_id", "target_object_id", "launch_time_s", "intercept_time_s", "intercept_point_m")
    INTERCEPTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    LAUNCHER_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    LAUNCH_TIME_S_FIELD_NUMBER: _ClassVar[int]
    INTERCEPT_TIME_S_FIELD_NUMBER: _ClassVar[int]
    INTERCEPT_POINT_M_FIELD_NUMBER: _ClassVar[int]
    interceptor_id: str
    order_id: str
    launcher_id: str
    target_object_id: str
    launch_time_s: float
    intercept_time_s: float
    intercept_point_m: Vector3
    def __init__(self, interceptor_id: _Optional[str] = ..., order_id: _Optional[str] = ..., launcher_id: _Optional[str] = ..., target_object_id: _Optional[str] = ..., launch_time_s: _Optional[float] = ..., intercept_time_s: _Optional[float] = ..., intercept_point_m: _Optional[_Union[Vector3, _Mapping]] = ...) -> None: ...

class Detonation(_message.Message):
    __slots__ = ("interceptor_id", "order_id", "object_id", "asset_id", "outcome", "position_m")
    INTERCEPTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    POSITION_M_FIELD_NUMBER: _ClassVar[int]
    interceptor_id: str
    order_id: str
    object_id: str
    asset_id: str
    outcome: DetonationOutcome
    position_m: Vector3
    def __init__(self, interceptor_id: _Optional[str] = ..., order_id: _Optional[str] = ..., object_id: _Optional[str] = ..., asset_id: _Optional[str] = ..., outcome: _Optional[_Union[DetonationOutcome, str]] = ..., position_m: _Optional[_Union[Vector3, _Mapping]] = ...) -> None: ...

class FdcHeartbeat(_message.Message):
    __slots__ = ("fdc_id", "weapons_control", "system_tracks", "engagements_active", "launchers_lost", "time_s", "launcher_tags")
    FDC_ID_FIELD_NUMBER: _ClassVar[int]
    WEAPONS_CONTROL_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_TRACKS_FIELD_NUMBER: _ClassVar[int]
    ENGAGEMENTS_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    LAUNCHERS_LOST_FIELD_NUMBER: _ClassVar[int]
    TIME_S_FIELD_NUMBER: _ClassVar[int]
    LAUNCHER_TAGS_FIELD_NUMBER: _ClassVar[int]
    fdc_id: str
    weapons_control: WeaponsControl
    system_tracks: int
    engagements_active: int
    launchers_lost: _containers.RepeatedScalarFieldContainer[str]
    time_s: float
    launcher_tags: _containers.RepeatedCompositeFieldContainer[LauncherTag]
    def __init__(self, fdc_id: _Optional[str] = ..., weapons_control: _Optional[_Union[WeaponsControl, str]] = ..., system_tracks: _Optional[int] = ..., engagements_active: _Optional[int] = ..., launchers_lost: _Optional[_Iterable[str]] = ..., time_s: _Optional[float] = ..., launcher_tags: _Optional[_Iterable[_Union[LauncherTag, _Mapping]]] = ...) -> None: ...

class LauncherTag(_message.Message):
    __slots__ = ("launcher_id", "tag")
    LAUNCHER_ID_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    launcher_id: str
    tag: bytes
    def __init__(self, launcher_id: _Optional[str] = ..., tag: _Optional[bytes] = ...) -> None: ...

class OperatorCommand(_message.Message):
    __slots__ = ("set_weapons_control", "note")
    SET_WEAPONS_CONTROL_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    set_weapons_control: WeaponsControl
    note: str
    def __init__(self, set_weapons_control: _Optional[_Union[WeaponsControl, str]] = ..., note: _Optional[str] = ...) -> None: ...

class NodeState(_message.Message):
    __slots__ = ("node_id", "kind", "status", "birth_sequence", "speed")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    BIRTH_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SPEED_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    kind: str
    status: NodeStatus
    birth_sequence: int
    speed: float
    def __init__(self, node_id: _Optional[str] = ..., kind: _Optional[str] = ..., status: _Optional[_Union[NodeStatus, str]] = ..., birth_sequence: _Optional[int] = ..., speed: _Optional[float] = ...) -> None: ...

class AirPicture(_message.Message):
    __slots__ = ("time_s", "track_id", "east_m", "north_m", "up_m", "v_east_mps", "v_north_mps", "v_up_mps", "position_variance_m2", "identity", "classification", "threat_rank", "asset_id", "engagement", "truth_id")
    TIME_S_FIELD_NUMBER: _ClassVar[int]
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    EAST_M_FIELD_NUMBER: _ClassVar[int]
    NORTH_M_FIELD_NUMBER: _ClassVar[int]
    UP_M_FIELD_NUMBER: _ClassVar[int]
    V_EAST_MPS_FIELD_NUMBER: _ClassVar[int]
    V_NORTH_MPS_FIELD_NUMBER: _ClassVar[int]
    V_UP_MPS_FIELD_NUMBER: _ClassVar[int]
    POSITION_VARIANCE_M2_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    THREAT_RANK_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    ENGAGEMENT_FIELD_NUMBER: _ClassVar[int]
    TRUTH_ID_FIELD_NUMBER: _ClassVar[int]
    time_s: float
    track_id: _containers.RepeatedScalarFieldContainer[int]
    east_m: _containers.RepeatedScalarFieldContainer[float]
    north_m: _containers.RepeatedScalarFieldContainer[float]
    up_m: _containers.RepeatedScalarFieldContainer[float]
    v_east_mps: _containers.RepeatedScalarFieldContainer[float]
    v_north_mps: _containers.RepeatedScalarFieldContainer[float]
    v_up_mps: _containers.RepeatedScalarFieldContainer[float]
    position_variance_m2: _containers.RepeatedScalarFieldContainer[float]
    identity: _containers.RepeatedScalarFieldContainer[Identity]
    classification: _containers.RepeatedScalarFieldContainer[Classification]
    threat_rank: _containers.RepeatedScalarFieldContainer[int]
    asset_id: _containers.RepeatedScalarFieldContainer[str]
    engagement: _containers.RepeatedScalarFieldContainer[TrackEngagement]
    truth_id: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, time_s: _Optional[float] = ..., track_id: _Optional[_Iterable[int]] = ..., east_m: _Optional[_Iterable[float]] = ..., north_m: _Optional[_Iterable[float]] = ..., up_m: _Optional[_Iterable[float]] = ..., v_east_mps: _Optional[_Iterable[float]] = ..., v_north_mps: _Optional[_Iterable[float]] = ..., v_up_mps: _Optional[_Iterable[float]] = ..., position_variance_m2: _Optional[_Iterable[float]] = ..., identity: _Optional[_Iterable[_Union[Identity, str]]] = ..., classification: _Optional[_Iterable[_Union[Classification, str]]] = ..., threat_rank: _Optional[_Iterable[int]] = ..., asset_id: _Optional[_Iterable[str]] = ..., engagement: _Optional[_Iterable[_Union[TrackEngagement, str]]] = ..., truth_id: _Optional[_Iterable[str]] = ...) -> None: ...

class Envelope(_message.Message):
    __slots__ = ("header", "track_report", "truth_report", "fire_order", "engagement_status", "launcher_status", "flyout", "detonation", "fdc_heartbeat", "operator_command", "node_state", "air_picture")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    TRACK_REPORT_FIELD_NUMBER: _ClassVar[int]
    TRUTH_REPORT_FIELD_NUMBER: _ClassVar[int]
    FIRE_ORDER_FIELD_NUMBER: _ClassVar[int]
    ENGAGEMENT_STATUS_FIELD_NUMBER: _ClassVar[int]
    LAUNCHER_STATUS_FIELD_NUMBER: _ClassVar[int]
    FLYOUT_FIELD_NUMBER: _ClassVar[int]
    DETONATION_FIELD_NUMBER: _ClassVar[int]
    FDC_HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_COMMAND_FIELD_NUMBER: _ClassVar[int]
    NODE_STATE_FIELD_NUMBER: _ClassVar[int]
    AIR_PICTURE_FIELD_NUMBER: _ClassVar[int]
    header: Header
    track_report: TrackReport
    truth_report: TruthReport
    fire_order: FireOrder
    engagement_status: EngagementStatus
    launcher_status: LauncherStatus
    flyout: Flyout
    detonation: Detonation
    fdc_heartbeat: FdcHeartbeat
    operator_command: OperatorCommand
    node_state: NodeState
    air_picture: AirPicture
    def __init__(self, header: _Optional[_Union[Header, _Mapping]] = ..., track_report: _Optional[_Union[TrackReport, _Mapping]] = ..., truth_report: _Optional[_Union[TruthReport, _Mapping]] = ..., fire_order: _Optional[_Union[FireOrder, _Mapping]] = ..., engagement_status: _Optional[_Union[EngagementStatus, _Mapping]] = ..., launcher_status: _Optional[_Union[LauncherStatus, _Mapping]] = ..., flyout: _Optional[_Union[Flyout, _Mapping]] = ..., detonation: _Optional[_Union[Detonation, _Mapping]] = ..., fdc_heartbeat: _Optional[_Union[FdcHeartbeat, _Mapping]] = ..., operator_command: _Optional[_Union[OperatorCommand, _Mapping]] = ..., node_state: _Optional[_Union[NodeState, _Mapping]] = ..., air_picture: _Optional[_Union[AirPicture, _Mapping]] = ...) -> None: ...
