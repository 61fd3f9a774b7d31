"""The one progress display: whole lines in a log, a redrawn bar on a terminal."""

from __future__ import annotations

import io

from bmc.progress import Progress
from bmc.sweep import progress_bar

FMT = "done {n:.0f}/{total:.0f} {percentage:3.0f}%"


def test_a_log_gets_a_line_per_tenth_and_the_end_once() -> None:
    out = io.StringIO()
    p = Progress(out, 100.0, FMT, tty=False)
    for k in range(1, 101):
        p.update_to(float(k))
    p.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines == [f"done {k}/100 {k:3d}%" for k in range(0, 101, 10)], lines


def test_a_terminal_gets_one_line_redrawn() -> None:
    out = io.StringIO()
    p = Progress(out, 10.0, FMT, tty=True)
    for k in range(1, 11):
        p.update_to(float(k))
    p.close()
    text = out.getvalue()
    assert text.count("\n") == 1 and "\r" in text
    assert text.rstrip("\n").split("\r")[-1].strip() == "done 10/10 100%"


def test_the_sweep_bar_says_runs_rate_and_time_left() -> None:
    out = io.StringIO()
    bar = progress_bar(out, total=4, done=1, tty=False)
    bar.advance()
    bar.close()
    last = out.getvalue().splitlines()[-1]
    assert "2/4 runs" in last and "runs/s" in last and "ETA" in last and "elapsed" in last
