"""`labkit preflight` (the real command, in a subprocess) against an independent stock moto server as the aws target:
the report has a line per check and the cost per hour, and exits 0; with no credentials, no AWS reachable or a
service the region does not answer for, it says so in a sentence and exits non-zero. What stock moto cannot answer
(IAM's policy simulator, Lambda's account settings) is reported as not checked; tests/unit/test_preflight.py stubs
both."""
from __future__ import annotations

import os
import subprocess
import sys

from labkit import preflight, prices
from labkit.config import NAMES
from labkit.resources import streams, tables

from ..conftest import free_port
from .test_aws_target_on_stock_moto import aws_on_stock_moto  # noqa: F401  (the fixture)

CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
               "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")


def labkit_preflight(**env: str) -> subprocess.CompletedProcess:
    """`labkit preflight` with this process's environment (the fixture's target and endpoint) and `env` on top."""
    return subprocess.run([sys.executable, "-m", "labkit", "preflight"], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=180)


def lines_of(report: str) -> dict[str, str]:
    """The report's check lines by check name: {"credentials": "OK    credentials: account ...", ...}."""
    found = {}
    for line in report.splitlines():
        status, _, rest = line.partition(" ")
        if status in (preflight.OK, preflight.WARN, preflight.FAIL) and ": " in rest:
            found[rest.strip().split(": ", 1)[0]] = line
    return found


def test_preflight_on_stock_moto_passes_with_a_line_per_check_and_the_cost_per_hour(aws_on_stock_moto):
    result = labkit_preflight()
    assert result.returncode == 0, result.stdout + result.stderr
    lines = lines_of(result.stdout)
    assert lines["credentials"] == ("OK    credentials: account 123456789012, region us-east-1, "
                                    "as arn:aws:sts::123456789012:user/moto")
    for label in preflight.PROBES:
        assert lines[f"service {label}"] == f"OK    service {label}: answers in us-east-1"
    assert lines["permissions"].startswith(  # stock moto 5.2.5 has no SimulatePrincipalPolicy (HTTP 500)
        "WARN  permissions: could not check arn:aws:iam::123456789012:user/moto with IAM's policy simulator")
    assert lines["quota Kinesis shards"] == ("OK    quota Kinesis shards: 6000 of 6000 shards free, the course needs "
                                             "3 more")
    assert lines["quota Lambda concurrency"].startswith(  # stock moto 5.2.5 has no GetAccountSettings (HTTP 404)
        "WARN  quota Lambda concurrency: could not read it (HTTP 404")
    assert lines["course resources"] == ("OK    course resources: none yet (nothing carries the tag "
                                         f"{NAMES.tag_key}={NAMES.tag_value})")
    total = f"${prices.total_per_student_hour():.2f}"
    assert total == "$0.50" and lines["cost per hour"].startswith(f"OK    cost per hour: {total} per student")
    assert "Managed Flink  $0.454" in result.stdout and "Kinesis        $0.046" in result.stdout
    assert "run notebook 99 or `labkit teardown`" in result.stdout
    assert result.stdout.rstrip().endswith("every required check passed; 2 warning(s) (WARN above).")
    assert len(lines) == 1 + len(preflight.PROBES) + 5


def test_preflight_lists_the_course_s_resources_already_there_and_counts_their_shards(aws_on_stock_moto):
    streams.create(NAMES.wind_stream, quiet=True)
    tables.create(NAMES.wind_table, quiet=True)
    result = labkit_preflight()
    assert result.returncode == 0, result.stdout + result.stderr
    lines = lines_of(result.stdout)
    assert lines["course resources"] == "WARN  course resources: 2 already exist and bill while they do:"
    assert f"        Kinesis stream {NAMES.wind_stream}\n" in result.stdout
    assert f"        DynamoDB table {NAMES.wind_table}\n" in result.stdout
    assert lines["quota Kinesis shards"] == ("OK    quota Kinesis shards: 6000 of 6000 shards free, the course needs "
                                             "2 more")  # stock moto 5.2.5's DescribeLimits counts no open shard


def test_preflight_without_credentials_says_how_to_set_them_and_fails(aws_on_stock_moto, tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in CREDENTIALS}
    env.update(AWS_EC2_METADATA_DISABLED="true", AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
               AWS_CONFIG_FILE=str(tmp_path / "none"))
    result = subprocess.run([sys.executable, "-m", "labkit", "preflight"], env=env, capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 1
    assert "FAIL  credentials: no AWS credentials found on this machine." in result.stdout
    assert "next: set them with `aws configure`" in result.stdout
    assert list(lines_of(result.stdout)) == ["credentials"], "nothing else is asked without credentials"
    assert "Traceback" not in result.stderr


def test_preflight_when_aws_cannot_be_reached_says_so_and_fails(aws_on_stock_moto):
    result = labkit_preflight(AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert "FAIL  credentials: AWS cannot be reached (Could not connect to the endpoint URL" in result.stdout
    assert "check the network connection" in result.stdout and "Traceback" not in result.stderr


def test_preflight_fails_when_the_region_does_not_answer_for_managed_flink(aws_on_stock_moto):
    # botocore's service-specific endpoint setting: Managed Flink alone goes where nothing answers
    result = labkit_preflight(AWS_ENDPOINT_URL_KINESIS_ANALYTICS_V2=f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = lines_of(result.stdout)
    assert lines["service Managed Flink (kinesisanalyticsv2)"] == (
        "FAIL  service Managed Flink (kinesisanalyticsv2): no endpoint answers in us-east-1.")
    assert "set LABKIT_REGION" in result.stdout
    assert lines["service Kinesis Data Streams"].startswith("OK")
    assert "1 required check(s) failed" in result.stdout
