# arbflow's container image: the `arbflow` command, non-root, with the bundled data that
# `make run` and the paper-trading recipe replay (README, "Container and cluster").
#
#   docker build -t arbflow:0.1.0 .
#   docker run --rm arbflow:0.1.0 replay fixtures/binance-btc-eth-spot-perp-bookticker-2024-08-08.jsonl.gz
#
# Without KAFKA_BOOTSTRAP / REDIS_URL a command starts the embedded broker and redis-server
# inside the container (both ship in Python wheels); with them set it uses yours
# (docker-compose.kafka.yml's `arbflow` profile, deploy/k8s/).
#
# Two stages on the same base image, so the virtual environment the builder makes runs
# unchanged in the runtime stage (same interpreter at the same path): the builder turns the
# checkout into a wheel and installs it with its dependencies pinned by requirements.lock
# (every one has a manylinux wheel for CPython 3.11: nothing is compiled); the runtime stage
# gets that environment and the data files, and nothing else — no pip cache, no source tree.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# What the package is made of: arbflow/ holds symbolic links to the top-level folders
# (COPY keeps links as links, and their targets are copied beside them).
COPY pyproject.toml requirements.lock README.md ./
COPY arbflow/ arbflow/
COPY model/ model/
COPY connectors/ connectors/
COPY operators/ operators/
COPY sinks/ sinks/
COPY flows/ flows/
COPY cli/ cli/
COPY reports/ reports/
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && python -m venv /opt/arbflow \
    && /opt/arbflow/bin/pip install --no-cache-dir --constraint requirements.lock /wheels/arbflow-*.whl

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/arbflow/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# A fixed numeric uid/gid (Kubernetes' runAsNonRoot can check a number, not a name);
# /app is the working directory: .arbflow/ (state, recovery snapshots, logs) and out/
# (replay reports) are written there, the bundled data is read from fixtures/.
RUN groupadd --system --gid 10001 arbflow \
    && useradd --system --uid 10001 --gid arbflow --home-dir /app --no-create-home --shell /usr/sbin/nologin arbflow \
    && mkdir -p /app/.arbflow /app/out \
    && chown arbflow:arbflow /app /app/.arbflow /app/out
COPY --from=builder /opt/arbflow /opt/arbflow
WORKDIR /app
# The data `make run` replays (tickers + the funding history it converts), the paper-trading
# recipe's two-venue market, the funding histories the studies read, and where they come from.
COPY fixtures/PROVENANCE.md fixtures/binance-btc-eth-spot-perp-bookticker-2024-08-08.jsonl.gz fixtures/two-venue-market.jsonl fixtures/
COPY fixtures/funding/ fixtures/funding/
USER 10001:10001
ENTRYPOINT ["arbflow"]
CMD ["--help"]
