"""Repeat-aware candidates and the mixed served list on planted purchase cycles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tailor.metrics import lists_from_frame
from tailor.recommenders.due_again import DueAgainRecommender
from tailor.recommenders.ease import EaseRecommender
from tailor.recommenders.mixed import MixedRecommender, merge, mix_weights, repeat_counts
from tailor.recommenders.ptopfreq import PTopFreqRecommender
from tailor.recommenders.repeat_ranker import RepeatRankerRecommender
from tailor.recommenders.tifu_knn import TifuKnnRecommender

END = pd.Timestamp("2024-12-31")


def cycles(n_users: int = 30, seed: int = 0) -> pd.DataFrame:
    """Each user buys 'cyc<u % 3>' every 14 days over the last 5 months (last purchase 14
    days before the end: due now), bought 'old<u % 5>' three times in one week 500 days ago,
    and one random filler item per cycle order."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for n, day in enumerate(range(150, 13, -14)):
            ts = END - pd.Timedelta(days=day)
            order = f"u{u}-c{n}"
            rows.append((f"u{u}", f"cyc{u % 3}", order, ts))
            rows.append((f"u{u}", f"fill{int(rng.integers(0, 20))}", order, ts))
        for n in range(3):
            ts = END - pd.Timedelta(days=500 - n * 2)
            rows.append((f"u{u}", f"old{u % 5}", f"u{u}-o{n}", ts))
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "order_id", "ts"])
    return df.assign(quantity=1, unit_price=1.0)


@pytest.fixture(scope="module")
def shop() -> pd.DataFrame:
    return cycles()


def _rank(recs: pd.DataFrame, user: str, item: str) -> int:
    row = recs[(recs["user_id"] == user) & (recs["item_id"] == item)]
    assert len(row) == 1, f"{item} not in {user}'s list"
    return int(row["rank"].iloc[0])


@pytest.mark.parametrize(
    "model",
    [
        PTopFreqRecommender(half_life_days=90),
        DueAgainRecommender(),
        TifuKnnRecommender(neighbours=5),
        RepeatRankerRecommender(label_days=30),
    ],
    ids=["ptopfreq", "due_again", "tifu_knn", "repeat_ranker"],
)
def test_items_due_again_rank_above_items_bought_once_long_ago(shop, model) -> None:
    """'old' was bought in 3 orders 500 days ago, 'cyc' in 11 orders every 14 days and is
    due now: every repeat-aware candidate ranks the cycle item above the old one."""
    fitted = model.fit(shop)
    users = sorted(shop["user_id"].unique())
    recs = fitted.recommend(users, 40, exclude=False)
    for u in users:
        n = int(u[1:])
        assert _rank(recs, u, f"cyc{n % 3}") < _rank(recs, u, f"old{n % 5}")
    # past items first, before anything the user never bought (P-TopFreq, due again)
    if not isinstance(model, TifuKnnRecommender):
        first = recs[recs["rank"] <= 2]
        bought = set(zip(shop["user_id"], shop["item_id"], strict=True))
        assert all(
            (u, i) in bought for u, i in zip(first["user_id"], first["item_id"], strict=True)
        )


def test_repeat_ranker_learns_which_items_are_bought_again() -> None:
    """100 regular customers buy a new gift every week and their refill every 35 days; 40
    newcomers bought their refill once 40 days ago and a new gift every week since.
    Gifts are never bought twice, refills always are: the ranker, trained on the
    regulars' last 30 days, ranks a newcomer's refill first; TIFU-KNN, which only sees
    the newcomer's own recency, ranks last week's gift first."""
    rng = np.random.default_rng(0)
    rows = []

    def weekly(user: str, weeks: int) -> None:
        for n, gift in enumerate(rng.choice(1000, weeks, replace=False)):
            rows.append((user, f"gift{gift}", f"{user}-w{n}", END - pd.Timedelta(days=7 * n)))

    for u in range(100):
        weekly(f"u{u}", 30)
        for day in range(210 - u % 35, -1, -35):
            ts = END - pd.Timedelta(days=day, hours=1)
            rows.append((f"u{u}", f"refill{u % 5}", f"u{u}-r{day}", ts))
    for u in range(40):
        weekly(f"n{u}", 8)
        rows.append((f"n{u}", f"refill{u % 5}", f"n{u}-r", END - pd.Timedelta(days=40)))
    shop = pd.DataFrame(rows, columns=["user_id", "item_id", "order_id", "ts"])
    newcomers = [f"n{u}" for u in range(40)]
    ranker = RepeatRankerRecommender(label_days=30).fit(shop)
    assert ranker.coef is not None  # learned, not the TIFU-KNN fallback
    top = ranker.recommend(newcomers, 1, exclude=False)
    assert top["item_id"].tolist() == [f"refill{u % 5}" for u in range(40)]
    tifu = TifuKnnRecommender().fit(shop).recommend(newcomers, 1, exclude=False)
    assert tifu["item_id"].str.startswith("gift").all()


def test_due_again_puts_the_due_item_above_a_more_frequent_one_not_due() -> None:
    """'daily' was bought on 20 days in a row 200 days ago (interval 1 day, long overdue:
    not due); 'monthly' every 30 days, last 30 days ago (due now): due first; P-TopFreq
    without decay ranks by count (daily first)."""
    rows = [("u", "daily", f"d{i}", END - pd.Timedelta(days=220 - i)) for i in range(20)]
    rows += [("u", "monthly", f"m{i}", END - pd.Timedelta(days=30 * i)) for i in range(1, 5)]
    rows += [("v", "x", "v1", END)]
    shop = pd.DataFrame(rows, columns=["user_id", "item_id", "order_id", "ts"])
    due = DueAgainRecommender(overdue_days=30).fit(shop).recommend(["u"], 2, exclude=False)
    assert due["item_id"].tolist() == ["monthly", "daily"]
    freq = PTopFreqRecommender().fit(shop).recommend(["u"], 2, exclude=False)
    assert freq["item_id"].tolist() == ["daily", "monthly"]


def test_ptopfreq_decay_prefers_recent_orders() -> None:
    """'a' in 3 orders 400 days ago, 'b' in 2 orders last week: counts say a, decay says b."""
    rows = [("u", "a", f"a{i}", END - pd.Timedelta(days=400 + i)) for i in range(3)]
    rows += [("u", "b", f"b{i}", END - pd.Timedelta(days=7 + i)) for i in range(2)]
    rows += [("v", "c", "c1", END), ("v", "c", "c2", END), ("w", "c", "c3", END)]
    shop = pd.DataFrame(rows, columns=["user_id", "item_id", "order_id", "ts"])
    plain = PTopFreqRecommender().fit(shop).recommend(["u"], 3, exclude=False)
    decayed = PTopFreqRecommender(half_life_days=90).fit(shop).recommend(["u"], 3, exclude=False)
    assert plain["item_id"].tolist() == ["a", "b", "c"]  # c: the popularity fill
    assert decayed["item_id"].tolist() == ["b", "a", "c"]


def test_merge_by_hand() -> None:
    """rrf_k 1: repeat ranks 1, 2 score w/2, w/3; explore ranks 1, 2 score (1-w)/2, (1-w)/3.
    w = 0.8: r1 .4, r2 .267, e1 .1, e2 .067; w = 0.2: e1 .4, e2 .267, r1 .1, r2 .067."""
    rep = pd.DataFrame({"user_id": ["u", "u", "v", "v"], "rank": [1, 2, 1, 2],
                        "item_id": ["r1", "r2", "r1", "r2"]})  # fmt: skip
    exp = pd.DataFrame({"user_id": ["u", "u", "v", "v"], "rank": [1, 2, 1, 2],
                        "item_id": ["e1", "e2", "e1", "r1"]})  # fmt: skip
    out = merge(exp, rep, ["u", "v"], np.array([0.8, 0.2]), 1.0)
    lists = lists_from_frame(out)
    assert lists["u"] == ["r1", "r2", "e1", "e2"]
    # v: e1 .4, then r1 as explore rank 2 (.267) beats its repeat score (.1): counted once
    assert lists["v"] == ["e1", "r1", "r2"]
    assert out[out["user_id"] == "u"]["score"].tolist() == pytest.approx(
        [0.4, 0.8 / 3, 0.1, 0.2 / 3]
    )


def test_repeat_propensity_is_the_users_own_rate_shrunk_to_the_shop() -> None:
    """u: orders {a}, {a, b}, {a}: after the first order 3 lines, 2 repeats; v: {c}, {d}:
    1 line, 0 repeats; shop rate 2/4. shrink 2: u (2 + 1) / (3 + 2) = 0.6, v 1/3."""
    rows = [("u", "a", "1", 1), ("u", "a", "2", 2), ("u", "b", "2", 2), ("u", "a", "3", 3),
            ("v", "c", "4", 1), ("v", "d", "5", 2)]  # fmt: skip
    lines = pd.DataFrame(rows, columns=["user_id", "item_id", "order_id", "day"])
    lines["ts"] = END + pd.to_timedelta(lines.pop("day"), unit="D")
    counts = repeat_counts(lines)
    assert counts.loc["u"].tolist() == [3.0, 2.0] and counts.loc["v"].tolist() == [1.0, 0.0]
    w = mix_weights(counts, ["u", "v"], {"kind": "propensity", "bias": 0.0, "shrink": 2.0})
    assert w == pytest.approx([0.6, 1 / 3])
    shifted = mix_weights(counts, ["u"], {"kind": "propensity", "bias": 1.0, "shrink": 2.0})
    assert shifted[0] == pytest.approx(1 / (1 + np.exp(-(np.log(0.6 / 0.4) + 1.0))))


def test_mixed_list_keeps_the_explore_order_and_serves_past_items(shop) -> None:
    explore = EaseRecommender(lam=10.0, min_item_buyers=1).fit(shop)
    repeat = PTopFreqRecommender(half_life_days=90).fit(shop)
    mix = MixedRecommender.from_fitted(
        explore, repeat, {"kind": "constant", "value": 0.5, "rrf_k": 1.0}, shop
    )
    users = sorted(shop["user_id"].unique())
    both = mix.mixed(users, 5, 5)
    alone = explore.recommend(users, 5)
    got = lists_from_frame(both[both["part"] == "explore"])
    assert got == lists_from_frame(alone)
    served = mix.recommend(users, 6)
    assert served.groupby("user_id").size().eq(6).all()
    first = served[served["rank"] == 1]
    # w = 0.5: the best past item and the best new item share the top two slots
    assert (first["item_id"].str.startswith("cyc")).all()


def test_mixes_built_from_shared_parts_are_the_mixes_themselves(shop) -> None:
    """refit_and_score computes the explore list and a source's repeat lists once and
    merges them per mix (``merged_top``): each list must equal that mix's ``recommend``."""
    explore = EaseRecommender(lam=10.0, min_item_buyers=1).fit(shop)
    repeat = PTopFreqRecommender(half_life_days=90).fit(shop)
    users = sorted(shop["user_id"].unique())
    parts = explore.recommend(users, 6, exclude=True)
    mixes = [{"kind": "constant", "value": v, "rrf_k": 1.0} for v in (0.2, 0.7)]
    lists = []
    for setting in mixes:
        mix = MixedRecommender.from_fitted(explore, repeat, setting, shop)
        shared = mix.merged_top(parts, mix.repeat_lists(users, 6), users, 6)
        pd.testing.assert_frame_equal(shared, mix.recommend(users, 6))
        lists.append(lists_from_frame(shared))
    assert lists[0] != lists[1]  # the weights, not the parts, make the two mixes differ


def test_the_mix_uses_the_repeat_source_best_on_the_windows_alone() -> None:
    from tailor.recommenders.mix_tuning import best_source

    def src(*windows: float) -> dict:
        return {"val_metrics": {"ndcg_at_10": float(np.mean(windows))}}

    sources = {"ptopfreq_default": src(0.30, 0.32), "tifu_knn_default": src(0.36, 0.38),
               "repeat_ranker": src(0.40, 0.42), "tifu_knn": src(0.37, 0.39)}  # fmt: skip
    assert best_source(sources, "ndcg_at_10") == "repeat_ranker"
    tie = {"a": src(0.4), "b": src(0.4)}
    assert best_source(tie, "ndcg_at_10") == "a"  # ties: the first listed (the simplest)


def test_a_live_purchase_leaves_the_repeat_part_and_pyfunc_serves_the_mix(shop) -> None:
    from tailor.recommenders.pyfunc import predict_frame

    explore = EaseRecommender(lam=10.0, min_item_buyers=1).fit(shop)
    repeat = PTopFreqRecommender(half_life_days=90).fit(shop)
    mix = MixedRecommender.from_fitted(explore, repeat, {"kind": "first", "rrf_k": 1.0}, shop)
    frame = pd.DataFrame({"user_id": ["u1", "u1", "nobody"], "k": [3, 3, 3],
                          "recent_items": ["", "cyc1", "cyc1"]})  # fmt: skip
    out = predict_frame(mix, frame)
    first, live, cold = (g["item_id"].tolist() for _, g in out.groupby(out.index // 3))
    assert first[0] == "cyc1"  # u1's cycle item, bought again
    assert "cyc1" not in live and len(live) == 3  # just bought live: not offered now
    assert "cyc1" not in cold and len(cold) == 3  # a new visitor: only new items


def test_tifu_knn_decays_old_groups_and_borrows_from_neighbours() -> None:
    """Group size 1, group decay 0.7: b (orders 1 and 2 back) weighs 1 + 0.7, a (3, 4, 5
    back) 0.49 + 0.343 + 0.24: b first although a was bought more often. u's only
    neighbours-to-be v, w bought b and y; z is bought by more people (popularity) but by
    no neighbour: with alpha 0.5 y comes before z."""
    rows = [("u", "a", f"a{i}", END - pd.Timedelta(days=300 + i)) for i in range(3)]
    rows += [("u", "b", f"b{i}", END - pd.Timedelta(days=7 + i)) for i in range(2)]
    rows += [(v, it, f"{v}{it}", END) for v in ("v", "w") for it in ("b", "y")]
    rows += [(f"p{i}", "z", f"z{i}", END) for i in range(4)]
    shop = pd.DataFrame(rows, columns=["user_id", "item_id", "order_id", "ts"])
    params = {"group_size": 1, "within_decay": 0.9, "group_decay": 0.7, "neighbours": 2}
    own = TifuKnnRecommender(alpha=1.0, **params).fit(shop).recommend(["u"], 2, exclude=False)
    assert own["item_id"].tolist() == ["b", "a"]
    both = TifuKnnRecommender(alpha=0.5, **params).fit(shop).recommend(["u"], 4, exclude=False)
    assert both["item_id"].tolist().index("y") < both["item_id"].tolist().index("z")


def test_order_items_is_computed_once_per_frame_and_never_served_stale(shop) -> None:
    from tailor.recommenders.repeat_history import _order_items, order_items

    assert order_items(shop) is order_items(shop)  # the window's lines: one computation
    for n in range(20):
        # frames built and dropped in turn reuse each other's ids: the entry of a frame
        # that is gone must not answer for the next one
        frame = shop.iloc[n * 5 : n * 5 + 40].copy()
        pd.testing.assert_frame_equal(order_items(frame), _order_items(frame))
        del frame


def test_mixes_reuse_the_windows_fits_of_the_source_and_get_the_same_scores(tiny) -> None:
    from tailor.pipelines.recommender.nodes import validate_untuned_next_basket
    from tailor.recommenders.mix_tuning import tune_mixes
    from tailor.recommenders.popularity import PopularityRecommender
    from tailor.recommenders.windows import make_windows, window_bounds

    inter = tiny["interactions"]
    bounds = window_bounds("2023-06-20", inter["ts"].min(), pd.Timestamp("2023-07-20"), 2, 30, 30)
    windows = make_windows(inter, tiny["items"], bounds, 1, lambda fit, as_of: None)
    params = {
        "tuning": {"ks": [10], "target_k": 10},
        "next_basket": {"baselines": {"tifu_knn_default": {"family": "tifu_knn"}}},
    }
    untuned, fits = validate_untuned_next_basket(windows, params, 42)
    # one fit per window, in window order (each as of its own fit data's end)
    assert [f.as_of for f in fits["tifu_knn_default"]] == [w.fit["ts"].max() for w in windows]
    explore = [PopularityRecommender().fit(w.fit, w.items) for w in windows]
    cfg = {"constant": [0.5], "bias": [0.0], "shrink": [2.0]}
    args = (windows, explore, untuned, cfg, [10], "ndcg_at_10", 42)
    refitted, reused = tune_mixes(*args), tune_mixes(*args, fitted=fits)
    assert {n: m["val_windows"] for n, m in reused.items()} == {
        n: m["val_windows"] for n, m in refitted.items()
    }


def test_a_study_starting_at_an_untuned_baseline_takes_its_score_instead_of_refitting(
    tiny,
) -> None:
    from tailor.recommenders.tuning import evaluate_on_windows, tune_family
    from tailor.recommenders.windows import make_windows, window_bounds

    inter = tiny["interactions"]
    bounds = window_bounds("2023-06-20", inter["ts"].min(), pd.Timestamp("2023-07-20"), 2, 30, 30)
    windows = make_windows(inter, tiny["items"], bounds, 1, lambda fit, as_of: None)
    start = {"group_size": 7, "alpha": 0.9}
    scored = evaluate_on_windows(
        "tifu_knn", start, windows, [10], 42, "ndcg_at_10", protocol="next_basket"
    )
    cfg = {
        "protocol": "next_basket",
        "n_trials": 1,
        "budget_share": 1.0,
        "start": start,
        "space": {
            "group_size": {"type": "categorical", "choices": [3, 7]},
            "alpha": {"type": "categorical", "choices": [0.5, 0.9]},
        },
    }
    tuning = {"ks": [10], "target_k": 10, "startup": 2, "warmup_steps": 1,
              "budget_seconds": 600, "storage_dir": None, "n_trials": 1}  # fmt: skip
    # a baseline's result marked so that a refit could not reproduce it
    marked = [{"ndcg_at_10": 0.999, "n_users": 1.0}, {"ndcg_at_10": 0.997, "n_users": 1.0}]
    baseline = {"name": "tifu_knn_default", "family": "tifu_knn", "params": start,
                "val_metrics": {"ndcg_at_10": 0.998}, "val_windows": marked}  # fmt: skip
    out = tune_family("tifu_knn", windows, cfg, tuning, 42, [baseline])
    assert out["params"] == start and out["val_windows"] == marked  # taken, not refitted
    other = {**baseline, "params": {"group_size": 3, "alpha": 0.5}}
    fresh = tune_family("tifu_knn", windows, cfg, tuning, 42, [other])
    assert fresh["params"] == start  # not known: the start is fitted and scored
    assert fresh["val_windows"] == scored["val_windows"]
