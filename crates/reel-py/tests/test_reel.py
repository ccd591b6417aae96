"""Tests of the reel-sdk wheel; run against the installed wheel, not the source tree."""

import math
import os
import time

import pytest
import reel


def test_round_trip(tmp_path):
    path = tmp_path / "out.reel"
    with reel.Recording(path) as rec:
        rec.log_scalar("sensor/temp", 21.5, timestamp_ns=1)
        rec.log_text("events", "door opened", timestamp_ns=2)
        rec.log_scalar("sensor/temp", -math.inf, timestamp_ns=3)
        assert rec.records == 3
    assert rec.closed
    assert reel.read(path) == [
        reel.Record(1, "sensor/temp", 21.5),
        reel.Record(2, "events", "door opened"),
        reel.Record(3, "sensor/temp", -math.inf),
    ]
    assert reel.verify(str(path)) == 3


def test_default_timestamp_is_now(tmp_path):
    before = time.time_ns()
    with reel.Recording(tmp_path / "t.reel") as rec:
        rec.log_scalar("x", 1)
    after = time.time_ns()
    (record,) = reel.read(tmp_path / "t.reel")
    assert before <= record.timestamp_ns <= after
    assert isinstance(record.value, float)


def test_context_manager_closes_on_exception(tmp_path):
    path = tmp_path / "e.reel"

    def write_then_fail():
        with reel.Recording(path) as rec:
            rec.log_scalar("a", 1.0, timestamp_ns=0)
            raise RuntimeError(rec)

    with pytest.raises(RuntimeError) as raised:
        write_then_fail()
    rec = raised.value.args[0]
    assert rec.closed
    assert reel.read(path) == [reel.Record(0, "a", 1.0)]


def test_write_after_close_is_a_clear_error(tmp_path):
    rec = reel.Recording(tmp_path / "c.reel")
    rec.close()
    rec.close()
    with pytest.raises(ValueError, match="is closed"):
        rec.log_scalar("a", 1.0)


def test_invalid_entity_raises_value_error(tmp_path):
    with reel.Recording(tmp_path / "v.reel") as rec:
        with pytest.raises(ValueError, match="empty component"):
            rec.log_scalar("a//b", 1.0)


def test_truncated_file_raises_reel_error_with_offset(tmp_path):
    path = tmp_path / "t.reel"
    with reel.Recording(path) as rec:
        for i in range(3):
            rec.log_scalar("s", float(i), timestamp_ns=i)
    data = path.read_bytes()
    path.write_bytes(data[:-2])
    with pytest.raises(reel.ReelError, match=r"truncated recording: the record at byte offset \d+"):
        reel.read(path)


def test_a_recording_cut_between_records_is_reported_unfinished(tmp_path):
    path = tmp_path / "u.reel"
    with reel.Recording(path) as rec:
        for i in range(3):
            rec.log_scalar("s", float(i), timestamp_ns=i)
    data = path.read_bytes()
    path.write_bytes(data[:-16])  # every record, but not the end marker the writer writes on close
    end = len(data) - 16
    with pytest.raises(
        reel.ReelError, match=rf"unfinished recording: it ends at byte offset {end} after 3 records"
    ):
        reel.read(path)


def test_corrupted_file_raises_reel_error_with_offset(tmp_path):
    path = tmp_path / "c.reel"
    with reel.Recording(path) as rec:
        rec.log_text("s", "hello", timestamp_ns=0)
    data = bytearray(path.read_bytes())
    data[-6 - 16] ^= 0xFF  # in the record's text, before the 16-byte end marker
    path.write_bytes(bytes(data))
    with pytest.raises(reel.ReelError, match="corrupted record at byte offset 8"):
        reel.read(path)


def test_not_a_recording(tmp_path):
    path = tmp_path / "n.reel"
    path.write_bytes(b"hello world")
    with pytest.raises(reel.ReelError, match="not a reel recording"):
        reel.read(path)


def test_missing_file_is_os_error(tmp_path):
    with pytest.raises(OSError, match="cannot read"):
        reel.read(tmp_path / "missing.reel")


def test_version_matches_the_wheel():
    from importlib.metadata import version

    assert reel.__version__ == version("reel-sdk")
    assert os.path.basename(os.path.dirname(reel._native.__file__)) == "reel"
