"""Recognising the unit of an integer timestamp.

Every timestamp in arbflow is integer milliseconds UTC. Upstream code often hands
seconds, microseconds or nanoseconds instead; those are told apart by magnitude within
the plausible range 2000-01-01 .. 2100-01-01.
"""

from typing import Final

from arbflow.model import reasons

MS_MIN: Final = 946_684_800_000  # 2000-01-01T00:00:00Z
MS_MAX: Final = 4_102_444_800_000  # 2100-01-01T00:00:00Z


def classify_timestamp(value: int) -> str | None:
    """None when `value` is a plausible ms timestamp, else the reason code for its unit."""
    if MS_MIN <= value < MS_MAX:
        return None
    if MS_MIN <= value * 1_000 < MS_MAX:
        return reasons.TIMESTAMP_IN_SECONDS
    if MS_MIN * 1_000 <= value < MS_MAX * 1_000:
        return reasons.TIMESTAMP_IN_MICROSECONDS
    if MS_MIN * 1_000_000 <= value < MS_MAX * 1_000_000:
        return reasons.TIMESTAMP_IN_NANOSECONDS
    return reasons.TIMESTAMP_OUT_OF_RANGE
