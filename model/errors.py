"""Error types of arbflow. Third-party exceptions are translated into these once, at the
boundary where they occur (`raise … from e`)."""


class ArbflowError(Exception):
    """Base of every error arbflow raises on purpose."""


def arbflow_cause(error: BaseException) -> ArbflowError | None:
    """Our own error inside a chain of wrapping exceptions (`__cause__`, else `__context__`:
    Bytewax and click wrap what a step raised), if any; cycles end the walk."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ArbflowError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


class ConfigError(ArbflowError):
    """A configuration value is invalid. `key` is the dotted path (`kafka.partitions`)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


class ServiceUnavailable(ArbflowError):
    """Kafka or Redis could not be reached or started within its deadline."""


class ClusterLost(ArbflowError):
    """A process of a Bytewax cluster (`--process-id/--addresses`) lost its peers: one of them
    stopped or cannot be reached, and every process of the cluster stops with it."""


class FeedUnavailable(ArbflowError):
    """An exchange feed cannot deliver data (down, refused, or out of retries)."""


class VenueRejected(ArbflowError):
    """A venue refused an order or request; `reason` is our reason code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class DeliveryFailed(ArbflowError):
    """A Kafka produce or Redis write was not acknowledged; nothing is dropped silently."""


class RiskInputError(ArbflowError):
    """Input the margin simulator or the allocator cannot judge safely (a negative balance,
    a non-positive price, a position on another venue, a duplicate id). `field` is the
    path of the offending value (`account.collateral[1].balance`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UndeclaredPhaseMove(ArbflowError):
    """A trade was asked to move between two phases its table does not connect: a bug in
    the execution step, never bad input. Carries the trade id and both phases."""

    def __init__(self, trade_id: str, source: str, target: str) -> None:
        super().__init__(f"{trade_id}: no declared move from phase {source!r} to {target!r}")
        self.trade_id = trade_id
        self.source = source
        self.target = target
