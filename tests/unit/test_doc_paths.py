"""Every file of the repository the docs and docstrings point to exists (moves leave no stale pointer)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOP = ("tests", "benchmarks", "bmc", "protocols", "sensors", "launchers", "hil", "docs", "sim_configs")
# A repository path: starts with a top-level folder, not inside an absolute path (/etc/.../bmc/...).
POINTER = re.compile(rf"(?<![\w/.-])((?:{'|'.join(TOP)})/[\w/.-]+\.(?:py|md|yaml|json|conf|j2|proto))\b")


def _tracked() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / p for p in out.split() if p.endswith((".py", ".md", ".toml"))]


def test_the_pointer_pattern_finds_paths_and_skips_absolute_ones() -> None:
    text = "see tests/unit/protocols/test_auth.py::test_x and /etc/mosquitto/bmc/mosquitto.conf"
    assert POINTER.findall(text) == ["tests/unit/protocols/test_auth.py"]


def test_every_repository_path_named_in_docs_and_code_exists() -> None:
    missing = sorted(
        f"{doc.relative_to(ROOT)}: {pointer}"
        for doc in _tracked()
        if doc.is_file()
        for pointer in set(POINTER.findall(doc.read_text(encoding="utf-8")))
        if not (ROOT / pointer).exists()
    )
    assert not missing, "\n".join(missing)
