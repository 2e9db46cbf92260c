"""The README's paper-trading recipe replays fixtures/two-venue-market.jsonl: it is the
synthetic market of tests/markets.py, written out, and stays so."""

from pathlib import Path

from tests.conftest import REPO
from tests.markets import two_venue_market


def test_the_recipe_market_is_the_synthetic_two_venue_market(tmp_path: Path) -> None:
    written = two_venue_market(tmp_path / "market.jsonl").read_bytes()
    assert (REPO / "fixtures" / "two-venue-market.jsonl").read_bytes() == written
