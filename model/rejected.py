"""The dead-letter record: what was refused, why, and where it came from."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejected:
    """Input that failed decoding or validation; published on `dlq.<topic>`.

    `reason` is a code from `model.reasons`; `detail` a one-line human explanation naming
    the field; `raw` the original input text (decoded as UTF-8 with replacement, cut to
    `MAX_RAW_CHARS` with `raw_truncated` set); `source` the topic or `file:line` it came
    from; `ts` the record's own event time when it could be read, else None.
    """

    reason: str
    detail: str
    source: str
    raw: str
    raw_truncated: bool = False
    ts: int | None = None
    schema_version: int = 1


MAX_RAW_CHARS = 65_536
