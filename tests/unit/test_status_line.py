"""The status line of `scan` and `trade` (cli/status.py): read from the process's real
Prometheus metrics (the names must match what sinks/ exports), per-window rates and rejects
by reason, the lag behind the newest record, the trading figures, WARNING when something
was refused or a venue is stale; the reporter logs one last window when it stops."""

import logging
import time
from decimal import Decimal

import pytest

from arbflow.cli import status
from arbflow.cli.status import Reading, StatusReporter, format_lag, reading, registry_samples, status_line
from arbflow.model.rejected import Rejected
from arbflow.sinks import metrics
from arbflow.sinks.dead_letter import dead_letter


def test_the_figures_come_from_the_metrics_sinks_export_when_the_registry_is_read() -> None:
    before = reading(registry_samples())
    metrics.count_stage("decode", 250)
    for _ in range(3):
        dead_letter("md.ticker", Rejected(reason="LATE_RECORD", detail="", source="md.ticker[0]@1", raw=""))
    metrics.ENTRIES_DENIED.labels(reason="SCORE_TOO_LOW").inc(2)
    metrics.observe_portfolio({"open_positions": 2, "margin_health": Decimal("0.93")})
    metrics.STALE.labels(venue="status-test-venue").set(1)
    metrics.observe_stream_time(1_796_673_119_000)
    try:
        after = reading(registry_samples())
    finally:
        metrics.STALE.labels(venue="status-test-venue").set(0)
    assert after.decoded - before.decoded == 250
    assert after.rejects["LATE_RECORD"] - before.rejects.get("LATE_RECORD", 0) == 3
    assert after.denied["SCORE_TOO_LOW"] - before.denied.get("SCORE_TOO_LOW", 0) == 2
    assert (after.open_trades, after.margin_health) == (2, 0.93)
    assert "status-test-venue" in after.stale and after.stream_time_ms is not None
    assert after.stream_time_ms >= 1_796_673_119_000


def test_the_portfolio_gauges_are_no_figures_when_no_desk_has_reported_yet() -> None:
    samples = {("arbflow_portfolio_open_positions", ()): 0.0, ("arbflow_portfolio_margin_health", ()): 0.0,
               ("arbflow_portfolio_updates_total", ()): 0.0}
    assert (reading(samples).open_trades, reading(samples).margin_health) == (None, None)
    samples[("arbflow_portfolio_updates_total", ())] = 1.0
    assert (reading(samples).open_trades, reading(samples).margin_health) == (0.0, 0.0)


def test_a_quiet_window_is_one_info_line_with_rate_and_lag_when_scanning() -> None:
    before = Reading(decoded=1_000, stream_time_ms=None)
    after = Reading(decoded=13_040, stream_time_ms=1_000_000)
    level, text = status_line("scan", before, after, 10.0, 1_000_400, trading=False)
    assert level == logging.INFO
    assert text == "scan: 1,204 records/s (13,040 in all), lag 0.4 s; rejects none; stale venues none"


def test_rejects_by_reason_in_the_window_make_the_line_a_warning_when_records_were_refused() -> None:
    before = Reading(decoded=0, rejects={"LATE_RECORD": 5}, denied={"HEALTH_LOW": 1})
    after = Reading(decoded=500, rejects={"LATE_RECORD": 105, "MISSING_FIELD": 2, "KEY_MISMATCH": 0},
                    denied={"HEALTH_LOW": 1, "SCORE_TOO_LOW": 4}, stream_time_ms=0, open_trades=1,
                    margin_health=0.8765, stale=("okx",), down=("bybit",))
    level, text = status_line("trade", before, after, 5.0, 90_000_000_000, trading=True)
    assert level == logging.WARNING
    assert text == ("trade: 100 records/s (500 in all), lag 1041 d 16 h; rejects LATE_RECORD 100, MISSING_FIELD 2; "
                    "entries denied SCORE_TOO_LOW 4; open trades 1, margin health 0.88; stale venues okx; "
                    "gateway down bybit")


def test_trading_figures_not_reported_yet_show_a_dash_when_the_desks_are_silent() -> None:
    _, text = status_line("trade", Reading(), Reading(), 10.0, 0, trading=True)
    assert text == ("trade: 0 records/s (0 in all), no record yet; rejects none; entries denied none; "
                    "open trades –, margin health –; stale venues none")


@pytest.mark.parametrize(("seconds", "shown"), [(0.04, "0.0 s"), (119.9, "119.9 s"), (200, "3 min 20 s"),
                                                 (18_720, "5 h 12 min"), (70_167_600, "812 d 3 h")])
def test_the_lag_is_written_in_the_unit_that_fits_when_formatted(seconds: float, shown: str) -> None:
    assert format_lag(seconds) == shown


def test_the_reporter_logs_each_window_and_a_last_one_when_stopped(caplog: pytest.LogCaptureFixture) -> None:
    readings = iter([Reading(decoded=0), Reading(decoded=100, stream_time_ms=9_000),
                     Reading(decoded=160, stream_time_ms=9_500, rejects={"LATE_RECORD": 7})])
    clock = iter([0.0, 10.0, 12.0])
    reporter = StatusReporter("scan", 3600, trading=False, read=lambda: next(readings), clock=lambda: next(clock),
                              wall=lambda: 10.0)
    with caplog.at_level(logging.INFO, logger=status.log.name):
        reporter.start()
        reporter.report()  # what the thread does every `every_s`
        reporter.stop()  # the thread wakes at once and the last window is logged
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.INFO, "scan: 10 records/s (100 in all), lag 1.0 s; rejects none; stale venues none"),
        (logging.WARNING, "scan: 30 records/s (160 in all), lag 0.5 s; rejects LATE_RECORD 7; stale venues none")]


def test_the_reporter_thread_reports_on_its_own_when_the_interval_passes(caplog: pytest.LogCaptureFixture) -> None:
    reporter = StatusReporter("scan", 0.05, trading=False, read=Reading)
    with caplog.at_level(logging.INFO, logger=status.log.name):
        reporter.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not caplog.records:
            time.sleep(0.01)
        reporter.stop()
    assert len(caplog.records) >= 2 and all(r.name == "arbflow.status" for r in caplog.records)
