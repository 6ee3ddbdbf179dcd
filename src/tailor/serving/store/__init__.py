"""Profile stores: SQLite by default, Redis when ``TAILOR_REDIS_URL`` is set."""

from __future__ import annotations

import os
from pathlib import Path

from tailor.serving.store.base import (
    CounterRow,
    Event,
    Feedback,
    Incr,
    ProfileStore,
    Retention,
    UserView,
    Visit,
    unavailable_errors,
    user_hash,
)

DEFAULT_SQLITE_PATH = "data/serving/profile_store.sqlite"


def open_store(
    redis_url: str | None = None,
    sqlite_path: str | Path | None = None,
    retention: Retention | None = None,
) -> ProfileStore:
    """The store the environment asks for: ``TAILOR_REDIS_URL`` wins, else SQLite at
    ``TAILOR_STORE_PATH`` (default ``data/serving/profile_store.sqlite``)."""
    url = redis_url or os.environ.get("TAILOR_REDIS_URL")
    if url:
        from tailor.serving.store.redis_store import RedisStore

        prefix = os.environ.get("TAILOR_REDIS_PREFIX", "tailor:")
        return RedisStore(url, prefix=prefix, retention=retention)
    from tailor.serving.store.sqlite_store import SQLiteStore

    path = sqlite_path or os.environ.get("TAILOR_STORE_PATH", DEFAULT_SQLITE_PATH)
    return SQLiteStore(path, retention=retention)


__all__ = [
    "CounterRow",
    "Event",
    "Feedback",
    "Incr",
    "ProfileStore",
    "Retention",
    "UserView",
    "Visit",
    "open_store",
    "unavailable_errors",
    "user_hash",
]
