"""The lab's execution role on the aws target: its policy names the lab's own resources, no wildcard action,
no wildcard resource, and only Lambda and Managed Flink may assume it."""
from __future__ import annotations

import json

from labkit import clients
from labkit.config import NAMES, settings
from labkit.resources import roles

LAB_NAMES = [NAMES.wind_stream, NAMES.anomaly_stream, NAMES.max_speed_stream, NAMES.wind_table, NAMES.diy_table,
             NAMES.topic, NAMES.bucket, NAMES.analytics_function, NAMES.delivery_function, NAMES.diy_function,
             NAMES.anomaly_app, NAMES.max_speed_app]


def listed(value) -> list[str]:
    return value if isinstance(value, list) else [value]


def names_a_lab_resource(arn: str, account: str) -> bool:
    """arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE whose RESOURCE is one of the lab's by its exact name."""
    _, _, service, region, owner, resource = arn.split(":", 5)
    if service == "s3":
        return resource == f"{NAMES.bucket}-{account}-{settings().region}/*"
    names = set(resource.replace(":", "/").split("/"))
    return region == settings().region and owner == account and any(name in names for name in LAB_NAMES)


def test_every_statement_allows_named_actions_on_the_labs_own_resources(aws):
    account = clients.client("sts").get_caller_identity()["Account"]
    statements = roles.policy()["Statement"]
    assert statements
    for statement in statements:
        assert statement["Effect"] == "Allow" and set(statement) == {"Effect", "Action", "Resource"}, statement
        for action in listed(statement["Action"]):
            assert "*" not in action and action.count(":") == 1, action
        for arn in listed(statement["Resource"]):
            assert arn != "*" and names_a_lab_resource(arn, account), arn


def test_the_policy_covers_what_the_functions_and_apps_touch_and_nothing_else(aws):
    resources = {arn for s in roles.policy()["Statement"] for arn in listed(s["Resource"])}
    touched = [NAMES.wind_stream, NAMES.anomaly_stream, NAMES.max_speed_stream, NAMES.wind_table, NAMES.diy_table,
               NAMES.topic, NAMES.bucket]
    assert all(any(name in arn for arn in resources) for name in touched)
    actions = {a for s in roles.policy()["Statement"] for a in listed(s["Action"])}
    data_writes = {"kinesis:PutRecord", "kinesis:PutRecords", "dynamodb:PutItem", "dynamodb:UpdateItem",
                   "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
    administrative = ("Delete", "Create", "Update", "Put", "Tag", "Untag", "Attach", "Detach", "Pass", "Set")
    assert [a for a in actions - data_writes if a.split(":")[1].startswith(administrative)] == []
    assert not any(a.startswith(("iam:", "sts:")) for a in actions)


def test_only_lambda_and_managed_flink_may_assume_the_role_which_is_tagged(aws):
    roles.ensure()
    role = clients.client("iam").get_role(RoleName=NAMES.role)["Role"]
    document = role["AssumeRolePolicyDocument"]
    trust = json.loads(document) if isinstance(document, str) else document
    [statement] = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRole" and set(statement["Principal"]) == {"Service"}
    assert sorted(listed(statement["Principal"]["Service"])) == ["kinesisanalytics.amazonaws.com",
                                                                  "lambda.amazonaws.com"]
    assert {"Key": NAMES.tag_key, "Value": NAMES.tag_value} in role["Tags"]
    [name] = clients.client("iam").list_role_policies(RoleName=NAMES.role)["PolicyNames"]
    stored = clients.client("iam").get_role_policy(RoleName=NAMES.role, PolicyName=name)["PolicyDocument"]
    assert (json.loads(stored) if isinstance(stored, str) else stored) == roles.policy()
