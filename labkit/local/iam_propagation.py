"""IAM propagation on the local endpoint: a new role is refused for a while, with AWS's errors.

On AWS a new IAM role reaches the other services only after some seconds: until then Lambda's CreateFunction
answers InvalidParameterValueException "The role defined for the function cannot be assumed by Lambda." and
Managed Flink's CreateApplication InvalidArgumentException "Kinesis Analytics service doesn't have sufficient
privileges to assume the role ...". moto accepts a role the moment it exists, so the course's retries never
run locally. With LABKIT_IAM_PROPAGATION_S=N in the environment of `labkit up` (read at each call; default 0,
off) the stack refuses a role younger than N seconds in both calls, as AWS does.
"""
from __future__ import annotations

import functools
import json
import os

from moto.awslambda.exceptions import InvalidParameterValueException
from moto.awslambda.responses import LambdaResponse
from moto.core.exceptions import JsonRESTError
from moto.core.utils import utcnow
from moto.iam.models import iam_backends
from moto.kinesisanalyticsv2.responses import KinesisAnalyticsV2Response

from . import replay_clock
from .moto_patches import Patch

SETTING = "LABKIT_IAM_PROPAGATION_S"
LAMBDA_MESSAGE = "The role defined for the function cannot be assumed by Lambda."
FLINK_MESSAGE = "Kinesis Analytics service doesn't have sufficient privileges to assume the role {arn}"


def delay_s() -> float:
    """How long a new role stays unusable (the setting; 0 when unset)."""
    raw = os.environ.get(SETTING, "0")
    try:
        return max(0.0, float(raw))
    except ValueError:
        raise ValueError(f"{SETTING}={raw!r} is not a number of seconds; set it to e.g. 10, or 0 for off.") from None


def propagating(account_id: str, partition: str, role_arn: str) -> bool:
    """Whether the role exists and is younger than the delay (a role that does not exist is moto's to refuse).
    Never while the journal is replayed: a replayed call was accepted when it was made."""
    delay = delay_s()
    if not delay or replay_clock.replaying():
        return False
    for role in iam_backends[account_id][partition].get_roles():
        if role.arn == role_arn:
            return (utcnow() - role.create_date).total_seconds() < delay
    return False


def _refusing(original, role_of, error):
    """`original` (a moto response method), but first `error(arn)` while the request's role propagates."""
    @functools.wraps(original)
    def refusing(self, *args, **kwargs):
        arn = role_of(self)
        if arn and propagating(self.current_account, self.partition, arn):
            raise error(arn)
        return original(self, *args, **kwargs)

    return refusing


def patches() -> list[Patch]:
    proof = "test_a_role_younger_than_the_propagation_delay_is_refused_as_on_aws"
    reason = "moto lets a role be assumed the moment it exists (AWS: seconds later)"
    return [
        Patch(LambdaResponse, "create_function",
              _refusing(LambdaResponse.create_function, lambda self: self.json_body.get("Role"),
                        lambda arn: InvalidParameterValueException(LAMBDA_MESSAGE)), reason, proof),
        Patch(KinesisAnalyticsV2Response, "create_application",
              _refusing(KinesisAnalyticsV2Response.create_application,
                        lambda self: json.loads(self.body or "{}").get("ServiceExecutionRole"),
                        lambda arn: JsonRESTError("InvalidArgumentException", FLINK_MESSAGE.format(arn=arn))),
              reason, proof),
    ]
