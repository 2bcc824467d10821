"""How the lab's Flink jobs poll Kinesis is the applications' own setting, sent on both targets: a shard serves 5
GetRecords calls a second to all its readers and both apps read WindDataStream, so each polls once a second with
retries (the connector's default, every 200 ms with 3 retries, takes the whole allowance and ends the job on a
refusal). The local Managed Flink adds only the local endpoint and its protocol, and never overrides what the
application sets itself."""
from __future__ import annotations

import json
import sys
from types import SimpleNamespace

from labkit.config import FLINK_DIR, NAMES
from labkit.local.managed_flink.component import CONNECTOR_GROUP, LocalManagedFlink
from labkit.resources import apps

sys.path.insert(0, str(FLINK_DIR / "common"))
from kinesis_job import CONSUMER_GROUP  # noqa: E402

ENDPOINT = "http://127.0.0.1:45666"


def written(groups: list[dict], tmp_path) -> dict[str, dict[str, str]]:
    """The properties file the runner writes for an application with `groups`, as {group id: map}."""
    runner = LocalManagedFlink.__new__(LocalManagedFlink)
    runner.settings = SimpleNamespace(endpoint_url=ENDPOINT)
    app = SimpleNamespace(app_config_description={
        "EnvironmentPropertyDescriptions": {"PropertyGroupDescriptions": groups}})
    (tmp_path / "code").mkdir()
    path = runner._write_properties(app, tmp_path / "code")
    return {g["PropertyGroupId"]: g["PropertyMap"] for g in json.loads(path.read_text())}


def test_the_local_runner_adds_only_the_endpoint_and_its_protocol(tmp_path):
    groups = written([{"PropertyGroupId": "lab", "PropertyMap": {"inputStreamName": "WindDataStream"}}], tmp_path)
    assert groups == {"lab": {"inputStreamName": "WindDataStream"},
                      CONNECTOR_GROUP: {"aws.endpoint": ENDPOINT, "aws.http.protocol.version": "HTTP1_1"}}


def test_what_an_application_sets_itself_is_kept(tmp_path):
    own = {"flink.shard.getrecords.intervalmillis": "2000", "aws.endpoint": "http://127.0.0.1:9"}
    app_groups = [{"PropertyGroupId": CONNECTOR_GROUP, "PropertyMap": dict(own)}]
    groups = written(app_groups, tmp_path)
    assert groups[CONNECTOR_GROUP] == {"aws.http.protocol.version": "HTTP1_1", **own}
    assert app_groups[0]["PropertyMap"] == own  # the application's own configuration is not changed


def test_the_course_apps_poll_once_a_second_with_retries_on_both_targets():
    """The polling group is in what lab.apps.create sends (AWS included), not in the local-only group."""
    for name in (NAMES.anomaly_app, NAMES.max_speed_app):
        sent = apps.default_properties(name)
        assert CONNECTOR_GROUP not in sent, name
        polling = sent[CONSUMER_GROUP]
        assert polling["flink.shard.getrecords.intervalmillis"] == "1000", name
        assert int(polling["flink.shard.getrecords.maxretries"]) > 3, name
        assert int(polling["flink.shard.getrecords.backoff.max"]) >= int(polling["flink.shard.getrecords.backoff.base"])
