"""Request and response bodies of the HTTP service (pydantic; unknown fields are refused).

Patterns use Python's ``re`` (the engine schemathesis generates from), and strings are not
stripped before validation, so what the OpenAPI schema accepts is exactly what is served.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

# Ids are text: digits and letters of any script (``00123``, ``NA``, ``Zoë`` are three ids).
Id = Field(min_length=1, max_length=64, pattern=r"^[\w.:@+\-]+$")
REQUEST_ID_PATTERN = r"^r[0-9a-f]{14}\.[a-z]+\.[A-Za-z0-9_]{1,20}\.[A-Za-z0-9_-]{22}$"
RequestId = Field(
    min_length=1,
    max_length=96,
    pattern=REQUEST_ID_PATTERN,
    description="The request_id /recommend answered with (signed; bound to the user).",
)


def _whole_number(value: object) -> object:
    """JSON Schema's integer: 3 and 3.0, not true or "3" (strict mode alone refuses 3.0)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Whole = Annotated[int, BeforeValidator(_whole_number)]
Strategy = Literal["model", "content", "popularity", "replenishment"]
STRATEGIES: tuple[str, ...] = ("model", "content", "popularity", "replenishment")
EventType = Literal["view", "add_to_cart", "purchase", "search"]
FeedbackEvent = Literal["impression", "click", "conversion"]


class Strict(BaseModel):
    # strict: no lax coercion (false is not 0.0, "10" is not 10), as the schema says
    model_config = ConfigDict(extra="forbid", regex_engine="python-re", strict=True)


class Context(Strict):
    """Where the request comes from; ``country`` helps cold start for unknown users."""

    channel: Literal["web", "app", "email"] | None = None
    device: Literal["desktop", "mobile", "tablet"] | None = None
    country: str | None = Field(None, min_length=1, max_length=64)


class RecommendRequest(Strict):
    user_id: str = Id
    k: Whole = Field(10, ge=1, le=100)
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
    k: Whole = Field(10, ge=1, le=100)


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
    request_id: str | None = Field(
        None,
        max_length=96,
        pattern=REQUEST_ID_PATTERN,
        description="The recommendation this event came from (attributes dwell time).",
    )

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
    request_id: str = RequestId
    event: FeedbackEvent


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


class Rates(BaseModel):
    """Counters of one strategy (or one segment x strategy) and the rates made from them."""

    impressions: int
    clicks: int
    conversions: int
    ctr: float | None
    conversion_rate: float | None
    dwell_s_mean: float | None = Field(description="Mean dwell time of attributed views (s).")
    dwell_s_sum: float = Field(description="Total dwell time of attributed views (s).")
    views: int = Field(description="Attributed views with a dwell time.")
    users: int = Field(description="Users shown this strategy for the first time.")
    returned_users: int = Field(description="Of those, users who came back.")
    repeat_visit_rate: float | None = Field(
        description="Share of those users who came back within repeat_window_days."
    )


class SegmentStrategyRates(Rates):
    segment: str
    strategy: str
    bandit_mean: float = Field(description="Posterior mean click-through (the bandit's view).")


class VersionResponse(BaseModel):
    """The registered MLflow model version behind the answers, and the packaged models."""

    model_name: str | None
    model_version: str | None
    alias: str | None
    run_id: str | None
    model_uri: str | None
    model_as_of: str | None
    candidate: str | None
    data_as_of: str
    bento_models: dict[str, str]


class GroupLag(BaseModel):
    lag: int | None = Field(description="Entries appended but not yet delivered to the group.")
    pending: int = Field(description="Entries delivered but not yet acknowledged.")
    oldest_unacked_age_s: float | None = Field(
        description="Age of the oldest entry the group has not acknowledged (s)."
    )


class StreamStats(BaseModel):
    """The event log (TAILOR_STREAM=1): its length, each consumer group's lag, throughput."""

    length: int
    groups: dict[str, GroupLag] = Field(description="profiles (live profiles), archive (lake).")
    applied_per_s: float = Field(description="Entries applied to profiles per second, last minute.")


class StatsResponse(BaseModel):
    by_strategy: dict[str, Rates]
    by_strategy_segment: list[SegmentStrategyRates]
    counters: dict[str, int]
    models: dict[str, str]
    stream: StreamStats | None = None
