"""Opening Redis with deadlines: a server that does not answer gives `ServiceUnavailable`
within `connect_timeout_s`, never a hang. The URL goes to redis-py unchanged (`rediss://` for
TLS, `redis://user:password@…`, query options); errors show it with the password masked."""

import redis

from arbflow.model.errors import ServiceUnavailable
from arbflow.model.secrets import mask_url


def connect(url: str, timeout_s: float) -> redis.Redis:
    """A client that has answered PING; `ServiceUnavailable` otherwise."""
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=max(timeout_s, 5.0))
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        raise ServiceUnavailable(f"Redis at {mask_url(url)} did not answer within {timeout_s:g} s: "
                                 f"{mask_url(str(error))}") from error
    return client
