"""Drill: `labkit down` and `labkit up` of the whole local stack mid-stream.

Down stops the running Flink app with a snapshot and saves the trigger's checkpoint and the endpoint's state
(streams with their records, the table); up restores them, runs the app from that snapshot and resumes the
trigger from its checkpoint. The producer meets a stopped endpoint meanwhile and sends the same batch again
until it answers. The trigger is behind when the stack stops, and it starts at LATEST: a checkpoint lost on the
way would skip the records it had not delivered. A clean stop and start repeats nothing: the delivery counter
must count each reading delivered once and written once."""
from __future__ import annotations

import time

import pytest

import labkit as lab
from labkit.config import NAMES
from labkit.progress import wait_until
from tests.reliability.pipeline import (ANOMALY_STREAM, audit, finish, flink, items, prefixed, read_stream,
                                        record_figures, replays, send, wait_for_items)

pytestmark = pytest.mark.flink
DRILL = "restart"


def mapping_checkpoint(mapping: str) -> str:
    """The trigger's checkpoint as the running stack reports it (other tests' triggers may run beside it)."""
    [shard] = lab.status()["components"]["lambda"]["mappings"][mapping]["shards"].values()
    return shard["checkpoint"]


def saved_checkpoint(mapping: str) -> str:
    """The trigger's checkpoint as the stopped stack left it in its state folder."""
    [shard] = (lab.settings().state_dir / "lambda" / "checkpoints" / mapping).iterdir()
    return shard.read_text().strip()


def held_back(checkpoint: str) -> int:
    """Records in AnomalyDetectionStream after the trigger's checkpoint: not yet delivered to the function."""
    return sum(1 for r in read_stream(ANOMALY_STREAM) if int(r["SequenceNumber"]) > int(checkpoint))


def holding_back(mapping: str, count: int):
    """A condition: the trigger's checkpoint stood still for three looks while `count` records waited after it."""
    seen: list[str] = []

    def condition() -> bool:
        seen.append(mapping_checkpoint(mapping))
        return len(set(seen[-3:])) == 1 and len(seen) >= 3 and held_back(seen[-1]) >= count

    return condition


def test_labkit_down_and_up_mid_stream_loses_and_duplicates_nothing(drill):
    sent = prefixed("anomaly", DRILL, 1000)
    snapshots_before = len(lab.apps.snapshots(NAMES.anomaly_app))
    producers = send(sent, rate=30)
    wait_until(lambda: len(items(DRILL)) >= 50, 180, "the first items of the drill", quiet=True, interval_s=1)
    assert producers[0].is_alive(), "the drill must stop the stack while readings still arrive"
    delivered_before = len(items(DRILL))
    # The trigger falls behind: it gathers records for up to 5 minutes before it invokes the function, so the
    # stack stops with records in AnomalyDetectionStream that the function has not had yet.
    mapping = drill.trigger(batch_size=10_000, batching_window_s=300)["uuid"]
    wait_until(holding_back(mapping, 30), 120, "records the trigger holds back", quiet=True, interval_s=1)

    stopped = time.monotonic()
    lab.down(quiet=True)
    checkpoint = saved_checkpoint(mapping)
    lab.up(quiet=True)
    resumed_at = mapping_checkpoint(mapping)
    behind = held_back(checkpoint)
    drill.trigger(enabled=False)  # back to the usual batches: a new poller, from the same checkpoint
    assert [t["uuid"] for t in drill.trigger()["function_triggers"]] == [mapping], "one trigger, the same"
    wait_until(lambda: lab.apps.status(NAMES.anomaly_app) == "RUNNING", 300, "the app to run again", quiet=True,
               interval_s=2)
    finish(producers)
    wait_for_items(DRILL, len(sent))
    recovered_s = time.monotonic() - stopped

    figures = audit(DRILL, sent)
    assert figures["lost"] == figures["duplicated"] == figures["unexpected"] == figures["uncounted"] == 0, figures
    assert figures["delivered_again"] == 0, "a clean stop and start delivers nothing twice (the delivery counter)"
    assert figures["wrong_scores"] == 0, "scores differ from an uninterrupted run: the forests were not restored"
    # `behind` is usually > 0, but down may deliver the batch the trigger was gathering first: then it is 0
    assert resumed_at == checkpoint, "the trigger resumes at the checkpoint it saved at down"
    assert len(lab.apps.snapshots(NAMES.anomaly_app)) == snapshots_before + 1, "down takes one snapshot"
    restored = flink(f"/jobs/{drill.job_id()}/checkpoints")["latest"]["restored"]
    assert restored and restored["is_savepoint"], "the app must run from the snapshot taken at down"
    record_figures(DRILL, "`labkit down` + `labkit up` of the whole stack mid-stream, the trigger behind",
                   "the app stopped with a snapshot and ran from it; the trigger resumed at its checkpoint and "
                   f"delivered the {behind} records it had not delivered before down; the producer sent "
                   f"{producers[0].unanswered} unanswered batch(es) again",
                   figures, delivered_before_restart=delivered_before, behind_at_restart=behind,
                   replayed_records=replays(DRILL), all_delivered_after_s=round(recovered_s))
