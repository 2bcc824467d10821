"""Save and restore the local AWS endpoint's state, so `labkit down` / `labkit up` loses nothing.

moto keeps everything in memory and has no snapshot feature. Its backends for the services the lab
uses pickle cleanly once the Kinesis fixes drop their locks. Lambda's backend does not (weak
references); the Lambda runtime saves its functions and mappings as definitions (see lambda_runtime).
"""
from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path

from moto.backends import get_backend

PICKLED_SERVICES = ("iam", "s3", "kinesis", "dynamodb", "sns", "logs", "kinesisanalyticsv2")
_BACKEND_DICT_FIELDS = {"backend", "service_name", "_use_boto3_regions", "_additional_regions", "_id"}
log = logging.getLogger(__name__)


def _snapshot_file(state_dir: Path) -> Path:
    return state_dir / "aws-state.pickle"


def _extras(backends) -> dict:
    """Attributes a service keeps beside its backends (S3: which account owns each bucket name)."""
    return {key: value for key, value in vars(backends).items() if key not in _BACKEND_DICT_FIELDS}


def save(state_dir: Path) -> Path:
    """Write every lab service's state to the state folder (atomically)."""
    state = {service: (dict(get_backend(service)), _extras(get_backend(service))) for service in PICKLED_SERVICES}
    target = _snapshot_file(state_dir)
    partial = target.with_suffix(".partial")
    with open(partial, "wb") as handle:
        pickle.dump(state, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(partial, target)
    return target


def restore(state_dir: Path) -> bool:
    """Load the saved state into this process's moto backends; False when there is none."""
    source = _snapshot_file(state_dir)
    if not source.exists():
        return False
    with open(source, "rb") as handle:
        state = pickle.load(handle)
    for service, (accounts, extras) in state.items():
        backends = get_backend(service)
        backends.clear()
        backends.update(accounts)
        vars(backends).update(extras)
    log.info("restored %s from %s", ", ".join(state), source)
    return True
