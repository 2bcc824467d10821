"""`labkit` is the notebooks' functions: `up` honours the target, `flink run` restores the latest snapshot."""
from __future__ import annotations

import os
import subprocess
import sys

from labkit.cli import build_parser
from tests.conftest import free_port

NO_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")


def test_flink_run_restores_the_latest_snapshot_unless_fresh():
    parser = build_parser()
    assert parser.parse_args(["flink", "run", "AnomalyDetection"]).fresh is False
    assert parser.parse_args(["flink", "run", "AnomalyDetection", "--fresh"]).fresh is True


def test_up_on_the_aws_target_starts_nothing_and_names_the_credentials(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in NO_CREDENTIALS}
    env.update(LABKIT_TARGET="aws", LABKIT_STATE_DIR=str(tmp_path / "state"), LABKIT_SERVICE_PORT=str(free_port()),
               AWS_EC2_METADATA_DISABLED="true", AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
               AWS_CONFIG_FILE=str(tmp_path / "none"))
    result = subprocess.run([sys.executable, "-m", "labkit", "up"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert "there is nothing to start locally" in result.stdout
    assert result.returncode == 2
    assert "AWS does not accept this machine's credentials" in result.stderr and "aws configure" in result.stderr
    assert not (tmp_path / "state").exists(), "no local stack was started"
