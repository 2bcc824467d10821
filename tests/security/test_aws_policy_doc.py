"""The student policy in docs/AWS.md allows every AWS call labkit makes on the aws target: the course is built
and torn down against moto in this process with every request recorded, and each request's IAM action must be
in the documented policy (plus the Managed Flink and Lambda calls moto cannot answer, listed below)."""
from __future__ import annotations

import json

from botocore.client import BaseClient

from labkit import teardown
from labkit.config import REPO_ROOT

from .test_teardown import build_the_lab

PREFIX = {"kinesisanalyticsv2": "kinesisanalytics", "resourcegroupstaggingapi": "tag"}
RENAMED = {  # (service, operation) -> the IAM action that authorises it, where the names differ
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets", ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
    ("s3", "ListObjectsV2"): "s3:ListBucket", ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "DeleteObjects"): "s3:DeleteObject", ("s3", "CreateMultipartUpload"): "s3:PutObject",
    ("s3", "UploadPart"): "s3:PutObject", ("s3", "CompleteMultipartUpload"): "s3:PutObject",
    ("lambda", "Invoke"): "lambda:InvokeFunction",
}
NOT_IN_MOTO = {"kinesisanalytics:StartApplication", "kinesisanalytics:StopApplication",  # Stubber tests
               "kinesisanalytics:UpdateApplication", "kinesisanalytics:ListApplicationSnapshots",
               "logs:FilterLogEvents", "lambda:InvokeFunction"}


def documented_actions() -> set[str]:
    text = (REPO_ROOT / "docs" / "AWS.md").read_text()
    policy = json.loads(text.split("```json", 1)[1].split("```", 1)[0])
    return {action for statement in policy["Statement"]
            for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])}


def test_the_documented_policy_allows_every_call_of_building_and_tearing_down_the_course(aws, monkeypatch):
    actions: set[str] = set()
    make_api_call = BaseClient._make_api_call

    def recorded(self, operation, params):
        service = self.meta.service_model.service_name
        actions.add(RENAMED.get((service, operation), f"{PREFIX.get(service, service)}:{operation}"))
        return make_api_call(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recorded)
    build_the_lab()
    assert teardown.teardown(quiet=True)["failed"] == {}
    assert "tag:GetResources" in actions and "iam:PassRole" not in actions  # PassRole is implied, never called
    missing = (actions | NOT_IN_MOTO) - documented_actions()
    assert not missing, f"docs/AWS.md's policy lacks {sorted(missing)}"
