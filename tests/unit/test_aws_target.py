"""The aws target, offline: the Flink apps' deployable zips, and the Managed Flink calls labkit makes
(moto for what it implements, botocore's Stubber for start/stop, which moto lacks)."""
from __future__ import annotations

import zipfile

import pytest
from botocore.stub import Stubber

from labkit import clients
from labkit.config import NAMES, settings
from labkit.resources import apps


@pytest.mark.parametrize("name", list(apps.APP_FOLDERS))
def test_each_zip_holds_main_its_modules_and_the_connector_but_no_local_endpoint(name):
    folder = apps.FLINK_DIR / apps.APP_FOLDERS[name]
    modules = {p.name for p in folder.glob("*.py")}
    with zipfile.ZipFile(apps.package(name)) as archive:
        names = set(archive.namelist())
        shipped = {module: archive.read(module) for module in modules & names}
    assert shipped == {module: (folder / module).resolve().read_bytes() for module in modules}, \
        "each module ships as its real content (shared ones are links in the source tree)"
    run_options = apps.default_properties(name)["kinesis.analytics.flink.run.options"]
    assert modules <= names and run_options["python"] in names and run_options["jarfile"] in names
    assert "application_properties.json" not in names
    assert "kinesis.client" not in apps.default_properties(name)


def test_create_uploads_the_code_and_sets_the_lab_property_group(aws):
    detail = apps.create(NAMES.anomaly_app, inputStreamName="MyWindStream")
    assert detail["RuntimeEnvironment"] == "FLINK-1_20"
    code = detail["ApplicationConfigurationDescription"]["ApplicationCodeConfigurationDescription"]
    location = code["CodeContentDescription"]["S3ApplicationCodeLocationDescription"]
    bucket = f"{NAMES.bucket}-{clients.account_id()}-{settings().region}"  # bucket names are global: one per account
    assert location == {"BucketARN": f"arn:aws:s3:::{bucket}", "FileKey": "anomaly_detection.zip"}
    body = clients.client("s3").get_object(Bucket=bucket, Key="anomaly_detection.zip")["Body"].read()
    assert body == apps.package(NAMES.anomaly_app).read_bytes()
    lab = apps.properties(NAMES.anomaly_app)["lab"]
    assert lab["inputStreamName"] == "MyWindStream"
    assert lab["outputStreamName"] == NAMES.anomaly_stream and lab["region"] == "us-east-1"
    tags = clients.client("kinesisanalyticsv2").list_tags_for_resource(ResourceARN=detail["ApplicationARN"])["Tags"]
    assert {"Key": NAMES.tag_key, "Value": NAMES.tag_value} in tags


def _detail(status: str) -> dict:
    return {"ApplicationDetail": {"ApplicationARN": "arn:aws:kinesisanalytics:us-east-1:123456789012:application/A",
                                  "ApplicationName": NAMES.anomaly_app, "RuntimeEnvironment": "FLINK-1_20",
                                  "ApplicationStatus": status, "ApplicationVersionId": 1}}


def test_run_with_latest_snapshot_and_stop_with_snapshot_make_the_managed_flink_requests(aws):
    kda = clients.client("kinesisanalyticsv2")
    name = {"ApplicationName": NAMES.anomaly_app}
    with Stubber(kda) as stub:
        stub.add_response("describe_application", _detail("READY"), name)
        stub.add_response("start_application", {}, {**name, "RunConfiguration": {
            "ApplicationRestoreConfiguration": {"ApplicationRestoreType": "RESTORE_FROM_LATEST_SNAPSHOT"}}})
        stub.add_response("describe_application", _detail("STARTING"), name)
        stub.add_response("describe_application", _detail("RUNNING"), name)
        stub.add_response("describe_application", _detail("RUNNING"), name)
        stub.add_response("stop_application", {}, {**name, "Force": False})
        stub.add_response("describe_application", _detail("READY"), name)
        assert apps.run(NAMES.anomaly_app, quiet=True) == "RUNNING"
        assert apps.stop(NAMES.anomaly_app, quiet=True) == "READY"
        stub.assert_no_pending_responses()
