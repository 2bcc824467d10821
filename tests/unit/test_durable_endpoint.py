"""The endpoint's journal (journal.py) and its replay (durable_endpoint.py), in-process: what a call changed
comes back after a crash exactly as it was acknowledged."""
from __future__ import annotations

import pickle

import pytest
from moto import mock_aws
from moto.backends import get_backend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.test import Client

from labkit.local import journal, moto_patches, persistence
from labkit.local.durable_endpoint import DurableEndpoint, changes_state
from tests.unit.conftest import registry_restored

JSON = "application/x-amz-json-1.1"


def test_reading_stops_at_a_torn_tail_and_opening_cuts_it_off(tmp_path):
    log = journal.Journal(tmp_path)
    log.open(0)
    for n in range(3):
        log.wait_durable(log.append(b"entry %d" % n))
    log.close()
    path = tmp_path / "journal-000000.log"
    whole = path.stat().st_size
    with open(path, "ab") as handle:  # a crash in the middle of a write
        handle.write(journal.FRAME.pack(100, 0) + b"half")
    assert list(journal.read(tmp_path, 0)) == [b"entry 0", b"entry 1", b"entry 2"]
    log.open(0)
    assert path.stat().st_size == whole
    log.close()


def test_a_corrupt_frame_ends_the_journal_there(tmp_path):
    log = journal.Journal(tmp_path)
    log.open(0)
    for n in range(3):
        log.append(b"entry %d" % n)
    log.close()
    path = tmp_path / "journal-000000.log"
    data = bytearray(path.read_bytes())
    data[journal.FRAME.size * 2 + len(b"entry 0") + 2] ^= 0xFF  # a byte of the second payload
    path.write_bytes(bytes(data))
    assert list(journal.read(tmp_path, 0)) == [b"entry 0"]


@pytest.mark.parametrize("environ, body, changes", [
    ({"HTTP_X_AMZ_TARGET": "Kinesis_20131202.PutRecords", "REQUEST_METHOD": "POST"}, b"{}", True),
    ({"HTTP_X_AMZ_TARGET": "Kinesis_20131202.GetRecords", "REQUEST_METHOD": "POST"}, b"{}", False),
    ({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.Query", "REQUEST_METHOD": "POST"}, b"{}", False),
    ({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.BatchWriteItem", "REQUEST_METHOD": "POST"}, b"{}", True),
    ({"REQUEST_METHOD": "POST", "PATH_INFO": "/"}, b"Action=Publish&TopicArn=x", True),
    ({"REQUEST_METHOD": "POST", "PATH_INFO": "/"}, b"Action=GetRole&RoleName=x", False),
    ({"REQUEST_METHOD": "PUT", "PATH_INFO": "/bucket/key.zip"}, b"PK\x03\x04", True),
    ({"REQUEST_METHOD": "GET", "PATH_INFO": "/bucket/key.zip"}, b"", False),
    ({"REQUEST_METHOD": "POST", "PATH_INFO": "/2015-03-31/functions/F/invocations"}, b"{}", False),
    ({"REQUEST_METHOD": "POST", "PATH_INFO": "/2015-03-31/event-source-mappings/"}, b"{}", True),
])
def test_calls_that_change_state_are_told_from_reads(environ, body, changes):
    assert changes_state(environ, body) is changes


@pytest.fixture
def endpoint(tmp_path):
    with registry_restored(), mock_aws():
        moto_patches.apply()
        durable = DurableEndpoint(DomainDispatcherApplication(create_backend_app), tmp_path)
        assert durable.recover() is None
        yield durable, Client(durable)
        durable.close()


def _kinesis(client: Client, action: str, body: dict, status: int = 200) -> dict:
    answer = client.post("/", json=body, headers={
        "X-Amz-Target": f"Kinesis_20131202.{action}", "Content-Type": JSON,
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/kinesis/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    assert answer.status_code == status, answer.text
    return answer.json if answer.data else {}


def _shard_records() -> list[tuple[str, str, float]]:
    [backend] = [b for regions in get_backend("kinesis").values() for b in regions.values() if b.streams]
    stream = backend.streams["S"]
    return [(r.sequence_number, r.data, r.created_at) for shard in stream.shards.values() for r in shard.records.values()]


def _crash_and_recover(tmp_path) -> DurableEndpoint:
    """Forget moto's in-memory state (the process died) and recover from the state folder."""
    for service in persistence.PICKLED_SERVICES + ("lambda",):
        get_backend(service).reset()
    durable = DurableEndpoint(DomainDispatcherApplication(create_backend_app), tmp_path)
    sentence = durable.recover()
    assert sentence and "had not stopped cleanly" in sentence and "1 stream" in sentence
    return durable


@pytest.mark.parametrize("snapshot_midway", [False, True])
def test_replay_gives_back_records_with_their_numbers_and_arrival_times(endpoint, tmp_path, snapshot_midway):
    durable, client = endpoint
    _kinesis(client, "CreateStream", {"StreamName": "S", "ShardCount": 1})
    for batch in range(4):
        _kinesis(client, "PutRecords", {"StreamName": "S", "Records": [
            {"Data": "ZGF0YQ==", "PartitionKey": f"p{batch}-{i}"} for i in range(50)]})
        if snapshot_midway and batch == 1:
            durable.snapshot()
    before = _shard_records()
    assert len(before) == 200
    durable.journal.close()  # the process dies here: the journal holds what was acknowledged

    again = _crash_and_recover(tmp_path)
    assert _shard_records() == before
    again.close()


def test_a_failed_call_is_not_journaled(endpoint, tmp_path):
    durable, client = endpoint
    _kinesis(client, "PutRecords", {"StreamName": "Nope", "Records": [{"Data": "eA==", "PartitionKey": "p"}]}, 400)
    durable.journal.close()
    assert [pickle.loads(p) for p in journal.read(tmp_path / "journal", 0)] == []
