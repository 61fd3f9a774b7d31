"""Golden digests: what every shipped scenario's virtual run gives, on any machine.

``make golden`` (``python -m tests.sim.golden --write``) rewrites
``tests/sim/golden_digests.json`` after a change that means to change behaviour; the
commit that does so says why. The file also records the versions of the packages whose
arithmetic or encoding the digest depends on: the promise holds for those versions
(the ones ``.ci/constraints.txt`` pins), not across upgrades.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("golden_digests.json")
CONFIGS = sorted((ROOT / "sim_configs").glob("*.yaml"))
DIGEST_PACKAGES = ("numpy", "scipy", "protobuf", "simpy", "pymap3d", "PyYAML", "pydantic")
"""Packages whose results feed the digest (arithmetic, random streams, wire bytes, parsing)."""


def versions() -> dict[str, str]:
    """Python's minor version and the installed versions of :data:`DIGEST_PACKAGES`."""
    found = {name: metadata.version(name) for name in DIGEST_PACKAGES}
    return {"python": ".".join(platform.python_version_tuple()[:2]), **found}


def load() -> dict[str, Any]:
    """The recorded versions and digests."""
    data: dict[str, Any] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return data


def version_mismatch() -> str | None:
    """Why the recorded digests do not apply to this environment, or None when they do."""
    recorded, here = load()["versions"], versions()
    differ = [f"{k} {recorded.get(k)} (here {v})" for k, v in here.items() if recorded.get(k) != v]
    if not differ:
        return None
    return (
        "the golden digests were made with " + ", ".join(differ) + ": install the pinned versions "
        "(make test uses .ci/constraints.txt), or after an intended upgrade run `make golden`"
    )


def compute() -> dict[str, str]:
    """Digest of every shipped scenario's run with its own seed."""
    from bmc.engine.runner import run_virtual
    from bmc.scenario import load_scenario

    return {p.stem: run_virtual(load_scenario(p)).digest for p in CONFIGS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.sim.golden", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite golden_digests.json")
    args = parser.parse_args(argv)
    digests = compute()
    if args.write:
        text = json.dumps({"versions": versions(), "digests": digests}, indent=2, sort_keys=True)
        GOLDEN.write_text(text + "\n", encoding="utf-8")
    old = load()["digests"] if GOLDEN.exists() else {}
    for name, digest in digests.items():
        mark = "" if old.get(name) == digest else "  (changed)"
        print(f"{name}: {digest}{mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
