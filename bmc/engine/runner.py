"""Wire a scenario's nodes onto a bus and run it."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import simpy

from bmc.engine import clock
from bmc.engine.metrics import MetricsCollector, message_counts, parse_check
from bmc.engine.node import Node
from bmc.engine.report import RunReport
from bmc.engine.rng import RngStreams
from bmc.engine.stats import is_statistical
from bmc.engine.world import AssetZone, ExternalSource, World
from bmc.fdc.assign import FireUnits
from bmc.fdc.node import WCS, Assets, FdcNode, FdcParams
from bmc.keys import CellKeys, derived, roles_of
from bmc.scenario import FdcConfig, Launcher, Radar, Scenario, flight_plans
from launchers.core import LauncherParams
from launchers.node import LauncherNode
from protocols.auth import OPERATOR, Keyring
from protocols.bus import Bus, InProcessBus, LinkModel, Tap
from protocols.topics import Topics, root_for
from sensors.detection import RadarModel
from sensors.radar import RadarNode
from sensors.tracker import TrackerParams

Progress = Callable[[float, float], None]
"""Called with (simulated time, duration) as a run advances."""


@dataclass
class Cell:
    """Every part of one simulated cell, wired and ready to run."""

    scenario: Scenario
    seed: int
    env: simpy.Environment
    bus: InProcessBus
    topics: Topics
    nodes: list[Node]
    metrics: MetricsCollector


def external_nodes(s: Scenario) -> list[str]:
    """Ids of the nodes the scenario marks external (not simulated here)."""
    out = [r.id for r in s.radars if r.external]
    out += [x.id for x in s.launchers if x.external]
    if s.fdc.external:
        out.append(s.fdc.id)
    return out


def cell_identities(s: Scenario) -> list[str]:
    """Who the process running ``s``'s cell is: every node not external, the world and the
    monitor (not the operator: that is `bmc command`)."""
    external = set(external_nodes(s))
    return [n for n in roles_of(s).nodes if n not in external and n != OPERATOR]


def radar_params(r: Radar, position_m: tuple[float, float, float]) -> tuple[RadarModel, TrackerParams]:
    """A scenario radar as the sensor role takes it: its detection model and tracker settings."""
    model = RadarModel(
        position_m=position_m,
        max_range_m=r.max_range_m,
        reference_range_m=r.reference_range_m,
        reference_rcs_m2=r.reference_rcs_m2,
        reference_pd=r.reference_pd,
        false_alarm_probability=r.false_alarm_probability,
        swerling=r.swerling,
        false_alarms_per_scan=r.false_alarms_per_scan,
        max_elevation_rad=math.radians(r.max_elevation_deg),
        sigma_range_m=r.sigma_range_m,
        sigma_azimuth_rad=math.radians(r.sigma_azimuth_deg),
        sigma_elevation_rad=math.radians(r.sigma_elevation_deg),
        iff=r.iff,
        iff_reply_probability=r.iff_reply_probability,
    )
    t = r.tracker
    tracker = TrackerParams(
        confirm_hits=t.confirm_hits,
        drop_misses=t.drop_misses,
        gate_sigma=t.gate_sigma,
        process_noise_mps2=t.process_noise_mps2,
        iff_memory_scans=t.iff_memory_scans,
    )
    return model, tracker


def fdc_params(f: FdcConfig) -> FdcParams:
    """The scenario's FDC as the FDC role takes it."""
    return FdcParams(
        fdc_id=f.id,
        salvo_rounds=f.salvo_rounds,
        weapons_control=WCS[f.weapons_control],
        heartbeat_period_s=f.heartbeat_period_s,
        assignment_period_s=f.assignment_period_s,
        order_expiry_s=f.order_expiry_s,
        order_retry_s=f.order_retry_s,
        identification_time_s=f.identification_time_s,
        friend_memory_s=f.friend_memory_s,
        track_timeout_s=f.track_timeout_s,
        threat_margin_m=f.threat_margin_m,
        fusion_gate_m=f.fusion_gate_m,
        publish_picture=f.picture,
    )


def launcher_params(x: Launcher, position_m: tuple[float, float, float], fdc_id: str) -> LauncherParams:
    """A scenario launcher as the launcher role takes it."""
    return LauncherParams(
        launcher_id=x.id,
        fdc_id=fdc_id,
        position_m=position_m,
        missiles=x.missiles,
        reaction_time_s=x.reaction_time_s,
        salvo_interval_s=x.salvo_interval_s,
        reload_time_s=x.reload_time_s,
        min_range_m=x.min_range_m,
        max_range_m=x.max_range_m,
        min_altitude_m=x.min_altitude_m,
        max_altitude_m=x.max_altitude_m,
        heartbeat_timeout_s=x.heartbeat_timeout_s,
    )


def make_nodes(
    s: Scenario,
    env: simpy.Environment,
    bus: Bus,
    topics: Topics,
    include: Callable[[str], bool],
    orders: Mapping[str, bytes] | None = None,
    external: ExternalSource | None = None,
) -> list[Node]:
    """The nodes of ``s`` whose id ``include`` accepts ('world' for the world), on ``bus``;
    ``orders`` are the launchers' fire-order keys
    (default: derived from the scenario, as virtual runs use); ``external``: objects the
    world takes from outside (DIS in)."""
    rngs = RngStreams(s.seed)
    nodes: list[Node] = []
    if include("world"):
        assets = [AssetZone(a.id, *s.enu(a.position)[:2], a.radius_m) for a in s.assets]
        nodes.append(
            World(
                env,
                bus,
                topics,
                rngs.stream("node/world"),
                flight_plans(s, rngs.stream("raids")),
                assets,
                {x.id: x for x in s.launchers},
                s.world.truth_period_s,
                external,
            )
        )
    for r in s.radars:
        if include(r.id):
            model, tracker = radar_params(r, s.enu(r.position))
            nodes.append(
                RadarNode(
                    env, bus, topics, rngs.stream(f"node/{r.id}"), r.id, model, tracker, r.scan_period_s
                )
            )
    keys = dict(orders) if orders is not None else {x.id: s.launcher_key(x) for x in s.launchers}
    positions = {x.id: s.enu(x.position) for x in s.launchers}
    for x in s.launchers:
        if include(x.id):
            params = launcher_params(x, positions[x.id], s.fdc.id)
            rng = rngs.stream(f"node/{x.id}")
            nodes.append(LauncherNode(env, bus, topics, rng, params, x.status_period_s, keys[x.id]))
    if include(s.fdc.id):
        ls = s.launchers
        units = FireUnits(
            position_m=np.array([positions[x.id] for x in ls], dtype=float).reshape(-1, 3),
            interceptor_speed_mps=np.array([x.interceptor_speed_mps for x in ls], dtype=float),
            reaction_time_s=np.array([x.reaction_time_s for x in ls], dtype=float),
            min_range_m=np.array([x.min_range_m for x in ls], dtype=float),
            max_range_m=np.array([x.max_range_m for x in ls], dtype=float),
            min_altitude_m=np.array([x.min_altitude_m for x in ls], dtype=float),
            max_altitude_m=np.array([x.max_altitude_m for x in ls], dtype=float),
            pk=np.array([x.pk for x in ls], dtype=float),
        )
        asset_cols = Assets(
            ids=tuple(a.id for a in s.assets),
            centre_m=np.array([s.enu(a.position) for a in s.assets], dtype=float).reshape(-1, 3),
            radius_m=np.array([a.radius_m for a in s.assets], dtype=float),
            value=np.array([a.value for a in s.assets], dtype=float),
        )
        nodes.append(
            FdcNode(
                env,
                bus,
                topics,
                rngs.stream(f"node/{s.fdc.id}"),
                fdc_params(s.fdc),
                asset_cols,
                [x.id for x in ls],
                units,
                keys,
                {x.id: x.status_period_s for x in ls},
            )
        )
    return nodes


def make_bus(
    s: Scenario, env: simpy.Environment, topics: Topics, keyring: Keyring | None = None
) -> InProcessBus:
    """The in-process bus of a virtual run of ``s``: its link models, their seeded streams;
    with ``keyring``, every message sealed and checked."""
    rngs = RngStreams(s.seed)

    def link_for(channel: str) -> LinkModel:
        link = s.link(channel)
        return LinkModel(link.latency_s, link.jitter_s, link.loss)

    return InProcessBus(env, topics, link_for, rngs.stream, keyring)


def build(
    scenario: Scenario,
    seed: int | None = None,
    env: simpy.Environment | None = None,
    keys: CellKeys | None = None,
    authenticate: bool = True,
) -> Cell:
    """Create the world and every simulated node of ``scenario`` on an in-process bus, every
    message sealed and checked with ``keys`` (default: derived from the scenario's name);
    ``authenticate=False`` seals nothing (what benchmarks/bench_auth.py compares against)."""
    s = scenario if seed is None else replace_seed(scenario, seed)
    env = env or clock.virtual()
    topics = Topics(root_for(s.name))
    keys = keys or derived(s)
    bus = make_bus(s, env, topics, keys.keyring(keys.roles.nodes) if authenticate else None)
    metrics = MetricsCollector()
    bus.add_tap(metrics.observe)
    external = set(external_nodes(s))
    nodes = make_nodes(s, env, bus, topics, lambda node_id: node_id not in external, keys.orders)
    return Cell(s, s.seed, env, bus, topics, nodes, metrics)


def replace_seed(s: Scenario, seed: int) -> Scenario:
    """``s`` with another seed."""
    if seed < 0:
        raise ValueError(f"seed must be >= 0 (got {seed})")
    return s.model_copy(update={"seed": seed})


def start(cell: Cell) -> None:
    """Announce every node and start its processes."""
    for node in cell.nodes:
        node.start()


def report(cell: Cell, wall_time_s: float) -> RunReport:
    """The run report of ``cell`` as it stands."""
    s = cell.scenario
    return cell.metrics.report(
        scenario=s.name,
        seed=cell.seed,
        sim_time_s=float(cell.env.now),
        wall_time_s=wall_time_s,
        asset_ids=[a.id for a in s.assets],
        messages=message_counts(cell.bus.stats),
        checks=[parse_check(c) for c in s.expect if not is_statistical(c)],
    )


def run_virtual(
    scenario: Scenario,
    seed: int | None = None,
    progress: Progress | None = None,
    steps: int = 20,
    taps: Sequence[Tap] = (),
    keys: CellKeys | None = None,
) -> RunReport:
    """Run ``scenario`` in virtual time to its duration; return the report.

    ``taps`` see every published message in order (e.g. a recorder); ``keys`` seal the
    messages (default: derived; the report and digest do not depend on them)."""
    external = external_nodes(scenario)
    if external:
        raise ValueError(
            f"nodes {', '.join(external)} are external: a virtual run simulates every node "
            f"(run with --mqtt to take them from a broker)"
        )
    t0 = clock.wall_seconds()
    cell = build(scenario, seed, keys=keys)
    for tap in taps:
        cell.bus.add_tap(tap)
    start(cell)
    duration = scenario.duration_s
    for k in range(1, steps + 1):
        cell.env.run(until=duration * k / steps)
        if progress is not None:
            progress(float(cell.env.now), duration)
    return report(cell, clock.wall_seconds() - t0)
