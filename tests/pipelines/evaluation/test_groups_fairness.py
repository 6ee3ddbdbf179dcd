"""Groupings, breakdowns and the fairness audit on frames with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import demographic_parity_difference

from tailor.evaluation.bootstrap import bootstrap_mean_ci
from tailor.evaluation.breakdowns import group_table
from tailor.evaluation.fairness import (
    category_parity,
    exposure_by_popularity,
    fairness_flags,
    popularity_bias,
    popularity_bins,
    quality_gaps,
)
from tailor.evaluation.groups import activity, age_band, country_group, user_groups

THRESHOLDS = {
    "max_gap": 0.1,
    "min_ratio": 0.5,
    "max_top_bin_ratio": 2.0,
    "max_category_parity_diff": 0.3,
}


def test_country_age_and_activity_groups() -> None:
    c = pd.Series(["United Kingdom", "France", "USA", None, "eire"])
    assert country_group(c, "United Kingdom", ["France", "EIRE"], "rest of Europe").tolist() == [
        "United Kingdom",
        "rest of Europe",
        "rest of world",
        "unknown",
        "rest of Europe",
    ]
    ages = pd.Series([18, 25, 34, 35, 64, 65, np.nan])
    assert age_band(ages, [25, 35, 65]).tolist() == [
        "<25",
        "25-34",
        "25-34",
        "35-64",
        "35-64",
        "65+",
        "unknown",
    ]
    assert activity(pd.Series([np.nan, 0, 1, 2, 9, 10]), 10).tolist() == [
        "new",
        "new",
        "cold",
        "warm",
        "warm",
        "heavy",
    ]


def test_user_groups_fill_new_users_from_test_and_drop_empty_groupings() -> None:
    features = pd.DataFrame({"user_id": ["a"], "frequency": [3], "country": ["France"]})
    test = pd.DataFrame({"user_id": ["b", "b"], "country": ["USA", "USA"]})
    params = {
        "home_country": "United Kingdom",
        "region": ["France"],
        "region_name": "rest of Europe",
        "age_edges": [30],
        "heavy_min_orders": 10,
    }
    groups = user_groups(["a", "b"], features, None, test, params)
    assert groups.to_dict("index") == {
        "a": {"country_group": "rest of Europe", "activity": "warm"},
        "b": {"country_group": "rest of world", "activity": "new"},
    }


def test_home_country_derived_and_bands_used_as_given() -> None:
    # No configured home market: the country most users are in; given age bands stay bands.
    features = pd.DataFrame(
        {
            "user_id": ["a", "b", "c", "d"],
            "frequency": [1, 2, 3, 12],
            "country": ["Deutschland", "Deutschland", "Österreich", None],
            "age_band": ["25-34", "65+", None, "25-34"],
            "income": ["35-49K", None, "50-74K", "35-49K"],
        }
    )
    params = {"home_country": None, "region": [], "age_edges": [30], "heavy_min_orders": 10}
    # test lines without any country (a one-country shop): nothing to fill in, no crash
    test = pd.DataFrame({"user_id": ["a", "e"], "country": [None, None]})
    groups = user_groups(["a", "b", "c", "d"], features, None, test, params)
    assert groups["country_group"].tolist() == [
        "Deutschland",
        "Deutschland",
        "rest of world",
        "unknown",
    ]
    assert groups["age_band"].tolist() == ["25-34", "65+", "unknown", "25-34"]
    assert groups["income"].tolist() == ["35-49K", "unknown", "50-74K", "35-49K"]


def test_bootstrap_interval_covers_the_mean_and_shrinks_with_n() -> None:
    rng = np.random.default_rng(0)
    small = rng.binomial(1, 0.3, 50).astype(float)
    large = rng.binomial(1, 0.3, 5000).astype(float)
    lo_s, hi_s = bootstrap_mean_ci(small, 500, 0.95, seed=1)
    lo_l, hi_l = bootstrap_mean_ci(large, 500, 0.95, seed=1)
    assert lo_s <= small.mean() <= hi_s and lo_l <= large.mean() <= hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 4
    assert bootstrap_mean_ci(small, 500, 0.95, seed=1) == (lo_s, hi_s)
    assert all(np.isnan(bootstrap_mean_ci(np.array([1.0]), 100, 0.95, 0)))


def _per_user() -> tuple[pd.DataFrame, pd.DataFrame]:
    users = [f"u{i}" for i in range(8)]
    per_user = pd.DataFrame(
        {
            "candidate": "m",
            "user_id": users,
            "recall_at_10": [1.0, 1.0, 0.5, 0.5, 0.0, 0.5, 0.0, 1.0],
        }
    )
    groups = pd.DataFrame(
        {"g": ["A", "A", "A", "A", "B", "B", "B", "unknown"]},
        index=pd.Index(users, name="user_id"),
    )
    return per_user, groups


def test_quality_gap_best_vs_worst_group() -> None:
    per_user, groups = _per_user()
    gaps = quality_gaps(per_user, groups, "recall_at_10", min_group_users=3)
    row = gaps.iloc[0]
    # A: mean 0.75, B: mean 1/6; unknown is left out
    assert (row.best_group, row.worst_group, row.n_groups) == ("A", "B", 2)
    assert row.gap == pytest.approx(0.75 - 1 / 6)
    assert row.ratio == pytest.approx((1 / 6) / 0.75)
    # B falls below the minimum size: a single group has no gap
    assert quality_gaps(per_user, groups, "recall_at_10", min_group_users=4).empty
    table = group_table(per_user, groups, "recall_at_10", 100, 0.95, seed=0)
    a = table[table.group == "A"].iloc[0]
    assert a.n_users == 4 and a.recall_at_10 == pytest.approx(0.75)
    assert a.recall_at_10_ci_low <= 0.75 <= a.recall_at_10_ci_high


def test_popularity_bins_and_exposure() -> None:
    catalog = pd.DataFrame({"item_id": [f"i{j}" for j in range(10)]})
    # i9 bought by 9 users, i8 by 8 ..., i0 by none
    train = pd.DataFrame(
        [(f"u{u}", f"i{j}") for j in range(10) for u in range(j)], columns=["user_id", "item_id"]
    )
    bins = popularity_bins(train, catalog, n_bins=5)
    assert bins.value_counts().tolist() == [2] * 5
    assert bins["i9"] == 5 and bins["i0"] == 1
    recs = pd.DataFrame(
        {
            "candidate": "pop",
            "user_id": "x",
            "rank": [1, 2, 3, 4],
            "item_id": ["i9", "i8", "i9", "i0"],
        }
    )
    truth = pd.DataFrame({"item_id": ["i0", "i1", "i2", "i9"]})
    exposure = exposure_by_popularity(recs, truth, bins, k=4, n_bins=5)
    assert exposure.groupby("source")["share"].sum().to_dict() == pytest.approx(
        {"pop": 1.0, "test purchases": 1.0, "catalog": 1.0}
    )
    bias = popularity_bias(exposure, 5).set_index("candidate")
    assert bias.loc["pop", "top_bin_share"] == pytest.approx(0.75)
    assert bias.loc["pop", "top_bin_ratio"] == pytest.approx(0.75 / 0.25)


def test_category_parity_and_flags() -> None:
    users = [f"u{i}" for i in range(6)]
    groups = pd.DataFrame({"g": ["A"] * 3 + ["B"] * 3}, index=pd.Index(users, name="user_id"))
    catalog = pd.DataFrame({"item_id": ["m", "c"], "category": ["mug", "card"]})
    # every A user gets a mug; one B user does; everyone gets a card
    rows = [("x", u, 1, "c") for u in users] + [("x", u, 2, "m") for u in users[:4]]
    recs = pd.DataFrame(rows, columns=["candidate", "user_id", "rank", "item_id"])
    parity = category_parity(recs, groups, catalog, k=10, min_group_users=3, n_categories=5)
    by_cat = parity.set_index("category")
    assert by_cat.loc["mug", "parity_difference"] == pytest.approx(1 - 1 / 3)
    assert by_cat.loc["card", "parity_difference"] == pytest.approx(0.0)
    assert by_cat.loc["mug", "lowest_group"] == "B"
    # the same number as fairlearn's demographic parity difference
    got_mug = [1, 1, 1, 1, 0, 0]
    assert by_cat.loc["mug", "parity_difference"] == pytest.approx(
        demographic_parity_difference(got_mug, got_mug, sensitive_features=groups["g"].to_numpy())
    )

    gaps = pd.DataFrame(
        [
            {
                "candidate": "x",
                "grouping": "g",
                "metric": "recall_at_10",
                "gap": 0.05,
                "ratio": 0.9,
                "best_group": "A",
                "worst_group": "B",
            }
        ]
    )
    bias = pd.DataFrame({"candidate": ["x"], "top_bin_ratio": [1.2]})
    tags = fairness_flags(gaps, bias, parity, "x", THRESHOLDS)
    assert tags["fairness.flagged"] == "true"  # the mug parity gap 0.67 > 0.3
    assert "mug" in tags["fairness.flags"]
    relaxed = fairness_flags(
        gaps, bias, parity, "x", {**THRESHOLDS, "max_category_parity_diff": 0.7}
    )
    assert relaxed["fairness.flagged"] == "false" and relaxed["fairness.flags"] == "none"
    strict = fairness_flags(
        gaps,
        bias,
        parity,
        "x",
        {**THRESHOLDS, "max_top_bin_ratio": 1.0, "max_category_parity_diff": 0.7},
    )
    assert strict["fairness.flagged"] == "true" and "popularity" in strict["fairness.flags"]


def test_report_order_of_groups() -> None:
    from tailor.evaluation.groups import group_sort_key

    bands = ["65+", "unknown", "25-34", "<25", "35-49"]
    assert sorted(bands, key=lambda g: group_sort_key("age_band", g)) == [
        "<25",
        "25-34",
        "35-49",
        "65+",
        "unknown",
    ]
    levels = ["warm", "heavy", "cold", "new"]
    assert sorted(levels, key=lambda g: group_sort_key("activity", g)) == [
        "new",
        "cold",
        "warm",
        "heavy",
    ]
