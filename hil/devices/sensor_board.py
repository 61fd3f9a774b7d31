"""A sensor-board emulator, for rigs without the real board: stimulation in, noisy plots out.

    python -m hil.devices.sensor_board --port DEVICE [--seed N] [--sigma-range-m 30 ...]

It answers every stimulation frame from ``bmc hil sensor`` (a ``TruthReport`` of
the objects inside the radar's coverage, positions relative to the antenna) with
one ``TrackReport`` of plots in the same antenna-centred frame: each object is
detected with the radar equation's probability (Swerling 0 or 1), measured in
range, azimuth and elevation with Gaussian noise, converted back to east/north/up
with its covariance, and flagged FRIEND when its IFF transponder replies; false
alarms are added (Poisson, uniform in range and azimuth, low elevation) once per
scan (the first frame of each stimulation time). Plots carry ``track_id`` 0,
status TENTATIVE and the truth id as a scoring annotation ("" for false alarms).
The defaults equal a scenario radar's defaults (``bmc/scenario/models.py``).

The coverage test (range, horizon, elevation) is the bridge's: the board sees
only what the radar could see. A ``NodeState`` beacon every ``--beacon-period-s``
tells the bridge the board is alive between scans.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import sys
import time
from dataclasses import dataclass

import numpy as np

from hil.framing import FrameError, frame_message, message_frame
from hil.serial_link import BlockingLink, SerialConfig
from protocols import messages as m
from sensors.detection import (
    FALSE_ALARM_MIN_RANGE_M,
    detection_probability,
    enu_to_polar,
    polar_covariance_to_enu,
    polar_to_enu,
)

log = logging.getLogger("sensor_board")


@dataclass(frozen=True, slots=True)
class BoardModel:
    """Detection and measurement parameters; names, units and defaults as a scenario's ``radars[]``."""

    max_range_m: float = 75_000.0
    reference_range_m: float = 40_000.0
    reference_rcs_m2: float = 1.0
    reference_pd: float = 0.9
    false_alarm_probability: float = 1e-6
    swerling: int = 1
    false_alarms_per_scan: float = 0.5
    max_elevation_deg: float = 60.0
    sigma_range_m: float = 30.0
    sigma_azimuth_deg: float = 0.3
    sigma_elevation_deg: float = 0.5
    iff: bool = True
    iff_reply_probability: float = 0.99

    def __post_init__(self) -> None:
        for name in ("max_range_m", "reference_range_m", "reference_rcs_m2", "max_elevation_deg"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 (got {getattr(self, name)})")
        for name in ("sigma_range_m", "sigma_azimuth_deg", "sigma_elevation_deg", "false_alarms_per_scan"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (got {getattr(self, name)})")
        if self.swerling not in (0, 1):
            raise ValueError(f"swerling must be 0 or 1 (got {self.swerling})")
        if not 0 < self.reference_pd < 1 or not 0 < self.false_alarm_probability < 0.1:
            raise ValueError(
                f"need 0 < reference_pd < 1 and 0 < false_alarm_probability < 0.1 "
                f"(got {self.reference_pd}, {self.false_alarm_probability})"
            )
        if not 0 <= self.iff_reply_probability <= 1:
            raise ValueError(f"iff_reply_probability must be in [0, 1] (got {self.iff_reply_probability})")


def detect(
    stimulus: m.TruthReport,
    model: BoardModel,
    rng: np.random.Generator,
    scan_time_s: float,
    false_alarms: bool,
) -> m.TrackReport:
    """Plots of one stimulation frame (antenna-centred ENU in, antenna-centred ENU out). Pure."""
    n = len(stimulus)
    rel = stimulus.state[:, :3].reshape(-1, 3)
    # Every draw made for every object, so the stream does not depend on what is detected.
    detect_draw = rng.random(n)
    noise = rng.standard_normal((n, 3))
    iff_draw = rng.random(n)
    n_false = int(rng.poisson(model.false_alarms_per_scan)) if false_alarms else 0
    false_draw = rng.random((n_false, 3))

    origin = np.zeros(3)
    range_m, azimuth_rad, elevation_rad = enu_to_polar(origin, rel)
    pd = (
        detection_probability(
            range_m,
            stimulus.rcs_m2,
            reference_range_m=model.reference_range_m,
            reference_rcs_m2=model.reference_rcs_m2,
            reference_pd=model.reference_pd,
            false_alarm_probability=model.false_alarm_probability,
            swerling=model.swerling,
        )
        if n
        else np.zeros(0)
    )
    hit = np.flatnonzero(detect_draw < pd)
    sigmas = np.array(
        [model.sigma_range_m, math.radians(model.sigma_azimuth_deg), math.radians(model.sigma_elevation_deg)]
    )
    meas = np.stack([range_m[hit], azimuth_rad[hit], elevation_rad[hit]], axis=-1) + noise[hit] * sigmas
    reply = stimulus.iff[hit] & (iff_draw[hit] < model.iff_reply_probability) & model.iff

    min_range_m = min(FALSE_ALARM_MIN_RANGE_M, 0.5 * model.max_range_m)
    max_false_el_rad = min(math.radians(model.max_elevation_deg), math.radians(10.0))
    r_all = np.concatenate(
        [np.maximum(meas[:, 0], 1.0), min_range_m + false_draw[:, 0] * (model.max_range_m - min_range_m)]
    )
    az_all = np.concatenate([np.mod(meas[:, 1], 2 * np.pi), false_draw[:, 1] * 2 * np.pi])
    el_all = np.concatenate([np.clip(meas[:, 2], -np.pi / 2, np.pi / 2), false_draw[:, 2] * max_false_el_rad])
    k = len(r_all)
    state = np.zeros((k, 6))
    state[:, :3] = polar_to_enu(origin, r_all, az_all, el_all).reshape(-1, 3)
    cov = np.zeros((k, 6, 6))
    if k:
        cov[:, :3, :3] = polar_covariance_to_enu(r_all, az_all, el_all, *sigmas)
    identity = np.where(
        np.concatenate([reply, np.zeros(n_false, dtype=bool)]), m.Identity.FRIEND, m.Identity.PENDING
    )
    return m.TrackReport(
        scan_time_s=scan_time_s,
        track_id=np.zeros(k, dtype=np.int64),
        state=state,
        covariance=cov,
        status=np.full(k, m.TrackStatus.TENTATIVE, dtype=np.int64),
        identity=identity.astype(np.int64),
        classification=np.full(k, m.Classification.UNKNOWN, dtype=np.int64),
        truth_id=tuple(stimulus.object_id[i] for i in hit.tolist()) + ("",) * n_false,
    )


def _parser() -> argparse.ArgumentParser:
    d = BoardModel()
    p = argparse.ArgumentParser(
        prog="python -m hil.devices.sensor_board", description="Sensor-board emulator on a serial link."
    )
    p.add_argument("--port", required=True, help="serial device or pty link")
    p.add_argument("--baud", type=int, default=115200, help="line rate (default 115200)")
    p.add_argument("--id", default="R1", help="radar id put in the headers (default R1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the detection noise (default 0)")
    p.add_argument(
        "--beacon-period-s", type=float, default=0.1, help="wall seconds between beacons (default 0.1)"
    )
    for name, value in (
        ("max_range_m", d.max_range_m),
        ("reference_range_m", d.reference_range_m),
        ("reference_rcs_m2", d.reference_rcs_m2),
        ("reference_pd", d.reference_pd),
        ("false_alarm_probability", d.false_alarm_probability),
        ("false_alarms_per_scan", d.false_alarms_per_scan),
        ("max_elevation_deg", d.max_elevation_deg),
        ("sigma_range_m", d.sigma_range_m),
        ("sigma_azimuth_deg", d.sigma_azimuth_deg),
        ("sigma_elevation_deg", d.sigma_elevation_deg),
        ("iff_reply_probability", d.iff_reply_probability),
    ):
        p.add_argument(
            "--" + name.replace("_", "-"), dest=name, type=float, default=value, help=f"default {value}"
        )
    p.add_argument("--swerling", type=int, choices=(0, 1), default=d.swerling)
    p.add_argument("--no-iff", dest="iff", action="store_false", help="no IFF interrogator")
    p.add_argument("--duration-s", type=float, default=None, help="stop after this many wall seconds")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the board until interrupted; prints a JSON summary at the end."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        model = BoardModel(
            max_range_m=args.max_range_m,
            reference_range_m=args.reference_range_m,
            reference_rcs_m2=args.reference_rcs_m2,
            reference_pd=args.reference_pd,
            false_alarm_probability=args.false_alarm_probability,
            swerling=args.swerling,
            false_alarms_per_scan=args.false_alarms_per_scan,
            max_elevation_deg=args.max_elevation_deg,
            sigma_range_m=args.sigma_range_m,
            sigma_azimuth_deg=args.sigma_azimuth_deg,
            sigma_elevation_deg=args.sigma_elevation_deg,
            iff=args.iff,
            iff_reply_probability=args.iff_reply_probability,
        )
        config = SerialConfig(args.port, args.baud)
        if not args.beacon_period_s > 0:
            raise ValueError(f"--beacon-period-s must be > 0 (got {args.beacon_period_s})")
    except ValueError as exc:
        print(f"sensor_board: {exc}", file=sys.stderr)
        return 2
    return run(
        args.id, model, config, np.random.default_rng(args.seed), args.beacon_period_s, args.duration_s
    )


def run(
    board_id: str,
    model: BoardModel,
    config: SerialConfig,
    rng: np.random.Generator,
    beacon_period_s: float,
    duration_s: float | None,
) -> int:
    """The board loop: answer stimulations, beacon, until stopped."""
    link = BlockingLink(config)
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: stopping.append(signum))
    sequences: dict[type, int] = {}
    boot_id = time.time_ns() // 1_000_000

    def send(body: m.Body, sim_s: float) -> None:
        seq = sequences[type(body)] = sequences.get(type(body), 0) + 1
        link.send(message_frame(link.next_seq(), m.Header(board_id, seq, sim_s), body))

    started = time.monotonic()
    next_beacon = started
    last_scan: float | None = None
    last_sim = 0.0
    counts = {"stimulations": 0, "plots": 0, "bad_frames": 0}
    try:
        while not stopping:
            now = time.monotonic()
            if duration_s is not None and now - started > duration_s:
                break
            if now >= next_beacon and link.connected:
                send(m.NodeState(board_id, "radar", m.NodeStatus.BIRTH, boot_id), last_sim)
                next_beacon = now + beacon_period_s
            for frame in link.read_frames(max(0.0, min(next_beacon - time.monotonic(), 0.2))):
                try:
                    msg = frame_message(frame)
                except FrameError as exc:
                    counts["bad_frames"] += 1
                    log.warning("bad frame payload: %s", exc)
                    continue
                if isinstance(msg.body, m.TruthReport):
                    t = msg.header.sim_time_s
                    plots = detect(msg.body, model, rng, t, false_alarms=t != last_scan)
                    last_scan = last_sim = t
                    counts["stimulations"] += 1
                    counts["plots"] += len(plots)
                    send(plots, t)
                elif isinstance(msg.body, m.NodeState):
                    next_beacon = 0.0  # the bridge asks: answer at once
    except KeyboardInterrupt:
        pass
    finally:
        link.close()
    print(json.dumps({"board": board_id, **counts, "link": link.stats.as_dict()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
