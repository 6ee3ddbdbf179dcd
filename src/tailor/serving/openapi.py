"""Completes BentoML's OpenAPI document with what the service really answers.

BentoML 1.4 flattens ``X | None`` to ``X`` in its schemas (clients would reject a null
that the service returns) and documents neither the middleware's answers (401/403 on admin
endpoints, 413, 415, 429 with Retry-After) nor the ``GET`` forms of /stats and /dashboard.
The request and response schemas are therefore taken from the pydantic models themselves
(one source of truth), and every status this service can answer is listed.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

from tailor.serving import schemas as s

ADMIN = frozenset({"/forget", "/stats", "/dashboard"})
PUBLIC = frozenset(
    {
        "/recommend", "/similar_items", "/segment", "/next_purchase", "/events", "/feedback",
        "/version",
    }
)  # fmt: skip
GET_ALIASES = frozenset({"/stats", "/dashboard", "/version"})
# route -> (request model, response model or None for HTML)
ROUTES: dict[str, tuple[type[BaseModel], type[BaseModel] | None]] = {
    "/recommend": (s.RecommendRequest, s.RecommendResponse),
    "/similar_items": (s.SimilarRequest, s.SimilarResponse),
    "/segment": (s.UserRequest, s.SegmentResponse),
    "/next_purchase": (s.UserRequest, s.NextPurchaseResponse),
    "/events": (s.EventRequest, s.EventResponse),
    "/feedback": (s.FeedbackRequest, s.FeedbackResponse),
    "/stats": (s.Empty, s.StatsResponse),
    "/version": (s.Empty, s.VersionResponse),
    "/forget": (s.UserRequest, s.ForgetResponse),
    "/dashboard": (s.Empty, None),
}
# Rules a model validator enforces, in JSON schema form (BentoML's own schema class refuses
# if/else, so they are added here): item_id is required unless event_type is search.
RULES = {
    "/events": {
        "if": {"properties": {"event_type": {"const": "search"}}},
        "else": {"required": ["item_id"], "properties": {"item_id": {"type": "string"}}},
    }
}
NOT_FOUND_ROUTES = frozenset({"/events", "/feedback"})  # unknown or forged request_id
ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "description": "What is wrong, naming the field."},
        "detail": {"type": "array", "items": {"type": "object"}},
    },
}
REF = "#/components/schemas/{model}"


def _schema(model: type[BaseModel], mode: str, components: dict[str, Any]) -> dict[str, Any]:
    """The model's JSON schema with its definitions moved into ``components``."""
    out = model.model_json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
    for name, definition in out.pop("$defs", {}).items():
        components[name] = definition
    return out


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
    }
    if headers:
        out["headers"] = headers
    return out


def _operation(route: str, old: dict[str, Any], components: dict[str, Any], body: bool) -> dict:
    request, response = ROUTES[route]
    op = copy.deepcopy(old)
    if response is None:
        ok = {"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}
    else:
        schema = _schema(response, "serialization", components)
        ok = {"description": "OK", "content": {"application/json": {"schema": schema}}}
    responses: dict[str, Any] = {"200": ok}
    if body:
        op["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {**_schema(request, "validation", components), **RULES.get(route, {})}
                }
            },
        }
        responses["400"] = _error("Malformed body or invalid field (named in `error`)")
        responses["413"] = _error("Body too large")
        responses["415"] = _error("Content-Type is not application/json")
    else:
        op.pop("requestBody", None)
    if route in NOT_FOUND_ROUTES:
        responses["404"] = _error("request_id not issued by this service for this user")
    if route in ADMIN:
        responses["401"] = _error(
            "No API key sent", {"WWW-Authenticate": {"schema": {"type": "string"}}}
        )
        responses["403"] = _error("Wrong API key, or none configured on the server")
        op["security"] = [{"bearer": []}]
    if route in PUBLIC:
        retry = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
        responses["429"] = _error("Rate limit for this client", retry)
    responses["500"] = _error("Unexpected error (see the server log)")
    op["responses"] = responses
    return op


def complete(spec: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    spec["openapi"] = "3.1.0"  # the pydantic schemas say null as JSON Schema 2020-12 does
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Error"] = ERROR
    components.setdefault("securitySchemes", {})["bearer"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "TAILOR_API_KEY of the server (admin endpoints)",
    }
    paths = spec.setdefault("paths", {})
    for route in ROUTES:
        old = paths.get(route, {}).get("post")
        if old is None:
            continue
        paths[route] = {"post": _operation(route, old, schemas, body=True)}
        if route in GET_ALIASES:
            paths[route]["get"] = _operation(route, old, schemas, body=False)
            paths[route]["get"]["operationId"] = f"{old.get('operationId', route)}_get"
    return spec
