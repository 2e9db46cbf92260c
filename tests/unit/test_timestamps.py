"""Telling ms timestamps from seconds, micro- and nanoseconds (model/timestamps.py)."""

import pytest

from arbflow.model import reasons
from arbflow.model.timestamps import MS_MAX, MS_MIN, classify_timestamp

T0_MS = 1_723_075_200_000  # 2024-08-08T00:00:00Z

S = reasons.TIMESTAMP_IN_SECONDS
US = reasons.TIMESTAMP_IN_MICROSECONDS
NS = reasons.TIMESTAMP_IN_NANOSECONDS
OUT = reasons.TIMESTAMP_OUT_OF_RANGE


def test_bounds_are_2000_and_2100_when_written_as_ms() -> None:
    # 30 years 1970..2000 with 7 leap days; 130 years 1970..2100 with 32 leap days
    assert MS_MIN == (30 * 365 + 7) * 86_400_000
    assert MS_MAX == (130 * 365 + 32) * 86_400_000


@pytest.mark.parametrize(("value", "expected"), [
    # milliseconds: accepted
    (T0_MS, None),
    (MS_MIN, None),
    (MS_MAX - 1, None),
    # seconds
    (1_723_075_200, S),
    (946_684_800, S),  # 2000-01-01 in seconds
    (4_102_444_799, S),  # the last second before 2100
    # microseconds
    (1_723_075_200_000_000, US),
    (946_684_800_000_000, US),
    (4_102_444_800_000_000 - 1, US),
    # nanoseconds
    (1_723_075_200_000_000_000, NS),
    (946_684_800_000_000_000, NS),
    (4_102_444_800_000_000_000 - 1, NS),
    # nothing plausible
    (0, OUT),
    (-1, OUT),
    (-T0_MS, OUT),
    (1, OUT),
    (MS_MIN - 1, OUT),  # 1999-12-31T23:59:59.999Z in ms; too large for seconds, too small for µs
    (MS_MAX, OUT),  # 2100-01-01 is excluded
    (946_684_799, OUT),  # a second before 2000, in seconds
    (4_102_444_800, OUT),  # 2100 in seconds
    (946_684_800_000_000 - 1, OUT),  # just before 2000 in µs
    (4_102_444_800_000_000, OUT),  # 2100 in µs
    (946_684_800_000_000_000 - 1, OUT),  # just before 2000 in ns
    (4_102_444_800_000_000_000, OUT),  # 2100 in ns
    (5_000_000_000_000, OUT),  # year 2128 in ms
    (2**63 - 1, OUT),
])
def test_classify_timestamp_returns_unit_reason_when_value_is_not_plausible_ms(value: int,
                                                                              expected: str | None) -> None:
    assert classify_timestamp(value) == expected
