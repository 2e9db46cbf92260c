"""One process of the bounded signal/trading flow, for the scaling benchmark (`bench.scaling`):
`python -m bench.cluster_run SPEC.json` (SPEC: config overrides, exact input offset ranges,
partition counts, `trade`, and for a Bytewax cluster `process_id` + `addresses`). The parent
sums the CPU time of its children (`resource.RUSAGE_CHILDREN`)."""

import json
import sys
from pathlib import Path

from bytewax.run import cli_main

from arbflow.flows.signal_flow import build_signal_flow
from arbflow.model.config import parse_config


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    config = parse_config(spec["config"], {})
    ranges = {(topic, int(p)): (span[0], span[1]) for topic, p, span in spec["ranges"]}
    flow = build_signal_flow(config, config.kafka.bootstrap or "", config.redis.url or "", ranges=ranges,
                             partitions=spec["partitions"], trade=spec.get("trade", False))
    cluster = {"process_id": spec["process_id"], "addresses": spec["addresses"]} if spec.get("addresses") else {}
    cli_main(flow, workers_per_process=1, **cluster)


if __name__ == "__main__":
    main()
