"""Errors that tell the student what to do next."""


class LabError(Exception):
    """A problem the student can fix; the message says how."""


class StackNotRunning(LabError):
    def __init__(self, detail: str = ""):
        super().__init__(
            "the local stack is not running. Start it with `labkit up` (or run notebook 00)."
            + (f" ({detail})" if detail else "")
        )


class ResourceMissing(LabError):
    def __init__(self, kind: str, name: str, fix: str):
        super().__init__(f"the {kind} {name!r} does not exist. {fix}")


class BadParameter(LabError, ValueError):
    """A parameter value that cannot work; the message names the allowed values."""


class WaitTimedOut(LabError, TimeoutError):
    """A wait that did not see its condition in time."""
