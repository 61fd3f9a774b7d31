"""Seeded random streams: one ``numpy.random.Generator`` per stable key.

Streams are spawned from the run's seed by a hash of their key, so adding a
radar does not change the draws of any other node.
"""

from __future__ import annotations

import hashlib

import numpy as np


def _key_words(key: str) -> tuple[int, ...]:
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


class RngStreams:
    """Factory of independent generators for one run."""

    def __init__(self, seed: int) -> None:
        if seed < 0:
            raise ValueError(f"seed must be >= 0 (got {seed})")
        self.seed = seed

    def stream(self, key: str) -> np.random.Generator:
        """The generator for ``key`` (same seed and key: same draws)."""
        seq = np.random.SeedSequence(entropy=self.seed, spawn_key=_key_words(key))
        return np.random.Generator(np.random.PCG64(seq))
