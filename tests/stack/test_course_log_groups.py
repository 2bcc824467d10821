"""On the local stack, as on AWS: the course creates its log groups tagged before the function or application that
writes them, a Flink application names its log stream (CloudWatchLoggingOptions), the local Lambda runtime writes
into the group the course made, and teardown's search finds the groups by the course's tag."""
from __future__ import annotations

from labkit import teardown
from labkit.config import NAMES
from labkit.progress import wait_until
from labkit.resources import apps, functions, logs

TAG = {NAMES.tag_key: NAMES.tag_value}


def test_log_groups_are_made_tagged_and_written_into(stack):
    functions.deploy(NAMES.diy_function, quiet=True)
    detail = apps.create(NAMES.max_speed_app)
    [option] = detail["CloudWatchLoggingOptionDescriptions"]
    app_group, function_group = logs.app_group(NAMES.max_speed_app), logs.function_group(NAMES.diy_function)
    assert option["LogStreamARN"].endswith(f":log-group:{app_group}:log-stream:{logs.APP_STREAM}")
    assert logs.describe(app_group)["tags"] == TAG and logs.describe(function_group)["tags"] == TAG

    answer = functions.invoke(NAMES.diy_function, {"Records": []})
    assert answer["ok"], answer
    wait_until(lambda: functions.logs(NAMES.diy_function), 30, "the function's log", quiet=True, interval_s=0.5)
    assert logs.describe(function_group)["tags"] == TAG, "the runtime wrote into the course's group, tags kept"

    found = {(r.kind, r.name) for r in teardown.find()}
    assert {("Lambda log group", function_group), ("Flink log group", app_group)} <= found
