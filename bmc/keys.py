"""A cell's keys: made by ``bmc keys init``, read by every command that runs a node.

A key directory holds, for one scenario:

- ``manifest.json``: the scenario, every identity, its key file and each key's
  fingerprint (the first 8 bytes of SHA-256 of the key, never the key);
- ``<node>.key``: that node's pairwise keys with each peer (JSON, hex), and for the
  FDC the fire-order keys of every launcher;
- ``<launcher>.order.key``: the launcher's fire-order key in hex, the file the Pi
  launcher program takes (``--key-file``). A launcher's bridge (``bmc hil launcher``)
  does not read it: it forwards orders and cannot forge them.

Every file is created readable by its owner only (mode 600, the directory 700) and
refused when it is not. No key is printed, logged, written to a report or a recording.
Virtual runs without a directory use keys derived from the scenario's name: deterministic,
and public, so a real-time run uses them only with ``--insecure-demo-keys``.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bmc.scenario import Scenario
from protocols.auth import (
    KEY_LEN,
    KEYS_FORMAT,
    MANIFEST,
    AuthError,
    Keyring,
    Roles,
    check_private,
    derived_keys,
    pair,
    refuse_existing,
    write_private,
)

DEMO_WARNING = (
    "bmc: WARNING: --insecure-demo-keys: every message is sealed with keys anyone can compute from "
    "the scenario's name; anyone on this broker can command this cell. Never on a shared rig: "
    "use `bmc keys init SCENARIO --out DIR` and --keys DIR."
)

NO_KEYS = (
    "a real-time run needs keys: create them with `bmc keys init {scenario} --out DIR` and pass "
    "--keys DIR (or --insecure-demo-keys for a demo on a private broker)"
)


def roles_of(s: Scenario) -> Roles:
    """Who is who in ``s``'s cell."""
    external = [r.id for r in s.radars if r.external] + [x.id for x in s.launchers if x.external]
    external += [s.fdc.id] if s.fdc.external else []
    return Roles(s.fdc.id, tuple(r.id for r in s.radars), tuple(x.id for x in s.launchers), tuple(external))


@dataclass(frozen=True, slots=True)
class CellKeys:
    """The keys a process holds: pairwise keys of its identities, and fire-order keys."""

    roles: Roles
    pairs: dict[tuple[str, str], bytes]
    orders: dict[str, bytes] = field(default_factory=dict)
    """Launcher id -> fire-order key, for the launchers and the FDC this process runs."""
    source: str = "derived"
    """Where the keys came from: a directory, or ``derived`` (public, for virtual runs and demos)."""

    def keyring(self, local: Iterable[str], epoch: int = 1) -> Keyring:
        """The keyring of identities ``local`` in their life ``epoch``."""
        return Keyring(self.roles, self.pairs, local, epoch)


def derived(s: Scenario) -> CellKeys:
    """Keys derived from the scenario's name: every node's, deterministic, public."""
    roles = roles_of(s)
    return CellKeys(roles, derived_keys(s.name, roles), {x.id: s.launcher_key(x) for x in s.launchers})


def fingerprint(key: bytes) -> str:
    """A key's public name: the first 8 bytes of its SHA-256, hex."""
    return hashlib.sha256(key).hexdigest()[:16]


def init_keys(s: Scenario, out: Path) -> list[Path]:
    """Create fresh random keys for every node of ``s`` in directory ``out`` (new or empty);
    returns the files written. AuthError when ``out`` cannot be used."""
    refuse_existing(out)
    try:
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(out, 0o700)
    except OSError as exc:
        raise AuthError(f"{out}: cannot create the key directory ({exc.strerror or exc})") from None
    roles = roles_of(s)
    pairs: dict[tuple[str, str], bytes] = {}
    for a in roles.nodes:
        for b in roles.peers(a):
            pairs.setdefault(pair(a, b), secrets.token_bytes(KEY_LEN))
    orders = {x: secrets.token_bytes(KEY_LEN) for x in roles.launchers}
    written: list[Path] = []
    manifest: dict[str, object] = {"format": KEYS_FORMAT, "scenario": s.name, "nodes": {}}
    nodes: dict[str, object] = {}
    try:
        for node in roles.nodes:
            links = {peer: pairs[pair(node, peer)].hex() for peer in roles.peers(node)}
            body: dict[str, object] = {
                "format": KEYS_FORMAT,
                "scenario": s.name,
                "node": node,
                "links": links,
            }
            if node == roles.fdc:
                body["orders"] = {x: k.hex() for x, k in orders.items()}
            elif node in orders:
                body["orders"] = {node: orders[node].hex()}
            path = out / f"{node}.key"
            write_private(path, json.dumps(body, indent=1) + "\n")
            written.append(path)
            entry: dict[str, object] = {
                "kind": roles.kind_of(node),
                "file": path.name,
                "links": {peer: fingerprint(pairs[pair(node, peer)]) for peer in roles.peers(node)},
            }
            if node in orders:
                order_path = out / f"{node}.order.key"
                write_private(order_path, orders[node].hex() + "\n")
                written.append(order_path)
                entry["order_key"] = {"file": order_path.name, "fingerprint": fingerprint(orders[node])}
            nodes[node] = entry
        manifest["nodes"] = nodes
        write_private(out / MANIFEST, json.dumps(manifest, indent=1) + "\n")
        written.append(out / MANIFEST)
    except OSError as exc:
        raise AuthError(f"{out}: cannot write keys ({exc.strerror or exc})") from None
    return written


def load_keys(s: Scenario, directory: Path, local: Iterable[str], *, orders: bool = True) -> CellKeys:
    """The keys of identities ``local`` from ``directory``; AuthError naming the file and the
    problem (missing, open to others, another scenario's, malformed). ``orders=False`` leaves
    the fire-order keys out (a launcher's bridge)."""
    roles = roles_of(s)
    check_private(directory)
    pairs: dict[tuple[str, str], bytes] = {}
    order_keys: dict[str, bytes] = {}
    for node in local:
        if roles.kind_of(node) is None:
            raise AuthError(f"{directory}: scenario {s.name!r} has no node {node!r}")
        path = directory / f"{node}.key"
        if not path.exists():
            raise AuthError(
                f"{path}: no key file for {node!r} (made by `bmc keys init` for another scenario?)"
            )
        check_private(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != KEYS_FORMAT or data.get("node") != node:
                raise ValueError("not a bmc key file for this node")
            if data.get("scenario") != s.name:
                raise AuthError(
                    f"{path}: keys of scenario {data.get('scenario')!r}, not {s.name!r} (run `bmc keys init`)"
                )
            for peer, text in data["links"].items():
                key = bytes.fromhex(text)
                if len(key) != KEY_LEN:
                    raise ValueError(f"key with {peer!r} is {len(key)} bytes")
                pairs[pair(node, str(peer))] = key
            if orders:
                for launcher, text in (data.get("orders") or {}).items():
                    order_keys[str(launcher)] = bytes.fromhex(text)
        except AuthError:
            raise
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            # Never quote the file's content: it is key material.
            raise AuthError(f"{path}: not a usable key file ({type(exc).__name__})") from None
        missing = [p for p in roles.peers(node) if pair(node, p) not in pairs]
        if missing:
            raise AuthError(
                f"{path}: no key with {', '.join(missing)} (the scenario changed: run `bmc keys init`)"
            )
    return CellKeys(roles, pairs, order_keys, str(directory))
