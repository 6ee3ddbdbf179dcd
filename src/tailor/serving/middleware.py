"""ASGI middleware in front of the API: body-size limit, field-naming 400s, ``GET /stats``."""

from __future__ import annotations

import json
from typing import Any

Scope = dict[str, Any]


async def _empty_json() -> dict[str, Any]:
    return {"type": "http.request", "body": b"{}", "more_body": False}


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` with 413 (declared length or streamed bytes), and
    rewrite BentoML's validation 400s so that ``error`` names the offending fields."""

    def __init__(self, app: Any, max_bytes: int = 16_384) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _reply(self, send: Any, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("method") == "GET" and scope["path"] == "/stats":
            scope = {**scope, "method": "POST", "headers": [(b"content-type", b"application/json")]}
            await self.app(scope, _empty_json, send)
            return
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_big = {"error": f"body: larger than {self.max_bytes} bytes"}
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reply(send, 413, too_big)
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
                await self._reply(send, 413, too_big)
                return
        body, replayed = b"".join(chunks), False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        state: dict[str, Any] = {}

        async def rewriting_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] == 400:
                state["start"] = message
                return
            if "start" in state and message["type"] == "http.response.body":
                state.setdefault("body", b"")
                state["body"] += message.get("body", b"")
                if message.get("more_body"):
                    return
                await self._send_400(send, state["start"], state["body"])
                return
            await send(message)

        await self.app(scope, replay, rewriting_send)

    async def _send_400(self, send: Any, start: dict[str, Any], body: bytes) -> None:
        try:
            payload = json.loads(body)
            if isinstance(payload, list) and len(payload) == 1:  # BentoML wraps some errors
                payload = payload[0]
            detail = payload.get("detail") if isinstance(payload, dict) else None
        except ValueError:
            payload, detail = None, None
        if isinstance(detail, list) and detail:
            fields = []
            for err in detail:
                loc = ".".join(str(p) for p in err.get("loc", [])) or "body"
                fields.append(f"{loc}: {err.get('msg', 'invalid')}")
            payload["error"] = "invalid request: " + "; ".join(fields)
        if isinstance(payload, dict):
            body = json.dumps(payload).encode()
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", b"%d" % len(body)))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})
