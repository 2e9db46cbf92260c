"""The agent tools of the portfolio-risk core (docs/architecture.md §3.8; docs/risk.md):
`arbflow simulate-margin --json [FILE|-]` and `arbflow allocate --json [FILE|-]`.

Wiring only: a JSON document (model.risk.MarginRequest / AllocationRequest, decoded
strictly by model.codec) in, operators.portfolio.risk_gates / operators.portfolio.allocator,
JSON out (model.risk_results.MarginAnswer / Allocation). `--schema` prints both JSON Schemas.
Exit codes as every arbflow command: 0 answered (refusals are answers), 2 invalid input or
configuration — one line naming the field —, 1 a runtime failure.
"""

import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from arbflow.cli.support import die, guard, out_console
from arbflow.model import codec
from arbflow.model.config import Config
from arbflow.model.errors import ConfigError, RiskInputError
from arbflow.model.rejected import Rejected
from arbflow.model.risk import AllocationRequest, MarginRequest
from arbflow.model.risk_results import Allocation, MarginAnswer
from arbflow.model.schema import record_schema

_SOURCE = click.argument("source", required=False, default="-", type=click.Path(dir_okay=False, allow_dash=True))
_JSON = click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON (for agents).")
_SCHEMA = click.option("--schema", "show_schema", is_flag=True,
                       help="Print the JSON Schemas of the input and the output, then exit.")


def _invalid(message: str) -> NoReturn:
    die(f"invalid input: {message}", 2)


def _load_config(ctx: click.Context) -> Config:
    from arbflow.cli.config_file import load_config

    root = ctx.find_root().obj
    try:
        return load_config(root.get("config_path") if isinstance(root, dict) else None)
    except ConfigError as error:
        die(f"config error: {error}", 2)


def _read(source: str, cls: type) -> Any:
    """The request document from a file or stdin (`-`), decoded into `cls`, or exit 2."""
    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as error:
        die(f"{source}: {error.strerror or error}", 2)
    try:
        obj = codec.loads(data)
    except codec.DecodeError as error:
        _invalid(error.detail)
    decoded = codec.decode_object(cls, obj, source=source, raw=data)
    if isinstance(decoded, Rejected):
        _invalid(f"{decoded.detail} ({decoded.reason})")
    return decoded


def _emit(answer: Any) -> None:
    sys.stdout.buffer.write(codec.dumps(answer) + b"\n")


def _schemas(input_cls: type, output_cls: type) -> None:
    _emit({"input": record_schema(input_cls), "output": record_schema(output_cls)})


@click.command("simulate-margin")
@_SOURCE
@_JSON
@_SCHEMA
@click.pass_context
@guard
def simulate_margin(ctx: click.Context, source: str, as_json: bool, show_schema: bool) -> None:
    """What-if for a unified-margin account: health, margin use, leverage and liquidation
    distances now and after the proposed orders, the gate's verdict on each order (every
    refusal with a reason code), pending entries to abort and reductions to make.

    SOURCE is a JSON file or - for stdin (the default); its shape is `--schema`'s input
    and docs/risk.md. Tables and thresholds come from the [margin] configuration.
    """
    if show_schema:
        _schemas(MarginRequest, MarginAnswer)
        return
    from arbflow.operators.portfolio.margin import simulate
    from arbflow.operators.portfolio.risk_gates import assess

    request: MarginRequest = _read(source, MarginRequest)
    config = _load_config(ctx)
    try:
        projection = simulate(request.account, request.orders, config.margin, config.venues)
        gates = assess(request.account, request.orders, request.pending_entries, config.margin, config.venues,
                       assume_health=request.assume_health)
    except RiskInputError as error:
        _invalid(str(error))
    answer = MarginAnswer(projection=projection, gates=gates)
    if as_json:
        _emit(answer)
        return
    for label, state in (("now", projection.before), ("after all orders", projection.after)):
        out_console.print(f"{label:17} health {state.health}  margin use {state.margin_use}  "
                          f"leverage {state.leverage}  adjusted equity {state.adjusted_equity:.2f}")
        for finding in state.breaches:
            out_console.print(f"  [red]{finding.code}[/red] {finding.detail}")
    for d in gates.decisions:
        verdict = "[green]accepted[/green]" if d.accepted else f"[red]refused {d.reason}[/red] {d.detail}"
        out_console.print(f"order {d.order_id}: {verdict} (health after {d.health_after})")
    for abort in gates.aborts:
        out_console.print(f"abort {abort.entry_id}: {abort.reason}")
    for r in gates.reductions:
        out_console.print(f"reduce {r.symbol} {r.side} {r.qty} ({r.reason}) → health {r.health_after}")


@click.command("allocate")
@_SOURCE
@_JSON
@_SCHEMA
@click.pass_context
@guard
def allocate(ctx: click.Context, source: str, as_json: bool, show_schema: bool) -> None:
    """Target notional per pair from carry-to-volatility ratios (softmax), capped per
    sector and penalised for correlation, and the adjustments (target − current) that pass
    the rebalancing band and the gain-over-costs test, cancel > de-risk > entry.

    SOURCE is a JSON file or - for stdin (the default); its shape is `--schema`'s input
    and docs/risk.md. Parameters come from the [allocation] configuration.
    """
    if show_schema:
        _schemas(AllocationRequest, Allocation)
        return
    from arbflow.operators.portfolio.allocator import allocate as run_allocation

    request: AllocationRequest = _read(source, AllocationRequest)
    config = _load_config(ctx)
    try:
        answer = run_allocation(request, config.allocation)
    except RiskInputError as error:
        _invalid(str(error))
    if as_json:
        _emit(answer)
        return
    if answer.reason is not None:
        out_console.print(f"nothing allocated: {answer.reason}")
    for t in answer.targets:
        out_console.print(f"{t.pair_id:24} {t.sector:18} ratio {t.ratio:7.3f}  weight {t.weight:6.2%}  "
                          f"target {t.target_notional:>12.2f}  {t.action:8} {t.reason or ''}", soft_wrap=True)
    for e in answer.excluded:
        out_console.print(f"{e.pair_id:24} excluded {e.reason}: {e.detail}", soft_wrap=True)
    out_console.print(f"deployed {answer.deployed:.2f} of {answer.capital:.2f}")
