"""The evaluation report: one comparison table (CSV) and a Markdown page built from it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tailor.metrics import metric_key


def markdown_table(frame: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub Markdown table (numbers rounded to ``digits``; ints as ints)."""

    def fmt(v: object) -> str:
        if isinstance(v, bool | np.bool_):
            return str(v)
        if isinstance(v, int | np.integer):
            return str(int(v))
        if isinstance(v, float | np.floating):
            return "–" if np.isnan(v) else f"{v:.{digits}f}"
        return str(v).replace("|", "/")

    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    sep = "| " + " | ".join("---" for _ in frame.columns) + " |"
    body = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, sep, *body])


def comparison_table(summary: pd.DataFrame, k: int, ci_metric: str) -> pd.DataFrame:
    """The headline columns at ``k``, best NDCG first, with the interval as text."""
    cols = {
        "candidate": "candidate",
        "n_users": "users",
        metric_key("ndcg", k): f"NDCG@{k}",
        "ci": "95% CI",
        "diff": "Δ vs baseline [paired 95% CI]",
        metric_key("precision", k): f"P@{k}",
        metric_key("recall", k): f"R@{k}",
        metric_key("map", k): f"MAP@{k}",
        metric_key("hit_rate", k): f"HR@{k}",
        metric_key("coverage", k): f"Cov@{k}",
        metric_key("novelty", k): f"novelty@{k}",
        metric_key("diversity", k): f"ILD@{k}",
        metric_key("conversion", k): f"conv@{k}",
    }
    out = summary.assign(
        ci=[
            f"[{lo:.4f}, {hi:.4f}]"
            for lo, hi in zip(
                summary[f"{ci_metric}_ci_low"], summary[f"{ci_metric}_ci_high"], strict=True
            )
        ]
    )
    if f"{ci_metric}_diff" in summary:
        out["diff"] = [
            "–" if pd.isna(d) else f"{d:+.4f} [{lo:+.4f}, {hi:+.4f}]"
            for d, lo, hi in zip(
                summary[f"{ci_metric}_diff"],
                summary[f"{ci_metric}_diff_ci_low"],
                summary[f"{ci_metric}_diff_ci_high"],
                strict=True,
            )
        ]
    out = out.sort_values(metric_key("ndcg", k), ascending=False)
    return out[[c for c in cols if c in out]].rename(columns=cols)


def evaluation_markdown(
    summary: pd.DataFrame,
    groups: pd.DataFrame,
    gaps: pd.DataFrame,
    bias: pd.DataFrame,
    parity: pd.DataFrame,
    tags: dict[str, str],
    ks: Sequence[int],
    k: int,
    ci_metric: str,
    served: str,
    protocol: dict[str, object],
) -> str:
    """The Markdown page of ``data/08_reporting/evaluation.md``."""
    n_users = int(summary["n_users"].max()) if len(summary) else 0
    lines = [
        "# Offline evaluation on the time hold-out",
        "",
        f"Train ≤ {protocol['cutoff']} < test. Truth: items bought in the test window that the "
        "user had not bought in train (train items are also removed from every list). "
        f"Averaged over the **{n_users:,} test users with ≥1 relevant item** "
        f"(population `{protocol['population']}`; of {protocol['test_buyers']:,} test buyers, "
        f"{protocol['new_excluded']:,} first seen after the cutoff are not evaluated here and "
        f"{protocol['only_rebought']:,} only re-bought train items). "
        f"95% percentile bootstrap over users ({protocol['n_resamples']} resamples). "
        f"conv@{k}: bought a recommended item within {protocol['window_days']} days of the "
        f"cutoff (conversion proxy); HR@{k} is the click-through proxy. Candidate `{served}` "
        "is the served model.",
        "",
        f"## Candidates at K={k}",
        "",
        markdown_table(comparison_table(summary, k, ci_metric)),
        "",
        "## NDCG, recall and coverage by K",
        "",
    ]
    by_k = summary[["candidate"]].copy()
    for kk in ks:
        for m in ("ndcg", "recall", "coverage"):
            by_k[f"{m}@{kk}"] = summary[metric_key(m, kk)]
    lines += [markdown_table(by_k), ""]
    served_groups = groups[groups["candidate"] == served]
    if not served_groups.empty:
        rc = metric_key("recall", k)
        cols = {
            "grouping": "grouping",
            "group": "group",
            "n_users": "users",
            rc: f"R@{k}",
            f"{rc}_ci_low": "CI low",
            f"{rc}_ci_high": "CI high",
            metric_key("ndcg", k): f"NDCG@{k}",
            metric_key("hit_rate", k): f"HR@{k} (CTR proxy)",
            metric_key("conversion", k): f"conv@{k}",
        }
        table = served_groups[[c for c in cols if c in served_groups]].rename(columns=cols)
        lines += [f"## `{served}` by group", "", markdown_table(table), ""]
    if not gaps.empty:
        lines += [
            "## Fairness: quality gap between best- and worst-served group",
            "",
            markdown_table(gaps.drop(columns=["metric"])),
            "",
        ]
    if not bias.empty:
        lines += ["## Popularity bias (share of top-K slots in the top popularity bin)", ""]
        lines += [markdown_table(bias), ""]
    if not parity.empty:
        worst = parity.loc[parity.groupby(["candidate", "grouping"])["parity_difference"].idxmax()]
        lines += ["## Category parity: largest difference per grouping", ""]
        lines += [markdown_table(worst.reset_index(drop=True)), ""]
    lines += [
        f"## Flags for `{served}`",
        "",
        f"Flagged: **{tags.get('fairness.flagged', 'false')}** — {tags.get('fairness.flags', '')}",
        "",
    ]
    return "\n".join(lines)


def next_basket_markdown(
    table: pd.DataFrame, ks: Sequence[int], k: int, ci_metric: str, served: str
) -> str:
    """The next-basket section: every candidate at ``k`` with its repeat/explore parts and
    the paired difference to the best reference."""
    reference = str(table["reference"].iloc[0]) if len(table) else "–"
    out = table.assign(
        ci=[
            f"[{lo:.4f}, {hi:.4f}]"
            for lo, hi in zip(
                table[f"{ci_metric}_ci_low"], table[f"{ci_metric}_ci_high"], strict=True
            )
        ],
        diff=[
            f"{d:+.4f} [{lo:+.4f}, {hi:+.4f}]"
            for d, lo, hi in zip(
                table[f"{ci_metric}_diff"],
                table[f"{ci_metric}_diff_ci_low"],
                table[f"{ci_metric}_diff_ci_high"],
                strict=True,
            )
        ],
    )
    cols = {
        "candidate": "candidate",
        "n_users": "users",
        metric_key("ndcg", k): f"NDCG@{k}",
        "ci": "95% CI",
        f"{ci_metric}_ratio": "× reference",
        "diff": "Δ vs reference [paired 95% CI]",
        metric_key("ndcg_repeat", k): "repeat part",
        metric_key("ndcg_explore", k): "explore part",
        metric_key("recall", k): f"R@{k}",
        metric_key("hit_rate", k): f"HR@{k}",
        metric_key("repeat_share_list", k): "repeat share of list",
        "repeat_share_truth": "repeat share of truth",
    }
    lines = [
        "## Next-basket protocol",
        "",
        "Truth: every item a customer known at the cutoff bought in the test window, repeats "
        "included; lists as written (past items allowed). NDCG and recall split into the part "
        f"earned on items the customer bought before (repeat) and on new items (explore). "
        f"Reference: `{reference}`, the best of the configured references on these users; "
        f"`{served}` is the served list.",
        "",
        markdown_table(out[[c for c in cols if c in out]].rename(columns=cols)),
        "",
    ]
    return "\n".join(lines)
