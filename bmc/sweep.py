"""Monte Carlo sweeps: many virtual runs of one scenario over combinations of varied parameters.

``bmc sweep SCENARIO --runs N [--vary PATH=v1,v2,...]... [--workers K | --scheduler URL]``

- **Parameters.** A path names scenario fields the way errors do: dotted, with list
  indexes, ``[*]`` for every element (``launchers[*].pk``, ``launchers[0].missiles``,
  ``fdc.doctrine``, ``radars[*].scan_period_s``, ``duration_s``). Values are YAML
  scalars, so numbers and strings both work. Each combination (the product of the
  ``--vary`` options, in their order) is applied to the validated scenario's dict and
  validated again, so a bad value is reported like a bad scenario file.
- **Seeds.** Run ``i`` of *every* combination uses the same seed: child ``i`` of
  ``SeedSequence(scenario seed)``, cut to 63 bits (:func:`run_seed`). Common random
  numbers make differences between combinations sharper than independent draws
  would, and the seed of a run depends neither on the worker count nor on the order
  runs finish in. ``bmc run`` (with the combination's values in the file) and
  ``--seed`` replays any single run.
- **Workers.** One worker runs in this process; more run on a local process pool
  (``fork`` when this process has no other thread, else ``forkserver``); a
  ``--scheduler`` address sends the runs to an existing Dask ``distributed``
  cluster, whose workers need the same ``bmc`` installed. Each task is one run: the
  scenario as a plain dict plus a seed in, a flat row of figures out.
- **Resume.** Every finished run is appended to ``DIR/runs.jsonl`` at once, with
  fingerprints (SHA-256 of the canonical scenario dict without ``expect``) of the
  scenario and of its combination. A new sweep into the same directory reuses the
  runs whose combination fingerprint and run index it needs, so an interrupted
  sweep picks up where it stopped and a larger ``--runs`` only adds runs. Runs of a
  *different* scenario in the directory are an error unless ``fresh`` (they would be
  silently mixed otherwise). Rows do not record the emulator's version: start afresh
  after changing the emulator.
- **Outputs.** ``sweep.json`` (rows, per-combination summary, check results),
  ``sweep.csv`` (one row per run) and ``sweep.png`` (one panel per metric, mean and
  95 % interval per combination).
- **Checks.** See :mod:`bmc.engine.stats`: the scenario's ``expect`` lines (a
  single-run check must hold in every run) plus any given here, judged per
  combination; the sweep fails when one fails for any combination.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import copy
import csv
import functools
import hashlib
import itertools
import json
import math
import multiprocessing
import os
import re
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import yaml

from bmc.engine import clock
from bmc.engine.metrics import METRICS
from bmc.engine.report import RunReport
from bmc.engine.runner import external_nodes, run_virtual
from bmc.engine.stats import SweepCheck, describe, parse_sweep_check
from bmc.engine.threads import pin_blas_threads
from bmc.progress import Progress
from bmc.scenario import DEFAULT_LIMITS, Limits, Scenario, ScenarioError, parse_scenario

SEED_SCHEME = "bmc-sweep/1: run i seed = SeedSequence(scenario seed, spawn_key=(i,)), 63 bits"
"""How run seeds derive from the scenario seed; part of every fingerprint."""

JOURNAL = "runs.jsonl"
"""File in the output directory to which every finished run is appended."""

SUMMARY_METRICS: tuple[tuple[str, str], ...] = (
    ("threats.killed", "killed"),
    ("threats.leaked", "leaked"),
    ("missiles_fired", "missiles"),
    ("missiles_per_kill", "missiles/kill"),
    ("asset_hits", "asset hits"),
    ("reaction_time_s.p50", "reaction p50 s"),
)
"""Metrics of the summary table and plot, with their headings. ``asset_hits`` is the sum of
``assets.<id>`` over the defended assets."""

_NAME = r"[A-Za-z_][A-Za-z0-9_\-]*"
_SEGMENT = re.compile(rf"\.({_NAME})|\[([0-9]+|\*)\]")
_FIRST = re.compile(_NAME)


class SweepError(RuntimeError):
    """A sweep that could not finish (a run failed, the cluster went away); ``str()`` is one line."""


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


# ---------------------------------------------------------------- one run


def flatten(report: RunReport) -> dict[str, Any]:
    """The figures of one run report as a flat row: every metric path, ``assets.<id>``,
    ``digest`` and ``wall_time_s``."""
    row: dict[str, Any] = {path: report.value(path) for path in METRICS}
    for asset, hits in report.assets.items():
        row[f"assets.{asset}"] = hits
    row["digest"] = report.digest
    row["wall_time_s"] = report.wall_time_s
    return row


def run_one(data: dict[str, Any], seed: int) -> dict[str, Any]:
    """One replication, as a worker runs it: the scenario as its dict and the run's seed in,
    the flat row out."""
    # Here rather than in a worker initializer: a Dask worker runs none of ours.
    pin_blas_threads()
    # The combination met the user's limits in the parent (combinations()): not again here.
    return flatten(run_virtual(parse_scenario(data, limits=Limits.unlimited()), seed=seed))


# ---------------------------------------------------------------- executors


def default_workers() -> int:
    """Cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _quiet_worker() -> None:
    # Ctrl-C is the parent's to handle: it lets running runs finish and keeps their rows.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _process_context() -> multiprocessing.context.BaseContext:
    """``fork`` when it is safe and cheap (Linux, no other thread: the children inherit the
    imported emulator), else ``forkserver`` with the emulator preloaded, else the default."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1 and os.uname().sysname == "Linux":
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["bmc.sweep"])
        return ctx
    return multiprocessing.get_context()


@contextlib.contextmanager
def _executor(workers: int, scheduler: str | None) -> Iterator[tuple[cf.Executor | None, int]]:
    """(executor, task slots): None for in-process runs."""
    if scheduler is not None:
        import distributed  # deferred: a second to import, and only this path needs it

        connect: Any = distributed.Client  # untyped package
        try:
            client = connect(scheduler, timeout=10, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ScenarioError(f"--scheduler {scheduler}: cannot connect: {exc}") from None
        try:
            slots = max(1, sum(client.nthreads().values()))
            yield client.get_executor(pure=False), slots
        finally:
            client.close()
    elif workers <= 1:
        yield None, 1
    else:
        with cf.ProcessPoolExecutor(workers, mp_context=_process_context(), initializer=_quiet_worker) as ex:
            yield ex, workers


# ---------------------------------------------------------------- the journal


@dataclass(frozen=True, slots=True)
class Task:
    """One run still to do."""

    combination: Combination
    run: int
    seed: int


def _read_journal(path: Path, scenario_sha: str, fresh: bool) -> dict[tuple[str, int], dict[str, Any]]:
    """Finished runs in ``path`` by (combination fingerprint, run index)."""
    if fresh:
        path.unlink(missing_ok=True)
    if not path.exists():
        return {}
    done: dict[tuple[str, int], dict[str, Any]] = {}
    good: list[str] = []
    bad = 0
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read: {exc}") from None
    for line in lines:
        try:
            row = json.loads(line)
            key = (str(row["combination_sha256"]), int(row["run"]))
            other = row["scenario_sha256"] != scenario_sha
        except (ValueError, KeyError, TypeError):
            bad += 1  # a line cut short when a sweep was killed: that run is done again
            continue
        if other:
            raise ScenarioError(
                f"{path.parent}: holds runs of another scenario or seed; "
                "give another --out directory, or --fresh to discard them"
            )
        done[key] = row
        good.append(line)
    if bad:
        path.write_text("".join(f"{line}\n" for line in good), encoding="utf-8")
    return done


# ---------------------------------------------------------------- progress


SWEEP_PROGRESS = (
    "sweep |{bar:24}| {n_fmt}/{total_fmt} runs  {rate_noinv_fmt}  ETA {remaining}  elapsed {elapsed}"
)


def progress_bar(stream: TextIO, total: int, done: int, tty: bool | None = None) -> Progress:
    """Runs done out of the total, runs per second and time left: a bar on a terminal, a line
    every 10 s (and at each tenth) in a log."""
    return Progress(stream, total, SWEEP_PROGRESS, unit=" runs", done=done, tty=tty, log_period_s=10.0)


# ---------------------------------------------------------------- the sweep


@dataclass
class SweepResult:
    """A finished sweep: its rows (sorted by combination and run), summary and check results."""

    scenario: str
    scenario_sha256: str
    runs: int
    combinations: list[Combination]
    rows: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    checks: list[dict[str, Any]]
    ran: int
    resumed: int
    wall_time_s: float
    workers: int
    scheduler: str | None
    out: Path
    files: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every check held for every combination."""
        return all(c["ok"] for c in self.checks)


def run_sweep(
    scenario: Scenario,
    runs: int,
    out: Path,
    *,
    vary: Sequence[Vary] = (),
    checks: Sequence[str] = (),
    use_expect: bool = True,
    workers: int = 1,
    scheduler: str | None = None,
    fresh: bool = False,
    progress: TextIO | None = None,
    source: str = "<scenario>",
    plot: bool = True,
    stop_after: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> SweepResult:
    """Run ``runs`` replications of every combination of ``vary``; write the outputs into ``out``.

    ``checks`` (sweep grammar) are judged with the scenario's ``expect`` lines unless not
    ``use_expect``. ``progress`` gets a progress bar. ``stop_after`` ends the sweep after that
    many new runs, as an interruption would (the outputs then cover what is done).
    Raises ScenarioError for bad input and SweepError when a run fails."""
    t0 = clock.wall_seconds()
    if runs < 1:
        raise ScenarioError(f"--runs must be >= 1 (got {runs})")
    if workers < 1:
        raise ScenarioError(f"--workers must be >= 1 (got {workers})")
    external = external_nodes(scenario)
    if external:
        raise ScenarioError(
            f"{source}: nodes {', '.join(external)} are external: a sweep simulates every node"
        )
    parsed: list[SweepCheck] = list(map(parse_sweep_check, scenario.expect)) if use_expect else []
    for text in checks:
        try:
            parsed.append(parse_sweep_check(text))
        except ValueError as exc:
            raise ScenarioError(f"--check {text!r}: {exc}") from None
    combos = combinations(scenario, vary, source, limits)
    base_sha = fingerprint(scenario.model_dump(mode="json"))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScenarioError(f"{out}: cannot create the output directory: {exc.strerror}") from None
    journal = out / JOURNAL
    done = _read_journal(journal, base_sha, fresh)
    needed = {(c.fingerprint, i): c for c in combos for i in range(runs)}
    resumed = sum(1 for key in needed if key in done)
    tasks = [Task(c, i, run_seed(scenario.seed, i)) for (fp, i), c in needed.items() if (fp, i) not in done]
    tasks.sort(key=lambda t: (t.run, t.combination.index))  # every combination advances together
    if stop_after is not None:
        tasks = tasks[: max(0, stop_after)]
    total = len(needed)
    bar = progress_bar(progress, total, resumed) if progress is not None else None
    ran = 0

    with journal.open("a", encoding="utf-8") as log:

        def record(task: Task, row: dict[str, Any]) -> None:
            nonlocal ran
            entry = {
                "scenario_sha256": base_sha,
                "combination_sha256": task.combination.fingerprint,
                "combination": task.combination.index,
                "run": task.run,
                "seed": task.seed,
                "params": task.combination.params,
                **row,
            }
            log.write(json.dumps(entry, allow_nan=False) + "\n")
            log.flush()
            done[(task.combination.fingerprint, task.run)] = entry
            ran += 1
            if bar is not None:
                bar.advance()

        try:
            _execute(tasks, workers, scheduler, record)
        finally:
            if bar is not None:
                bar.close()

    rows = []
    for c in combos:
        for i in range(runs):
            entry = done.get((c.fingerprint, i))
            if entry is not None:
                row = {k: v for k, v in entry.items() if not k.endswith("_sha256")}
                rows.append({**row, "combination": c.index, "params": c.params})
    summary = summarise(combos, rows)
    results = judge(parsed, combos, rows)
    result = SweepResult(
        scenario=scenario.name,
        scenario_sha256=base_sha,
        runs=runs,
        combinations=combos,
        rows=rows,
        summary=summary,
        checks=results,
        ran=ran,
        resumed=resumed,
        wall_time_s=0.0,
        workers=workers,
        scheduler=scheduler,
        out=out,
    )
    result.files = write_outputs(result, plot=plot)
    result.wall_time_s = clock.wall_seconds() - t0
    return result


def _execute(
    tasks: Sequence[Task], workers: int, scheduler: str | None, record: Callable[[Task, dict[str, Any]], None]
) -> None:
    """Run ``tasks``, handing each row to ``record`` as it finishes (in any order)."""
    if not tasks:
        return
    with _executor(workers, scheduler) as (executor, slots):
        if executor is None:
            for task in tasks:
                record(task, _call(task, functools.partial(run_one, task.combination.data, task.seed)))
            return
        pending = iter(tasks)
        in_flight: dict[cf.Future[dict[str, Any]], Task] = {}

        def fill() -> None:
            # A bounded window keeps memory flat and lets an interruption drop the queue at once.
            for task in itertools.islice(pending, max(0, 2 * slots - len(in_flight))):
                in_flight[executor.submit(run_one, task.combination.data, task.seed)] = task

        try:
            fill()
            while in_flight:
                finished, _ = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
                for fut in finished:
                    task = in_flight.pop(fut)
                    record(task, _call(task, fut.result))
                fill()
        except KeyboardInterrupt:
            # Keep what the workers are finishing anyway; a second Ctrl-C drops it.
            for fut in in_flight:
                fut.cancel()
            for fut in cf.as_completed(in_flight):
                if not fut.cancelled() and fut.exception() is None:
                    record(in_flight[fut], fut.result())
            raise
        except BaseException:
            for fut in in_flight:
                fut.cancel()
            raise


def _call(task: Task, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return fn()
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # a run that fails is an emulator bug: say which run, keep the others
        c = task.combination
        raise SweepError(
            f"run {task.run} of combination {c.index} ({c.label}, seed {task.seed}) failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


# ---------------------------------------------------------------- statistics


def _values(rows: Sequence[Mapping[str, Any]], metric: str) -> list[Any]:
    if metric == "asset_hits":
        return [sum(v for k, v in row.items() if k.startswith("assets.")) for row in rows]
    return [row.get(metric) for row in rows]


def summarise(combos: Sequence[Combination], rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per combination: its parameters, run count, and :func:`bmc.engine.stats.describe` of the
    summary metrics, ``friendly_engaged`` and every ``assets.<id>``."""
    out = []
    for c in combos:
        mine = [r for r in rows if r["combination"] == c.index]
        names = [m for m, _ in SUMMARY_METRICS] + ["friendly_engaged"]
        names += sorted({k for r in mine for k in r if k.startswith("assets.")})
        out.append(
            {
                "combination": c.index,
                "params": c.params,
                "runs": len(mine),
                "metrics": {name: describe(_values(mine, name)) for name in names},
            }
        )
    return out


def judge(
    checks: Sequence[SweepCheck], combos: Sequence[Combination], rows: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Every check on every combination: ``check``, ``combination``, ``params``, ``ok``, ``value``,
    ``ci95``, ``n``."""
    out = []
    for check in checks:
        for c in combos:
            mine = [r for r in rows if r["combination"] == c.index]
            out.append({**check.evaluate(mine), "combination": c.index, "params": c.params})
    return out


# ---------------------------------------------------------------- outputs


def _columns(result: SweepResult) -> list[str]:
    paths = list(result.combinations[0].params) if result.combinations else []
    assets = sorted({k for r in result.rows for k in r if k.startswith("assets.")})
    return ["combination", "run", "seed", *paths, *METRICS, *assets, "digest", "wall_time_s"]


def write_outputs(result: SweepResult, plot: bool = True) -> list[Path]:
    """Write ``sweep.json``, ``sweep.csv`` and (with ``plot``) ``sweep.png`` into ``result.out``."""
    out = result.out
    doc = {
        "scenario": result.scenario,
        "scenario_sha256": result.scenario_sha256,
        "seed_scheme": SEED_SCHEME,
        "runs_per_combination": result.runs,
        "runs": len(result.rows),
        "combinations": [{"combination": c.index, "params": c.params} for c in result.combinations],
        "summary": result.summary,
        "checks": result.checks,
        "ok": result.ok,
        "rows": result.rows,
    }
    files = [out / "sweep.json", out / "sweep.csv"]
    try:
        files[0].write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n", encoding="utf-8")
        columns = _columns(result)
        with files[1].open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, columns, extrasaction="ignore")
            writer.writeheader()
            for row in result.rows:
                writer.writerow({**row, **row["params"]})
        if plot and result.rows:
            files.append(out / "sweep.png")
            plot_summary(result, files[-1])
    except OSError as exc:
        raise ScenarioError(f"{out}: cannot write the sweep outputs: {exc.strerror}") from None
    return files


def plot_summary(result: SweepResult, path: Path) -> None:
    """One panel per summary metric: mean and 95 % interval of every combination."""
    import matplotlib  # deferred: plotting is the slow import of the sweep

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(result.summary)
    x = np.arange(n)
    # Combinations are numbered on the axes and spelled out once, under the panels.
    legend = [f"#{c.index}: {c.label}" for c in result.combinations]
    legend_in = 0.2 * len(legend) + 0.3
    height_in = 7 + legend_in
    fig, axes = plt.subplots(2, 3, figsize=(max(10.0, 0.5 * n + 8), height_in), squeeze=False)
    for ax, (metric, heading) in zip(axes.flat, SUMMARY_METRICS, strict=True):
        means, lo, hi = [], [], []
        for s in result.summary:
            d = s["metrics"][metric]
            mean = math.nan if d["mean"] is None else d["mean"]
            ci = d["ci95"] or [mean, mean]
            means.append(mean)
            lo.append(mean - ci[0])
            hi.append(ci[1] - mean)
        ax.errorbar(x, means, yerr=[lo, hi], fmt="o", capsize=4)
        ax.set_title(heading)
        ax.set_xticks(x, [f"#{k}" for k in range(n)], fontsize=8, rotation=90 if n > 12 else 0)
        ax.set_xlim(-0.5, n - 0.5)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{result.scenario}: mean and 95 % interval over {result.runs} runs per combination")
    fig.text(0.02, 0.01, "\n".join(legend), fontsize=8, va="bottom", family="monospace")
    # Fixed margins: tight_layout would draw the figure once more just to measure it.
    fig.subplots_adjust(
        left=0.06,
        right=0.98,
        top=1 - 0.7 / height_in,
        bottom=(legend_in + 0.5) / height_in,
        hspace=0.35,
        wspace=0.25,
    )
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _num(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def seen_text(check: Mapping[str, Any]) -> str:
    """What a check saw, in words that say what the number is: a statistic of the metric, a
    fraction of runs, or how many runs a single-run check held in."""
    value = _num(check["value"]) if check["value"] is not None else "undefined in every run"
    ci = (
        ""
        if check.get("ci95") is None
        else f", 95 % interval [{_num(check['ci95'][0])}, {_num(check['ci95'][1])}]"
    )
    if check.get("kind") == "every":
        return f"held in {check['hits']} of {check['n']} runs (every run must)"
    if check.get("kind") == "prob":
        return f"fraction of runs {value} ({check['hits']}/{check['n']}){ci}"
    return f"{check['check'].split()[0]} = {value} over {check['n']} runs{ci}"


def format_summary(result: SweepResult) -> str:
    """The summary table and the check results, for a terminal."""
    lines = [
        f"sweep {result.scenario}: {len(result.combinations)} combination(s) x {result.runs} run(s); "
        f"{result.ran} run now, {result.resumed} resumed from {result.out / JOURNAL}; "
        f"{result.wall_time_s:.1f} s"
    ]
    heads = ["#", *[h for _, h in SUMMARY_METRICS], "parameters"]
    table = [heads]
    for s, c in zip(result.summary, result.combinations, strict=True):
        cells = [str(c.index)]
        for metric, _ in SUMMARY_METRICS:
            d = s["metrics"][metric]
            if d["mean"] is None:
                cells.append("-")
                continue
            text = _num(d["mean"])
            if d["ci95"] is not None:
                text += f" ± {_num((d['ci95'][1] - d['ci95'][0]) / 2)}"
            if d["n"] != s["runs"]:
                text += f" (n={d['n']})"
            cells.append(text)
        cells.append(c.label)
        table.append(cells)
    widths = [max(len(row[k]) for row in table) for k in range(len(heads))]
    for row in table:
        lines.append(
            "  ".join(
                cell.rjust(w) if k < len(heads) - 1 else cell
                for k, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    lines.append("mean ± half-width of the 95 % interval (Student t); n = runs where the metric is defined")
    if result.checks:
        lines.append("checks:")
        for r in result.checks:
            verdict = "ok  " if r["ok"] else "FAIL"
            lines.append(f"  {verdict}  {r['check']}  #{r['combination']}: {seen_text(r)}")
    return "\n".join(lines)
