"""Drill: `labkit down` and `labkit up` of the whole local stack mid-stream.

Down stops the running Flink app with a snapshot and saves the trigger's checkpoint and the endpoint's state
(streams with their records, the table); up restores them, runs the app from that snapshot and resumes the
trigger from its checkpoint. The producer meets a stopped endpoint meanwhile and sends the same batch again
until it answers. The trigger starts at LATEST, so a checkpoint lost on the way would skip records."""
from __future__ import annotations

import time

import pytest

import labkit as lab
from labkit.config import NAMES
from labkit.progress import wait_until
from tests.reliability.pipeline import (audit, finish, flink, items, prefixed, record_figures, replays, send,
                                        wait_for_items)

pytestmark = pytest.mark.flink
DRILL = "restart"


def mapping_checkpoint() -> str:
    [mapping] = lab.status()["components"]["lambda"]["mappings"].values()
    [shard] = mapping["shards"].values()
    return shard["checkpoint"]


def test_labkit_down_and_up_mid_stream_loses_and_duplicates_nothing(drill):
    sent = prefixed("anomaly", DRILL, 1000)
    snapshots_before = len(lab.apps.snapshots(NAMES.anomaly_app))
    producers = send(sent, rate=30)
    wait_until(lambda: len(items(DRILL)) >= 50, 180, "the first items of the drill", quiet=True, interval_s=1)
    assert producers[0].is_alive(), "the drill must stop the stack while readings still arrive"
    delivered_before = len(items(DRILL))
    checkpoint_before = mapping_checkpoint()

    stopped = time.monotonic()
    lab.down(quiet=True)
    lab.up(quiet=True)
    checkpoint_after_up = mapping_checkpoint()
    wait_until(lambda: lab.apps.status(NAMES.anomaly_app) == "RUNNING", 300, "the app to run again", quiet=True,
               interval_s=2)
    finish(producers)
    wait_for_items(DRILL, len(sent))
    recovered_s = time.monotonic() - stopped

    figures = audit(DRILL, sent)
    assert int(checkpoint_after_up) >= int(checkpoint_before), "the trigger must resume from its checkpoint"
    assert len(lab.apps.snapshots(NAMES.anomaly_app)) == snapshots_before + 1, "down takes one snapshot"
    restored = flink(f"/jobs/{drill.job_id()}/checkpoints")["latest"]["restored"]
    assert restored and restored["is_savepoint"], "the app must run from the snapshot taken at down"
    assert figures["lost"] == figures["duplicated"] == figures["unexpected"] == 0, figures
    assert figures["wrong_scores"] == 0, "scores differ from an uninterrupted run: the forests were not restored"
    record_figures(DRILL, "`labkit down` + `labkit up` of the whole stack mid-stream",
                   "app stopped with a snapshot and ran from it; trigger resumed at its checkpoint "
                   f"({checkpoint_after_up}); the producer re-sent {producers[0].unanswered} unanswered batch(es)",
                   figures, delivered_before_restart=delivered_before, replayed_records=replays(DRILL),
                   all_delivered_after_s=round(recovered_s))
