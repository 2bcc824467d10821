"""moto's Lambda functions and event source mappings as definitions, for the endpoint's snapshots.

moto's Lambda backend does not pickle (weak references), so labkit/local/persistence.py keeps what
defines them instead (code as base64) and creates them again through the backend at start, keeping each
mapping's UUID so that its checkpoints still match.
"""
from __future__ import annotations

import base64
import logging

from moto.awslambda.utils import make_event_source_mapping_arn
from moto.backends import get_backend

log = logging.getLogger(__name__)

MAPPING_FIELDS = {  # CreateEventSourceMapping parameter -> attribute of moto's EventSourceMapping
    "EventSourceArn": "event_source_arn",
    "BatchSize": "batch_size",
    "StartingPosition": "starting_position",
    "StartingPositionTimestamp": "starting_position_timestamp",
    "Enabled": "enabled",
    "BisectBatchOnFunctionError": "bisect_on_error",
    "DestinationConfig": "destination_config",
    "FunctionResponseTypes": "function_response_types",
    "MaximumBatchingWindowInSeconds": "max_batch_window",
    "MaximumRecordAgeInSeconds": "max_record_age",
    "MaximumRetryAttempts": "max_retry_attempts",
    "ParallelizationFactor": "parallelization_factor",
    "TumblingWindowInSeconds": "tumbling_window",
    "FilterCriteria": "filter_criteria",
    "Tags": "tags",
}


def _function(fn) -> dict:
    return {
        "FunctionName": fn.function_name,
        "Runtime": fn.run_time,
        "Role": fn.role,
        "Handler": fn.handler,
        "Description": fn.description,
        "Timeout": fn.timeout,
        "MemorySize": fn.memory_size,
        "Environment": {"Variables": dict(fn.environment_vars)},
        "Tags": dict(fn.tags),
        "Architectures": list(fn.architectures),
        "Code": {"ZipFile": base64.b64encode(fn.code_bytes).decode("ascii")},
    }


def _mapping(esm) -> dict:
    spec = {name: getattr(esm, attribute) for name, attribute in MAPPING_FIELDS.items()
            if getattr(esm, attribute) is not None}
    return {"UUID": esm.uuid, "FunctionName": esm.function_name, **spec}  # as created: ListEventSourceMappings matches it


def dump() -> list[dict]:
    """Every function and event source mapping, per account and region."""
    accounts = []
    for account, regions in list(get_backend("lambda").items()):
        for region, backend in list(regions.items()):
            functions = [_function(fn) for fn in backend.list_functions() if getattr(fn, "code_bytes", None)]
            mappings = [_mapping(esm) for esm in backend.list_event_source_mappings("", "")]
            if functions or mappings:
                accounts.append({"account": account, "region": region, "functions": functions, "mappings": mappings})
    return accounts


def load(accounts: list[dict]) -> int:
    """Create the dumped functions and mappings in this process's moto backends; returns how many."""
    restored = 0
    for entry in accounts:
        backend = get_backend("lambda")[entry["account"]][entry["region"]]
        for spec in entry["functions"]:
            try:
                backend.create_function(dict(spec))
                restored += 1
            except Exception as error:  # e.g. its role was deleted: keep the others
                log.warning("could not restore Lambda function %s: %s", spec["FunctionName"], error)
        for spec in entry["mappings"]:
            spec = dict(spec)
            saved_id = spec.pop("UUID")
            try:
                esm = backend.create_event_source_mapping(spec)
            except Exception as error:  # e.g. its stream or function is gone
                log.warning("could not restore event source mapping %s: %s", saved_id, error)
                continue
            backend.delete_event_source_mapping(esm.uuid)
            esm.uuid = saved_id
            esm.arn = make_event_source_mapping_arn(entry["region"], entry["account"], saved_id)
            backend._event_source_mappings[saved_id] = esm  # moto has no public way to keep a mapping's UUID
            restored += 1
    return restored
