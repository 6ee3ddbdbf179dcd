"""Signed request ids that carry their own attribution: feedback needs no request log.

``r<issued, hex><random>.<strategy>.<segment slug>.<signature>``: the signature is an
HMAC-SHA256 (server secret) over the id's fields and the user id, so an id cannot be made
up, altered (another strategy or segment) or reused for another user; ``issued`` bounds
its age, which bounds how long the store must remember which ids were already counted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time

from tailor.serving.schemas import STRATEGIES


class BadRequest(ValueError):
    """A request that is well-formed but not acceptable (answered with 400)."""


class NotFound(LookupError):
    """A request that names something this service never issued (answered with 404)."""


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[:20] or "x"


class RequestIds:
    def __init__(self, secret: bytes, max_age_s: float) -> None:
        self._secret = secret
        self.max_age_s = max_age_s

    def _sign(self, head: str, user_id: str, strategy: str, segment_slug: str) -> str:
        msg = "\x1f".join((head, user_id, strategy, segment_slug)).encode()
        digest = hmac.new(self._secret, msg, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def make(self, user_id: str, strategy: str, segment: str, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        head = f"r{issued:08x}{secrets.token_hex(3)}"
        seg = slug(segment)
        return f"{head}.{strategy}.{seg}.{self._sign(head, user_id, strategy, seg)}"

    def verify(self, request_id: str, user_id: str, now: float | None = None) -> tuple[str, str]:
        """``(strategy, segment slug)`` of an id this server issued for ``user_id``;
        ``NotFound`` naming ``request_id`` otherwise (forged, altered, other user, expired)."""
        parts = request_id.split(".")
        if len(parts) != 4 or parts[1] not in STRATEGIES or len(parts[0]) != 15:
            raise NotFound("request_id: not a request id issued by /recommend")
        head, strategy, seg, sig = parts
        if not hmac.compare_digest(sig, self._sign(head, user_id, strategy, seg)):
            raise NotFound("request_id: not issued by this service for this user_id")
        try:
            issued = int(head[1:9], 16)
        except ValueError:
            raise NotFound("request_id: not a request id issued by /recommend") from None
        age = (time.time() if now is None else now) - issued
        if not -60 <= age <= self.max_age_s:
            raise NotFound(f"request_id: expired (issued {age:.0f} s ago)")
        return strategy, seg


def attribution(request_id: str | None) -> tuple[str, str] | None:
    """``(strategy, segment slug)`` of an already verified id, without checking it again."""
    parts = (request_id or "").split(".")
    return (parts[1], parts[2]) if len(parts) == 4 else None
