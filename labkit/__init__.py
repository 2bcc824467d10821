"""labkit: the helper package of the Lab 22 wind-farm streaming course.

Notebooks call `labkit.use_target(...)` and `labkit.up()` first, then one labkit call per lab step.
"""
import importlib
import os

from . import check
from .about import versions
from .config import NAMES, TARGETS, settings
from .errors import BadParameter
from .local.control import down, status


def use_target(target: str = "local", region: str | None = None) -> None:
    """Send this kernel's AWS calls to `target` ('local' stack or real 'aws')."""
    if target not in TARGETS:
        raise BadParameter(f"target {target!r} is not one of {', '.join(TARGETS)}.")
    os.environ["LABKIT_TARGET"] = target
    if region:
        os.environ["LABKIT_REGION"] = region


def up(quiet: bool = False) -> dict:
    """Start (or reuse) the local stack; on the aws target there is nothing to start."""
    from .local import control

    if not settings().is_local:
        return {"running": True, "target": "aws", "region": settings().region}
    return control.up(quiet=quiet)


# lab.streams, lab.apps, ... : imported on first use, so `labkit status` stays quick.
_SUBMODULES = {
    "streams": ".resources.streams", "apps": ".resources.apps", "tables": ".resources.tables",
    "functions": ".resources.functions", "topics": ".resources.topics", "simulate": ".simulate",
    "datasets": ".datasets", "inbox": ".inbox", "plots": ".ui.plots",
}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(_SUBMODULES[name], __name__)
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")


__all__ = [*_SUBMODULES, "NAMES", "check", "down", "settings", "status", "up", "use_target", "versions"]
