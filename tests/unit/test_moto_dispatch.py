"""moto's dispatcher with the folder listing cached (labkit/local/moto_dispatch.py) finds the same services as
stock moto. That it lists the folder once is proven in test_moto_patches.py."""
from __future__ import annotations

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from labkit.local import moto_patches

from .test_moto_patches import stock_moto  # noqa: F401 (fixture)

HOSTS = ["kinesis", "dynamodb", "kinesis.us-east-1.amazonaws.com", "sns.us-east-1.amazonaws.com", "nosuch"]


def test_the_cached_listing_dispatches_like_stock_moto(stock_moto):
    stock = [DomainDispatcherApplication(create_backend_app).get_backend_for_host(host) for host in HOSTS]
    moto_patches.apply()
    patched = DomainDispatcherApplication(create_backend_app)
    assert [patched.get_backend_for_host(host) for host in HOSTS * 3] == stock * 3
