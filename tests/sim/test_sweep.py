"""Monte Carlo sweeps: closed-form engagement odds, determinism across workers and on Dask,
resume after interruption, checks and bad input through the CLI."""

from __future__ import annotations

import copy
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from scipy import stats

from bmc.cli import main
from bmc.scenario import parse_scenario
from bmc.sweep import JOURNAL, SweepResult, Vary, run_sweep

ROOT = Path(__file__).resolve().parents[2]

PK = 0.6
"""Single-shot kill probability of the closed-form cases."""

RUNS = 300
"""Runs per closed-form case: the 99.9 % binomial interval is about +-0.09 around 0.6."""

CF: dict[str, Any] = {
    # One radar, one launcher, one drone flying straight at the asset. Detection is certain
    # (high reference Pd, no false alarms); the only random part that matters is the Pk draw.
    # First launch ~12 s in with the drone ~4 km out: time for a second shot after a miss,
    # and the magazine (missiles) caps the shots.
    "name": "closed_form",
    "seed": 3,
    "duration_s": 42,
    "origin": {"lat_deg": 50.0, "lon_deg": 4.0},
    "world": {"truth_period_s": 2},
    "assets": [{"id": "site", "position": {"east_m": 0, "north_m": 0}, "radius_m": 300}],
    "radars": [
        {
            "id": "R1",
            "position": {"east_m": 0, "north_m": 0, "up_m": 20},
            "scan_period_s": 2,
            "reference_pd": 0.99,
            "false_alarms_per_scan": 0,
        }
    ],
    "fdc": {"heartbeat_period_s": 2},
    "launchers": [
        {
            "id": "L1",
            "position": {"east_m": 0, "north_m": 300},
            "pk": PK,
            "missiles": 2,
            "reload_time_s": 10000,
            "heartbeat_timeout_s": 5,
            "max_range_m": 8000,
        }
    ],
    "threats": [
        {
            "id": "T1",
            "kind": "drone",
            "speed_mps": 150,
            "rcs_m2": 1.0,
            "waypoints": [{"position": {"east_m": 6000, "north_m": 0, "up_m": 300}}],
            "target": "site",
        }
    ],
}


def _scenario(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(CF)
    data.update(changes)
    return data


def _rows(result: SweepResult, combination: int = 0) -> list[dict[str, Any]]:
    return [r for r in result.rows if r["combination"] == combination]


def _without_wall_time(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "wall_time_s"} for r in rows]


def _interval(n: int, p: float) -> tuple[float, float]:
    """Central 99.9 % interval of a Binomial(n, p) count."""
    lo, hi = stats.binom.interval(0.999, n, p)
    return float(lo), float(hi)


def _assert_count_within(count: int, n: int, p: float, what: str) -> None:
    lo, hi = _interval(n, p)
    assert lo <= count <= hi, (
        f"{what}: {count}/{n} = {count / n:.3f}, outside the 99.9 % interval "
        f"[{lo / n:.3f}, {hi / n:.3f}] of the closed form {p:.3f}"
    )


# ---------------------------------------------------------------- closed forms


@pytest.fixture(scope="module")
def shoot_look_shoot(tmp_path_factory: pytest.TempPathFactory) -> SweepResult:
    """Shoot-look-shoot with one missile (a single shot) and with two (time for two shots)."""
    return run_sweep(
        parse_scenario(CF),
        RUNS,
        tmp_path_factory.mktemp("sls"),
        vary=[Vary("launchers[0].missiles", (1, 2))],
        workers=2,
        plot=False,
    )


@pytest.fixture(scope="module")
def salvo(tmp_path_factory: pytest.TempPathFactory) -> SweepResult:
    """A salvo of two rounds."""
    data = _scenario(fdc={"heartbeat_period_s": 2, "doctrine": "salvo-2"})
    return run_sweep(parse_scenario(data), RUNS, tmp_path_factory.mktemp("salvo"), workers=2, plot=False)


def test_the_interval_tells_the_doctrines_apart() -> None:
    # Otherwise the closed-form tests below could not fail for the wrong formula.
    assert _interval(RUNS, PK)[1] < _interval(RUNS, 1 - (1 - PK) ** 2)[0]


def test_single_shot_kill_fraction_matches_pk(shoot_look_shoot: SweepResult) -> None:
    rows = _rows(shoot_look_shoot, 0)
    assert len(rows) == RUNS
    assert {(r["threats.total"], r["missiles_fired"]) for r in rows} == {(1, 1)}
    assert all(r["threats.killed"] + r["threats.leaked"] == 1 for r in rows)
    kills = sum(r["threats.killed"] for r in rows)
    _assert_count_within(kills, RUNS, PK, "single shot: kill fraction")
    summary = shoot_look_shoot.summary[0]["metrics"]["threats.killed"]
    assert summary["mean"] == pytest.approx(kills / RUNS)
    assert summary["ci95"][0] < kills / RUNS < summary["ci95"][1]


def test_shoot_look_shoot_with_time_for_two_shots(shoot_look_shoot: SweepResult) -> None:
    rows = _rows(shoot_look_shoot, 1)
    assert len(rows) == RUNS
    # A second missile exactly when the first one missed.
    assert {(r["missiles_fired"], r["threats.killed"]) for r in rows} <= {(1, 1), (2, 0), (2, 1)}
    assert all(r["threats.killed"] + r["threats.leaked"] == 1 for r in rows)
    kills = sum(r["threats.killed"] for r in rows)
    _assert_count_within(kills, RUNS, 1 - (1 - PK) ** 2, "shoot-look-shoot: kill fraction")
    # Missiles per target 1 + (1 - p): the second shots are Binomial(n, 1 - p).
    second_shots = sum(r["missiles_fired"] for r in rows) - RUNS
    _assert_count_within(second_shots, RUNS, 1 - PK, "shoot-look-shoot: second shots")
    missiles = shoot_look_shoot.summary[1]["metrics"]["missiles_fired"]
    assert missiles["mean"] == pytest.approx(1 + second_shots / RUNS)


def test_common_random_numbers_share_the_first_shot(shoot_look_shoot: SweepResult) -> None:
    # Run i of every combination has the same seed, so the first shot's draw is the same.
    single, double = _rows(shoot_look_shoot, 0), _rows(shoot_look_shoot, 1)
    assert [r["seed"] for r in single] == [r["seed"] for r in double]
    for a, b in zip(single, double, strict=True):
        assert a["threats.killed"] == (b["missiles_fired"] == 1)


def test_two_round_salvo(salvo: SweepResult) -> None:
    rows = _rows(salvo)
    assert len(rows) == RUNS
    assert {r["missiles_fired"] for r in rows} == {2}
    kills = sum(r["threats.killed"] for r in rows)
    _assert_count_within(kills, RUNS, 1 - (1 - PK) ** 2, "salvo-2: kill fraction")


# ---------------------------------------------------------------- determinism


SMALL_VARY = [Vary("fdc.doctrine", ("shoot-look-shoot", "salvo-2"))]
"""With one missile, salvo-2 never fires: missiles_per_kill is undefined in those runs."""


def _small(tmp: Path, runs: int = 6, **kw: Any) -> SweepResult:
    data = _scenario(launchers=[{**CF["launchers"][0], "missiles": 1}])
    return run_sweep(parse_scenario(data), runs, tmp, vary=SMALL_VARY, **kw)


def test_same_rows_on_one_and_two_workers(tmp_path: Path) -> None:
    one = _small(tmp_path / "one", workers=1, plot=False)
    two = _small(tmp_path / "two", workers=2, plot=False)
    assert len(one.rows) == 12
    assert _without_wall_time(one.rows) == _without_wall_time(two.rows)
    assert len({r["digest"] for r in one.rows}) == 12


def test_undefined_missiles_per_kill_is_left_out(tmp_path: Path) -> None:
    result = _small(tmp_path, workers=1, plot=False)
    salvo = _rows(result, 1)
    assert all(r["missiles_fired"] == 0 and r["missiles_per_kill"] is None for r in salvo)
    d = result.summary[1]["metrics"]["missiles_per_kill"]
    assert d["n"] == 0 and d["mean"] is None
    assert result.summary[1]["metrics"]["threats.leaked"]["mean"] == 1.0
    lines = (tmp_path / "sweep.csv").read_text().splitlines()
    header = lines[0].split(",")
    last = dict(zip(header, lines[-1].split(","), strict=True))
    assert last["missiles_per_kill"] == "" and last["fdc.doctrine"] == "salvo-2"


def test_dask_cluster_gives_the_same_rows(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    local = _small(tmp_path / "local", workers=1, plot=False)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(_scenario(launchers=[{**CF["launchers"][0], "missiles": 1}])))
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    try:
        code = main(
            [
                "sweep",
                str(path),
                "--runs",
                "6",
                "--vary",
                "fdc.doctrine=shoot-look-shoot,salvo-2",
                "--scheduler",
                cluster.scheduler_address,
                "--out",
                str(tmp_path / "dask"),
                "--quiet",
            ]
        )
        # The runs went through the cluster's scheduler (it runs in this process).
        prefix = cluster.scheduler.task_prefixes.get("run_one")
        ran = prefix.state_counts["memory"] if prefix is not None else 0
        workers = len(cluster.scheduler.workers)
    finally:
        cluster.close()
    assert code == 0
    assert (ran, workers) == (12, 2)
    rows = json.loads((tmp_path / "dask" / "sweep.json").read_text())["rows"]
    assert _without_wall_time(rows) == _without_wall_time(local.rows)


# ---------------------------------------------------------------- resume


def _journal(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / JOURNAL).read_text().splitlines() if line.endswith("}")]


def test_an_interrupted_sweep_resumes_without_repeating_runs(tmp_path: Path) -> None:
    full = _small(tmp_path / "full", workers=1, plot=False)
    out = tmp_path / "resumed"
    part = _small(out, workers=2, plot=False, stop_after=5)
    assert part.ran == 5 and len(part.rows) == 5
    # A sweep killed while writing leaves half a line: that run is simply done again.
    with (out / JOURNAL).open("a") as f:
        f.write('{"scenario_sha256": "0a1b')
    rest = _small(out, workers=2, plot=False)
    assert (rest.resumed, rest.ran) == (5, 7)
    assert _without_wall_time(rest.rows) == _without_wall_time(full.rows)
    keys = [(e["combination_sha256"], e["run"]) for e in _journal(out)]
    assert len(keys) == len(set(keys)) == 12
    again = _small(out, workers=2, plot=False)
    assert (again.resumed, again.ran) == (12, 0)
    more = _small(out, runs=8, workers=2, plot=False)
    assert (more.resumed, more.ran) == (12, 4)


def test_another_scenario_in_the_same_directory_is_refused(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(_scenario(duration_s=40)))
    args = ["sweep", str(path), "--runs", "2", "--workers", "1", "--out", str(tmp_path / "o"), "--quiet"]
    assert main(args) == 0
    path.write_text(yaml.safe_dump(_scenario(duration_s=41)))
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"bmc: {tmp_path / 'o'}: holds runs of another scenario or seed; "
        "give another --out directory, or --fresh to discard them"
    ]
    assert main([*args, "--fresh"]) == 0
    assert len(_journal(tmp_path / "o")) == 2


def test_ctrl_c_keeps_finished_runs_and_the_rerun_completes(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(CF))
    out = tmp_path / "o"
    cmd = [
        sys.executable,
        "-m",
        "bmc",
        "sweep",
        str(path),
        "--runs",
        "200",
        "--workers",
        "2",
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell that starts a job in the background (nohup ... &, some CI runners) leaves
        # SIGINT ignored, children inherit that, and Python then never raises
        # KeyboardInterrupt: give the sweep the default disposition a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            journal = out / JOURNAL
            if journal.exists() and len(journal.read_text().splitlines()) >= 4:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "sweep interrupted" in err and "Traceback" not in err
    kept = _journal(out)
    assert 4 <= len(kept) < 200
    result = run_sweep(parse_scenario(CF), 200, out, workers=2, plot=False, stop_after=0)
    assert result.resumed == len(kept) and len(result.rows) == len(kept)
    assert sorted(r["run"] for r in result.rows) == sorted(e["run"] for e in kept)


# ---------------------------------------------------------------- CLI: outputs, checks, bad input


@pytest.fixture
def cf_file(tmp_path: Path) -> Path:
    path = tmp_path / "cf.yaml"
    path.write_text(yaml.safe_dump(_scenario(duration_s=40, expect=["friendly_engaged == 0"])))
    return path


def _cli(cf_file: Path, *extra: str) -> int:
    out = cf_file.parent / "out"
    return main(["sweep", str(cf_file), "--runs", "4", "--workers", "2", "--out", str(out), *extra])


def test_outputs_and_summary(cf_file: Path, capsys: Any) -> None:
    assert _cli(cf_file, "--vary", "launchers[*].pk=0,1", "--check", "P(leaked == 0) >= 0") == 0
    printed = capsys.readouterr().out
    assert "killed" in printed and "launchers[*].pk=1" in printed and "P(leaked == 0) >= 0" in printed
    out = cf_file.parent / "out"
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["runs"] == 8 and len(doc["rows"]) == 8 and doc["ok"] is True
    assert [s["params"] for s in doc["summary"]] == [{"launchers[*].pk": 0}, {"launchers[*].pk": 1}]
    assert [s["metrics"]["threats.killed"]["mean"] for s in doc["summary"]] == [0.0, 1.0]
    assert {c["check"] for c in doc["checks"]} == {"friendly_engaged == 0", "P(leaked == 0) >= 0"}
    lines = (out / "sweep.csv").read_text().splitlines()
    assert len(lines) == 9
    assert lines[0].startswith("combination,run,seed,launchers[*].pk,sim_time_s,threats.total,threats.killed")
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_plot_names_combinations_by_their_values_and_draws_the_thresholds(cf_file: Path) -> None:
    from bmc.scenario import load_scenario
    from bmc.sweep import Vary, run_sweep
    from bmc.sweep.results import summary_figure

    check = "leaked.mean <= 0.5"
    vary = [Vary("launchers[*].pk", (0, 1))]
    result = run_sweep(
        load_scenario(cf_file), 4, cf_file.parent / "out", vary=vary, checks=[check], plot=False
    )
    fig = summary_figure(result)
    killed, leaked = fig.axes[0], fig.axes[1]
    assert [t.get_text() for t in killed.get_xticklabels()] == ["#0\n0", "#1\n1"]
    [line] = [ln for ln in leaked.get_lines() if ln.get_label().startswith(check)]
    assert line.get_ydata()[0] == 0.5 and line.get_label() == f"{check} (FAIL)"  # Pk 0 leaks its threat
    assert not [ln for ln in killed.get_lines() if "<=" in str(ln.get_label())]  # no check on kills


def test_a_failing_check_exits_1_naming_the_combination(cf_file: Path, capsys: Any) -> None:
    code = _cli(cf_file, "--vary", "launchers[*].pk=0,1", "--check", "leaked.mean <= 0.5", "--quiet")
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "bmc: check failed: leaked.mean <= 0.5 on combination 0 (launchers[*].pk=0): "
        "leaked.mean = 1 over 4 runs, 95 % interval [1, 1]",
    ]


def test_failed_checks_say_what_their_number_is(cf_file: Path, capsys: Any) -> None:
    # A fraction of runs is not a kill count: each kind of check says what it saw.
    code = _cli(cf_file, "--vary", "launchers[*].pk=0,1", "--check", "P(killed >= 1) >= 0.9", "--quiet")
    assert code == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("bmc: check failed: P(killed >= 1) >= 0.9 on combination 0 (launchers[*].pk=0): ")
    assert line.endswith("fraction of runs 0 (0/4), 95 % interval [0, 0.49]"), line


def test_single_run_expect_lines_must_hold_in_every_run(cf_file: Path, capsys: Any) -> None:
    cf_file.write_text(yaml.safe_dump(_scenario(duration_s=40, expect=["leaked <= 0"])))
    assert _cli(cf_file, "--vary", "launchers[*].pk=0,1", "--quiet") == 1
    err = capsys.readouterr().err
    assert "leaked <= 0 on combination 0 (launchers[*].pk=0): held in 0 of 4 runs (every run must)" in err, (
        err
    )
    assert _cli(cf_file, "--vary", "launchers[*].pk=0,1", "--quiet", "--ignore-expect") == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--vary", "launchers[*].pkk=1"], "bmc: {f} with launchers[*].pkk=1: launchers[0].pkk: "),
        (["--vary", "launchers[*].pk=1.5"], "bmc: {f} with launchers[*].pk=1.5: launchers[0].pk: "),
        (["--vary", "launchers[4].pk=1"], "bmc: --vary launchers[4].pk: launchers has 1 element(s), no [4]"),
        (["--vary", "launchers[*]pk=1"], "bmc: --vary launchers[*]pk: cannot read the path at 'pk'"),
        (["--vary", "seed=1,2"], "bmc: --vary seed: seed cannot be varied"),
        (["--check", "kills.mean > 1"], "bmc: --check 'kills.mean > 1': unknown metric 'kills'"),
    ],
)
def test_bad_input_exits_2_with_one_line(cf_file: Path, capsys: Any, extra: list[str], message: str) -> None:
    assert _cli(cf_file, "--quiet", *extra) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(message.format(f=cf_file)), err


def test_runs_must_be_positive(cf_file: Path, capsys: Any) -> None:
    with pytest.raises(SystemExit) as info:
        main(["sweep", str(cf_file), "--runs", "0"])
    assert info.value.code == 2
    assert "--runs: must be >= 1 (got 0)" in capsys.readouterr().err


def test_progress_bar_shows_runs_rate_and_eta(cf_file: Path, capsys: Any) -> None:
    assert _cli(cf_file, "--progress", "--quiet") == 0
    err = capsys.readouterr().err
    assert "4/4 runs" in err and "runs/s" in err and "ETA" in err
