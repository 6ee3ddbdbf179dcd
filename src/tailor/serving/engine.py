"""Tailor's serving logic, independent of the HTTP framework: profiles, strategies, bandit.

The BentoML service is a thin shell over :class:`Engine`; the load benchmark and the tests
exercise the same code through real HTTP.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

import numpy as np

from tailor.serving import bandit, stats, strategies
from tailor.serving.artefacts import ANONYMOUS_SEGMENT, NEW_SEGMENT, ServingData
from tailor.serving.request_ids import BadRequest, NotFound, RequestIds, attribution, slug
from tailor.serving.schemas import (
    EventRequest,
    EventResponse,
    FeedbackRequest,
    FeedbackResponse,
    NextPurchaseResponse,
    RecommendedItem,
    RecommendRequest,
    RecommendResponse,
    SegmentResponse,
    SimilarResponse,
)
from tailor.serving.store import (
    Event,
    Feedback,
    ProfileStore,
    Retention,
    UserView,
    unavailable_errors,
)
from tailor.serving.strategies import LiveProfile, Scored
from tailor.serving.stream import EventLog, new_event_id
from tailor.serving.suppression import SuppressionList

log = logging.getLogger(__name__)

PURGE_EVERY = 1000  # writes between two retention sweeps over all users (per worker)


def retention_of(params: dict) -> Retention:
    """The store's bounds from the packaged serving parameters."""
    return Retention(
        max_events=int(params.get("retention_events", 500)),
        max_age_s=float(params.get("retention_days", 30)) * 86_400,
        hourly_days=float(params.get("stats_hourly_days", 14)),
        daily_days=float(params.get("stats_daily_days", 400)),
    )


@dataclass
class Decision:
    strategy: str
    segment: str
    reason: str


class Engine:
    def __init__(
        self,
        data: ServingData,
        store: ProfileStore,
        suppression: SuppressionList,
        seed: int | None = None,
        secret: bytes | None = None,
        log: EventLog | None = None,
    ) -> None:
        self.data = data
        self.store = store
        # With the event log (TAILOR_STREAM=1) /events and /feedback append to it and the
        # consumer (tailor.serving.consumer) applies them to the profiles.
        self.log = log
        self.suppression = suppression
        self.p = data.params
        self.prior = tuple(self.p["bandit_prior"])
        self.rng = np.random.default_rng(seed)
        self.segment_slugs = {
            slug(s): s
            for s in {u.segment for u in data.users.values()} | {NEW_SEGMENT, ANONYMOUS_SEGMENT}
        }
        self.ids = RequestIds(secret or store.secret(), store.retention.max_age_s)
        # A store reset must not make forgotten users personalisable again.
        store.suppress(sorted(suppression.ids()))
        store.purge(time.time())
        self._writes = 0

    # --- profiles -------------------------------------------------------------------------
    def personalizable(self, user_id: str, check_store: bool = True) -> bool:
        """False for users who withdrew consent or asked to be forgotten (the suppression
        list file, re-read when it changes, and the store's suppression set)."""
        info = self.data.users.get(user_id)
        if info is not None and not info.consent:
            return False
        if user_id in self.suppression:
            return False
        return not (check_store and self.store.is_suppressed(user_id))

    def forget(self, user_id: str) -> int:
        """Suppress first in the store (atomic with event writes), then in the list file the
        pipelines and the other workers read; returns the records deleted."""
        deleted = self.store.forget(user_id)
        self.suppression.add(user_id)
        return deleted

    def _wrote(self, now: float) -> None:
        self._writes += 1
        if self._writes % PURGE_EVERY == 0:
            self.store.purge(now)

    def _key(self, request_id: str | None) -> tuple[str, str] | None:
        """(segment, strategy) of a stored, already verified request id."""
        found = attribution(request_id)
        if found is None:
            return None
        strategy, seg = found
        return self.segment_slugs.get(seg, seg), strategy

    def verify(self, request_id: str, user_id: str) -> tuple[str, str]:
        """(segment, strategy) of a request id issued for ``user_id``, else ``NotFound``."""
        strategy, seg = self.ids.verify(request_id, user_id)
        if seg not in self.segment_slugs:
            raise NotFound(f"request_id: unknown segment '{seg}'")
        return self.segment_slugs[seg], strategy

    def live_profile(self, events: list[Event]) -> LiveProfile:
        """Purchases, cart and views of the user's newest events (oldest first)."""
        live = LiveProfile()
        for ev in reversed(events):
            row = self.data.item_index.get(ev.item_id) if ev.item_id else None
            if row is None:
                continue
            if ev.event_type == "purchase":
                live.purchased.add(row)
            elif ev.event_type == "add_to_cart" and row not in live.carted:
                live.carted.append(row)
            elif ev.event_type == "view" and row not in live.viewed:
                live.viewed.append(row)
        return live

    # --- /recommend -----------------------------------------------------------------------
    def _decide(
        self,
        req: RecommendRequest,
        known: bool,
        live: LiveProfile,
        segment: str,
        view: UserView | None,
        down: str | None,
    ) -> Decision:
        due = known and bool(strategies.due_items(self.data, req.user_id))
        if known:
            has_model = req.user_id in self.data.candidates
            arms = (["model"] if has_model else []) + ["content", "popularity"]
            arms += ["replenishment"] if due and has_model else []
        elif live.viewed or live.carted:
            arms = ["content"]  # a new visitor's first views: recommend from them
        else:
            arms = ["popularity"]
        if req.strategy is not None:
            if req.strategy in arms:
                return Decision(req.strategy, segment, "requested")
            return Decision(arms[0], segment, f"{req.strategy} unavailable for this user")
        if len(arms) == 1:
            why = "cold start" if not known else "only strategy available"
            return Decision(arms[0], segment, why)
        if view is None:  # no bandit state: the first strategy (the model where there is one)
            return Decision(arms[0], segment, f"{down}: {arms[0]} without live events")
        arm = bandit.choose(arms, view.counts, self.rng, self.prior)
        return Decision(arm, segment, f"Thompson sampling among {len(arms)} strategies")

    def recommend(self, req: RecommendRequest) -> RecommendResponse:
        """Top-k for ``req``. A store that cannot be reached degrades the answer to the batch
        profile, never to a 5xx: every store read comes before the scoring, so the answer is
        simply made again without them."""
        try:
            return self._recommend(req, None)
        except unavailable_errors() as exc:
            down = f"profile store unavailable ({type(exc).__name__})"
            log.warning("%s: /recommend answers without live events: %s", down, exc)
            return self._recommend(req, down)

    def _recommend(self, req: RecommendRequest, down: str | None) -> RecommendResponse:
        data, uid = self.data, req.user_id
        country = req.context.country if req.context else None
        info = data.users.get(uid)
        segment = info.segment if info else NEW_SEGMENT
        allowed = self.personalizable(uid, check_store=False)  # consent and the list file
        # Every store read of the request at once (one round trip on Redis), before scoring;
        # none for a user the local checks already refuse.
        view = (
            self.store.user_view(uid, self.p["live_events"], segment)
            if allowed and not down
            else None
        )
        # Without the store, the suppression list file still holds every forgotten user:
        # /forget writes the store first, so it fails while the store is down.
        if not allowed or (view and view.suppressed):
            scored = strategies.popularity(data, [("country", country)] if country else [])
            decision = Decision("popularity", ANONYMOUS_SEGMENT, "not personalized (no consent)")
            return self._answer(req, decision, scored, set(), LiveProfile())
        known = uid in data.candidates or info is not None
        live = self.live_profile(view.events) if view else LiveProfile()
        country = country or (info.country if info else None)
        decision = self._decide(req, known, live, segment, view, down)
        if down and down not in decision.reason:
            decision = Decision(decision.strategy, segment, f"{decision.reason}; {down}")
        scopes = [("segment", segment), ("country", country or "")]
        if decision.strategy == "model":
            scored = strategies.model(data, uid)
        elif decision.strategy == "content":
            scored = strategies.content(data, uid, live)
        elif decision.strategy == "replenishment":
            scored = strategies.replenishment(data, uid)
        else:
            scored = strategies.popularity(data, scopes if known else scopes[1:])
        exclude = set(live.purchased)
        due_rows = {row for row, _ in strategies.due_items(data, uid)} if known else set()
        if known:
            # past items come back only when due or when the served model (a mix of buying
            # again and discovering) proposes them; live purchases stay excluded
            keep = due_rows | (
                strategies.repeat_rows(data, uid) if decision.strategy == "model" else set()
            )
            exclude |= set(data.bought.get(uid, np.empty(0, np.int64)).tolist()) - keep
        if decision.strategy in ("model", "replenishment") and (live.viewed or live.carted):
            self._boost_live(scored, uid, live)
        if decision.strategy in ("model", "content") and due_rows:
            scored.ranked = None
            for row in due_rows:
                scored.scores[row] = max(float(scored.scores[row]), 0.0) + self.p["due_boost"]
                scored.reasons[row] = "due again soon"
        return self._answer(req, decision, scored, exclude, live)

    def _boost_live(self, scored: Scored, uid: str, live: LiveProfile) -> None:
        seeds = strategies.seeds_of(self.data, "", live)  # live signal only
        sim, seed_of = strategies.similar_to(self.data, seeds)
        boost = np.float32(self.p["view_boost"]) * sim
        pulled = sim > 0
        scored.scores[pulled] = np.maximum(scored.scores[pulled], 0) + boost[pulled]
        scored.ranked = None
        scored.similar.append((seed_of, "similar to {} you just viewed"))

    def _answer(
        self,
        req: RecommendRequest,
        decision: Decision,
        scored: Scored,
        exclude: set[int],
        live: LiveProfile,
    ) -> RecommendResponse:
        scores = scored.scores
        if scored.ranked is not None:
            top = _first(scored.ranked, exclude, req.k)
        else:
            if exclude:
                scores[list(exclude)] = strategies.NEG
            top = _top(scores, req.k)
        if len(top) < req.k:  # fill with global popularity
            fill = self.data.popularity.get(("global", ""))
            if fill is not None:
                have = set(top.tolist()) | exclude
                extra = [j for j in fill.idx.tolist() if j not in have][: req.k - len(top)]
                top = np.concatenate([top, np.asarray(extra, dtype=np.int64)])
        items = [
            RecommendedItem(
                item_id=str(self.data.item_ids[j]),
                title=self.data.titles[j],
                score=round(float(scores[j]), 6) if np.isfinite(scores[j]) else 0.0,
                reason=scored.reason(j, self.data.titles)
                if np.isfinite(scores[j])
                else "popular overall (fill)",
            )
            for j in top.tolist()
        ]
        return RecommendResponse(
            request_id=self.ids.make(req.user_id, decision.strategy, decision.segment),
            user_id=req.user_id,
            segment=decision.segment,
            strategy=decision.strategy,
            reason=decision.reason,
            items=items,
        )

    # --- other endpoints --------------------------------------------------------------------
    def similar(self, item_id: str, k: int) -> SimilarResponse:
        row = self.data.item_index.get(item_id)
        if row is None:
            return SimilarResponse(item_id=item_id, known=False, items=[])
        nb, sim = self.data.nb_idx[row], self.data.nb_sim[row]
        keep = [(j, s) for j, s in zip(nb.tolist(), sim.tolist(), strict=True) if s > 0][:k]
        items = [
            RecommendedItem(
                item_id=str(self.data.item_ids[j]),
                title=self.data.titles[j],
                score=round(float(s), 6),
                reason=f"similar text to {self.data.titles[row]}",
            )
            for j, s in keep
        ]
        return SimilarResponse(item_id=item_id, known=True, items=items)

    def segment(self, user_id: str) -> SegmentResponse:
        allowed = self.personalizable(user_id)
        info = self.data.users.get(user_id) if allowed else None
        if info is None:
            seg = NEW_SEGMENT if allowed else ANONYMOUS_SEGMENT
            return SegmentResponse(user_id=user_id, known=False, segment=seg, source="cold start")
        return SegmentResponse(
            user_id=user_id,
            known=True,
            segment=info.segment,
            cluster_id=info.cluster_id,
            cluster_label=info.cluster_label,
            rule_segment=info.rule_segment,
            source=self.data.sources.get("segments", "unknown"),
        )

    def next_purchase(self, user_id: str) -> NextPurchaseResponse:
        source = self.data.sources.get("next_purchase", "unknown")
        row = self.data.next_purchase.get(user_id) if self.personalizable(user_id) else None
        rep = self.data.replenishment.get(user_id) if row is not None else None
        if row is None:
            return NextPurchaseResponse(user_id=user_id, known=False, source=source)
        items = []
        if rep is not None:
            for r in rep.head(self.p["next_purchase_items"]).itertuples(index=False):
                items.append(
                    {
                        "item_id": str(r.item_id),
                        "title": self.data.titles[int(r.row)],
                        "due_date": str(np.datetime_as_string(np.datetime64(r.due_date), "D")),
                        "interval_days": float(r.interval_days),
                    }
                )
        date = row.get("predicted_date")
        return NextPurchaseResponse(
            user_id=user_id,
            known=True,
            expected_days=_num(row.get("expected_days")),
            p_buy_30d=_num(row.get("p_buy_30d")),
            predicted_date=None if date is None else str(date)[:10],
            replenishment=items,
            source=source,
        )

    def add_event(self, req: EventRequest) -> EventResponse:
        if not self.personalizable(req.user_id):
            return EventResponse(stored=False, known_item=None, reason="user not personalizable")
        if req.event_type != "search" and req.item_id is None:
            raise BadRequest(f"item_id: required for event_type '{req.event_type}'")
        key = None if req.request_id is None else self.verify(req.request_id, req.user_id)
        known_item = None if req.item_id is None else req.item_id in self.data.item_index
        now = time.time()
        event = Event(
            user_id=req.user_id,
            ts=req.ts.timestamp() if req.ts is not None else now,
            event_type=req.event_type,
            item_id=req.item_id,
            session_id=req.session_id,
            duration_s=req.duration_s,
            request_id=req.request_id,
            known_item=known_item is not False,
        )
        if self.log is not None:  # durable in the log; the consumer applies it
            event = replace(event, event_id=new_event_id())
            if self.log.append_event(event, event.event_id, now) is None:  # forgotten meanwhile
                return EventResponse(
                    stored=False, known_item=None, reason="user not personalizable"
                )
            return self._stored(known_item)
        last = self.store.recent_events(req.user_id, 1)
        prev = last[0] if last else None
        incrs, visits = stats.event_increments(
            event,
            key,
            prev,
            self._key(prev.request_id) if prev else None,
            self.store.visits(req.user_id),
            self.p,
            now,
        )
        if not self.store.add_event(event, incrs, visits, now):  # forgotten meanwhile
            return EventResponse(stored=False, known_item=None, reason="user not personalizable")
        self._wrote(now)
        return self._stored(known_item)

    def _stored(self, known_item: bool | None) -> EventResponse:
        if known_item is False:
            self.store.incr("unknown_item_events")
        return EventResponse(
            stored=True,
            known_item=known_item,
            reason="stored" if known_item is not False else "stored; item not in the catalog",
        )

    def feedback(self, req: FeedbackRequest) -> FeedbackResponse:
        segment, strategy = self.verify(req.request_id, req.user_id)
        if not self.personalizable(req.user_id):
            return FeedbackResponse(
                accepted=False, strategy=None, segment=None, reason="user not personalizable"
            )
        now = time.time()
        if self.log is not None:  # the log's append refuses a replay, atomically
            fb = Feedback(req.user_id, req.request_id, strategy, segment, req.event, now)
            ttl = int(self.store.retention.max_age_s) + 1
            if self.log.append_feedback(fb, new_event_id(), ttl) is None:
                return FeedbackResponse(
                    accepted=False,
                    strategy=strategy,
                    segment=segment,
                    reason="not counted: already counted for this request_id, or user forgotten",
                )
            return FeedbackResponse(
                accepted=True, strategy=strategy, segment=segment, reason="counted"
            )
        visits = self.store.visits(req.user_id)
        incrs, changed = stats.feedback_increments((segment, strategy), req.event, visits, now)
        fb = Feedback(req.user_id, req.request_id, strategy, segment, req.event, now)
        if not self.store.add_feedback(fb, incrs, changed, now):
            return FeedbackResponse(
                accepted=False,
                strategy=strategy,
                segment=segment,
                reason="not counted: already counted for this request_id, or user forgotten",
            )
        self._wrote(now)
        return FeedbackResponse(accepted=True, strategy=strategy, segment=segment, reason="counted")

    # --- statistics -----------------------------------------------------------------------
    def stats(self) -> dict:
        """/stats: all-time counters by (segment, strategy) and by strategy."""
        return stats.summary(self.store.counter_rows("all"), self.prior)

    def series(self, granularity: str, since: float) -> list[dict]:
        return stats.series(self.store.counter_rows(granularity, since), self.prior)


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    finite = np.flatnonzero(np.isfinite(scores))
    if len(finite) <= k:
        return finite[np.argsort(-scores[finite], kind="stable")]
    part = finite[np.argpartition(-scores[finite], k - 1)[:k]]
    return part[np.argsort(-scores[part], kind="stable")]


def _first(ranked: np.ndarray, exclude: set[int], k: int) -> np.ndarray:
    """The first ``k`` of ``ranked`` not in ``exclude`` (at most k + |exclude| looked at)."""
    head = ranked[: k + len(exclude)]
    if exclude:
        head = head[~np.isin(head, np.fromiter(exclude, np.int64, len(exclude)))]
    return head[:k]


def _num(value: object) -> float | None:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None
