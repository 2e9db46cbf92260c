"""`make soak` in miniature: one loop over a 2,000-line slice of the bundled capture on
the session's broker and redis-server runs the full pipeline and reports memory."""

from pathlib import Path

from arbflow.connectors.infra import process, redis_server, tansu
from bench.soak import slice_lines, soak, verdict
from tests.conftest import BUNDLED


def test_soak_runs_one_loop_and_reports_when_given_a_tiny_slice(kafka_bootstrap: str, redis_url: str,
                                                                  services_dir: Path, tmp_path: Path) -> None:
    lines: list[str] = []
    broker, cache = process.read_owned(services_dir, tansu.NAME), process.read_owned(services_dir, redis_server.NAME)
    assert broker is not None and cache is not None
    loops = soak(kafka_bootstrap, redis_url, tmp_path, [slice_lines(BUNDLED, 2_000, tmp_path / "slice.jsonl")],
                 minutes=0, broker_pid=broker.pid, redis_pid=cache.pid, max_loops=1, say=lines.append)
    (loop,) = loops
    assert loop.records == 2_000
    assert loop.rss_mib > 0 and loop.broker_mib > 0 and loop.redis_mib > 0
    assert len(lines) == 2 and "arbflow RSS" in lines[0]
    assert verdict(loops) == (True, "no verdict: 1 loop(s), the comparison needs at least 3")
