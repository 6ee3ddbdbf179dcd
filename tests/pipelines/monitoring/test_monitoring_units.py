"""Monitoring building blocks on small frames with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tailor.monitoring.drift import (
    DriftConfig,
    assess_drift,
    column_statistic,
    drift_snapshot,
    evidently_drift_count,
)
from tailor.monitoring.predictions import prediction_frame
from tailor.monitoring.quality import quality_snapshot, quality_table
from tailor.monitoring.retrain_signal import retrain_decision
from tailor.monitoring.robust import OTHER, ColumnSpec, robust_frames
from tailor.monitoring.windows import Window, resolve_windows, tiles, window_customer_features
from tailor.pipelines.monitoring.nodes import prediction_drift

CFG = DriftConfig(n_splits=10)


def _frame(n: int, seed: int, shift: float = 0.0, users: int | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "user_id": [f"u{seed}_{i}" for i in range(n)],
            "x": rng.lognormal(3.0 + shift, 1.0, n),
            "c": rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1]),
        }
    )


def test_tiles_are_equal_and_cover_the_window() -> None:
    w = Window(pd.Timestamp("2011-01-01"), pd.Timestamp("2011-06-30"))  # 181 days
    parts = tiles(w, 91)
    assert len(parts) == 2
    assert parts[0].start == w.start and parts[-1].end == w.end
    assert parts[1].start == parts[0].end + pd.Timedelta(days=1)
    assert abs(parts[0].days - parts[1].days) <= 1
    assert tiles(w, 1000) == [w]


def test_windows_default_to_training_window_and_last_days() -> None:
    ts = pd.Series(pd.to_datetime(["2023-01-01 10:00", "2023-12-31 18:00"]))
    ref, cur = resolve_windows(ts, {"cutoff": "2023-10-01"}, {"current": {"days": 91}})
    # a midnight cutoff's own day is test, so the reference ends the day before
    assert (ref.start, ref.end) == (pd.Timestamp("2023-01-01"), pd.Timestamp("2023-09-30"))
    assert cur.end == pd.Timestamp("2023-12-31") and cur.days == 91
    with pytest.raises(ValueError, match="empty"):
        resolve_windows(ts, {"cutoff": "2023-10-01"}, {"current": {"start": "2024-02-01"}})


def test_windows_derived_from_cutoff_and_span(caplog: pytest.LogCaptureFixture) -> None:
    ts = pd.Series(pd.to_datetime(["2024-01-01 10:00", "2024-04-30 18:00"]))
    # null everywhere: current = the test window, reference = the days before it
    ref, cur = resolve_windows(ts, {"cutoff": "2024-04-01"}, {"current": {"days": None}})
    assert (cur.start, cur.end) == (pd.Timestamp("2024-04-01"), pd.Timestamp("2024-04-30"))
    assert (ref.start, ref.end) == (pd.Timestamp("2024-01-01"), pd.Timestamp("2024-03-31"))
    # a cutoff at the end of the data: the last quarter of the span is current
    ref, cur = resolve_windows(ts, {"cutoff": "2024-04-30 23:59:59"}, {})
    assert cur.end == pd.Timestamp("2024-04-30") and 29 <= cur.days <= 31
    assert ref.end == cur.start - pd.Timedelta(days=1)
    # a configured current window longer than the data: shortened, warned, named
    with caplog.at_level("WARNING"):
        ref, cur = resolve_windows(ts, {"cutoff": "2024-04-01"}, {"current": {"days": 365}})
    assert ref.days >= 1 and cur.start > ref.end
    assert "monitoring.current" in caplog.text and "monitoring.reference" in caplog.text


def test_window_features_use_only_the_tile() -> None:
    lines = pd.DataFrame(
        {
            "user_id": ["a", "a", "a"],
            "order_id": ["1", "2", "3"],
            "item_id": ["x", "y", "z"],
            "quantity": [1.0, 2.0, 3.0],
            "unit_price": [1.0, 2.0, 100.0],
            "ts": pd.to_datetime(["2023-01-05", "2023-01-25", "2023-03-01"]),
            "country": ["UK"] * 3,
        }
    )
    feats = window_customer_features(
        lines, Window(pd.Timestamp("2023-01-01"), pd.Timestamp("2023-01-31")), 31
    )
    row = feats.iloc[0]
    assert len(feats) == 1 and row["frequency"] == 2
    assert row["unit_price"] == pytest.approx(1.5)  # the March line is not in the window
    assert row["recency_days"] == pytest.approx(7, abs=0.01)  # Jan 25 -> end of Jan 31


def test_robust_frames_use_reference_constants() -> None:
    ref = pd.DataFrame({"x": np.arange(1.0, 101.0), "c": ["a"] * 99 + ["rare"]})
    cur = pd.DataFrame({"x": [1e6, -5.0], "c": ["a", "new"]})
    spec = ColumnSpec(numeric=["x"], categorical=["c"], log=["x"], rare_category_share=0.05)
    r, c = robust_frames(ref, cur, spec)
    assert r["x"].max() == pytest.approx(np.log1p(ref["x"]).quantile(0.99))
    assert c["x"].iloc[0] == r["x"].max()  # giant values are capped at the reference's 99th pct
    assert c["x"].iloc[1] == r["x"].min()  # negatives floor at 0 before the log, then clipped
    assert set(r["c"]) == {"a", OTHER} and c["c"].tolist() == ["a", OTHER]


def test_same_distribution_is_quiet_and_a_shift_is_flagged() -> None:
    spec = ColumnSpec(numeric=["x"], categorical=["c"], log=["x"])
    same = assess_drift(_frame(2000, 1), _frame(2000, 2), spec, CFG)
    assert same.drifted == []
    shifted = assess_drift(_frame(2000, 1), _frame(2000, 3, shift=0.5), spec, CFG)
    assert shifted.drifted == ["x"]
    assert shifted.share == pytest.approx(0.5)


def test_thresholds_grow_for_small_samples() -> None:
    spec = ColumnSpec(numeric=["x"], log=["x"])
    big = assess_drift(_frame(4000, 1), _frame(4000, 2), spec, CFG).table.iloc[0]
    small = assess_drift(_frame(4000, 1), _frame(60, 2), spec, CFG).table.iloc[0]
    assert small["threshold"] > 2 * big["threshold"]


def test_statistics_are_evidently_s_and_the_report_agrees() -> None:
    ref, cur = _frame(1500, 1), _frame(1500, 3, shift=0.4)
    spec = ColumnSpec(numeric=["x"], categorical=["c"], log=["x"])
    result = assess_drift(ref, cur, spec, CFG)
    r, c = result.reference["x"], result.current["x"]
    wd = float(np.abs(np.sort(r.to_numpy()) - np.sort(c.to_numpy())).mean() / np.std(r))
    assert result.table.iloc[0]["statistic"] == pytest.approx(wd, rel=1e-6)
    from evidently.legacy.core import ColumnType

    assert column_statistic(r, c, ColumnType.Numerical, "wasserstein") == pytest.approx(wd)
    count, _ = evidently_drift_count(drift_snapshot(result, 0.5))
    assert count == len(result.drifted) == 1


def test_quality_counts_missing_new_and_out_of_range() -> None:
    ref = pd.DataFrame({"v": [1.0, 2.0, 3.0, np.nan], "k": ["a", "b", "a", "b"]})
    cur = pd.DataFrame({"v": [0.5, 2.0, 9.0, np.nan], "k": ["a", "z", "z", None]})
    snap = quality_snapshot(ref, cur, ["v"], ["k"])
    table = quality_table(
        snap, "t", {"missing": 0.1, "out_of_range": 0.1, "new_category": 0.1}, ref
    )
    got = table.set_index(["column", "check"])
    assert got.loc[("v", "missing"), "count"] == 1 and got.loc[("v", "missing"), "ok"]
    assert got.loc[("v", "out_of_range"), "count"] == 2 and not got.loc[("v", "out_of_range"), "ok"]
    assert got.loc[("k", "new_category"), "count"] >= 2
    assert not got.loc[("k", "missing"), "ok"]  # 25% missing where the reference had none


def test_retrain_decision_reasons() -> None:
    params = {
        "max_drift_share": {"customers": 0.3},
        "holdout_metric": "ndcg_at_10",
        "max_holdout_drop": 0.5,
    }
    quiet = retrain_decision({"customers": 0.1}, {"customers": ["x"]}, {}, params)
    assert quiet["retrain_recommended"] is False and quiet["reasons"] == []
    drift = retrain_decision({"customers": 0.4}, {"customers": ["x", "y"]}, {}, params)
    assert drift["retrain_recommended"] and "x, y" in drift["reasons"][0]
    metric = {"val/ndcg_at_10": 0.2, "test/ndcg_at_10": 0.05}
    dropped = retrain_decision({"customers": 0.0}, {}, metric, params)
    assert dropped["retrain_recommended"] and dropped["holdout_drop"] == pytest.approx(0.75)
    ok = retrain_decision(
        {"customers": 0.0}, {}, {"val/ndcg_at_10": 0.2, "test/ndcg_at_10": 0.15}, params
    )
    assert ok["retrain_recommended"] is False


def test_prediction_frame_popularity_is_a_share_of_its_window() -> None:
    recs = pd.DataFrame(
        {
            "candidate": ["served"] * 4 + ["popularity"],
            "user_id": ["a", "a", "b", "b", "a"],
            "rank": [1, 2, 1, 2, 1],
            "item_id": ["i", "j", "i", "k", "z"],
            "score": [0.9, 0.5, 0.7, 0.6, 9.0],
        }
    )
    lines = pd.DataFrame({"user_id": ["a", "c", "d"], "item_id": ["i", "i", "j"]})
    out = prediction_frame(recs, lines, "served", 10).set_index("user_id")
    assert list(out.index) == ["a"]  # b bought nothing in this window
    assert out.loc["a", "top_score"] == pytest.approx(0.9)
    # popularity is the share of the window's 3 purchase lines in basis points: i 2/3, j 1/3
    expected = (np.log1p(20000 / 3) + np.log1p(10000 / 3)) / 2
    assert out.loc["a", "item_popularity"] == pytest.approx(expected)


def test_prediction_drift_skips_cleanly_without_recommendations(caplog) -> None:
    caplog.set_level("INFO")
    html, js, table, dumps, summary = prediction_drift(
        pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), {"predictions": {}}
    )
    assert "skipped" in summary and table.empty and dumps == {}
    assert "prediction drift skipped" in caplog.text and "skipped" in js and "skipped" in html


def _recs_and_lines(n: int, seed: int, score_shift: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Served top-3 lists for ``n`` users in each of two windows; current scores shifted."""
    rng = np.random.default_rng(seed)
    rows, lines = [], []
    for window, shift in (("ref", 0.0), ("cur", score_shift)):
        for u in range(n):
            user = f"{window}{u}"
            lines.append({"user_id": user, "item_id": f"i{rng.integers(30)}"})
            for rank in (1, 2, 3):
                rows.append(
                    {
                        "candidate": "served",
                        "user_id": user,
                        "rank": rank,
                        "item_id": f"i{rng.integers(30)}",
                        "score": rng.normal(1.0 + shift, 0.3) / rank,
                    }
                )
    recs, lines_df = pd.DataFrame(rows), pd.DataFrame(lines)
    is_ref = lines_df["user_id"].str.startswith("ref")
    return recs, lines_df[is_ref], lines_df[~is_ref]


def test_prediction_drift_flags_a_score_shift(monitoring_params) -> None:
    params = {
        **monitoring_params,
        "drift": {**monitoring_params["drift"], "calibration": {"n_splits": 10}},
    }
    recs, ref_lines, cur_lines = _recs_and_lines(400, 1, score_shift=0.5)
    html, js, table, dumps, summary = prediction_drift(recs, ref_lines, cur_lines, params)
    assert "top_score" in summary["columns"] and summary["count"] >= 1
    assert set(table["column"]) == {"top_score", "item_popularity"}
    assert "prediction_drift" in dumps and "ValueDrift" in js and "<html" in html.lower()
    recs, ref_lines, cur_lines = _recs_and_lines(400, 2, score_shift=0.0)
    *_, quiet = prediction_drift(recs, ref_lines, cur_lines, params)
    assert "top_score" not in quiet["columns"]


def test_retrain_decision_row_promotion() -> None:
    from tailor.monitoring.retrain_loop import decide

    record = {"retrain_recommended": True, "reasons": ["x"], "windows": {"reference": "a"}}
    before = {"version": "3", "val": 0.1}
    promoted = decide(record, before, {"version": "4", "val": 0.2}, 0.2)
    assert promoted["promoted"] and promoted["new_val_metric"] == 0.2
    kept = decide(record, before, {"version": "3", "val": 0.1}, 0.05)
    assert not kept["promoted"] and kept["retrained"]
    quiet = decide({**record, "retrain_recommended": False}, before, before, None)
    assert not quiet["retrained"] and not quiet["promoted"] and quiet["new_val_metric"] is None


def test_latest_holdout_metrics_and_tags_through_mlflow(tmp_path) -> None:
    import mlflow

    from tailor.monitoring.io import LatestMlflowMetricsDataset, MlflowTagsDataset

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment("t")
    try:
        with mlflow.start_run(run_name="old"):
            mlflow.log_metrics({"val/ndcg_at_10": 0.1, "test/ndcg_at_10": 0.09})
        with mlflow.start_run(run_name="recommender") as rec:
            mlflow.log_metrics({"val/ndcg_at_10": 0.2, "test/ndcg_at_10": 0.05})
            with mlflow.start_run(run_name="trial", nested=True):  # newer, but a trial
                mlflow.log_metric("val/ndcg_at_10", 0.9)
        with mlflow.start_run(run_name="evaluation"):  # newer, but no validation metric
            mlflow.log_metric("test/ndcg_at_10", 0.3)
        with mlflow.start_run(run_name="segmentation"):
            mlflow.log_metric("seg/silhouette", 0.3)
        dataset = LatestMlflowMetricsDataset(["val/ndcg_at_10", "test/ndcg_at_10"])
        assert dataset.load() == {}  # no active run: nothing to compare with
        with mlflow.start_run(run_name="monitoring") as mon:
            got = dataset.load()
            MlflowTagsDataset().save({"retrain_recommended": "true"})
        assert got["val/ndcg_at_10"] == 0.2 and got["test/ndcg_at_10"] == 0.05
        assert got["run_id"] == rec.info.run_id
        tags = mlflow.get_run(mon.info.run_id).data.tags
        assert tags["retrain_recommended"] == "true"
    finally:
        mlflow.set_tracking_uri(previous)


def test_workspace_keeps_history_and_one_dashboard(tmp_path) -> None:
    from evidently import Report
    from evidently.presets import DataDriftPreset
    from evidently.ui.workspace import Workspace

    from tailor.monitoring.io import EvidentlyWorkspaceDataset

    frame = pd.DataFrame({"recency_days": np.arange(100.0), "c": ["a", "b"] * 50})
    dumped = Report([DataDriftPreset()]).run(frame, frame).dumps()
    dataset = EvidentlyWorkspaceDataset(str(tmp_path / "ws"), "tailor: test")
    dataset.save({"data_drift: run 1": dumped})
    dataset.save({"data_drift: run 2": dumped})
    ws = Workspace(str(tmp_path / "ws"))
    (project,) = ws.search_project("tailor: test")
    assert len(ws.list_runs(project.id)) == 2
    dashboard = project.dashboard.model()
    assert len(dashboard.panels) == 2 and len(dashboard.tabs[0].panels) == 2
