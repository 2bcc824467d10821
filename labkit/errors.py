"""Errors that tell the student what to do next."""


class LabError(Exception):
    """A problem the student can fix; the message says how."""

    def __reduce__(self):  # picklable (the simulator's process sends them) whatever a subclass's __init__ takes
        return _restored, (type(self), str(self))


def _restored(kind: type[LabError], message: str) -> LabError:
    error = Exception.__new__(kind)
    Exception.__init__(error, message)
    return error


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


def check_whole_number(name: str, value, low: int, high: int, note: str = "") -> None:
    """BadParameter unless `value` is a whole number from `low` to `high`; `note` ends the message."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadParameter(f"{name}={value!r} cannot work: give a whole number from {low} to {high}{note}.")


class WaitTimedOut(LabError, TimeoutError):
    """A wait that did not see its condition in time."""
