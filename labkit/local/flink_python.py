"""The Python a Flink application runs with: what Managed Flink's Python runtime holds, never the course's environment.

On Managed Service for Apache Flink a Python application gets the runtime's Python 3.11 with apache-flink and its
own dependencies, plus its zip; all other code must be in the zip (run options python / jarfile / pyFiles /
pyArchives), since pip and pyRequirements are not supported. So an app whose zip lacks a package the course's
.venv happens to hold (krcf) cannot start on AWS. The local runner gives each job's client (main.py) and Python
workers this interpreter instead of the .venv's, so the same app fails here first, with the same
ModuleNotFoundError.

The interpreter is a virtual environment made with the standard library's `venv` (no pip, no system site
packages, hence no user site either) whose site-packages holds links to the .venv's own copies of apache-flink and
the distributions it requires (the closure of its requirements whose markers apply, extras left out: numpy,
pandas, pyarrow, apache-beam, ...), each with its .dist-info so `importlib.metadata` still answers for them. It
sees the standard library, those, and what Flink puts on PYTHONPATH for the job (the app's folder and pyFiles),
nothing else: not krcf, not labkit. Links cost nothing; `ensure` builds it once and rebuilds it only when the
closure it would link changes (a manifest records it), so it follows the .venv.
"""
from __future__ import annotations

import importlib.metadata as metadata
import json
import os
import re
import shutil
import sys
import uuid
import venv
from pathlib import Path

from packaging.requirements import Requirement

ROOTS = ("apache-flink",)  # what Managed Flink's Python runtime adds to the standard library
MANIFEST = "labkit-managed-flink.json"


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions(roots=ROOTS) -> list[metadata.Distribution]:
    """`roots` and every installed distribution they require (markers evaluated for this Python, extras left out)."""
    found: dict[str, metadata.Distribution] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if _key(name) in found:
            continue
        try:
            found[_key(name)] = dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # not installed in the .venv either: nothing to link
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return sorted(found.values(), key=lambda d: _key(d.metadata["Name"]))


def _entries(dist: metadata.Distribution) -> set[tuple[str, ...]]:
    """What a distribution installs in site-packages, as the paths to link: a package or module at the top, or,
    inside a folder that is not a package of its own (a namespace such as google/), each entry it installs there."""
    files = [Path(file).parts for file in dist.files or []]
    regular = {parts[0] for parts in files if len(parts) == 2 and parts[1] == "__init__.py"}
    entries = set()
    for parts in files:
        top = parts[0]
        if top in ("..", "__pycache__") or (len(parts) == 1 and not top.endswith((".py", ".so"))):
            continue  # scripts outside site-packages, .pth files (nothing of the runtime's needs one)
        if len(parts) > 2 and top not in regular and not top.endswith((".dist-info", ".libs", ".data")) \
                and parts[1] != "__pycache__":
            entries.add(parts[:2])
        else:
            entries.add((top,))
    return entries


def _closure_manifest() -> dict:
    return {"python": sys._base_executable, "version": sys.version.split()[0],
            "distributions": {dist.metadata["Name"]: [dist.version, str(dist.locate_file(""))]
                              for dist in distributions()}}


def interpreter(folder: Path) -> Path:
    return Path(folder) / "bin" / "python"


def site_packages(folder: Path) -> Path:
    return Path(folder) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def ensure(folder: Path) -> Path:
    """The interpreter of the Managed-Flink-like environment in `folder`, built (or rebuilt, when the .venv's
    apache-flink closure changed) first; returns the path of its `bin/python`."""
    folder = Path(folder)
    wanted = _closure_manifest()
    try:
        if json.loads((folder / MANIFEST).read_text()) == wanted and interpreter(folder).exists():
            return interpreter(folder)
    except (FileNotFoundError, ValueError):
        pass
    partial = folder.with_name(f"{folder.name}.{uuid.uuid4().hex}.partial")
    try:
        venv.EnvBuilder(system_site_packages=False, symlinks=True, with_pip=False).create(partial)
        target = site_packages(partial)
        for dist in distributions():
            for entry in _entries(dist):
                source = Path(dist.locate_file(Path(*entry)))
                if source.exists() and not (target / Path(*entry)).exists():
                    (target / Path(*entry)).parent.mkdir(parents=True, exist_ok=True)
                    os.symlink(source, target / Path(*entry))
        # pyvenv.cfg and the scripts name the folder they were made in: make them in place of the partial one
        for script in (partial / "bin").iterdir():
            if script.is_file() and not script.is_symlink() and script.name.startswith("activate"):
                script.unlink()
        (partial / MANIFEST).write_text(json.dumps(wanted, indent=1, sort_keys=True))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(partial, folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return interpreter(folder)


def clean_environment(environment: dict[str, str]) -> dict[str, str]:
    """`environment` without what would let the course's packages in: PYTHON* variables (PYTHONPATH, PYTHONHOME,
    PYTHONUSERBASE, ...) and the .venv's activation (VIRTUAL_ENV). Flink sets its own PYTHONPATH for the job."""
    return {key: value for key, value in environment.items()
            if not key.startswith("PYTHON") and key != "VIRTUAL_ENV"}
