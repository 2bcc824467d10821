"""The packages a handler can import: what AWS's python3.11 runtime holds, never the course's environment.

On AWS a Python function gets the standard library, boto3 and botocore (with their own dependencies:
s3transfer, jmespath, python-dateutil, urllib3, six) and its zip; a handler that imports pandas fails with
"Runtime.ImportModuleError: Unable to import module 'x': No module named 'pandas'". So the execution
environment (worker.py) runs `python -I -S`: no site-packages, no user site, no PYTHON* variables; its
sys.path is the function's code, then the folder built here, then the standard library.

The folder holds links to the course's own copies of boto3 and the distributions it requires (the closure
of its requirements without extras, found in their metadata), each with its .dist-info, so the handler's
boto3 is the version the course pins and `importlib.metadata` still answers for it. Links cost nothing to
build and nothing per worker; the folder is rebuilt at every start of the runtime so it follows the venv.
"""
from __future__ import annotations

import importlib.metadata as metadata
import os
import re
import shutil
import uuid
from pathlib import Path

ROOTS = ("boto3",)  # what the python3.11 runtime adds to the standard library (botocore comes with boto3)


def _name(requirement: str) -> str:
    return re.split(r"[\s;<>=!~\[(]", requirement.strip(), maxsplit=1)[0]


def distributions(roots=ROOTS) -> list[metadata.Distribution]:
    """`roots` and every distribution they require, extras left out (e.g. botocore[crt])."""
    found: dict[str, metadata.Distribution] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in found:
            continue
        found[key] = dist = metadata.distribution(name)
        pending += [_name(r) for r in dist.requires or [] if "extra" not in r.partition(";")[2]]
    return sorted(found.values(), key=lambda d: d.metadata["Name"].lower())


def _top_level(dist: metadata.Distribution) -> set[str]:
    """The names a distribution installs at the top of site-packages (packages, modules, its .dist-info)."""
    names = set()
    for file in dist.files or []:
        top = Path(file).parts[0]
        if top not in ("..", "__pycache__") and (len(Path(file).parts) > 1 or top.endswith((".py", ".so"))):
            names.add(top)
    return names


def build(folder: Path) -> Path:
    """(Re)build `folder` as the runtime's package folder; returns it."""
    partial = folder.with_name(f"{folder.name}.{uuid.uuid4().hex}.partial")
    partial.mkdir(parents=True)
    for dist in distributions():
        for name in _top_level(dist):
            target = Path(dist.locate_file(name))
            if target.exists():
                os.symlink(target, partial / name)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(partial, folder)
    return folder
