"""`labkit teardown` on the aws target (moto in this process): every resource tagged as the course's goes, and
only those; a second run finds nothing."""
from __future__ import annotations

import io
import zipfile

import pytest

from labkit import cli, clients, teardown
from labkit.config import NAMES
from labkit.resources import apps, buckets, functions, roles, streams, tables, topics

OTHER = {"Key": "course", "Value": "another-course"}


def build_the_lab() -> None:
    """What the notebooks create on AWS, through the same labkit calls."""
    for name in (NAMES.wind_stream, NAMES.anomaly_stream, NAMES.max_speed_stream):
        streams.create(name, quiet=True)
    for name in (NAMES.wind_table, NAMES.diy_table):
        tables.create(name, quiet=True)
    topics.create(NAMES.topic)
    topics.subscribe_email("student@example.com")
    for name in (NAMES.analytics_function, NAMES.delivery_function, NAMES.diy_function):
        functions.deploy(name, quiet=True)
    functions.add_trigger(NAMES.analytics_function, NAMES.anomaly_stream, quiet=True)
    functions.add_trigger(NAMES.diy_function, NAMES.max_speed_stream, quiet=True)
    for name in (NAMES.anomaly_app, NAMES.max_speed_app):
        apps.create(name)


def build_what_is_not_the_labs() -> dict[str, str]:
    """Resources in the same account that teardown must leave: untagged, or another course's tag, some with
    names like the lab's. Returns kind -> name."""
    c = clients.client
    role = c("iam").create_role(RoleName="StudentsOwnRole", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    c("iam").put_role_policy(RoleName="StudentsOwnRole", PolicyName="own", PolicyDocument='{"Version": "2012-10-17",'
                             ' "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}')
    c("kinesis").create_stream(StreamName="WindDataStream2", ShardCount=1)
    c("kinesis").create_stream(StreamName="OtherCourseStream", ShardCount=1)
    c("kinesis").add_tags_to_stream(StreamName="OtherCourseStream", Tags={OTHER["Key"]: OTHER["Value"]})
    c("dynamodb").create_table(TableName="WindDataTableBackup", BillingMode="PAY_PER_REQUEST",
                               KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                               AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
    c("sns").create_topic(Name="OtherNotification", Tags=[OTHER])
    c("s3").create_bucket(Bucket="students-own-bucket")
    c("s3").put_object(Bucket="students-own-bucket", Key="notes.txt", Body=b"mine")
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("own.py", "def handler(event, context):\n    return 1\n")
    c("lambda").create_function(FunctionName="StudentsOwnFunction", Runtime="python3.11", Role=role,
                                Handler="own.handler", Code={"ZipFile": code.getvalue()})
    c("lambda").create_event_source_mapping(FunctionName="StudentsOwnFunction", StartingPosition="LATEST",
                                            EventSourceArn=streams.describe("WindDataStream2")["arn"])
    c("kinesisanalyticsv2").create_application(ApplicationName="OtherApp", RuntimeEnvironment="FLINK-1_20",
                                               ServiceExecutionRole=role, Tags=[OTHER])
    c("logs").create_log_group(logGroupName="/aws/lambda/StudentsOwnFunction")
    return {"IAM role": "StudentsOwnRole", "Kinesis stream": "WindDataStream2", "Kinesis stream ": "OtherCourseStream",
            "DynamoDB table": "WindDataTableBackup", "SNS topic": "OtherNotification",
            "S3 bucket": "students-own-bucket", "Lambda function": "StudentsOwnFunction",
            "Flink application": "OtherApp", "Lambda log group": "/aws/lambda/StudentsOwnFunction"}


def the_labs() -> set[str]:
    """What `build_the_lab` makes, as "kind name"."""
    return {f"Kinesis stream {n}" for n in (NAMES.wind_stream, NAMES.anomaly_stream, NAMES.max_speed_stream)} | {
        f"DynamoDB table {n}" for n in (NAMES.wind_table, NAMES.diy_table)} | {
        f"Lambda function {n}" for n in (NAMES.analytics_function, NAMES.delivery_function, NAMES.diy_function)} | {
        f"Flink application {n}" for n in (NAMES.anomaly_app, NAMES.max_speed_app)} | {
        f"Lambda log group /aws/lambda/{n}" for n in (NAMES.analytics_function, NAMES.delivery_function,
                                                      NAMES.diy_function)} | {
        f"Flink log group /aws/kinesis-analytics/{n}" for n in (NAMES.anomaly_app, NAMES.max_speed_app)} | {
        f"SNS topic {NAMES.topic}", f"S3 bucket {buckets.name()}", f"IAM role {NAMES.role}",
        f"Lambda trigger {NAMES.anomaly_stream} -> {NAMES.analytics_function}",
        f"Lambda trigger {NAMES.max_speed_stream} -> {NAMES.diy_function}"}


def inventory() -> set[str]:
    """Every resource in the account, as "kind name"."""
    c = clients.client
    found = {f"Kinesis stream {n}" for n in c("kinesis").list_streams()["StreamNames"]}
    found |= {f"DynamoDB table {n}" for n in c("dynamodb").list_tables()["TableNames"]}
    found |= {f"SNS topic {t['TopicArn'].split(':')[-1]}" for t in c("sns").list_topics()["Topics"]}
    found |= {f"S3 bucket {b['Name']}" for b in c("s3").list_buckets()["Buckets"]}
    found |= {f"IAM role {r['RoleName']}" for r in c("iam").list_roles()["Roles"]}
    found |= {f"Lambda function {f['FunctionName']}" for f in c("lambda").list_functions()["Functions"]}
    found |= {f"Flink application {a['ApplicationName']}"
              for a in c("kinesisanalyticsv2").list_applications()["ApplicationSummaries"]}
    found |= {f"Lambda trigger {m['EventSourceArn'].split('/')[-1]} -> {m['FunctionArn'].split(':')[-1]}"
              for m in c("lambda").list_event_source_mappings()["EventSourceMappings"]}
    found |= {f"SNS subscription {s['Endpoint']}" for s in c("sns").list_subscriptions()["Subscriptions"]}
    found |= {f"{kind} {g['logGroupName']}" for g in c("logs").describe_log_groups()["logGroups"]
              for kind, prefix in (("Lambda log group", "/aws/lambda/"), ("Flink log group", "/aws/kinesis-analytics/"))
              if g["logGroupName"].startswith(prefix)}
    return found


def test_teardown_deletes_every_tagged_lab_resource_and_only_those(aws):
    build_the_lab()
    others = build_what_is_not_the_labs()
    before = inventory()

    found = [str(resource) for resource in teardown.find()]
    lab = the_labs()
    assert set(found) == lab and len(found) == len(lab)
    assert found.index(f"IAM role {NAMES.role}") == len(found) - 1, "the role goes last: everything else uses it"
    assert max(i for i, f in enumerate(found) if f.startswith("Lambda trigger")) < min(
        i for i, f in enumerate(found) if f.startswith(("Lambda function", "Kinesis stream")))

    summary = teardown.teardown(quiet=True)
    assert summary == {"deleted": found, "failed": {}}
    after = inventory()
    assert after == before - lab - {"SNS subscription student@example.com"}
    assert {f"{kind.strip()} {name}" for kind, name in others.items()} <= after
    assert clients.client("s3").get_object(Bucket="students-own-bucket", Key="notes.txt")["Body"].read() == b"mine"
    assert clients.client("iam").list_role_policies(RoleName="StudentsOwnRole")["PolicyNames"] == ["own"]

    assert teardown.find() == [] and teardown.teardown(quiet=True) == {"deleted": [], "failed": {}}


def test_finding_the_course_reads_no_tags_of_the_accounts_other_resources(aws, monkeypatch):
    """One tag-filtered listing (GetResources) instead of a tag read per role, function, table and bucket of the
    account: besides it, only the course's own names are looked up, and the roles, functions, tables and
    streams of the account are not even listed."""
    from botocore.client import BaseClient

    build_the_lab()
    others = build_what_is_not_the_labs()
    calls: list[tuple[str, str]] = []
    make_api_call = BaseClient._make_api_call

    def recorded(self, operation, params):
        calls.append((operation, repr(params)))
        return make_api_call(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recorded)
    assert {str(resource) for resource in teardown.find()} == the_labs()
    assert [operation for operation, _ in calls].count("GetResources") == 1
    assert not {"ListFunctions", "ListRoles", "ListTables", "ListStreams"} & {operation for operation, _ in calls}
    asked_about_others = [(operation, params) for operation, params in calls
                          if any(name in params for name in others.values())]
    assert asked_about_others == []


def test_a_course_trigger_into_a_function_that_is_not_the_courses_goes_and_the_function_stays(aws):
    role = roles.ensure()
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("own.py", "def handler(event, context):\n    return 1\n")
    clients.client("lambda").create_function(FunctionName="StudentsOwnFunction", Runtime="python3.11", Role=role,
                                             Handler="own.handler", Code={"ZipFile": code.getvalue()})
    streams.create(NAMES.wind_stream, quiet=True)
    functions.add_trigger("StudentsOwnFunction", NAMES.wind_stream, quiet=True)  # tagged as the course's

    found = [str(resource) for resource in teardown.find()]
    assert found == [f"Lambda trigger {NAMES.wind_stream} -> StudentsOwnFunction", f"Kinesis stream {NAMES.wind_stream}",
                     f"IAM role {NAMES.role}"]
    assert teardown.teardown(quiet=True)["deleted"] == found
    assert clients.client("lambda").get_function(FunctionName="StudentsOwnFunction")["Configuration"]["FunctionName"]
    assert clients.client("lambda").list_event_source_mappings()["EventSourceMappings"] == []


def test_the_cli_lists_asks_and_deletes_only_after_yes(aws, monkeypatch, capsys):
    streams.create(NAMES.wind_stream, quiet=True)
    roles.ensure()
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    assert cli.main(["teardown"]) == 1
    out = capsys.readouterr().out
    assert f"Kinesis stream {NAMES.wind_stream}" in out and f"IAM role {NAMES.role}" in out and "nothing deleted" in out
    assert streams.describe(NAMES.wind_stream)["status"] == "ACTIVE"

    assert cli.main(["teardown", "--yes", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "deleted 2 resource(s):" in out and f"  - Kinesis stream {NAMES.wind_stream}" in out
    assert cli.main(["teardown", "--yes"]) == 0
    assert "nothing to delete" in capsys.readouterr().out


@pytest.mark.parametrize("code", ["AccessDeniedException", "ThrottlingException"])
def test_a_resource_that_cannot_be_deleted_is_named_with_the_reason_and_the_rest_still_go(aws, code):
    from botocore.exceptions import ClientError

    streams.create(NAMES.wind_stream, quiet=True)
    tables.create(NAMES.wind_table, quiet=True)
    found = {resource.kind: resource for resource in teardown.find()}
    stream, table = found["Kinesis stream"], found["DynamoDB table"]

    def refused():
        raise ClientError({"Error": {"Code": code, "Message": "not allowed"}}, "DeleteTable")

    summary = teardown.teardown([teardown.Resource(table.kind, table.name, table.arn, refused), stream], quiet=True)
    assert summary == {"deleted": [str(stream)], "failed": {str(table): f"{code}: not allowed"}}
    assert "could not delete 1 resource(s); run `labkit teardown` again" in teardown.summary_text(summary)
