"""The ASTERIX gateway next to a bare MQTT -> UDP relay, side by side on one broker, in one run.

    python benchmarks/bench_gateway.py [--quick] [--speed X]

The workload is the saturation raid itself: sim_configs/saturation_raid.yaml is run in
virtual time and recorded, and the FDC's pictures (up to 220 tracks, 107 on average) and
the four radars' track reports are published again on a private Mosquitto, sealed as their
senders', at ``--speed`` times their recorded pace (default 10: about 2,000 track records
a second, twice the gateway's 1,000/s requirement; ``--quick``: the busiest 120 simulated
seconds only). Two subscribers run as their own processes: ``bmc gateway --cat 062,048``
(the real command: every seal checked, each message decoded and translated, one datagram
per block) and a bare relay (paho: each payload sent on as it is, no decoding). Two UDP
sockets here stamp every datagram on the same monotonic clock as the publisher.

Per message: latency = arrival of its last datagram - publication; the gateway's added
latency is its latency minus the relay's for the same message. The gateway's k-th distinct
CAT062 time of day is the k-th picture, and likewise per radar (SIC) for CAT048.
Timing stays out of the test suite; the load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bmc.cli import main as bmc_main  # noqa: E402
from bmc.engine.clock import nearest_rank as pct  # noqa: E402
from bmc.engine.runner import cell_identities  # noqa: E402
from bmc.interop.asterix_feed import AsterixFeed  # noqa: E402
from bmc.interop.feed import TimeBase  # noqa: E402
from bmc.keys import derived  # noqa: E402
from bmc.scenario import load_scenario  # noqa: E402
from bmc.testing import HOST, Broker, UdpCapture  # noqa: E402
from protocols import codec  # noqa: E402
from protocols import messages as m  # noqa: E402
from protocols.recording import read_recording  # noqa: E402
from protocols.topics import root_for  # noqa: E402

SCENARIO = ROOT / "sim_configs" / "saturation_raid.yaml"
QUICK_WINDOW_S = 120.0


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min, {os.cpu_count()} CPUs)"


def first_time_of_day(block: bytes) -> tuple[int, float]:
    """(SIC, time of day) of a CAT062 or CAT048 block's first record (our encoders' item order:
    FSPEC, 010, then 015 + 070 for CAT062, 140 for CAT048)."""
    at = 3
    while block[at] & 1:
        at += 1
    at += 1
    sic = block[at + 1]
    at += 2 + (1 if block[0] == 62 else 0)
    return sic, int.from_bytes(block[at : at + 3], "big") / 128.0


def relay(port: int, topic_filter: str, udp_port: int) -> None:
    """The bare relay: paho, each payload to UDP as it arrives (no decoding, no checks)."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"relay-{os.getpid()}")

    def forward(_c: object, _u: object, msg: paho.MQTTMessage) -> None:
        sock.sendto(msg.payload, (HOST, udp_port))

    client.on_message = forward
    client.on_connect = lambda c, *_a: c.subscribe(topic_filter, qos=0)
    client.connect(HOST, port)
    print("relay: connected", flush=True)
    client.loop_forever()


def records_of(payload: bytes) -> int:
    """Track records in a picture or track report."""
    body = codec.decode(payload).body
    return len(body) if isinstance(body, (m.AirPicture, m.TrackReport)) else 0


def workload(directory: Path, quick: bool) -> list[tuple[float, str, bytes]]:
    """(simulated time, topic, sealed payload) of the raid's pictures and track reports."""
    rec = directory / "raid.mcap"
    assert bmc_main(["run", str(SCENARIO), "--record", str(rec), "--quiet"]) in (0, 1)
    scenario = load_scenario(SCENARIO)
    root = root_for(scenario.name)
    keyring = derived(scenario).keyring(cell_identities(scenario), epoch=int(time.time() * 1000))
    out = []
    for rm in read_recording(rec).messages():
        if rm.topic.endswith(("/picture", "/tracks")):
            sender = codec.header_of(rm.payload).sender
            out.append((rm.time_s, rm.topic, keyring.seal(root, rm.topic, sender, rm.payload)))
    if quick:  # the busiest window: most track records
        sizes = [(t, records_of(p)) for t, _topic, p in out]
        best = max(
            range(len(sizes)),
            key=lambda i: sum(n for t, n in sizes if sizes[i][0] <= t < sizes[i][0] + QUICK_WINDOW_S),
        )
        start = sizes[best][0]
        out = [x for x in out if start <= x[0] < start + QUICK_WINDOW_S]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help=f"the busiest {QUICK_WINDOW_S:.0f} simulated s only"
    )
    parser.add_argument("--speed", type=float, default=10.0, help="times the recorded pace (default 10)")
    parser.add_argument("--relay", nargs=3, metavar=("PORT", "FILTER", "UDP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.relay:
        relay(int(args.relay[0]), args.relay[1], int(args.relay[2]))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        work = workload(Path(tmp), args.quick)
        records = sum(records_of(p) for _t, _topic, p in work)
        span_s = (work[-1][0] - work[0][0]) / args.speed
        print(
            f"bench_gateway: {len(work)} messages ({records:,} track records) of the saturation raid at "
            f"{args.speed:g}x: {records / span_s:,.0f} records/s for {span_s:.0f} s; {loadavg()}"
        )
        broker = Broker(Path(tmp))
        broker.start()
        ours, bare = UdpCapture(time.monotonic_ns), UdpCapture(time.monotonic_ns)
        env = {k: v for k, v in os.environ.items() if not k.startswith("BMC_")}
        gateway_cmd = [
            sys.executable,
            "-m",
            "bmc",
            "gateway",
            "--scenario",
            str(SCENARIO),
            "--mqtt",
            broker.url,
        ]
        gateway_cmd += ["--insecure-demo-keys", "--asterix", f"udp://{HOST}:{ours.port}", "--cat", "062,048"]
        relay_cmd = [
            sys.executable,
            __file__,
            "--relay",
            str(broker.port),
            f"{root_for('saturation_raid')}/#",
        ]
        procs = [
            subprocess.Popen(
                gateway_cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
            ),
            subprocess.Popen(
                [*relay_cmd, str(bare.port)],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                env=env,
            ),
        ]
        sent: list[int] = []
        try:
            for p in procs:
                assert p.stdout is not None
                line = p.stdout.readline()
                assert "connected" in line, line
            time.sleep(0.5)
            import paho.mqtt.client as paho
            from paho.mqtt.enums import CallbackAPIVersion

            pub = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-pub")
            pub.connect(HOST, broker.port)
            pub.loop_start()
            t0, sim0 = time.monotonic(), work[0][0]
            for sim_t, topic, payload in work:
                delay = t0 + (sim_t - sim0) / args.speed - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                sent.append(time.monotonic_ns())
                pub.publish(topic, payload, qos=0)
            time.sleep(1.0)
            pub.loop_stop()
            pub.disconnect()
        finally:
            procs[0].send_signal(2)  # SIGINT: the gateway prints its summary
            summary = procs[0].communicate(timeout=30)[0]
            procs[1].kill()
            procs[1].wait(10)
            ours_got, bare_got = ours.close(), bare.close()
            broker.stop()
    report(work, sent, ours_got, bare_got, summary)
    return 0


def report(
    work: list[tuple[float, str, bytes]],
    sent: list[int],
    ours_got: list[tuple[int, bytes]],
    bare_got: list[tuple[int, bytes]],
    summary: str,
) -> None:
    # The relay's datagrams are the payloads: matched by (sender, sequence).
    index = {
        (h.sender, h.sequence): k for k, (_t, _topic, p) in enumerate(work) for h in [codec.header_of(p)]
    }
    bare_at = {index[(h.sender, h.sequence)]: at for at, d in bare_got for h in [codec.header_of(d)]}
    # Ours: per source (CAT062, or CAT048 by SIC), the k-th distinct time of day is the k-th message.
    by_source: dict[tuple[int, int], dict[float, int]] = defaultdict(dict)
    for at, d in ours_got:
        sic, tod = first_time_of_day(d)
        last = by_source[(d[0], sic)]
        last[tod] = max(last.get(tod, 0), at)
    # A picture makes CAT062 when it holds a track, or a track-end record for one just gone.
    pictures: list[int] = []
    before: set[int] = set()
    for k, (_t, topic, p) in enumerate(work):
        if topic.endswith("/picture"):
            body = codec.decode(p).body
            ids = set(body.track_id.tolist()) if isinstance(body, m.AirPicture) else set()
            if ids or before - ids:
                pictures.append(k)
            before = ids
    radars: dict[str, list[int]] = defaultdict(list)
    for k, (_t, topic, p) in enumerate(work):
        if topic.endswith("/tracks") and records_of(p):
            radars[topic].append(k)  # an empty report makes no CAT048
    ours_at: dict[int, int] = {}
    sites = AsterixFeed(load_scenario(SCENARIO), TimeBase(0.0)).radars  # the gateway's defaults
    streams = {(62, 1): pictures} | {(48, sites[t.rsplit("/", 2)[1]].sic): v for t, v in radars.items()}
    lost = 0
    for source, msgs in streams.items():
        tods = sorted(by_source.get(source, {}))
        lost += abs(len(tods) - len(msgs))
        for k, tod in zip(msgs, tods, strict=False):
            ours_at[k] = by_source[source][tod]
    lost += sum(len(v) for src, v in by_source.items() if src not in streams)
    both = sorted(set(ours_at) & set(bare_at))
    lat_ours = sorted((ours_at[k] - sent[k]) / 1e6 for k in both)
    lat_bare = sorted((bare_at[k] - sent[k]) / 1e6 for k in both)
    added = sorted((ours_at[k] - bare_at[k]) / 1e6 for k in both)
    n = len(sent)
    print(f"  messages with datagrams: gateway {len(ours_at)}/{n} ({lost} unmatched), relay {len(bare_at)}")
    for name, lat in (
        ("relay (bare MQTT->UDP)", lat_bare),
        ("gateway (bmc gateway)", lat_ours),
        ("gateway - relay, same message", added),
    ):
        p50, p99 = pct(lat, 0.5, True), pct(lat, 0.99, True)
        print(f"  {name:30s} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  max {lat[-1]:6.2f} ms")
    worst = sorted(both, key=lambda k: ours_at[k] - bare_at[k])[-3:]
    print(
        "  slowest: "
        + ", ".join(
            f"#{k} ({work[k][1].rsplit('/', 2)[1]}) {(ours_at[k] - bare_at[k]) / 1e6:.1f} ms" for k in worst
        )
    )
    for line in summary.splitlines():
        if "translation per message" in line or "datagrams" in line:
            print(f"  gateway says: {line.strip().removeprefix('gateway:').strip()}")
    print(f"  {loadavg()}")


if __name__ == "__main__":
    sys.exit(main())
