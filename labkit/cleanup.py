"""Clean-up (notebook 99): stop the Flink apps with a snapshot, then delete what the course created.

    cleanup.stop_apps()            # Managed Flink > each app > Stop (with a snapshot)
    cleanup.delete("functions")    # Lambda > Functions > Delete (their Kinesis triggers go with them)
    cleanup.leftovers()            # what is still there

Every call is idempotent: what does not exist (a part of the course not done, or deleted before) is skipped.
"""
from __future__ import annotations

from .config import NAMES
from .errors import BadParameter, ResourceMissing
from .resources import apps, functions, streams, tables, topics

# In delete order: what reads from a resource goes before it.
COURSE = {
    "functions": (NAMES.analytics_function, NAMES.delivery_function, NAMES.diy_function),
    "tables": (NAMES.wind_table, NAMES.diy_table),
    "topics": (NAMES.topic,),
    "apps": (NAMES.anomaly_app, NAMES.max_speed_app),
    "streams": (NAMES.wind_stream, NAMES.anomaly_stream, NAMES.max_speed_stream),
}
_DELETE = {"functions": functions.delete, "tables": tables.delete, "topics": topics.delete, "apps": apps.delete,
           "streams": streams.delete}
_DESCRIBE = {"functions": functions.describe, "tables": tables.describe, "topics": topics.arn,
             "apps": apps.describe, "streams": streams.describe}


def stop_apps(snapshot: bool = True) -> dict[str, str]:
    """Stop every running course application (with a snapshot by default); what happened to each."""
    done = {}
    for name in COURSE["apps"]:
        try:
            state = apps.status(name)
        except ResourceMissing:
            done[name] = "not created"
            continue
        if state == "READY":
            done[name] = "not running"
            continue
        apps.stop(name, snapshot=snapshot)
        done[name] = f"stopped with snapshot {apps.snapshots(name)[0]['SnapshotName']}" if snapshot else "stopped"
    return done


def delete(kind: str) -> dict[str, bool]:
    """Delete the course's resources of one kind; for each name, whether there was one to delete."""
    if kind not in COURSE:
        raise BadParameter(f"there are no course resources of kind {kind!r}: use one of {', '.join(COURSE)}.")
    return {name: _DELETE[kind](name) for name in COURSE[kind]}


def leftovers() -> list[str]:
    """The course's resources that still exist, as "kind name"."""
    found = []
    for kind, names in COURSE.items():
        for name in names:
            try:
                _DESCRIBE[kind](name)
            except ResourceMissing:
                continue
            found.append(f"{kind[:-1]} {name}")
    return found
