"""How fast one hospital key may ask: a token bucket per key, in each MTB process.

A key may ask MTB_ELIGIBILITY_PER_MINUTE times a minute (a burst of that many, refilled evenly); past it,
429 `rate_limited` with Retry-After. Counted before the key is even looked up, by its hash, so guessing
keys is limited too; the table of buckets is bounded (least recently used dropped). Per process, not
shared: with N processes a key gets up to N times the rate, which stays far below what would strain the
database, and costs no write per question on the settlement path.
"""

from __future__ import annotations

import math
from collections import OrderedDict

from mtb.errors import TooManyRequests
from mtb.timeutil import utcnow

MAX_KEYS = 10_000


class KeyRate:
    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.per_second = per_minute / 60
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def take(self, key: str) -> None:
        """One question for `key`, or TooManyRequests."""
        now = utcnow().timestamp()
        tokens, at = self._buckets.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + max(0.0, now - at) * self.per_second)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            wait = max(1, math.ceil((1 - tokens) / self.per_second))
            raise TooManyRequests("rate_limited", "查询过于频繁，请稍后再试",
                                  extra={"retry_after": wait}, headers={"Retry-After": str(wait)})
        self._buckets[key] = (tokens - 1, now)
        if len(self._buckets) > MAX_KEYS:
            self._buckets.popitem(last=False)
