"""The saved state: a header naming its format and moto, and a file this stack cannot read set aside."""
from __future__ import annotations

import boto3
import moto
import pytest
from moto import mock_aws

from labkit.local import persistence


def test_saved_state_starts_with_its_format_and_moto_version_and_loads_again(tmp_path):
    saved = persistence.write(tmp_path, persistence.encode(generation=3))
    assert saved.read_bytes().startswith(f"labkit-aws-state 2 moto {moto.__version__}\n".encode())
    assert not list(tmp_path.glob("*.partial"))
    assert persistence.restore(tmp_path) == 3, "the journal generation that follows the snapshot"
    assert persistence.notice(tmp_path) is None


def test_a_state_folder_is_all_a_start_holds_nothing_from_earlier_in_the_process(tmp_path):
    with mock_aws():
        kinesis = boto3.client("kinesis", region_name="us-east-1")
        kinesis.create_stream(StreamName="Earlier", ShardCount=1)  # an endpoint that ran before in this process
        assert persistence.restore(tmp_path / "fresh") == 0
        assert kinesis.list_streams()["StreamNames"] == []


@pytest.mark.parametrize("content, why", [
    (b"\x80\x05garbage that is no pickle\x00\xff" * 50, "it is not a labkit state file"),
    (b"labkit-aws-state 2 moto 4.0.0\n\x80\x05", f"it was saved by moto 4.0.0, this stack runs moto {moto.__version__}"),
    (b"labkit-aws-state 7 moto 5.2.5\n\x80\x05", "it is in format 7, this labkit reads format 2"),
    (f"labkit-aws-state 2 moto {moto.__version__}\n".encode() + b"\x80\x05 truncated", "UnpicklingError"),
])
def test_an_unreadable_state_file_is_moved_aside_with_a_sentence(tmp_path, content, why):
    (tmp_path / "aws-state.pickle").write_bytes(content)

    assert persistence.restore(tmp_path) == 0

    assert not (tmp_path / "aws-state.pickle").exists()
    [moved] = tmp_path.glob("aws-state.pickle.corrupt-*")
    assert moved.read_bytes() == content, "the file is kept, only moved"
    notice = persistence.notice(tmp_path)
    assert notice.startswith(f"the saved state could not be read ({why}")
    assert notice.endswith(f"; it was moved to {moved}; the stack started empty.")


def test_the_next_start_forgets_the_notice(tmp_path):
    (tmp_path / "aws-state.pickle").write_bytes(b"garbage")
    persistence.restore(tmp_path)
    assert persistence.notice(tmp_path)
    assert persistence.restore(tmp_path) == 0
    assert persistence.notice(tmp_path) is None
