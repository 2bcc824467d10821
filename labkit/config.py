"""Names, target, endpoints and the values a student sees of the lab, each in one place (no I/O)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDAS_DIR = REPO_ROOT / "lambdas"
FLINK_DIR = REPO_ROOT / "flink"
DATA_DIR = REPO_ROOT / "data"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"

TARGETS = ("local", "aws")
LOCAL_HOST = "127.0.0.1"
LOCAL_ACCOUNT_ID = "123456789012"  # moto's default account

# The values a student sees. The Lambda handlers and Flink jobs cannot import labkit (their zips hold only their
# own files): labkit passes these in through the function's environment and the application's runtime
# properties, and each handler or job keeps the same value as its default (tests/unit/test_constants.py).
ALERT_THRESHOLD = 2.0  # an anomaly_score at least this high is an anomaly: plotted, checked, mailed
ALERT_SUBJECT = "Abnormal Wind Turbine Speed Detected"  # the subject of every anomaly e-mail
CONFIRMATION_SUBJECT = "AWS Notification - Subscription Confirmation"  # SNS's mail to a new e-mail subscriber
DIY_WINDOW_S = 10  # notebook 06: CalculateMaxSpeed's window length, short so results arrive while you watch
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def iso_time(epoch_ms: int) -> str:
    """A time as the lab writes every time: UTC, ISO-8601 with milliseconds, e.g. 2024-06-03T09:00:00.000Z."""
    moment = _EPOCH + timedelta(milliseconds=int(epoch_ms))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class LabNames:
    """Every resource name of the seed lab."""

    wind_stream: str = "WindDataStream"
    anomaly_stream: str = "AnomalyDetectionStream"
    max_speed_stream: str = "MaxWindSpeed"
    anomaly_app: str = "AnomalyDetection"
    max_speed_app: str = "CalculateMaxSpeed"
    analytics_function: str = "AnalyticsDestinationFunction"
    delivery_function: str = "AnomalyMessageDeliveryFunction"
    diy_function: str = "DIYFunction"
    wind_table: str = "WindDataTable"
    diy_table: str = "DIYTable"
    topic: str = "AnomalyNotification"
    bucket: str = "lab22-wind-farm-apps"
    role: str = "Lab22WindFarmRole"
    tag_key: str = "course"
    tag_value: str = "lab22-wind-farm"


NAMES = LabNames()


@dataclass(frozen=True)
class Settings:
    """Where the lab's AWS calls go and where the local stack keeps its state."""

    target: str
    region: str
    state_dir: Path
    aws_port: int
    service_port: int
    flink_port: int

    @property
    def is_local(self) -> bool:
        return self.target == "local"

    @property
    def endpoint_url(self) -> str | None:
        """The AWS API URL: the local endpoint, or None for real AWS."""
        return f"http://{LOCAL_HOST}:{self.aws_port}" if self.is_local else None

    @property
    def service_url(self) -> str:
        """The stack's own API: simulator, inbox, Flink runner, health."""
        return f"http://{LOCAL_HOST}:{self.service_port}"

    @property
    def flink_url(self) -> str:
        return f"http://{LOCAL_HOST}:{self.flink_port}"


def _port(env: str, default: int) -> int:
    raw = os.environ.get(env, str(default))
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"{env}={raw!r} is not a port number; set it to an integer between 1 and 65535.")
    return int(raw)


def settings() -> Settings:
    """Read the settings from the environment (LABKIT_*), with the lab's defaults."""
    target = os.environ.get("LABKIT_TARGET", "local").strip().lower()
    if target not in TARGETS:
        raise ValueError(f"LABKIT_TARGET={target!r} is not a target; use one of {', '.join(TARGETS)}.")
    state_default = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "labkit"
    return Settings(
        target=target,
        region=os.environ.get("LABKIT_REGION", "us-east-1"),
        state_dir=Path(os.environ.get("LABKIT_STATE_DIR", state_default)).expanduser(),
        aws_port=_port("LABKIT_AWS_PORT", 4566),
        service_port=_port("LABKIT_SERVICE_PORT", 4567),
        flink_port=_port("LABKIT_FLINK_PORT", 8081),
    )
