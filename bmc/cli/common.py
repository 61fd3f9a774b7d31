"""What the commands share: argument types, option groups (limits, broker, run id, keys),
and turning them into a scenario, a broker configuration, keys and real-time options."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from bmc.engine.realtime import RealtimeOptions
from bmc.scenario import DEFAULT_LIMITS, Limits, Scenario, ScenarioError, load_scenario
from protocols.mqtt import BrokerConfig

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"bmc: error: {message}\n")


def whole(minimum: int) -> Callable[[str], int]:
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


seed = whole(0)


positive = whole(1)


def speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number (got {text!r})") from None
    if not 0.01 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"must be in 0.01..1000 (got {value})")
    return value


def sim_time(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be simulated seconds (got {text!r})") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 (got {value})")
    return value


def limit_args(p: argparse.ArgumentParser) -> None:
    defaults = ", ".join(f"{k}={getattr(DEFAULT_LIMITS, k)}" for k in Limits.names())
    p.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="KEY=N",
        help=f"raise a limit on what the scenario may ask for (defaults: {defaults})",
    )


def limits(args: argparse.Namespace) -> Limits:
    """The limits the command line's --limit options give."""
    try:
        return DEFAULT_LIMITS.raised(args.limit)
    except ValueError as exc:
        raise ScenarioError(str(exc)) from None


def load(args: argparse.Namespace) -> Scenario:
    """The scenario named on the command line, checked against the limits it gives."""
    return load_scenario(args.scenario, limits(args))


def broker_args(p: argparse.ArgumentParser) -> None:
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


def run_id(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", text):
        raise argparse.ArgumentTypeError(f"must be 1-64 letters, digits, '-' or '_' (got {text!r})")
    return text


def run_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--run",
        type=run_id,
        metavar="ID",
        default=os.environ.get("BMC_RUN"),
        help="run id: the topic root becomes bmc/v1/<scenario>/<ID>, so runs of one scenario on "
        "one broker never see each other (every process of the cell takes the same) [BMC_RUN]",
    )


def root(args: argparse.Namespace, scenario: Scenario) -> str:
    """The topic root: the scenario's, with the run id when one is given."""
    from protocols.topics import root_for

    run = getattr(args, "run", None)
    return root_for(scenario.name) + (f"/{run}" if run else "")


def key_args(p: argparse.ArgumentParser) -> None:
    run_arg(p)
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


def cell_keys(args: argparse.Namespace, scenario: Scenario, local: list[str], *, orders: bool = True) -> Any:
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


def broker_config(args: argparse.Namespace) -> BrokerConfig:
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


def options(args: argparse.Namespace, speed: float | None, keys: Any, scenario: Scenario) -> RealtimeOptions:
    """Real-time options from the command line; --wait bounds the broker connection too.
    With --credentials, each of the process's identities (``keys.keyring``'s) logs in as itself."""
    credentials = None
    if args.credentials is not None:
        from bmc.broker_acl import load_credentials

        credentials = load_credentials(args.credentials, sorted(args.identities))
    broker = broker_config(args)
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
        root=root(args, scenario),
        keys=keys,
        credentials=credentials,
    )
