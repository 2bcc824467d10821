"""The socket test runs while the reliability drills' pipeline runs (one pipeline per session)."""
from tests.reliability.pipeline import drill  # noqa: F401  (the session fixture)
