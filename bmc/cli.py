"""``bmc``: the command line. Turns every error into one clear line and an exit code.

Exit codes: 0 success (every ``expect`` check holds), 1 a check failed,
2 bad input (unreadable or invalid scenario, bad arguments).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, NoReturn, TextIO

from bmc.engine.realtime import RealtimeError, RealtimeOptions, node_kind, run_cell, run_node
from bmc.engine.runner import run_virtual
from bmc.scenario import ScenarioError, load_scenario
from protocols.mqtt import BrokerConfig, BrokerError

BROKER_CONF = """\
# mosquitto.conf for a HIL rig running bmc (Mosquitto 2.x).
listener 1883 127.0.0.1
allow_anonymous true
# Without this, Nagle's algorithm plus delayed ACKs add 40-90 ms to every QoS 1 exchange.
set_tcp_nodelay true
# Many nodes publish QoS 1 orders and reports in bursts.
max_inflight_messages 1000
max_queued_messages 10000
# Nothing to write (started as root, mosquitto drops to its own user). A rig that must keep
# the retained births/deaths across broker restarts sets persistence true and a
# persistence_location that user can write.
persistence false
# For TLS, add a second listener:
# listener 8883
# cafile /etc/mosquitto/ca.crt
# certfile /etc/mosquitto/server.crt
# keyfile /etc/mosquitto/server.key
# require_certificate true
"""

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"bmc: error: {message}\n")


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number (got {text!r})") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 (got {value})")
    return value


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="bmc", description="Air-defence battle-management emulator.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run a scenario in virtual time and print its engagement report")
    run.add_argument("scenario", type=Path, help="scenario YAML file")
    run.add_argument("--seed", type=_seed, help="override the scenario's seed")
    run.add_argument(
        "--json", type=Path, metavar="PATH", help="also write the report as JSON ('-' for stdout)"
    )
    run.add_argument("--quiet", action="store_true", help="no progress and no table")
    run.add_argument("--realtime", action="store_true", help="pace to the wall clock (needs --mqtt)")
    run.add_argument(
        "--speed", type=_speed, default=1.0, help="simulated seconds per wall second (default 1)"
    )
    _broker_args(run)

    node = sub.add_parser("node", help="run one radar, launcher or the FDC as its own process on the broker")
    node.add_argument("node_id", help="the node's id in the scenario")
    node.add_argument("--scenario", type=Path, required=True, help="scenario YAML file")
    node.add_argument("--speed", type=_speed, default=1.0, help="must match the cell's --speed")
    _broker_args(node)

    sub.add_parser("broker-config", help="print a mosquitto.conf suited to a rig")
    return p


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number (got {text!r})") from None
    if not 0.01 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"must be in 0.01..1000 (got {value})")
    return value


def _broker_args(p: argparse.ArgumentParser) -> None:
    env = os.environ.get
    g = p.add_argument_group("broker (each also from the environment variable named)")
    g.add_argument(
        "--mqtt",
        metavar="URL",
        default=env("BMC_MQTT_URL"),
        help="mqtt://[user[:pass]@]host[:port] or mqtts://... [BMC_MQTT_URL]",
    )
    g.add_argument("--username", default=env("BMC_MQTT_USERNAME"), help="[BMC_MQTT_USERNAME]")
    g.add_argument("--password", default=env("BMC_MQTT_PASSWORD"), help="[BMC_MQTT_PASSWORD]")
    g.add_argument(
        "--client-id",
        default=env("BMC_MQTT_CLIENT_ID", "bmc"),
        help="prefix of the client ids [BMC_MQTT_CLIENT_ID]",
    )
    g.add_argument("--tls-ca", default=env("BMC_MQTT_TLS_CA"), help="CA file; implies TLS [BMC_MQTT_TLS_CA]")
    g.add_argument(
        "--tls-cert", default=env("BMC_MQTT_TLS_CERT"), help="client certificate [BMC_MQTT_TLS_CERT]"
    )
    g.add_argument("--tls-key", default=env("BMC_MQTT_TLS_KEY"), help="client key [BMC_MQTT_TLS_KEY]")
    g.add_argument(
        "--wait",
        type=float,
        default=30.0,
        metavar="S",
        help="how long to wait for external nodes or the cell's clock (default 30 s)",
    )


def _broker(args: argparse.Namespace) -> BrokerConfig:
    if not args.mqtt:
        raise ScenarioError("--mqtt URL (or BMC_MQTT_URL) is needed")
    try:
        return BrokerConfig.from_url(
            args.mqtt,
            username=args.username,
            password=args.password,
            client_id=args.client_id,
            tls=bool(args.tls_ca),
            ca_file=args.tls_ca,
            cert_file=args.tls_cert,
            key_file=args.tls_key,
        )
    except BrokerError as exc:
        raise ScenarioError(str(exc)) from None


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}".rstrip("0").rstrip(".") if v != int(v) else f"{v:.0f}"
    return str(v)


def format_report(r: dict[str, Any]) -> str:
    """The report as a readable table."""
    t = r["threats"]
    rows: list[tuple[str, str]] = [
        ("scenario", f"{r['scenario']} (seed {r['seed']})"),
        ("simulated", f"{_fmt(r['sim_time_s'])} s in {r['wall_time_s']:.2f} s wall"),
        (
            "threats",
            f"{t['total']} total: {t['killed']} killed, {t['leaked']} leaked, "
            f"{t['alive_at_end']} alive at end",
        ),
        ("friendly engaged", _fmt(r["friendly_engaged"])),
        ("missiles fired", f"{r['missiles_fired']} ({_fmt(r['missiles_per_kill'])} per kill)"),
        (
            "reaction time",
            f"p50 {_fmt(r['reaction_time_s']['p50'])} s, "
            f"p95 {_fmt(r['reaction_time_s']['p95'])} s (first detection to first launch)",
        ),
    ]
    rows += [(f"asset {a}", f"{hits} hit(s)") for a, hits in r["assets"].items()]
    rows += [(f"launcher {lid}", f"{v['fired']} fired") for lid, v in r["launchers"].items()]
    msg = r["messages"]
    rows.append(
        (
            "messages",
            f"{msg['published']} published, {msg['delivered']} delivered, "
            f"{msg['dropped']} dropped, {msg['rejected']} rejected",
        )
    )
    rows.append(("digest", r["digest"]))
    rows += [
        (f"expect {'ok  ' if e['ok'] else 'FAIL'}", f"{e['check']}  (value {_fmt(e['value'])})")
        for e in r["expect"]
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def _progress(stream: TextIO) -> Any:
    def show(now: float, duration: float) -> None:
        stream.write(f"\r  simulated {now:8.1f} / {duration:.0f} s ({100 * now / duration:3.0f} %)")
        if now >= duration:
            stream.write("\n")
        stream.flush()

    return show


def _run(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    progress = None if args.quiet or not sys.stderr.isatty() else _progress(sys.stderr)
    if args.realtime and not args.mqtt:
        raise ScenarioError("--realtime needs a broker: add --mqtt URL")
    try:
        if args.mqtt:
            options = RealtimeOptions(_broker(args), speed=args.speed, wait_external_s=args.wait)
            report = asyncio.run(run_cell(scenario, options, seed=args.seed, progress=progress))
        else:
            report = run_virtual(scenario, seed=args.seed, progress=progress)
    except (ValueError, RealtimeError) as exc:
        raise ScenarioError(f"{args.scenario}: {exc}") from None
    if args.json is not None:
        text = json.dumps(report, indent=2) + "\n"
        if str(args.json) == "-":
            sys.stdout.write(text)
        else:
            try:
                args.json.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise ScenarioError(f"{args.json}: cannot write report: {exc.strerror}") from None
    if not args.quiet and str(args.json) != "-":
        print(format_report(report))
    return EXIT_OK if all(e["ok"] for e in report["expect"]) else EXIT_CHECK_FAILED


def _node(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    options = RealtimeOptions(_broker(args), speed=args.speed, wait_external_s=args.wait)
    try:
        node_kind(scenario, args.node_id)
        summary = asyncio.run(run_node(scenario, args.node_id, options))
    except (ValueError, RealtimeError) as exc:
        raise ScenarioError(f"{args.scenario}: {exc}") from None
    print(json.dumps(summary, indent=2))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bmc`` console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "node":
            return _node(args)
        if args.command == "broker-config":
            sys.stdout.write(BROKER_CONF)
            return EXIT_OK
    except ScenarioError as exc:
        for line in str(exc).splitlines():
            print(f"bmc: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("bmc: interrupted", file=sys.stderr)
        return 130
    return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
