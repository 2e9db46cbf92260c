"""What makes a replay re-runnable without duplicates (README "Re-running a replay"):
the identity of a run and the records an interrupted attempt already published.

A replay is identified twice. Its *inputs* by the bytes of its files (in the order given),
the partition count and the asset list (which decide where every line goes): the same files
are published once, whatever the flow's settings. Its *flow* by the inputs' identity, whether
the desks trade, and every configuration value that can change an output record
(`result_settings`): the same flow over the same inputs publishes its outputs once, while a
changed fee or threshold is a new flow run over the already-published inputs.

`Seen` is the multiset of records found on a topic after where an interrupted attempt
started: a resumed attempt takes a record out of it instead of publishing it again. It
matches on content (a 128-bit BLAKE2b digest of the message value, per topic), not on
position, so the order in which a resumed flow's workers emit does not matter; it relies on
a replay being deterministic (time comes from the records only).
"""

import hashlib
import threading
from collections import Counter
from typing import Any

from arbflow.model import codec
from arbflow.model.config import Config, plain

# Sections and keys that say where and how a run happens, not what it computes.
_NOT_RESULTS = ("redis", "infra", "replay", "recovery", "metrics", "alerts")
_KAFKA_NOT_RESULTS = ("bootstrap", "client", "connect_timeout_s", "delivery_timeout_ms")


def digest(value: bytes) -> bytes:
    """The content digest a record is matched by (16 bytes)."""
    return hashlib.blake2b(value, digest_size=16).digest()


def result_settings(config: Config) -> dict[str, Any]:
    """The configuration without the sections that cannot change an output record (service
    addresses, timeouts, pacing, worker count, recovery, metrics, alert channels)."""
    document = {name: section for name, section in plain(config).items() if name not in _NOT_RESULTS}
    document["kafka"] = {k: v for k, v in document["kafka"].items() if k not in _KAFKA_NOT_RESULTS}
    return document


def flow_identity(inputs: str, config: Config, *, trade: bool) -> str:
    """The flow run's id: hex SHA-256 of the inputs' id, the trade switch and `result_settings`."""
    body = codec.dumps({"inputs": inputs, "trade": trade, "config": result_settings(config)})
    return hashlib.sha256(body).hexdigest()


class Seen:
    """A multiset of (topic, digest): what an interrupted attempt published. Shared by the
    flow's worker threads, hence the lock."""

    def __init__(self) -> None:
        self._left: dict[str, Counter[bytes]] = {}
        self._lock = threading.Lock()
        self.found = 0  # records added
        self.matched = 0  # records taken out: not published again

    def add(self, topic: str, value: bytes) -> None:
        self._left.setdefault(topic, Counter())[digest(value)] += 1
        self.found += 1

    def take(self, topic: str, value: bytes) -> bool:
        """True when an equal record of `topic` is still in the multiset (it is taken out):
        the caller does not publish it again."""
        left = self._left.get(topic)
        if not left:
            return False
        key = digest(value)
        with self._lock:
            if left[key] <= 0:
                return False
            left[key] -= 1
            self.matched += 1
            return True
