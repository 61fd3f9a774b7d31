"""Cost of sealing and checking messages (docs/SECURITY.md), measured side by side in one run.

    python benchmarks/bench_auth.py [--repeat 5] [--quick]

Prints, with the load average beside each figure:

- microseconds to seal and to check one track report (50 tracks), one fire order and one
  FDC heartbeat sealed for 24 launchers (best of several thousand, per receiver checked),
  and to tag a heartbeat for 24 launchers' devices and check one launcher's tag,
  and, for comparison, to sign and verify with Ed25519 (the scheme not chosen);
- CPU seconds of the saturation raid's virtual run with and without authentication,
  alternated run by run so the machine's swings hit both alike, and their ratio (best of
  ``--repeat`` each; the issue's bound is 1.10).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import timeit
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bmc.engine import runner  # noqa: E402
from bmc.scenario import load_scenario  # noqa: E402
from protocols import auth, codec  # noqa: E402
from protocols import messages as m  # noqa: E402


def _load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def _track_report(n: int) -> m.TrackReport:
    rng = np.random.default_rng(1)
    return m.TrackReport(
        scan_time_s=10.0,
        track_id=np.arange(1, n + 1),
        state=rng.normal(size=(n, 6)) * 1000,
        covariance=np.tile(np.eye(6), (n, 1, 1)),
        status=np.full(n, int(m.TrackStatus.CONFIRMED)),
        identity=np.full(n, int(m.Identity.HOSTILE)),
        classification=np.full(n, int(m.Classification.DRONE)),
        truth_id=tuple("" for _ in range(n)),
    )


def micro(number: int) -> None:
    roles = auth.Roles("FDC", tuple(f"R{i}" for i in range(4)), tuple(f"L{i}" for i in range(24)))
    ring = auth.Keyring(roles, auth.derived_keys("bench", roles), roles.nodes)
    root = "bmc/v1/bench"
    order = m.FireOrder(
        "FDC-00001", "L3", 7, (1.0, 2.0, 3.0), (4.0, 5.0, 6.0), (7.0, 8.0, 9.0), 30.0, 2, 1.0, 11.0
    )
    cases: list[tuple[str, str, str, m.Body, str]] = [
        ("track report, 50 tracks", f"{root}/radar/R1/tracks", "R1", _track_report(50), "FDC"),
        ("fire order", f"{root}/launcher/L3/order", "FDC", order, "L3"),
        (
            "heartbeat, 24 launchers",
            f"{root}/fdc/FDC/heartbeat",
            "FDC",
            m.FdcHeartbeat("FDC", m.WeaponsControl.FREE, 3, 0, ()),
            "L7",
        ),
    ]
    print(f"per message, best of 5 x {number} ({_load()}):")
    for name, topic, sender, body, receiver in cases:
        seal_us, check_us, content, payload = _time_case(ring, root, topic, sender, body, receiver, number)
        print(
            f"  {name:26} {len(content):6d} B + {len(payload) - len(content):4d} B seal   "
            f"seal {seal_us:6.2f} us   check {check_us:6.2f} us"
        )
    # The heartbeat's own tags (one per launcher, with its fire-order key): what a serial device checks.
    hb = m.FdcHeartbeat("FDC", m.WeaponsControl.FREE, 3, 0, (), 12.5)
    keys = {f"L{i}": bytes([i]) * 32 for i in range(24)}
    nonces = {lid: 0x1234 + i for i, lid in enumerate(keys)}
    tagged = codec.sign_heartbeat(hb, keys, nonces)
    sign_s = min(timeit.repeat(lambda: codec.sign_heartbeat(hb, keys, nonces), number=number, repeat=5))
    verify_s = min(
        timeit.repeat(
            lambda: codec.verify_heartbeat(tagged, "L7", keys["L7"], nonces["L7"]), number=number, repeat=5
        )
    )
    print(
        f"  {'heartbeat tags, 24':26} {'':>20}   "
        f"tag  {sign_s / number * 1e6:6.2f} us   verify {verify_s / number * 1e6:6.2f} us (one launcher's)"
    )


def ed25519(number: int) -> None:
    """For comparison, the scheme not chosen (docs/SECURITY.md): Ed25519 via cryptography."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    data = b"x" * 200
    signature = key.sign(data)
    sign_s = min(timeit.repeat(lambda: key.sign(data), number=number, repeat=5))
    verify_s = min(timeit.repeat(lambda: public.verify(signature, data), number=number, repeat=5))
    print(
        f"  {'(Ed25519, 200 B, not used)':26} {'':>20}   "
        f"sign {sign_s / number * 1e6:6.2f} us   verify {verify_s / number * 1e6:6.2f} us   ({_load()})"
    )


def _time_case(
    ring: auth.Keyring, root: str, topic: str, sender: str, body: m.Body, receiver: str, number: int
) -> tuple[float, float, bytes, bytes]:
    """(us to seal, us to check, content, sealed payload) of one message."""
    content = codec.encode(m.Header(sender, 1, 1.0), body)
    seal_s = min(timeit.repeat(lambda: ring.seal(root, topic, sender, content), number=number, repeat=5))
    payload = ring.seal(root, topic, sender, content)
    seq = iter(range(2, 10**9))

    def check() -> None:
        ring._last = (b"", b"")  # a receiver in another process: it hashes the content itself
        ring.check(root, topic, receiver, sender, next(seq), payload)

    check_s = min(timeit.repeat(check, number=number, repeat=5))
    return seal_s / number * 1e6, check_s / number * 1e6, content, payload


def raid(path: Path, repeat: int) -> None:
    scenario = load_scenario(path)
    cpu: dict[bool, list[float]] = {True: [], False: []}
    digests: dict[bool, str] = {}
    print(f"{path.name}, virtual, CPU s per run (alternated):")
    for k in range(repeat):
        for authenticate in (k % 2 == 0, k % 2 != 0):
            t0 = time.process_time()
            cell = runner.build(scenario, authenticate=authenticate)
            runner.start(cell)
            cell.env.run(until=scenario.duration_s)
            cpu[authenticate].append(time.process_time() - t0)
            digests[authenticate] = runner.report(cell, 0.0).digest
        print(f"  round {k + 1}: sealed {cpu[True][-1]:.3f}  unsealed {cpu[False][-1]:.3f}   ({_load()})")
    best_on, best_off = min(cpu[True]), min(cpu[False])
    assert digests[True] == digests[False], "authentication changed the run"
    ratio = best_on / best_off
    print(f"  best: sealed {best_on:.3f} s, unsealed {best_off:.3f} s: ratio {ratio:.3f} (bound 1.10)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", type=Path, default=ROOT / "sim_configs" / "saturation_raid.yaml")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    args = ap.parse_args()
    micro(200 if args.quick else 2000)
    ed25519(100 if args.quick else 1000)
    raid(args.scenario, 1 if args.quick else args.repeat)


if __name__ == "__main__":
    main()
