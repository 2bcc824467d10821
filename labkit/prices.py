"""What the course's resources cost per hour while they run: AWS's list prices in us-east-1 and the course's
footprint, each figure in one place (no I/O).

docs/AWS.md ("What a running course costs per hour") shows the same arithmetic with its sources; `labkit preflight`
prints it; tests/unit/test_preflight.py checks that the page states these prices and the per-student total the
code computes. AWS changes prices: when one changes, change it here, and the test names the page's line to change.
"""
from __future__ import annotations

from dataclasses import dataclass

PRICES_AS_OF = "December 2026"
PRICES_REGION = "us-east-1"

# Managed Flink: "Per second billing in Managed Service for Apache Flink" (Managed Flink developer guide).
FLINK_KPU_HOUR = 0.11  # $ per KPU-hour
FLINK_ORCHESTRATION_KPU = 1  # one more KPU per application, for orchestration
FLINK_STORAGE_GB_PER_KPU = 50  # running application storage per KPU
FLINK_STORAGE_GB_MONTH = 0.10  # $ per GB-month of running application storage
FLINK_MINIMUM_MINUTES = 10  # each start bills at least this long
HOURS_PER_MONTH = 720  # a 30-day month, as AWS's pricing examples count

# Kinesis Data Streams, provisioned: third-party figures (AWS's page renders its table in the browser).
KINESIS_SHARD_HOUR = 0.015  # $ per shard-hour
KINESIS_PUT_UNITS_MILLION = 0.014  # $ per million PUT payload units

# Lambda: AWS whitepaper "How AWS Pricing Works".
LAMBDA_REQUESTS_MILLION = 0.20  # $ per million requests
LAMBDA_GB_SECOND = 0.00001667  # $ per GB-second

# The course's footprint per student while both apps and the three streams run.
FLINK_APPS = 2  # AnomalyDetection, CalculateMaxSpeed
FLINK_KPU_PER_APP = 1  # Parallelism / ParallelismPerKPU, both 1 (labkit keeps AWS's defaults)
SHARDS = 3  # WindDataStream, AnomalyDetectionStream, MaxWindSpeed: 1 shard each
PUT_RECORDS_PER_S = 10  # 5 records/s into WindDataStream at the live pace, about as many into AnomalyDetectionStream
LAMBDA_REQUESTS_PER_HOUR = 7_200  # two triggered functions, at most about one batch a second each
LAMBDA_MEMORY_GB = 0.125  # 128 MB
LAMBDA_SECONDS_PER_REQUEST = 0.2  # assumed, not measured on AWS
LAMBDA_CONCURRENCY = 3  # one invocation per shard at a time, three triggered shards at most


def usd(price: float) -> str:
    """A price as AWS's pages write it: $0.10, $0.015, $0.00001667."""
    return "$" + (f"{price:.2f}" if round(price, 2) == price else f"{price:.8f}".rstrip("0"))


@dataclass(frozen=True)
class Line:
    """One service's share of the hourly cost, with the arithmetic that gives it."""

    service: str
    dollars: float
    arithmetic: str


def flink_per_hour(apps: int = FLINK_APPS) -> float:
    kpus = apps * (FLINK_KPU_PER_APP + FLINK_ORCHESTRATION_KPU)
    storage = apps * FLINK_KPU_PER_APP * FLINK_STORAGE_GB_PER_KPU * FLINK_STORAGE_GB_MONTH / HOURS_PER_MONTH
    return kpus * FLINK_KPU_HOUR + storage


def shards_per_hour(shards: int = SHARDS) -> float:
    """What the streams cost every hour they exist, running or not."""
    return shards * KINESIS_SHARD_HOUR


def kinesis_per_hour() -> float:
    return shards_per_hour() + PUT_RECORDS_PER_S * 3600 * KINESIS_PUT_UNITS_MILLION / 1e6


def lambda_per_hour() -> float:
    gb_seconds = LAMBDA_REQUESTS_PER_HOUR * LAMBDA_MEMORY_GB * LAMBDA_SECONDS_PER_REQUEST
    return LAMBDA_REQUESTS_PER_HOUR * LAMBDA_REQUESTS_MILLION / 1e6 + gb_seconds * LAMBDA_GB_SECOND


def minimum_run_cost() -> float:
    """What one Run of an app costs at least (billed per second, with a minimum per start)."""
    return FLINK_MINIMUM_MINUTES / 60 * (FLINK_KPU_PER_APP + FLINK_ORCHESTRATION_KPU) * FLINK_KPU_HOUR


def per_student_hour() -> list[Line]:
    """The hourly cost of one student's course while both apps and the three streams run, per service."""
    kpus = FLINK_KPU_PER_APP + FLINK_ORCHESTRATION_KPU
    gb_s = LAMBDA_REQUESTS_PER_HOUR * LAMBDA_MEMORY_GB * LAMBDA_SECONDS_PER_REQUEST
    return [
        Line("Managed Flink", flink_per_hour(),
             f"{FLINK_APPS} apps x {kpus} KPU x {usd(FLINK_KPU_HOUR)}/KPU-h + {FLINK_STORAGE_GB_PER_KPU} GB running "
             f"storage per KPU at {usd(FLINK_STORAGE_GB_MONTH)}/GB-month"),
        Line("Kinesis", kinesis_per_hour(),
             f"{SHARDS} shards x {usd(KINESIS_SHARD_HOUR)}/shard-h + {PUT_RECORDS_PER_S * 3600:,} PUT units x "
             f"{usd(KINESIS_PUT_UNITS_MILLION)}/million"),
        Line("Lambda", lambda_per_hour(),
             f"{LAMBDA_REQUESTS_PER_HOUR:,} requests x {usd(LAMBDA_REQUESTS_MILLION)}/million + {gb_s:g} GB-s x "
             f"{usd(LAMBDA_GB_SECOND)}/GB-s, before the free tier"),
    ]


def total_per_student_hour() -> float:
    return sum(line.dollars for line in per_student_hour())
