"""Drill: four producers put into the drill's WindDataStream at once, as fast as the endpoint takes them.

Stock moto loses about 0.5 % of such records while answering FailedRecordCount 0; labkit's Kinesis fix
(labkit/local/kinesis_fixes.py) serialises the writes of a stream."""
from __future__ import annotations

import pytest

from tests.reliability.pipeline import (WIND_STREAM, audit, event_id, finish, prefixed, read_stream, record_figures,
                                        send, wait_for_items)

pytestmark = pytest.mark.flink
DRILL = "producers4"


def test_four_concurrent_producers_lose_nothing_end_to_end(drill):
    sent = prefixed("anomaly", DRILL, 2000)
    assert finish(send(sent, producers=4)) == len(sent)
    in_stream = [event_id(r["Data"]) for r in read_stream(WIND_STREAM)]
    assert sorted(i for i in in_stream if str(i).startswith(f"{DRILL}:")) == sorted(r["event_id"] for r in sent)
    wait_for_items(DRILL, len(sent))
    figures = audit(DRILL, sent)
    assert figures["lost"] == figures["duplicated"] == figures["unexpected"] == figures["wrong_scores"] == 0, figures
    assert figures["uncounted"] == 0, figures
    record_figures(DRILL, "4 concurrent producers into WindDataStream (PutRecords, no rate limit)",
                   "every record stored once in the stream, scored and written once", figures)
