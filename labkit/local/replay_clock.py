"""The time the local endpoint's models see while a call changes state: the time the call was received,
recorded in the journal with it; when the journal is replayed after a crash, the models see that same time
again, so a replayed record gets back its own arrival time. Otherwise the wall clock.

The clocks it governs: Kinesis records' arrival times (moto's `utcnow` in its Kinesis models, an entry of
the moto patch registry), labkit's Kinesis clock (`kinesis_fixes.clock`: retention and the shard limits) and
the inbox's delivery times (sns_email.py).
"""
from __future__ import annotations

import datetime
import time
from contextlib import contextmanager

from moto.kinesis import models as kinesis_models

from .moto_patches import Patch

_frozen: float | None = None
_replaying = False


def now() -> float:
    """Seconds since the epoch: the replayed request's time while replaying, else the wall clock."""
    return time.time() if _frozen is None else _frozen


def replaying() -> bool:
    """True while the journal is replayed (the models then change state without side effects)."""
    return _replaying


def utcnow() -> datetime.datetime:
    """`now()` as moto's naive UTC datetime."""
    return datetime.datetime.fromtimestamp(now(), datetime.timezone.utc).replace(tzinfo=None)


@contextmanager
def frozen_at(seconds: float, replaying: bool = False):
    """Inside, every governed clock reads `seconds` (callers serialise: one call changes state at a time)."""
    from . import kinesis_fixes

    global _frozen, _replaying
    kept_clock, kinesis_fixes.clock = kinesis_fixes.clock, lambda: seconds
    _frozen, _replaying = seconds, replaying
    try:
        yield
    finally:
        _frozen, _replaying, kinesis_fixes.clock = None, False, kept_clock


def patches() -> list[Patch]:
    return [Patch(kinesis_models, "utcnow", utcnow,
                  "moto stamps a record with the wall clock, so a record replayed from the journal after a crash "
                  "would arrive anew (AT_TIMESTAMP iterators, retention and the write limits would see it later)",
                  "test_a_record_put_while_the_clock_is_frozen_arrives_at_that_time")]
