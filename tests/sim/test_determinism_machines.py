"""The saturation raid gives one digest whatever the BLAS kernel, its thread count, the
CPU features numpy may use, the hash seed or the allocator: the stand-ins, on one machine,
for "a CI runner, a laptop and a Dask worker on another CPU"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.sim import golden

SCENARIO = golden.ROOT / "sim_configs" / "saturation_raid.yaml"


def _dispatched_cpu_features() -> str:
    """numpy's CPU-specific kernels this machine would use beyond its baseline, by name."""
    from numpy._core import _multiarray_umath as umath

    return " ".join(f for f in umath.__cpu_dispatch__ if umath.__cpu_features__.get(f))


def _variants() -> dict[str, dict[str, str]]:
    features = _dispatched_cpu_features()
    variants = {
        "as is": {},
        "as is, again": {},
        "one BLAS thread, hash seed 0": {"OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "0"},
        "two BLAS threads, Prescott kernel": {"OPENBLAS_NUM_THREADS": "2", "OPENBLAS_CORETYPE": "Prescott"},
        "Haswell kernel, hash seed 12345": {"OPENBLAS_CORETYPE": "Haswell", "PYTHONHASHSEED": "12345"},
        "empty OPENBLAS_CORETYPE": {"OPENBLAS_CORETYPE": ""},
        # System malloc for Python objects and padding shift where numpy's buffers land.
        "other allocator": {"PYTHONMALLOC": "malloc", "MALLOC_TOP_PAD_": "12345", "MALLOC_PERTURB_": "165"},
    }
    if features:  # only a CPU with kernels beyond numpy's baseline has something to turn off
        variants["numpy baseline kernels only"] = {"NPY_DISABLE_CPU_FEATURES": features}
    return variants


def _digest(env_changes: dict[str, str], tmp: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENBLAS_", "NPY_", "PYTHONHASH"))}
    env.update(env_changes)
    out = tmp / f"report-{abs(hash(tuple(sorted(env_changes.items()))))}.json"
    subprocess.run(
        [sys.executable, "-m", "bmc.cli", "run", str(SCENARIO), "--quiet", "--json", str(out)],
        env=env,
        check=True,
        timeout=300,
        cwd=golden.ROOT,
    )
    return str(json.loads(out.read_text(encoding="utf-8"))["digest"])


@pytest.mark.slow
def test_saturation_raid_gives_the_golden_digest_under_every_setting(tmp_path: Path) -> None:
    variants = _variants()
    with ThreadPoolExecutor(2) as pool:  # two cores: two runs at a time
        runs = pool.map(lambda changes: _digest(changes, tmp_path), variants.values())
        digests = dict(zip(variants, runs, strict=True))
    mismatch = golden.version_mismatch()
    assert mismatch is None, mismatch
    expected = golden.load()["digests"]["saturation_raid"]
    differing = {name: d for name, d in digests.items() if d != expected}
    assert not differing, f"expected {expected} everywhere, got {differing}"
