"""Every change labkit makes to moto, in one registry: declared as data, tied to the pinned moto, reversible.

A module that needs moto to behave otherwise does not patch it: its `patches()` returns `Patch` entries
(target, attribute, replacement, the defect or missing feature, the test that proves it) and this module
applies them all, once, when the AWS endpoint starts, after checking that the installed moto is the one
they were tested against. `undo()` puts every original back. Each entry's proof, a test in
tests/unit/test_moto_patches.py, fails on moto without that patch and passes with it (a test there checks
that every entry has one).

Patched methods that hand work to a stack component (the Lambda runtime, the local Managed Flink) find it
with `component(name)`; a component `attach`es itself when it starts and `detach`es when it stops, and a
call that needs one that is not running gets an error response that says so, not a crash.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Iterable

import moto
from moto.core.exceptions import JsonRESTError

from ..errors import LabError

PINNED_MOTO = "5.2.5"
CONTRIBUTORS = ("kinesis_fixes", "moto_dispatch", "sns_email", "lambda_runtime.runtime", "managed_flink",
                "replay_clock", "iam_propagation", "dynamodb_fixes")


@dataclass(frozen=True)
class Patch:
    """One attribute of moto replaced: `owner.name = replacement`, because of `reason`, proven by `proof`."""

    owner: object  # a moto class or module
    name: str
    replacement: object
    reason: str  # the defect of stock moto, or the feature it lacks
    proof: str  # the test in tests/unit/test_moto_patches.py that fails without this patch

    @property
    def id(self) -> str:
        """`module.Class.attribute` (or `module.attribute`): how tests name the patches they prove."""
        owner = getattr(self.owner, "__qualname__", None)
        module = self.owner.__module__ if owner else self.owner.__name__
        return ".".join(part for part in (module, owner, self.name) if part)


class WrongMotoVersion(LabError):
    def __init__(self, found: str):
        super().__init__(f"labkit's changes to moto are tested against moto {PINNED_MOTO}, but moto {found} is "
                         "installed; reinstall the project (`make setup`).")


class ComponentNotRunning(JsonRESTError):
    """The error response of a call whose work a stopped (or not yet started) stack component does."""

    def __init__(self, name: str):
        super().__init__("ServiceException", f"The local stack's {name} component is not running; restart the "
                                             "stack (`labkit down`, then `labkit up`).")


_MISSING = object()
_applied: list[tuple[Patch, object]] = []  # (patch, the owner's own value before it, or _MISSING)
_components: dict[str, object] = {}


def patches() -> list[Patch]:
    """Every patch, from every contributing module, against the installed moto (nothing applied)."""
    found = [patch for module in CONTRIBUTORS for patch in import_module(f"{__package__}.{module}").patches()]
    ids = [patch.id for patch in found]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise RuntimeError(f"more than one patch replaces {', '.join(twice)}; merge them into one entry")
    return found


def check_version() -> None:
    """Refuse any moto but the pinned one: the patches replace its internals."""
    if moto.__version__ != PINNED_MOTO:
        raise WrongMotoVersion(moto.__version__)


def apply(leave_out: Iterable[str] = ()) -> None:
    """Patch moto in this process with every entry but those whose id is in `leave_out` (idempotent)."""
    if _applied:
        return
    check_version()
    skipped = set(leave_out)
    for patch in patches():
        if patch.id not in skipped:
            _applied.append((patch, patch.owner.__dict__.get(patch.name, _MISSING)))
            setattr(patch.owner, patch.name, patch.replacement)


def undo() -> None:
    """Put back every original that `apply` replaced."""
    while _applied:
        patch, original = _applied.pop()
        if original is _MISSING:
            delattr(patch.owner, patch.name)
        else:
            setattr(patch.owner, patch.name, original)


def applied() -> list[Patch]:
    """The patches in force in this process."""
    return [patch for patch, _ in _applied]


def attach(name: str, component: object) -> None:
    """`component` does the work that patched moto methods hand to `name` from now on."""
    _components[name] = component


def detach(name: str) -> None:
    _components.pop(name, None)


def component(name: str, required: bool = True):
    """The running component `name`; None when it is not running and not `required`."""
    found = _components.get(name)
    if found is None and required:
        raise ComponentNotRunning(name)
    return found
