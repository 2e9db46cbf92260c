"""`make fuzz` in miniature, so the fuzzer cannot rot: 300 messages per normaliser, no
crash and no hang (the full run is `make fuzz`, outside `make test`)."""

from pathlib import Path

from bench.fuzz.__main__ import run, table


def test_fuzzer_finds_no_crash_when_every_normaliser_gets_300_messages(tmp_path: Path) -> None:
    tallies = run(300, seed=1, out=tmp_path / "fuzz", seeds_per_type=10, hard_s=None)
    assert len(tallies) == 14
    assert all(t.messages == 300 for t in tallies)
    assert [(t.name, t.crashes, t.hangs) for t in tallies if t.crashes or t.hangs] == [], table(tallies)
    assert all(t.outcomes["accepted"] > 0 for t in tallies), table(tallies)  # the seeds are real inputs
    assert "codec (parse_record)" in table(tallies)
