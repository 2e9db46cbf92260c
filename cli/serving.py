"""The Prometheus endpoint of the long-running commands: one default port per command (the
table below, which `deploy/prometheus/prometheus.yml` scrapes — a test keeps them in
step), the listen address from `--metrics-host` or `[metrics] host` (default 127.0.0.1), and
a port that cannot be bound reported as one line with exit code 2 (never a traceback).

| command | default port |
|---|---|
| `arbflow scan` | 9400 |
| `arbflow ingest` | 9401 |
| `arbflow trade` | 9402 |
"""

import errno
from collections.abc import Callable
from typing import Any

import click

from arbflow.cli.support import die, err_console
from arbflow.model.config import Config

METRICS_PORTS: dict[str, int] = {"scan": 9400, "ingest": 9401, "trade": 9402}


def metrics_options(command: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--metrics-port` (this command's default from `METRICS_PORTS`) and `--metrics-host`."""
    others = ", ".join(f"{name} {port}" for name, port in METRICS_PORTS.items() if name != command)

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        function = click.option(
            "--metrics-host", default=None, metavar="ADDRESS",
            help="Address the metrics endpoint listens on (default: [metrics] host, 127.0.0.1; 0.0.0.0 = every "
                 "interface, e.g. for the docker-compose Prometheus).")(function)
        return click.option(
            "--metrics-port", type=click.IntRange(0, 65535), default=METRICS_PORTS[command], show_default=True,
            help=f"Serve Prometheus metrics on this port (0 = off; the other commands' defaults: {others}, so they "
                 "run side by side).")(function)

    return decorate


def serve_metrics(config: Config, host: str | None, port: int, registry: Any = None) -> Any:
    """Start the metrics endpoint (None when `port` is 0); returns the HTTP server, whose
    `shutdown()` stops it. A busy port or an address that cannot be bound exits 2."""
    from prometheus_client import REGISTRY, start_http_server

    if not port:
        return None
    address = host or config.metrics.host
    try:
        server, _thread = start_http_server(port, addr=address, registry=REGISTRY if registry is None else registry)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            die(f"--metrics-port {port}: {address}:{port} is already in use (another arbflow command?); "
                "pick another port, or 0 for no metrics", 2)
        die(f"--metrics-port {port}: cannot listen on {address}:{port} ({error.strerror or error})", 2)
    shown = f"[{address}]" if ":" in address else address
    err_console.print(f"metrics on http://{shown}:{port}/metrics")
    return server
