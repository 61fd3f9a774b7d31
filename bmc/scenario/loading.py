"""Loading a scenario: YAML read within the limits (no duplicate keys, no expansion bombs),
validated, every problem one clear line."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bmc.scenario.limits import DEFAULT_LIMITS, Limits, work_problems
from bmc.scenario.models import Model, Scenario, ScenarioError


def _loc(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _field_names() -> list[str]:
    names: set[str] = set()
    for model in Model.__subclasses__():
        names.update(model.model_fields)
    return sorted(names)


def format_validation_error(source: str, exc: ValidationError) -> str:
    """One line per problem: ``source: field.path: message (got value)``."""
    lines = []
    for err in exc.errors(include_url=False):
        loc = _loc(p for p in err["loc"] if p not in ("function-after",))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            key = str(err["loc"][-1])
            close = difflib.get_close_matches(key, _field_names(), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            lines.append(f"{source}: {loc}: unknown key {key!r}{hint}")
            continue
        where = f"{source}: {loc}: " if loc else f"{source}: "
        got = ""
        if err["type"] not in ("missing", "value_error") and not isinstance(err.get("input"), dict):
            got = f" (got {err.get('input')!r})"
        lines.append(f"{where}{msg}{got}")
    return "\n".join(lines)


def parse_scenario(data: Any, source: str = "<scenario>", limits: Limits = DEFAULT_LIMITS) -> Scenario:
    """Validate already-loaded YAML data, and refuse one that asks for more than ``limits``."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario must be a mapping of keys (got {type(data).__name__})")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(source, exc)) from None
    problems = work_problems(scenario, limits)
    if problems:
        raise ScenarioError("\n".join(f"{source}: {p}" for p in problems))
    return scenario


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice in one mapping (PyYAML keeps the last)."""


def _no_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} given twice (first on line {seen[key] + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


class _LimitedLoader(_UniqueKeyLoader):
    """The scenario loader: refuses nesting deeper than a limit while composing (PyYAML's
    composer recurses, so a deep file would end in a RecursionError)."""

    max_depth = DEFAULT_LIMITS.yaml_depth
    source = "<scenario>"
    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise ScenarioError(
                    f"{self.source}: line {mark.line + 1}, column {mark.column + 1}: nested deeper "
                    f"than the limit of {self.max_depth} levels "
                    "(raise it with --limit yaml_depth=N if you mean it)"
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """Nodes of the document with every alias expanded, counted without expanding it (a node
    reached by many aliases is counted once per reference); stops counting past ``limit``."""
    size: dict[int, int] = {}
    # Post-order without recursion: children are sized before their parent.
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in size:
            continue
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            size[id(node)] = 1
            continue
        if children_done:
            size[id(node)] = min(limit + 1, 1 + sum(size[id(c)] for c in children))
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in size)
    return size[id(root)]


def read_scenario_yaml(text: str, source: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Parse scenario YAML with duplicate keys refused and within the YAML limits; raises
    ScenarioError for a limit and yaml.YAMLError for bad syntax."""
    loader = _LimitedLoader(text)
    loader.max_depth = limits.yaml_depth
    loader.source = source
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        nodes = _expanded_size(node, limits.yaml_nodes)
        if nodes > limits.yaml_nodes:
            raise ScenarioError(
                f"{source}: more than {limits.yaml_nodes} YAML nodes once its aliases are expanded "
                "(an alias bomb?; raise the limit with --limit yaml_nodes=N if you mean it)"
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_scenario(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> Scenario:
    """Read and validate a scenario file; raises :class:`ScenarioError` with one clear line per problem."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            raw = f.read(limits.file_bytes + 1)
        if len(raw) > limits.file_bytes:
            raise ScenarioError(
                f"{p}: larger than the limit of {limits.file_bytes} bytes "
                "(raise it with --limit file_bytes=N if you mean it)"
            )
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(
            f"{p}: cannot read: {exc.strerror if isinstance(exc, OSError) else exc}"
        ) from None
    try:
        data = read_scenario_yaml(text, str(p), limits)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(f"{p}: YAML syntax error: {where}{problem}") from None
    if data is None:
        raise ScenarioError(
            f"{p}: the file is empty (a scenario needs at least name, duration_s, origin, radars)"
        )
    return parse_scenario(data, str(p), limits)
