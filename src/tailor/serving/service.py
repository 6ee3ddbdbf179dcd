"""The Tailor HTTP service (BentoML 1.4): recommendations with live profiles and a bandit.

Run: ``make package && make serve`` (``bentoml serve`` reads bentofile.yaml). Settings come
from the environment so the same bento runs anywhere: ``TAILOR_REDIS_URL`` (else SQLite at
``TAILOR_STORE_PATH``), ``TAILOR_SUPPRESSION_LIST``, ``TAILOR_WORKERS``,
``TAILOR_BANDIT_SEED``, ``TAILOR_ACCESS_LOG`` (1 = on; off by default), ``TAILOR_UNTRACED``
(paths that skip tracing); see docs/serving.md.
"""

from __future__ import annotations

import gc
import logging
import os
from pathlib import Path
from typing import Any

import bentoml
from bentoml.exceptions import InvalidArgument

from tailor.serving import artefacts, stats, suppression
from tailor.serving.engine import BadRequest, Engine
from tailor.serving.middleware import BodyLimitMiddleware
from tailor.serving.schemas import (
    Empty,
    EventRequest,
    EventResponse,
    FeedbackRequest,
    FeedbackResponse,
    ForgetResponse,
    NextPurchaseResponse,
    RecommendRequest,
    RecommendResponse,
    SegmentResponse,
    SimilarRequest,
    SimilarResponse,
    UserRequest,
)
from tailor.serving.store import open_store

log = logging.getLogger(__name__)


HOT = "/recommend,/similar_items,/segment,/next_purchase"


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@bentoml.service(
    name="tailor",
    workers=_env_int("TAILOR_WORKERS", 2),
    threads=_env_int("TAILOR_THREADS", 4),
    traffic={"timeout": 10, "max_concurrency": _env_int("TAILOR_MAX_CONCURRENCY", 256)},
    logging={"access": {"enabled": os.environ.get("TAILOR_ACCESS_LOG", "0") == "1"}},
    # BentoML's OpenTelemetry middleware costs about half the CPU of a /recommend even with
    # no exporter configured (bench/bench_serving.py): the hot read paths skip it unless
    # TAILOR_UNTRACED says otherwise ("" traces everything).
    tracing={"excluded_urls": [u for u in os.environ.get("TAILOR_UNTRACED", HOT).split(",") if u]},
)
class Tailor:
    """Models are referenced at class level so ``bentoml build`` packs them into the bento."""

    recommender = bentoml.models.BentoModel(f"{artefacts.RECOMMENDER}:latest")
    catalog = bentoml.models.BentoModel(f"{artefacts.CATALOG}:latest")
    profiles = bentoml.models.BentoModel(f"{artefacts.PROFILES}:latest")
    next_purchase_table = bentoml.models.BentoModel(f"{artefacts.NEXT_PURCHASE}:latest")

    def __init__(self) -> None:
        data = artefacts.load(
            Path(self.recommender.path),
            Path(self.catalog.path),
            Path(self.profiles.path),
            Path(self.next_purchase_table.path),
        )
        seed = os.environ.get("TAILOR_BANDIT_SEED")
        self.engine = Engine(data, open_store(), seed=None if seed is None else int(seed))
        # The loaded tables are long-lived: move them out of the collector's generations so a
        # full collection never rescans them in the middle of a request.
        gc.collect()
        gc.freeze()
        log.info("tailor ready: models %s", self.recommender.tag)

    def __is_ready__(self) -> bool:
        return self.engine.data.n_items > 0

    @bentoml.api(route="/recommend")
    async def recommend(self, req: RecommendRequest, /) -> RecommendResponse:
        """Top-k items for a user: the bandit's strategy, live profile applied, never 5xx for
        unknown users (cold start)."""
        return self.engine.recommend(req)

    @bentoml.api(route="/similar_items")
    async def similar_items(self, req: SimilarRequest, /) -> SimilarResponse:
        """Items with the most similar text (TF-IDF cosine); ``known: false`` for unknown ids."""
        return self.engine.similar(req.item_id, req.k)

    @bentoml.api(route="/segment")
    async def segment(self, req: UserRequest, /) -> SegmentResponse:
        """The user's segment (cluster and rule segment); ``new`` for unknown users."""
        return self.engine.segment(req.user_id)

    @bentoml.api(route="/next_purchase")
    async def next_purchase(self, req: UserRequest, /) -> NextPurchaseResponse:
        """Expected days to the next order, P(buy within 30 days), items due again."""
        return self.engine.next_purchase(req.user_id)

    @bentoml.api(route="/events")
    def events(self, req: EventRequest, /) -> EventResponse:
        """Append an event to the live profile; 200 only once it is durably stored."""
        try:
            return self.engine.add_event(req)
        except BadRequest as exc:
            raise InvalidArgument(str(exc)) from exc

    @bentoml.api(route="/feedback")
    def feedback(self, req: FeedbackRequest, /) -> FeedbackResponse:
        """Impression/click/conversion of a /recommend answer; updates the bandit."""
        try:
            return self.engine.feedback(req)
        except BadRequest as exc:
            raise InvalidArgument(str(exc)) from exc

    @bentoml.api(route="/stats")
    def stats(self, req: Empty, /) -> dict[str, Any]:
        """Impressions, CTR, conversion, dwell time and repeat visits by strategy and segment
        (also ``GET /stats``)."""
        store, data = self.engine.store, self.engine.data
        out = stats.compute(
            store.all_bandit_counts(),
            list(store.iter_events()),
            list(store.iter_feedback()),
            self.engine.segment_slugs,
            data.params,
        )
        out["counters"] = store.counters()
        out["models"] = {k: str(v) for k, v in data.sources.items()}
        return out

    @bentoml.api(route="/forget")
    def forget(self, req: UserRequest, /) -> ForgetResponse:
        """Delete the user's events and bandit history, suppress them from training and
        personalization."""
        deleted = self.engine.store.forget(req.user_id)
        suppression.append(req.user_id)
        return ForgetResponse(user_id=req.user_id, deleted_keys=deleted, suppressed=True)


Tailor.add_asgi_middleware(BodyLimitMiddleware, max_bytes=_env_int("TAILOR_MAX_BODY_BYTES", 16_384))
