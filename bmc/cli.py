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
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TextIO

from bmc.engine.realtime import RealtimeError, RealtimeOptions, node_kind, run_cell, run_node
from bmc.engine.report import RunReport
from bmc.engine.runner import cell_identities, external_nodes, run_virtual
from bmc.engine.threads import pin_blas_threads
from bmc.keys import roles_of
from bmc.progress import Progress
from bmc.scenario import DEFAULT_LIMITS, Limits, Scenario, ScenarioError, load_scenario
from bmc.testing import rig_broker_conf
from protocols.auth import OPERATOR
from protocols.errors import UsageError
from protocols.mqtt import BrokerConfig, BrokerError

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"bmc: error: {message}\n")


def _whole(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= ``minimum``, the bad text quoted otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number (got {text!r})") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum} (got {value})")
        return value

    return parse


_seed = _whole(0)
_positive = _whole(1)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="bmc", description="Air-defence battle-management emulator.")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    init = sub.add_parser("init", help="copy an example scenario to start from (see --list)")
    init.add_argument(
        "example", nargs="?", default="single_engagement", help="example name (default: the tutorial)"
    )
    init.add_argument("--out", type=Path, help="file to write (default: ./<example>.yaml); never overwritten")
    init.add_argument("--list", action="store_true", help="list the examples and what each shows")
    run = sub.add_parser("run", help="run a scenario in virtual time and print its engagement report")
    run.add_argument("scenario", type=Path, help="scenario YAML file")
    run.add_argument("--seed", type=_seed, help="override the scenario's seed")
    run.add_argument(
        "--json", type=Path, metavar="PATH", help="also write the report as JSON ('-' for stdout)"
    )
    run.add_argument("--quiet", action="store_true", help="no progress and no table")
    run.add_argument(
        "--junit", type=Path, metavar="PATH", help="also write each expect check as a JUnit XML test case"
    )
    run.add_argument(
        "--record",
        type=Path,
        metavar="PATH",
        help="record every message on the bus to an MCAP file (for bmc replay and bmc report)",
    )
    run.add_argument(
        "--realtime", action="store_true", help="pace to the wall clock (what --mqtt does; needs --mqtt)"
    )
    run.add_argument(
        "--speed", type=_speed, help="with --mqtt: simulated seconds per wall second (default 1)"
    )
    _limit_args(run)
    _broker_args(run)
    _key_args(run)

    node = sub.add_parser("node", help="run one radar, launcher or the FDC as its own process on the broker")
    node.add_argument("node_id", help="the node's id in the scenario")
    node.add_argument("--scenario", type=Path, required=True, help="scenario YAML file")
    node.add_argument(
        "--speed", type=_speed, help="the cell's --speed (default: follow the cell's, from the world's birth)"
    )
    _limit_args(node)
    _broker_args(node)
    _key_args(node)

    keys = sub.add_parser("keys", help="make the cell's keys: one secret per node pair, owner-only files")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, parser_class=_Parser)
    kinit = keys_sub.add_parser("init", help="create fresh keys for every node of a scenario")
    kinit.add_argument("scenario", type=Path, help="scenario YAML file")
    kinit.add_argument("--out", type=Path, required=True, help="new (or empty) directory to write them to")
    _limit_args(kinit)

    cmd = sub.add_parser(
        "command", help="as the operator: set the FDC's weapons control (sealed with its key)"
    )
    cmd.add_argument("scenario", type=Path, help="scenario YAML file")
    cmd.add_argument("weapons_control", choices=("free", "tight", "hold"), help="the status to set")
    cmd.add_argument("--note", default="", help="a note the command carries")
    _limit_args(cmd)
    _broker_args(cmd)
    _key_args(cmd)

    _sweep_args(sub)
    _hil_args(sub)
    _replay_args(sub)

    bc = sub.add_parser(
        "broker-config",
        help="print a mosquitto.conf suited to a rig (--acl: per-node users and an ACL for a scenario)",
    )
    bc.add_argument("--scenario", type=Path, help="scenario YAML file (with --acl)")
    bc.add_argument("--acl", action="store_true", help="one user per node, allowed only its own topics")
    bc.add_argument("--out", type=Path, help="with --acl: new (or empty) directory to write to")
    bc.add_argument("--port", type=int, default=1883, help="with --acl: the listener's port (default 1883)")
    bc.add_argument(
        "--tls", action="store_true", help="with --acl: a TLS listener, a CA and a certificate per node"
    )
    _run_arg(bc)
    _limit_args(bc)
    return p


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("bmc-emulator")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _examples() -> dict[str, Any]:
    """The example scenarios shipped with the package, by name."""
    from importlib import resources

    root = resources.files("sim_configs")
    return {
        p.name.removesuffix(".yaml"): p for p in sorted(root.iterdir(), key=str) if p.name.endswith(".yaml")
    }


def _summary(text: str) -> str:
    """The first sentence of a scenario file's leading comment."""
    words = []
    for line in text.splitlines():
        if not line.startswith("#") or not line.strip("# "):
            break
        words.append(line.strip("# "))
    prose = " ".join(words)
    sentence = prose[: prose.find(". ")] if ". " in prose else prose.rstrip(".")
    return sentence if len(sentence) <= 100 else sentence[:100].rsplit(" ", 1)[0] + " ..."


def _init(args: argparse.Namespace) -> int:
    examples = _examples()
    if args.list:
        for name, source in examples.items():
            print(f"{name:20}  {_summary(source.read_text(encoding='utf-8'))}")
        return EXIT_OK
    if args.example not in examples:
        raise ScenarioError(f"no example {args.example!r} (there are: {', '.join(examples)})")
    out = args.out if args.out is not None else Path(f"{args.example}.yaml")
    text = examples[args.example].read_text(encoding="utf-8")
    try:
        with out.open("x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError:
        raise ScenarioError(f"{out}: exists already; name another file with --out") from None
    except OSError as exc:
        raise ScenarioError(f"{out}: cannot write: {exc.strerror}") from None
    print(f"wrote {out} (from the example {args.example!r}); run it with: bmc run {out}")
    return EXIT_OK


def _limit_args(p: argparse.ArgumentParser) -> None:
    defaults = ", ".join(f"{k}={getattr(DEFAULT_LIMITS, k)}" for k in Limits.names())
    p.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="KEY=N",
        help=f"raise a limit on what the scenario may ask for (defaults: {defaults})",
    )


def _limits(args: argparse.Namespace) -> Limits:
    """The limits the command line's --limit options give."""
    try:
        return DEFAULT_LIMITS.raised(args.limit)
    except ValueError as exc:
        raise ScenarioError(str(exc)) from None


def _load(args: argparse.Namespace) -> Scenario:
    """The scenario named on the command line, checked against the limits it gives."""
    return load_scenario(args.scenario, _limits(args))


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
        help="how long to wait for the broker, external nodes or the cell's clock (default 30 s)",
    )


def _run_id(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", text):
        raise argparse.ArgumentTypeError(f"must be 1-64 letters, digits, '-' or '_' (got {text!r})")
    return text


def _run_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--run",
        type=_run_id,
        metavar="ID",
        default=os.environ.get("BMC_RUN"),
        help="run id: the topic root becomes bmc/v1/<scenario>/<ID>, so runs of one scenario on "
        "one broker never see each other (every process of the cell takes the same) [BMC_RUN]",
    )


def _root(args: argparse.Namespace, scenario: Scenario) -> str:
    """The topic root: the scenario's, with the run id when one is given."""
    from protocols.topics import root_for

    run = getattr(args, "run", None)
    return root_for(scenario.name) + (f"/{run}" if run else "")


def _key_args(p: argparse.ArgumentParser) -> None:
    _run_arg(p)
    g = p.add_argument_group("keys (docs/SECURITY.md)")
    g.add_argument(
        "--keys",
        type=Path,
        metavar="DIR",
        default=os.environ.get("BMC_KEYS"),
        help="key directory made by `bmc keys init` (needed in real time) [BMC_KEYS]",
    )
    g.add_argument(
        "--credentials",
        type=Path,
        metavar="DIR",
        default=os.environ.get("BMC_CREDENTIALS"),
        help="per-node broker passwords (the clients/ directory `bmc broker-config --acl` writes): "
        "each connection logs in as its node [BMC_CREDENTIALS]",
    )
    g.add_argument(
        "--insecure-demo-keys",
        action="store_true",
        help="real time with keys anyone can compute from the scenario name: a demo on a private "
        "broker only (warns at every start)",
    )


def _cell_keys(args: argparse.Namespace, scenario: Scenario, local: list[str], *, orders: bool = True) -> Any:
    """The keys of identities ``local``: from --keys, or derived with --insecure-demo-keys
    (warned); ScenarioError pointing to `bmc keys init` without either."""
    from bmc.keys import DEMO_WARNING, NO_KEYS, derived, load_keys

    args.identities = set(local)  # who this process is, on the broker too (--credentials)

    if args.keys is not None:
        if args.insecure_demo_keys:
            raise ScenarioError("give --keys DIR or --insecure-demo-keys, not both")
        return load_keys(scenario, args.keys, local, orders=orders)
    if args.insecure_demo_keys:
        print(DEMO_WARNING, file=sys.stderr)
        return derived(scenario)
    raise ScenarioError(NO_KEYS.format(scenario=args.scenario))


def _broker(args: argparse.Namespace) -> BrokerConfig:
    if not args.mqtt:
        raise ScenarioError("--mqtt URL (or BMC_MQTT_URL) is needed")
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


RUN_PROGRESS = (
    "simulated {n:.0f} / {total:.0f} s {percentage:3.0f}% |{bar:20}| {elapsed} elapsed, {remaining} left"
)
REPLAY_PROGRESS = "replay |{bar:30}| {percentage:3.0f}%  simulated {n:.1f} / {total:.0f} s"


def _progress(stream: TextIO, tty: bool = True) -> Any:
    """``show(now, duration)`` for a run: a bar on a terminal, else a line per tenth of the run."""
    bar: list[Progress] = []

    def show(now: float, duration: float) -> None:
        if not bar:
            bar.append(Progress(stream, duration, RUN_PROGRESS, tty=tty))
        bar[0].update_to(now)
        if now >= duration:
            bar[0].close()

    return show


def _options(args: argparse.Namespace, speed: float | None, keys: Any, scenario: Scenario) -> RealtimeOptions:
    """Real-time options from the command line; --wait bounds the broker connection too.
    With --credentials, each of the process's identities (``keys.keyring``'s) logs in as itself."""
    credentials = None
    if args.credentials is not None:
        from bmc.broker_acl import load_credentials

        credentials = load_credentials(args.credentials, sorted(args.identities))
    broker = _broker(args)
    run = getattr(args, "run", None)
    if run:
        # Client ids carry the run: two runs' connections of one node must not evict each other.
        from dataclasses import replace

        broker = replace(broker, client_id=f"{broker.client_id}-{run}")
    return RealtimeOptions(
        broker,
        speed=speed,
        wait_external_s=args.wait,
        connect_timeout_s=args.wait,
        root=_root(args, scenario),
        keys=keys,
        credentials=credentials,
    )


def _broker_config(args: argparse.Namespace) -> int:
    if not args.acl:
        if args.scenario is not None or args.out is not None:
            raise ScenarioError("--scenario and --out go with --acl")
        sys.stdout.write(rig_broker_conf())
        return EXIT_OK
    if args.scenario is None or args.out is None:
        raise ScenarioError("--acl needs --scenario S and --out DIR")
    from bmc.broker_acl import write_broker_config

    scenario = _load(args)
    written = write_broker_config(
        scenario, args.out, port=args.port, tls=args.tls, root=_root(args, scenario)
    )
    print(f"wrote {len(written)} files to {args.out} (passwords only as hashes, clear ones owner-only):")
    print(f"  broker:  mosquitto -c {args.out / 'mosquitto.conf'}")
    print(f"  clients: bmc run/node/hil ... --credentials {args.out / 'clients'}")
    return EXIT_OK


def _command(args: argparse.Namespace) -> int:
    """Publish one operator command, sealed by the operator's key, and wait for the broker's ack."""

    from protocols import codec
    from protocols import messages as m
    from protocols.mqtt import RawPublisher, birth_base
    from protocols.topics import Topics

    scenario = _load(args)
    keys = _cell_keys(args, scenario, [OPERATOR])
    options = _options(args, None, keys, scenario)
    broker = options.broker
    login = (options.credentials or {}).get(OPERATOR)
    if login is not None:
        broker = login.applied(broker)
    topics = Topics(_root(args, scenario))
    topic = topics.topic("fdc", scenario.fdc.id, "command")
    body = m.OperatorCommand(m.WeaponsControl[args.weapons_control.upper()], args.note)
    # A new life per command (the epoch): the FDC's replay window accepts each one once.
    ring = keys.keyring([OPERATOR], epoch=birth_base())
    payload = ring.seal(topics.root, topic, OPERATOR, codec.encode(m.Header(OPERATOR, 1, 0.0), body))

    async def send() -> None:
        async with RawPublisher(broker, client_id=f"{broker.client_id}-operator-{os.getpid()}") as pub:
            pub.send(topic, payload, qos=1)
            await pub.drain(options.connect_timeout_s)

    try:
        asyncio.run(send())
    except (BrokerError, OSError) as exc:
        raise ScenarioError(f"{topic}: the command was not delivered ({exc})") from None
    print(f"sent weapons control {args.weapons_control.upper()} to {scenario.fdc.id} on {topic}")
    return EXIT_OK


def _keys_init(args: argparse.Namespace) -> int:
    from bmc.keys import init_keys

    scenario = _load(args)
    written = init_keys(scenario, args.out)
    print(f"wrote {len(written)} files to {args.out} (owner-only; keys are never printed):")
    for path in written:
        print(f"  {path.name}")
    print(
        f"use them with: bmc run {args.scenario} --mqtt URL --keys {args.out} "
        f"(each `bmc node`/`bmc hil` of the cell takes --keys {args.out} too; a Pi launcher takes "
        f"its <launcher>.order.key as --key-file)"
    )
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    scenario = _load(args)
    if args.realtime and not args.mqtt:
        raise ScenarioError("--realtime needs a broker: add --mqtt URL")
    if args.speed is not None and not args.mqtt:
        raise ScenarioError(
            "--speed paces a real-time run and needs --mqtt URL (a virtual run goes as fast as it can)"
        )
    tty = sys.stderr.isatty()
    # A virtual run is over in seconds: progress only on a terminal. A real-time one may take
    # as long as the scenario: say so at the start, and show progress in a log too.
    progress = None if args.quiet or not (tty or args.mqtt) else _progress(sys.stderr, tty)
    broker = _broker(args) if args.mqtt else None
    speed = 1.0 if args.speed is None else args.speed
    keys = None
    if broker is not None:
        keys = _cell_keys(args, scenario, cell_identities(scenario))
    elif args.keys is not None:  # virtual runs need none (they seal with the derived keys)
        keys = _cell_keys(args, scenario, list(roles_of(scenario).nodes))
    if broker is not None and not args.quiet:
        print(
            f"bmc: real time over the broker at {broker.host}:{broker.port} at speed {speed:g}: "
            f"{scenario.duration_s:g} s simulated "
            f"take {scenario.duration_s / speed:.0f} s",
            file=sys.stderr,
        )
    recorder = _open_recording(args, scenario)
    taps = [] if recorder is None else [recorder]
    report: RunReport | None = None
    try:
        if broker is not None:
            options = _options(args, speed, keys, scenario)
            deliveries = None
            if recorder is not None and scenario.fdc.id not in external_nodes(scenario):
                # When the FDC heard each input: what `bmc replay --into fdc` replays exactly.
                deliveries = {scenario.fdc.id: recorder.delivery_log(scenario.fdc.id)}
            report = asyncio.run(
                run_cell(
                    scenario, options, seed=args.seed, progress=progress, taps=taps, deliveries=deliveries
                )
            )
        else:
            report = run_virtual(scenario, seed=args.seed, progress=progress, taps=taps, keys=keys)
    except (ValueError, RealtimeError) as exc:
        raise ScenarioError(f"{args.scenario}: {exc}") from None
    finally:
        _close_recording(recorder, report)
    if args.json is not None:
        text = json.dumps(report.to_dict(), indent=2) + "\n"
        if str(args.json) == "-":
            sys.stdout.write(text)
        else:
            try:
                args.json.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise ScenarioError(f"{args.json}: cannot write report: {exc.strerror}") from None
    if args.junit is not None:
        from bmc import junit

        junit.write(
            args.junit,
            f"bmc run {report.scenario} (seed {report.seed})",
            junit.report_cases(report),
            report.wall_time_s or 0.0,
        )
    if not args.quiet and str(args.json) != "-":
        print(report.text())
        if recorder is not None:
            print(f"recorded {recorder.count} messages to {recorder.path}")
    return EXIT_OK if report.ok else EXIT_CHECK_FAILED


def _node(args: argparse.Namespace) -> int:
    scenario = _load(args)
    try:
        node_kind(scenario, args.node_id)
        options = _options(args, args.speed, _cell_keys(args, scenario, [args.node_id]), scenario)
        summary = asyncio.run(run_node(scenario, args.node_id, options))
    except (ValueError, RealtimeError) as exc:
        raise ScenarioError(f"{args.scenario}: {exc}") from None
    print(json.dumps(summary, indent=2))
    return EXIT_OK


def _sweep_args(sub: Any) -> None:
    sw = sub.add_parser(
        "sweep",
        help="Monte Carlo sweep: many runs of a scenario over varied parameters, with statistical checks",
    )
    sw.add_argument("scenario", type=Path, help="scenario YAML file")
    sw.add_argument("--runs", type=_positive, required=True, help="runs per parameter combination")
    sw.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="PATH=V1,V2,...",
        help="vary a scenario field, e.g. launchers[*].pk=0.6,0.8 or fdc.doctrine=shoot-look-shoot,salvo-2 "
        "(repeatable: every combination runs)",
    )
    sw.add_argument(
        "--check",
        action="append",
        default=[],
        metavar="CHECK",
        help="a statistical check per combination, e.g. 'leaked.mean <= 0.5' or 'P(leaked == 0) >= 0.9' "
        "(repeatable; added to the scenario's expect lines)",
    )
    sw.add_argument("--ignore-expect", action="store_true", help="judge only the --check options")
    sw.add_argument("--workers", type=_positive, help="local worker processes (default: one per core)")
    sw.add_argument(
        "--scheduler",
        metavar="tcp://HOST:8786",
        help="run on this existing Dask distributed cluster instead (--workers is then ignored)",
    )
    sw.add_argument("--out", type=Path, help="output directory (default sweeps/<scenario name>)")
    sw.add_argument("--fresh", action="store_true", help="discard the runs a previous sweep left in --out")
    sw.add_argument(
        "--junit",
        type=Path,
        metavar="PATH",
        help="also write each check x combination as a JUnit XML test case",
    )
    sw.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    sw.add_argument("--quiet", action="store_true", help="print nothing but errors and failed checks")
    _limit_args(sw)


def _sweep(args: argparse.Namespace) -> int:
    from bmc.sweep import SweepError, default_workers, format_summary, parse_vary, run_sweep, seen_text

    scenario = _load(args)
    vary = [parse_vary(text) for text in args.vary]
    show = args.progress if args.progress is not None else (not args.quiet and sys.stderr.isatty())
    out = args.out if args.out is not None else Path("sweeps") / scenario.name
    try:
        result = run_sweep(
            scenario,
            args.runs,
            out,
            vary=vary,
            checks=args.check,
            use_expect=not args.ignore_expect,
            workers=args.workers or default_workers(),
            scheduler=args.scheduler,
            fresh=args.fresh,
            progress=sys.stderr if show else None,
            source=str(args.scenario),
            limits=_limits(args),
        )
    except SweepError as exc:
        raise ScenarioError(f"{args.scenario}: {exc} (finished runs are kept in {out})") from None
    except KeyboardInterrupt:
        print(
            f"bmc: sweep interrupted; finished runs are kept in {out}: run again to resume", file=sys.stderr
        )
        raise
    if args.junit is not None:
        from bmc import junit

        suite = f"bmc sweep {result.scenario} ({result.runs} runs x {len(result.combinations)} combinations)"
        junit.write(
            args.junit,
            suite,
            junit.sweep_cases(result.scenario, result.checks, seen_text),
            result.wall_time_s,
        )
    if not args.quiet:
        print(format_summary(result))
        print(f"wrote {', '.join(str(f) for f in result.files)}")
    failed = [c for c in result.checks if not c["ok"]]
    for c in failed:
        where = ", ".join(f"{k}={v}" for k, v in c["params"].items()) or "base"
        print(
            f"bmc: check failed: {c['check']} on combination {c['combination']} ({where}): {seen_text(c)}",
            file=sys.stderr,
        )
    return EXIT_CHECK_FAILED if failed else EXIT_OK


def _hil_args(sub: Any) -> None:
    hil = sub.add_parser("hil", help="a device on a serial port takes over a launcher or a radar")
    kinds = hil.add_subparsers(dest="hil_kind", required=True, parser_class=_Parser)
    for kind, what in (
        ("launcher", "a launcher (e.g. the Pi launcher mock)"),
        ("sensor", "a radar (sensor board)"),
    ):
        h = kinds.add_parser(kind, help=f"bridge {what} to the broker")
        h.add_argument(
            "node_id", help=f"the {'launcher' if kind == 'launcher' else 'radar'}'s id in the scenario"
        )
        h.add_argument("--scenario", type=Path, required=True, help="scenario YAML file")
        h.add_argument("--port", required=True, help="serial device or pyserial URL (/dev/ttyUSB0, a pty)")
        h.add_argument("--baud", type=_baud, default=115200, help="line rate (default 115200)")
        h.add_argument(
            "--speed",
            type=_speed,
            help="the cell's --speed (default: follow the cell's, from the world's birth)",
        )
        h.add_argument(
            "--device-timeout",
            type=float,
            metavar="S",
            help="simulated seconds of device silence before the node is declared dead "
            "(default: the launcher's heartbeat_timeout_s, or 2.5 radar scan periods)",
        )
        _limit_args(h)
        _broker_args(h)
        _key_args(h)


def _baud(text: str) -> int:
    from hil.serial_link import BAUD_RATES

    if not text.isdigit() or int(text) not in BAUD_RATES:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(map(str, BAUD_RATES))} (got {text!r})")
    return int(text)


def _hil(args: argparse.Namespace) -> int:
    # Imported here: only this command needs pyserial.
    from hil.bridge import BridgeOptions, run_bridge
    from hil.serial_link import SerialConfig

    scenario = _load(args)
    try:
        kind = node_kind(scenario, args.node_id)
        wanted = "launcher" if args.hil_kind == "launcher" else "radar"
        if kind != wanted:
            raise ValueError(f"{args.node_id!r} is a {kind}, not a {wanted}")
        keys = _cell_keys(args, scenario, [args.node_id], orders=False)
        options = _options(args, args.speed, keys, scenario)
        bridge = BridgeOptions(SerialConfig(args.port, args.baud), args.device_timeout)
        summary = asyncio.run(run_bridge(scenario, args.node_id, options, bridge))
    except (ValueError, RealtimeError) as exc:
        raise ScenarioError(f"{args.scenario}: {exc}") from None
    print(json.dumps(summary, indent=2))
    return EXIT_OK


# ---------------------------------------------------------------- recording, replay, report


def _open_recording(args: argparse.Namespace, scenario: Any) -> Any:
    """The recorder of ``bmc run --record`` (None without the option)."""
    if args.record is None:
        return None
    from bmc.record import open_recorder

    return open_recorder(
        args.record,
        scenario,
        source=args.scenario,
        seed=args.seed,
        mode="realtime" if args.mqtt else "virtual",
        speed=args.speed if args.mqtt else None,
        root=_root(args, scenario) if args.mqtt else None,  # a virtual run has one root
    )


def _close_recording(recorder: Any, report: RunReport | None) -> None:
    if recorder is None:
        return
    from bmc.record import close_recorder
    from protocols.recording import RecordingError

    try:
        close_recorder(recorder, None if report is None else report.to_dict())
    except RecordingError as exc:
        if report is not None:  # a failed run's own error matters more than its recording's
            raise ScenarioError(str(exc)) from None


def _sim_time(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be simulated seconds (got {text!r})") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 (got {value})")
    return value


def _replay_args(sub: Any) -> None:
    rp = sub.add_parser(
        "replay",
        help="republish a recording on a broker at its recorded pace, or feed it to a fresh FDC",
    )
    rp.add_argument("recording", type=Path, help="MCAP file written by bmc run --record")
    rp.add_argument(
        "--into",
        choices=["fdc"],
        help="no broker: feed the recorded inputs to a fresh FDC and compare its fire orders "
        "with the recorded ones (exit 1 on a difference)",
    )
    rp.add_argument("--speed", type=_speed, default=1.0, help="times the recorded pace (default 1)")
    rp.add_argument("--from", dest="t_from", type=_sim_time, metavar="T", help="start at simulated second T")
    rp.add_argument("--to", dest="t_to", type=_sim_time, metavar="T", help="end at simulated second T")
    rp.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="with --into fdc: change the recorded scenario first, e.g. fdc.doctrine=salvo-2 (repeatable)",
    )
    rp.add_argument("--doctrine", help="with --into fdc: same as --set fdc.doctrine=VALUE")
    rp.add_argument("--quiet", action="store_true", help="no progress bar, print only errors")
    _broker_args(rp)

    rep = sub.add_parser(
        "report", help="after-action report from a recording: report.json, map.png, timeline.png, report.html"
    )
    rep.add_argument("recording", type=Path, help="MCAP file written by bmc run --record")
    rep.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    rep.add_argument("--quiet", action="store_true", help="print only errors")


def _replay_progress(stream: TextIO) -> Any:
    """``show(now, start, end)`` for a replay onto a broker (recorded simulated seconds)."""
    bar: list[Progress] = []

    def show(now: float, start: float, end: float) -> None:
        if not bar:
            bar.append(Progress(stream, max(end - start, 1e-9), REPLAY_PROGRESS, done=0.0, tty=True))
        bar[0].update_to(min(max(now - start, 0.0), end - start))
        if now >= end:
            bar[0].close()

    return show


def _replay(args: argparse.Namespace) -> int:
    from bmc.replay import PACING_TOLERANCE_MS, replay_into_fdc, replay_to_mqtt

    overrides = list(args.set) + ([f"fdc.doctrine={args.doctrine}"] if args.doctrine else [])
    if args.into == "fdc":
        if args.t_from is not None or args.t_to is not None:
            raise ScenarioError("--from and --to apply to a replay onto a broker, not --into fdc")
        fdc = replay_into_fdc(args.recording, overrides)
        what = f" with {', '.join(overrides)}" if overrides else ""
        n_rec = len({s.order.order_id for s in fdc.recorded})
        n_rep = len({s.order.order_id for s in fdc.replayed})
        verdict = "identical" if fdc.identical else f"{len(fdc.differences)} order(s) differ"
        print(
            f"a fresh {fdc.fdc_id}{what}, fed {fdc.inputs} recorded messages: fire orders recorded "
            f"{n_rec} ({len(fdc.recorded)} publications), replayed {n_rep} ({len(fdc.replayed)}): {verdict}"
        )
        for line in fdc.differences:
            print(f"  {line}")
        for note in fdc.notes:
            print(f"note: {note}", file=sys.stderr)
        if fdc.damage is not None:
            raise ScenarioError(f"{fdc.damage} (compared up to there)")
        return EXIT_OK if fdc.identical else EXIT_CHECK_FAILED
    if overrides:
        raise ScenarioError("--set and --doctrine apply to --into fdc only")
    if not args.mqtt:
        raise ScenarioError("bmc replay needs a destination: --mqtt URL (or BMC_MQTT_URL), or --into fdc")
    broker = _broker(args)
    progress = None if args.quiet or not sys.stderr.isatty() else _replay_progress(sys.stderr)
    try:
        result = asyncio.run(
            replay_to_mqtt(args.recording, broker, args.speed, args.t_from, args.t_to, progress)
        )
    except ValueError as exc:  # recording and broker errors are UsageErrors: they pass
        raise ScenarioError(str(exc)) from None
    pacing = result.pacing()
    if not args.quiet:
        print(
            f"replayed {result.sent} messages (+{result.retained_before} retained from before the "
            f"start), simulated {result.start_s:.1f}-{result.end_s:.1f} s in {result.wall_s:.1f} s "
            f"at x{args.speed:g}; "
            f"lateness p50 {pacing['p50_ms']} ms, p99 {pacing['p99_ms']} ms, max {pacing['max_ms']} ms"
        )
    if not result.within_tolerance():
        limits = ", ".join(f"{k.removesuffix('_ms')} {v:g} ms" for k, v in PACING_TOLERANCE_MS.items())
        print(f"bmc: warning: replay pacing outside its tolerance ({limits})", file=sys.stderr)
    if result.problem:
        raise ScenarioError(result.problem)
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from bmc.aar import write_report

    try:
        analysis = write_report(args.recording, args.out)
    except OSError as exc:
        raise ScenarioError(f"{args.out}: cannot write the report: {exc.strerror or exc}") from None
    report = analysis.report
    if not args.quiet:
        if report.wall_time_s is not None:
            print(report.text())
        names = ("report.html", "report.json", "map.png", "timeline.png")
        print(f"wrote {', '.join(str(args.out / n) for n in names)}")
    if analysis.damage is not None:
        # One line: the other problems (missing live report, digest) follow from the damage.
        raise ScenarioError(f"{analysis.damage} (the report covers the readable part, in {args.out})")
    for problem in analysis.problems:
        print(f"bmc: warning: {problem}", file=sys.stderr)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bmc`` console script."""
    args = _parser().parse_args(argv)
    pin_blas_threads()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        if args.command == "init":
            return _init(args)
        if args.command == "run":
            return _run(args)
        if args.command == "node":
            return _node(args)
        if args.command == "keys":
            return _keys_init(args)
        if args.command == "command":
            return _command(args)
        if args.command == "hil":
            return _hil(args)
        if args.command == "sweep":
            return _sweep(args)
        if args.command == "replay":
            return _replay(args)
        if args.command == "report":
            return _report(args)
        if args.command == "broker-config":
            return _broker_config(args)
    except UsageError as exc:
        for line in str(exc).splitlines():
            print(f"bmc: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("bmc: interrupted", file=sys.stderr)
        return 130
    return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
