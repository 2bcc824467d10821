"""The kinesisanalyticsv2 API operations moto lacks, as methods of its response class: parse, call the
backend method (models.py), answer as AWS does."""
from __future__ import annotations

import json


def _params(response) -> dict:
    return json.loads(response.body or "{}")


def update_application(self) -> str:
    p = _params(self)
    detail = self.kinesisanalyticsv2_backend.update_application(
        p["ApplicationName"], p["CurrentApplicationVersionId"], p.get("ApplicationConfigurationUpdate") or {})
    return json.dumps({"ApplicationDetail": detail})


def start_application(self) -> str:
    p = _params(self)
    self.kinesisanalyticsv2_backend.start_application(p["ApplicationName"], p.get("RunConfiguration") or {})
    return json.dumps({})


def stop_application(self) -> str:
    p = _params(self)
    self.kinesisanalyticsv2_backend.stop_application(p["ApplicationName"], bool(p.get("Force")))
    return json.dumps({})


def list_application_snapshots(self) -> str:
    snapshots = self.kinesisanalyticsv2_backend.list_application_snapshots(_params(self)["ApplicationName"])
    return json.dumps({"SnapshotSummaries": snapshots})


def delete_application(self) -> str:
    self.kinesisanalyticsv2_backend.delete_application(_params(self)["ApplicationName"])
    return json.dumps({})
