"""How a sweep runs: one run as a worker does it, the executors (in process, local pool, Dask),
the resumable journal, progress, and the sweep itself."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import functools
import itertools
import json
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from bmc.engine import clock
from bmc.engine.metrics import METRICS
from bmc.engine.report import RunReport
from bmc.engine.runner import external_nodes, run_virtual
from bmc.engine.stats import SweepCheck, parse_sweep_check
from bmc.engine.threads import pin_blas_threads
from bmc.progress import Progress
from bmc.scenario import DEFAULT_LIMITS, Limits, Scenario, ScenarioError, parse_scenario
from bmc.sweep.plan import JOURNAL, Combination, Vary, combinations, fingerprint, run_seed
from bmc.sweep.results import SweepResult, judge, summarise, write_outputs


class SweepError(RuntimeError):
    """A sweep that could not finish (a run failed, the cluster went away); ``str()`` is one line."""


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
