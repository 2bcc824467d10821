"""Clean-up (notebook 99), one console action at a time: stop the Flink apps with a snapshot, then delete
the course's resources kind by kind, in the order the console needs (what reads from a resource first).

    cleanup.stop_apps()            # Managed Flink > each app > Stop (with a snapshot)
    cleanup.delete("functions")    # Lambda > Functions > Delete (their Kinesis triggers go first)
    cleanup.leftovers()            # what is still there

Resources are found by the course's tag (labkit.teardown), so whatever the course created goes, whatever
else is in the account stays, and a part of the course that was never done is simply not found.
"""
from __future__ import annotations

from . import teardown
from .errors import BadParameter, LabError
from .resources import apps

KINDS = {  # in delete order
    "functions": ("Lambda trigger", "Lambda function", "Lambda log group"),
    "tables": ("DynamoDB table",),
    "topics": ("SNS topic",),
    "apps": ("Flink application", "Flink log group"),
    "streams": ("Kinesis stream",),
    "buckets": ("S3 bucket",),
    "roles": ("IAM role",),
}


def _kinds(kind: str) -> tuple[str, ...]:
    if kind not in KINDS:
        raise BadParameter(f"there are no course resources of kind {kind!r}: use one of {', '.join(KINDS)}.")
    return KINDS[kind]


def stop_apps(snapshot: bool = True) -> dict[str, str]:
    """Stop every running course application (with a snapshot by default); what happened to each."""
    done = {}
    for resource in teardown.find():
        if resource.kind != "Flink application":
            continue
        if apps.status(resource.name) == "READY":
            done[resource.name] = "not running"
            continue
        apps.stop(resource.name, snapshot=snapshot)
        done[resource.name] = (f"stopped with snapshot {apps.snapshots(resource.name)[0]['SnapshotName']}"
                               if snapshot else "stopped")
    return done


def delete(kind: str) -> list[str]:
    """Delete the course's resources of one kind; the names of those deleted. LabError says what could not
    be deleted and why."""
    kinds = _kinds(kind)
    summary = teardown.teardown([r for r in teardown.find() if r.kind in kinds], quiet=True)
    if summary["failed"]:
        raise LabError(teardown.summary_text(summary))
    return summary["deleted"]


def leftovers(kind: str | None = None) -> list[str]:
    """The course's resources (of one kind, or all) that still exist, as "kind name"."""
    kinds = _kinds(kind) if kind else None
    return [str(r) for r in teardown.find() if kinds is None or r.kind in kinds]
