"""`labkit preflight`: before a class, check with read-only AWS calls that an account can run the course.

    checks = preflight.run()              # [Check(name, status, detail, next_step, more), ...]
    print(preflight.report(checks))       # one line per check: OK / WARN / FAIL, and what to do next
    preflight.failed(checks)              # True when a required check failed

The checks, in order: the account and identity the credentials reach (STS GetCallerIdentity; without it nothing
else is asked); that the region answers for each service the course uses; that the student policy
(labkit/student_policy.json, shown in docs/AWS.md) allows each of its statements' calls on the course's resources,
for the caller or `principal` (IAM SimulatePrincipalPolicy); the quotas that could stop a class (Kinesis shards,
Lambda concurrency); the course's resources already present (teardown.find); and the cost per hour of a running
course (labkit.prices). FAIL is a required check that failed; WARN is one that could not be made (the call was
refused or is not offered), or a fact to act on (resources left from an earlier run) - it does not fail the run.

On the local target there is no account to check: preflight says so and checks that the local stack is up.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from botocore.exceptions import (BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError,
                                 NoCredentialsError)
from botocore.parsers import ResponseParserError

from . import prices
from .clients import client, pages
from .config import NAMES, settings
from .errors import LabError

OK, WARN, FAIL = "OK", "WARN", "FAIL"
POLICY_FILE = Path(__file__).with_name("student_policy.json")  # docs/AWS.md shows it (a test checks they agree)
PREFLIGHT_SIDS = ("Preflight", "PreflightSimulateMyPolicy")  # what only preflight uses: not simulated, not required
UNREACHABLE = (EndpointConnectionError, ConnectTimeoutError)
CALL_FAILED = (ClientError, BotoCoreError, ResponseParserError)  # an answer that is not what was asked for


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, its outcome, and what to do next."""

    name: str
    status: str
    detail: str
    next_step: str = ""
    more: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        lines = [f"{self.status:<5} {self.name}: {self.detail}", *(f"        {line}" for line in self.more)]
        return "\n".join(lines + ([f"        next: {self.next_step}"] if self.next_step else []))


# A read-only call per service, allowed by the student policy; any answer from AWS, even a refusal or "not
# found", shows that the region offers the service; no answer at all means it has no endpoint there.
PROBES: dict[str, tuple[str, Callable]] = {
    "Kinesis Data Streams": ("kinesis", lambda c: c.describe_stream_summary(StreamName=NAMES.wind_stream)),
    "Managed Flink (kinesisanalyticsv2)": ("kinesisanalyticsv2", lambda c: c.list_applications(Limit=1)),
    "Lambda": ("lambda", lambda c: c.list_event_source_mappings(MaxItems=1)),
    "DynamoDB": ("dynamodb", lambda c: c.describe_table(TableName=NAMES.wind_table)),
    "SNS": ("sns", lambda c: c.list_topics()),
    "S3": ("s3", lambda c: c.list_buckets()),
    "IAM": ("iam", lambda c: c.get_role(RoleName=NAMES.role)),
    "CloudWatch Logs": ("logs", lambda c: c.describe_log_groups(logGroupNamePrefix="/aws/kinesis-analytics/",
                                                                limit=1)),
}


def _code(error: ClientError) -> str:
    """AWS's answer in one short line (an endpoint that does not offer a call may answer an HTML page)."""
    answer = error.response["Error"]
    code, message = answer.get("Code", "?"), " ".join(answer.get("Message", "").split())
    if code.isdigit():
        return f"HTTP {code}, the endpoint does not offer this call"
    return f"{code}: {message[:160]}" if message else code


def _why(error: Exception) -> str:
    """Why a call failed, in one short line."""
    if isinstance(error, ClientError):
        return _code(error)
    if isinstance(error, ResponseParserError):
        return "the endpoint answered with something that is not an AWS answer: it does not offer this call"
    return " ".join(str(error).split())[:160]


def identity() -> tuple[Check, dict | None]:
    """Whom the credentials reach, in which account and region; the identity, or None when AWS was not reached."""
    region = settings().region
    try:
        found = client("sts").get_caller_identity()
    except NoCredentialsError:
        return Check("credentials", FAIL, "no AWS credentials found on this machine.",
                     "set them with `aws configure` (or AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), "
                     "then run `labkit preflight` again."), None
    except UNREACHABLE as error:
        return Check("credentials", FAIL, f"AWS cannot be reached ({error}).",
                     "check the network connection (and AWS_ENDPOINT_URL, if it is set), then run `labkit preflight` "
                     "again."), None
    except ClientError as error:
        return Check("credentials", FAIL, f"AWS does not accept these credentials ({_code(error)}).",
                     "renew them (`aws configure`, or `aws sso login`), check with `aws sts get-caller-identity`, then "
                     "run `labkit preflight` again."), None
    except BotoCoreError as error:
        return Check("credentials", FAIL, f"the AWS call could not be made ({error}).",
                     "check LABKIT_REGION and the AWS settings (`aws configure list`)."), None
    return Check("credentials", OK, f"account {found['Account']}, region {region}, as {found['Arn']}"), found


def service(label: str) -> Check:
    """Does the region answer for this service?"""
    name, probe = PROBES[label]
    region = settings().region
    try:
        probe(client(name))
    except UNREACHABLE:
        return Check(f"service {label}", FAIL, f"no endpoint answers in {region}.",
                     "pick a region that offers every service the course uses (docs/AWS.md, Regions) and set "
                     "LABKIT_REGION to it.")
    except (ClientError, ResponseParserError):
        pass  # an answer: the service is there (a refusal here is the permissions check's business)
    except BotoCoreError as error:
        return Check(f"service {label}", FAIL, f"the call could not be made ({error}).",
                     "check LABKIT_REGION and the network, then run `labkit preflight` again.")
    return Check(f"service {label}", OK, f"answers in {region}")


def principal_of(caller_arn: str) -> tuple[str | None, str]:
    """The IAM principal SimulatePrincipalPolicy takes for a caller's ARN, or None and why it cannot be simulated."""
    _, partition, service_, _, account, resource = (caller_arn.split(":", 5) + [""] * 6)[:6]
    if resource.startswith("user/"):  # an IAM user (moto's default caller shows its ARN under sts)
        return f"arn:{partition}:iam::{account}:{resource}", ""
    if service_ == "sts" and resource.startswith("assumed-role/"):
        role = resource.split("/")[1]
        return f"arn:{partition}:iam::{account}:role/{role}", ""
    if resource == "root":
        return None, ("these are the account's root credentials, which AWS cannot simulate (root may do anything); "
                      "students should not use root")
    return None, f"{caller_arn} is neither an IAM user nor a role"


def _listed(value) -> list:
    return [value] if isinstance(value, str) else list(value)


def policy(account: str, region: str) -> dict:
    """The student policy (docs/AWS.md) for this account and region."""
    return json.loads(POLICY_FILE.read_text().replace("ACCOUNT", account).replace("REGION", region))


def _contexts(statement: dict) -> list[list[dict]]:
    """The request contexts that satisfy a statement's condition, one simulation each (PassRole: each service)."""
    contexts = [[{"ContextKeyName": key, "ContextKeyValues": [value], "ContextKeyType": "string"}]
                for keys in statement.get("Condition", {}).values() for key, values in keys.items()
                for value in _listed(values)]
    return contexts or [[]]


def _denied(principal: str, statement: dict) -> list[str]:
    """The "action on resource" pairs of one statement that the principal's policies do not allow."""
    request = {"PolicySourceArn": principal, "ActionNames": _listed(statement["Action"])}
    resources = _listed(statement["Resource"])
    if resources != ["*"]:
        request["ResourceArns"] = resources
    denied = []
    for context in _contexts(statement):
        for page in pages("iam", "simulate_principal_policy", **request, **({"ContextEntries": context}
                                                                              if context else {})):
            for result in page["EvaluationResults"]:  # one per action; with ResourceArns, one decision per resource
                decisions = [(r["EvalResourceName"], r["EvalResourceDecision"])
                             for r in result.get("ResourceSpecificResults") or []]
                for resource, decision in decisions or [(result.get("EvalResourceName", "*"), result["EvalDecision"])]:
                    if decision != "allowed":
                        denied.append(f"{result['EvalActionName']} on {resource}")
    return sorted(set(denied))


def permissions(caller_arn: str, account: str, principal: str | None = None) -> Check:
    """Does the student policy's every call on the course's resources pass IAM's policy simulator?"""
    name = "permissions"
    if principal is None:
        principal, why = principal_of(caller_arn)
        if principal is None:
            return Check(name, WARN, f"could not check: {why}.",
                         "run `labkit preflight --principal arn:aws:iam::ACCOUNT:user/STUDENT` to check a student's "
                         "user or role.")
    statements = [s for s in policy(account, settings().region)["Statement"] if s.get("Sid") not in PREFLIGHT_SIDS]
    try:
        denied = [pair for statement in statements for pair in _denied(principal, statement)]
    except CALL_FAILED as error:
        return Check(name, WARN, f"could not check {principal} with IAM's policy simulator ({_why(error)}).",
                     "allow iam:SimulatePrincipalPolicy (docs/AWS.md, Sid PreflightSimulateMyPolicy), or have the "
                     "instructor run `labkit preflight --principal <your ARN>`.")
    actions = sum(len(_listed(s["Action"])) for s in statements)
    if denied:
        shown = denied[:8] + ([f"... and {len(denied) - 8} more"] if len(denied) > 8 else [])
        return Check(name, FAIL, f"{principal} may not make {len(denied)} of the course's calls:", (
            "attach the student policy in docs/AWS.md (labkit/student_policy.json) with REGION and ACCOUNT replaced, "
            "then run `labkit preflight` again."), tuple(shown))
    return Check(name, OK, f"{principal} may make all {actions} calls of the student policy on the course's resources "
                           "(IAM policy simulator)")


def kinesis_shards(course_streams: int = 0) -> Check:
    """Room for the course's shards under the account's Kinesis shard quota (those already open count)."""
    name, need = "quota Kinesis shards", prices.SHARDS - course_streams
    try:
        limits = client("kinesis").describe_limits()
    except CALL_FAILED as error:
        return Check(name, WARN, f"could not read it ({_why(error)}).",
                     "allow kinesis:DescribeLimits (docs/AWS.md, Sid Preflight), or check Service Quotas > Kinesis "
                     "Data Streams > Shards per Region.")
    free = limits["ShardLimit"] - limits["OpenShardCount"]
    detail = f"{free} of {limits['ShardLimit']} shards free, the course needs {need} more"
    if free < need:
        return Check(name, FAIL, detail + ".", "delete unused streams, or ask AWS for more shards in Service Quotas "
                                               "(Kinesis Data Streams > Shards per Region).")
    return Check(name, OK, detail)


def lambda_concurrency() -> Check:
    """Unreserved concurrent executions enough for the course's triggers (one invocation per shard at a time)."""
    name, need = "quota Lambda concurrency", prices.LAMBDA_CONCURRENCY
    try:
        limit = client("lambda").get_account_settings()["AccountLimit"]
    except CALL_FAILED as error:
        return Check(name, WARN, f"could not read it ({_why(error)}).",
                     "allow lambda:GetAccountSettings (docs/AWS.md, Sid Preflight), or check Service Quotas > Lambda "
                     "> Concurrent executions.")
    free = limit["UnreservedConcurrentExecutions"]
    detail = f"{free} unreserved concurrent executions of {limit['ConcurrentExecutions']}, the course needs {need}"
    if free < need:
        return Check(name, FAIL, detail + ".", "ask AWS for more in Service Quotas (Lambda > Concurrent executions), "
                                               "or release reserved concurrency of other functions.")
    return Check(name, OK, detail)


def course_resources() -> tuple[Check, list]:
    """What of the course already exists (and bills)."""
    from . import teardown

    name = "course resources"
    try:
        found = teardown.find()
    except LabError as error:
        return Check(name, WARN, f"could not list them ({error})",
                     "allow tag:GetResources (docs/AWS.md, Sid WhoAmIAndFindTheCourse)."), []
    if not found:
        return Check(name, OK, f"none yet (nothing carries the tag {NAMES.tag_key}={NAMES.tag_value})"), []
    return Check(name, WARN, f"{len(found)} already exist and bill while they do:",
                 "the notebooks reuse them; `labkit teardown` deletes them for a fresh start.",
                 tuple(str(r) for r in found)), found


def cost() -> Check:
    """The cost per hour of one student's running course, from labkit.prices."""
    region = settings().region
    lines = tuple(f"{line.service:<14} ${line.dollars:.3f}  ({line.arithmetic})" for line in prices.per_student_hour())
    where = "" if region == prices.PRICES_REGION else f"; check the pricing pages for {region}"
    return Check("cost per hour", OK, (
        f"${prices.total_per_student_hour():.2f} per student while both Flink apps and the three streams run "
        f"({prices.PRICES_REGION} list prices of {prices.PRICES_AS_OF}{where}; DynamoDB, S3, CloudWatch Logs and SNS "
        f"add a little)"), (
        f"stop the apps when not in use; the streams bill every hour they exist (${prices.shards_per_hour():.3f} per "
        "hour per student): run notebook 99 or `labkit teardown` at the end."), lines)


def run(principal: str | None = None) -> list[Check]:
    """Every check on the aws target, in order; only the credentials check when AWS is not reached."""
    who, found = identity()
    if found is None:
        return [who]
    resources_check, resources = course_resources()
    streams = sum(1 for r in resources if r.kind == "Kinesis stream")
    return [who, *(service(label) for label in PROBES), permissions(found["Arn"], found["Account"], principal),
            kinesis_shards(streams), lambda_concurrency(), resources_check, cost()]


def local() -> list[Check]:
    """On the local target: no account to check; is the local stack up?"""
    from .local.control import status

    if status()["running"]:
        return [Check("local stack", OK, "running (`labkit status` lists its services)")]
    return [Check("local stack", FAIL, "not running.", "start it with `labkit up` (or run notebook 00).")]


def failed(checks: list[Check]) -> bool:
    return any(check.status == FAIL for check in checks)


def report(checks: list[Check]) -> str:
    """The report for people: every check's line, then the verdict."""
    failures, warnings = (sum(1 for c in checks if c.status == s) for s in (FAIL, WARN))
    if failures:
        verdict = f"{failures} required check(s) failed (FAIL above): fix them, then run `labkit preflight` again."
    else:
        verdict = "every required check passed" + (f"; {warnings} warning(s) (WARN above)." if warnings else ".")
    return "\n".join([*(str(check) for check in checks), verdict])
