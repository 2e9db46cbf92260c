"""`arbflow replay` under the one bad-row policy, as a user runs it, against the session's real
broker and redis-server: a funding rate of 1e50 is an IMPOSSIBLE_RATE dead letter; a truncated
.gz or .xz is replayed up to its break and then named (exit 1); a
ticker whose bid looks like a ratio next to the other prices is a PRICE_IMPLAUSIBLE dead letter
and every good line is still processed; `--strict` exits 2 on the first bad line."""

import gzip
import json
import lzma
import os
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import pytest

from arbflow.model import reasons
from arbflow.model.config import Config
from tests.conftest import BUNDLED

pytestmark = pytest.mark.integration
ARBFLOW = str(Path(sys.executable).parent / "arbflow")
TICKER = ('{"topic":"md.ticker","venue":"%s","symbol":"BTC/USDT:USDT","market":"perp","bid":"%s","ask":"%s",'
          '"bid_qty":"1","ask_qty":"1","ts_local":%d,"schema_version":1}')


def _head(lines: int) -> list[bytes]:
    with gzip.open(BUNDLED, "rb") as handle:
        return [handle.readline() for _ in range(lines)]


def _replay(config: Config, kafka_bootstrap: str, redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARBFLOW_")}
    env |= {"KAFKA_BOOTSTRAP": kafka_bootstrap, "REDIS_URL": redis_url, "COLUMNS": "160",
            "ARBFLOW_KAFKA__TOPIC_PREFIX": config.kafka.topic_prefix,
            "ARBFLOW_REDIS__KEY_PREFIX": config.redis.key_prefix,
            "ARBFLOW_RECOVERY__DIR": tempfile.mkdtemp(prefix="arbflow-recovery-")}
    result = subprocess.run([ARBFLOW, "replay", "--no-trade", *args], env=env, capture_output=True, text=True,
                            timeout=300, check=False)
    assert "Traceback" not in result.stderr
    return result


@pytest.mark.parametrize("kind", ["gzip", "xz"])
def test_a_truncated_gz_or_xz_is_replayed_up_to_its_break_then_named_with_exit_1(
        config: Config, kafka_bootstrap: str, redis_url: str, tmp_path: Path, kind: str) -> None:
    text = b"".join(_head(3_000))
    if kind == "gzip":
        packed = gzip.compress(text, mtime=0)
        cut = packed[: len(packed) * 2 // 3]
        readable = zlib.decompressobj(wbits=31).decompress(cut)
    else:
        packed = lzma.compress(text)
        cut = packed[: len(packed) * 2 // 3]
        readable = lzma.LZMADecompressor().decompress(cut)
    complete = readable.count(b"\n")  # what the readable part holds
    source = tmp_path / f"cut.jsonl.{'gz' if kind == 'gzip' else 'xz'}"
    source.write_bytes(cut)
    result = _replay(config, kafka_bootstrap, redis_url, str(source), "--json")
    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout)  # the summary of every readable line came first
    assert summary["published"] == {"md.ticker": complete} and 1_000 < complete < 3_000
    assert summary["files"][str(source)]["lines"] == complete
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"arbflow: {source}: damaged {kind} file: it breaks after line {complete:,} (byte ")


def test_a_replayed_rate_of_1e50_is_a_dead_letter_and_every_good_line_is_published(
        config: Config, kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    head = _head(200)
    last_ts = json.loads(head[-1])["ts_local"]
    funding = ('{"topic":"md.funding","venue":"binance","symbol":"BTC/USDT:USDT","market":"perp","rate":"%s",'
               '"interval_ms":28800000,"next_funding_time":%d,"ts_local":%d,"schema_version":1}')
    extra = [funding % ("0.0001", last_ts + 28_800_000, last_ts + 1),
             funding % ("1e50", last_ts + 28_800_000, last_ts + 2)]     # line 202: beyond ±3 % per 8 h
    (tmp_path / "rates.jsonl").write_bytes(b"".join(head) + "\n".join(extra).encode() + b"\n")
    result = _replay(config, kafka_bootstrap, redis_url, str(tmp_path / "rates.jsonl"), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    [dead] = summary["dead_letters"]
    assert (dead["source"], dead["reason"], json.loads(dead["raw"])["rate"]) == (
        "rates.jsonl:202", reasons.IMPOSSIBLE_RATE, "1e50")
    assert dead["detail"] == "rate 1E+50 per 8 h is beyond ±0.03 (plausibility.max_funding_rate_8h)"
    # every line published; the flow refused the one (its dead letter) and kept the rest
    assert summary["published"] == {"md.ticker": 200, "md.funding": 2}
    assert summary["produced"] == {"dlq.md.funding": 1}
    assert summary["files"][str(tmp_path / "rates.jsonl")]["lines"] == 202


def test_a_ratio_for_a_bid_next_to_the_other_venues_prices_is_refused_and_the_rest_processed(
        config: Config, kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    head = _head(600)
    last_ts = json.loads(head[-1])["ts_local"]
    extra = [TICKER % ("okx", "67600", "67600.2", last_ts + 1),
             TICKER % ("binance", "0.00066", "0.00067", last_ts + 2),     # a premium where a price belongs
             TICKER % ("binance", "61700", "61700.1", last_ts + 3),
             TICKER % ("binance", "61710", "61700", last_ts + 4)]          # crossed: refused by validation
    (tmp_path / "mixed.jsonl").write_bytes(b"".join(head) + "\n".join(extra).encode() + b"\n")
    result = _replay(config, kafka_bootstrap, redis_url, str(tmp_path / "mixed.jsonl"))
    assert result.returncode == 0, result.stderr
    assert "PRICE_IMPLAUSIBLE" in result.stdout  # the summary's dead-letter table
    implausible, crossed = sorted(x for x in result.stderr.splitlines() if x.startswith("dead letter "))
    assert implausible.startswith(f"dead letter mixed.jsonl:602: {reasons.PRICE_IMPLAUSIBLE} — bid 0.00066 is "
                                  "outside ±20 % of the reference, median ")
    assert crossed == f"dead letter mixed.jsonl:604: {reasons.CROSSED_BOOK} — bid 61710 >= ask 61700"
    assert "md.ticker" in result.stdout and "604" in result.stdout  # 600 + 4 published, every good one processed
    # --strict: the crossed line is refused before anything after it is published …
    strict = _replay(config, kafka_bootstrap, redis_url, str(tmp_path / "mixed.jsonl"), "--strict")
    assert strict.returncode == 2
    assert strict.stderr.strip().splitlines()[-1] == (f"arbflow: mixed.jsonl:604: {reasons.CROSSED_BOOK}: bid 61710 >= "
                                                      "ask 61700 (--strict: stopped at the first bad line)")
    # … and a refusal only the stream can make ends the run with exit 2, naming its line
    (tmp_path / "implausible.jsonl").write_bytes(b"".join(head) + "\n".join(extra[:3]).encode() + b"\n")
    strict = _replay(config, kafka_bootstrap, redis_url, str(tmp_path / "implausible.jsonl"), "--strict")
    assert strict.returncode == 2
    assert strict.stderr.strip().splitlines()[-1].startswith(
        f"arbflow: implausible.jsonl:602: {reasons.PRICE_IMPLAUSIBLE}: bid 0.00066 is outside")


def test_strict_stops_at_the_first_unreadable_line_before_publishing_it(
        config: Config, kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_bytes(b"".join(_head(50)) + b"this is not json\n" + b"".join(_head(60)[50:]))
    result = _replay(config, kafka_bootstrap, redis_url, str(tmp_path / "bad.jsonl"), "--strict")
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"arbflow: bad.jsonl:51: {reasons.MALFORMED_JSON}: ") and "--strict" in last
