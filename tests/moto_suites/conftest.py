"""The mark of the tests that run moto's own test suites (deselect them with `-m "not moto_suites"`)."""
from __future__ import annotations


def pytest_configure(config):
    config.addinivalue_line("markers", "moto_suites: runs the pinned moto's own test suites, stock and patched "
                                       "(about 1.5 min; fetches moto's source distribution once into build/)")
