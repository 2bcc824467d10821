"""One client factory and one way to page: boto3's paginators through `clients.pages`, which says "start the
stack" when nothing answers, as every call of `clients.client` does."""
from __future__ import annotations

import re

import pytest

from labkit import clients
from labkit.config import REPO_ROOT
from labkit.errors import StackNotRunning
from labkit.resources import topics
from tests.conftest import free_port

HAND_PAGING = re.compile(r"NextToken|NextMarker|\bMarker\b|ExclusiveStartKey|LastEvaluatedKey|nextToken|"
                         r"ContinuationToken|get_paginator\(")


def test_paging_with_no_local_stack_says_start_it_like_every_call(monkeypatch):
    monkeypatch.setenv("LABKIT_TARGET", "local")
    monkeypatch.setenv("LABKIT_AWS_PORT", str(free_port()))  # nothing listens there
    with pytest.raises(StackNotRunning, match=r"Start it with `labkit up`"):
        next(clients.pages("kinesis", "list_streams"))
    with pytest.raises(StackNotRunning, match=r"Start it with `labkit up`"):
        clients.client("kinesis").list_streams()


def test_a_topic_past_the_first_page_of_the_listing_is_found(aws):
    arns = [clients.client("sns").create_topic(Name=f"Topic{i:03d}")["TopicArn"] for i in range(130)]
    assert len(clients.client("sns").list_topics()["Topics"]) < 130, "the listing must span pages for this test"
    assert topics.arn("Topic129") == arns[-1]
    assert sum(len(page["Topics"]) for page in clients.pages("sns", "list_topics")) == 130


def test_no_labkit_module_pages_by_hand():
    hand_written = {str(path.relative_to(REPO_ROOT)): [n for n, line in enumerate(path.read_text().splitlines(), 1)
                                                        if HAND_PAGING.search(line)]
                    for path in (REPO_ROOT / "labkit").rglob("*.py") if path.name != "clients.py"}
    assert {path: lines for path, lines in hand_written.items() if lines} == {}, \
        "page with labkit.clients.pages (boto3's paginators), not by hand"
