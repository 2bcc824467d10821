"""`labkit teardown`: delete every resource that carries the course's tag, and only those.

    teardown.find()          # what would go: [Resource(kind, name, arn), ...] in delete order
    teardown.teardown()      # delete them, with progress; a summary of what went and what could not

Resources are found by their tag (NAMES.tag_key = NAMES.tag_value), service by service, never by name, so a
resource of the same name that is not the course's stays: Lambda event source mappings (tagged, or of a tagged
function), Lambda functions, Managed Flink applications, Kinesis streams, DynamoDB tables, SNS topics (their
subscriptions go with them), S3 buckets (their objects first) and IAM roles (their policies first), in that
order, so nothing is deleted while something that uses it is still there. Running it again finds nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

from botocore.exceptions import BotoCoreError, ClientError
from tqdm.auto import tqdm

from .clients import client
from .config import NAMES
from .errors import LabError
from .progress import wait_until

WAIT_S = 300  # a stream or table takes a while to go on AWS
GONE = ("ResourceNotFoundException", "NoSuchEntity", "NoSuchBucket", "NotFound", "NotFoundException")


@dataclass(frozen=True)
class Resource:
    kind: str
    name: str
    arn: str
    delete: Callable[[], None] = field(repr=False, compare=False)

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


def _is_lab(tags) -> bool:
    """True for tags as a dict or as a Key/Value list that hold the course's tag."""
    pairs = tags.items() if isinstance(tags, dict) else ((t["Key"], t["Value"]) for t in tags)
    return (NAMES.tag_key, NAMES.tag_value) in set(pairs)


def _pages(call, key: str, token_in: str, token_out: str, **request) -> Iterator[dict]:
    while True:
        page = call(**request)
        yield from page.get(key, [])
        if not page.get(token_out):
            return
        request[token_in] = page[token_out]


# -- each service: the tagged resources and how each one goes ------------------------------------------------

def _mappings(tagged_functions: set[str]) -> list[Resource]:
    lam = client("lambda")
    found = []
    for mapping in _pages(lam.list_event_source_mappings, "EventSourceMappings", "Marker", "NextMarker"):
        arn = mapping.get("EventSourceMappingArn", "")
        tags = lam.list_tags(Resource=arn).get("Tags", {}) if arn else {}
        if _is_lab(tags) or mapping["FunctionArn"] in tagged_functions:
            uuid = mapping["UUID"]
            name = f"{mapping['EventSourceArn'].split('/')[-1]} -> {mapping['FunctionArn'].split(':')[-1]}"
            found.append(Resource("Lambda trigger", name, arn or uuid,
                                  lambda uuid=uuid: lam.delete_event_source_mapping(UUID=uuid)))
    return found


def _functions() -> list[Resource]:
    lam = client("lambda")
    return [Resource("Lambda function", f["FunctionName"], f["FunctionArn"],
                     lambda name=f["FunctionName"]: lam.delete_function(FunctionName=name))
            for f in _pages(lam.list_functions, "Functions", "Marker", "NextMarker")
            if _is_lab(lam.list_tags(Resource=f["FunctionArn"]).get("Tags", {}))]


def _delete_application(name: str) -> None:
    """Delete a Flink application; one the (local) service will not delete while it runs is stopped first."""
    from .resources import apps

    kda = client("kinesisanalyticsv2")
    detail = kda.describe_application(ApplicationName=name)["ApplicationDetail"]
    try:
        kda.delete_application(ApplicationName=name, CreateTimestamp=detail["CreateTimestamp"])
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise
        apps.delete(name)  # stops it (without a snapshot), then deletes it


def _applications() -> list[Resource]:
    kda = client("kinesisanalyticsv2")
    found = []
    for summary in _pages(kda.list_applications, "ApplicationSummaries", "NextToken", "NextToken"):
        arn = summary["ApplicationARN"]
        if _is_lab(kda.list_tags_for_resource(ResourceARN=arn).get("Tags", [])):
            name = summary["ApplicationName"]
            found.append(Resource("Flink application", name, arn, lambda name=name: _delete_application(name)))
    return found


def _streams() -> list[Resource]:
    kinesis = client("kinesis")
    found = []
    for summary in _pages(kinesis.list_streams, "StreamSummaries", "NextToken", "NextToken"):
        name = summary["StreamName"]
        if summary.get("StreamStatus") != "DELETING" and _is_lab(kinesis.list_tags_for_stream(StreamName=name)["Tags"]):
            found.append(Resource("Kinesis stream", name, summary["StreamARN"], lambda name=name: _delete_stream(name)))
    return found


def _delete_stream(name: str) -> None:
    kinesis = client("kinesis")
    kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)

    def gone() -> bool:
        try:
            kinesis.describe_stream_summary(StreamName=name)
        except kinesis.exceptions.ResourceNotFoundException:
            return True
        return False

    wait_until(gone, WAIT_S, f"stream {name} to be deleted", quiet=True, interval_s=1)


def _tables() -> list[Resource]:
    dynamodb = client("dynamodb")
    found = []
    for name in _pages(dynamodb.list_tables, "TableNames", "ExclusiveStartTableName", "LastEvaluatedTableName"):
        arn = dynamodb.describe_table(TableName=name)["Table"]["TableArn"]
        if _is_lab(dynamodb.list_tags_of_resource(ResourceArn=arn).get("Tags", [])):
            found.append(Resource("DynamoDB table", name, arn, lambda name=name: _delete_table(name)))
    return found


def _delete_table(name: str) -> None:
    dynamodb = client("dynamodb")
    dynamodb.delete_table(TableName=name)

    def gone() -> bool:
        try:
            dynamodb.describe_table(TableName=name)
        except dynamodb.exceptions.ResourceNotFoundException:
            return True
        return False

    wait_until(gone, WAIT_S, f"table {name} to be deleted", quiet=True, interval_s=1)


def _topics() -> list[Resource]:
    sns = client("sns")
    return [Resource("SNS topic", t["TopicArn"].split(":")[-1], t["TopicArn"],
                     lambda arn=t["TopicArn"]: sns.delete_topic(TopicArn=arn))
            for t in _pages(sns.list_topics, "Topics", "NextToken", "NextToken")
            if _is_lab(sns.list_tags_for_resource(ResourceArn=t["TopicArn"]).get("Tags", []))]


def _bucket_tags(name: str) -> list[dict]:
    """A bucket's tags; none when it has none or they cannot be read (a bucket that is not ours to judge)."""
    try:
        return client("s3").get_bucket_tagging(Bucket=name)["TagSet"]
    except ClientError:
        return []


def _empty_and_delete_bucket(name: str) -> None:
    s3 = client("s3")
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                  for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if doomed:
            s3.delete_objects(Bucket=name, Delete={"Objects": doomed, "Quiet": True})
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        doomed = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if doomed:
            s3.delete_objects(Bucket=name, Delete={"Objects": doomed, "Quiet": True})
    s3.delete_bucket(Bucket=name)


def _buckets() -> list[Resource]:
    return [Resource("S3 bucket", b["Name"], f"arn:aws:s3:::{b['Name']}",
                     lambda name=b["Name"]: _empty_and_delete_bucket(name))
            for b in client("s3").list_buckets().get("Buckets", []) if _is_lab(_bucket_tags(b["Name"]))]


def _delete_role(name: str) -> None:
    iam = client("iam")
    for policy in _pages(iam.list_role_policies, "PolicyNames", "Marker", "Marker", RoleName=name):
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    for policy in _pages(iam.list_attached_role_policies, "AttachedPolicies", "Marker", "Marker", RoleName=name):
        iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
    for profile in _pages(iam.list_instance_profiles_for_role, "InstanceProfiles", "Marker", "Marker", RoleName=name):
        iam.remove_role_from_instance_profile(RoleName=name, InstanceProfileName=profile["InstanceProfileName"])
    iam.delete_role(RoleName=name)


def _roles() -> list[Resource]:
    iam = client("iam")
    return [Resource("IAM role", r["RoleName"], r["Arn"], lambda name=r["RoleName"]: _delete_role(name))
            for r in _pages(iam.list_roles, "Roles", "Marker", "Marker")
            if _is_lab(_pages(iam.list_role_tags, "Tags", "Marker", "Marker", RoleName=r["RoleName"]))]


# -- public -----------------------------------------------------------------------------------------------------

def find() -> list[Resource]:
    """Every resource with the course's tag, in the order they can be deleted."""
    try:
        functions = _functions()
        return [*_mappings({f.arn for f in functions}), *functions, *_applications(), *_streams(), *_tables(),
                *_topics(), *_buckets(), *_roles()]
    except (ClientError, BotoCoreError) as error:
        raise LabError(f"cannot list the course's resources: {error}. Check the target's credentials and "
                       "permissions (`labkit status`), then try again.") from error


def teardown(resources: list[Resource] | None = None, quiet: bool = False) -> dict:
    """Delete `resources` (default: everything `find()` returns), with a progress bar. Returns the summary
    {"deleted": ["kind name", ...], "failed": {"kind name": "why"}}; what is already gone counts as deleted."""
    resources = find() if resources is None else resources
    summary: dict = {"deleted": [], "failed": {}}
    with tqdm(resources, desc="deleting the course's resources", unit="resource", disable=quiet) as bar:
        for resource in bar:
            bar.set_postfix_str(str(resource))
            try:
                resource.delete()
            except ClientError as error:
                if error.response["Error"]["Code"] not in GONE:
                    summary["failed"][str(resource)] = f"{error.response['Error']['Code']}: " \
                                                       f"{error.response['Error'].get('Message', '')}"
                    continue
            except (BotoCoreError, LabError) as error:
                summary["failed"][str(resource)] = str(error)
                continue
            summary["deleted"].append(str(resource))
    return summary


def summary_text(summary: dict) -> str:
    """The summary for people: what was deleted, and what was not with the reason and the fix."""
    lines = [f"deleted {len(summary['deleted'])} resource(s)" + (":" if summary["deleted"] else ".")]
    lines += [f"  - {name}" for name in summary["deleted"]]
    if summary["failed"]:
        lines.append(f"could not delete {len(summary['failed'])} resource(s); run `labkit teardown` again, "
                     "or delete them in the console:")
        lines += [f"  - {name}: {why}" for name, why in summary["failed"].items()]
    return "\n".join(lines)
