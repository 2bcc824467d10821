"""`labkit teardown`: delete every resource that carries the course's tag, and only those.

    teardown.find()          # what would go: [Resource(kind, name, arn), ...] in delete order
    teardown.teardown()      # delete them, with progress; a summary of what went and what could not

Resources are found by their tag (NAMES.tag_key = NAMES.tag_value), never by name alone, so a resource of the
same name that is not the course's stays. One paged Resource Groups Tagging API call (GetResources filtered by
the tag) lists what carries the tag, so the tags of the account's other resources are never read; the course's
own names (a dozen) have their tags read directly too, and the Lambda triggers (event source mappings) of the
tagged functions and of the course's streams are kept when they are tagged or belong to a tagged function.
The log groups of the course's functions and applications (created tagged by `resources.logs`) go after what
writes them. Each resource is deleted by its resource module, in DELETE_ORDER, so nothing goes while something
that uses it is still there. Running it again finds nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

from botocore.exceptions import BotoCoreError, ClientError
from tqdm.auto import tqdm

from .clients import client, pages
from .config import NAMES
from .errors import LabError, ResourceMissing
from .resources import apps, buckets, functions, logs, roles, streams, tables, topics

DELETE_ORDER = ("Lambda trigger", "Lambda function", "Lambda log group", "Flink application", "Flink log group",
                "Kinesis stream", "DynamoDB table", "SNS topic", "S3 bucket", "IAM role")
LOG_GROUPS = {"Lambda log group": logs.function_group, "Flink log group": logs.app_group}  # kind -> group of a name
DELETE: dict[str, Callable[[str], object]] = {
    "Lambda function": functions.delete,  # and its triggers
    "Flink application": apps.delete,  # stopped first where the service will not delete a running one
    "Lambda log group": logs.delete,  # after its function: Lambda would make it again, untagged
    "Flink log group": logs.delete,
    "Kinesis stream": lambda name: streams.delete(name, quiet=True),
    "DynamoDB table": lambda name: tables.delete(name, quiet=True),
    "SNS topic": topics.delete,  # and its subscriptions
    "S3 bucket": buckets.delete,  # emptied first
    "IAM role": roles.delete,  # its policies first
}
ARN_KINDS = {("lambda", "function"): "Lambda function", ("kinesisanalytics", "application"): "Flink application",
             ("kinesis", "stream"): "Kinesis stream", ("dynamodb", "table"): "DynamoDB table",
             ("iam", "role"): "IAM role"}
GONE = ("ResourceNotFoundException", "NoSuchEntity", "NoSuchBucket", "NotFound", "NotFoundException")


@dataclass(frozen=True)
class Resource:
    kind: str
    name: str
    arn: str
    delete: Callable[[], object] = field(repr=False, compare=False)

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


def _resource(kind: str, name: str, arn: str) -> Resource:
    """A resource deleted by its module's delete (DELETE)."""
    return Resource(kind, name, arn, lambda: DELETE[kind](name))


def _is_lab(tags: dict[str, str]) -> bool:
    return tags.get(NAMES.tag_key) == NAMES.tag_value


def _kind_and_name(arn: str) -> tuple[str, str] | None:
    """(kind, name) of an ARN the tagging API lists (arn:partition:service:region:account:resource); None for
    a kind teardown does not delete."""
    service, resource = arn.split(":")[2], arn.split(":", 5)[5]
    if service == "logs":
        group = resource.removeprefix("log-group:").removesuffix(":*")
        return next(((kind, group) for kind, of in LOG_GROUPS.items() if group.startswith(of(""))), None)
    if service in ("sns", "s3"):
        return ("SNS topic" if service == "sns" else "S3 bucket"), resource
    prefix, _, name = resource.replace("/", ":", 1).partition(":")
    kind = ARN_KINDS.get((service, prefix))
    return (kind, name.rsplit("/", 1)[-1]) if kind else None


def _tagged() -> Iterator[Resource]:
    """What the tagging API lists with the course's tag."""
    tag_filter = [{"Key": NAMES.tag_key, "Values": [NAMES.tag_value]}]
    for page in pages("resourcegroupstaggingapi", "get_resources", TagFilters=tag_filter):
        for mapping in page["ResourceTagMappingList"]:
            found = _kind_and_name(mapping["ResourceARN"])
            if found:
                yield _resource(*found, mapping["ResourceARN"])


def _application(name: str) -> dict:
    """ARN and tags of a Flink application; ResourceMissing if there is none."""
    if not apps.exists(name):
        raise ResourceMissing("Flink application", name, f"Create it with lab.apps.create({name!r}).")
    arn = apps.describe(name)["ApplicationARN"]
    found = client("kinesisanalyticsv2").list_tags_for_resource(ResourceARN=arn).get("Tags", [])
    return {"arn": arn, "tags": {t["Key"]: t["Value"] for t in found}}


def _course_names() -> list[tuple[str, str, Callable[[str], dict]]]:
    """(kind, name, describe) of every resource the course makes, its describe giving "arn" and "tags"."""
    return [*(("Lambda function", n, functions.describe) for n in functions.LAB_FUNCTIONS),
            *(("Flink application", n, _application) for n in apps.APP_FOLDERS),
            *(("Lambda log group", logs.function_group(n), logs.describe) for n in functions.LAB_FUNCTIONS),
            *(("Flink log group", logs.app_group(n), logs.describe) for n in apps.APP_FOLDERS),
            *(("Kinesis stream", n, streams.describe)
              for n in (NAMES.wind_stream, NAMES.anomaly_stream, NAMES.max_speed_stream)),
            *(("DynamoDB table", n, tables.describe) for n in tables.LAB_KEYS),
            ("SNS topic", NAMES.topic, topics.describe), ("S3 bucket", buckets.name(), buckets.describe),
            ("IAM role", NAMES.role, roles.describe)]


def _by_name() -> Iterator[Resource]:
    """The course's own resources, read by name and kept when tagged: the tagging API may not list one yet (AWS's
    is eventually consistent; moto's lists a service restored at `labkit up` only once a request has used it),
    and it lists no Kinesis streams or IAM roles on the local stack (moto 5.2.5)."""
    for kind, name, describe in _course_names():
        try:
            found = describe(name)
        except ResourceMissing:
            continue
        if _is_lab(found["tags"]) and found.get("status") != "DELETING":
            yield _resource(kind, name, found["arn"])


def _mappings(**request) -> list[dict]:
    return [m for page in pages("lambda", "list_event_source_mappings", **request) for m in page["EventSourceMappings"]]


def _triggers(lab_functions: set[str], lab_stream_arns: set[str]) -> list[Resource]:
    """The event source mappings of the course's functions, and the tagged ones from the course's streams."""
    mappings = {m["UUID"]: m for name in sorted(lab_functions) for m in _mappings(FunctionName=name)}
    mappings.update({m["UUID"]: m for arn in sorted(lab_stream_arns) for m in _mappings(EventSourceArn=arn)})
    found = []
    for uuid, mapping in mappings.items():
        function, stream = mapping["FunctionArn"].split(":")[-1], mapping["EventSourceArn"].split("/")[-1]
        arn = mapping.get("EventSourceMappingArn", "")
        if function in lab_functions or (arn and _is_lab(client("lambda").list_tags(Resource=arn).get("Tags", {}))):
            found.append(Resource("Lambda trigger", f"{stream} -> {function}", arn or uuid,
                                  lambda function=function, stream=stream: functions.remove_trigger(function, stream)))
    return found


def find() -> list[Resource]:
    """Every resource with the course's tag, in the order they can be deleted."""
    try:
        found = list({(r.kind, r.name): r for r in [*_tagged(), *_by_name()]}.values())
        found += _triggers({r.name for r in found if r.kind == "Lambda function"},
                           {r.arn for r in found if r.kind == "Kinesis stream"})
    except (ClientError, BotoCoreError) as error:
        raise LabError(f"cannot list the course's resources: {error}. Check the target's credentials and "
                       "permissions (`labkit status`), then try again.") from error
    return sorted(found, key=lambda r: DELETE_ORDER.index(r.kind))


def _delete(resource: Resource) -> str | None:
    """Delete one resource; why it could not be, or None (what is already gone counts as deleted)."""
    try:
        resource.delete()
    except ClientError as error:
        if error.response["Error"]["Code"] not in GONE:
            return f"{error.response['Error']['Code']}: {error.response['Error'].get('Message', '')}"
    except ResourceMissing:
        pass
    except (BotoCoreError, LabError) as error:
        return str(error)
    return None


def teardown(resources: list[Resource] | None = None, quiet: bool = False) -> dict:
    """Delete `resources` (default: everything `find()` returns), with a progress bar. Returns the summary
    {"deleted": ["kind name", ...], "failed": {"kind name": "why"}}; what is already gone counts as deleted."""
    resources = find() if resources is None else resources
    summary: dict = {"deleted": [], "failed": {}}
    with tqdm(resources, desc="deleting the course's resources", unit="resource", disable=quiet) as bar:
        for resource in bar:
            bar.set_postfix_str(str(resource))
            failure = _delete(resource)
            if failure is None:
                summary["deleted"].append(str(resource))
            else:
                summary["failed"][str(resource)] = failure
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
