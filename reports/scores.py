"""`arbflow scores` in text: the same three parts as its JSON (`sinks.redis_feed.read_scores`) —
the accepted opportunities by score, the latest basis per asset and venue, and each venue's
latency — one line each, from that JSON document (plain data: Decimals as exact strings,
latencies in ms as floats), so the text never shows less than the JSON."""

from typing import Any


def score_lines(document: dict[str, Any]) -> list[str]:
    """The lines of the text view of a `read_scores` document."""
    lines = []
    for o in document["opportunities"]:
        spread, profit = float(o["entry_spread_bps"]), float(o["projected_profit"])
        lines.append(f"{o['score']:>3}  {o['asset']:5} long {o['long_venue']} {o['long_symbol']:16} "
                     f"short {o['short_venue']} {o['short_symbol']:16} spread {spread:7.2f} bps  "
                     f"profit {profit:9.2f}")
    if not document["opportunities"]:
        lines.append("no accepted opportunity right now")
    for b in document["basis"]:
        lines.append(f"basis    {b['asset']:5} {b['venue']:12} {b['basis_bps']} bps  (spot mid {b['spot_mid']}, "
                     f"perp mid {b['perp_mid']})")
    for r in document["latency"]:
        scope = f" {r['asset']}" if r.get("asset") else ""
        lines.append(f"latency  {r['venue']:12}{scope} {r['corrected_mean_ms']:.1f} ms corrected (raw "
                     f"{r['raw_mean_ms']:.1f} ms, clock offset {r['offset_ms']:.1f} ms {r['offset_source']}, "
                     f"{r['samples']} samples) {'STALE' if r['stale'] else 'ok'}")
    if not document["latency"]:
        lines.append("latency  no venue measured yet")
    return lines
