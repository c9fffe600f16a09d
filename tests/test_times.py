"""One duration grammar and one protobuf conversion for every process."""

from __future__ import annotations

import pytest

from berth_common.errors import InvalidArgument
from berth_common.times import (
    epoch_of,
    format_duration,
    parse_duration,
    seconds_of,
    to_duration,
    to_timestamp,
)
from token_database.expiry import format_time, parse_expiry


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("60s", 60), ("5m", 300), ("1h30m", 5400), ("1.5h", 5400), ("1w2d", 777600)],
)
def test_the_client_and_the_token_database_read_durations_alike(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
    if not text.isdigit():
        assert parse_expiry(text, now=1000.0) == 1000.0 + seconds


def test_bad_durations_say_what_is_accepted() -> None:
    with pytest.raises(ValueError, match=r"use e\.g\. 90, 60s, 5m"):
        parse_duration("soon")
    with pytest.raises(ValueError, match="must be positive"):
        parse_duration("0s")
    with pytest.raises(InvalidArgument, match="is zero"):
        parse_expiry("0d", now=0.0)


def test_an_expiry_without_unit_is_a_date_not_seconds() -> None:
    assert parse_expiry("20300131", now=0.0) == parse_expiry("2030-01-31", now=0.0)
    assert format_time(parse_expiry("2030-01-31", now=0.0)) == "2030-01-31 00:00:00Z"
    assert parse_expiry("never", now=0.0) is None


@pytest.mark.parametrize("seconds", [0.0, 1.5, -2.25, 3600.000001])
def test_protobuf_durations_and_timestamps_round_trip(seconds: float) -> None:
    assert seconds_of(to_duration(seconds)) == pytest.approx(seconds, abs=1e-9)
    assert epoch_of(to_timestamp(1.7e9 + seconds)) == pytest.approx(1.7e9 + seconds, abs=1e-6)


def test_durations_print_compactly() -> None:
    assert [format_duration(s) for s in (75, 3600, 0.5, 0)] == ["1m15s", "1h", "0.5s", "0s"]
