"""Latest-value state in Redis, written idempotently and monotonically in stream time.

`strategy:basis:{asset}:{venue}` is a hash with fields `ts` (integer ms) and `record`
(the `BasisPoint` JSON). A write lands only when its `ts` is not older than the stored
one, so re-emitted output after a recovery, or a slow worker, never moves state back.
All keys carry `redis.key_prefix`.
"""

from collections.abc import Iterable

import redis
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from arbflow.model import codec
from arbflow.model.errors import DeliveryFailed
from arbflow.model.signals import BasisPoint
from arbflow.sinks.redis_client import connect

# KEYS[1] hash; ARGV[1] ts; ARGV[2] record. Returns 1 when written, 0 when older.
_SET_IF_NEWER = """
local current = redis.call('HGET', KEYS[1], 'ts')
if (not current) or tonumber(current) <= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'ts', ARGV[1], 'record', ARGV[2])
  return 1
end
return 0
"""


def basis_key(prefix: str, asset: str, venue: str) -> str:
    """Redis key of the latest basis of `asset` on `venue`."""
    return f"{prefix}strategy:basis:{asset}:{venue}"


def write_latest(client: redis.Redis, script: redis.commands.core.Script, prefix: str,
                 points: Iterable[BasisPoint]) -> int:
    """Write the newest point per (asset, venue) of `points` in one pipeline; returns the
    number of keys written. Raises `DeliveryFailed` if Redis refuses."""
    newest: dict[str, BasisPoint] = {}
    for point in points:
        key = basis_key(prefix, point.asset, point.venue)
        held = newest.get(key)
        if held is None or held.ts <= point.ts:
            newest[key] = point
    if not newest:
        return 0
    try:
        pipe = client.pipeline(transaction=False)
        for key, point in newest.items():
            script(keys=[key], args=[point.ts, codec.encode(point)], client=pipe)
        return sum(pipe.execute())
    except redis.RedisError as error:
        raise DeliveryFailed(f"Redis write of {len(newest)} basis keys failed: {error}") from error


def read_latest(client: redis.Redis, prefix: str) -> list[BasisPoint]:
    """Every latest basis point stored under `prefix`, sorted by asset and venue."""
    points = []
    for key in sorted(client.scan_iter(match=f"{prefix}strategy:basis:*", count=500)):
        record = client.hget(key, "record")
        if record is not None:
            decoded = codec.decode(BasisPoint, record, source=key.decode())
            if isinstance(decoded, BasisPoint):
                points.append(decoded)
    return sorted(points, key=lambda p: (p.asset, p.venue))


class _Partition(StatelessSinkPartition[BasisPoint]):
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._client, self._prefix = client, prefix
        self._script = client.register_script(_SET_IF_NEWER)

    def write_batch(self, items: list[BasisPoint]) -> None:
        write_latest(self._client, self._script, self._prefix, items)

    def close(self) -> None:
        self._client.close()


class LatestBasisSink(DynamicSink[BasisPoint]):
    """Bytewax sink keeping the latest basis per asset and venue in Redis."""

    def __init__(self, url: str, *, key_prefix: str, timeout_s: float) -> None:
        self._url, self._prefix, self._timeout_s = url, key_prefix, timeout_s

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Partition:
        return _Partition(connect(self._url, self._timeout_s), self._prefix)
