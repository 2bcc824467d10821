"""botocore's errors as sentences a student can act on, for every resource module."""
from __future__ import annotations

import contextlib
from typing import Callable

from botocore.exceptions import ClientError, ConnectionError as BotoConnectionError

from ..config import settings
from ..errors import BadParameter, LabError, ResourceMissing, StackNotRunning

NOT_FOUND = {"ResourceNotFoundException", "NotFound"}
BAD_PARAMETER = {"InvalidArgumentException", "ValidationException", "InvalidParameterValueException",
                 "InvalidParameter"}


@contextlib.contextmanager
def explained(service: str, subject: str, missing: Callable[[], ResourceMissing], keep: tuple[str, ...] = ()):
    """Turn a failed `service` call on `subject` into LabError subclasses: a missing resource (with the step
    that creates it), a refused parameter, a stopped local stack. Error codes in `keep` pass through as
    ClientError for the caller to handle."""
    try:
        yield
    except ClientError as error:
        code, message = error.response["Error"]["Code"], error.response["Error"].get("Message", "")
        if code in keep:
            raise
        if code in NOT_FOUND:
            raise missing() from error
        if code in BAD_PARAMETER:
            raise BadParameter(f"{service} refused the request for {subject}: {message}") from error
        raise LabError(f"{service} call on {subject} failed ({code}): {message}") from error
    except BotoConnectionError as error:
        s = settings()
        if s.is_local:
            raise StackNotRunning(f"nothing answers on {s.endpoint_url}") from error
        raise LabError(f"cannot reach {service} in {s.region}: {error}. Check your network and try again.") from error
