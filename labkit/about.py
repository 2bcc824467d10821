"""What this course runs on: target and the versions of its parts."""
from __future__ import annotations

import platform
import shutil
import subprocess
from importlib import metadata

from .config import settings

PACKAGES = ("boto3", "moto", "apache-flink", "krcf", "pandas", "matplotlib", "ipywidgets", "papermill")


def _java_version() -> str:
    if not shutil.which("java"):
        return "not found — install Java 17 (Flink needs it)"
    out = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    return out.splitlines()[0] if out else "unknown"


def versions() -> dict[str, str]:
    """Target, region, Python, Java and the lab's main packages."""
    s = settings()
    report = {"target": s.target, "region": s.region, "python": platform.python_version(), "java": _java_version()}
    for package in PACKAGES:
        try:
            report[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            report[package] = "not installed — run `make setup`"
    return report
