"""The Redis opportunity feed and latest values, against a real redis-server."""

from dataclasses import replace
from decimal import Decimal as D

import pytest

from arbflow.model import codec, reasons
from arbflow.model.config import Config
from arbflow.model.signals import ConfluenceComponents, LatencyReading, Opportunity
from arbflow.sinks.redis_client import connect
from arbflow.sinks.redis_feed import TTL_S, SignalWriter, pair_id

pytestmark = pytest.mark.integration
T = 1_723_161_600_000


def _opportunity(long_venue: str, score: int, ts: int, accepted: bool = True) -> Opportunity:
    return Opportunity(opportunity_id=f"o{ts}", asset="BTC", long_venue=long_venue, long_symbol="BTC/USDT:USDT",
                       long_market="perp", short_venue="bybit", short_symbol="BTC/USDT:USDT", short_market="perp",
                       long_px=D(60_001), short_px=D(60_100), entry_spread_bps=D("16.5"), close_spread_bps=D("16.8"),
                       slippage_bps=D("0.08"), fees_bps=D(14), notional=D(10_000), projected_profit=D("11.3"),
                       depth_long=D(600_000), depth_short=D(601_000), score=score,
                       components=ConfluenceComponents(funding=0.6), accepted=accepted,
                       reason=None if accepted else reasons.SCORE_TOO_LOW, ts=ts)


def test_the_feed_keeps_accepted_pairs_ranked_expires_snapshots_and_streams(config: Config, redis_url: str) -> None:
    client = connect(redis_url, 2)
    prefix = config.redis.key_prefix
    writer = SignalWriter(client, prefix, top_n=2)
    a, b, c = _opportunity("binance", 85, T), _opportunity("okx", 90, T), _opportunity("gate", 75, T)
    writer.write([a, b, c])
    latest = client.zrange(f"{prefix}strategy:opportunities:latest", 0, -1, withscores=True, desc=True)
    assert latest == [(pair_id(b).encode(), 90.0), (pair_id(a).encode(), 85.0), (pair_id(c).encode(), 75.0)]
    snapshot = codec.loads(client.get(f"{prefix}strategy:opportunities:{T}"))
    assert [o["long_venue"] for o in snapshot] == ["okx", "binance"]  # top 2 by score
    assert 0 < client.ttl(f"{prefix}strategy:opportunities:{T}") <= TTL_S
    stream = client.xrange(f"{prefix}strategy:opportunities:stream")
    assert [codec.decode(Opportunity, fields[b"record"], source="t") for _, fields in stream] == [a, b, c]
    # a later rejection removes the pair; an older verdict arriving late changes nothing
    writer.write([_opportunity("okx", 40, T + 1000, accepted=False), replace(a, ts=T - 1000, score=10)])
    latest = client.zrange(f"{prefix}strategy:opportunities:latest", 0, -1, withscores=True, desc=True)
    assert latest == [(pair_id(a).encode(), 85.0), (pair_id(c).encode(), 75.0)]
    held = codec.decode(Opportunity, client.hget(f"{prefix}strategy:opportunities:pair:{pair_id(b)}", "record"),
                        source="t")
    assert (held.accepted, held.reason) == (False, reasons.SCORE_TOO_LOW)
    client.close()


def test_latency_is_kept_per_venue(config: Config, redis_url: str) -> None:
    client = connect(redis_url, 2)
    reading = LatencyReading(venue="binance", raw_mean_ms=-1270.0, corrected_mean_ms=12.5, offset_ms=-1282.0,
                             offset_source="min", samples=40, stale=False, ts=T)
    SignalWriter(client, config.redis.key_prefix).write([reading])
    stored = client.hget(f"{config.redis.key_prefix}strategy:latency:binance", "record")
    assert codec.decode(LatencyReading, stored, source="t") == reading
    client.close()


def test_scores_reads_the_feed_as_json_data(config: Config, redis_url: str) -> None:
    from arbflow.sinks.redis_feed import read_scores

    client = connect(redis_url, 2)
    writer = SignalWriter(client, config.redis.key_prefix)
    writer.write([_opportunity("binance", 85, T), _opportunity("okx", 90, T), _opportunity("gate", 60, T, False)])
    document = read_scores(client, config.redis.key_prefix, asset="BTC")
    assert [(o["long_venue"], o["score"]) for o in document["opportunities"]] == [("okx", 90), ("binance", 85)]
    assert read_scores(client, config.redis.key_prefix, asset="ETH")["opportunities"] == []
    client.close()


def test_the_portfolio_total_and_the_daily_figures_are_written_per_utc_day(config: Config, redis_url: str) -> None:
    from arbflow.model.portfolio import PortfolioState

    client = connect(redis_url, 2)
    prefix = config.redis.key_prefix
    day_one, day_two = 1_723_161_600_000, 1_723_161_600_000 + 86_400_000  # 2024-08-09 00:00 UTC, then 08-10

    def desk(asset: str, ts: int, pnl: str, closed: int, wins: int, open_notional: str) -> PortfolioState:
        capital = D(10_000)
        return PortfolioState(starting_capital=capital, available=capital + D(pnl) - D(open_notional),
                              open_notional=D(open_notional), realised_pnl=D(pnl), unrealised_pnl=D(0),
                              cumulative_pnl=D(pnl), open_positions=1 if D(open_notional) else 0,
                              closed_trades=closed, win_count=wins, loss_count=closed - wins, leg_out_count=0,
                              leg_out_loss=D(0), asset=asset, ts=ts)

    writer = SignalWriter(client, prefix)
    writer.write([desk("BTC", day_one, "12.5", 2, 1, "0"), desk("ETH", day_one, "-2.5", 1, 0, "5000")])
    writer.write([desk("BTC", day_two, "20", 4, 3, "0")])
    total = codec.loads(client.get(f"{prefix}strategy:portfolio:state"))
    assert (total["cumulative_pnl"], total["closed_trades"], total["desks"]) == ("17.5", 5, 2)  # 20 + (-2.5)
    daily = {day.decode(): codec.loads(body) for day, body in client.hgetall(f"{prefix}strategy:metrics:daily").items()}
    assert set(daily) == {"2024-08-09", "2024-08-10"}
    first = daily["2024-08-09"]
    # 1 win of 3 closed; 5,000 open of 20,000 starting capital
    assert (first["cumulative_pnl"], first["win_rate"], first["utilisation"]) == ("10.0", "0.3333", "0.2500")
    assert (daily["2024-08-10"]["closed_trades"], daily["2024-08-10"]["win_rate"]) == (5, "0.6000")
    client.close()
