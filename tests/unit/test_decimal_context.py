"""The dataflow's arithmetic does not depend on the calling thread's decimal context (which
ccxt changes for good on any thread that rounds through it)."""

import decimal
import threading
from decimal import Decimal

from arbflow.flows.stateful import _Fold


def _divide(state: Decimal | None, value: Decimal) -> tuple[Decimal, list[Decimal]]:
    return value, [Decimal(2) / value]  # 0.666… rounds differently half-up vs half-even only in the last digit


def _run_in_thread(context: decimal.Context) -> list[Decimal]:
    result: list[Decimal] = []

    def work() -> None:
        decimal.setcontext(context)
        out, _ = _Fold(_divide, None).on_batch([[Decimal(3), Decimal(7)], [Decimal("0.0003")]])
        result.extend(*out)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return result


def test_a_step_gives_the_same_digits_whatever_the_thread_context() -> None:
    polluted = decimal.Context(prec=12, rounding=decimal.ROUND_HALF_UP)  # what ccxt leaves behind, and worse
    assert _run_in_thread(polluted) == _run_in_thread(decimal.Context())
    assert _run_in_thread(polluted)[0] == Decimal("0.6666666666666666666666666667")  # 28 digits, half-even
