"""The Tailor HTTP service (BentoML 1.4): recommendations with live profiles and a bandit.

Run: ``make package && make serve`` (``bentoml serve`` reads bentofile.yaml). Settings come
from the environment so the same bento runs anywhere: ``TAILOR_API_KEY`` (admin endpoints),
``TAILOR_RATE_LIMIT``/``TAILOR_RATE_BURST``, ``TAILOR_REQUEST_SECRET``, ``TAILOR_REDIS_URL``
(else SQLite at ``TAILOR_STORE_PATH``), ``TAILOR_SUPPRESSION_LIST``, ``TAILOR_WORKERS``,
``TAILOR_BANDIT_SEED``, ``TAILOR_ACCESS_LOG`` (1 = on; off by default), ``TAILOR_UNTRACED``
(paths that skip tracing); see docs/serving.md.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from pathlib import Path
from typing import Any

import bentoml
from bentoml.exceptions import InvalidArgument
from starlette.responses import HTMLResponse

from tailor.serving import artefacts, dashboard
from tailor.serving.engine import Engine, retention_of
from tailor.serving.guards import ApiKey, RateLimiter
from tailor.serving.middleware import GuardMiddleware
from tailor.serving.request_ids import BadRequest, NotFound
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
    StatsResponse,
    StreamStats,
    UserRequest,
    VersionResponse,
)
from tailor.serving.store import open_store, unavailable_errors
from tailor.serving.stream import open_log
from tailor.serving.suppression import SuppressionList

log = logging.getLogger(__name__)


HOT = "/recommend,/similar_items,/segment,/next_purchase"
REGISTRY_FIELDS = (
    "model_name", "model_version", "alias", "run_id", "model_uri", "model_as_of", "candidate",
)  # fmt: skip
MODEL_KEYS = ("recommender", "catalog", "profiles", "next_purchase")


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
        secret = os.environ.get("TAILOR_REQUEST_SECRET")
        store = open_store(retention=retention_of(data.params))
        self.engine = Engine(
            data,
            store,
            SuppressionList(),
            seed=None if seed is None else int(seed),
            secret=secret.encode() if secret else None,  # else one kept in the store
            log=open_log(store),  # TAILOR_STREAM=1: /events and /feedback go to the log
        )
        # The loaded tables are long-lived: move them out of the collector's generations so a
        # full collection never rescans them in the middle of a request.
        gc.collect()
        gc.freeze()
        log.info("tailor ready: models %s", self.recommender.tag)

    def __is_ready__(self) -> bool:
        return self.engine.data.n_items > 0

    # /recommend runs on the event loop: its store reads are sub-millisecond (SQLite WAL
    # reads, Redis on loopback with a bounded socket timeout) and the thread-pool hop cost
    # more than they do (bench/bench_serving.py, quiet machine: 1.29x vs 1.13x and 0.95x vs
    # 0.76x the bare FastAPI at 32). TAILOR_RECOMMEND_ON_LOOP=0 moves it to the thread pool.
    # The other store-touching endpoints (writes) are sync: BentoML runs them in its pool.
    if os.environ.get("TAILOR_RECOMMEND_ON_LOOP", "1") == "1":

        @bentoml.api(route="/recommend")
        async def recommend(self, req: RecommendRequest, /) -> RecommendResponse:
            """Top-k items for a user: the bandit's strategy, live profile applied, never
            5xx for unknown users (cold start)."""
            return self.engine.recommend(req)

    else:

        @bentoml.api(route="/recommend")
        def recommend(self, req: RecommendRequest, /) -> RecommendResponse:
            """Top-k items for a user: the bandit's strategy, live profile applied, never
            5xx for unknown users (cold start)."""
            return self.engine.recommend(req)

    @bentoml.api(route="/similar_items")
    async def similar_items(self, req: SimilarRequest, /) -> SimilarResponse:
        """Items with the most similar text (TF-IDF cosine); ``known: false`` for unknown ids."""
        return self.engine.similar(req.item_id, req.k)

    @bentoml.api(route="/segment")
    def segment(self, req: UserRequest, /) -> SegmentResponse:
        """The user's segment (cluster and rule segment); ``new`` for unknown users."""
        return self.engine.segment(req.user_id)

    @bentoml.api(route="/next_purchase")
    def next_purchase(self, req: UserRequest, /) -> NextPurchaseResponse:
        """Expected days to the next order, P(buy within 30 days), items due again."""
        return self.engine.next_purchase(req.user_id)

    @bentoml.api(route="/events")
    def events(self, req: EventRequest, /) -> EventResponse:
        """Append an event to the live profile; 200 only once it is durably stored."""
        return _answer(self.engine.add_event, req)

    @bentoml.api(route="/feedback")
    def feedback(self, req: FeedbackRequest, /) -> FeedbackResponse:
        """Impression/click/conversion of a /recommend answer (signed request id, counted once
        per request id and event); updates the bandit."""
        return _answer(self.engine.feedback, req)

    @bentoml.api(route="/stats")
    def stats(self, req: Empty, /) -> StatsResponse:
        """Impressions, CTR, conversion, dwell time and repeat visits by strategy and segment,
        all time, from counters kept on write (also ``GET /stats``; API key)."""
        log_ = self.engine.log
        return StatsResponse(
            **self.engine.stats(),
            counters=self.engine.store.counters(),
            models=self._models(),
            stream=None if log_ is None else StreamStats(**log_.info()),
        )

    @bentoml.api(route="/version")
    def version(self, req: Empty, /) -> VersionResponse:
        """The registered MLflow model version (and run) whose answers this service gives,
        and the packaged BentoML model tags (also ``GET /version``; public)."""
        reg = self.engine.data.registry
        return VersionResponse(
            **{k: None if reg.get(k) is None else str(reg[k]) for k in REGISTRY_FIELDS},
            data_as_of=str(self.engine.data.as_of),
            bento_models={k: v for k, v in self._models().items() if k in MODEL_KEYS},
        )

    @bentoml.api(route="/forget")
    def forget(self, req: UserRequest, /) -> ForgetResponse:
        """Delete the user's events and feedback and suppress them from personalisation and
        from the next training run (API key)."""
        deleted = _answer(self.engine.forget, req.user_id)  # 503 while the store is down
        return ForgetResponse(user_id=req.user_id, deleted_keys=deleted, suppressed=True)

    @bentoml.api(route="/dashboard")
    def dashboard(self, req: Empty, /) -> str:
        """CTR, conversion, dwell time and repeat visits by strategy and segment over time,
        and the bandit's posterior per segment, as a self-contained HTML page that reloads
        itself (also ``GET /dashboard``; API key)."""
        now = time.time()
        hours, days = _env_int("TAILOR_DASHBOARD_HOURS", 48), _env_int("TAILOR_DASHBOARD_DAYS", 30)
        store = self.engine.store
        page = dashboard.render(
            self.engine.stats(),
            store.counter_rows("hour", since=now - hours * 3600),
            store.counter_rows("day", since=now - days * 86_400),
            self.engine.prior,
            now,
            hours,
            days,
            _env_int("TAILOR_DASHBOARD_REFRESH_S", 30),
            stream=None if self.engine.log is None else self.engine.log.info(now),
        )
        return HTMLResponse(page)  # type: ignore[return-value]  # BentoML passes it through

    def _models(self) -> dict[str, str]:
        """Model tags and where optional tables came from (no filesystem paths)."""
        sources = self.engine.data.sources
        out = {
            "recommender": str(self.recommender.tag),
            "catalog": str(self.catalog.tag),
            "profiles": str(self.profiles.tag),
            "next_purchase": str(self.next_purchase_table.tag),
        }
        for name in ("segments", "next_purchase_source", "replenishment"):
            key = "next_purchase" if name == "next_purchase_source" else name
            if key in sources:
                out[name] = str(sources[key])
        return out


def _answer(call: Any, req: Any) -> Any:
    """Engine errors as HTTP answers: 400 for bad input, 404 for unknown request ids, 503
    when the profile store cannot be reached (the write was not acknowledged: retry)."""
    try:
        return call(req)
    except BadRequest as exc:
        raise InvalidArgument(str(exc)) from exc
    except NotFound as exc:
        raise bentoml.exceptions.NotFound(str(exc)) from exc
    except unavailable_errors() as exc:
        raise bentoml.exceptions.ServiceUnavailable(
            f"profile store unavailable ({type(exc).__name__}): not acknowledged, retry later"
        ) from exc


Tailor.add_asgi_middleware(
    GuardMiddleware,
    api_key=ApiKey(os.environ.get("TAILOR_API_KEY")),
    limiter=RateLimiter(
        rate=float(os.environ.get("TAILOR_RATE_LIMIT", 20)),
        burst=float(os.environ.get("TAILOR_RATE_BURST", 40)),
    ),
    max_bytes=_env_int("TAILOR_MAX_BODY_BYTES", 16_384),
)
