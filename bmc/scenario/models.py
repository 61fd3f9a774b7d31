"""The scenario file's models (pydantic): every field documented once, with its unit and
bounds; the cross-field rules as validators."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import pymap3d
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bmc.engine.stats import parse_sweep_check
from protocols.errors import UsageError
from protocols.topics import CHANNELS as TOPIC_CHANNELS

Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]
"""Node, asset and threat ids: letters, digits, '_' and '-' (they appear in MQTT topics)."""

ThreatKind = Literal["drone", "cruise_missile", "fighter", "helicopter", "transport"]

CHANNELS = tuple(TOPIC_CHANNELS)
"""Message channels (last topic level) that ``links`` may configure."""

KIND_DEFAULTS: dict[str, tuple[float, float]] = {
    # kind: (rcs_m2, speed_mps) typical of public open-source figures
    "drone": (0.1, 50.0),
    "cruise_missile": (0.5, 250.0),
    "fighter": (5.0, 250.0),
    "helicopter": (10.0, 60.0),
    "transport": (40.0, 180.0),
}


class ScenarioError(UsageError, ValueError):
    """An unreadable or invalid scenario: ``str()`` is one line naming file, field and value."""


class Model(BaseModel):
    """Base of every scenario model: unknown keys refused, frozen, documented by attribute docstrings."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True, allow_inf_nan=False)


class Position(Model):
    """A point given either as geodetic (lat_deg, lon_deg, alt_m) or local ENU (east_m, north_m, up_m)."""

    lat_deg: float | None = Field(None, ge=-90, le=90)
    """Latitude, degrees (WGS84)."""
    lon_deg: float | None = Field(None, ge=-180, le=180)
    """Longitude, degrees (WGS84)."""
    alt_m: float | None = Field(None, ge=-1_000, le=100_000)
    """Height above the ellipsoid, metres (with lat/lon; default 0), -1 km to 100 km."""
    east_m: float | None = Field(None, ge=-1_000_000, le=1_000_000)
    """East of the scenario origin, metres, within +-1000 km."""
    north_m: float | None = Field(None, ge=-1_000_000, le=1_000_000)
    """North of the scenario origin, metres, within +-1000 km."""
    up_m: float | None = Field(None, ge=-1_000, le=100_000)
    """Above the scenario origin, metres (with east/north; default 0), -1 km to 100 km."""

    @model_validator(mode="after")
    def _one_form(self) -> Position:
        geo = self.lat_deg is not None or self.lon_deg is not None or self.alt_m is not None
        enu = self.east_m is not None or self.north_m is not None or self.up_m is not None
        if geo == enu:
            raise ValueError("give either lat_deg/lon_deg[/alt_m] or east_m/north_m[/up_m]")
        if geo and (self.lat_deg is None or self.lon_deg is None):
            raise ValueError("a geodetic position needs both lat_deg and lon_deg")
        if enu and (self.east_m is None or self.north_m is None):
            raise ValueError("a local position needs both east_m and north_m")
        return self


class Origin(Model):
    """Geodetic origin of the local ENU frame (the defended area's centre)."""

    lat_deg: float = Field(ge=-90, le=90)
    """Latitude, degrees (WGS84)."""
    lon_deg: float = Field(ge=-180, le=180)
    """Longitude, degrees (WGS84)."""
    alt_m: float = Field(0.0, ge=-1_000, le=10_000)
    """Height above the ellipsoid, metres, -1 km to 10 km."""


class WorldConfig(Model):
    """Truth publication."""

    truth_period_s: float = Field(1.0, ge=0.01, le=60)
    """Period of the world's truth report, seconds. Radars extrapolate truth between reports."""


class Asset(Model):
    """A defended asset."""

    id: Ident
    """Unique asset id."""
    position: Position
    """Centre of the asset."""
    radius_m: float = Field(500.0, gt=0, le=100_000)
    """A hostile whose ground track comes this close to the centre hits the asset, metres."""
    value: float = Field(1.0, gt=0, le=1e6)
    """Relative value, weighs threat priority (higher is defended first)."""


class TrackerConfig(Model):
    """A radar's local tracker."""

    confirm_hits: int = Field(3, ge=1, le=20)
    """Associated detections that confirm a tentative track."""
    drop_misses: int = Field(3, ge=1, le=50)
    """Consecutive missed scans after which a track is dropped."""
    gate_sigma: float = Field(4.0, gt=0, le=100)
    """Association gate, in standard deviations (Mahalanobis distance)."""
    process_noise_mps2: float = Field(4.0, gt=0, le=1_000)
    """Acceleration noise of the constant-velocity model, m/s^2."""
    iff_memory_scans: int = Field(10, ge=1, le=1000)
    """A track is reported FRIEND while an IFF reply came within this many scans."""


class Radar(Model):
    """A surveillance radar with IFF interrogator and local tracker."""

    id: Ident
    """Unique node id."""
    position: Position
    """Antenna position; its height above the origin sets the radar horizon."""
    scan_period_s: float = Field(2.0, ge=0.01, le=600)
    """Time between scans (rotation period), seconds."""
    sac: int | None = Field(None, ge=0, le=255)
    """ASTERIX system area code of this radar's CAT048 and CAT034 (`bmc gateway`, `bmc export`);
    default: the gateway's --sac."""
    sic: int | None = Field(None, ge=0, le=255)
    """ASTERIX system identification code of this radar; default: the gateway's --sic plus 1
    plus the radar's index in `radars` (the FDC's CAT062 takes --sic itself)."""
    max_range_m: float = Field(75_000.0, gt=0, le=1_000_000)
    """Instrumented range, metres."""
    reference_range_m: float = Field(40_000.0, gt=0, le=1_000_000)
    """Range at which a target of reference_rcs_m2 is detected with reference_pd, metres."""
    reference_rcs_m2: float = Field(1.0, gt=0, le=10_000)
    """Radar cross-section of the reference target, m^2."""
    reference_pd: float = Field(0.9, gt=0, lt=1)
    """Detection probability of the reference target at reference_range_m."""
    false_alarm_probability: float = Field(1e-6, gt=0, lt=0.1)
    """Per-cell false-alarm probability the detection threshold is set for."""
    swerling: Literal[0, 1] = 1
    """Target fluctuation model: 0 (steady) or 1 (scan-to-scan Rayleigh)."""
    false_alarms_per_scan: float = Field(0.5, ge=0, le=1_000)
    """Mean number of false plots per scan over the whole coverage."""
    max_elevation_deg: float = Field(60.0, gt=0, le=90)
    """Upper edge of the elevation coverage, degrees."""
    sigma_range_m: float = Field(30.0, ge=0, le=10_000)
    """Range measurement noise (1 sigma), metres."""
    sigma_azimuth_deg: float = Field(0.3, ge=0, le=10)
    """Azimuth measurement noise (1 sigma), degrees."""
    sigma_elevation_deg: float = Field(0.5, ge=0, le=10)
    """Elevation measurement noise (1 sigma), degrees."""
    iff: bool = True
    """Whether the radar carries an IFF interrogator."""
    iff_reply_probability: float = Field(0.99, ge=0, le=1)
    """Probability per scan that a transponder-equipped target's reply is received."""
    tracker: TrackerConfig = TrackerConfig()
    """Local tracker settings."""
    external: bool = False
    """Not simulated: its topics come from another process or a HIL bridge."""

    @model_validator(mode="after")
    def _detectable(self) -> Radar:
        if self.reference_pd <= self.false_alarm_probability:
            raise ValueError(
                f"reference_pd must exceed false_alarm_probability "
                f"(got {self.reference_pd} <= {self.false_alarm_probability})"
            )
        return self


_DOCTRINE = re.compile(r"^(shoot-look-shoot|salvo-([1-8]))$")


class FdcConfig(Model):
    """The fire-distribution centre."""

    id: Ident = "FDC"
    """Node id."""
    doctrine: str = "shoot-look-shoot"
    """'shoot-look-shoot' (one missile, assess, re-engage) or 'salvo-N' (N missiles at once, N 1..8)."""
    weapons_control: Literal["free", "tight", "hold"] = "free"
    """free: engage any threatening non-friend; tight: only tracks identified hostile; hold: none."""
    heartbeat_period_s: float = Field(1.0, ge=0.01, le=600)
    """Period of the FDC heartbeat launchers watch, seconds."""
    assignment_period_s: float = Field(1.0, ge=0.01, le=600)
    """Period of threat evaluation and weapon-target assignment, seconds."""
    order_expiry_s: float = Field(10.0, gt=0, le=3_600)
    """A fire order is void this long after issue, seconds."""
    order_retry_s: float = Field(1.0, ge=0.01, le=3_600)
    """An unacknowledged order is resent after this long, seconds."""
    identification_time_s: float = Field(4.0, ge=0, le=3_600)
    """A track must be held this long without IFF reply before it may be engaged, seconds."""
    friend_memory_s: float = Field(30.0, ge=0, le=86_400)
    """A track a radar reported as IFF friend stays a friend this long after the last report, seconds."""
    track_timeout_s: float = Field(10.0, gt=0, le=3_600)
    """A system track no radar has updated for this long is dropped, seconds."""
    threat_margin_m: float = Field(2000.0, ge=0, le=1_000_000)
    """A track threatens an asset when its predicted ground track passes within radius_m plus this, metres
    (absorbs heading error of noisy tracks)."""
    fusion_gate_m: float = Field(1500.0, gt=0, le=100_000)
    """Radar tracks closer than this to a system track join it, metres."""
    picture: bool = True
    """Publish the fused air picture on `fdc/<id>/picture` every assignment period: every
    system track with its identity, class, threat rank, the asset it threatens and its
    engagement status (what the after-action map shows and gateways translate). Off saves
    its encoding cost in large sweeps."""
    external: bool = False
    """Not simulated: its topics come from another process."""

    @field_validator("doctrine")
    @classmethod
    def _doctrine(cls, v: str) -> str:
        if not _DOCTRINE.match(v):
            raise ValueError(f"must be 'shoot-look-shoot' or 'salvo-N' with N 1..8 (got {v!r})")
        return v

    @property
    def salvo_rounds(self) -> int:
        """Missiles per engagement: 1 for shoot-look-shoot, N for salvo-N."""
        match = _DOCTRINE.match(self.doctrine)
        assert match is not None
        return int(match.group(2) or 1)


class Launcher(Model):
    """A fire unit (launcher with ready missiles)."""

    @model_validator(mode="before")
    @classmethod
    def _no_keys_here(cls, data: Any) -> Any:
        if isinstance(data, dict) and "auth_key_hex" in data:
            # Anyone who reads a scenario could fire with a key written in it.
            raise ValueError(
                "auth_key_hex: keys no longer live in the scenario; make them with "
                "`bmc keys init SCENARIO --out DIR` and pass --keys DIR"
            )
        return data

    id: Ident
    """Unique node id."""
    position: Position
    """Launcher position."""
    missiles: int = Field(6, gt=0, le=64)
    """Missiles on the launcher when full."""
    reload_time_s: float = Field(600.0, ge=0, le=86_400)
    """Time to reload once empty, seconds."""
    reaction_time_s: float = Field(2.0, ge=0, le=3_600)
    """Order accepted to first missile off the rail, seconds."""
    salvo_interval_s: float = Field(1.0, ge=0, le=3_600)
    """Time between missiles of one salvo, seconds."""
    min_range_m: float = Field(1_000.0, ge=0, le=1_000_000)
    """Closest intercept, metres from the launcher."""
    max_range_m: float = Field(25_000.0, gt=0, le=1_000_000)
    """Farthest intercept, metres from the launcher."""
    min_altitude_m: float = Field(10.0, ge=0, le=100_000)
    """Lowest intercept height above the origin, metres."""
    max_altitude_m: float = Field(15_000.0, gt=0, le=100_000)
    """Highest intercept height above the origin, metres."""
    interceptor_speed_mps: float = Field(1_000.0, ge=1, le=10_000)
    """Mean interceptor flyout speed, m/s."""
    pk: float = Field(0.8, ge=0, le=1)
    """Probability that one interceptor kills the target it reaches."""
    heartbeat_timeout_s: float = Field(3.0, ge=0.01, le=3_600)
    """Without an FDC heartbeat for this long the launcher goes to HOLD, seconds."""
    status_period_s: float = Field(10.0, ge=0.01, le=86_400)
    """The launcher repeats its status this often even without change, seconds;
    the FDC holds a launcher silent for 2.5 periods as lost."""
    external: bool = False
    """Not simulated: its topics come from another process or a HIL bridge."""

    @model_validator(mode="after")
    def _envelope(self) -> Launcher:
        if self.max_range_m <= self.min_range_m:
            raise ValueError(
                f"max_range_m must exceed min_range_m (got {self.max_range_m} <= {self.min_range_m})"
            )
        if self.max_altitude_m <= self.min_altitude_m:
            raise ValueError(
                f"max_altitude_m must exceed min_altitude_m "
                f"(got {self.max_altitude_m} <= {self.min_altitude_m})"
            )
        return self


class Waypoint(Model):
    """A point of a flight path."""

    position: Position
    """Where the path goes."""
    speed_mps: float | None = Field(None, ge=0.1, le=10_000)
    """Speed on the leg that ends here, m/s (default: the object's speed)."""


class Threat(Model):
    """An individual air object: a hostile threat or a friendly aircraft."""

    id: Ident
    """Unique object id."""
    kind: ThreatKind
    """drone, cruise_missile, fighter, helicopter or transport."""
    friendly: bool = False
    """Friendly aircraft: must never be engaged."""
    iff: bool | None = None
    """Answers IFF interrogation (default: same as friendly)."""
    rcs_m2: float | None = Field(None, gt=0, le=10_000)
    """Radar cross-section, m^2 (default by kind)."""
    speed_mps: float | None = Field(None, ge=0.1, le=10_000)
    """Cruise speed, m/s (default by kind)."""
    start_s: float = Field(0.0, ge=0, le=86_400)
    """Time it appears at its first waypoint, seconds."""
    waypoints: list[Waypoint] = Field(min_length=1, max_length=1_000)
    """Flight path, flown at constant speed per leg."""
    target: Ident | None = None
    """Asset it flies to after its waypoints (its final point, at ground level)."""

    @model_validator(mode="after")
    def _path(self) -> Threat:
        if len(self.waypoints) + (self.target is not None) < 2:
            raise ValueError("needs at least two waypoints, or one waypoint and a target")
        return self


class Raid(Model):
    """A group of identical hostiles generated around a bearing toward one asset."""

    id: Ident
    """Raid id; members are named <id>-001, <id>-002, ..."""
    count: int = Field(gt=0, le=5000)
    """Number of members."""
    kind: ThreatKind
    """Kind of every member."""
    target: Ident
    """Asset the raid attacks."""
    bearing_deg: float = Field(ge=0, lt=360)
    """Direction the raid comes from, seen from the target, degrees clockwise from north."""
    range_m: float = Field(gt=0, le=1_000_000)
    """Start distance from the target, metres."""
    altitude_m: float = Field(100.0, ge=0, le=100_000)
    """Cruise height above the origin, metres."""
    spread_deg: float = Field(10.0, ge=0, le=180)
    """Members start spread uniformly over bearing +- spread_deg/2, degrees."""
    spacing_s: float = Field(5.0, ge=0, le=3_600)
    """Time between successive members' starts, seconds."""
    dive_range_m: float = Field(2_000.0, ge=0, le=1_000_000)
    """Members cruise at altitude_m until this far from the target, then dive onto it, metres."""
    start_s: float = Field(0.0, ge=0, le=86_400)
    """Start of the first member, seconds."""
    rcs_m2: float | None = Field(None, gt=0, le=10_000)
    """Radar cross-section, m^2 (default by kind)."""
    speed_mps: float | None = Field(None, ge=0.1, le=10_000)
    """Speed, m/s (default by kind)."""


class Link(Model):
    """Network behaviour of one message channel in virtual runs."""

    latency_s: float = Field(0.0, ge=0, le=60)
    """Fixed delivery delay, seconds."""
    jitter_s: float = Field(0.0, ge=0, le=60)
    """Extra delay drawn uniformly from [0, jitter_s], seconds (order is kept per link)."""
    loss: float = Field(0.0, ge=0, lt=1)
    """Probability that one delivery is lost."""


class DisEntity(Model):
    """A DIS entity the scenario expects from another simulator (`bmc run --dis-in`)."""

    id: Ident
    """Our object id for it (truth, tracks, the report)."""
    marking: str | None = Field(None, min_length=1, max_length=11)
    """Its Entity State marking text, e.g. VIPER11 (this or `entity`)."""
    entity: str | None = Field(None, pattern=r"^\d{1,5}:\d{1,5}:\d{1,5}$")
    """Its entity id, site:application:entity, e.g. 1:3101:7 (this or `marking`)."""
    kind: ThreatKind | None = None
    """What it is; default: from its DIS entity type."""
    rcs_m2: float | None = Field(None, gt=0, le=10_000)
    """Radar cross-section, m^2; default: the kind's."""

    @model_validator(mode="after")
    def _one_key(self) -> DisEntity:
        if (self.marking is None) == (self.entity is None):
            raise ValueError(
                "give the entity's marking or its entity id (site:application:entity), one of them"
            )
        return self


class DisIn(Model):
    """Air objects flown by other simulators over DIS (real-time runs with `bmc run --dis-in`)."""

    exercise_id: int | None = Field(None, ge=1, le=255)
    """Accept only this DIS exercise; default: any."""
    timeout_s: float = Field(12.0, gt=0, le=600)
    """An entity whose Entity State PDUs stop this long is removed (IEEE 1278.1: 2.4 x the 5 s heartbeat)."""
    max_entities: int = Field(64, ge=1, le=10_000)
    """Most entities at once; PDUs of further ones are counted and dropped."""
    only_declared: bool = False
    """Accept only the entities listed below (others are counted and dropped)."""
    entities: list[DisEntity] = Field(default_factory=list, max_length=1_000)
    """Entities to expect, with their ids and kinds in our world."""


class Scenario(Model):
    """A whole scenario file."""

    name: Ident
    """Scenario name; also the MQTT topic root bmc/v1/<name>."""
    seed: int = Field(0, ge=0, lt=1 << 63)
    """Root of every random stream; the same seed gives the same run."""
    duration_s: float = Field(gt=0, le=86_400)
    """Simulated time to run, seconds."""
    origin: Origin
    """Origin of the local ENU frame."""
    world: WorldConfig = WorldConfig()
    """Truth publication."""
    assets: list[Asset] = Field(default_factory=list, max_length=1_000)
    """Defended assets."""
    radars: list[Radar] = Field(min_length=1, max_length=200)
    """Radars."""
    fdc: FdcConfig = FdcConfig()
    """The fire-distribution centre."""
    launchers: list[Launcher] = Field(default_factory=list, max_length=1_000)
    """Launchers."""
    threats: list[Threat] = Field(default_factory=list)
    """Individual air objects."""
    raids: list[Raid] = Field(default_factory=list, max_length=1_000)
    """Generated raids."""
    links: dict[str, Link] = Field(default_factory=dict)
    """Per-channel link model; key 'default' applies to channels not named."""
    dis_in: DisIn = DisIn()
    """Entities from other simulators (`bmc run --dis-in`); ignored otherwise."""
    expect: list[str] = Field(default_factory=list, max_length=1_000)
    """Checks on the run report, e.g. 'leaked <= 0', 'friendly_engaged == 0'. Statistical checks
    such as 'leaked.mean <= 0.5' or 'P(leaked == 0) >= 0.9' are judged by `bmc sweep` (where a
    single-run check must hold in every run) and skipped by a single run."""

    @field_validator("links")
    @classmethod
    def _links(cls, v: dict[str, Link]) -> dict[str, Link]:
        for key in v:
            if key != "default" and key not in CHANNELS:
                raise ValueError(f"unknown channel {key!r}; known: default, {', '.join(CHANNELS)}")
        return v

    @field_validator("expect")
    @classmethod
    def _expect(cls, v: list[str]) -> list[str]:
        for check in v:
            parse_sweep_check(check)
        return v

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        seen: dict[str, str] = {}
        nodes: list[tuple[str, str]] = [("fdc", self.fdc.id)]
        nodes += [(f"radars[{i}]", r.id) for i, r in enumerate(self.radars)]
        nodes += [(f"launchers[{i}]", x.id) for i, x in enumerate(self.launchers)]
        nodes += [(f"threats[{i}]", t.id) for i, t in enumerate(self.threats)]
        nodes += [(f"raids[{i}]", r.id) for i, r in enumerate(self.raids)]
        nodes += [(f"dis_in.entities[{i}]", e.id) for i, e in enumerate(self.dis_in.entities)]
        for where, ident in nodes:
            if ident in ("world", "monitor", "operator"):
                raise ValueError(f"{where}.id: {ident!r} is reserved (the world, the monitor, the operator)")
            if ident in seen:
                raise ValueError(f"{where}.id: duplicate id {ident!r} (also {seen[ident]})")
            seen[ident] = where
        assets: set[str] = set()
        for i, a in enumerate(self.assets):
            if a.id in assets:
                raise ValueError(f"assets[{i}].id: duplicate asset id {a.id!r}")
            assets.add(a.id)
        for i, text in enumerate(self.expect):
            metric = parse_sweep_check(text).metric
            if metric.startswith("assets.") and metric.removeprefix("assets.") not in assets:
                raise ValueError(f"expect[{i}]: unknown asset {metric.removeprefix('assets.')!r} in {text!r}")
        for i, t in enumerate(self.threats):
            if t.target is not None and t.target not in assets:
                raise ValueError(f"threats[{i}].target: unknown asset {t.target!r}")
        for i, r in enumerate(self.raids):
            if r.target not in assets:
                raise ValueError(f"raids[{i}].target: unknown asset {r.target!r}")
        return self

    # ------------------------------------------------------------ geometry

    def enu(self, p: Position) -> tuple[float, float, float]:
        """Local coordinates of ``p``, metres: east and north on the tangent plane at the
        origin, up as height above the origin's altitude."""
        if p.east_m is not None and p.north_m is not None:
            return (p.east_m, p.north_m, p.up_m or 0.0)
        assert p.lat_deg is not None and p.lon_deg is not None
        o = self.origin
        e, n, _ = pymap3d.geodetic2enu(p.lat_deg, p.lon_deg, p.alt_m or 0.0, o.lat_deg, o.lon_deg, o.alt_m)
        # Heights stay heights above the origin's datum: the kinematics are flat-earth and
        # the radar horizon models curvature itself (4/3 earth). The tangent plane's own
        # "up" would sink by ~150 m at 45 km and bury a distant radar below its horizon.
        return (float(e), float(n), (p.alt_m or 0.0) - o.alt_m)

    def link(self, channel: str) -> Link:
        """Link model of ``channel`` (falls back to 'default', then a perfect link)."""
        return self.links.get(channel) or self.links.get("default") or Link()

    def launcher_key(self, launcher: Launcher) -> bytes:
        """The derived (public) HMAC key of ``launcher``'s fire orders: virtual runs and demos
        only; a rig's keys come from `bmc keys init` (``bmc.keys``)."""
        import hashlib

        return hashlib.sha256(f"bmc-sim-key/{self.name}/{launcher.id}".encode()).digest()
