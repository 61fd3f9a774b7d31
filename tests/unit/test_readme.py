# ruff: noqa: E501
"""Every command the READMEs show is exercised somewhere: by CI itself (.ci/run), by a test
that runs it as written, or by a test that runs the same program with the same options.

A command added to a README without a line here fails this test, so the README cannot
drift from what is checked."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READMES = [ROOT / "README.md", ROOT / "hil" / "README.md"]

# (pattern a command line matches, where it is exercised: a test as path::name, or .ci/run)
EXERCISED: list[tuple[str, str]] = [
    (r"^make run\b", ".ci/run"),
    (r"^make test\b", ".ci/run"),
    (r"^\.venv/bin/bmc run SCENARIO\.yaml ", "tests/sim/test_bad_scenarios.py::test_json_report"),
    (r"^\.venv/bin/bmc init --list", "tests/unit/test_packaging.py::test_init_lists_every_example_with_its_first_sentence"),
    (r"^\.venv/bin/bmc init single_engagement --out", "tests/unit/test_packaging.py::test_init_copies_an_example_and_never_overwrites"),
    (r"^\.venv/bin/bmc --version$", "tests/unit/test_packaging.py::test_version"),
    (r"^\.venv/bin/bmc sweep SCENARIO\.yaml ", "tests/sim/test_sweep.py::test_outputs_and_summary"),
    (r"^\.venv/bin/bmc sweep sim_configs/belgium_nasams\.yaml ", "tests/sim/test_readme_sweep.py::test_readme_sweep_example_runs_as_written"),
    (r"^mosquitto -c protocols/mosquitto\.conf &$", "tests/transport/test_readme_commands.py::test_readme_real_time_commands_run_as_written"),
    (r"^\.venv/bin/bmc run sim_configs/single_engagement\.yaml --mqtt ", "tests/transport/test_readme_commands.py::test_readme_real_time_commands_run_as_written"),
    (r"^mosquitto_sub ", "tests/transport/test_readme_commands.py::test_readme_real_time_commands_run_as_written"),
    (r"^\.venv/bin/bmc run sim_configs/belgium_nasams\.yaml --record ", "tests/sim/test_recording.py::test_recording_does_not_change_the_run"),
    (r"^\.venv/bin/bmc report run\.mcap --out ", "tests/sim/test_recording.py::test_bmc_report_writes_the_report_map_timeline_and_page"),
    (r"^\.venv/bin/bmc replay run\.mcap --mqtt ", "tests/transport/test_replay_mqtt.py::test_replay_window_from_to_with_the_retained_state_first"),
    (r"^\.venv/bin/bmc replay run\.mcap --into fdc ", "tests/sim/test_recording.py::test_another_doctrine_reports_the_differences"),
    (r"^\.venv/bin/bmc broker-config --scenario \S+ --acl --out ", "tests/transport/test_broker_acl.py::test_split_cell_under_the_acl_gives_the_virtual_outcome"),
    (r"^\.venv/bin/bmc command sim_configs/single_engagement\.yaml hold ", "tests/transport/test_spoofing.py::test_the_genuine_operator_holds_the_cell"),
    (r"^bmc broker-config > ", "tests/unit/protocols/test_broker_config.py::test_shipped_conf_matches_the_cli"),
    (r"^bmc keys init s\.yaml ", "tests/hil/test_bridges.py::test_launcher_played_by_the_pi_program_gives_the_virtual_outcome"),
    (r"^\.venv/bin/bmc keys init sim_configs/single_engagement\.yaml ", "tests/transport/test_readme_commands.py::test_readme_real_time_commands_run_as_written"),
    (r"^bmc hil launcher L1 ", "tests/hil/test_bridges.py::test_launcher_played_by_the_pi_program_gives_the_virtual_outcome"),
    (r"^python -m hil\.devices\.pi_launcher ", "tests/hil/test_bridges.py::test_launcher_played_by_the_pi_program_gives_the_virtual_outcome"),
    (r"^bmc run s\.yaml --mqtt ", "tests/hil/test_bridges.py::test_launcher_played_by_the_pi_program_gives_the_virtual_outcome"),
    (r"^\.venv/bin/bmc export run\.mcap --format asterix ", "tests/interop/test_export.py::test_cat062_positions_track_numbers_and_times"),
    (r"^\.venv/bin/bmc export run\.mcap --format dis ", "tests/interop/test_export.py::test_dis_entities_fire_and_detonation"),
    (r"^\.venv/bin/bmc export run\.mcap --format acmi ", "tests/interop/test_acmi.py::test_objects_coalitions_positions_and_removal_times"),
    (r"^\.venv/bin/bmc gateway --scenario s\.yaml --mqtt ", "tests/transport/test_gateway.py::test_live_engagement_as_asterix_and_dis"),
    (r"^\.venv/bin/bmc run s\.yaml --mqtt \S+ --keys keys --dis-in ", "tests/transport/test_dis_in.py::test_dis_entities_fly_in_our_world"),
    (r"^python -m hil\.cable ", "tests/hil/test_line_noise.py::test_noise_never_passes_a_corrupt_frame_and_every_untouched_frame_arrives"),
]  # fmt: skip


def commands(text: str) -> list[str]:
    """Command lines of every ```sh block (indented ones too), continuations joined, comments gone."""
    found = []
    for _indent, body in re.findall(r"^( *)```sh\n(.*?)^\1```", text, re.S | re.M):
        for line in re.sub(r"\\\n\s*", " ", body).splitlines():
            line = line.strip()
            if line.startswith("[") and found:  # a synopsis's options, continued
                found[-1] += " " + line
            elif line and not line.startswith("#"):
                found.append(line)
    return found


def test_every_readme_command_is_exercised() -> None:
    unmatched = []
    for readme in READMES:
        for command in commands(readme.read_text(encoding="utf-8")):
            hits = [where for pattern, where in EXERCISED if re.search(pattern, command)]
            if len(hits) != 1:
                unmatched.append(f"{readme.name}: {command!r} matches {len(hits)} entries")
    assert not unmatched, "\n".join(unmatched)


def test_every_entry_names_a_real_test_or_ci() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for pattern, where in EXERCISED:
        if where == ".ci/run":
            assert pattern.removeprefix("^").removesuffix(r"\b") in ci, f"{pattern}: .ci/run does not run it"
            continue
        path, _, name = where.partition("::")
        source = (ROOT / path).read_text(encoding="utf-8")
        assert re.search(rf"^def {name}\(", source, re.M), f"{where}: no such test"


def test_every_entry_is_used() -> None:
    every = [c for readme in READMES for c in commands(readme.read_text(encoding="utf-8"))]
    unused = [p for p, _ in EXERCISED if not any(re.search(p, c) for c in every)]
    assert not unused, unused
