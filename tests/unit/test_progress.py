"""Progress of long work (cli/progress.py): a rich bar with records/s and ETA on a terminal,
plain log lines otherwise."""

import io

from rich.console import Console

from arbflow.cli.progress import ProgressReport


def test_plain_lines_with_rate_and_eta_when_not_a_terminal() -> None:
    out = io.StringIO()
    times = iter([0.0, 0.5, 2.5, 3.0, 4.0])  # start, three advances, end
    report = ProgressReport(Console(file=out, force_terminal=False, width=200), clock=lambda: next(times))
    with report, report.phase("reading", 100) as advance:
        advance(30)  # at 0.5 s: too soon for a line
        advance(30)  # at 2.5 s: 60 done, 24 records/s, 40 left → ETA 2 s
        advance(40)
    lines = out.getvalue().splitlines()
    assert lines == ["reading: 100 records to go",
                     "reading: 60/100 records (60 %), 24 records/s, ETA 2 s",
                     "reading: done, 100 records in 4.0 s, 25 records/s"]
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_a_bar_with_count_rate_and_eta_on_a_terminal() -> None:
    out = io.StringIO()
    report = ProgressReport(Console(file=out, force_terminal=True, width=150), tty=True)
    with report, report.phase("simulating", 1_000) as advance:
        for _ in range(10):
            advance(100)
    text = out.getvalue()
    assert "simulating" in text and "1,000/1,000" in text and "records/s" in text and "ETA" in text
