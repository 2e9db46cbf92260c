"""Kafka topics and the record type each one carries (docs/architecture.md §4).

Every topic carries exactly one record type, so a consumer knows the schema from the
topic name alone. Dead letters for topic `t` go to `dlq.t` and carry `Rejected`.
Deployments may prefix every topic (`KafkaConfig.topic_prefix`) to share a cluster.
"""

from typing import Final

from arbflow.model.execution import Fill, Order, OrderIntent, PairTrade, VenueEvent
from arbflow.model.market import (
    Candle,
    ClockTick,
    FundingRate,
    Liquidation,
    MarketTrade,
    OpenInterest,
    OrderBook,
    Ticker,
)
from arbflow.model.portfolio import Alert, PortfolioState
from arbflow.model.rejected import Rejected
from arbflow.model.signals import BasisPoint, LatencyReading, Opportunity

MD_TICKER: Final = "md.ticker"
MD_BOOK: Final = "md.book"
MD_TRADE: Final = "md.trade"
MD_FUNDING: Final = "md.funding"
MD_OI: Final = "md.oi"
MD_LIQUIDATION: Final = "md.liquidation"
MD_CANDLE: Final = "md.candle"  # closed OHLCV bars, published at their close
CLOCK_TICK: Final = "clock.tick"
SIGNAL_BASIS: Final = "signal.basis"
SIGNAL_LATENCY: Final = "signal.latency"
ARB_OPPORTUNITY: Final = "arb.opportunity"
EXEC_INTENT: Final = "exec.intent"
EXEC_ORDER: Final = "exec.order"
EXEC_FILL: Final = "exec.fill"
EXEC_TRADE: Final = "exec.trade"
EXEC_VENUE: Final = "exec.venue"  # venue answers (acks, fills, cancels, rejects) from a live gateway
PORTFOLIO_STATE: Final = "portfolio.state"
RISK_ALERT: Final = "risk.alert"
DLQ_PREFIX: Final = "dlq."
DLQ_REPLAY: Final = "dlq.replay"  # lines of a replay file whose topic cannot be read

RECORD_TYPES: Final[dict[str, type]] = {
    MD_TICKER: Ticker,
    MD_BOOK: OrderBook,
    MD_TRADE: MarketTrade,
    MD_FUNDING: FundingRate,
    MD_OI: OpenInterest,
    MD_LIQUIDATION: Liquidation,
    MD_CANDLE: Candle,
    CLOCK_TICK: ClockTick,
    SIGNAL_BASIS: BasisPoint,
    SIGNAL_LATENCY: LatencyReading,
    ARB_OPPORTUNITY: Opportunity,
    EXEC_INTENT: OrderIntent,
    EXEC_ORDER: Order,
    EXEC_FILL: Fill,
    EXEC_TRADE: PairTrade,
    EXEC_VENUE: VenueEvent,
    PORTFOLIO_STATE: PortfolioState,
    RISK_ALERT: Alert,
}
MARKET_DATA_TOPICS: Final = (MD_TICKER, MD_BOOK, MD_TRADE, MD_FUNDING, MD_OI, MD_LIQUIDATION, MD_CANDLE)


def dlq_topic(topic: str) -> str:
    """The dead-letter topic of `topic`."""
    return DLQ_PREFIX + topic


def all_topics() -> tuple[str, ...]:
    """Every topic arbflow creates: record topics, their dead-letter topics, dlq.replay."""
    return (*RECORD_TYPES, *(dlq_topic(t) for t in RECORD_TYPES), DLQ_REPLAY)


def record_type(topic: str) -> type:
    """The record class of a topic; dead-letter topics carry `Rejected`. KeyError if none."""
    if topic.startswith(DLQ_PREFIX):
        return Rejected
    return RECORD_TYPES[topic]
