"""moto's dispatcher with the folder listing cached finds the same services, and lists the folder once."""
from __future__ import annotations

import os

from moto import backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from labkit.local import moto_dispatch


def test_cached_listing_dispatches_like_stock_moto_and_lists_the_folder_once(monkeypatch):
    stock = DomainDispatcherApplication(create_backend_app)
    hosts = ["kinesis", "dynamodb", "kinesis.us-east-1.amazonaws.com", "sns.us-east-1.amazonaws.com", "nosuch"]
    expected = [stock.get_backend_for_host(host) for host in hosts]
    moto_dispatch.apply()
    moto_dispatch.apply()
    listings = []
    monkeypatch.setattr(os, "listdir", lambda path: listings.append(path) or [])
    patched = DomainDispatcherApplication(create_backend_app)
    assert [patched.get_backend_for_host(host) for host in hosts * 3] == expected * 3
    assert listings == [], "the folder was listed again"
    assert "kinesis" in backends.list_of_moto_modules()
