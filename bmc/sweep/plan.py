"""What a sweep runs: parameter paths and values, combinations, fingerprints and run seeds."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import yaml

from bmc.scenario import DEFAULT_LIMITS, Limits, Scenario, ScenarioError, parse_scenario

JOURNAL = "runs.jsonl"
"""File in the output directory to which every finished run is appended."""

SEED_SCHEME = "bmc-sweep/1: run i seed = SeedSequence(scenario seed, spawn_key=(i,)), 63 bits"
"""How run seeds derive from the scenario seed; part of every fingerprint."""


_NAME = r"[A-Za-z_][A-Za-z0-9_\-]*"
_SEGMENT = re.compile(rf"\.({_NAME})|\[([0-9]+|\*)\]")
_FIRST = re.compile(_NAME)


STAR = None
"""The ``[*]`` segment of a parameter path."""

Segment = str | int | None
"""A path segment: a field or key name, a list index, or STAR."""


# ---------------------------------------------------------------- parameters


@dataclass(frozen=True, slots=True)
class Vary:
    """One ``--vary PATH=v1,v2,...``: a parameter path and the values it takes."""

    path: str
    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        parse_path(self.path)
        if not self.values:
            raise ScenarioError(f"--vary {self.path}: needs at least one value")


def parse_path(text: str) -> tuple[Segment, ...]:
    """Split ``'launchers[*].pk'`` into ``('launchers', STAR, 'pk')``; ScenarioError if malformed."""
    first = _FIRST.match(text)
    if not first:
        raise ScenarioError(f"--vary {text}: a path starts with a field name, e.g. launchers[*].pk")
    out: list[Segment] = [first.group(0)]
    pos = first.end()
    while pos < len(text):
        m = _SEGMENT.match(text, pos)
        if not m:
            raise ScenarioError(
                f"--vary {text}: cannot read the path at {text[pos:]!r} "
                "(fields joined by '.', list elements as [index] or [*])"
            )
        name, index = m.groups()
        out.append(name if name is not None else (STAR if index == "*" else int(index)))
        pos = m.end()
    if out[0] in ("seed", "expect"):
        why = (
            "run seeds derive from the scenario's seed; use --runs for more draws"
            if out[0] == "seed"
            else "checks are not a parameter; use --check"
        )
        raise ScenarioError(f"--vary {text}: {out[0]} cannot be varied: {why}")
    return tuple(out)


def parse_vary(text: str) -> Vary:
    """Parse ``'PATH=v1,v2,...'``; each value is read as a YAML scalar (``0.6``, ``salvo-2``, ``true``)."""
    path, sep, rest = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise ScenarioError(f"--vary {text}: must read PATH=v1,v2,... (e.g. launchers[*].pk=0.6,0.8)")
    values: list[Any] = []
    for token in rest.split(","):
        token = token.strip()
        if not token:
            raise ScenarioError(f"--vary {text}: empty value (write null for 'none')")
        try:
            value = yaml.safe_load(token)
        except yaml.YAMLError:
            raise ScenarioError(f"--vary {text}: cannot read value {token!r}") from None
        if isinstance(value, (list, dict)):
            raise ScenarioError(f"--vary {text}: value {token!r} must be a single number or word")
        if any(v == value and type(v) is type(value) for v in values):
            raise ScenarioError(f"--vary {text}: value {token!r} is repeated")
        values.append(value)
    return Vary(path, tuple(values))


def apply_params(data: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of the scenario dict ``data`` with every ``path: value`` of ``params`` set.

    A field or key that does not exist is created, so that validation judges it (an unknown
    field is refused there, a new ``links`` channel is fine); a list index out of range,
    ``[*]`` over nothing, or a path through a number is a ScenarioError naming the path."""
    out = copy.deepcopy(dict(data))
    for path, value in params.items():
        _set(out, parse_path(path), value, path, "")
    return out


def _set(node: Any, segs: tuple[Segment, ...], value: Any, path: str, where: str) -> None:
    seg, rest = segs[0], segs[1:]
    if isinstance(seg, str):
        if not isinstance(node, dict):
            raise ScenarioError(f"--vary {path}: {where} is not a set of fields (got {_short(node)})")
        here = f"{where}.{seg}" if where else seg
        if not rest:
            node[seg] = value
            return
        if node.get(seg) is None:
            node[seg] = {} if isinstance(rest[0], str) else []
        _set(node[seg], rest, value, path, here)
        return
    if isinstance(node, dict) and seg is STAR:
        children: list[tuple[Any, str]] = [(k, f"{where}.{k}") for k in node]
    elif isinstance(node, list):
        if seg is STAR:
            children = [(i, f"{where}[{i}]") for i in range(len(node))]
        elif seg >= len(node):
            raise ScenarioError(f"--vary {path}: {where} has {len(node)} element(s), no [{seg}]")
        else:
            children = [(seg, f"{where}[{seg}]")]
    else:
        raise ScenarioError(f"--vary {path}: {where} is not a list (got {_short(node)})")
    if not children:
        raise ScenarioError(f"--vary {path}: {where}[*] matches nothing ({where} is empty)")
    for key, here in children:
        if rest:
            _set(node[key], rest, value, path, here)
        else:
            node[key] = value


def _short(node: Any) -> str:
    if isinstance(node, list):
        return f"a list of {len(node)}"
    if isinstance(node, dict):
        return "a set of fields"
    text = repr(node)
    return text if len(text) <= 40 else text[:37] + "..."


# ---------------------------------------------------------------- combinations and seeds


def fingerprint(data: Mapping[str, Any]) -> str:
    """SHA-256 of a scenario dict without its ``expect`` checks (they do not change a run),
    with the seed scheme: two runs with the same fingerprint and run index are the same run."""
    canon = {k: v for k, v in data.items() if k != "expect"}
    text = json.dumps([SEED_SCHEME, canon], sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def run_seed(scenario_seed: int, run: int) -> int:
    """Seed of run ``run`` of every combination: child ``run`` of ``SeedSequence(scenario_seed)``."""
    seq = np.random.SeedSequence(entropy=scenario_seed, spawn_key=(run,))
    return int(seq.generate_state(1, dtype=np.uint64)[0]) >> 1


@dataclass(frozen=True, slots=True)
class Combination:
    """One combination of varied values: the scenario it makes, as a validated dict."""

    index: int
    params: dict[str, Any]
    data: dict[str, Any]
    fingerprint: str

    @property
    def label(self) -> str:
        """``path=value`` pairs, or 'base' when nothing is varied."""
        return ", ".join(f"{p}={_text(v)}" for p, v in self.params.items()) or "base"


def combinations(
    scenario: Scenario, vary: Sequence[Vary], source: str = "<scenario>", limits: Limits = DEFAULT_LIMITS
) -> list[Combination]:
    """Every combination of ``vary`` (the product, in option order), each validated against
    the models and ``limits``."""
    paths = [v.path for v in vary]
    if len(set(paths)) != len(paths):
        dup = next(p for p in paths if paths.count(p) > 1)
        raise ScenarioError(f"--vary {dup}: given twice; list every value in one option")
    base = scenario.model_dump(mode="json")
    out = []
    for index, values in enumerate(itertools.product(*(v.values for v in vary))):
        params = dict(zip(paths, values, strict=True))
        data = apply_params(base, params)
        label = ", ".join(f"{p}={_text(v)}" for p, v in params.items())
        valid = parse_scenario(data, f"{source} with {label}" if label else source, limits)
        data = valid.model_dump(mode="json")
        out.append(Combination(index, params, data, fingerprint(data)))
    return out


def _text(v: Any) -> str:
    return "null" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
