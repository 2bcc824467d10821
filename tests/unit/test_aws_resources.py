"""The aws target's answers that moto cannot give, through botocore's Stubber: a new role that is not yet
assumable, refusals turned into sentences, transitional states, the tagging API's pages; and the log groups the
course creates and removes (moto)."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from labkit import clients, teardown
from labkit.config import NAMES
from labkit.errors import BadParameter, LabError, ResourceMissing, WaitTimedOut
from labkit.resources import apps, buckets, functions, logs, roles, topics

APP_ARN = f"arn:aws:kinesisanalytics:us-east-1:123456789012:application/{NAMES.max_speed_app}"
LAMBDA_REFUSAL = ("InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda.")
FLINK_REFUSAL = ("InvalidArgumentException", "Kinesis Analytics service doesn't have sufficient privileges to "
                                             "assume the role arn:aws:iam::123456789012:role/Lab22WindFarmRole")


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setattr(roles, "PROPAGATION_INTERVAL_S", 0.01)


def _detail(status: str, version: int = 1) -> dict:
    return {"ApplicationDetail": {"ApplicationARN": APP_ARN, "ApplicationName": NAMES.max_speed_app,
                                  "RuntimeEnvironment": "FLINK-1_20", "ApplicationStatus": status,
                                  "ApplicationVersionId": version}}


# -- role propagation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("code, message, propagating", [
    (*LAMBDA_REFUSAL, True),
    ("InvalidParameterValueException", "The provided execution role does not have permissions to call GetRecords "
                                       "on Kinesis", True),
    (*FLINK_REFUSAL, True),
    ("InvalidParameterValueException", "Unzipped size must be smaller than 262144000 bytes", False),
    ("AccessDeniedException", "The role defined for the function cannot be assumed by Lambda.", False),
])
def test_only_aws_s_propagation_answers_count_as_a_role_not_yet_assumable(code, message, propagating):
    error = ClientError({"Error": {"Code": code, "Message": message}}, "CreateFunction")
    assert roles.propagating(error) is propagating


def test_a_lambda_create_is_retried_until_the_new_role_is_assumable(aws, fast_retries):
    lam = clients.client("lambda")
    with Stubber(lam) as stub:
        for _ in range(2):
            stub.add_client_error("create_function", *LAMBDA_REFUSAL)
        stub.add_response("create_function", {"FunctionName": "f"})
        answer = roles.when_assumable(lambda: lam.create_function(
            FunctionName="f", Role="arn:aws:iam::123456789012:role/r", Code={"ZipFile": b"x"}), "Lambda", quiet=True)
        stub.assert_no_pending_responses()
    assert answer == {"FunctionName": "f"}


def test_apps_create_retries_until_managed_flink_accepts_the_role_and_names_its_log_stream(aws, fast_retries):
    kda = clients.client("kinesisanalyticsv2")
    stream = (f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/kinesis-analytics/{NAMES.max_speed_app}"
              f":log-stream:{logs.APP_STREAM}")
    request = {"ApplicationName": NAMES.max_speed_app, "RuntimeEnvironment": "FLINK-1_20",
               "ServiceExecutionRole": ANY, "ApplicationConfiguration": ANY, "Tags": ANY,
               "CloudWatchLoggingOptions": [{"LogStreamARN": stream}]}
    with Stubber(kda) as stub:
        stub.add_response("list_applications", {"ApplicationSummaries": []})
        for _ in range(3):
            stub.add_client_error("create_application", *FLINK_REFUSAL, expected_params=request)
        stub.add_response("create_application", _detail("READY"), request)
        stub.add_response("describe_application", _detail("READY"), {"ApplicationName": NAMES.max_speed_app})
        assert apps.create(NAMES.max_speed_app)["ApplicationStatus"] == "READY"
        stub.assert_no_pending_responses()
    assert logs.describe(logs.app_group(NAMES.max_speed_app))["tags"] == {NAMES.tag_key: NAMES.tag_value}


def test_a_role_never_assumable_times_out_with_aws_s_answer_and_what_to_do(aws, fast_retries, monkeypatch):
    monkeypatch.setattr(roles, "PROPAGATION_TIMEOUT_S", 0.2)
    lam = clients.client("lambda")
    with Stubber(lam) as stub:
        for _ in range(100):
            stub.add_client_error("create_function", *LAMBDA_REFUSAL)
        with pytest.raises(WaitTimedOut) as error:
            roles.when_assumable(lambda: lam.create_function(
                FunctionName="f", Role="arn:aws:iam::123456789012:role/r", Code={"ZipFile": b"x"}), "Lambda (f)",
                quiet=True)
    assert str(error.value).startswith(f"Lambda (f) still refuses the role {NAMES.role} after 0.2 s: "
                                       "The role defined for the function cannot be assumed by Lambda.")
    assert "trusts kinesisanalytics.amazonaws.com and lambda.amazonaws.com" in str(error.value)


def test_another_refusal_of_a_create_is_not_retried_and_reads_as_a_sentence(aws, fast_retries):
    lam = clients.client("lambda")
    with Stubber(lam) as stub:
        stub.add_client_error("get_function_configuration", "ResourceNotFoundException", "Function not found")
        stub.add_client_error("create_function", "InvalidParameterValueException",
                              "Unzipped size must be smaller than 262144000 bytes")
        with pytest.raises(BadParameter, match="Lambda refused the request for function 'AnalyticsDestinationFunction'"
                                               ": Unzipped size must be smaller"):
            functions.deploy(NAMES.analytics_function, quiet=True)
        stub.assert_no_pending_responses()


# -- errors as sentences, transitional states ---------------------------------------------------------

def test_a_refused_start_is_a_sentence_not_a_traceback(aws):
    kda = clients.client("kinesisanalyticsv2")
    with Stubber(kda) as stub:
        stub.add_response("describe_application", _detail("READY"))
        stub.add_client_error("start_application", "ResourceInUseException", "Application is being updated")
        with pytest.raises(LabError, match=r"Managed Flink cannot change application 'CalculateMaxSpeed' right now "
                                           r"\(ResourceInUseException: Application is being updated\)\. Wait"):
            apps.run(NAMES.max_speed_app, quiet=True)


def test_a_missing_application_says_how_to_create_it(aws):
    with Stubber(clients.client("kinesisanalyticsv2")) as stub:  # moto's answer is a KeyError (HTTP 500)
        stub.add_client_error("describe_application", "ResourceNotFoundException", "Application not found")
        with pytest.raises(ResourceMissing, match=r"lab\.apps\.create\('CalculateMaxSpeed'\)"):
            apps.run(NAMES.max_speed_app, quiet=True)


def test_configure_waits_while_the_application_updates(aws):
    kda = clients.client("kinesisanalyticsv2")
    with Stubber(kda) as stub:
        for status in ("UPDATING", "UPDATING", "RUNNING", "RUNNING"):
            stub.add_response("describe_application", _detail(status))
        stub.add_response("update_application", _detail("RUNNING", 2), {
            "ApplicationName": NAMES.max_speed_app, "CurrentApplicationVersionId": 1,
            "ApplicationConfigurationUpdate": ANY})
        stub.add_response("describe_application", _detail("RUNNING", 2))
        assert apps.configure(NAMES.max_speed_app, quiet=True, windowSeconds=5)["lab"] == {"windowSeconds": "5"}
        stub.assert_no_pending_responses()


def test_an_application_being_deleted_is_not_waited_for(aws):
    with Stubber(clients.client("kinesisanalyticsv2")) as stub:
        stub.add_response("describe_application", _detail("DELETING"))
        with pytest.raises(LabError, match="is being deleted. Wait until it is gone"):
            apps.stop(NAMES.max_speed_app, quiet=True)


@pytest.mark.parametrize("call, service", [(roles.ensure, "iam"), (buckets.ensure, "s3")])
def test_credentials_without_the_course_s_permissions_read_as_what_to_ask_for(aws, call, service):
    clients.account_id()  # sts, answered by moto before the stub
    with Stubber(clients.client(service)) as stub:
        operation = "get_role" if service == "iam" else "list_buckets"
        stub.add_client_error(operation, "AccessDenied", "User: arn:aws:iam::123456789012:user/s is not authorized")
        with pytest.raises(LabError, match=r"your AWS credentials may not do this .*docs/AWS\.md"):
            call()


# -- logs and teardown ----------------------------------------------------------------------------------

def test_teardown_pages_through_the_tagging_api(aws):
    tagging = clients.client("resourcegroupstaggingapi")
    tag_filter = [{"Key": NAMES.tag_key, "Values": [NAMES.tag_value]}]
    function = f"arn:aws:lambda:us-east-1:123456789012:function:{NAMES.diy_function}"
    group = f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/{NAMES.diy_function}"
    topic = f"arn:aws:sns:us-east-1:123456789012:{NAMES.topic}"
    with Stubber(tagging) as stub:
        stub.add_response("get_resources", {"PaginationToken": "page-2", "ResourceTagMappingList": [
            {"ResourceARN": function}, {"ResourceARN": group}]}, {"TagFilters": tag_filter})
        stub.add_response("get_resources", {"PaginationToken": "", "ResourceTagMappingList": [
            {"ResourceARN": topic}]}, {"TagFilters": tag_filter, "PaginationToken": "page-2"})
        found = [(r.kind, r.name) for r in teardown._tagged()]
        stub.assert_no_pending_responses()
    assert found == [("Lambda function", NAMES.diy_function), ("Lambda log group", f"/aws/lambda/{NAMES.diy_function}"),
                     ("SNS topic", NAMES.topic)]


def test_the_course_s_log_groups_are_created_tagged_and_torn_down(aws):
    functions.deploy(NAMES.analytics_function, quiet=True)
    detail = apps.create(NAMES.max_speed_app)
    assert [o["LogStreamARN"].rsplit(":", 1)[-1] for o in detail["CloudWatchLoggingOptionDescriptions"]] == [
        logs.APP_STREAM]
    groups = {"Lambda log group": logs.function_group(NAMES.analytics_function),
              "Flink log group": logs.app_group(NAMES.max_speed_app)}
    assert {(r.kind, r.name) for r in teardown.find()} >= set(groups.items())
    assert all(logs.describe(g)["tags"] == {NAMES.tag_key: NAMES.tag_value} for g in groups.values())
    doomed = [r for r in teardown.find() if r.kind != "Flink application"]  # moto lacks DeleteApplication
    assert teardown.teardown(doomed, quiet=True)["failed"] == {}
    assert clients.client("logs").describe_log_groups()["logGroups"] == []
    assert [str(r) for r in teardown.find()] == [f"Flink application {NAMES.max_speed_app}"]


def test_a_log_group_left_by_the_console_lab_is_adopted(aws):
    group = logs.function_group(NAMES.delivery_function)
    clients.client("logs").create_log_group(logGroupName=group)
    logs.ensure(group)
    assert logs.describe(group)["tags"] == {NAMES.tag_key: NAMES.tag_value}


def test_a_topic_left_untagged_by_the_console_lab_is_adopted(aws):
    arn = f"arn:aws:sns:us-east-1:123456789012:{NAMES.topic}"
    tag_list = [{"Key": NAMES.tag_key, "Value": NAMES.tag_value}]
    with Stubber(clients.client("sns")) as stub:
        stub.add_client_error("create_topic", "InvalidParameter", "Invalid parameter: Tags Reason: Topic already "
                              "exists with different tags", expected_params={"Name": NAMES.topic, "Tags": tag_list})
        stub.add_response("create_topic", {"TopicArn": arn}, {"Name": NAMES.topic})
        stub.add_response("tag_resource", {}, {"ResourceArn": arn, "Tags": tag_list})
        assert topics.create() == arn
        stub.assert_no_pending_responses()


def test_an_application_s_log_is_its_last_lines_across_pages(aws):
    group = logs.app_group(NAMES.max_speed_app)
    with Stubber(clients.client("logs")) as stub:
        stub.add_response("filter_log_events", {"events": [{"message": f"line {i}"} for i in range(3)],
                                                "nextToken": "more"}, {"logGroupName": group, "startTime": ANY})
        stub.add_response("filter_log_events", {"events": [{"message": "line 3"}]},
                          {"logGroupName": group, "startTime": ANY, "nextToken": "more"})
        assert apps.logs(NAMES.max_speed_app, lines=2) == "line 2\nline 3"
        stub.assert_no_pending_responses()


def test_a_trigger_is_retried_while_the_role_s_new_policy_propagates(aws, fast_retries):
    from labkit.resources import streams

    stream_arn = streams.create(NAMES.anomaly_stream, quiet=True)["arn"]
    uuid = "0b0e8ab4-5d2c-4a6f-9a3e-1f2d3c4b5a69"
    mapping = {"UUID": uuid, "State": "Enabled", "EventSourceArn": stream_arn, "BatchSize": 100,
               "FunctionArn": f"arn:aws:lambda:us-east-1:123456789012:function:{NAMES.analytics_function}"}
    lam = clients.client("lambda")
    with Stubber(lam) as stub:
        stub.add_response("list_event_source_mappings", {"EventSourceMappings": []})
        stub.add_client_error("create_event_source_mapping", "InvalidParameterValueException",
                              "The provided execution role does not have permissions to call GetRecords on Kinesis")
        stub.add_response("create_event_source_mapping", mapping)
        stub.add_response("get_event_source_mapping", mapping, {"UUID": uuid})
        stub.add_response("get_event_source_mapping", mapping, {"UUID": uuid})
        trigger = functions.add_trigger(NAMES.analytics_function, NAMES.anomaly_stream, quiet=True)
        stub.assert_no_pending_responses()
    assert (trigger["uuid"], trigger["state"], trigger["stream"]) == (uuid, "Enabled", NAMES.anomaly_stream)
