"""Waits show progress where someone watches, stay quiet in a log, and always end with a sentence."""
from __future__ import annotations

import io
import sys
import time

import pytest

from labkit import progress
from labkit.errors import WaitTimedOut


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def ready_after(seconds: float):
    deadline = time.monotonic() + seconds
    return lambda: time.monotonic() >= deadline


def test_a_wait_draws_its_bar_on_a_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert progress.wait_until(ready_after(0.3), timeout_s=5, what="the sample", interval_s=0.01)
    assert "waiting for the sample" in sys.stderr.getvalue()


def test_a_short_wait_writes_nothing_to_a_pipe(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress.wait_until(ready_after(0.5), timeout_s=5, what="the sample", interval_s=0.01)
    assert sys.stderr.getvalue() == ""


def test_a_long_wait_writes_a_line_per_interval_to_a_pipe_not_one_per_tick(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    monkeypatch.setattr(progress, "PIPE_INTERVAL_S", 0.6)
    ticks = []
    progress.wait_until(lambda: ticks.append(1) or len(ticks) > 15, timeout_s=60, what="the sample",
                        interval_s=0.12)  # ~1.9 s, a tick more often than tqdm's own 0.1 s minimum interval
    lines = sys.stderr.getvalue().count("waiting for the sample")
    assert 1 <= lines <= 4 < len(ticks)


def test_a_wait_that_times_out_on_a_pipe_still_says_what_it_waited_for(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with pytest.raises(WaitTimedOut, match="gave up waiting for the sample after 0 s. Press Start"):
        progress.wait_until(lambda: False, timeout_s=0.2, what="the sample", interval_s=0.01,
                            on_timeout="Press Start.")
