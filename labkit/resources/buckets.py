"""The S3 bucket that holds the Flink applications' code: create (`ensure`), describe, upload, delete.

Bucket names are global across every AWS account, so the lab's is NAMES.bucket followed by the account and
region: each student's account gets its own.
"""
from __future__ import annotations

from pathlib import Path

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import ClientError

from ..clients import account_id, client, pages
from ..config import NAMES, settings
from ..errors import LabError, ResourceMissing
from . import tags
from .errors import explained


def name() -> str:
    """The lab's bucket in this account and region."""
    return f"{NAMES.bucket}-{account_id()}-{settings().region}"


def missing(bucket: str) -> ResourceMissing:
    return ResourceMissing("S3 bucket", bucket, "`labkit.resources.apps.create` makes it with the code it uploads.")


def _s3_errors(bucket: str, keep: tuple[str, ...] = ()):
    return explained("S3", f"bucket {bucket!r}", lambda: missing(bucket), keep)


def _exists(bucket: str) -> bool:
    with _s3_errors(bucket):
        return any(b["Name"] == bucket for page in pages("s3", "list_buckets") for b in page.get("Buckets", []))


def ensure() -> str:
    """Create the bucket if it is missing (idempotent), tagged; return its ARN."""
    bucket = name()
    s3 = client("s3")
    if not _exists(bucket):
        extra = {} if settings().region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": settings().region}}
        with _s3_errors(bucket):
            s3.create_bucket(Bucket=bucket, **extra)
            s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags.as_list()})
    return f"arn:aws:s3:::{bucket}"


def describe(bucket: str | None = None) -> dict:
    """Name, ARN and tags of a bucket (default: the lab's); ResourceMissing if there is none. Tags that cannot be
    read (none set, or no right to) count as none: such a bucket is not the course's to judge."""
    bucket = bucket or name()
    if not _exists(bucket):
        raise missing(bucket)
    try:
        found = client("s3").get_bucket_tagging(Bucket=bucket)["TagSet"]
    except ClientError:
        found = []
    return {"name": bucket, "arn": f"arn:aws:s3:::{bucket}", "tags": {t["Key"]: t["Value"] for t in found}}


def upload(path: Path, key: str) -> str:
    """Upload a file (creating the bucket if needed); return the bucket ARN."""
    arn = ensure()
    try:
        with _s3_errors(name()):
            client("s3").upload_file(str(path), name(), key)
    except S3UploadFailedError as error:
        raise LabError(f"could not upload {path.name} to the bucket {name()!r}: {error}. Check your connection and "
                       "the course's permissions (docs/AWS.md), then run the step again.") from error
    return arn


def _delete_objects(bucket: str, operation: str, keys) -> None:
    """Delete what each page of `operation` lists, as `keys(page)` names it (S3 takes up to 1,000 a call)."""
    s3 = client("s3")
    with _s3_errors(bucket):
        for page in pages("s3", operation, Bucket=bucket):
            doomed = keys(page)
            if doomed:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True})


def delete(bucket: str | None = None) -> bool:
    """Empty the bucket (every object version too) and delete it; False when there was none."""
    bucket = bucket or name()
    if not _exists(bucket):
        return False
    _delete_objects(bucket, "list_object_versions", lambda page: [{"Key": v["Key"], "VersionId": v["VersionId"]}
                                                                  for kind in ("Versions", "DeleteMarkers")
                                                                  for v in page.get(kind, [])])
    _delete_objects(bucket, "list_objects_v2", lambda page: [{"Key": o["Key"]} for o in page.get("Contents", [])])
    with _s3_errors(bucket):
        client("s3").delete_bucket(Bucket=bucket)
    return True
