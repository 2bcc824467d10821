"""The drills share ONE pipeline on the session's local stack (tests/reliability/pipeline.py)."""
from tests.reliability.pipeline import drill  # noqa: F401  (the session fixture)
