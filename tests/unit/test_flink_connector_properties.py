"""The local Managed Flink hands every application's Kinesis connector the local endpoint and once-a-second
polling with retries (a shard serves 5 GetRecords calls a second to all its readers), and never overrides what
the application sets itself."""
from __future__ import annotations

import json
from types import SimpleNamespace

from labkit.local.managed_flink.component import CONNECTOR_GROUP, POLLING, LocalManagedFlink

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


def test_an_application_without_connector_properties_polls_each_shard_once_a_second(tmp_path):
    groups = written([{"PropertyGroupId": "lab", "PropertyMap": {"inputStreamName": "WindDataStream"}}], tmp_path)
    assert groups["lab"] == {"inputStreamName": "WindDataStream"}
    assert groups[CONNECTOR_GROUP] == {"aws.endpoint": ENDPOINT, "aws.http.protocol.version": "HTTP1_1", **POLLING}
    assert POLLING["flink.shard.getrecords.intervalmillis"] == "1000"
    assert int(POLLING["flink.shard.getrecords.maxretries"]) > 3  # the connector's default ends the job after 3


def test_what_an_application_sets_itself_is_kept(tmp_path):
    own = {"flink.shard.getrecords.intervalmillis": "2000", "aws.endpoint": "http://127.0.0.1:9"}
    app_groups = [{"PropertyGroupId": CONNECTOR_GROUP, "PropertyMap": dict(own)}]
    groups = written(app_groups, tmp_path)
    assert groups[CONNECTOR_GROUP] == {"aws.http.protocol.version": "HTTP1_1", **POLLING, **own}
    assert app_groups[0]["PropertyMap"] == own  # the application's own configuration is not changed


def test_the_course_apps_own_properties_poll_once_a_second_too():
    """A job run straight from its folder (main.py with its application_properties.json) polls as the runner's do."""
    from labkit.config import FLINK_DIR

    for folder in ("anomaly_detection", "max_wind_speed"):
        groups = json.loads((FLINK_DIR / folder / "application_properties.json").read_text())
        client = next(g["PropertyMap"] for g in groups if g["PropertyGroupId"] == CONNECTOR_GROUP)
        assert {k: client[k] for k in POLLING} == POLLING, folder
