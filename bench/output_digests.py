"""Digests of everything a replay and the portfolio study produce, to prove that a change
of shape (a refactor) changed no behaviour: run it before and after, compare the JSON.

Scenarios: the bundled Binance capture with its funding history (what `make run` replays)
and the synthetic two-venue market of the paper-trading tests (the desks trade there). For
each, every output topic the run wrote is read back in (partition, offset) order and its
message values hashed; the portfolio evaluation table of the 18-month study is hashed as
printed. Needs the embedded broker and a Redis (started here when absent).

    python -m bench.output_digests --out before.json
    python -m bench.output_digests --compare before.json
"""

import argparse
import contextlib
import hashlib
import io
import json
import subprocess
import sys
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path

from arbflow.connectors import kafka
from arbflow.connectors.infra import services
from arbflow.flows.replay import run_replay
from arbflow.model import topics
from arbflow.model.config import Config, parse_config
from tests.markets import two_venue_market

REPO = Path(__file__).resolve().parents[1]
CAPTURE = REPO / "fixtures" / "binance-btc-eth-spot-perp-bookticker-2024-08-08.jsonl.gz"
FUNDING = REPO / "fixtures" / "funding" / "binance_website_funding_BTCUSDT_perp_2019-09-10_2024-08-09.utc.csv.gz"


def _config(run: str, **sections: dict[str, object]) -> Config:
    prefix = f"digest{uuid.uuid4().hex[:8]}{run}."
    return parse_config({"kafka": {"topic_prefix": prefix}, "redis": {"key_prefix": prefix}, **sections}, {})


def _topic_digests(config: Config) -> dict[str, str]:
    """sha256 and count of every topic of this run's prefix, values in (partition, offset) order."""
    bootstrap = services.up(config).kafka_bootstrap
    digests: dict[str, str] = {}
    for logical in sorted(topics.all_topics()):
        messages = sorted(kafka.read_topic(bootstrap, kafka.topic_name(config, logical)),
                          key=lambda m: (m.partition, m.offset))
        if not messages:
            continue
        digest = hashlib.sha256()
        for message in messages:
            digest.update(len(message.value).to_bytes(4, "big") + message.value)
        digests[logical] = f"{len(messages)} {digest.hexdigest()[:24]}"
    return digests


def _capture(work: Path) -> dict[str, str]:
    funding = work / "funding.jsonl.gz"
    arbflow = str(Path(sys.executable).parent / "arbflow")
    subprocess.run([arbflow, "convert", "funding", str(FUNDING), "--out", str(funding)],
                   check=True, capture_output=True)
    config = _config("cap", signals={"funding_silent_after_s": 0})
    run_replay(config, [CAPTURE, funding])
    return _topic_digests(config)


def _synthetic(work: Path) -> dict[str, str]:
    config = _config("syn")
    config = replace(config, scanner=replace(config.scanner, min_score=0))
    run_replay(config, [two_venue_market(work / "market.jsonl")])
    return _topic_digests(config)


def _study() -> dict[str, str]:
    from bench import portfolio_eval

    printed = io.StringIO()
    argv, sys.argv = sys.argv, ["portfolio_eval"]
    try:
        with contextlib.redirect_stdout(printed):
            portfolio_eval.main()
    finally:
        sys.argv = argv
    table = "\n".join(line for line in printed.getvalue().splitlines() if not line.strip().startswith("read "))
    return {"portfolio table": hashlib.sha256(table.encode()).hexdigest()[:24]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write the digests here (JSON)")
    parser.add_argument("--compare", type=Path, help="compare with digests written earlier; exit 1 on a difference")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        result = {"capture": _capture(work), "synthetic": _synthetic(work), "study": _study()}
    text = json.dumps(result, indent=2, sort_keys=True)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    if args.compare:
        before = json.loads(args.compare.read_text())
        if before != result:
            for scenario in sorted(set(before) | set(result)):
                for key in sorted(set(before.get(scenario, {})) | set(result.get(scenario, {}))):
                    old, new = before.get(scenario, {}).get(key), result.get(scenario, {}).get(key)
                    if old != new:
                        print(f"DIFFERS {scenario} {key}: {old} → {new}")
            sys.exit(1)
        print("identical")


if __name__ == "__main__":
    main()
