"""What the deployed DIY resources run: a file of an application's code zip, a function's code hash."""
from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

from ..clients import client
from ..resources import apps, functions


class _S3Object(io.RawIOBase):
    """A seekable, read-only view of an S3 object that fetches only the bytes read: a zip's index and one file,
    not the whole 60 MB application zip."""

    def __init__(self, bucket: str, key: str):
        self.bucket, self.key, self.position = bucket, key, 0
        self.size = client("s3").head_object(Bucket=bucket, Key=key)["ContentLength"]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.position = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence] + offset
        return self.position

    def readinto(self, buffer) -> int:
        end = min(self.position + len(buffer), self.size)
        if end <= self.position:
            return 0
        body = client("s3").get_object(Bucket=self.bucket, Key=self.key,
                                       Range=f"bytes={self.position}-{end - 1}")["Body"].read()
        buffer[:len(body)] = body
        self.position += len(body)
        return len(body)


def app_file(app: str, filename: str) -> bytes | None:
    """`filename` as it is in the application's code zip in S3; None when the zip has no such file."""
    code = apps.describe(app)["ApplicationConfigurationDescription"]["ApplicationCodeConfigurationDescription"]
    location = code["CodeContentDescription"]["S3ApplicationCodeLocationDescription"]
    bucket = location["BucketARN"].split(":::", 1)[1]
    with zipfile.ZipFile(io.BufferedReader(_S3Object(bucket, location["FileKey"]), 1 << 16)) as archive:
        return archive.read(filename) if filename in archive.namelist() else None


def function_runs(function: str, handler_file: str, modules: Sequence[Path]) -> bool:
    """The function's code is `handler_file` zipped with `modules`, as they are now."""
    code = functions.package(handler_file, modules)
    return functions.describe(function)["code_sha256"] == base64.b64encode(hashlib.sha256(code).digest()).decode()
