# arbflow — the two commands a newcomer needs: `make run` and `make test`.
# Everything installs into .venv from PyPI, pinned by requirements.lock.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
FIXTURE := fixtures/binance-btc-eth-spot-perp-bookticker-2024-08-08.jsonl.gz
FUNDING := fixtures/funding/binance_website_funding_BTCUSDT_perp_2019-09-10_2024-08-09.utc.csv.gz
BARS    := fixtures/funding/spot_perp_8h_binance_bybit_okx_utc.csv.gz
PEERS  := .peers-venv
PEERS_STAMP := $(PEERS)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run test test-under-load lint bench bench-peers fuzz soak infra-up infra-down clean report-screenshot

help:  ## show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "arbflow needs Python >= 3.11, found " + sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing arbflow and its dependencies into $(VENV) …"
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install (done by run/test when needed)

# The funding file is a settlement history (one record per 8 h), so the "silent funding
# stream" rule, meant for live streams, is off for this replay.
# Then the 18-month backtest of the carry strategy (8 h bars + funding of Binance, Bybit and
# OKX, BTC and ETH) through the same desks, in a few lines: the engine's result before and
# after 2024-01-01 (the parameters were chosen on 2023).
run: $(STAMP)  ## start Kafka (Tansu) + Redis, replay real Binance tickers + funding, print the summary; then the 18-month engine backtest in a few lines
	@$(BIN)/arbflow infra up
	@$(BIN)/arbflow convert funding $(FUNDING) --out out/run/binance-btc-funding.jsonl.gz > /dev/null
	@ARBFLOW_SIGNALS__FUNDING_SILENT_AFTER_S=0 $(BIN)/arbflow replay $(FIXTURE) \
		out/run/binance-btc-funding.jsonl.gz --out out/run
	@$(BIN)/arbflow backtest $(BARS) --out out/backtest --split 2024-01-01 --brief 2> out/backtest.log \
		|| { tail -n 5 out/backtest.log; exit 1; }
	@echo "backtest report: out/backtest/report.html (its progress and refusals: out/backtest.log)"

test: $(STAMP)  ## import contracts + the whole test suite (unit, flow, integration)
	@$(BIN)/lint-imports --no-cache
	@$(BIN)/python -m pytest

# Not part of `make test` (it takes two cores for a minute or two). PYTEST_ARGS adds options.
test-under-load: $(STAMP)  ## the tests marked under_load, with two busy processes hogging the cores
	@$(BIN)/python -m tests.under_load $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff, import-linter and mypy (strict on model/ and operators/)
	@$(BIN)/ruff check .
	@$(BIN)/lint-imports --no-cache
	@$(BIN)/mypy

bench: $(STAMP)  ## replay throughput vs a raw consumer; tick-to-Redis latency at 5,000 msg/s and peak RSS; portfolio vs best single pair; the walk-forward table (checked against bench/walk_forward_expected.json) and its sweeps (the study's, the engine's); the bar backtest path vs the tick path; the peer table when .peers-venv exists
	@$(BIN)/python -m bench.replay_throughput
	@$(BIN)/python -m bench.tick_latency
	@$(BIN)/python -m bench.normalise
	@$(BIN)/python -m bench.execution
	@$(BIN)/python -m bench.allocation
	@$(BIN)/python -m bench.portfolio_eval
	@$(BIN)/python -m bench.walk_forward --check --engine-sweep
	@$(BIN)/python -m bench.bar_replay
	@$(BIN)/python -m bench.plausibility
	@if [ -x $(PEERS)/bin/python ]; then nice $(PEERS)/bin/python -m bench.peer_harness; \
	else echo "peer table (arbflow vs cryptofeed): not run — 'make bench-peers' installs the peers into $(PEERS) once"; fi

# The peers live in their own venv: cryptofeed's pins must not touch .venv (requirements.lock).
$(PEERS_STAMP): bench/peer_harness/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "the peer harness needs Python >= 3.11")'
	@test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	@echo "installing cryptofeed into $(PEERS) (it compiles its Cython types: a few minutes) …"
	@$(PEERS)/bin/python -m pip install --quiet --disable-pip-version-check -r bench/peer_harness/requirements.txt
	@touch $(PEERS_STAMP)

bench-peers: $(PEERS_STAMP)  ## normalisation vs cryptofeed on the same real Binance frames, cost × orjson (PEERS_NAUTILUS=1 adds NautilusTrader)
	@if [ "$(PEERS_NAUTILUS)" = 1 ]; then \
		timeout 600 $(PEERS)/bin/python -m pip install --quiet --disable-pip-version-check nautilus_trader \
		|| echo "nautilus_trader: not installed (failed or over 10 min): its rows are left out"; \
	else echo "nautilus_trader: skipped (PEERS_NAUTILUS=1 installs it into $(PEERS) and adds its rows)"; fi
	@nice $(PEERS)/bin/python -m bench.peer_harness

# Not part of `make test` (a miniature of each is: tests/unit/test_fuzz_smoke.py,
# tests/integration/test_soak_smoke.py). FUZZ_ARGS / SOAK_ARGS pass options, e.g.
# `make fuzz FUZZ_ARGS="--count 10000 --seed 7"`, `make soak SOAK_ARGS="--minutes 3"`.
fuzz: $(STAMP)  ## mutation-fuzz the codec and every normaliser (100,000 msgs each; out/fuzz/ reproducers)
	@$(BIN)/python -m bench.fuzz $(FUZZ_ARGS)

soak: $(STAMP)  ## replay the bundled capture through the full pipeline for 10 min; RSS must stay flat
	@$(BIN)/python -m bench.soak $(SOAK_ARGS)

report-screenshot:  ## render out/run/report.html in headless Chromium to out/run/report.png (needs chromium)
	@command -v chromium >/dev/null || { echo "needs Debian's chromium (apt-get install chromium)"; exit 1; }
	@test -f out/run/report.html || { echo "run 'make run' first"; exit 1; }
	@chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
		--disable-component-update --disable-sync --user-data-dir=$$(mktemp -d) --window-size=1280,3200 \
		--virtual-time-budget=8000 --screenshot=out/run/report.png file://$$(pwd)/out/run/report.html 2>/dev/null
	@echo "wrote out/run/report.png"

infra-up: $(STAMP)  ## start the embedded broker and redis-server (idempotent)
	@$(BIN)/arbflow infra up

infra-down: $(STAMP)  ## stop what infra-up started
	@$(BIN)/arbflow infra down

clean:  ## stop our services, remove .venv, .peers-venv, state and outputs
	@test ! -x $(BIN)/arbflow || $(BIN)/arbflow infra down || true
	@rm -rf $(VENV) $(PEERS) .arbflow out .pytest_cache .ruff_cache .mypy_cache .hypothesis
	@find . -name __pycache__ -type d -prune -exec rm -rf {} +
