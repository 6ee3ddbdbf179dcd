"""Tailor's serving logic, independent of the HTTP framework: profiles, strategies, bandit.

The BentoML service is a thin shell over :class:`Engine`; the load benchmark and the tests
exercise the same code through real HTTP.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from tailor.serving import bandit, strategies
from tailor.serving.artefacts import ANONYMOUS_SEGMENT, NEW_SEGMENT, ServingData
from tailor.serving.request_ids import BadRequest, make_request_id, parse_request_id, slug
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
from tailor.serving.store import Event, Feedback, ProfileStore
from tailor.serving.strategies import LiveProfile, Scored


@dataclass
class Decision:
    strategy: str
    segment: str
    reason: str


class Engine:
    def __init__(self, data: ServingData, store: ProfileStore, seed: int | None = None) -> None:
        self.data = data
        self.store = store
        self.p = data.params
        self.rng = np.random.default_rng(seed)
        self.segment_slugs = {
            slug(s): s for s in {u.segment for u in data.users.values()} | {NEW_SEGMENT}
        }

    # --- profiles -------------------------------------------------------------------------
    def personalizable(self, user_id: str) -> bool:
        """False for users who withdrew consent or asked to be forgotten."""
        info = self.data.users.get(user_id)
        if info is not None and not info.consent:
            return False
        return not self.store.is_suppressed(user_id)

    def live_profile(self, user_id: str) -> LiveProfile:
        live = LiveProfile()
        for ev in reversed(self.store.recent_events(user_id, self.p["live_events"])):
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
        self, req: RecommendRequest, known: bool, live: LiveProfile, segment: str
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
        counts = self.store.bandit_counts(segment)
        arm = bandit.choose(arms, counts, self.rng, tuple(self.p["bandit_prior"]))
        return Decision(arm, segment, f"Thompson sampling among {len(arms)} strategies")

    def recommend(self, req: RecommendRequest) -> RecommendResponse:
        data, uid = self.data, req.user_id
        country = req.context.country if req.context else None
        if not self.personalizable(uid):
            scored = strategies.popularity(data, [("country", country)] if country else [])
            decision = Decision("popularity", ANONYMOUS_SEGMENT, "not personalized (no consent)")
            return self._answer(req, decision, scored, set(), LiveProfile())
        info = data.users.get(uid)
        known = uid in data.candidates or info is not None
        live = self.live_profile(uid)
        segment = info.segment if info else NEW_SEGMENT
        country = country or (info.country if info else None)
        decision = self._decide(req, known, live, segment)
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
            exclude |= set(data.bought.get(uid, np.empty(0, np.int64)).tolist()) - due_rows
        if decision.strategy in ("model", "replenishment") and (live.viewed or live.carted):
            self._boost_live(scored, uid, live)
        if decision.strategy in ("model", "content"):
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
        for j, s in seed_of.items():
            scored.reasons[j] = f"similar to {self.data.titles[s]} you just viewed"

    def _answer(
        self,
        req: RecommendRequest,
        decision: Decision,
        scored: Scored,
        exclude: set[int],
        live: LiveProfile,
    ) -> RecommendResponse:
        scores = scored.scores
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
                reason=scored.reasons.get(j, scored.default_reason)
                if np.isfinite(scores[j])
                else "popular overall (fill)",
            )
            for j in top.tolist()
        ]
        return RecommendResponse(
            request_id=make_request_id(req.user_id, decision.strategy, decision.segment),
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
        info = self.data.users.get(user_id) if self.personalizable(user_id) else None
        if info is None:
            seg = NEW_SEGMENT if self.personalizable(user_id) else ANONYMOUS_SEGMENT
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
        known_item = None if req.item_id is None else req.item_id in self.data.item_index
        ts = req.ts.timestamp() if req.ts is not None else time.time()
        self.store.add_event(
            Event(
                user_id=req.user_id,
                ts=ts,
                event_type=req.event_type,
                item_id=req.item_id,
                session_id=req.session_id,
                duration_s=req.duration_s,
                request_id=req.request_id,
                known_item=known_item is not False,
            )
        )
        if known_item is False:
            self.store.incr("unknown_item_events")
        return EventResponse(
            stored=True,
            known_item=known_item,
            reason="stored" if known_item is not False else "stored; item not in the catalog",
        )

    def feedback(self, req: FeedbackRequest) -> FeedbackResponse:
        strategy, slug = parse_request_id(req.request_id, req.user_id)
        if not self.personalizable(req.user_id):
            return FeedbackResponse(
                accepted=False, strategy=None, segment=None, reason="user not personalizable"
            )
        segment = self.segment_slugs.get(slug, slug)
        self.store.add_feedback(
            Feedback(req.user_id, req.request_id, strategy, segment, req.event, time.time())
        )
        return FeedbackResponse(accepted=True, strategy=strategy, segment=segment, reason="counted")


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    finite = np.flatnonzero(np.isfinite(scores))
    if len(finite) <= k:
        return finite[np.argsort(-scores[finite], kind="stable")]
    part = finite[np.argpartition(-scores[finite], k - 1)[:k]]
    return part[np.argsort(-scores[part], kind="stable")]


def _num(value: object) -> float | None:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None
