"""`labkit preflight`'s answers that moto cannot give, through botocore's Stubber (the policy simulator, Lambda's
account settings, quotas too small), and the cost per hour: docs/AWS.md states the prices labkit/prices.py holds and
the totals it computes. The report against a stock moto server: tests/integration/test_preflight.py."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from botocore.stub import Stubber

from labkit import clients, preflight, prices
from labkit.config import NAMES, REPO_ROOT
from tests.conftest import free_port

ACCOUNT, REGION = "123456789012", "us-east-1"
USER = f"arn:aws:iam::{ACCOUNT}:user/student1"
DOC = " ".join((REPO_ROOT / "docs" / "AWS.md").read_text().split())  # whitespace as one space: lines wrap


# -- the cost per hour: one table of prices, the page agrees ------------------------------------------------

@pytest.mark.parametrize("stated, price", [
    ("$0.11 per KPU-hour", prices.FLINK_KPU_HOUR),
    ("50 GB of running application storage per KPU at $0.10 per GB-month", prices.FLINK_STORAGE_GB_MONTH),
    ("$0.015 per shard-hour", prices.KINESIS_SHARD_HOUR),
    ("$0.014 per million PUT payload units", prices.KINESIS_PUT_UNITS_MILLION),
    ("$0.20 per million requests", prices.LAMBDA_REQUESTS_MILLION),
    ("$0.00001667 per GB-second", prices.LAMBDA_GB_SECOND),
])
def test_docs_aws_states_each_price_that_labkit_prices_holds(stated, price):
    assert stated in DOC, f"docs/AWS.md no longer says {stated!r}"
    assert prices.usd(price) in stated, f"labkit/prices.py has {prices.usd(price)}, docs/AWS.md says {stated!r}"


def _stated(pattern: str) -> str:
    found = re.search(pattern, DOC)
    assert found, f"docs/AWS.md has no line matching {pattern!r}"
    return found.group(1)


def test_docs_aws_per_student_hour_is_what_the_code_computes_from_the_same_prices():
    flink, kinesis, lam, total = re.search(
        r"Per student, while both apps and the three streams run: about \$(\S+) \+ \$(\S+) \+ \$(\S+) = \$(\S+) per "
        r"hour", DOC).groups()
    assert f"{prices.FLINK_STORAGE_GB_PER_KPU} GB of running application storage per KPU" in DOC
    assert f"a 30-day month = {prices.HOURS_PER_MONTH} h" in DOC
    assert f"{prices.FLINK_MINIMUM_MINUTES}-minute minimum" in DOC
    lines = {line.service: line.dollars for line in prices.per_student_hour()}
    assert (flink, kinesis, lam) == (f"{lines['Managed Flink']:.2f}", f"{lines['Kinesis']:.3f}",
                                     f"{lines['Lambda']:.3f}")
    assert total == f"{prices.total_per_student_hour():.2f}" == "0.50"
    assert _stated(r"Flink, both apps: ~ \$(\S+) per hour") == f"{prices.flink_per_hour():.2f}"
    assert _stated(r"Flink, AnomalyDetection only \(notebooks 02-05\): .*? ~ \$(\S+) per hour") == \
        f"{prices.flink_per_hour(apps=1):.2f}"
    assert _stated(r"each Run of an app costs at least .*? = \$(\S+)") == f"{prices.minimum_run_cost():.3f}"
    assert _stated(r"3 shards x \$0.015/shard-h = \$(\S+) per hour") == f"{prices.shards_per_hour():.3f}"


def test_the_student_policy_file_is_the_policy_docs_aws_shows():
    shown = (REPO_ROOT / "docs" / "AWS.md").read_text().split("```json", 1)[1].split("```", 1)[0]
    assert json.loads(shown) == json.loads(preflight.POLICY_FILE.read_text())
    assert "arn:aws:kinesis:us-east-1:123456789012:stream/WindDataStream" in json.dumps(preflight.policy(ACCOUNT,
                                                                                                         REGION))


def test_the_cost_check_prints_each_service_and_the_reminder_to_tear_down(aws, monkeypatch):
    check = preflight.cost()
    assert check.status == preflight.OK and check.detail.startswith("$0.50 per student")
    assert [line.split()[0] for line in check.more] == ["Managed", "Kinesis", "Lambda"]
    assert "$0.454" in check.more[0] and "`labkit teardown`" in check.next_step
    monkeypatch.setenv("LABKIT_REGION", "eu-west-1")
    assert "check the pricing pages for eu-west-1" in preflight.cost().detail


# -- permissions: IAM's policy simulator --------------------------------------------------------------------

@pytest.mark.parametrize("caller, principal", [
    (USER, USER),
    (f"arn:aws:sts::{ACCOUNT}:assumed-role/LabStudent/alice", f"arn:aws:iam::{ACCOUNT}:role/LabStudent"),
    (f"arn:aws:iam::{ACCOUNT}:root", None),
    (f"arn:aws:sts::{ACCOUNT}:federated-user/bob", None),
])
def test_the_simulated_principal_is_the_caller_s_user_or_role(caller, principal):
    assert preflight.principal_of(caller)[0] == principal


def _simulations() -> list[dict]:
    """One simulation per statement the course needs, the PassRole one per service it is passed to."""
    statements = [s for s in preflight.policy(ACCOUNT, REGION)["Statement"] if s["Sid"] not in preflight.PREFLIGHT_SIDS]
    return [s for s in statements for _ in preflight._contexts(s)]


def _answer(statement: dict, deny: tuple[str, str] | None = None) -> dict:
    resources = preflight._listed(statement["Resource"])
    results = []
    for action in preflight._listed(statement["Action"]):
        specific = [{"EvalResourceName": r,
                     "EvalResourceDecision": "implicitDeny" if (action, r) == deny else "allowed"} for r in resources]
        decision = "implicitDeny" if deny and deny[0] == action else "allowed"
        results.append({"EvalActionName": action, "EvalDecision": decision, "ResourceSpecificResults": specific}
                       if resources != ["*"] else {"EvalActionName": action, "EvalResourceName": "*",
                                                   "EvalDecision": "allowed"})
    return {"EvaluationResults": results, "IsTruncated": False}


def test_a_principal_allowed_every_call_passes_and_pass_role_is_simulated_for_both_services(aws):
    iam, requests = clients.client("iam"), []
    iam.meta.events.register("provide-client-params.iam.SimulatePrincipalPolicy",
                             lambda params, **_: requests.append(params))
    with Stubber(iam) as stub:
        for statement in _simulations():
            stub.add_response("simulate_principal_policy", _answer(statement))
        check = preflight.permissions(USER, ACCOUNT)
        stub.assert_no_pending_responses()
    assert check.status == preflight.OK and f"{USER} may make all" in check.detail
    assert all(r["PolicySourceArn"] == USER for r in requests)
    pass_role = [r["ContextEntries"][0]["ContextKeyValues"] for r in requests if r["ActionNames"] == ["iam:PassRole"]]
    assert pass_role == [["lambda.amazonaws.com"], ["kinesisanalytics.amazonaws.com"]]
    streams = next(r for r in requests if "kinesis:PutRecords" in r["ActionNames"])
    assert f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{NAMES.wind_stream}" in streams["ResourceArns"]
    assert not any("ResourceArns" in r for r in requests if "sts:GetCallerIdentity" in r["ActionNames"])


def test_a_denied_call_fails_naming_the_action_the_resource_and_the_policy_to_attach(aws):
    stream = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{NAMES.wind_stream}"
    with Stubber(clients.client("iam")) as stub:
        for statement in _simulations():
            stub.add_response("simulate_principal_policy", _answer(statement, deny=("kinesis:PutRecords", stream)))
        check = preflight.permissions(USER, ACCOUNT)
    assert check.status == preflight.FAIL and "may not make 1 of the course's calls" in check.detail
    assert check.more == (f"kinesis:PutRecords on {stream}",)
    assert "docs/AWS.md" in check.next_step


def test_a_caller_who_may_not_simulate_gets_a_warning_not_a_failure(aws):
    with Stubber(clients.client("iam")) as stub:
        stub.add_client_error("simulate_principal_policy", "AccessDenied", "User: student1 is not authorized to "
                              "perform: iam:SimulatePrincipalPolicy", http_status_code=403)
        check = preflight.permissions(USER, ACCOUNT)
    assert check.status == preflight.WARN and "could not check" in check.detail and "AccessDenied" in check.detail
    assert "--principal" in check.next_step
    root = preflight.permissions(f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)
    assert root.status == preflight.WARN and "root" in root.detail


# -- quotas -------------------------------------------------------------------------------------------------

def _limits(limit: int, open_shards: int) -> dict:
    return {"ShardLimit": limit, "OpenShardCount": open_shards, "OnDemandStreamCount": 0,
            "OnDemandStreamCountLimit": 50}


def test_too_few_free_shards_fail_and_the_course_s_own_streams_count_as_already_open(aws):
    with Stubber(clients.client("kinesis")) as stub:
        stub.add_response("describe_limits", _limits(200, 198))
        stub.add_response("describe_limits", _limits(200, 198))
        short = preflight.kinesis_shards(course_streams=0)
        enough = preflight.kinesis_shards(course_streams=1)
    assert short.status == preflight.FAIL and "2 of 200 shards free, the course needs 3 more" in short.detail
    assert "Service Quotas" in short.next_step
    assert enough.status == preflight.OK and "needs 2 more" in enough.detail


@pytest.mark.parametrize("unreserved, status", [(2, preflight.FAIL), (3, preflight.OK), (1000, preflight.OK)])
def test_lambda_concurrency_must_leave_one_execution_per_triggered_shard(aws, unreserved, status):
    with Stubber(clients.client("lambda")) as stub:
        stub.add_response("get_account_settings", {"AccountLimit": {
            "ConcurrentExecutions": 10, "UnreservedConcurrentExecutions": unreserved}})
        check = preflight.lambda_concurrency()
    assert check.status == status
    assert f"{unreserved} unreserved concurrent executions of 10, the course needs {prices.LAMBDA_CONCURRENCY}" \
        in check.detail


def test_a_quota_that_may_not_be_read_is_a_warning_naming_the_permission(aws):
    with Stubber(clients.client("lambda")) as stub:
        stub.add_client_error("get_account_settings", "AccessDeniedException", "not authorized", http_status_code=403)
        check = preflight.lambda_concurrency()
    assert check.status == preflight.WARN and "AccessDeniedException" in check.detail
    assert "lambda:GetAccountSettings" in check.next_step


# -- the local target ---------------------------------------------------------------------------------------

def test_preflight_on_the_local_target_says_it_is_for_aws_and_that_the_stack_is_down(tmp_path):
    ports = {name: str(free_port()) for name in ("LABKIT_AWS_PORT", "LABKIT_SERVICE_PORT", "LABKIT_FLINK_PORT")}
    env = {**os.environ, "LABKIT_TARGET": "local", "LABKIT_STATE_DIR": str(tmp_path / "state"), **ports}
    result = subprocess.run([sys.executable, "-m", "labkit", "preflight"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert "checks an AWS account for the aws target" in result.stdout
    assert "FAIL  local stack: not running." in result.stdout and "`labkit up`" in result.stdout
    assert result.returncode == 1
    assert not (tmp_path / "state").exists(), "preflight started nothing"
