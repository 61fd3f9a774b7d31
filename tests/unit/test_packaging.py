"""What a user gets from an installed package: version, examples to start from, a license."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from bmc.cli import EXIT_BAD_INPUT, EXIT_OK, main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p.name for p in (ROOT / "sim_configs").glob("*.yaml"))


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"bmc {metadata.version('bmc-emulator')}"


def test_init_copies_an_example_and_never_overwrites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == EXIT_OK
    copied = tmp_path / "single_engagement.yaml"
    assert copied.read_bytes() == (ROOT / "sim_configs" / "single_engagement.yaml").read_bytes()
    assert "bmc run single_engagement.yaml" in capsys.readouterr().out
    copied.write_text("# mine\n", encoding="utf-8")
    assert main(["init"]) == EXIT_BAD_INPUT
    assert "exists already" in capsys.readouterr().err
    assert copied.read_text(encoding="utf-8") == "# mine\n"
    assert main(["init", "saturation_raid", "--out", "big.yaml"]) == EXIT_OK
    assert main(["run", "big.yaml", "--quiet", "--limit", "objects=1"]) == EXIT_BAD_INPUT  # it is the raid
    assert main(["init", "nonesuch"]) == EXIT_BAD_INPUT
    assert "there are: " + ", ".join(n.removesuffix(".yaml") for n in EXAMPLES) in capsys.readouterr().err


def test_init_lists_every_example_with_its_first_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "--list"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [n.removesuffix(".yaml") for n in EXAMPLES]
    assert any("The tutorial: one radar, one launcher, one drone" in line for line in lines)


def test_the_wheel_ships_examples_vectors_and_license(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("bmc_emulator-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"sim_configs/{n}" for n in EXAMPLES} <= names
    assert {"sim_configs/README.md", "hil/test_vectors.json", "protocols/proto/bmc_v1.proto"} <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), sorted(names)
