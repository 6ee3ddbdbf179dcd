"""Request and response bodies of the HTTP service (pydantic; unknown fields are refused)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Id = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@+\-]+$")
Strategy = Literal["model", "content", "popularity", "replenishment"]
STRATEGIES: tuple[str, ...] = ("model", "content", "popularity", "replenishment")
EventType = Literal["view", "add_to_cart", "purchase", "search"]
FeedbackEvent = Literal["impression", "click", "conversion"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Context(Strict):
    """Where the request comes from; ``country`` helps cold start for unknown users."""

    channel: Literal["web", "app", "email"] | None = None
    device: Literal["desktop", "mobile", "tablet"] | None = None
    country: str | None = Field(None, min_length=1, max_length=64)


class RecommendRequest(Strict):
    user_id: str = Id
    k: int = Field(10, ge=1, le=100)
    context: Context | None = None
    strategy: Strategy | None = Field(
        None, description="Force one strategy (A/B tests, debugging); default: the bandit picks."
    )


class RecommendedItem(BaseModel):
    item_id: str
    title: str
    score: float
    reason: str


class RecommendResponse(BaseModel):
    request_id: str
    user_id: str
    segment: str
    strategy: str
    reason: str
    items: list[RecommendedItem]


class SimilarRequest(Strict):
    item_id: str = Id
    k: int = Field(10, ge=1, le=100)


class SimilarResponse(BaseModel):
    item_id: str
    known: bool
    items: list[RecommendedItem]


class UserRequest(Strict):
    user_id: str = Id


class SegmentResponse(BaseModel):
    user_id: str
    known: bool
    segment: str
    cluster_id: int | None = None
    cluster_label: str | None = None
    rule_segment: str | None = None
    source: str


class NextPurchaseResponse(BaseModel):
    user_id: str
    known: bool
    expected_days: float | None = None
    p_buy_30d: float | None = None
    predicted_date: str | None = None
    replenishment: list[dict[str, str | float | None]] = []
    source: str


class EventRequest(Strict):
    user_id: str = Id
    event_type: EventType
    item_id: str | None = Field(None, min_length=1, max_length=64)
    ts: datetime | None = Field(None, description="Event time (ISO 8601); default: now.")
    session_id: str | None = Field(None, min_length=1, max_length=64)
    duration_s: float | None = Field(None, ge=0, le=86_400, description="Dwell time of a view.")
    query: str | None = Field(None, max_length=200)
    request_id: str | None = Field(None, max_length=64, description="Recommendation shown.")

    @model_validator(mode="after")
    def _item_needed(self) -> EventRequest:
        if self.event_type != "search" and self.item_id is None:
            raise ValueError(f"item_id: required for event_type '{self.event_type}'")
        return self


class EventResponse(BaseModel):
    stored: bool
    known_item: bool | None
    reason: str


class FeedbackRequest(Strict):
    user_id: str = Id
    request_id: str = Field(
        min_length=1, max_length=64, description="The request_id /recommend answered with."
    )
    event: FeedbackEvent

    @model_validator(mode="after")
    def _issued_for_user(self) -> FeedbackRequest:
        from tailor.serving.request_ids import parse_request_id

        parse_request_id(self.request_id, self.user_id)  # ValueError names request_id
        return self


class FeedbackResponse(BaseModel):
    accepted: bool
    strategy: str | None
    segment: str | None
    reason: str


class ForgetResponse(BaseModel):
    user_id: str
    deleted_keys: int
    suppressed: bool


class Empty(Strict):
    """No parameters."""
