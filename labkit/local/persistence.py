"""Snapshots of the local AWS endpoint's state: what the journal is replayed on top of (durable_endpoint.py).

moto keeps everything in memory and has no snapshot feature. Its backends for the services the lab
uses pickle cleanly once the Kinesis fixes drop their locks. Lambda's backend does not (weak
references); its functions and mappings are kept as definitions (lambda_runtime/definitions.py).

The file starts with one header line, `labkit-aws-state <format> moto <version>`, because a pickle of moto's
internals only loads into the moto that wrote it; then the pickle, which names the journal generation that
follows the snapshot. It is written to a partial file, fsynced, then renamed over the old one. A file that
cannot be read (no header, another format or moto, a broken pickle) is moved aside and the stack starts
empty; `notice()` keeps the sentence that says so for the stack's status.
"""
from __future__ import annotations

import logging
import os
import pickle
import time
from pathlib import Path

import moto
from moto.backends import get_backend

from .journal import fsync_folder
from .lambda_runtime import definitions

PICKLED_SERVICES = ("iam", "s3", "kinesis", "dynamodb", "sns", "logs", "kinesisanalyticsv2")
FORMAT = "labkit-aws-state"
FORMAT_VERSION = 2  # 2: the journal generation and the Lambda definitions are in the snapshot
_BACKEND_DICT_FIELDS = {"backend", "service_name", "_use_boto3_regions", "_additional_regions", "_id"}
log = logging.getLogger(__name__)


class UnreadableState(Exception):
    """The saved state cannot be loaded into this stack; the message says why."""


def _snapshot_file(state_dir: Path) -> Path:
    return state_dir / "aws-state.pickle"


def _notice_file(state_dir: Path) -> Path:
    return state_dir / "aws-state.notice"


def _header() -> bytes:
    return f"{FORMAT} {FORMAT_VERSION} moto {moto.__version__}\n".encode()


def _extras(backends) -> dict:
    """Attributes a service keeps beside its backends (S3: which account owns each bucket name)."""
    return {key: value for key, value in vars(backends).items() if key not in _BACKEND_DICT_FIELDS}


def encode(generation: int) -> bytes:
    """The state of every lab service now, as a snapshot that the journal's `generation` follows."""
    services = {service: (dict(get_backend(service)), _extras(get_backend(service))) for service in PICKLED_SERVICES}
    state = {"generation": generation, "services": services, "lambda": definitions.dump()}
    return _header() + pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)


def write(state_dir: Path, data: bytes) -> Path:
    """Put a snapshot in the state folder: partial file, fsync, atomic rename, fsync of the folder."""
    target = _snapshot_file(state_dir)
    partial = target.with_suffix(".partial")
    with open(partial, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, target)
    fsync_folder(state_dir)
    return target


def restore(state_dir: Path) -> int:
    """Load the snapshot into this process's moto backends, emptied first; the journal generation that follows it
    (0 when there is none or it is unreadable: then it is moved aside, and `notice()` says so)."""
    source = _snapshot_file(state_dir)
    _notice_file(state_dir).unlink(missing_ok=True)
    for service in (*PICKLED_SERVICES, "lambda"):  # the process holds what the folder holds, nothing from before
        get_backend(service).reset()
    if not source.exists():
        return 0
    try:
        state = _load(source)
    except UnreadableState as error:
        _set_aside(source, str(error))
        return 0
    for service, (accounts, extras) in state["services"].items():
        backends = get_backend(service)
        backends.clear()
        backends.update(accounts)
        vars(backends).update(extras)
        for account in accounts:  # indexing marks the service as in use: moto's tag search only looks at those
            backends[account]
    definitions.load(state["lambda"])
    log.info("restored %s and Lambda from %s", ", ".join(state["services"]), source)
    return state["generation"]


def describe() -> str:
    """What the endpoint holds, in words: streams and records, tables and items, functions, topics, apps."""
    kinesis = [s for b in _regional("kinesis") for s in b.streams.values()]
    tables = [t for b in _regional("dynamodb") for t in b.tables.values()]
    lam = _regional("lambda")
    counts = [
        (len(kinesis), "stream"), (sum(len(_records(s)) for s in kinesis), "record"),
        (len(tables), "table"), (sum(len(t) for t in tables), "item"),
        (sum(len(b.list_functions()) for b in lam), "function"),
        (sum(len(b.list_event_source_mappings("", "")) for b in lam), "trigger"),
        (sum(len(b.subscriptions) for b in _regional("sns")), "subscription"),
        (sum(len(b.applications) for b in _regional("kinesisanalyticsv2")), "Flink application"),
    ]
    return ", ".join(f"{n:,} {word}{'' if n == 1 else 's'}" for n, word in counts)


def _regional(service: str) -> list:
    return [backend for regions in list(get_backend(service).values()) for backend in list(regions.values())]


def _records(stream) -> list:
    return [record for shard in stream.shards.values() for record in shard.records.values()]


def notice(state_dir: Path) -> str | None:
    """The sentence saying the saved state was unreadable at this start, or None."""
    try:
        return _notice_file(state_dir).read_text().strip() or None
    except FileNotFoundError:
        return None


def _load(source: Path) -> dict:
    with open(source, "rb") as handle:
        header = handle.readline(200)
        if header != _header():
            raise UnreadableState(_header_problem(header))
        try:
            state = pickle.load(handle)
        except Exception as error:  # a broken pickle raises nearly anything
            raise UnreadableState(f"{type(error).__name__}: {error}") from error
    if not isinstance(state, dict) or not set(state.get("services", ())) <= set(PICKLED_SERVICES):
        raise UnreadableState("it does not hold the lab's services")
    return state


def _header_problem(header: bytes) -> str:
    words = header.decode(errors="replace").split()
    if len(words) != 4 or words[0] != FORMAT:
        return "it is not a labkit state file"
    if words[1] != str(FORMAT_VERSION):
        return f"it is in format {words[1]}, this labkit reads format {FORMAT_VERSION}"
    return f"it was saved by moto {words[3]}, this stack runs moto {moto.__version__}"


def _set_aside(source: Path, why: str) -> Path:
    """Move an unreadable state file out of the way, and say so in the log and in `notice()`."""
    moved = source.with_name(f"{source.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
    os.replace(source, moved)
    sentence = f"the saved state could not be read ({why}); it was moved to {moved}; the stack started empty."
    log.warning(sentence)
    _notice_file(source.parent).write_text(sentence + "\n")
    return moved
