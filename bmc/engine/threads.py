"""How many threads numpy's BLAS may use in this process.

The simulation path makes no BLAS call (its products are written out so their bits do
not depend on the kernel: see :mod:`bmc.engine.detmath`), but the tools around it do
(statistics, plots), and OpenBLAS starts one spinning thread per core by default. On a
shared CI runner, or in a sweep that already puts one run on every core, those threads
only compete with the runs. Every entry point (the CLI, each sweep worker) pins them.
"""

from __future__ import annotations

from threadpoolctl import threadpool_limits


def pin_blas_threads(limit: int = 1) -> None:
    """Let the BLAS libraries loaded in this process use ``limit`` threads from now on."""
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit!r}")
    threadpool_limits(limits=limit, user_api="blas")
