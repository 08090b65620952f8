"""redis, requirer side, as redis-k8s's library (charms.redis_k8s.v0.redis) defines it.

The provider writes `hostname` (the current primary's address) and `port` into each of its units'
databags; an app databag `leader-host`, when present, names the primary and wins over `hostname`.
There is no password and no request: the requirer writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import ops

# Celery's broker and Indico's cache share one Redis, in separate databases, so that flushing the
# cache can never drop queued tasks.
BROKER_DB = 0
CACHE_DB = 1


@dataclass(frozen=True)
class RedisEndpoint:
    host: str
    port: int

    def url(self, db: int) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"redis://{host}:{self.port}/{db}"


def endpoint(relation: ops.Relation) -> RedisEndpoint | None:
    """Host and port from the same provider unit (the first, by name, that has both)."""
    leader_host = relation.data[relation.app].get("leader-host") if relation.app else None
    for unit in sorted(relation.units, key=lambda u: int(u.name.split("/")[1])):
        data = relation.data[unit]
        host, port = leader_host or data.get("hostname"), data.get("port", "")
        if host and port.isdigit():
            return RedisEndpoint(host=host, port=int(port))
    return None
