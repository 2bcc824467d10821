"""The S3 bucket that holds the Flink applications' code."""
from __future__ import annotations

from pathlib import Path

from ..clients import client
from ..config import NAMES, settings
from . import tags


def ensure(name: str = NAMES.bucket) -> str:
    """Create the bucket if it is missing (idempotent), tagged; return its ARN."""
    s3 = client("s3")
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if name not in existing:
        extra = {} if settings().region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": settings().region}}
        s3.create_bucket(Bucket=name, **extra)
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags.as_list()})
    return f"arn:aws:s3:::{name}"


def upload(path: Path, key: str, name: str = NAMES.bucket) -> str:
    """Upload a file (creating the bucket if needed); return the bucket ARN."""
    arn = ensure(name)
    client("s3").upload_file(str(path), name, key)
    return arn
