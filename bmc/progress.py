"""One progress display for every long command (``bmc run``, ``bmc replay``, ``bmc sweep``).

On a terminal, tqdm's bar, redrawn in place at most every 0.2 s; elsewhere (a CI log, a
file) the same text as whole lines, one per ``log_every`` of the way (a tenth by default) or
per ``log_period_s`` of wall time, so a log shows progress without carriage returns.
The text is tqdm's ``format_meter`` in both cases: rate, time left and elapsed as tqdm
computes them. Wall-clock only: nothing here touches simulated time.
"""

from __future__ import annotations

import math
import time
from typing import Any, TextIO

from tqdm import tqdm


class Progress:
    """Progress of ``total`` units (runs, simulated seconds) on ``stream``."""

    def __init__(
        self,
        stream: TextIO,
        total: float,
        bar_format: str,
        *,
        unit: str = "",
        done: float = 0.0,
        tty: bool | None = None,
        log_every: float = 0.1,
        log_period_s: float = math.inf,
    ) -> None:
        self.stream = stream
        self.total = total
        self.bar_format = bar_format
        self.unit = unit
        self.tty = stream.isatty() if tty is None else tty
        self.log_every = log_every
        self.log_period_s = log_period_s
        self._t0 = time.monotonic()
        self._start = done
        self._n = done
        self._logged_step = -1
        self._logged_at = -math.inf
        self._logged_n: float | None = None
        self._bar: tqdm[Any] | None = None
        if self.tty:
            self._bar = tqdm(
                total=total,
                initial=done,
                file=stream,
                unit=unit,
                bar_format=bar_format,
                mininterval=0.2,
                dynamic_ncols=True,
                leave=True,
            )
        else:
            self._line(force=True)

    def text(self) -> str:
        """The progress as one line of text (what a log gets)."""
        elapsed = time.monotonic() - self._t0
        new = self._n - self._start
        rate = new / elapsed if elapsed > 0 and new > 0 else None
        return str(
            tqdm.format_meter(
                self._n,
                self.total,
                elapsed,
                ncols=100,
                unit=self.unit,
                rate=rate,
                bar_format=self.bar_format,
                initial=self._start,
            )
        )

    def update_to(self, done: float) -> None:
        """Progress is now ``done`` of ``total``."""
        self._n = min(done, self.total)
        if self._bar is not None:
            self._bar.update(self._n - self._bar.n)
        else:
            self._line()

    def advance(self, n: float = 1) -> None:
        """``n`` more units done."""
        self.update_to(self._n + n)

    def _line(self, force: bool = False) -> None:
        # Whole steps of log_every (1e-9: 30/100 is 0.3 to the last bit, not 0.29999).
        step = math.floor(self._n / self.total / self.log_every + 1e-9) if self.total > 0 else 0
        now = time.monotonic()
        if not (force or step > self._logged_step or now - self._logged_at >= self.log_period_s):
            return
        self._logged_step, self._logged_at, self._logged_n = step, now, self._n
        self.stream.write(self.text() + "\n")
        self.stream.flush()

    def close(self) -> None:
        """The final state, and the end of the line."""
        if self._bar is not None:
            self._bar.close()
        elif self._n != self._logged_n:
            self._line(force=True)
