"""Evaluation nodes: pure functions from recommendations and hold-out data to reports.

The protocol, metrics and audits live in ``tailor.evaluation`` and ``tailor.metrics``;
nodes only wire them to parameters and shape outputs for the catalog and MLflow.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from tailor.evaluation import breakdowns, fairness, next_basket, plots, protocol, report
from tailor.evaluation.groups import user_groups
from tailor.item_catalog import items_known_by
from tailor.metric_keys import slug
from tailor.metrics import RANKING_METRICS, metric_key

log = logging.getLogger(__name__)

Metrics = dict[str, dict[str, float]]


def served_candidate(candidates: pd.Series, params: dict[str, Any]) -> str:
    """The served model's candidate name (the contract says ``served``)."""
    name = params["served_candidate"]
    if name not in set(candidates):
        raise ValueError(
            f"recommendations_test has no candidate '{name}' (found {sorted(set(candidates))})"
        )
    return name


def prepare_recommendations(
    recs: pd.DataFrame, train: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """Lists as the protocol scores them: train items removed, cut at max K."""
    out = protocol.drop_train_items(recs, train, max(params["ks"]))
    served_candidate(out["candidate"], params)
    return out


def build_truth(
    train: pd.DataFrame, test: pd.DataFrame, split: dict[str, Any], params: dict[str, Any]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Relevant (user, item) pairs of the test window and who is (not) evaluated."""
    truth, counts = protocol.holdout_truth(
        train, test, split["cutoff"], params["conversion_window_days"], params["population"]
    )
    log.info(
        "hold-out truth: %d relevant pairs for %d users (%d pairs in the %d-day window); "
        "%d test buyers, %d new in test (%d excluded), %d only re-bought train items",
        len(truth),
        counts["evaluated"],
        int(truth["in_window"].sum()),
        params["conversion_window_days"],
        counts["test_buyers"],
        counts["new_in_test"],
        counts["new_excluded"],
        counts["only_rebought"],
    )
    return truth, counts


def score_users(
    recs: pd.DataFrame,
    truth: pd.DataFrame,
    train: pd.DataFrame,
    catalog: pd.DataFrame,
    params: dict[str, Any],
) -> pd.DataFrame:
    """Every per-user metric for every candidate (the rows behind every number reported)."""
    return protocol.per_user_table(recs, truth, train, catalog, params["ks"])


def score_next_basket(
    recs: pd.DataFrame, train: pd.DataFrame, test: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """Next-basket per-user metrics of every candidate of ``recommendations_test_nb``."""
    return next_basket.next_basket_per_user(recs, train, test, params["ks"])


def summarise_next_basket(
    per_user: pd.DataFrame, params: dict[str, Any], seed: int
) -> pd.DataFrame:
    """The next-basket table: means, CI, paired difference to the best reference."""
    boot = params["bootstrap"]
    return next_basket.next_basket_table(
        per_user,
        params["ci_metric"],
        params["served_candidate"],
        params["next_basket"]["references"],
        boot["n_resamples"],
        boot["confidence"],
        seed,
    )


def assign_groups(
    per_user: pd.DataFrame,
    features: pd.DataFrame,
    segments: pd.DataFrame,
    test: pd.DataFrame,
    params: dict[str, Any],
) -> pd.DataFrame:
    """The groupings of every evaluated user (index reset: a plain ``user_id`` column)."""
    users = sorted(per_user["user_id"].unique())
    groups = user_groups(users, features, segments, test, params["groups"])
    for col in groups.columns:
        log.info("grouping %s: %s", col, groups[col].value_counts().to_dict())
    return groups.reset_index()


def _groups_indexed(groups: pd.DataFrame) -> pd.DataFrame:
    return groups.set_index("user_id")


def summarise(
    per_user: pd.DataFrame,
    recs: pd.DataFrame,
    catalog: pd.DataFrame,
    train: pd.DataFrame,
    params: dict[str, Any],
    seed: int,
) -> pd.DataFrame:
    """The comparison table: one row per candidate, every metric, CI for the headline metric.

    Coverage is over the items sold by the cutoff, the items the models could rank.
    """
    boot = params["bootstrap"]
    return breakdowns.summary_table(
        per_user,
        recs,
        n_items=len(items_known_by(catalog, train)),
        ks=params["ks"],
        ci_metric=params["ci_metric"],
        n_resamples=boot["n_resamples"],
        confidence=boot["confidence"],
        seed=seed,
        baseline=params.get("ci_baseline"),
    )


def break_down(
    per_user: pd.DataFrame, groups: pd.DataFrame, params: dict[str, Any], seed: int
) -> pd.DataFrame:
    """Every metric per candidate and group, with a CI for the fairness metric."""
    boot = params["bootstrap"]
    return breakdowns.group_table(
        per_user,
        _groups_indexed(groups),
        ci_metric=params["fairness"]["metric"],
        n_resamples=boot["n_resamples"],
        confidence=boot["confidence"],
        seed=seed,
    )


def audit_fairness(
    per_user: pd.DataFrame,
    groups: pd.DataFrame,
    recs: pd.DataFrame,
    truth: pd.DataFrame,
    train: pd.DataFrame,
    catalog: pd.DataFrame,
    params: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Quality gaps, popularity exposure, category parity and the served model's flags."""
    fp = params["fairness"]
    g = _groups_indexed(groups)
    min_users = params["groups"]["min_group_users"]
    gaps = fairness.quality_gaps(per_user, g, fp["metric"], min_users)
    bins = fairness.popularity_bins(train, catalog, fp["n_popularity_bins"])
    exposure = fairness.exposure_by_popularity(
        recs, truth, bins, fp["exposure_k"], fp["n_popularity_bins"]
    )
    bias = fairness.popularity_bias(exposure, fp["n_popularity_bins"])
    parity = fairness.category_parity(
        recs, g, catalog, fp["exposure_k"], min_users, fp["n_categories"]
    )
    served = served_candidate(recs["candidate"], params)
    tags = fairness.fairness_flags(gaps, bias, parity, served, fp["thresholds"])
    return gaps, exposure, bias, parity, tags


def run_tags(flags: dict[str, str]) -> dict[str, str]:
    """The fairness flags as MLflow run tags (searchable: ``tags.fairness.flagged``)."""
    return {str(k): str(v) for k, v in flags.items()}


def write_report(
    summary: pd.DataFrame,
    groups: pd.DataFrame,
    gaps: pd.DataFrame,
    bias: pd.DataFrame,
    parity: pd.DataFrame,
    tags: dict[str, str],
    population: dict[str, int],
    split: dict[str, Any],
    params: dict[str, Any],
    nb_table: pd.DataFrame | None = None,
) -> str:
    """The Markdown page (data/08_reporting/evaluation.md)."""
    page = report.evaluation_markdown(
        summary,
        groups,
        gaps,
        bias,
        parity,
        tags,
        ks=params["ks"],
        k=params["headline_k"],
        ci_metric=params["ci_metric"],
        served=params["served_candidate"],
        protocol={
            "cutoff": split["cutoff"],
            "n_resamples": params["bootstrap"]["n_resamples"],
            "window_days": params["conversion_window_days"],
            "population": params["population"],
            **population,
        },
    )
    if nb_table is None:
        return page
    return (
        page
        + "\n"
        + report.next_basket_markdown(
            nb_table,
            params["ks"],
            params["headline_k"],
            params["ci_metric"],
            params["served_candidate"],
        )
    )


def make_plots(
    summary: pd.DataFrame, groups: pd.DataFrame, exposure: pd.DataFrame, params: dict[str, Any]
) -> tuple[Figure, Figure, Figure]:
    """Metric@K curves, per-group bars with CIs for the served model, popularity bias."""
    return (
        plots.metric_curves(summary, ["ndcg", "recall", "precision", "coverage"], params["ks"]),
        plots.group_bars(groups, params["served_candidate"], params["fairness"]["metric"]),
        plots.popularity_bias_chart(exposure, params["fairness"]["exposure_k"]),
    )


def _candidate_scores(row: dict[str, Any], params: dict[str, Any]) -> dict[str, float]:
    """One candidate's row of the comparison table as ``<metric>_at_<k>`` keys (+ CI)."""
    ci = params["ci_metric"]
    names = [*RANKING_METRICS, "coverage", "novelty", "diversity", "conversion"]
    out = {"n_users": row["n_users"]}
    for k in params["ks"]:
        for m in names:
            if metric_key(m, k) in row:
                out[metric_key(m, k)] = row[metric_key(m, k)]
    out[f"{ci}_ci_low"] = row[f"{ci}_ci_low"]
    out[f"{ci}_ci_high"] = row[f"{ci}_ci_high"]
    base = params.get("ci_baseline")
    if base and f"{ci}_diff" in row and row["candidate"] != base:
        # paired bootstrap of this candidate minus the baseline, on the same users
        for part in ("diff", "diff_ci_low", "diff_ci_high"):
            out[f"{ci}_{part}_vs_{base}"] = row[f"{ci}_{part}"]
    return out


def candidate_runs(summary: pd.DataFrame, params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One MLflow child run per candidate with identical keys (``test/ndcg_at_10``...), so
    the MLflow UI charts candidates side by side; the served model's run says so in a tag."""
    served = params["served_candidate"]
    return {
        str(row["candidate"]): {
            "metrics": {
                f"test/{k}": float(v)
                for k, v in _candidate_scores(row, params).items()
                if pd.notna(v)
            },
            "tags": {"tailor.served": str(row["candidate"] == served).lower()},
        }
        for row in summary.to_dict("records")
    }


def mlflow_metrics(
    summary: pd.DataFrame,
    groups: pd.DataFrame,
    gaps: pd.DataFrame,
    bias: pd.DataFrame,
    parity: pd.DataFrame,
    population: dict[str, int],
    params: dict[str, Any],
    nb_table: pd.DataFrame | None = None,
) -> Metrics:
    """Keys of DESIGN.md: ``test/<metric>_at_<k>`` (served), ``test/<candidate>/…`` (others),
    ``eval/<grouping>/<group>/<metric>`` (served, per group), ``eval/fairness/…``; the
    next-basket protocol under ``test_nb/`` the same way (``test_nb/ndcg_repeat_at_10``,
    ``test_nb/ptopfreq_default/ndcg_at_10``, ``test_nb/ndcg_at_10_diff_vs_reference``...)."""
    served = params["served_candidate"]
    out: dict[str, float] = {f"eval/protocol/{k}": v for k, v in population.items()}
    for row in (nb_table if nb_table is not None else pd.DataFrame()).to_dict("records"):
        prefix = "test_nb" if row["candidate"] == served else f"test_nb/{row['candidate']}"
        for key, value in row.items():
            if key in ("candidate", "reference"):
                continue
            diff = key.endswith(("_diff", "_diff_ci_low", "_diff_ci_high", "_ratio"))
            out[f"{prefix}/{key}_vs_reference" if diff else f"{prefix}/{key}"] = value
    for row in summary.to_dict("records"):
        prefix = "test" if row["candidate"] == served else f"test/{row['candidate']}"
        out.update({f"{prefix}/{k}": v for k, v in _candidate_scores(row, params).items()})
    for row in groups[groups["candidate"] == served].to_dict("records"):
        base = f"eval/{row['grouping']}/{slug(row['group'])}"
        out[f"{base}/n_users"] = row["n_users"]
        for m in params["group_metrics"]:
            out[f"{base}/{m}"] = row[m]
    for row in gaps.to_dict("records"):
        cand = "" if row["candidate"] == served else f"{row['candidate']}/"
        out[f"eval/fairness/{cand}{row['grouping']}/{row['metric']}_gap"] = row["gap"]
        out[f"eval/fairness/{cand}{row['grouping']}/{row['metric']}_ratio"] = row["ratio"]
    for row in bias.to_dict("records"):
        cand = "" if row["candidate"] == served else f"{row['candidate']}/"
        out[f"eval/fairness/{cand}popularity_top_bin_ratio"] = row["top_bin_ratio"]
    served_parity = parity[parity["candidate"] == served] if not parity.empty else parity
    if not served_parity.empty:
        for grouping, value in served_parity.groupby("grouping")["parity_difference"].max().items():
            out[f"eval/fairness/{grouping}/category_parity_max"] = value
    return {k: {"value": float(v), "step": 0} for k, v in out.items() if pd.notna(v)}
