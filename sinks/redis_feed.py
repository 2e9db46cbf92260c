"""The Redis side of the signal flow (docs/architecture.md §3.6, README "Redis keys"):

- `strategy:basis:{asset}:{venue}` — hash {ts, record}: the latest `BasisPoint`;
- `strategy:latency:{venue}` — hash {ts, record}: the latest `LatencyReading`;
- `strategy:opportunities:pair:{pair}` — hash {ts, record}: the latest verdict of a pair
  (`pair` = `ASSET:long_venue:long_symbol>short_venue:short_symbol`);
- `strategy:opportunities:latest` — sorted set pair → score of currently accepted pairs
  (a pair leaves it when its latest verdict is a rejection);
- `strategy:opportunities:{ts}` — string, JSON list of the top `top_n` accepted
  opportunities of a write batch, expiring after 60 s (the key the legacy collectors' consumers read);
- `strategy:opportunities:stream` — Redis Stream of accepted opportunities (field
  `record`), trimmed to about `stream_max_len` entries;
- `strategy:trades:active:{trade_id}` / `strategy:trades:closed:{trade_id}` — hashes {ts,
  record} of `PairTrade`s (a trade moves from active to closed when it ends);
- `strategy:leg_out_events` — hash `{trade_id}:{n}` → the leg-out's JSON;
- `strategy:portfolio:state:{asset}` — hash {ts, record}: each desk's latest
  `PortfolioState`; `strategy:portfolio:state` — JSON of their sum (the portfolio: every
  configured desk, those that have not reported with their capital available);
- `strategy:metrics:daily` — hash `YYYY-MM-DD` (UTC, stream time) → JSON of that day's
  latest portfolio figures (PnL, trades, win rate, utilisation, leg-outs).

Every "latest" write happens only when its `ts` is not older than the stored one (one Lua
script), so re-emitted output after a recovery never moves state back. All keys carry
`redis.key_prefix`; a failed write raises `DeliveryFailed`.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import redis
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from prometheus_client import Counter
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential_jitter

from arbflow.model import codec
from arbflow.model.errors import DeliveryFailed
from arbflow.model.execution import PairTrade
from arbflow.model.portfolio import PortfolioState, every_desk
from arbflow.model.replay_run import Seen
from arbflow.model.signals import BasisPoint, LatencyReading, Opportunity
from arbflow.sinks import metrics
from arbflow.sinks.redis_client import connect

OPPORTUNITIES = Counter("arbflow_opportunities", "Scanned opportunities by outcome (reason ACCEPTED when kept).",
                        ["reason"])

# KEYS[1] hash, KEYS[2] sorted set or ""; ARGV: ts, record, [score, member, accepted]
_WRITE_IF_NEWER = """
local current = redis.call('HGET', KEYS[1], 'ts')
if current and tonumber(current) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'ts', ARGV[1], 'record', ARGV[2])
if KEYS[2] ~= '' then
  if ARGV[5] == '1' then redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4]) else redis.call('ZREM', KEYS[2], ARGV[4]) end
end
return 1
"""
TTL_S = 60
STREAM = "strategy:opportunities:stream"  # accepted opportunities (key without the prefix)
_MONEY_FIELDS = ("starting_capital", "available", "open_notional", "realised_pnl", "unrealised_pnl", "cumulative_pnl",
                 "leg_out_loss")
_COUNT_FIELDS = ("open_positions", "closed_trades", "win_count", "loss_count", "leg_out_count")


class _Unavailable(Exception):
    """Redis did not answer (connection refused or reset, timeout): worth retrying."""


def pair_id(o: Opportunity) -> str:
    """The stable identity of a pair across scans."""
    return f"{o.asset}:{o.long_venue}:{o.long_symbol}>{o.short_venue}:{o.short_symbol}"


class SignalWriter:
    """Writes one batch of signal outputs in one pipeline (see the module docstring).

    A Redis that goes away (a restart, a failover) is waited for: the batch is retried with
    backoff for up to `retry_s` seconds — every write is idempotent except the stream's
    XADD, which may then hold an entry twice — before `DeliveryFailed` stops the flow. A
    restarted Redis without persistence is empty: the flow refills it as data moves, and
    `arbflow rebuild-redis` rewrites the latest values from the Kafka topics at once."""

    def __init__(self, client: redis.Redis, prefix: str, *, top_n: int = 20, stream_max_len: int = 10_000,
                 retry_s: float = 30.0, live: bool = True, desks: Mapping[str, Decimal] | None = None,
                 stream_seen: Seen | None = None) -> None:
        self._client, self._prefix, self._top_n, self._max_len = client, prefix, top_n, stream_max_len
        self._desks = desks  # asset → configured capital (USD); None: the total is the desks that reported
        self._stream_seen = stream_seen  # entries an interrupted attempt of the same replay added
        self._script = client.register_script(_WRITE_IF_NEWER)
        self._retry_s, self._live = retry_s, live  # not live (a rebuild): no stream entries, no 60 s snapshots

    def write(self, items: list[Any]) -> None:
        # decided once per batch, not per attempt: a retried batch leaves out the same entries
        known = self._already_streamed(items)
        try:
            self._write(items, known)  # the common case: no retry machinery on the hot path
            return
        except _Unavailable:
            pass
        retrying = Retrying(retry=retry_if_exception_type(_Unavailable), stop=stop_after_delay(self._retry_s),
                            wait=wait_exponential_jitter(multiplier=0.1, max=2.0, jitter=0.1), reraise=True)
        try:
            for attempt in retrying:
                with attempt:
                    self._write(items, known)
        except _Unavailable as error:
            raise DeliveryFailed(f"Redis write of {len(items)} signal outputs failed for {self._retry_s:g} s: "
                                 f"{error.__cause__}") from error

    def _already_streamed(self, items: list[Any]) -> set[int]:
        """Positions in `items` of accepted opportunities an interrupted attempt of the same
        replay already added to the stream (`stream_seen`): not added again."""
        if self._stream_seen is None or not self._live:
            return set()
        return {index for index, item in enumerate(items) if type(item) is Opportunity and item.accepted
                and self._stream_seen.take(STREAM, codec.encode(item))}

    def _write(self, items: list[Any], known: set[int]) -> None:
        p = self._prefix
        pipe = self._client.pipeline(transaction=False)
        accepted: dict[str, Opportunity] = {}
        scanned: list[Opportunity] = []
        desks: set[str] = set()
        for index, item in enumerate(items):
            kind = type(item)
            if kind is BasisPoint:
                self._script(keys=[f"{p}strategy:basis:{item.asset}:{item.venue}", ""],
                             args=[item.ts, codec.encode(item)], client=pipe)
            elif kind is LatencyReading:
                metrics.observe_latency(item)
                self._script(keys=[f"{p}strategy:latency:{item.venue}", ""], args=[item.ts, codec.encode(item)],
                             client=pipe)
            elif kind is PairTrade:
                self._write_trade(pipe, item)
            elif kind is PortfolioState:
                desks.add(item.asset or "")
                self._script(keys=[f"{p}strategy:portfolio:state:{item.asset or 'all'}", ""],
                             args=[item.ts, codec.encode(item)], client=pipe)
            elif kind is Opportunity:
                pair = pair_id(item)
                scanned.append(item)
                OPPORTUNITIES.labels(reason=item.reason or "ACCEPTED").inc()
                body = codec.encode(item)
                self._script(keys=[f"{p}strategy:opportunities:pair:{pair}", f"{p}strategy:opportunities:latest"],
                             args=[item.ts, body, item.score, pair, "1" if item.accepted else "0"], client=pipe)
                if item.accepted and self._live:
                    accepted[pair] = item
                    if index in known:
                        continue
                    pipe.xadd(p + STREAM, {"record": body}, maxlen=self._max_len,
                              approximate=True)
                else:
                    accepted.pop(pair, None)
        if accepted:
            top = sorted(accepted.values(), key=lambda o: (-o.score, -o.projected_profit, pair_id(o)))[: self._top_n]
            newest = max(o.ts for o in top)
            pipe.set(f"{p}strategy:opportunities:{newest}", codec.dumps([codec.loads(codec.encode(o)) for o in top]),
                     ex=TTL_S)
        try:
            pipe.execute()
        except (redis.ConnectionError, redis.TimeoutError) as error:
            raise _Unavailable() from error
        except redis.RedisError as error:
            raise DeliveryFailed(f"Redis write of {len(items)} signal outputs failed: {error}") from error
        if items:
            metrics.count_stage("redis", len(items))
            metrics.observe_end_to_end(max(getattr(item, "ts", 0) for item in items))
        if scanned:
            metrics.observe_carry(scanned)
        if desks:
            self._write_portfolio_total()

    def _write_trade(self, pipe: Any, trade: PairTrade) -> None:
        """Active trades under `:active:`, ended ones under `:closed:`; leg-outs by id."""
        p = self._prefix
        body = codec.encode(trade)
        if trade.status in ("closed", "rejected"):
            self._script(keys=[f"{p}strategy:trades:closed:{trade.trade_id}", ""], args=[trade.ts, body], client=pipe)
            pipe.delete(f"{p}strategy:trades:active:{trade.trade_id}")
        else:
            self._script(keys=[f"{p}strategy:trades:active:{trade.trade_id}", ""], args=[trade.ts, body], client=pipe)
        for index, leg_out in enumerate(trade.leg_outs):
            pipe.hset(f"{p}strategy:leg_out_events", f"{trade.trade_id}:{index}", codec.dumps(leg_out))

    def _write_portfolio_total(self) -> None:
        """`strategy:portfolio:state`: the sum of every desk's latest state (JSON). With the
        configured `desks`, a desk that has not reported yet counts with its whole capital
        available (`model.portfolio.every_desk`), so the total is the whole portfolio from the
        first report on; `desks_reported` says how many have."""
        p = self._prefix
        states = []
        try:
            for key in self._client.scan_iter(match=f"{p}strategy:portfolio:state:*", count=100):
                body = self._client.hget(key, "record")
                if body is not None:
                    states.append(codec.decode(PortfolioState, body, source=key.decode()))
        except (redis.ConnectionError, redis.TimeoutError) as error:
            raise _Unavailable() from error
        states = [s for s in states if isinstance(s, PortfolioState)]
        if self._desks is not None:
            reported = sum(1 for s in states if s.asset in self._desks)
            states = every_desk(states, self._desks) if reported else []
        else:
            reported = len(states)
        if not states:
            return
        total = {name: sum((getattr(s, name) for s in states), Decimal(0)) for name in _MONEY_FIELDS}
        total |= {name: sum(getattr(s, name) for s in states) for name in _COUNT_FIELDS}
        total |= {"desks": len(states), "desks_reported": reported, "ts": max(s.ts for s in states)}
        healths = [s.margin_health for s in states if s.margin_health is not None]
        total["margin_health"] = min(healths) if healths else None  # the weakest desk's account
        distances = [s.liquidation_distance for s in states if s.liquidation_distance is not None]
        total["liquidation_distance"] = min(distances) if distances else None
        metrics.observe_portfolio(total)
        metrics.observe_desks(states)
        day = datetime.fromtimestamp(total["ts"] / 1000, tz=UTC).date().isoformat()
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.set(f"{p}strategy:portfolio:state", codec.dumps(total))
            pipe.hset(f"{p}strategy:metrics:daily", day, codec.dumps(daily_metrics(total)))
            pipe.execute()
        except (redis.ConnectionError, redis.TimeoutError) as error:
            raise _Unavailable() from error
        except redis.RedisError as error:
            raise DeliveryFailed(f"Redis write of the portfolio total failed: {error}") from error


def daily_metrics(total: dict[str, Any]) -> dict[str, Any]:
    """The day's portfolio figures for `strategy:metrics:daily` (the latest state of that UTC
    day wins): PnL, trades, win rate and utilisation (open notional / starting capital)."""
    closed, capital = total["closed_trades"], total["starting_capital"]
    return {"ts": total["ts"], "cumulative_pnl": total["cumulative_pnl"], "realised_pnl": total["realised_pnl"],
            "unrealised_pnl": total["unrealised_pnl"], "closed_trades": closed,
            "open_positions": total["open_positions"],
            "win_rate": None if not closed else str(round(Decimal(total["win_count"]) / closed, 4)),
            "utilisation": None if not capital else str(round(total["open_notional"] / capital, 4)),
            "leg_out_count": total["leg_out_count"], "leg_out_loss": total["leg_out_loss"]}


class _Partition(StatelessSinkPartition[Any]):
    def __init__(self, writer: SignalWriter, client: redis.Redis) -> None:
        self._writer, self._client = writer, client

    def write_batch(self, items: list[Any]) -> None:
        self._writer.write(items)

    def close(self) -> None:
        self._client.close()


class SignalRedisSink(DynamicSink[Any]):
    """Bytewax sink for `BasisPoint`, `LatencyReading` and `Opportunity` items. `stream_seen`:
    the stream entries an interrupted attempt of the same replay added (`stream_since`); an
    accepted opportunity equal to one of them is not added again."""

    def __init__(self, url: str, *, key_prefix: str, timeout_s: float, top_n: int = 20,
                 desks: Mapping[str, Decimal] | None = None, stream_seen: Seen | None = None) -> None:
        self._url, self._prefix, self._timeout_s, self._top_n = url, key_prefix, timeout_s, top_n
        self._desks = desks  # the trading desks' capital by asset (USD): the portfolio total counts all of them
        self._stream_seen = stream_seen

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Partition:
        client = connect(self._url, self._timeout_s)
        return _Partition(SignalWriter(client, self._prefix, top_n=self._top_n, desks=self._desks,
                                       stream_seen=self._stream_seen), client)


def stream_position(client: redis.Redis, prefix: str) -> str:
    """The id of the opportunity stream's newest entry ("0-0" when empty): where a run starts."""
    newest = client.xrevrange(prefix + STREAM, count=1)
    return newest[0][0].decode() if newest else "0-0"


def stream_since(client: redis.Redis, prefix: str, after: str) -> Seen:
    """The opportunity stream's entries after id `after` (what an interrupted run added), as a
    `Seen` multiset of their records."""
    seen = Seen()
    start = "(" + after
    while batch := client.xrange(prefix + STREAM, min=start, count=1_000):
        for _entry_id, fields in batch:
            seen.add(STREAM, fields[b"record"])
        start = "(" + batch[-1][0].decode()
    return seen


def read_scores(client: redis.Redis, prefix: str, *, asset: str | None = None, limit: int = 20) -> dict[str, Any]:
    """The agent tool `get_market_scores`: accepted opportunities by score (best first),
    the latest basis per asset and venue, and the latency per venue — plain JSON data."""
    members = client.zrange(f"{prefix}strategy:opportunities:latest", 0, -1, desc=True)
    opportunities = []
    for member in members:
        pair = member.decode()
        if asset is not None and not pair.startswith(f"{asset}:"):
            continue
        body = client.hget(f"{prefix}strategy:opportunities:pair:{pair}", "record")
        if body is not None:
            opportunities.append(codec.loads(body))
        if len(opportunities) >= limit:
            break
    basis, latency = [], []
    for key in sorted(client.scan_iter(match=f"{prefix}strategy:basis:*", count=500)):
        if asset is None or key.decode().startswith(f"{prefix}strategy:basis:{asset}:"):
            body = client.hget(key, "record")
            if body is not None:
                basis.append(codec.loads(body))
    for key in sorted(client.scan_iter(match=f"{prefix}strategy:latency:*", count=500)):
        body = client.hget(key, "record")
        if body is not None:
            latency.append(codec.loads(body))
    return {"opportunities": opportunities, "basis": basis, "latency": latency}


REBUILT_TYPES = (BasisPoint, LatencyReading, Opportunity, PairTrade, PortfolioState)


def rebuild(client: redis.Redis, prefix: str, records: Any, *, batch: int = 1_000,
            desks: Mapping[str, Decimal] | None = None) -> tuple[int, int]:
    """Rewrite the latest values (basis, latency, pair verdicts and the accepted set, trades,
    desks and the portfolio total over `desks`, as the flow writes it) from `records` read back
    from Kafka in order — after a Redis restart without persistence. Idempotent: a value
    already newer in Redis stays. Returns (records applied, records skipped because they could
    not be decoded)."""
    writer = SignalWriter(client, prefix, live=False, desks=desks)
    pending: list[Any] = []
    written = skipped = 0
    for record in records:
        if type(record) in REBUILT_TYPES:
            pending.append(record)
        else:
            skipped += 1
        if len(pending) >= batch:
            writer.write(pending)
            written, pending = written + len(pending), []
    if pending:
        writer.write(pending)
        written += len(pending)
    return written, skipped
