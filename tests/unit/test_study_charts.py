"""The funding study's plotly charts (reports/study.py): what each chart shows, with the
figures handed to the page as exact decimal text, and the page around them."""

from datetime import UTC, datetime
from decimal import Decimal as D

from arbflow.reports.study import MAX_POINTS, bar_chart, line_chart

JAN_1 = 1_609_459_200_000  # 2021-01-01T00:00Z
EIGHT_HOURS = 8 * 3_600_000


def test_bar_chart_shows_the_study_apr_beside_the_naive_apr_in_percent_when_given_rows() -> None:
    chart = bar_chart("aha-hh: APR", [("carry BTC binance", D("0.072649"), D("0.105151")),
                                      ("spread BTC binance/okx", D("-0.2837"), D("0.0803")),
                                      ("naive BTC okx BTC/USDT", None, D("0.0412"))])
    assert chart is not None
    naive, study = chart.data
    assert naive.y == study.y == ("carry BTC binance", "spread BTC binance/okx", "naive BTC okx BTC/USDT")
    assert naive.x == ("10.52", "8.03", "4.12") and naive.text == ("10.52 %", "8.03 %", "4.12 %")
    assert study.x == ("7.26", "-28.37", None) and study.text == ("7.26 %", "-28.37 %", "")
    assert study.marker.color == ("#2ca02c", "#d62728", "#d62728")  # green at or above zero, red below
    assert chart.layout.yaxis.autorange == "reversed"  # the rows read top-down in the table's order


def test_bar_chart_is_none_when_there_is_no_row() -> None:
    assert bar_chart("empty", []) is None


def test_line_chart_draws_one_line_per_pair_with_its_last_value_in_the_legend() -> None:
    first = [(JAN_1 + i * EIGHT_HOURS, D("1.005") * i) for i in range(4)]
    second = [(JAN_1, D(0)), (JAN_1 + EIGHT_HOURS, D("-12.5"))]
    chart = line_chart("supervik: funding spread BTC", [("binance/bybit", first), ("bybit/okx", second),
                                                        ("okx/gate", [])])
    assert chart is not None
    assert [trace.name for trace in chart.data] == ["binance/bybit: 3", "bybit/okx: -12"]
    assert chart.data[0].y == ("0.00", "1.00", "2.01", "3.02")  # USD to the cent, half-even, as text
    assert chart.data[1].x == (datetime(2021, 1, 1, tzinfo=UTC), datetime(2021, 1, 1, 8, tzinfo=UTC))


def test_line_chart_thins_a_long_curve_and_keeps_its_last_point() -> None:
    points = [(JAN_1 + i * EIGHT_HOURS, D(i)) for i in range(3 * MAX_POINTS + 1)]
    chart = line_chart("long", [("binance", points)])
    assert chart is not None
    assert len(chart.data[0].y) <= MAX_POINTS + 1 and chart.data[0].y[-1] == f"{3 * MAX_POINTS}.00"


def test_line_chart_is_none_when_no_line_has_a_point() -> None:
    assert line_chart("empty", [("binance", [])]) is None
