"""The table explorer and the inbox view, headless: their buttons read what the table and the inbox hold."""
from __future__ import annotations

import pytest

from labkit.clients import client
from labkit.config import CONFIRMATION_SUBJECT
from labkit.resources import tables, topics
from labkit.ui.inbox_view import InboxView
from labkit.ui.table_explorer import ALL, TableExplorer

TABLE = "ExplorerWidgetTable"
ITEMS = [
    {"location": "North Ridge", "reading_id": "2026-11-27T10:00:00.000Z#a", "anomaly_score": 0.8},
    {"location": "North Ridge", "reading_id": "2026-11-27T10:00:01.000Z#b", "anomaly_score": 4.2},
    {"location": "Lakeshore", "reading_id": "2026-11-27T10:00:00.200Z#c", "anomaly_score": 1.1},
]


@pytest.fixture
def table(stack):
    tables.create(TABLE, partition_key="location", sort_key="reading_id", quiet=True)
    dynamodb = client("dynamodb")
    for item in ITEMS:
        dynamodb.put_item(TableName=TABLE, Item={"location": {"S": item["location"]},
                                                  "reading_id": {"S": item["reading_id"]},
                                                  "anomaly_score": {"N": str(item["anomaly_score"])}})
    yield TABLE
    tables.delete(TABLE, quiet=True)


def test_explorer_scans_filters_and_queries_one_partition(table):
    explorer = TableExplorer(table)
    assert len(explorer.frame) == 3 and "3 item(s) in ExplorerWidgetTable, every partition" in explorer.message.value
    assert explorer.partition.options == (ALL, "Lakeshore", "North Ridge")

    explorer.filter_scores.value, explorer.min_score.value = True, 2.0
    explorer.run_button.click()
    assert explorer.frame["reading_id"].tolist() == ["2026-11-27T10:00:01.000Z#b"]

    explorer.filter_scores.value, explorer.partition.value = False, "North Ridge"
    explorer.run_button.click()
    assert explorer.frame["anomaly_score"].tolist() == [0.8, 4.2]
    assert "partition North Ridge" in explorer.message.value


def test_explorer_names_a_missing_table(stack):
    explorer = TableExplorer("NoSuchTable")
    assert explorer.frame is None and "does not exist" in explorer.message.value


def test_inbox_view_lists_each_message_with_its_first_line(stack):
    topic = "InboxWidgetTopic"
    arn = topics.create(topic)
    topics.subscribe_email("widget@example.com", topic=topic)
    topics.confirm("widget@example.com", topic=topic)  # SNS's confirmation mail is the first in the inbox
    client("sns").publish(TopicArn=arn, Subject="Abnormal Wind Turbine Speed Detected",
                          Message="Abnormal wind turbine speed detected at Lakeshore (turbine WT-02).\n\nDetails")
    try:
        view = InboxView("widget@example.com", topic=topic)
        assert [m["subject"] for m in view.mails] == [CONFIRMATION_SUBJECT, "Abnormal Wind Turbine Speed Detected"]
        assert "2 message(s) from topic InboxWidgetTopic" in view.message.value
        assert view.list.get_title(1).endswith(
            "UTC · Abnormal Wind Turbine Speed Detected · Abnormal wind turbine speed detected at Lakeshore "
            "(turbine WT-02).")
        assert "Details" in view.list.children[1].value
    finally:
        topics.delete(topic)
