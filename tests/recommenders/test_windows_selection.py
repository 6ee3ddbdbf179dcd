"""Validation windows, rankable items, the selection rule and the large-catalog paths."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from tailor.metrics import lists_from_frame
from tailor.recommenders.base import top_k_order
from tailor.recommenders.blend import BlendRecommender
from tailor.recommenders.blend_tuning import blend_candidates, blend_lists
from tailor.recommenders.ease import EaseRecommender
from tailor.recommenders.item_knn import ItemKnnRecommender
from tailor.recommenders.selection import choose_served
from tailor.recommenders.windows import rankable_items, window_bounds

T = pd.Timestamp


def test_windows_are_consecutive_as_long_as_the_test_window_and_end_at_the_cutoff() -> None:
    bounds = window_bounds("2011-09-09", T("2010-12-01"), T("2011-12-09"), 2, None, None)
    assert bounds == [
        (T("2011-03-11"), T("2011-06-10")),
        (T("2011-06-10"), T("2011-09-09")),
    ]
    assert window_bounds("2011-09-09", T("2010-12-01"), T("2011-12-09"), 1, 30, 0)[0] == (
        T("2011-08-10"),
        T("2011-09-09"),
    )


def test_windows_without_enough_history_are_dropped_with_the_parameter_named(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        bounds = window_bounds("2011-09-09", T("2010-11-01"), T("2011-12-09"), 3, None, None)
    assert len(bounds) == 2  # the third window back would have a 39-day fit period
    assert "n_windows" in caplog.text and "min_fit_days" in caplog.text
    with pytest.raises(ValueError, match=r"recommender\.validation"):
        window_bounds("2011-09-09", T("2011-08-01"), T("2011-12-09"), 2, None, None)


def test_rankable_items_need_min_buyers_and_a_sale_by_the_cutoff() -> None:
    items = pd.DataFrame({"item_id": ["a", "b", "c", "d"]})
    lines = pd.DataFrame(
        {"item_id": ["a", "a", "a", "b", "b", "c"], "user_id": ["1", "2", "2", "1", "2", "1"]}
    )
    assert rankable_items(items, lines, 2)["item_id"].tolist() == ["a", "b"]
    assert rankable_items(items, lines, 1)["item_id"].tolist() == ["a", "b", "c"]


def cand(windows: list[float]) -> dict:
    return {
        "val_metrics": {"m": float(np.mean(windows))},
        "val_windows": [{"m": w} for w in windows],
    }


def test_selection_rejects_a_candidate_that_loses_one_window_to_popularity() -> None:
    out = choose_served(
        {
            "popularity": cand([0.10, 0.10]),
            "spiky": cand([0.09, 0.30]),
            "steady": cand([0.12, 0.13]),
        },
        baseline="popularity",
        target="m",
    )
    assert out["candidate"] == "steady" and not out["fallback"]
    assert "spiky" in out["rejected"] and "window(s) [0]" in out["rejected"]["spiky"]


def test_selection_falls_back_to_popularity_and_says_so() -> None:
    out = choose_served(
        {"popularity": cand([0.10, 0.10]), "a": cand([0.09, 0.30]), "b": cand([0.2, 0.05])},
        baseline="popularity",
        target="m",
    )
    assert out["candidate"] == "popularity" and out["fallback"]
    assert "no candidate beat popularity" in out["reason"]


def test_one_standard_error_rule_prefers_the_simpler_candidate_inside_the_spread() -> None:
    """'complex' (0.16, 0.24) leads 'simple' (0.13, 0.25) by (0.03, -0.01): mean 0.01,
    SE = std(ddof 1) / sqrt(2) = 0.02: inside one SE, so the simpler one is served."""
    cands = {
        "popularity": cand([0.10, 0.10]),
        "complex": cand([0.16, 0.24]),
        "simple": cand([0.13, 0.25]),
    }
    out = choose_served(cands, "popularity", "m", simplest_first=["simple", "complex"])
    assert out["candidate"] == "simple" and out["best"] == "complex"
    assert out["margin"] == pytest.approx(0.01) and out["spread"] == pytest.approx(0.02)
    assert "one standard error" in out["reason"]
    # a lead of 0.01 on BOTH windows has no spread: the better candidate is served, although
    # the best's own scores vary by 0.08 (a level shift of the windows, not noise)
    cands["simple"] = cand([0.15, 0.23])
    out = choose_served(cands, "popularity", "m", simplest_first=["simple"])
    assert out["candidate"] == "complex" and out["versus"] == "simple"
    assert out["margin"] == pytest.approx(0.01) and out["spread"] == pytest.approx(0.0)
    # without the rule the best mean wins
    cands["simple"] = cand([0.13, 0.25])
    plain = choose_served(cands, "popularity", "m", simplest_first=["simple"], one_se=False)
    assert plain["candidate"] == "complex"


def test_top_k_order_matches_a_stable_full_sort_with_ties() -> None:
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=(50, 400)).astype(float)
    scores[3] = -np.inf
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    assert (top_k_order(scores, 10) == expected).all()


def test_ease_caps_its_dense_gram_matrix_and_still_ranks_k_items(tiny, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        model = EaseRecommender(max_items=10, min_item_buyers=1).fit(
            tiny["interactions"], tiny["items"]
        )
    assert model.weights.shape == (10, 10) and len(model.active) == 10
    assert "max_items=10" in caplog.text
    recs = model.recommend(["u000", "u001"], 15)
    assert recs.groupby("user_id").size().tolist() == [15, 15]


def test_blend_tuning_candidates_reproduce_the_served_blend(tiny) -> None:
    comps = [
        EaseRecommender(lam=50.0, min_item_buyers=1).fit(tiny["interactions"], tiny["items"]),
        ItemKnnRecommender(neighbours=5).fit(tiny["interactions"], tiny["items"]),
    ]
    users = sorted(tiny["interactions"]["user_id"].unique())[:20]
    prep = blend_candidates(comps, users, ["score", "rrf"], 60.0, n=40)  # every item
    for method in ("score", "rrf"):
        served = BlendRecommender.from_fitted(comps, [0.3, 0.7], method=method)
        expected = lists_from_frame(served.recommend(users, 10))
        assert blend_lists(prep, method, [0.3, 0.7], 10) == expected


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory):
    """One real SQLite MLflow store for the tests of this module (creating one is slow)."""
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}")
    # an experiment of this store (another test may have left its own active)
    mlflow.set_experiment("recommender-tests")
    yield mlflow
    mlflow.set_tracking_uri(None)


def test_trials_are_nested_mlflow_runs_with_per_window_scores(tiny, mlflow_store) -> None:
    mlflow = mlflow_store

    from tailor.recommenders.tuning import tune_family
    from tailor.recommenders.windows import make_windows

    inter = tiny["interactions"]
    bounds = window_bounds("2023-06-20", inter["ts"].min(), T("2023-07-20"), 2, 30, 30)
    windows = make_windows(inter, tiny["items"], bounds, 1, lambda fit, as_of: None)
    cfg = {
        "n_trials": 3,
        "budget_share": 1.0,
        "space": {
            "neighbours": {"type": "categorical", "choices": [5, 10]},
            "prior_trend_exponent": {"type": "categorical", "choices": [0.0, 1.0]},
        },
    }
    tuning = {
        "ks": [10],
        "target_k": 10,
        "startup": 2,
        "warmup_steps": 1,
        "budget_seconds": 600,
        "storage_dir": None,
        "n_trials": 3,
    }
    with mlflow.start_run() as parent:
        out = tune_family("item_knn", windows, cfg, tuning, seed=0)
    runs = mlflow.search_runs(
        [parent.info.experiment_id],
        f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    assert len(runs) == 3
    assert {"metrics.val/ndcg_at_10_w0", "metrics.val/ndcg_at_10_w1"} <= set(runs.columns)
    row = runs.iloc[0]
    mean = (row["metrics.val/ndcg_at_10_w0"] + row["metrics.val/ndcg_at_10_w1"]) / 2
    assert np.isclose(row["metrics.val/ndcg_at_10"], mean)
    assert len(out["val_windows"]) == 2
    if out["params"]["prior_trend_exponent"] == 0.0:
        assert out["prior_effect"] is None
    else:
        assert len(out["prior_effect"]) == 2


def test_priors_are_neutral_at_zero_and_repeat_share_counts_returning_buyers() -> None:
    from tailor.recommenders.priors import is_neutral, repeat_share, trend_prior

    lines = pd.DataFrame(
        {
            "item_id": ["a", "a", "a", "b", "b"],
            "user_id": ["1", "1", "2", "1", "2"],
            "order_id": ["o1", "o2", "o3", "o1", "o3"],
            "ts": pd.to_datetime(
                ["2024-01-01", "2024-02-01", "2024-02-02", "2024-01-01", "2024-02-02"]
            ),
        }
    )
    index = {"a": 0, "b": 1, "c": 2}
    as_of = T("2024-02-03")
    assert is_neutral({"trend_exponent": 0.0, "repeat_exponent": 0.0, "recent_days": 30})
    assert not is_neutral({"repeat_exponent": 0.5})
    ones = trend_prior(lines, index, as_of, trend_exponent=0.0, repeat_exponent=0.0)
    assert (ones == 1.0).all()
    # a: 1 of 2 buyers came back; b: 0 of 2; c: never sold (neutral 0.5)
    assert np.allclose(repeat_share(lines, index, 0.0), [0.5, 0.0, 0.5])
    prior = trend_prior(lines, index, as_of, repeat_exponent=1.0, smoothing=1.0)
    assert prior[0] > prior[1]


def test_a_popularity_fallback_is_tagged_on_the_run_and_logged(
    tiny, mlflow_store, caplog, tmp_path
) -> None:
    mlflow = mlflow_store

    from tailor.pipelines.recommender.nodes import registration
    from tailor.recommenders.champion import decide
    from tailor.recommenders.model_registry import RegisteredModelDataset
    from tailor.recommenders.popularity import PopularityRecommender

    model = PopularityRecommender().fit(tiny["interactions"], tiny["items"])
    selection = choose_served(
        {"popularity": cand([0.10, 0.10]), "a": cand([0.09, 0.30])}, "popularity", "m"
    )
    info = {
        "candidate": "popularity",
        "selection": selection,
        "val_metrics": {"ndcg_at_10": 0.1},
        "as_of": str(model.as_of),
    }
    params = {"tuning": {"target_k": 10}}
    registry = RegisteredModelDataset(str(tmp_path / "r.json"), "m", enabled=False)
    with caplog.at_level(logging.WARNING), mlflow.start_run() as run:
        registry.save(registration(model, info, decide(None, None, 0.1), tiny["items"], params))
    tags = mlflow.get_run(run.info.run_id).data.tags
    assert tags["recommender.fallback"] == "true"
    assert tags["recommender.served"] == "popularity"
    assert "no candidate beat popularity" in tags["recommender.selection_reason"]
    assert "served popularity" in caplog.text
    assert registry.load()["registered"] is False  # registry disabled: tags only


def test_history_half_life_ranks_what_a_user_bought_recently_first() -> None:
    """A user bought A long ago and B lately; X goes with A (4 co-buyers), Y with B (3).
    Without the history prior X leads; with it Y does, on a reused fit as on a fresh one,
    and for the same user with live events."""
    from tailor.recommenders.priors import is_neutral

    rows = [("t", "A", "o1", "2024-01-01"), ("t", "B", "o2", "2024-06-01")]
    for u in ("p1", "p2", "p3", "p4"):
        rows += [(u, "A", f"{u}a", "2024-03-01"), (u, "X", f"{u}a", "2024-03-01")]
    for u in ("q1", "q2", "q3"):
        rows += [(u, "B", f"{u}b", "2024-03-01"), (u, "Y", f"{u}b", "2024-03-01")]
    lines = pd.DataFrame(rows, columns=["user_id", "item_id", "order_id", "ts"])
    lines["ts"] = pd.to_datetime(lines["ts"])
    items = pd.DataFrame({"item_id": ["X", "Y", "A", "B"]})
    decay = {"history_half_life_days": 30}
    assert not is_neutral(decay) and is_neutral({"history_half_life_days": 0})

    def top(model: ItemKnnRecommender, recent: list[list[str]] | None = None) -> list[str]:
        return model.recommend(["t"], 2, recent=recent)["item_id"].tolist()

    for family in (ItemKnnRecommender, EaseRecommender):
        plain = family(neighbours=5, lam=1.0).fit(lines, items)
        assert top(plain) == ["X", "Y"]
        decayed = family(neighbours=5, lam=1.0, prior=decay).fit(lines, items)
        assert top(decayed) == ["Y", "X"]
        assert top(plain.set_prior(lines, decay)) == ["Y", "X"]
        assert top(plain.set_prior(lines, {})) == ["X", "Y"]
        # live events: history still decayed, the live item at full weight
        assert top(decayed, [["B"]]) == ["Y", "X"]
    # a blend scores each component on its own decayed history, with live items too
    knn = ItemKnnRecommender(neighbours=5).fit(lines, items)
    blend = BlendRecommender.from_fitted([decayed, knn], [1.0, 0.0])
    assert top(blend) == top(blend, [["B"]]) == ["Y", "X"]


def test_next_basket_choice_is_a_mix_never_a_popularity_filled_source() -> None:
    """Sources alone (popularity-filled) are references, not servable; mixes compete with
    the next-basket floor, 'first' counting as simpler than 'propensity'."""
    from tailor.pipelines.recommender.nodes import select_next_basket

    def nb(windows: list[float]) -> dict:
        return {
            "val_metrics": {"ndcg_at_10": float(np.mean(windows))},
            "val_windows": [{"ndcg_at_10": w} for w in windows],
        }

    params = {
        "next_basket": {"baseline": "popularity"},
        "selection": {"min_window_ratio": 1.0, "one_se": True},
        "tuning": {"target_k": 10},
    }
    untuned = {"popularity": nb([0.10, 0.12]), "ptopfreq_default": nb([0.50, 0.50])}
    mixes = {
        "mix_first_ptopfreq_default": nb([0.30, 0.36]),
        "mix_propensity_ptopfreq_default": nb([0.34, 0.34]),  # lead (0.04, -0.02): noise
    }
    out = select_next_basket(params, untuned, mixes)
    assert out["candidate"] == "mix_first_ptopfreq_default"
    assert "ptopfreq_default" not in out["eligible"] and "ptopfreq_default" not in out["rejected"]
    mixes["mix_propensity_ptopfreq_default"] = nb([0.35, 0.41])  # leads by 0.05 on both
    assert select_next_basket(params, untuned, mixes)["candidate"] == (
        "mix_propensity_ptopfreq_default"
    )
    mixes = {k: nb([0.09, 0.5]) for k in mixes}  # below the floor on a window: popularity
    out = select_next_basket(params, untuned, mixes)
    assert out["candidate"] == "popularity" and out["fallback"]


def test_the_blend_reuses_each_studys_best_fits_and_gets_the_refitted_blend(tiny) -> None:
    from tailor.pipelines.recommender.nodes import tune_blend
    from tailor.recommenders.tuning import tune_family
    from tailor.recommenders.windows import make_windows

    inter = tiny["interactions"]
    bounds = window_bounds("2023-06-20", inter["ts"].min(), T("2023-07-20"), 2, 30, 30)
    windows = make_windows(inter, tiny["items"], bounds, 1, lambda fit, as_of: None)
    tuning = {"ks": [10], "target_k": 10, "startup": 2, "warmup_steps": 1,
              "budget_seconds": 600, "storage_dir": None, "n_trials": 3}  # fmt: skip
    spaces = {
        "item_knn": {"neighbours": {"type": "categorical", "choices": [5]},
                     "prior_trend_exponent": {"type": "categorical",
                                              "choices": [0.0, 0.5, 1.0, 2.0]}},
        "ease": {"lam": {"type": "categorical", "choices": [10.0, 100.0]}},
    }  # fmt: skip
    tuned, fits = [], []
    for family, space in spaces.items():
        f: list = []
        cfg = {"n_trials": 6, "budget_share": 1.0, "space": space}
        tuned.append(tune_family(family, windows, cfg, tuning, 0, best_fits=f))
        fits.append(f)
        assert len(f) == len(windows)
        assert [m.params for m in f] == [make_params(tuned[-1]["params"])] * len(windows)
        # later trials set other priors on the same fits: the kept ones carry the best's
        prior = {k.removeprefix("prior_"): v for k, v in tuned[-1]["params"].items()
                 if k.startswith("prior_")}  # fmt: skip
        assert [m.prior_params for m in f] == [prior] * len(windows)
    params = {
        "candidates": None,
        "selection": {"baseline": "popularity"},
        "tuning": tuning,
        "blend": {"enabled": True, "top": 2, "methods": ["score", "rrf"], "rrf_k": 60,
                  "candidates": 50, "n_trials": 3, "budget_share": 1.0},
    }  # fmt: skip
    reused, _ = tune_blend(windows, params, 0, *tuned, *fits)
    refitted, _ = tune_blend(windows, params, 0, *tuned, *([[]] * len(tuned)))
    assert reused["val_windows"] == refitted["val_windows"]
    assert reused["params"] == refitted["params"]


def make_params(params: dict) -> dict:
    """A fitted model's own ``params``: the tuned ones without the prior's."""
    return {k: v for k, v in params.items() if not k.startswith("prior_")}
