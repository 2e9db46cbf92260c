"""Funding and 8h-candle histories → in-memory series for the funding-carry study
(`operators.study.carry`, `arbflow study funding`).

The files are read by the readers of `connectors.captures.funding_history` — the same
records, intervals and no-look-ahead rules as `arbflow convert funding` (see its docstring
and fixtures/funding/PROVENANCE.md) — and grouped per data set into time-ordered series:
`funding[(venue, symbol)]` (`FundingRate`, in settlement order) and `candles[(venue,
symbol)]` (`Candle`, in publication order). Files of the same format are merged into one
data set (the two Binance website exports hold different contracts); should two files of
one format hold the same series, the later one becomes its own data set, named
`<format> #2`, rather than mixing them.

A replay file (`*.jsonl[.gz]`: what `arbflow convert funding` writes, e.g. from a file of the
user's own layout through a column mapping) is read back as its md.funding and md.candle
records (format `replay`), so converted data studies like the bundled histories.

`CAVEATS` carries what each data set's PROVENANCE says about a venue's timing, so the study
can print it beside the figures.

Bad rows (a malformed or implausible row, a duplicate or out-of-order settlement, an
unconfigured venue) follow the readers' `RowPolicy` (`connectors.captures.row_policy`): dead
letters naming `file:line`, or `BadRow` (a `ValueError`) at the first when strict. `ValueError`
for a file of no known format or a missing column.
"""

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from arbflow.connectors.captures.funding_history import (
    AHA_HH,
    BINANCE_WEBSITE,
    READERS,
    SUPERVIK,
    Item,
    detect_format,
)
from arbflow.connectors.captures.row_policy import RowPolicy
from arbflow.connectors.compressed import count_lines
from arbflow.connectors.replay import ReplayLine, read_file
from arbflow.model import codec
from arbflow.model.config import VenueConfig
from arbflow.model.market import Candle, FundingRate
from arbflow.model.rejected import Rejected
from arbflow.model.topics import MD_CANDLE, MD_FUNDING, record_type

Key = tuple[str, str]  # (venue, symbol)
REPLAY: Final = "replay"
REPLAY_SUFFIXES: Final = (".jsonl", ".jsonl.gz", ".jsonl.xz", ".jsonl.zst")
REPORT_EVERY_ROWS: Final = 2_000

# (format, venue or None for every venue) → what the data set's PROVENANCE warns about.
CAVEATS: Final[dict[tuple[str, str | None], str]] = {
    (AHA_HH, None): "8h bars: basis from the closes at funding times, no intrabar path; taker fees, no slippage",
    (AHA_HH, "okx"): "OKX funding times are only certain to ±8 h (its rate at T tracks Binance's at T − 8 h): "
                     "spreads against OKX are not simultaneous",
    (BINANCE_WEBSITE, None): "website export: rates truncated to 1e-8; funding only, no prices (carry only)",
    (SUPERVIK, None): "funding only, no prices: carry-only P&L, no basis stop",
    (SUPERVIK, "binance"): "Binance settlement times jitter by +0…47 ms (rounded to the minute for buckets)",
    (SUPERVIK, "gate"): "Gate has one 752 h (~31 days) gap without settlements (funding counted 0 there)",
    (SUPERVIK, "htx"): "HTX settles off-schedule at times (gaps of 3–11 h and one of 24 h); those intervals "
                       "default to 8 h",
    (SUPERVIK, "kucoin"): "KuCoin settles at 04/12/20 UTC, 4 h off the others' grid",
    (SUPERVIK, "dydx"): "dYdX v3 is hourly (8 settlements summed per 8h bucket) and its markets were BTC-USD "
                        "settled in USDC although the file says BTC-USDT",
}


@dataclass(slots=True)
class StudyData:
    """One data set: its label, format, files, series and reading counts."""

    name: str
    kind: str
    paths: list[Path]
    funding: dict[Key, tuple[FundingRate, ...]] = field(default_factory=dict)
    candles: dict[Key, tuple[Candle, ...]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    def caveats(self) -> list[str]:
        """The PROVENANCE caveats for this data set's format and the venues it holds."""
        venues = sorted({venue for venue, _ in self.funding} | {venue for venue, _ in self.candles})
        return [text for (kind, venue), text in CAVEATS.items()
                if kind == self.kind and (venue is None or venue in venues)]


def count_rows(path: Path) -> int:
    """Data rows of a CSV file (lines after the header, up to a break in a damaged compressed
    file; the histories have no quoted newlines), or records of a replay file (no header)."""
    header = 0 if path.name.endswith(REPLAY_SUFFIXES) else 1
    return max(count_lines(path) - header, 0)


def replay_items(path: Path, *, venues: Mapping[str, VenueConfig], counts: Counter[str],
                 policy: RowPolicy | None = None) -> Iterator[Item]:
    """The md.funding and md.candle records of a replay file (what `arbflow convert funding`,
    also of a mapped file, writes); other topics are skipped. A line that does not decode goes
    to `policy` as a bad row naming `file:line` (strict when None: `BadRow` at the first)."""
    policy = policy if policy is not None else RowPolicy()
    for line in read_file(path):
        if not isinstance(line, ReplayLine):
            rejected = line[0]
            policy.refuse(rejected.reason, rejected.detail, source=rejected.source, raw=rejected.raw, ts=rejected.ts)
            continue
        if line.topic not in (MD_FUNDING, MD_CANDLE):
            continue
        record = codec.decode(record_type(line.topic), line.value, source=line.source)
        if isinstance(record, Rejected):
            policy.refuse(record.reason, record.detail, source=record.source, raw=record.raw, ts=record.ts)
            continue
        counts[line.topic] += 1
        yield line.ts, line.topic, record


def read_series(path: Path, *, venues: Mapping[str, VenueConfig],
                on_rows: Callable[[int], None] | None = None,
                policy: RowPolicy | None = None) -> tuple[str, StudyData]:
    """One file → (format, its series). `on_rows(n)` is told every few thousand CSV rows how
    many were read since the last call (a row is one candle in aha-hh, one settlement elsewhere).
    A replay file (`*.jsonl`, `*.jsonl.gz`, e.g. a converted mapped file) is its own format.
    Bad rows go to `policy` (strict when None: the first raises `BadRow`)."""
    kind = REPLAY if path.name.endswith(REPLAY_SUFFIXES) else detect_format(path)
    data = StudyData(name=kind, kind=kind, paths=[path])
    funding: dict[Key, list[FundingRate]] = {}
    candles: dict[Key, list[Candle]] = {}
    pending = 0
    reader = replay_items if kind == REPLAY else READERS[kind]
    for _, topic, record in reader(path, venues=venues, counts=data.counts, policy=policy):
        if topic == MD_FUNDING:
            funding.setdefault((record.venue, record.symbol), []).append(record)
        elif topic == MD_CANDLE:
            candles.setdefault((record.venue, record.symbol), []).append(record)
        if topic == MD_CANDLE or kind != AHA_HH:  # each aha-hh row ends with its candle
            pending += 1
            if on_rows is not None and pending >= REPORT_EVERY_ROWS:
                on_rows(pending)
                pending = 0
    if on_rows is not None and pending:
        on_rows(pending)
    data.funding = {key: tuple(series) for key, series in funding.items()}
    data.candles = {key: tuple(sorted(series, key=lambda c: c.ts_local)) for key, series in candles.items()}
    return kind, data


def _merge(into: StudyData, other: StudyData) -> bool:
    """Fold `other` into `into` unless they share a series; True when merged."""
    if into.funding.keys() & other.funding.keys() or into.candles.keys() & other.candles.keys():
        return False
    into.paths.extend(other.paths)
    into.funding.update(other.funding)
    into.candles.update(other.candles)
    into.counts.update(other.counts)
    return True


def load(paths: Sequence[Path], *, venues: Mapping[str, VenueConfig],
         on_rows: Callable[[int], None] | None = None, policy: RowPolicy | None = None) -> list[StudyData]:
    """All files → data sets, one per format unless two files hold the same series."""
    datasets: list[StudyData] = []
    for path in paths:
        kind, data = read_series(path, venues=venues, on_rows=on_rows, policy=policy)
        same_kind = [d for d in datasets if d.kind == kind]
        if not any(_merge(d, data) for d in same_kind):
            data.name = kind if not same_kind else f"{kind} #{len(same_kind) + 1}"
            datasets.append(data)
    return datasets


def total_rows(paths: Iterable[Path]) -> int:
    """Data rows of all files (the progress total)."""
    return sum(count_rows(path) for path in paths)
