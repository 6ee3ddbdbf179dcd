"""Request ids that carry their own attribution: feedback needs no request log.

``r<random>.<user hash prefix>.<strategy>.<segment slug>``: /feedback recovers the strategy
and segment a recommendation was served with, and refuses ids issued for another user.
"""

from __future__ import annotations

import re
import secrets

from tailor.serving.schemas import STRATEGIES
from tailor.serving.store.base import user_hash


class BadRequest(ValueError):
    """A request that is well-formed but not acceptable (answered with 4xx)."""


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[:20] or "x"


def make_request_id(user_id: str, strategy: str, segment: str) -> str:
    """``r<rand>.<user hash>.<strategy>.<segment slug>``: feedback needs no request log."""
    return f"r{secrets.token_hex(5)}.{user_hash(user_id)[:8]}.{strategy}.{slug(segment)}"


def parse_request_id(request_id: str, user_id: str) -> tuple[str, str]:
    parts = request_id.split(".")
    if len(parts) != 4 or parts[2] not in STRATEGIES:
        raise BadRequest("request_id: not a request id issued by /recommend")
    if parts[1] != user_hash(user_id)[:8]:
        raise BadRequest("request_id: issued for another user_id")
    return parts[2], parts[3]
