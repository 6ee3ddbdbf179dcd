"""Who may call what: the admin API key and the per-client rate limit of public endpoints."""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import threading
import time


class ApiKey:
    """The admin endpoints' key (``TAILOR_API_KEY``); none configured = refused.

    Sent as ``Authorization: Bearer <key>`` (API clients) or as the password of HTTP Basic
    auth (a browser opening /dashboard asks for it; any user name)."""

    def __init__(self, key: str | None) -> None:
        self._key = key.encode() if key else None

    def refusal(self, authorization: bytes | None) -> tuple[int, str] | None:
        """``(status, message)`` if the request may not pass, else ``None``."""
        if self._key is None:
            return 403, "admin endpoints are disabled: no TAILOR_API_KEY is set on the server"
        if not authorization:
            return 401, "authorization: missing; send 'Authorization: Bearer <TAILOR_API_KEY>'"
        scheme, _, token = authorization.partition(b" ")
        token = token.strip()
        if scheme.lower() == b"basic":
            try:
                token = base64.b64decode(token, validate=True).partition(b":")[2]
            except (binascii.Error, ValueError):
                token = b""
        elif scheme.lower() != b"bearer":
            token = b""
        if not hmac.compare_digest(token, self._key):
            return 403, "authorization: invalid API key"
        return None


class RateLimiter:
    """Token bucket per client address: ``rate`` requests/s sustained, ``burst`` at once.

    Per worker process (no shared state on the hot path), so with N workers a client gets up
    to N x ``rate``; ``rate <= 0`` turns it off. Idle clients are dropped past ``max_clients``.
    """

    def __init__(self, rate: float, burst: float, max_clients: int = 100_000) -> None:
        self.rate, self.burst, self.max_clients = rate, max(burst, 1.0), max_clients
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, last time)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def retry_after(self, client: str, now: float | None = None) -> int:
        """0 if the request may pass (a token is taken), else seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                if len(self._buckets) > self.max_clients:
                    self._evict(now)
                return 0
            self._buckets[client] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self.rate))

    def _evict(self, now: float) -> None:
        full = self.burst / self.rate  # a client idle this long has a full bucket again
        self._buckets = {c: v for c, v in self._buckets.items() if now - v[1] < full}
