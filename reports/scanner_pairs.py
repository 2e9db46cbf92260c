"""What the scanner decided for each cross-venue pair of a replay, and why: the pair's funding
spread (the opportunity's `carry_8h` = rate_8h(short) − rate_8h(long), a fraction per 8 h)
at its first and last judgement, how many judgements were accepted, the rejections by reason,
and the detail of the last accepted judgement (or of the commonest rejection). Pure: the
opportunities in, rows out (`reports.replay_tables` renders them)."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from arbflow.model.signals import Opportunity


@dataclass(frozen=True, slots=True)
class PairOutcome:
    """One (long, short) pair over a replay. `first_carry_8h`/`last_carry_8h`: the funding
    spread per 8 h (fraction) at the first and last judgement that had one (None: never
    priced, e.g. always stale)."""

    long: str  # "venue symbol"
    short: str
    first_carry_8h: Decimal | None
    last_carry_8h: Decimal | None
    judged: int
    accepted: int
    reasons: Counter[str]
    why: str  # the detail of the last accepted judgement, else of the commonest rejection's last one


def pair_outcomes(opportunities: Iterable[Opportunity]) -> list[PairOutcome]:
    """The pairs in order of first appearance; `opportunities` in stream order."""
    grouped: dict[tuple[str, str], list[Opportunity]] = {}
    for o in opportunities:
        grouped.setdefault((f"{o.long_venue} {o.long_symbol}", f"{o.short_venue} {o.short_symbol}"), []).append(o)
    out = []
    for (long, short), group in grouped.items():
        carries = [o.carry_8h for o in group if o.carry_8h is not None]
        reasons = Counter(o.reason for o in group if not o.accepted and o.reason is not None)
        accepted = [o for o in group if o.accepted]
        if accepted:
            why = f"accepted: {accepted[-1].detail or ''}"
        elif reasons:
            reason = reasons.most_common(1)[0][0]
            last = [o for o in group if o.reason == reason][-1]
            why = f"{reason}: {last.detail or ''}"
        else:
            why = "-"
        out.append(PairOutcome(long=long, short=short, first_carry_8h=carries[0] if carries else None,
                               last_carry_8h=carries[-1] if carries else None, judged=len(group),
                               accepted=len(accepted), reasons=reasons, why=why))
    return out


def percent(value: Decimal | None) -> str:
    """A fraction as a percentage with 4 decimals (`0.00030160` → `0.0302 %`), `-` for None."""
    return "-" if value is None else f"{(value * 100).quantize(Decimal('0.0001'))} %"
