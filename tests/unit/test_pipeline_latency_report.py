"""The pipeline-latency section says how often the producer met the shard's write limit, when its run counted it
(the course's simulator does; the bulk generator and results written before the count existed do not)."""
import json

from bench import common, pipeline_latency


def _committed() -> dict:
    result = json.loads((common.RESULTS / "pipeline_latency.json").read_text())
    result.pop("over_limit", None)
    return result


def test_the_section_states_the_producers_refusals_at_the_shard_limit():
    section = pipeline_latency.render({**_committed(), "over_limit": 4321})
    assert "met the shard's write limit 4,321 times" in section


def test_a_run_without_the_count_says_nothing_of_it():
    for result in (_committed(), {**_committed(), "over_limit": None}):
        assert "write limit" not in pipeline_latency.render(result)
