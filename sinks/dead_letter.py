"""Dead letters: a `Rejected` becomes a message on `dlq.<topic>` with its reason, keyed
like the record it replaces would have been (when that could be read), and is counted."""

from prometheus_client import Counter

from arbflow.model import codec
from arbflow.model.rejected import Rejected
from arbflow.model.topics import dlq_topic

DEAD_LETTERS = Counter("arbflow_dead_letters", "Records refused and sent to a dead-letter topic, by reason.",
                       ["reason"])


def dead_letter(topic: str, rejected: Rejected, key: bytes | None = None) -> tuple[str, bytes | None, bytes]:
    """The `(topic, key, value)` output item for a rejected record of `topic`."""
    DEAD_LETTERS.labels(reason=rejected.reason).inc()
    return dlq_topic(topic), key, codec.encode(rejected)
