"""ASGI middleware in front of the API: what BentoML does not check before the route.

In order: the admin API key (401/403), the per-client rate limit of public endpoints (429
with Retry-After), ``GET`` for the read-only admin pages, the Content-Type of bodies (415:
BentoML would hand any other type to its JSON serde and answer 500), the body size (413),
and error bodies rewritten so that ``error`` names the offending fields. ``/docs.json`` is
completed with what this layer answers (see ``openapi.py``).
"""

from __future__ import annotations

import json
from typing import Any

from tailor.serving import openapi
from tailor.serving.guards import ApiKey, RateLimiter

Scope = dict[str, Any]
JSON = b"application/json"
CHALLENGES = [
    (b"www-authenticate", b'Bearer realm="tailor"'),
    (b"www-authenticate", b'Basic realm="tailor"'),
]


async def _empty_json() -> dict[str, Any]:
    return {"type": "http.request", "body": b"{}", "more_body": False}


async def reply(
    send: Any, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    data = json.dumps(body).encode()
    head = [(b"content-type", JSON), (b"content-length", b"%d" % len(data)), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": data})


def is_json(content_type: bytes | None) -> bool:
    return (content_type or b"").split(b";")[0].strip().lower() == JSON


class GuardMiddleware:
    def __init__(
        self,
        app: Any,
        api_key: ApiKey,
        limiter: RateLimiter,
        max_bytes: int = 16_384,
        admin: frozenset[str] = openapi.ADMIN,
        limited: frozenset[str] = openapi.PUBLIC,
        get_aliases: frozenset[str] = openapi.GET_ALIASES,
        routes: frozenset[str] = frozenset(openapi.ROUTES),
    ) -> None:
        self.app = app
        self.api_key, self.limiter, self.max_bytes = api_key, limiter, max_bytes
        self.admin, self.limited, self.get_aliases = admin, limited, get_aliases
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope.get("method")
        headers = dict(scope.get("headers") or [])
        if path == "/docs.json" and method == "GET":
            await self._docs(scope, receive, send)
            return
        if path in self.admin:
            refused = self.api_key.refusal(headers.get(b"authorization"))
            if refused is not None:
                status, message = refused
                extra = CHALLENGES if status == 401 else []
                await reply(send, status, {"error": message}, extra)
                return
        elif path in self.limited and self.limiter.enabled:
            client = (scope.get("client") or ("?", 0))[0]
            wait = self.limiter.retry_after(client)
            if wait:
                msg = {"error": f"rate limit: too many requests from {client}; retry in {wait} s"}
                await reply(send, 429, msg, [(b"retry-after", str(wait).encode())])
                return
        if path in self.get_aliases and method != "POST":
            if method != "GET":
                msg = {"error": f"method: {method} not allowed; use GET or POST"}
                await reply(send, 405, msg, [(b"allow", b"GET, POST")])
                return
            scope = {**scope, "method": "POST", "headers": [(b"content-type", JSON)]}
            await self.app(scope, _empty_json, self._rewriting(send))
            return
        if method != "POST" or path not in self.routes:
            await self.app(scope, receive, send)
            return
        if not is_json(headers.get(b"content-type")):
            got = headers.get(b"content-type", b"").decode("latin-1") or "none"
            await reply(send, 415, {"error": f"content-type: {got}; send application/json"})
            return
        await self._post(scope, receive, send, headers)

    async def _post(self, scope: Scope, receive: Any, send: Any, headers: dict) -> None:
        declared = headers.get(b"content-length")
        too_big = {"error": f"body: larger than {self.max_bytes} bytes"}
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await reply(send, 413, too_big)
            return
        chunks, seen, more = [], 0, True
        while more:  # buffer the (small) body so an oversize one never reaches the app
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            more = message.get("more_body", False)
            if seen > self.max_bytes:
                await reply(send, 413, too_big)
                return
        body, replayed = b"".join(chunks), False
        if not body.strip():
            await reply(send, 400, {"error": "body: empty; send a JSON object"})
            return

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, self._rewriting(send))

    def _rewriting(self, send: Any) -> Any:
        """A ``send`` that buffers 4xx bodies and rewrites them (see ``error_body``)."""
        state: dict[str, Any] = {}

        async def rewriting_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and 400 <= message["status"] < 500:
                state["start"], state["body"] = message, b""
                return
            if "start" in state and message["type"] == "http.response.body":
                state["body"] += message.get("body", b"")
                if message.get("more_body"):
                    return
                start, body = state.pop("start"), error_body(state.pop("body"))
                keep = [
                    (k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"
                ]
                keep.append((b"content-length", b"%d" % len(body)))
                await send({**start, "headers": keep})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        return rewriting_send

    async def _docs(self, scope: Scope, receive: Any, send: Any) -> None:
        parts: dict[str, Any] = {"body": b""}

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                parts["start"] = message
            else:
                parts["body"] += message.get("body", b"")

        await self.app(scope, receive, capture)
        if parts["start"]["status"] != 200:
            await send(parts["start"])
            await send({"type": "http.response.body", "body": parts["body"]})
            return
        spec = openapi.complete(json.loads(parts["body"]))
        await reply(send, 200, spec)


def error_body(body: bytes) -> bytes:
    """``{"error": "<what is wrong, naming the fields>", "detail": [...]}``; BentoML wraps some
    errors in a one-element list, and its validation message does not name the fields."""
    try:
        payload = json.loads(body)
    except ValueError:
        return json.dumps({"error": body.decode("utf-8", "replace") or "bad request"}).encode()
    if isinstance(payload, list) and len(payload) == 1:
        payload = payload[0]
    if not isinstance(payload, dict):
        return json.dumps({"error": "bad request", "detail": payload}).encode()
    detail = payload.get("detail")
    if isinstance(detail, list) and detail:
        fields = []
        for err in detail:
            if not isinstance(err, dict):
                continue
            loc = ".".join(str(p) for p in err.get("loc", []) if p != "body") or "body"
            fields.append(f"{loc}: {err.get('msg', 'invalid')}")
        payload["error"] = "invalid request: " + "; ".join(fields)
        payload["detail"] = [
            {k: v for k, v in err.items() if k in ("type", "loc", "msg")}
            for err in detail
            if isinstance(err, dict)
        ]
    elif detail is not None and not isinstance(detail, list):
        payload["detail"] = [{"msg": str(detail)}]
    payload["error"] = str(payload.get("error") or "bad request")
    return json.dumps(payload).encode()
