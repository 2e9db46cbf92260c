"""The warning line a long-running flow prints about refused records (sinks/dead_letter.py):
counts by reason, then by topic, and what a late record means."""

from arbflow.model import reasons
from arbflow.sinks.dead_letter import RejectWatch


def test_the_report_counts_refused_records_by_reason_and_topic_and_then_starts_again() -> None:
    watch = RejectWatch(every_s=5)
    assert watch.report() is None  # nothing refused: nothing said
    for _ in range(3):
        watch.count(reasons.LATE_RECORD, "md.ticker")
    watch.count(reasons.LATE_RECORD, "md.funding")
    watch.count(reasons.UNKNOWN_SYMBOL, "md.ticker")
    line = watch.report()
    assert line is not None
    assert line.startswith("refused 5 records in the last 5 s (sent to dlq.<topic>): "
                           "LATE_RECORD 4 (md.funding 1, md.ticker 3), UNKNOWN_SYMBOL 1 (md.ticker 1); ")
    assert "LATE_RECORD: the stream went back in time" in line and "--no-recovery" in line
    assert watch.report() is None  # each line covers its own interval
