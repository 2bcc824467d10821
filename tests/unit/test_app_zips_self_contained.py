"""Each Flink app's zip holds everything it imports beyond what Managed Flink's Python runtime holds (issue #14,
Done 1): unpacked alone, its main.py and every module the zip's code imports load in the Managed-Flink-like
interpreter (labkit/local/flink_python.py: the standard library, apache-flink and its own dependencies), with
the zip's folder and its pyFiles on the path as Flink puts them, and no course environment (no .venv, no labkit,
no PYTHON* variables)."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from labkit.config import NAMES
from labkit.local import flink_python
from labkit.local.flink_cluster import RUN_OPTIONS
from labkit.resources import apps

APPS = (NAMES.anomaly_app, NAMES.max_speed_app)
IMPORT_TIMEOUT_S = 120
# Loads main.py as a module (its main() does not run: that needs a cluster), then each module the zip's code
# imports; prints {module: error} for the ones that fail.
PROBE = """
import importlib, json, sys
failed = {}
for name in ["main", *sys.argv[1:]]:
    try:
        importlib.import_module(name)
    except Exception as error:
        failed[name] = f"{type(error).__name__}: {error}"
print(json.dumps({"failed": failed, "path": sys.path}))
"""


@pytest.fixture(scope="module")
def runtime(tmp_path_factory) -> Path:
    return flink_python.ensure(tmp_path_factory.mktemp("managed-flink") / "python")


def unpacked(name: str, folder: Path) -> Path:
    with zipfile.ZipFile(apps.package(name)) as archive:
        archive.extractall(folder)
    return folder


def run_options(name: str) -> dict[str, str]:
    return apps.default_properties(name)[RUN_OPTIONS]


def imported_modules(app_dir: Path) -> set[str]:
    """The top-level modules the zip's own Python files import (absolute imports), its own modules included."""
    modules = set()
    for path in app_dir.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module != "__future__":
                modules.add(node.module.split(".")[0])
    return modules


def import_in_managed_flink(runtime: Path, app_dir: Path, modules, py_files: str = "") -> dict:
    """Import main.py and `modules` in the Managed-Flink-like interpreter, from `app_dir` with the run option
    pyFiles on PYTHONPATH (Flink's way), in an environment with nothing of the course's."""
    environment = flink_python.clean_environment(os.environ)
    environment.pop("PATH", None)
    paths = [str(app_dir / item.strip()) for item in py_files.split(",") if item.strip()]
    if paths:
        environment["PYTHONPATH"] = os.pathsep.join(paths)
    result = subprocess.run([str(runtime), "-c", PROBE, *sorted(modules)], cwd=app_dir, env=environment,
                            capture_output=True, text=True, timeout=IMPORT_TIMEOUT_S)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("name", APPS)
def test_each_zip_alone_imports_every_module_its_code_uses(name, runtime, tmp_path):
    app_dir = unpacked(name, tmp_path)
    options = run_options(name)
    assert (app_dir / options["python"]).is_file()
    assert (app_dir / options["jarfile"]).is_file()
    modules = imported_modules(app_dir)
    assert {"pyflink", "kinesis_job"} <= modules
    result = import_in_managed_flink(runtime, app_dir, modules, options.get("pyFiles", ""))
    assert result["failed"] == {}
    assert not any(".venv" in entry or "labkit" in entry for entry in result["path"]), result["path"]


def test_anomaly_detection_carries_krcf_built_for_managed_flinks_python(tmp_path):
    """krcf is native: its build must be Linux x86_64 and load in CPython 3.11 (Managed Flink 1.20's Python)."""
    app_dir = unpacked(NAMES.anomaly_app, tmp_path)
    py_files = run_options(NAMES.anomaly_app)["pyFiles"]
    assert py_files == "dep/"
    assert "krcf" in imported_modules(app_dir)
    (wheel,) = (app_dir / py_files).glob("krcf-*.dist-info/WHEEL")
    tags = [line.split(":", 1)[1].strip() for line in wheel.read_text().splitlines() if line.startswith("Tag:")]
    assert tags and all(tag.endswith("_x86_64") and "linux" in tag for tag in tags), tags
    assert all(tag.startswith(("cp311-cp311-", "cp310-abi3-", "cp39-abi3-", "cp38-abi3-")) for tag in tags), tags
    assert list((app_dir / py_files / "krcf").glob("*.so")), "the native module is in the zip"


def test_the_interpreter_holds_apache_flink_but_not_the_courses_packages(runtime, tmp_path):
    """Without the zip's dep/, detector.py fails as it would on Managed Flink; the course's packages are absent."""
    app_dir = unpacked(NAMES.anomaly_app, tmp_path)
    result = import_in_managed_flink(runtime, app_dir, {"pyflink", "pandas", "numpy", "krcf", "labkit", "boto3"})
    assert set(result["failed"]) == {"main", "krcf", "labkit", "boto3"}
    assert result["failed"]["main"] == "ModuleNotFoundError: No module named 'krcf'"


def test_the_interpreter_is_built_once_and_links_the_venvs_packages(runtime):
    site = flink_python.site_packages(runtime.parent.parent)
    assert (site / "pyflink").is_symlink() and (site / "pyflink").resolve().is_relative_to(Path(sys.prefix).resolve())
    assert not (site / "krcf").exists()
    before = (runtime.parent.parent / flink_python.MANIFEST).stat().st_mtime_ns
    assert flink_python.ensure(runtime.parent.parent) == runtime
    assert (runtime.parent.parent / flink_python.MANIFEST).stat().st_mtime_ns == before, "not rebuilt when current"
