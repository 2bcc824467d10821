"""The local Lambda runtime holds what AWS's python3.11 runtime holds: the standard library, boto3 and botocore
(with their dependencies) and the function's zip — never the course's environment. A handler that imports
anything else fails as it would on AWS, with Runtime.ImportModuleError, in the invoke result and in its log."""
from __future__ import annotations

import base64
import io
import json
import uuid
import zipfile

import pytest

from tests.conftest import aws_client

IMPORTS_PANDAS = '''
import pandas

def handler(event, context):
    return {"rows": len(pandas.DataFrame([event]))}
'''

RUNTIME_PACKAGES = '''
import importlib.util, sys
import boto3, botocore, dateutil, jmespath, s3transfer, six, urllib3
import helper  # from the function's own zip

def handler(event, context):
    names = ("pandas", "numpy", "moto", "labkit", "flask", "pytest")
    assert callable(exit) and callable(help)
    return {"boto3": boto3.__version__, "helper": helper.ANSWER, "site": [p for p in sys.path if "site-packages" in p],
            "importable": [n for n in names if importlib.util.find_spec(n) is not None],
            "tables": boto3.client("dynamodb").list_tables()["TableNames"] is not None}
'''


def function_zip(**files: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for module, source in files.items():
            archive.writestr(f"{module}.py", source)
    return buffer.getvalue()


@pytest.fixture
def deploy(stack):
    lam, iam = aws_client("lambda", stack.endpoint_url), aws_client("iam", stack.endpoint_url)
    try:
        role = iam.get_role(RoleName="fidelity-probe")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName="fidelity-probe", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    made: list[str] = []

    def make(module: str, **files: str) -> str:
        name = f"fidelity-{uuid.uuid4().hex[:8]}"
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler=f"{module}.handler",
                            Code={"ZipFile": function_zip(**files)}, Timeout=10)
        made.append(name)
        return name

    yield lam, make
    for name in made:
        lam.delete_function(FunctionName=name)


def test_a_handler_importing_pandas_fails_with_the_runtimes_import_error(stack, deploy):
    lam, make = deploy
    name = make("lambda_function", lambda_function=IMPORTS_PANDAS)
    response = lam.invoke(FunctionName=name, Payload=b'{"speed": 12}', LogType="Tail")
    result = json.loads(response["Payload"].read())
    assert response["FunctionError"] == "Unhandled"
    assert result["errorType"] == "Runtime.ImportModuleError"
    assert result["errorMessage"] == "Unable to import module 'lambda_function': No module named 'pandas'"
    expected_line = ("[ERROR] Runtime.ImportModuleError: Unable to import module 'lambda_function': "
                     "No module named 'pandas'")
    assert expected_line in base64.b64decode(response["LogResult"]).decode()
    events = aws_client("logs", stack.endpoint_url).filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    assert expected_line in [event["message"] for event in events]


def test_a_handler_gets_boto3_and_its_dependencies_and_its_own_zip_and_nothing_of_the_course(stack, deploy):
    lam, make = deploy
    name = make("fn", fn=RUNTIME_PACKAGES, helper="ANSWER = 42\n")
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    result = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, result
    import boto3

    assert result == {"boto3": boto3.__version__, "helper": 42, "site": [], "importable": [], "tables": True}
