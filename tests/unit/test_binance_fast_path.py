"""Binance's fast path (connectors/venues/binance.py) gives what its checked path gives:
the same records for every recorded bookTicker and trade frame, and for damaged frames the
same record or the same refusal (reason, detail, dead-letter topic)."""

import lzma
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbflow.connectors.venues import binance

RAW = Path(__file__).resolve().parents[2] / "fixtures" / "raw"


def _frames(name: str, stream: str) -> list[dict[str, Any]]:
    with lzma.open(RAW / name, "rb") as handle:
        messages = [orjson.loads(line.split(b" ", 1)[1]) for line in handle]
    frames = [m for m in messages if m.get("stream", "").endswith(stream)]
    if stream == "@trade":  # as aggTrade, the stream the Feed reads
        frames = [{"stream": m["stream"].replace("@trade", "@aggTrade"),
                   "data": {**{k: v for k, v in m["data"].items() if k != "t"}, "e": "aggTrade", "a": m["data"]["t"]}}
                  for m in frames]
    return frames


CASES = [(name, stream) for name in ("spot_btcusdt_20240808.head.txt.xz", "usdm_btcusdt_20240808.head.txt.xz")
         for stream in ("@bookTicker", "@trade")]


def _checked(frame: dict[str, Any], kind: str) -> Any:
    market = "spot" if kind == "spot" else "perp"
    if frame["stream"].endswith("@bookTicker"):
        return binance._book_ticker_checked(frame["data"], market, 1, None)
    return binance._agg_trade_checked(frame["data"], market, 1, None)


def _outcome(call: Any) -> Any:
    try:
        return ("record", call())
    except binance.PayloadError as bad:
        return ("refused", bad.reason, bad.detail)


@pytest.mark.parametrize(("name", "stream"), CASES)
def test_every_recorded_frame_gives_the_checked_paths_record_cold_and_warm(name: str, stream: str) -> None:
    kind = "spot" if name.startswith("spot") else "usdm"
    frames = _frames(name, stream)
    for _ in range(2):  # cold caches, then every text and symbol cached
        binance.clear_caches()
        feed = binance.Feed(kind=kind)
        fast = [record for frame in frames for _, record in feed.message(frame, 1)]
        assert fast == [_checked(frame, kind) for frame in frames] and len(fast) == len(frames)


DAMAGE = st.sampled_from([None, 5, 1.5, True, [], ["1"], {"x": 1}, "", "abc", "NaN", "-1", "1e99", " 1.5", "1_0",
                          "0.00000000", "61837.63000000"])


@settings(max_examples=400, deadline=None, database=None)
@given(case=st.sampled_from(CASES), index=st.integers(0, 200), field=st.sampled_from(list("bBaApqamsE")),
       value=DAMAGE, drop=st.booleans(), warm=st.booleans())
def test_a_damaged_frame_gets_the_checked_paths_outcome(case: tuple[str, str], index: int, field: str, value: Any,
                                                       drop: bool, warm: bool) -> None:
    name, stream = case
    kind = "spot" if name.startswith("spot") else "usdm"
    frames = _frames(name, stream)
    frame = frames[index % len(frames)]
    data = dict(frame["data"])
    if drop:
        data.pop(field, None)
    else:
        data[field] = value
    binance.clear_caches()
    feed = binance.Feed(kind=kind)
    if warm:  # the intact frame first: its texts and symbol are cached
        feed.message(frame, 1)
    damaged = {"stream": frame["stream"], "data": data}
    fast = _outcome(lambda: feed.message(damaged, 1)[0][1])
    assert fast == _outcome(lambda: _checked(damaged, kind))
