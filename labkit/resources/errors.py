"""botocore's errors as sentences a student can act on, for every resource module."""
from __future__ import annotations

import contextlib
from typing import Callable

from botocore.exceptions import ClientError, ConnectionError as BotoConnectionError

from ..config import settings
from ..errors import BadParameter, LabError, ResourceMissing, StackNotRunning

NOT_FOUND = {"ResourceNotFoundException", "NotFound", "NoSuchEntity", "NoSuchBucket"}
BAD_PARAMETER = {"InvalidArgumentException", "ValidationException", "InvalidParameterValueException",
                 "InvalidParameter", "InvalidApplicationConfigurationException", "MalformedPolicyDocument",
                 "InvalidBucketName", "InvalidRequest"}
CREDENTIALS = {"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException",
               "InvalidAccessKeyId", "SignatureDoesNotMatch"}
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
QUOTA = {"LimitExceededException", "LimitExceeded", "TooManyBuckets", "ServiceQuotaExceededException"}
BUSY = {"ResourceInUseException", "ConcurrentModificationException", "OperationAbortedException",
        "ResourceConflictException", "DeleteConflict"}
THROTTLED = {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"}


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
        raise LabError(_sentence(code, service, subject, message)) from error
    except BotoConnectionError as error:
        s = settings()
        if s.is_local:
            raise StackNotRunning(f"nothing answers on {s.endpoint_url}") from error
        raise LabError(f"cannot reach {service} in {s.region}: {error}. Check your network and try again.") from error


def _sentence(code: str, service: str, subject: str, message: str) -> str:
    """What a refusal of `code` means for the student, and what to do next."""
    if code in CREDENTIALS:
        return (f"{service} did not accept your AWS credentials ({code}: {message}). Renew them (e.g. `aws sso login`,"
                " or new keys from your instructor) and run the step again.")
    if code in DENIED:
        return (f"your AWS credentials may not do this to {subject} ({code}: {message}). Ask your instructor for "
                "the course's permissions (docs/AWS.md lists them), then run the step again.")
    if code in QUOTA:
        return (f"{service} refused {subject}: a quota of your account is reached ({message}). Delete what you no "
                "longer need (notebook 99, `labkit teardown`) or ask for a higher quota, then run the step again.")
    if code in BUSY:
        return (f"{service} cannot change {subject} right now ({code}: {message}). Wait until it is no longer "
                "busy (a minute is usually enough), then run the step again.")
    if code in THROTTLED:
        return f"{service} is throttling requests for {subject} ({message}). Wait a minute and run the step again."
    return f"{service} call on {subject} failed ({code}): {message}"
