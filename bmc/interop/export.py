"""A recording as a pcap of ASTERIX or DIS datagrams: ``bmc export REC.mcap --format ... --out F.pcap``.

The same feeds as the live gateway read the recorded messages in order; each datagram is
stamped with the recording's start (its ``started_unix_ns``, or ``epoch_unix_s``) plus its
simulated time, and sent (in the file) to the standard's port: Wireshark opens the file and
dissects it without being told anything. A damaged recording exports what is readable
and says where it stopped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bmc.interop.asterix_feed import AsterixFeed
from bmc.interop.dis_feed import DisFeed
from bmc.interop.feed import ASTERIX, DEFAULT_PORTS, Datagram, Feed, TimeBase
from bmc.record import recorded_scenario
from bmc.scenario import Scenario
from protocols import codec
from protocols.pcap import Endpoints, PcapWriter
from protocols.recording import RECORDING_METADATA, Recording, RecordingError, read_recording
from protocols.topics import parse_topic

FORMATS = (ASTERIX, "dis")


@dataclass(slots=True)
class ExportSummary:
    """What an export wrote."""

    path: Path
    datagrams: int = 0
    bytes: int = 0
    messages: int = 0
    """Recorded messages read."""
    undecodable: int = 0
    first_s: float | None = None
    last_s: float | None = None
    epoch_unix_s: float = 0.0
    records: int = 0
    """ASTERIX track records, or DIS PDUs."""
    kinds: Counter[str] = field(default_factory=Counter)
    """Datagrams by kind: ``CAT062``..., or ``EntityState``..."""
    damage: str | None = None
    skipped: dict[str, int] = field(default_factory=dict)
    """ASTERIX records out of their item's range (``AsterixFeed.skipped``)."""

    def lines(self) -> list[str]:
        span = "" if self.first_s is None else f", simulated {self.first_s:.1f}-{self.last_s:.1f} s"
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.kinds.items()))
        out = [f"{self.path}: {self.datagrams} datagrams, {self.bytes} bytes{span} ({kinds or 'none'})"]
        if self.skipped:
            out.append(
                "not sent (out of the item's range): "
                + ", ".join(f"{k} {n}" for k, n in sorted(self.skipped.items()))
            )
        if self.undecodable:
            out.append(f"skipped {self.undecodable} undecodable messages")
        if self.damage:
            out.append(f"recording damaged, exported what was readable: {self.damage}")
        return out


def _kind(d: Datagram) -> str:
    if d.stream == ASTERIX:
        return f"CAT{d.payload[0]:03d}"
    return {1: "EntityState", 2: "Fire", 3: "Detonation"}.get(d.payload[2], f"pdu{d.payload[2]}")


def recording_epoch(meta: dict[str, str]) -> float | None:
    """Unix seconds when the recording started, from its ``bmc.recording`` record."""
    text = meta.get("started_unix_ns", "")
    return int(text) / 1e9 if text.isdigit() else None


def open_recorded(
    recording: str | Path, epoch_unix_s: float | None = None
) -> tuple[Recording, Scenario, TimeBase]:
    """A recording to export, its scenario and its time base: ``epoch_unix_s``, else when the
    recording started (0 if it does not say). ScenarioError/RecordingError as :func:`export`."""
    rec = read_recording(recording)
    scenario = recorded_scenario(rec)
    epoch = epoch_unix_s if epoch_unix_s is not None else recording_epoch(rec.meta(RECORDING_METADATA))
    return rec, scenario, TimeBase(epoch if epoch is not None else 0.0)


def export(
    recording: str | Path,
    out: str | Path,
    make_feed: Callable[[Scenario, TimeBase], Feed],
    *,
    epoch_unix_s: float | None = None,
    port: int | None = None,
) -> ExportSummary:
    """Write the datagrams ``make_feed(scenario, time)`` makes of ``recording`` to the pcap ``out``.

    ScenarioError/RecordingError when the recording has no usable scenario or nothing is readable."""
    rec, scenario, time = open_recorded(recording, epoch_unix_s)
    feed = make_feed(scenario, time)
    summary = ExportSummary(Path(out), epoch_unix_s=time.epoch_unix_s)
    made: list[Datagram] = []
    try:
        for rm in rec.messages():
            summary.messages += 1
            parts = parse_topic(rm.topic)
            if parts is None or not feed.wanted(parts):
                continue
            try:
                msg = codec.decode(rm.payload)
            except codec.DecodeError:
                summary.undecodable += 1
                continue
            made += feed.feed(parts, msg, rm.time_s)
    except RecordingError as exc:
        summary.damage = str(exc)
    made.sort(key=lambda d: d.time_s)  # stable: same-time datagrams keep bus order
    dport = port or DEFAULT_PORTS[feed.stream]
    ends = Endpoints(src_port=dport, dst_port=dport)
    with open(out, "wb") as f:
        writer = PcapWriter(f, ends)
        for d in made:
            writer.write(max(round(time.unix_s(d.time_s) * 1e9), 0), d.payload)
            summary.bytes += len(d.payload)
            summary.kinds[_kind(d)] += 1
    summary.datagrams = len(made)
    if made:
        summary.first_s, summary.last_s = made[0].time_s, made[-1].time_s
    summary.records = feed.records
    summary.skipped = dict(getattr(feed, "skipped", {}))
    return summary


def asterix_feed(**options: object) -> Callable[[Scenario, TimeBase], Feed]:
    """A feed maker for :func:`export`: ``AsterixFeed(scenario, time, **options)``."""
    return lambda s, t: AsterixFeed(s, t, **options)  # type: ignore[arg-type]


def dis_feed(**options: object) -> Callable[[Scenario, TimeBase], Feed]:
    """A feed maker for :func:`export`: ``DisFeed(scenario, time, **options)``."""
    return lambda s, t: DisFeed(s, t, **options)  # type: ignore[arg-type]
