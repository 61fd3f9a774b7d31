"""Setting a cell up: ``bmc init`` (an example scenario), ``bmc keys init``, ``bmc
broker-config`` and ``bmc command`` (the operator's weapons-control command)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from bmc.cli import common
from bmc.scenario import ScenarioError
from protocols import brokerconf
from protocols.auth import OPERATOR
from protocols.mqtt import BrokerError


def add_init(sub: Any) -> None:
    """``bmc init``'s parser (first in the help)."""
    init = sub.add_parser("init", help="copy an example scenario to start from (see --list)")
    init.add_argument(
        "example", nargs="?", default="single_engagement", help="example name (default: the tutorial)"
    )
    init.add_argument("--out", type=Path, help="file to write (default: ./<example>.yaml); never overwritten")
    init.add_argument("--list", action="store_true", help="list the examples and what each shows")
    init.set_defaults(handler=_init)


def add(sub: Any) -> None:
    """The parsers of the other commands."""
    keys = sub.add_parser("keys", help="make the cell's keys: one secret per node pair, owner-only files")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, parser_class=common.Parser)
    kinit = keys_sub.add_parser("init", help="create fresh keys for every node of a scenario")
    kinit.add_argument("scenario", type=Path, help="scenario YAML file")
    kinit.add_argument("--out", type=Path, required=True, help="new (or empty) directory to write them to")
    common.limit_args(kinit)
    kinit.set_defaults(handler=_keys_init)

    cmd = sub.add_parser(
        "command", help="as the operator: set the FDC's weapons control (sealed with its key)"
    )
    cmd.add_argument("scenario", type=Path, help="scenario YAML file")
    cmd.add_argument("weapons_control", choices=("free", "tight", "hold"), help="the status to set")
    cmd.add_argument("--note", default="", help="a note the command carries")
    common.limit_args(cmd)
    common.broker_args(cmd)
    common.key_args(cmd)
    cmd.set_defaults(handler=_command)

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
    common.run_arg(bc)
    common.limit_args(bc)
    bc.set_defaults(handler=_broker_config)


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
        return common.EXIT_OK
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
    return common.EXIT_OK


def _keys_init(args: argparse.Namespace) -> int:
    from bmc.keys import init_keys

    scenario = common.load(args)
    written = init_keys(scenario, args.out)
    print(f"wrote {len(written)} files to {args.out} (owner-only; keys are never printed):")
    for path in written:
        print(f"  {path.name}")
    print(
        f"use them with: bmc run {args.scenario} --mqtt URL --keys {args.out} "
        f"(each `bmc node`/`bmc hil` of the cell takes --keys {args.out} too; a Pi launcher takes "
        f"its <launcher>.order.key as --key-file)"
    )
    return common.EXIT_OK


def _command(args: argparse.Namespace) -> int:
    """Publish one operator command, sealed by the operator's key, and wait for the broker's ack."""

    from protocols import codec
    from protocols import messages as m
    from protocols.mqtt import RawPublisher, birth_base
    from protocols.topics import Topics

    scenario = common.load(args)
    keys = common.cell_keys(args, scenario, [OPERATOR])
    options = common.options(args, None, keys, scenario)
    broker = options.broker
    login = (options.credentials or {}).get(OPERATOR)
    if login is not None:
        broker = login.applied(broker)
    topics = Topics(common.root(args, scenario))
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
    return common.EXIT_OK


def _broker_config(args: argparse.Namespace) -> int:
    if not args.acl:
        if args.scenario is not None or args.out is not None:
            raise ScenarioError("--scenario and --out go with --acl")
        sys.stdout.write(brokerconf.shipped())
        return common.EXIT_OK
    if args.scenario is None or args.out is None:
        raise ScenarioError("--acl needs --scenario S and --out DIR")
    from bmc.broker_acl import write_broker_config

    scenario = common.load(args)
    written = write_broker_config(
        scenario, args.out, port=args.port, tls=args.tls, root=common.root(args, scenario)
    )
    print(f"wrote {len(written)} files to {args.out} (passwords only as hashes, clear ones owner-only):")
    print(f"  broker:  mosquitto -c {args.out / 'mosquitto.conf'}")
    print(f"  clients: bmc run/node/hil ... --credentials {args.out / 'clients'}")
    return common.EXIT_OK
