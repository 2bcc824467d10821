"""The local Managed Service for Apache Flink, laid out as moto lays out a service.

moto stores Kinesis Analytics v2 applications (create, describe, list, tags) but cannot run them. This
package adds UpdateApplication, StartApplication, StopApplication, ListApplicationSnapshots and
DeleteApplication to the local endpoint and runs the applications on the local Flink session cluster, so
labkit calls the same kinesisanalyticsv2 API on both targets. models.py holds the state changes (backend
methods), responses.py the API operations (response methods), both installed into moto by the patch registry
(`patches()` below); component.py is the stack component that runs the jobs.

- the application's code is its zip in S3 (main.py + lib/ connector jar), unpacked into the state folder;
- its runtime properties are the application's property groups, plus the Kinesis connector's group
  `kinesis.client`: the local endpoint and its protocol, each key unless the application sets it. How often
  the job polls its shards is the application's own group `kinesis.consumer`, sent on both targets;
- a snapshot is a Flink savepoint. StopApplication takes one (when snapshots are enabled),
  StartApplication restores the latest one by default (RESTORE_FROM_LATEST_SNAPSHOT), as Managed Flink does.
  CreateApplicationSnapshot (a snapshot of a running application) is not offered locally;
- when the stack stops, running applications stop with a snapshot and start again from it at the next
  `labkit up`, so nothing is read twice or missed;
- UpdateApplication on a RUNNING application restarts its job with the new code and properties, from a
  snapshot taken on the way (UPDATING, then RUNNING), as Managed Flink does;
- a TaskManager that dies (killed, crashed) is replaced, as Managed Flink does; Flink then restores the
  jobs from their latest checkpoints.
"""
from __future__ import annotations

from moto.kinesisanalyticsv2.models import KinesisAnalyticsV2Backend
from moto.kinesisanalyticsv2.responses import KinesisAnalyticsV2Response

from ..moto_patches import Patch
from . import models, responses
from .component import LocalManagedFlink

__all__ = ["LocalManagedFlink", "patches"]
RUN_AND_STOP = "test_an_application_stops_with_a_snapshot_and_runs_from_it"
MISSING = {  # operation moto lacks -> the test that proves it
    "update_application": "test_updating_a_running_application_restarts_its_job_from_a_snapshot",
    "start_application": RUN_AND_STOP,
    "stop_application": RUN_AND_STOP,
    "list_application_snapshots": RUN_AND_STOP,
    "delete_application": "test_a_stopped_application_can_be_deleted",
}


def patches() -> list[Patch]:
    """The operations moto lacks (backend and response methods), and its create and describe fixed."""
    backend, response = KinesisAnalyticsV2Backend, KinesisAnalyticsV2Response
    return [
        *(Patch(owner, operation, getattr(module, operation), "moto does not implement it (HTTP 500)", test)
          for operation, test in MISSING.items() for owner, module in ((backend, models), (response, responses))),
        Patch(backend, "create_application", models.ready_when_created(backend.create_application),
              "moto leaves a new application STARTING for ever (AWS: READY)",
              "test_a_new_application_is_ready"),
        Patch(backend, "describe_application", models.refreshed_when_described(backend.describe_application),
              "moto cannot know that an application's job ended",
              "test_an_application_whose_job_ended_is_ready"),
    ]
