"""With LABKIT_IAM_PROPAGATION_S on, the local endpoint refuses a new role as AWS does, and the course's create
steps (lab.functions.deploy, lab.apps.create, as the notebooks call them) still succeed: they retry.

The endpoint here is moto with labkit's whole patch registry, served over HTTP in this process (the setting is
read in the endpoint's process, as the stack reads it), and labkit talks to it as the local target."""
from __future__ import annotations

import time

import pytest
import requests
from moto.server import ThreadedMotoServer

from labkit import clients
from labkit.config import NAMES
from labkit.errors import WaitTimedOut
from labkit.local import iam_propagation, moto_patches
from labkit.resources import apps, functions, roles

from ..conftest import free_port

DELAY_S = 5.0  # long enough that the first create comes before the role is usable, on a loaded machine


@pytest.fixture
def local_endpoint(monkeypatch):
    """A fresh patched endpoint on a free port, the local target pointed at it, the role delay on."""
    before = {patch.id for patch in moto_patches.applied()}
    moto_patches.undo()
    moto_patches.apply()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    requests.post(f"http://127.0.0.1:{port}/moto-api/reset", timeout=10)
    monkeypatch.setenv("LABKIT_TARGET", "local")
    monkeypatch.setenv("LABKIT_AWS_PORT", str(port))
    monkeypatch.setenv(iam_propagation.SETTING, str(DELAY_S))
    monkeypatch.setattr(roles, "PROPAGATION_INTERVAL_S", 0.25)
    clients._client.cache_clear()
    try:
        yield
    finally:
        requests.post(f"http://127.0.0.1:{port}/moto-api/reset", timeout=10)
        server.stop()
        clients._client.cache_clear()
        moto_patches.undo()
        if before:
            moto_patches.apply({patch.id for patch in moto_patches.patches()} - before)


@pytest.fixture
def refusals(monkeypatch) -> list[str]:
    """AWS's answers that the retries saw as "role not assumable yet"."""
    seen: list[str] = []
    judge = roles.propagating

    def noting(error):
        if judge(error):
            seen.append(error.response["Error"]["Message"])
            return True
        return False

    monkeypatch.setattr(roles, "propagating", noting)
    return seen


def test_deploying_a_function_with_a_new_role_succeeds_after_retrying(local_endpoint, refusals):
    started = time.monotonic()
    deployed = functions.deploy(NAMES.analytics_function, quiet=True)
    assert deployed["state"] == "Active" and deployed["role"].endswith(f":role/{NAMES.role}")
    assert time.monotonic() - started >= DELAY_S
    assert refusals and set(refusals) == {iam_propagation.LAMBDA_MESSAGE}


def test_creating_an_application_with_a_new_role_succeeds_after_retrying(local_endpoint, refusals):
    started = time.monotonic()
    assert apps.create(NAMES.max_speed_app)["ApplicationStatus"] == "READY"
    assert time.monotonic() - started >= DELAY_S
    assert refusals and all(m.startswith("Kinesis Analytics service doesn't have sufficient privileges to assume "
                                         f"the role arn:aws:iam::123456789012:role/{NAMES.role}") for m in refusals)


def test_a_bound_shorter_than_the_delay_ends_with_the_sentence(local_endpoint, refusals, monkeypatch):
    monkeypatch.setenv(iam_propagation.SETTING, "60")  # far beyond the bound, however slow the machine
    monkeypatch.setattr(roles, "PROPAGATION_TIMEOUT_S", 0.5)
    with pytest.raises(WaitTimedOut, match="Lambda .* still refuses the role Lab22WindFarmRole after 0.5 s: The role "
                                           "defined for the function cannot be assumed by Lambda."):
        functions.deploy(NAMES.diy_function, quiet=True)
