"""The S3 bucket that holds the Flink applications' code.

Bucket names are global across every AWS account, so the lab's is NAMES.bucket followed by the account and
region: each student's account gets its own.
"""
from __future__ import annotations

from pathlib import Path

from ..clients import account_id, client
from ..config import NAMES, settings
from . import tags


def name() -> str:
    """The lab's bucket in this account and region."""
    return f"{NAMES.bucket}-{account_id()}-{settings().region}"


def ensure() -> str:
    """Create the bucket if it is missing (idempotent), tagged; return its ARN."""
    bucket = name()
    s3 = client("s3")
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        extra = {} if settings().region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": settings().region}}
        s3.create_bucket(Bucket=bucket, **extra)
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags.as_list()})
    return f"arn:aws:s3:::{bucket}"


def upload(path: Path, key: str) -> str:
    """Upload a file (creating the bucket if needed); return the bucket ARN."""
    arn = ensure()
    client("s3").upload_file(str(path), name(), key)
    return arn
